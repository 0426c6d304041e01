//! Issue 13 ("Hostile network"), the display port: HELLOs beyond the display memory budget, ids
//! claimed from another address, `frame_buffer_bytes` too small or exceeded, RECTs from a device,
//! and what a stalled display has queued, against a real server on loopback while a good display
//! keeps streaming.

use crate::common::{Device, get, hello, start_with_default};
use pixelwire_proto::{Decoder, DeviceSession, DoubleBuffer, ErrorCode, Event, Hello};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const STREAMS: &str = "[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\n\
[legacy]\ndetect_ms = 200\n";

/// Connects to the display port `addr` from the loopback address `from`.
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    crate::common::connect_from(from, addr)
        .await
        .expect("connect display port")
}

fn hello_bytes(h: &Hello) -> Vec<u8> {
    let mut buf = [0u8; 160];
    let n = h.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// Reads until the server closes; returns the ERROR it sent, if any.
async fn read_error(sock: &mut TcpStream) -> Option<(ErrorCode, String)> {
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut all)).await;
    Decoder::default()
        .feed(&all)
        .filter_map(Result::ok)
        .find_map(|ev| match ev {
            Event::Error(e) => Some((e.code, e.text.to_string())),
            _ => None,
        })
}

async fn displays(http: SocketAddr) -> serde_json::Value {
    let r = get(http, "/api/displays").await;
    serde_json::from_slice(&r.body).unwrap()
}

async fn frames_sent(http: SocketAddr, id: &str) -> u64 {
    let v = displays(http).await;
    v.as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .and_then(|d| d["frames_sent"].as_u64())
        .unwrap_or_else(|| panic!("{id} not listed: {v}"))
}

/// Defect 1: ten 4096x4096 HELLOs took RSS from 0.2 to 2.6 GiB. With an 8 MiB budget a 320x240
/// display (about 1.2 MiB) streams, the largest panel gets ERROR refused, and the good display
/// is undisturbed; the refusal is counted.
#[tokio::test]
async fn hello_beyond_the_display_memory_budget_is_refused() {
    let running = start_with_default(
        "pattern",
        &format!("{STREAMS}[limits]\ndisplay_memory_bytes = 8388608\n"),
    )
    .await;
    let addr = running.display_addrs[0];
    let mut good = Device::connect(addr, hello("good", 320, 240)).await;
    good.run_for(Duration::from_millis(500)).await;
    for i in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&hello_bytes(&hello(&format!("huge-{i}"), 4096, 4096)))
            .await
            .unwrap();
        let (code, text) = read_error(&mut s).await.expect("an ERROR");
        assert_eq!(code, ErrorCode::Refused, "{text}");
        assert!(text.contains("display memory budget"), "{text}");
    }
    let before = good.frames();
    good.run_for(Duration::from_secs(1)).await;
    assert!(good.closed.is_none(), "{:?}", good.closed);
    assert!(good.frames() > before, "the good display kept streaming");
    let ids: Vec<String> = displays(running.http_addr)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["good"]);
    let m = get(running.http_addr, "/metrics").await;
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.contains("pixelwire_display_errors_total{protocol=\"pixelwire\",kind=\"refused\"} 3"),
        "{text}"
    );
    // What the good display reserved goes back when it leaves: a second one fits again.
    drop(good);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = Device::connect(addr, hello("again", 320, 240)).await;
    again.run_for(Duration::from_millis(800)).await;
    assert!(
        again.closed.is_none() && again.frames() >= 1,
        "{:?}",
        again.closed
    );
    running.shutdown();
}

