//! A pixelwire device against a real server on loopback: frames arrive, the panel equals the
//! server's preview pixel for pixel, takeover by id, and every kind of bad input gets a clear error
//! while other displays keep streaming.

use crate::common::{Device, decode_png, get, hello, start_with_default};
use pixelwire_proto::{Decoder, ErrorCode, Event};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STREAMS: &str = "[[streams]]\nname = \"still\"\nsource = \"pattern\"\nstill = true\n[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\n";

/// Reads until the server closes; returns the ERROR message it sent, if any.
async fn read_error(sock: &mut TcpStream) -> Option<(ErrorCode, String)> {
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut all)).await;
    let mut d = Decoder::default();
    d.feed(&all).filter_map(Result::ok).find_map(|ev| match ev {
        Event::Error(e) => Some((e.code, e.text.to_string())),
        _ => None,
    })
}

async fn start() -> pixelwire_server::server::Running {
    start_with_default(
        "still",
        &format!("{STREAMS}[[displays]]\nid = \"good\"\nstream = \"pattern\"\n"),
    )
    .await
}

#[tokio::test]
async fn panel_equals_preview_pixel_for_pixel() {
    let running = start().await;
    let mut dev = Device::connect(running.display_addrs[0], hello("dev-a", 320, 240)).await;
    dev.run_for(Duration::from_secs(2)).await;
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    assert!(dev.frames() >= 1, "no frame presented");
    let welcome = dev.session.welcome().expect("welcomed");
    assert_eq!(welcome.window, 2);
    let r = get(running.http_addr, "/api/displays/dev-a/preview.png").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (w, h, rgb) = decode_png(&r.body);
    assert_eq!((w, h), (320, 240));
    assert_eq!(rgb, dev.front_rgb(), "preview differs from the panel");
    // and the panel is not blank: the pattern's white border is there
    assert_eq!(&rgb[..3], [255, 255, 255]);
    // the status API lists it
    let st = get(running.http_addr, "/api/displays").await;
    let v: serde_json::Value = serde_json::from_slice(&st.body).unwrap();
    assert_eq!(v[0]["id"], "dev-a");
    assert_eq!(v[0]["protocol"], "pixelwire");
    assert_eq!(v[0]["stream"], "still");
    assert!(v[0]["frames_presented"].as_u64().unwrap() >= 1);
    // Issue 15: the delivered quality of a still screen on loopback is RGB565's own (near 40 dB or
    // above on the pattern's flat areas), and the same figure feeds the histogram.
    let psnr = v[0]["psnr_db"].as_f64().expect("psnr_db");
    assert!((36.0..=100.0).contains(&psnr), "{psnr}");
    assert!(v[0]["psnr_db_mean"].as_f64().is_some());
    let m = get(running.http_addr, "/metrics").await;
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.contains("pixelwire_display_psnr_db_count{display=\"dev-a\"}"),
        "{text}"
    );
    running.shutdown();
}

/// Issue 15, part 5: a monochrome panel gets mono1 pixels, and the preview shows exactly what it
/// shows (grey PNG, black or white), with a quality figure scored against the grey source.
#[tokio::test]
async fn a_mono_panel_gets_mono_and_the_preview_shows_it() {
    let running = start().await;
    let mut h = hello("oled-1", 128, 64);
    h.pixel_format = pixelwire_proto::PixelFormat::Mono1;
    let mut dev = Device::connect(running.display_addrs[0], h).await;
    dev.run_for(Duration::from_secs(2)).await;
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    assert!(dev.frames() >= 1, "no frame presented");
    assert_eq!(dev.panel.front.len(), 128 * 64 / 8);
    let r = get(running.http_addr, "/api/displays/oled-1/preview.png").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (w, h, rgba) = pixelwire_media::png::decode_rgba(&r.body).expect("a PNG");
    assert_eq!((w, h), (128, 64));
    let grey: Vec<u8> = rgba.chunks_exact(4).map(|p| p[0]).collect();
    assert_eq!(grey, dev.front_gray8(), "preview differs from the panel");
    assert!(grey.iter().all(|&g| g == 0 || g == 255));
    assert!(grey.contains(&255) && grey.contains(&0), "a blank panel");
    let st = get(running.http_addr, "/api/displays").await;
    let v: serde_json::Value = serde_json::from_slice(&st.body).unwrap();
    let me = v
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "oled-1")
        .expect("listed");
    assert_eq!(me["pixel_format"], "mono1");
    let psnr = me["psnr_db"].as_f64().expect("psnr_db");
    assert!((3.0..=100.0).contains(&psnr), "{psnr}");
    running.shutdown();
}

