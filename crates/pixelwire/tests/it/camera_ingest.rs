//! Cameras pushing into a real server, each speaking byte for byte like its seed device
//! (`shared/reference/seed-protocols.md` §B, §C, §D), and every kind of bad input: truncated JPEGs,
//! oversize messages and bodies, wrong keys, unknown devices, garbage on the TCP port.

use crate::common;

use crate::common::{decode_png, get, start_with_default, temp_dir};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// A JPEG of `w × h` noisy pixels (so it is large) with a solid colour block at the top left.
fn jpeg(w: u32, h: u32, colour: [u8; 3]) -> Vec<u8> {
    let rgba: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            if x < w / 2 && y < h / 2 {
                [colour[0], colour[1], colour[2], 255]
            } else {
                [
                    (i.wrapping_mul(7919) % 251) as u8,
                    (i.wrapping_mul(104_729) % 253) as u8,
                    (x ^ y) as u8,
                    255,
                ]
            }
        })
        .collect();
    pixelwire_media::jpeg::encode_rgba(&rgba, w, h, 95).unwrap()
}

async fn json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let r = get(addr, path).await;
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap()
}

/// Waits until `path` answers 200.
async fn wait_ok(addr: SocketAddr, path: &str) -> common::Response {
    for _ in 0..100 {
        let r = get(addr, path).await;
        if r.status == 200 {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never answered 200");
}

async fn metrics(addr: SocketAddr) -> String {
    String::from_utf8(get(addr, "/metrics").await.body).unwrap()
}

/// Sends one binary message as the ESP-IDF websocket client does: fragments of at most 16 KiB.
async fn send_fragmented<S>(ws: &mut S, data: &[u8])
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::fmt::Debug,
{
    let chunks: Vec<&[u8]> = data.chunks(16 * 1024).collect();
    for (i, c) in chunks.iter().enumerate() {
        let op = if i == 0 {
            OpCode::Data(Data::Binary)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(bytes::Bytes::copy_from_slice(c), op, i + 1 == chunks.len());
        ws.send(Message::Frame(frame)).await.unwrap();
    }
}

#[tokio::test]
async fn websocket_camera_fragmented_without_origin_passes_through() {
    let running = start_with_default("bios", "").await;
    let url = format!("ws://{}/ws/camera/porch", running.http_addr);
    // tungstenite's client sends no Origin header, like esp_websocket_client.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let image = jpeg(320, 240, [255, 0, 0]);
    assert!(
        image.len() > 40 * 1024,
        "the JPEG must need several fragments: {}",
        image.len()
    );
    send_fragmented(&mut ws, &image).await;
    ws.send(Message::Text("hello, ignored".into()))
        .await
        .unwrap();
    let snap = wait_ok(running.http_addr, "/api/streams/porch/snapshot.jpg").await;
    assert_eq!(
        snap.body, image,
        "camera JPEGs are passed through untouched"
    );
    let png = get(running.http_addr, "/api/streams/porch/snapshot.png").await;
    let (w, h, rgb) = decode_png(&png.body);
    assert_eq!((w, h), (320, 240));
    let px = &rgb[(40 * 320 + 40) * 3..(40 * 320 + 40) * 3 + 3];
    assert!(px[0] > 230 && px[1] < 30 && px[2] < 30, "{px:?}");
    // Pings are answered.
    ws.send(Message::Ping(bytes::Bytes::from_static(b"hi")))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(Message::Pong(p))) = ws.next().await {
                return p;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&pong[..], b"hi");
    let streams = json(running.http_addr, "/api/streams").await;
    let porch = streams
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "porch")
        .unwrap()
        .clone();
    assert_eq!(porch["kind"], "camera");
    let devices = json(running.http_addr, "/api/devices").await;
    assert_eq!(devices[0]["id"], "porch");
    assert_eq!(devices[0]["transport"], "websocket");
    assert_eq!(devices[0]["online"], true);
    let m = metrics(running.http_addr).await;
    assert!(
        m.contains("pixelwire_camera_frames_total{stream=\"porch\",transport=\"websocket\"} 1"),
        "{m}"
    );
    running.shutdown();
}

#[tokio::test]
async fn websocket_port_any_path_and_bad_jpegs() {
    let running = start_with_default("bios", "").await;
    // The extra camera port (seed 001's 8765) accepts any path; no name means ws-<ip>.
    let url = format!("ws://{}/", running.camera_ws_addrs[0]);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let good = jpeg(64, 48, [0, 0, 255]);
    // A truncated JPEG is dropped and counted; the connection goes on.
    ws.send(Message::Binary(bytes::Bytes::copy_from_slice(
        &good[..good.len() / 2],
    )))
    .await
    .unwrap();
    ws.send(Message::Binary(bytes::Bytes::from_static(
        b"not a jpeg at all",
    )))
    .await
    .unwrap();
    ws.send(Message::Binary(bytes::Bytes::copy_from_slice(&good)))
        .await
        .unwrap();
    let snap = wait_ok(running.http_addr, "/api/streams/ws-127-0-0-1/snapshot.jpg").await;
    assert_eq!(snap.body, good);
    let m = metrics(running.http_addr).await;
    assert!(
        m.contains(
            "pixelwire_camera_dropped_frames_total{transport=\"websocket\",reason=\"truncated\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "pixelwire_camera_dropped_frames_total{transport=\"websocket\",reason=\"not_jpeg\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "pixelwire_camera_frames_total{stream=\"ws-127-0-0-1\",transport=\"websocket\"} 1"
        ),
        "{m}"
    );
    running.shutdown();
}

#[tokio::test]
async fn oversize_websocket_message_is_closed_with_a_reason() {
    let cams = format!("{}max_frame_bytes = 65536\n", common::CAMERAS_ON_PORT_0);
    let running = start_with_default("bios", &cams).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/camera/big", running.http_addr))
            .await
            .unwrap();
    let big = jpeg(640, 480, [1, 2, 3]);
    assert!(big.len() > 65536);
    let _ = ws.send(Message::Binary(big.into())).await;
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Close(c)) = m {
                return c;
            }
        }
        None
    })
    .await
    .unwrap();
    let c = close.expect("a close frame with a reason");
    assert_eq!(u16::from(c.code), 1009);
    assert!(c.reason.contains("max_frame_bytes"), "{}", c.reason);
    running.shutdown();
}