/// Defect 7: a HELLO with another device's id kicked the real device off. From another address it
/// is refused and the device streams on; from the same address (a reconnect) it still takes over.
#[tokio::test]
async fn display_takeover_needs_the_same_address() {
    let running = start_with_default("pattern", STREAMS).await;
    let addr = running.display_addrs[0];
    let mut real = Device::connect(addr, hello("desk-1", 160, 120)).await;
    real.run_for(Duration::from_millis(500)).await;
    assert!(real.frames() >= 1);
    // An impostor elsewhere.
    let mut impostor = connect_from([127, 0, 0, 2], addr).await;
    impostor
        .write_all(&hello_bytes(&hello("desk-1", 160, 120)))
        .await
        .unwrap();
    let (code, text) = read_error(&mut impostor).await.expect("an ERROR");
    assert_eq!(code, ErrorCode::Refused, "{text}");
    assert!(text.contains("another address"), "{text}");
    assert!(
        !text.contains("127.0.0.1"),
        "the holder's address is not told: {text}"
    );
    let before = real.frames();
    real.run_for(Duration::from_secs(1)).await;
    assert!(real.closed.is_none(), "{:?}", real.closed);
    assert!(real.frames() > before);
    // A pixelwire HELLO may not claim a sketch's id, from anywhere.
    let mut squat = connect_from([127, 0, 0, 3], addr).await;
    squat
        .write_all(&hello_bytes(&hello(
            &format!("legacy-127.0.0.1-{}", addr.port()),
            64,
            48,
        )))
        .await
        .unwrap();
    let (code, text) = read_error(&mut squat).await.expect("an ERROR");
    assert_eq!(code, ErrorCode::Refused, "{text}");
    // The device reconnecting from its own address replaces its old connection.
    let mut back = Device::connect(addr, hello("desk-1", 160, 120)).await;
    back.run_for(Duration::from_millis(500)).await;
    real.run_for(Duration::from_secs(1)).await;
    // (It was sent ERROR replaced; behind the frames it had not read yet, its own ACKs may hit
    // the closed socket first.)
    assert!(real.closed.is_some(), "the old connection is closed");
    assert!(back.closed.is_none() && back.frames() >= 1);
    running.shutdown();
}

/// Defect 6: with `frame_buffer_bytes = 4096` frames carried 6.2–7.4 kB of RECT payload, and
/// `frame_buffer_bytes = 1` was accepted.
#[tokio::test]
async fn frame_buffer_bytes_caps_every_frame() {
    let running = start_with_default("pattern", STREAMS).await;
    let addr = running.display_addrs[0];
    // Too small for one RECT row: refused.
    let mut tiny = TcpStream::connect(addr).await.unwrap();
    let mut h = hello("tiny", 320, 240);
    h.frame_buffer_bytes = 1;
    tiny.write_all(&hello_bytes(&h)).await.unwrap();
    let (code, text) = read_error(&mut tiny).await.expect("an ERROR");
    assert_eq!(code, ErrorCode::Malformed, "{text}");
    assert!(text.contains("frame_buffer_bytes 1"), "{text}");
    // 8 kB packets, 4 kB staging buffer: every frame's RECT messages within 4096 bytes.
    let mut h = hello("staged", 320, 240);
    h.max_packet_bytes = 8192;
    h.frame_buffer_bytes = 4096;
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let mut dev = DeviceSession::new(h, 0);
    sock.write_all(dev.take_transmit()).await.unwrap();
    let n = 320 * 240 * 2;
    let mut panel = DoubleBuffer::new(320, 240, vec![0; n], vec![0; n]);
    let (mut pending, mut staged, mut frames, mut worst) = (Vec::new(), 0usize, 0u32, 0usize);
    let mut buf = vec![0u8; 16384];
    let end = tokio::time::Instant::now() + Duration::from_secs(15);
    while frames < 40 && tokio::time::Instant::now() < end {
        let n = match tokio::time::timeout_at(end, sock.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            other => panic!("connection ended: {other:?}"),
        };
        pending.extend_from_slice(&buf[..n]);
        // whole messages only
        let mut pos = 0;
        while pos + 4 <= pending.len() {
            let len = usize::from(u16::from_le_bytes([pending[pos + 2], pending[pos + 3]]));
            if pos + 4 + len > pending.len() {
                break;
            }
            match pending[pos] {
                0x90 => staged += 4 + len, // as the device stages it: header included
                0x91 => {
                    assert!(staged <= 4096, "frame {frames}: {staged} bytes of RECTs");
                    worst = worst.max(staged);
                    staged = 0;
                    frames += 1;
                }
                0x7f => panic!("ERROR from the server"),
                _ => {}
            }
            pos += 4 + len;
        }
        let now = pixelwire_server::clock::now().as_micros();
        dev.handle_input(now, &pending[..pos], &mut panel).unwrap();
        pending.drain(..pos);
        if dev.has_transmit() {
            let out = dev.take_transmit().to_vec();
            sock.write_all(&out).await.unwrap();
        }
    }
    assert!(frames >= 40, "{frames} frames");
    assert!(worst > 2048, "frames fill the staging buffer: {worst}");
    running.shutdown();
}