#[tokio::test]
async fn a_new_connection_with_the_same_id_replaces_the_old_one() {
    let running = start().await;
    let mut old = Device::connect(running.display_addrs[0], hello("twin", 64, 48)).await;
    old.run_for(Duration::from_millis(500)).await;
    assert!(old.frames() >= 1);
    let mut new = Device::connect(running.display_addrs[0], hello("twin", 64, 48)).await;
    new.run_for(Duration::from_millis(500)).await;
    old.run_for(Duration::from_secs(2)).await;
    let reason = old.closed.clone().expect("old connection closed");
    assert!(reason.contains("replaced"), "{reason}");
    assert!(new.closed.is_none());
    let before = new.frames();
    new.run_for(Duration::from_millis(800)).await;
    assert!(new.frames() > before || before >= 1);
    running.shutdown();
}

#[tokio::test]
async fn garbage_hello_gets_a_clear_error() {
    let running = start().await;
    let mut s = TcpStream::connect(running.display_addrs[0]).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (code, text) = read_error(&mut s).await.expect("an ERROR message");
    assert_eq!(code, ErrorCode::Malformed);
    assert!(text.contains("unknown message kind 0x47"), "{text}");
    running.shutdown();
}

#[tokio::test]
async fn wrong_version_gets_a_clear_error() {
    let running = start().await;
    let mut h = hello("v2", 32, 32);
    h.version = 2;
    let mut buf = [0u8; 128];
    let n = h.encode(&mut buf).unwrap();
    let mut s = TcpStream::connect(running.display_addrs[0]).await.unwrap();
    s.write_all(&buf[..n]).await.unwrap();
    let (code, text) = read_error(&mut s).await.expect("an ERROR message");
    assert_eq!(code, ErrorCode::UnsupportedVersion);
    assert!(
        text.contains("version 2") && text.contains("version 1"),
        "{text}"
    );
    running.shutdown();
}

#[tokio::test]
async fn lying_lengths_and_half_packets() {
    let running = start().await;
    // A control message announcing 300 bytes of payload: longer than any control message may be.
    let mut s = TcpStream::connect(running.display_addrs[0]).await.unwrap();
    s.write_all(&[0x01, 0x00, 0x2c, 0x01]).await.unwrap();
    let (code, text) = read_error(&mut s).await.expect("error for a lying length");
    assert_eq!(code, ErrorCode::Malformed);
    assert!(text.contains("too long"), "{text}");
    // A HELLO whose length is shorter than its fields.
    let mut buf = [0u8; 128];
    hello("short", 32, 32).encode(&mut buf).unwrap();
    buf[2] = 10;
    let mut s = TcpStream::connect(running.display_addrs[0]).await.unwrap();
    s.write_all(&buf[..4 + 10]).await.unwrap();
    let (_, text) = read_error(&mut s)
        .await
        .expect("error for a truncated hello");
    assert!(text.contains("truncated"), "{text}");
    // Half a (valid) HELLO, then silence: the HELLO timeout closes it with a reason.
    let n = hello("half", 32, 32).encode(&mut buf).unwrap();
    let mut s = TcpStream::connect(running.display_addrs[0]).await.unwrap();
    s.write_all(&buf[..n / 2]).await.unwrap();
    let (code, text) = read_error(&mut s).await.expect("error for a half hello");
    assert_eq!(code, ErrorCode::Timeout);
    assert!(text.contains("HELLO"), "{text}");
    running.shutdown();
}

#[tokio::test]
async fn bad_peers_do_not_disturb_a_good_display() {
    let running = start().await;
    let addr = running.display_addrs[0];
    let mut good = Device::connect(addr, hello("good", 320, 240)).await;
    good.run_for(Duration::from_millis(500)).await;
    let frames_before = good.frames();
    // A peer that says HELLO for a big panel, then never reads nor acks.
    let mut stuck = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 128];
    let n = hello("stuck", 320, 240).encode(&mut buf).unwrap();
    stuck.write_all(&buf[..n]).await.unwrap();
    // Garbage from another.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(&[0xFF; 64]).await.unwrap();
    // The good display (routed to the moving pattern) keeps getting frames while they misbehave.
    good.run_for(Duration::from_secs(3)).await;
    assert!(good.closed.is_none(), "{:?}", good.closed);
    // 30 fps for 3 s; the margin covers a loaded machine, the point is that frames keep coming.
    assert!(
        good.frames() >= frames_before + 10,
        "{} -> {}",
        frames_before,
        good.frames()
    );
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), garbage.read_to_end(&mut all)).await;
    assert!(
        !all.is_empty(),
        "garbage peer got an ERROR before the close"
    );
    // The stuck peer is dropped once it stays silent for three keepalive intervals (6 s).
    tokio::time::sleep(Duration::from_secs(7)).await;
    let r = get(running.http_addr, "/api/displays").await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert!(!ids.contains(&"stuck"), "{ids:?}");
    let _ = stuck.write_all(&[]).await;
    running.shutdown();
}