#[tokio::test]
async fn a_browser_on_the_camera_endpoint_is_a_viewer() {
    // seed 001's client_mjpeg.html connects to /ws/camera and expects JPEGs.
    let running = start_with_default("bios", "").await;
    let (mut cam, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/camera/front", running.http_addr))
            .await
            .unwrap();
    let image = jpeg(64, 48, [0, 255, 0]);
    cam.send(Message::Binary(image.clone().into()))
        .await
        .unwrap();
    wait_ok(running.http_addr, "/api/streams/front/snapshot.jpg").await;
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/ws/camera", running.http_addr),
    )
    .unwrap();
    req.headers_mut().insert(
        "Origin",
        format!("http://{}", running.http_addr).parse().unwrap(),
    );
    let (mut browser, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    cam.send(Message::Binary(image.clone().into()))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(Message::Binary(b))) = browser.next().await {
                return b;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&got[..], &image[..]);
    let status = json(running.http_addr, "/status").await;
    assert_eq!(
        status,
        serde_json::json!({"camera_clients": 1, "viewer_clients": 1, "streaming": true})
    );
    running.shutdown();
}

/// Sends raw HTTP bytes on an open connection and reads one response (status, body).
async fn exchange(sock: &mut TcpStream, request: &[u8]) -> (String, Vec<u8>) {
    sock.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut tmp))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "connection closed before a full response: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return (head, buf[end + 4..end + 4 + len].to_vec());
            }
        }
    }
}