/// Defect 9: a RECT sent by a device got ERROR 0x02 "payload exceeds max_packet_bytes".
#[tokio::test]
async fn a_rect_from_a_device_is_unexpected() {
    let running = start_with_default("pattern", STREAMS).await;
    let mut s = TcpStream::connect(running.display_addrs[0]).await.unwrap();
    let mut bytes = hello_bytes(&hello("rect", 64, 48));
    // a valid 1x1 RAW RECT
    bytes.extend_from_slice(&[0x90, 0, 11, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0xf8, 0]);
    s.write_all(&bytes).await.unwrap();
    let (code, text) = read_error(&mut s).await.expect("an ERROR");
    assert_eq!(code, ErrorCode::Unexpected, "{text}");
    running.shutdown();
}

/// Newest frame at the socket: a device that stops reading and acking has at most `window`
/// frames built for it while it stalls, and a sketch (no acks) at most the one being written;
/// then each skips to the newest frame.
#[tokio::test]
async fn a_stalled_display_has_at_most_its_window_queued() {
    let running = start_with_default("pattern", STREAMS).await;
    let addr = running.display_addrs[0];
    let mut dev = Device::connect(addr, hello("stall", 320, 240)).await;
    dev.run_for(Duration::from_secs(1)).await;
    let window = u64::from(dev.session.welcome().expect("welcomed").window);
    // A sketch with a small receive buffer.
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut sketch = sock.connect(addr).await.unwrap();
    let mut sink = vec![0u8; 65536];
    let end = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Ok(n)) = tokio::time::timeout_at(end, sketch.read(&mut sink)).await {
        assert!(n > 0, "sketch closed");
    }
    let sketch_id = format!("legacy-127.0.0.1-{}", addr.port());
    // Both stop reading for 3 s (under the 5 s stall timeouts) while the source runs at 30 fps.
    let (dev_before, sketch_before) = (
        frames_sent(running.http_addr, "stall").await,
        frames_sent(running.http_addr, &sketch_id).await,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (dev_after, sketch_after) = (
        frames_sent(running.http_addr, "stall").await,
        frames_sent(running.http_addr, &sketch_id).await,
    );
    assert!(
        dev_after - dev_before <= window,
        "pixelwire: {} frames built while stalled (window {window})",
        dev_after - dev_before
    );
    assert!(
        sketch_after - sketch_before <= 1,
        "legacy: {} frames built while stalled",
        sketch_after - sketch_before
    );
    // Both resume and stream on.
    dev.run_for(Duration::from_secs(1)).await;
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    let end = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Ok(n)) = tokio::time::timeout_at(end, sketch.read(&mut sink)).await {
        assert!(n > 0, "sketch closed");
    }
    assert!(frames_sent(running.http_addr, &sketch_id).await > sketch_after);
    running.shutdown();
}

/// One address cannot fill the display port (or, with silent connections served as sketches,
/// the display memory budget): `limits.display_connections_per_peer` connections from it are
/// held, the next is closed at once, and another address still gets in.
#[tokio::test]
async fn display_connections_per_peer_are_capped() {
    let running = start_with_default(
        "pattern",
        &format!("{STREAMS}[limits]\ndisplay_connections_per_peer = 3\n"),
    )
    .await;
    let disp = running.display_addrs[0];
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from([127, 0, 3, 1], disp).await);
    }
    let mut over = connect_from([127, 0, 3, 1], disp).await;
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_secs(3), over.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "the fourth connection from one address is closed: {r:?}"
    );
    let mut other = Device::connect(disp, hello("other", 160, 120)).await;
    other.run_for(Duration::from_millis(1500)).await;
    assert!(
        other.frames() >= 1,
        "another address is served: {:?}",
        other.closed
    );
    drop(held);
    running.shutdown();
}
