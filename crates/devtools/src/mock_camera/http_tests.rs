//! Loopback tests of the seed-002 HTTP camera: what a server on port 0 receives, byte for byte,
//! with keep-alive, server-side closes, re-registration after a failed heartbeat, the boot probe
//! and the raw RGB565 variant.

use super::http::{FREE_HEAP_BYTES, HttpCamera, WIFI_RSSI_DBM};
use super::http_wire::*;
use super::target::Endpoint;
use super::{Format, MockCameraOptions, run_until};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "dev-api-key-change-in-production";

/// One request as received: connection number (0-based, in accept order) and its bytes.
#[derive(Debug, Clone)]
struct Received {
    conn: usize,
    bytes: Vec<u8>,
}

impl Received {
    fn line(&self) -> String {
        let end = self.bytes.iter().position(|&b| b == b'\r').unwrap_or(0);
        String::from_utf8_lossy(&self.bytes[..end]).into_owned()
    }

    fn body(&self) -> &[u8] {
        let i = self
            .bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap();
        &self.bytes[i + 4..]
    }
}

type Log = Arc<Mutex<Vec<Received>>>;
type Responder = Arc<dyn Fn(&str, usize) -> String + Send + Sync>;

/// Reads one request (head + Content-Length body); None at EOF.
async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while buf.len() < i + 4 + len {
                let mut chunk = [0u8; 65536];
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "EOF inside a request body");
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf.drain(..i + 4 + len).collect());
        }
        let mut chunk = [0u8; 65536];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A server that logs every request and answers with `respond(request line, index)`; it closes
/// the connection after answers containing `Connection: close`.
async fn server(respond: Responder) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let log2 = log.clone();
    tokio::spawn(async move {
        for conn in 0.. {
            let (mut s, _) = listener.accept().await.unwrap();
            let (log, respond) = (log2.clone(), respond.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(bytes) = read_request(&mut s, &mut buf).await {
                    let r = Received { conn, bytes };
                    let index = {
                        let mut l = log.lock().unwrap();
                        l.push(r.clone());
                        l.len() - 1
                    };
                    let answer = respond(&r.line(), index);
                    s.write_all(answer.as_bytes()).await.unwrap();
                    if answer.contains("Connection: close") {
                        return;
                    }
                }
            });
        }
    });
    (port, log)
}

fn ok_json(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn opts(port: u16) -> MockCameraOptions {
    let mut o = MockCameraOptions::new(format!("http://127.0.0.1:{port}"));
    (o.size, o.fps, o.reconnect_delay) = ((160, 120), 50.0, 0.05);
    o
}

/// The JPEG inside a received upload, after checking the request bytes around it exactly.
fn check_upload(r: &Received, port: u16) -> Vec<u8> {
    let body = r.body();
    let head = multipart_body(&[]);
    let (prefix, suffix) = head.split_at(head.len() - 28);
    assert!(body.starts_with(prefix) && body.ends_with(suffix));
    let jpeg = body[prefix.len()..body.len() - suffix.len()].to_vec();
    assert_eq!(
        r.bytes,
        http_stream_request("", &format!("127.0.0.1:{port}"), KEY, &jpeg)
    );
    let info = pixelwire_media::jpeg::inspect(&jpeg).unwrap();
    assert_eq!((info.width, info.height), (160, 120));
    jpeg
}

#[tokio::test]
async fn register_then_uploads_on_one_kept_alive_connection() {
    let (port, log) = server(Arc::new(|_, _| ok_json("{\"success\":true}"))).await;
    let mut o = opts(port);
    o.frames = Some(2);
    let summary = run_until(o, std::future::pending()).await.unwrap();
    let reqs = log.lock().unwrap().clone();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter().all(|r| r.conn == 0),
        "keep-alive: one connection"
    );
    let json = register_json("ESP32-CAM-001", "Camera #1", "127.0.0.1");
    let host = format!("127.0.0.1:{port}");
    assert_eq!(
        reqs[0].bytes,
        json_request(REGISTER_PATH, &host, KEY, &json)
    );
    let (a, b) = (check_upload(&reqs[1], port), check_upload(&reqs[2], port));
    assert_ne!(a, b, "every frame is rendered anew");
    assert_eq!(
        (summary.frames, summary.failures, summary.connects),
        (2, 0, 1)
    );
    assert_eq!(summary.bytes, (a.len() + b.len()) as u64);
    assert_eq!((summary.registrations, summary.protocol), (1, "http"));
}