/// The request seed 002's Arduino firmware sends for one frame (§C.1, §C.2), byte for byte.
fn arduino_upload(host: &str, key: &str, jpeg: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(b"------ESP32CAMBoundary\r\nContent-Disposition: form-data; name=\"image\"; filename=\"frame.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
    body.extend_from_slice(jpeg);
    body.extend_from_slice(b"\r\n------ESP32CAMBoundary--\r\n");
    let mut req = format!(
        "POST /api/v1/stream/stream HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ESP32HTTPClient\r\nConnection: keep-alive\r\n\
         Accept-Encoding: identity;q=1,chunked;q=0.1,*;q=0\r\nX-API-Key: {key}\r\n\
         Content-Type: multipart/form-data; boundary=----ESP32CAMBoundary\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

fn json_post(host: &str, path: &str, key: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ESP32HTTPClient\r\nConnection: keep-alive\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const KEY: &str = "dev-api-key-change-in-production";

#[tokio::test]
async fn seed_002_device_registers_streams_and_heartbeats() {
    let running = start_with_default("bios", "").await;
    let addr = running.device_http_addrs[0];
    let host = addr.to_string();
    let mut sock = TcpStream::connect(addr).await.unwrap();
    // The boot connectivity probe.
    let (head, _) = exchange(
        &mut sock,
        format!("GET /api/v1/stream/stream HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY}\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    // A heartbeat before registering: 404, so the firmware registers at its next tick (§C.3).
    let hb = r#"{"deviceId":"ESP32-CAM-001","uptime":123456,"freeHeap":41234,"wifiRssi":-57,"status":"online"}"#;
    let (head, body) = exchange(
        &mut sock,
        &json_post(&host, "/api/v1/devices/heartbeat", KEY, hb),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("error"));
    let reg = r#"{"deviceId":"ESP32-CAM-001","deviceName":"Camera #1","deviceType":"camera","ipAddress":"127.0.0.1","capabilities":["streaming","recording","capture"]}"#;
    let (head, _) = exchange(
        &mut sock,
        &json_post(&host, "/api/v1/devices/register", KEY, reg),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let (head, _) = exchange(
        &mut sock,
        &json_post(&host, "/api/v1/devices/heartbeat", KEY, hb),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    // Two frames on the same keep-alive connection; no device id in the request, so the
    // registered device at this address is the sender.
    for colour in [[255, 0, 0], [0, 0, 255]] {
        let image = jpeg(160, 120, colour);
        let (head, body) = exchange(&mut sock, &arduino_upload(&host, KEY, &image)).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(String::from_utf8_lossy(&body).contains("esp32-cam-001"));
        let snap = get(running.http_addr, "/api/streams/esp32-cam-001/snapshot.jpg").await;
        assert_eq!(snap.body, image);
    }
    let devices = json(running.http_addr, "/api/devices").await;
    let d = &devices[0];
    assert_eq!(
        (d["id"].as_str(), d["name"].as_str(), d["type"].as_str()),
        (Some("ESP32-CAM-001"), Some("Camera #1"), Some("camera"))
    );
    assert_eq!(
        (
            d["rssi_dbm"].as_i64(),
            d["free_heap_bytes"].as_u64(),
            d["uptime_ms"].as_u64()
        ),
        (Some(-57), Some(41234), Some(123456))
    );
    assert_eq!(d["frames"], 2);
    assert_eq!(d["transport"], "http");
    running.shutdown();
}

#[tokio::test]
async fn seed_002_bad_requests() {
    let cams = format!("{}max_frame_bytes = 65536\n", common::CAMERAS_ON_PORT_0);
    let running = start_with_default("bios", &cams).await;
    let addr = running.http_addr; // the device API is on the HTTP port too
    let host = addr.to_string();
    let small = jpeg(32, 24, [9, 9, 9]);
    let mut sock = TcpStream::connect(addr).await.unwrap();
    // Wrong key: 401.
    let (head, body) = exchange(&mut sock, &arduino_upload(&host, "wrong-key", &small)).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("X-API-Key"));
    // Oversize body: 413.
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let big = jpeg(640, 480, [1, 1, 1]);
    assert!(big.len() > 65536);
    let (head, _) = exchange(&mut sock, &arduino_upload(&host, KEY, &big)).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // Empty image: 400 "No image provided".
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let (head, body) = exchange(&mut sock, &arduino_upload(&host, KEY, &[])).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("No image provided"));
    // A truncated JPEG: 400, counted, nothing published.
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(
        &mut sock,
        &arduino_upload(&host, KEY, &small[..small.len() - 10]),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    // Register without deviceId: 400.
    let (head, _) = exchange(
        &mut sock,
        &json_post(
            &host,
            "/api/v1/devices/register",
            KEY,
            r#"{"deviceName":"x"}"#,
        ),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    // Garbage JSON: 400.
    let (head, _) = exchange(
        &mut sock,
        &json_post(&host, "/api/v1/devices/heartbeat", KEY, "{not json"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(
        get(addr, "/api/streams/unknown_device/snapshot.jpg")
            .await
            .status
            == 404
    );
    let m = metrics(addr).await;
    assert!(
        m.contains(
            "pixelwire_camera_dropped_frames_total{transport=\"http\",reason=\"unauthorized\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "pixelwire_camera_dropped_frames_total{transport=\"http\",reason=\"too_large\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "pixelwire_camera_dropped_frames_total{transport=\"http\",reason=\"truncated\"} 1"
        ),
        "{m}"
    );
    running.shutdown();
}

#[tokio::test]
async fn seed_002_rgb565_octet_stream_upload() {
    let running = start_with_default("bios", "").await;
    let addr = running.device_http_addrs[0];
    let (w, h) = (64u32, 48u32);
    // Big-endian RGB565 (esp32-camera order): pure green.
    let body: Vec<u8> = (0..w * h).flat_map(|_| [0x07u8, 0xE0]).collect();
    let mut req = format!(
        "POST /api/v1/stream/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\nX-Device-Id: ESP32-CAM-001\r\n\
         Content-Type: application/octet-stream\r\nX-Frame-Format: RGB565\r\nX-Frame-Width: {w}\r\nX-Frame-Height: {h}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(&mut sock, &req).await;
    // §C.4: success is a first line containing "200 OK".
    assert!(head.lines().next().unwrap().contains("200 OK"), "{head}");
    let png = get(running.http_addr, "/api/streams/esp32-cam-001/snapshot.png").await;
    let (pw, ph, rgb) = decode_png(&png.body);
    assert_eq!((pw, ph), (w, h));
    assert_eq!(&rgb[..3], [0, 255, 0]);
    // A body of the wrong length: 400.
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let mut short = format!(
        "POST /api/v1/stream/stream HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nX-Device-Id: ESP32-CAM-001\r\nContent-Type: application/octet-stream\r\n\
         X-Frame-Format: RGB565\r\nX-Frame-Width: {w}\r\nX-Frame-Height: {h}\r\nContent-Length: 10\r\n\r\n"
    )
    .into_bytes();
    short.extend_from_slice(&[0u8; 10]);
    let (head, _) = exchange(&mut sock, &short).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    running.shutdown();
}

/// seed 004: u32 little-endian length, then the frame; zero ends the stream.
async fn picamera_send(sock: &mut TcpStream, frame: &[u8]) {
    sock.write_all(&(frame.len() as u32).to_le_bytes())
        .await
        .unwrap();
    sock.write_all(frame).await.unwrap();
}

#[tokio::test]
async fn picamera_tcp_jpeg_and_raw_frames() {
    let running = start_with_default("bios", "").await;
    let addr = running.tcp_camera_addrs[0];
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let image = jpeg(320, 240, [255, 255, 0]);
    for _ in 0..3 {
        picamera_send(&mut sock, &image).await;
    }
    let snap = wait_ok(running.http_addr, "/api/streams/tcp-127-0-0-1/snapshot.jpg").await;
    assert_eq!(snap.body, image);
    // Picamera raw YUV at the configured 320x240: 115200 bytes, padded I420. Mid-grey Y, neutral chroma.
    let yuv = vec![128u8; 115_200];
    picamera_send(&mut sock, &yuv).await;
    // An unknown raw size is counted and skipped; the framing goes on.
    picamera_send(&mut sock, &[1, 2, 3, 4, 5]).await;
    sock.write_all(&0u32.to_le_bytes()).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let png = get(running.http_addr, "/api/streams/tcp-127-0-0-1/snapshot.png").await;
    let (_, _, rgb) = decode_png(&png.body);
    assert!(
        rgb[..3].iter().all(|&c| (125..=135).contains(&c)),
        "grey expected: {:?}",
        &rgb[..3]
    );
    let m = metrics(running.http_addr).await;
    assert!(
        m.contains("pixelwire_camera_frames_total{stream=\"tcp-127-0-0-1\",transport=\"tcp\"} 4"),
        "{m}"
    );
    assert!(
        m.contains(
            "pixelwire_camera_dropped_frames_total{transport=\"tcp\",reason=\"unknown_format\"} 1"
        ),
        "{m}"
    );
    running.shutdown();
}

#[tokio::test]
async fn garbage_on_the_tcp_port_closes_only_that_connection() {
    let running = start_with_default("bios", "").await;
    let addr = running.tcp_camera_addrs[0];
    let mut good = TcpStream::connect(addr).await.unwrap();
    let mut bad = TcpStream::connect(addr).await.unwrap();
    // A length far beyond max_frame_bytes: that connection is closed.
    bad.write_all(&[0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3])
        .await
        .unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), bad.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "closed by the server");
    // The other client goes on.
    let image = jpeg(64, 48, [0, 255, 255]);
    picamera_send(&mut good, &image).await;
    let snap = wait_ok(running.http_addr, "/api/streams/tcp-127-0-0-1/snapshot.jpg").await;
    assert_eq!(snap.body, image);
    let m = metrics(running.http_addr).await;
    assert!(
        m.contains(
            "pixelwire_camera_dropped_frames_total{transport=\"tcp\",reason=\"too_large\"} 1"
        ),
        "{m}"
    );
    running.shutdown();
}

#[tokio::test]
async fn the_device_registry_survives_a_restart() {
    let data = temp_dir("registry");
    let cfg = |d: &std::path::Path| {
        format!(
            "[server]\nhttp = \"127.0.0.1:0\"\ndisplay = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{}{}",
            d.display(),
            common::CAMERAS_ON_PORT_0,
            common::RTSP_ON_PORT_0
        )
    };
    let config = pixelwire_server::config::Config::parse(&cfg(&data), None).unwrap();
    let running = pixelwire_server::server::start(config.clone())
        .await
        .unwrap();
    let host = running.http_addr.to_string();
    let mut sock = TcpStream::connect(running.http_addr).await.unwrap();
    let reg = r#"{"deviceId":"garden-cam","deviceName":"Garden","deviceType":"camera","capabilities":["streaming"]}"#;
    let (head, _) = exchange(
        &mut sock,
        &json_post(&host, "/api/v1/devices/register", KEY, reg),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
    let running = pixelwire_server::server::start(config).await.unwrap();
    let devices = json(running.http_addr, "/api/devices").await;
    assert_eq!(devices[0]["id"], "garden-cam");
    assert_eq!(devices[0]["name"], "Garden");
    running.shutdown();
}

#[tokio::test]
async fn a_display_routed_to_a_camera_stream_shows_it_letterboxed() {
    // The stream is declared, so the route is valid before the camera connects.
    let cfg = "[[streams]]\nname = \"porch\"\nsource = \"camera\"\n[[displays]]\nid = \"hall\"\nstream = \"porch\"\n";
    let running = start_with_default("porch", cfg).await;
    let mut dev =
        common::Device::connect(running.display_addrs[0], common::hello("hall", 160, 160)).await;
    dev.run_for(Duration::from_millis(300)).await;
    let (mut cam, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/camera/porch", running.http_addr))
            .await
            .unwrap();
    // 640x480 solid red: on a 160x160 panel it is letterboxed to 160x120 with black bars of 20 rows.
    let rgba: Vec<u8> = (0..640 * 480).flat_map(|_| [255u8, 0, 0, 255]).collect();
    let image = pixelwire_media::jpeg::encode_rgba(&rgba, 640, 480, 90).unwrap();
    cam.send(Message::Binary(image.into())).await.unwrap();
    dev.run_for(Duration::from_secs(2)).await;
    assert!(dev.closed.is_none(), "{:?}", dev.closed);
    let panel = dev.front_rgb();
    let px = |x: usize, y: usize| &panel[(y * 160 + x) * 3..(y * 160 + x) * 3 + 3];
    assert_eq!(px(80, 5), [0, 0, 0], "black bar above");
    assert_eq!(px(80, 155), [0, 0, 0], "black bar below");
    let mid = px(80, 80);
    assert!(
        mid[0] > 240 && mid[1] < 16 && mid[2] < 16,
        "camera image in the middle: {mid:?}"
    );
    running.shutdown();
}
