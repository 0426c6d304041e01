//! Seed-000 sketches against a real server: a client that parses exactly like the sketch (10 KiB
//! buffer, disconnect on oversize) gets the right image, keepalives, takeover by the newest
//! connection, routing by port, and a peer that never reads is dropped without disturbing others.

use crate::common::{Device, decode_png, get, hello, start_with_default};
use pixelwire_devtools::emu::legacy::SketchParser;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

const CONFIG: &str = "[[streams]]\nname = \"still\"\nsource = \"pattern\"\nstill = true\n\
[[streams]]\nname = \"bios\"\nsource = \"bios\"\n\
[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\n\
[[displays]]\nid = \"good\"\nstream = \"pattern\"\n\
[legacy]\ndetect_ms = 200\n";

/// Reads like the sketch for `d`; returns the parser, the framebuffer and why it stopped, if it did.
async fn sketch_for(
    sock: &mut TcpStream,
    w: u16,
    h: u16,
    d: Duration,
) -> (SketchParser, Vec<u8>, Option<String>) {
    let mut p = SketchParser::new(w, h);
    let mut fb = vec![0u8; usize::from(w) * usize::from(h) * 2];
    let end = tokio::time::Instant::now() + d;
    let mut buf = vec![0u8; 4096];
    loop {
        match tokio::time::timeout_at(end, sock.read(&mut buf)).await {
            Err(_) => return (p, fb, None),
            Ok(Ok(0)) => return (p, fb, Some("closed".into())),
            Ok(Err(e)) => return (p, fb, Some(e.to_string())),
            Ok(Ok(n)) => {
                if let Err(e) = p.feed(&buf[..n], &mut fb) {
                    return (p, fb, Some(format!("{e:?}")));
                }
            }
        }
    }
}

fn to_rgb(fb: &[u8]) -> Vec<u8> {
    fb.chunks_exact(2)
        .flat_map(|p| pixelwire_proto::rgb565_to_rgb888(u16::from_be_bytes([p[0], p[1]])))
        .collect()
}

#[tokio::test]
async fn sketch_client_renders_the_stream() {
    let running = start_with_default("still", CONFIG).await;
    let mut sock = TcpStream::connect(running.display_addrs[0]).await.unwrap();
    let (p, fb, stopped) = sketch_for(&mut sock, 320, 240, Duration::from_millis(2500)).await;
    assert_eq!(stopped, None, "the sketch would have disconnected");
    assert_eq!(p.length_mismatches, 0, "data_len must always be w*h*2");
    // 320x240 full frame: 20 packets of 12 rows of 8192-byte budget
    assert!(p.packets >= 20, "packets {}", p.packets);
    // A static stream leaves the link idle, so the zero-header keepalive shows up.
    assert!(p.keepalives >= 1, "no keepalive seen");
    // The panel shows the stream exactly: snapshot converted to RGB565 by truncation.
    let snap = get(running.http_addr, "/api/streams/still/snapshot.png").await;
    let (w, h, rgb) = decode_png(&snap.body);
    assert_eq!((w, h), (320, 240));
    let want: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|c| pixelwire_proto::rgb565_to_rgb888(pixelwire_proto::rgb565(c[0], c[1], c[2])))
        .collect();
    assert_eq!(
        to_rgb(&fb),
        want,
        "the sketch's panel differs from the stream"
    );
    // and the server's preview agrees
    let id = format!("legacy-127.0.0.1-{}", running.display_addrs[0].port());
    let prev = get(
        running.http_addr,
        &format!("/api/displays/{id}/preview.png"),
    )
    .await;
    assert_eq!(prev.status, 200);
    assert_eq!(decode_png(&prev.body).2, want);
    running.shutdown();
}

#[tokio::test]
async fn newest_sketch_connection_takes_over() {
    let running = start_with_default("bios", CONFIG).await;
    let addr = running.display_addrs[0];
    let mut first = TcpStream::connect(addr).await.unwrap();
    let (p1, _, stop1) = sketch_for(&mut first, 320, 240, Duration::from_millis(800)).await;
    assert!(p1.packets > 0 && stop1.is_none());
    let mut second = TcpStream::connect(addr).await.unwrap();
    let (p2, _, _) = sketch_for(&mut second, 320, 240, Duration::from_millis(1200)).await;
    assert!(
        p2.packets >= 20,
        "the new connection gets a full frame: {}",
        p2.packets
    );
    let (_, _, stop1) = sketch_for(&mut first, 320, 240, Duration::from_secs(2)).await;
    assert_eq!(stop1.as_deref(), Some("closed"));
    running.shutdown();
}

#[tokio::test]
async fn legacy_routes_by_port_and_size() {
    // Find a free port for the extra legacy listener.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let cfg = format!(
        "{CONFIG}[[legacy_displays]]\nport = {port}\nstream = \"still\"\nwidth = 160\nheight = 120\n"
    );
    let running = start_with_default("bios", &cfg).await;
    assert_eq!(running.display_addrs.len(), 2);
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (p, fb, stopped) = sketch_for(&mut sock, 160, 120, Duration::from_millis(1500)).await;
    assert_eq!(stopped, None);
    assert!(p.packets > 0);
    // the pattern's white border, scaled to 160x120
    assert_eq!(&to_rgb(&fb)[..3], [255, 255, 255]);
    let r = get(running.http_addr, "/api/displays").await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v[0]["width"], 160);
    assert_eq!(v[0]["stream"], "still");
    running.shutdown();
}

#[tokio::test]
async fn a_sketch_that_never_reads_is_dropped_and_others_stream_on() {
    let running = start_with_default("pattern", CONFIG).await;
    let addr = running.display_addrs[0];
    let mut good = Device::connect(addr, hello("good", 160, 120)).await;
    // A legacy peer with a tiny receive window that never reads.
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(2048).unwrap();
    let stuck = sock.connect(addr).await.unwrap();
    good.run_for(Duration::from_secs(9)).await;
    assert!(good.closed.is_none(), "{:?}", good.closed);
    assert!(
        good.frames() > 100,
        "good display frames: {}",
        good.frames()
    );
    let r = get(running.http_addr, "/api/displays").await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let ids: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        vec!["good".to_string()],
        "the stalled sketch must be gone"
    );
    let m = get(running.http_addr, "/metrics").await;
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.contains("pixelwire_display_errors_total{protocol=\"legacy\",kind=\"write\"} 1"),
        "{text}"
    );
    drop(stuck);
    running.shutdown();
}