#[tokio::test]
async fn reconnects_when_the_server_closes_and_counts_non_200_as_failures() {
    // Every answer closes the connection; uploads get 201, which the sketch counts as a failure.
    let respond: Responder = Arc::new(|line, _| {
        let status = if line.contains("/stream/") {
            "201 Created"
        } else {
            "200 OK"
        };
        format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}")
    });
    let (port, log) = server(respond).await;
    let mut o = opts(port);
    o.frames = Some(2);
    let summary = run_until(o, std::future::pending()).await.unwrap();
    let conns: Vec<usize> = log.lock().unwrap().iter().map(|r| r.conn).collect();
    assert_eq!(conns, [0, 1, 2]);
    assert_eq!(
        (summary.frames, summary.failures, summary.connects),
        (0, 2, 3)
    );
}

#[tokio::test]
async fn heartbeat_bytes_and_reregistration_after_a_404() {
    let (port, log) = server(Arc::new(|_, _| ok_json("{}"))).await;
    let ep = Endpoint {
        host: "127.0.0.1".into(),
        port,
    };
    let mut cam = HttpCamera::new(ep, "", KEY, "CAM-7", "Camera #7");
    assert_eq!(cam.register().await.unwrap().status, 200);
    assert_eq!(cam.tick(123_456).await.0, "heartbeat");
    let (port404, log404) = server(Arc::new(|line, _| {
        if line.contains("heartbeat") {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 26\r\n\r\n{\"error\":\"Unknown device\"}"
                .into()
        } else {
            ok_json("{}")
        }
    }))
    .await;
    let host = format!("127.0.0.1:{port}");
    let beat = heartbeat_json("CAM-7", 123_456, FREE_HEAP_BYTES, WIFI_RSSI_DBM);
    let reqs = log.lock().unwrap().clone();
    assert_eq!(
        reqs[1].bytes,
        json_request(HEARTBEAT_PATH, &host, KEY, &beat)
    );
    assert_eq!(
        reqs[1].body(),
        br#"{"deviceId":"CAM-7","uptime":123456,"freeHeap":187420,"wifiRssi":-58,"status":"online"}"#
    );

    // Against a server that does not know the device: register, heartbeat → 404, and the next
    // tick registers again (C.3).
    let ep = Endpoint {
        host: "127.0.0.1".into(),
        port: port404,
    };
    let mut cam = HttpCamera::new(ep, "", KEY, "CAM-7", "Camera #7");
    cam.register().await.unwrap();
    let (kind, r) = cam.tick(1000).await;
    assert_eq!((kind, r.unwrap().status), ("heartbeat", 404));
    assert!(!cam.registration.is_registered());
    let (kind, r) = cam.tick(31_000).await;
    assert_eq!((kind, r.unwrap().status), ("register", 200));
    let lines: Vec<String> = log404.lock().unwrap().iter().map(Received::line).collect();
    assert_eq!(
        lines,
        [
            "POST /api/v1/devices/register HTTP/1.1",
            "POST /api/v1/devices/heartbeat HTTP/1.1",
            "POST /api/v1/devices/register HTTP/1.1"
        ]
    );
}

#[tokio::test]
async fn heartbeat_timer_in_a_full_run() {
    let respond: Responder = Arc::new(|line, index| {
        // The first heartbeat is refused; later ones succeed.
        if line.contains("heartbeat") && index < 6 {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()
        } else {
            ok_json("{}")
        }
    });
    let (port, log) = server(respond).await;
    let mut o = opts(port);
    (o.fps, o.heartbeat_interval, o.duration) = (20.0, 0.1, Some(0.8));
    let summary = run_until(o, std::future::pending()).await.unwrap();
    let reqs = log.lock().unwrap().clone();
    let beats: Vec<&Received> = reqs
        .iter()
        .filter(|r| !r.line().contains("/stream/"))
        .collect();
    let kinds: Vec<bool> = beats
        .iter()
        .map(|r| r.line().contains("register"))
        .collect();
    // register at boot, heartbeat (404), register, heartbeat...
    assert!(kinds.len() >= 4, "{kinds:?}");
    assert_eq!(&kinds[..4], [true, false, true, false]);
    for r in beats.iter().filter(|r| r.line().contains("heartbeat")) {
        let body = String::from_utf8(r.body().to_vec()).unwrap();
        let uptime: u32 = body
            .split("\"uptime\":")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            body,
            heartbeat_json("ESP32-CAM-001", uptime, FREE_HEAP_BYTES, WIFI_RSSI_DBM)
        );
    }
    assert!(
        summary.registrations >= 2 && summary.frames >= 5,
        "{summary:?}"
    );
    assert!(reqs.iter().all(|r| r.conn == 0));
}

#[tokio::test]
async fn boot_probe_then_register() {
    let respond: Responder = Arc::new(|line, _| {
        if line.starts_with("GET") {
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n".into()
        } else {
            ok_json("{}")
        }
    });
    let (port, log) = server(respond).await;
    let mut o = opts(port);
    (o.boot_probe, o.frames) = (true, Some(1));
    let summary = run_until(o, std::future::pending()).await.unwrap();
    let reqs = log.lock().unwrap().clone();
    let host = format!("127.0.0.1:{port}");
    assert_eq!(reqs[0].bytes, probe_request("", &host, KEY));
    assert!(
        reqs[1]
            .body()
            .starts_with(br#"{"test":"ESP32-camera-connectivity","timestamp":"#)
    );
    assert_eq!(reqs[2].line(), "POST /api/v1/devices/register HTTP/1.1");
    check_upload(&reqs[3], port);
    assert_eq!(
        (reqs.len(), summary.registrations, summary.frames),
        (4, 1, 1)
    );
}

#[tokio::test]
async fn rgb565_variant_headers_and_body() {
    let respond: Responder = Arc::new(|_, _| {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".into()
    });
    let (port, log) = server(respond).await;
    let ep = Endpoint {
        host: "127.0.0.1".into(),
        port,
    };
    let mut cam = HttpCamera::new(ep, "", KEY, "ESP32-CAM-001", "Camera #1");
    let body = [0xF8, 0x00, 0x07, 0xE0, 0x00, 0x1F, 0x12, 0x34];
    assert!(cam.send_rgb565((2, 2), &body).await.unwrap());
    let sent = log.lock().unwrap()[0].bytes.clone();
    assert_eq!(
        sent,
        rgb565_request("", "127.0.0.1", KEY, "ESP32-CAM-001", (2, 2), &body)
    );

    // A full run: one connection per frame, no registration, w*h*2 big-endian bytes.
    let mut o = opts(port);
    (o.format, o.size, o.frames, o.no_register) = (Format::Rgb565, (8, 4), Some(2), true);
    let summary = run_until(o, std::future::pending()).await.unwrap();
    let reqs = log.lock().unwrap().clone();
    assert_eq!(reqs.len(), 3);
    for r in &reqs[1..] {
        let head = rgb565_request("", "127.0.0.1", KEY, "ESP32-CAM-001", (8, 4), &[0; 64]);
        assert_eq!(&r.bytes[..head.len() - 64], &head[..head.len() - 64]);
        assert_eq!(r.body().len(), 64);
    }
    assert_ne!(reqs[1].conn, reqs[2].conn);
    assert_eq!(
        (summary.frames, summary.bytes, summary.failures),
        (2, 128, 0)
    );
}

#[tokio::test]
async fn gives_up_when_nobody_listens() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut o = opts(port);
    (o.max_connect_failures, o.reconnect_delay) = (3, 0.01);
    let summary = tokio::time::timeout(
        Duration::from_secs(10),
        run_until(o, std::future::pending()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(summary.gave_up);
    assert_eq!((summary.connect_failures, summary.connects), (3, 0));
}
