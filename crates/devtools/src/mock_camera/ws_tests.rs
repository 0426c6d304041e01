//! Tests of the seed-001 WebSocket camera: exact handshake and frame bytes, fragmentation of a
//! 40 KiB JPEG into 16 KiB frames read raw off the socket, ping/pong/close handling, interop with
//! tungstenite as a server, and full runs with reconnects.

use super::ws::*;
use super::ws_wire::*;
use super::{MockCameraOptions, run_until};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite;

#[test]
fn handshake_is_esp_transport_s() {
    let req = handshake_request("/ws/camera", "10.0.0.2", 8080, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(
        req,
        "GET /ws/camera HTTP/1.1\r\nConnection: Upgrade\r\nHost: 10.0.0.2:8080\r\n\
         User-Agent: ESP32 Websocket Client\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
}

#[test]
fn frame_headers_for_every_length_form() {
    let mut out = Vec::new();
    encode_frame(&mut out, OP_BINARY, true, b"Hi", [1, 2, 3, 4]);
    assert_eq!(out, [0x82, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2]);
    out.clear();
    encode_frame(&mut out, OP_CONTINUATION, false, &[0; 126], [0; 4]);
    assert_eq!(out[..4], [0x00, 0xFE, 0x00, 0x7E]);
    out.clear();
    encode_frame(&mut out, OP_BINARY, true, &[0; 65536], [0; 4]);
    assert_eq!(out[..10], [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(out.len(), 14 + 65536);
}

#[test]
fn messages_fragment_at_the_buffer_size() {
    let mut masks = MaskSource::new();
    let frames = encode_binary_message(&[7; 40 * 1024], DEFAULT_BUFFER_SIZE, &mut masks);
    let heads: Vec<[u8; 4]> = frames.iter().map(|f| [f[0], f[1], f[2], f[3]]).collect();
    // BINARY FIN=0 16384, CONTINUATION FIN=0 16384, CONTINUATION FIN=1 8192; all masked.
    assert_eq!(
        heads,
        [
            [0x02, 0xFE, 0x40, 0x00],
            [0x00, 0xFE, 0x40, 0x00],
            [0x80, 0xFE, 0x20, 0x00]
        ]
    );
    // Exactly one buffer fits in one frame (esp_websocket_client splits only when larger).
    let one = encode_binary_message(&[7; 16384], DEFAULT_BUFFER_SIZE, &mut masks);
    assert_eq!((one.len(), one[0][0]), (1, 0x82));
    let empty = encode_binary_message(&[], DEFAULT_BUFFER_SIZE, &mut masks);
    assert_eq!((empty.len(), &empty[0][..2]), (1, &[0x82, 0x80][..]));
    assert_ne!(masks.next_mask(), masks.next_mask());
}

/// A client frame read raw from the socket, payload unmasked.
#[derive(Debug)]
struct RawFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

async fn read_frame(s: &mut TcpStream) -> RawFrame {
    let (b0, b1) = (s.read_u8().await.unwrap(), s.read_u8().await.unwrap());
    assert_eq!(b1 & 0x80, 0x80, "client frames must be masked");
    let len = match b1 & 0x7F {
        126 => u64::from(s.read_u16().await.unwrap()),
        127 => s.read_u64().await.unwrap(),
        n => u64::from(n),
    };
    let mut mask = [0u8; 4];
    s.read_exact(&mut mask).await.unwrap();
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).await.unwrap();
    payload
        .iter_mut()
        .zip(mask.iter().cycle())
        .for_each(|(b, m)| *b ^= m);
    RawFrame {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0F,
        payload,
    }
}

/// Accepts one connection and completes the upgrade by hand; returns the request head.
async fn accept_raw(listener: &TcpListener) -> (TcpStream, String) {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(s.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    let key = head
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    s.write_all(answer.as_bytes()).await.unwrap();
    (s, head)
}

#[tokio::test]
async fn a_40k_jpeg_arrives_as_three_frames_and_pings_are_answered() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let payload: Vec<u8> = (0..40 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (data, expected) = (payload.clone(), payload.clone());
    let server = tokio::spawn(async move {
        let (mut s, head) = accept_raw(&listener).await;
        let mut frames = Vec::new();
        for _ in 0..3 {
            frames.push(read_frame(&mut s).await);
        }
        // Server PING with a payload: the answer is a masked PONG with the same payload.
        s.write_all(b"\x89\x05hello").await.unwrap();
        let pong = read_frame(&mut s).await;
        // The client's own PING, then a PONG back and a CLOSE 1000.
        let ping = read_frame(&mut s).await;
        s.write_all(b"\x8a\x00\x88\x02\x03\xe8").await.unwrap();
        let close_echo = read_frame(&mut s).await;
        (head, frames, pong, ping, close_echo)
    });
    let mut cam = WsCamera::connect("127.0.0.1", port, "/ws/camera", DEFAULT_BUFFER_SIZE)
        .await
        .unwrap();
    cam.send_binary(&data).await.unwrap();
    cam.read_more().await.unwrap(); // the 7-byte PING, written at once on loopback
    cam.handle_incoming().await.unwrap();
    cam.send_ping().await.unwrap();
    assert!(cam.pong_overdue(tokio::time::Instant::now() + PONG_TIMEOUT * 2));
    let closed = loop {
        cam.read_more().await.unwrap();
        if let Err(e) = cam.handle_incoming().await {
            break e;
        }
    };
    assert!(matches!(closed, WsError::Closed), "{closed:?}");
    assert!(!cam.pong_overdue(tokio::time::Instant::now() + PONG_TIMEOUT * 2));

    let (head, frames, pong, ping, close_echo) = server.await.unwrap();
    let key = head
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    assert_eq!(
        head,
        handshake_request("/ws/camera", "127.0.0.1", port, key)
    );
    let lower = head.to_ascii_lowercase();
    assert!(!lower.contains("origin:") && !lower.contains("sec-websocket-protocol"));
    let shape: Vec<(bool, u8, usize)> = frames
        .iter()
        .map(|f| (f.fin, f.opcode, f.payload.len()))
        .collect();
    assert_eq!(
        shape,
        [(false, 0x2, 16384), (false, 0x0, 16384), (true, 0x0, 8192)]
    );
    assert_eq!(
        frames
            .into_iter()
            .flat_map(|f| f.payload)
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(
        (pong.fin, pong.opcode, &pong.payload[..]),
        (true, 0xA, &b"hello"[..])
    );
    assert_eq!((ping.fin, ping.opcode, ping.payload.len()), (true, 0x9, 0));
    assert_eq!(
        (close_echo.opcode, &close_echo.payload[..]),
        (0x8, &[0x03, 0xE8][..])
    );
}

#[tokio::test]
#[allow(clippy::result_large_err)] // the handshake callback's signature is tungstenite's
async fn tungstenite_server_reassembles_and_gets_its_pong() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut headers = Vec::new();
        let mut ws =
            tungstenite::accept_hdr(s, |req: &tungstenite::handshake::server::Request, resp| {
                headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| format!("{k}: {v:?}"))
                    .collect();
                Ok(resp)
            })
            .unwrap();
        let message = ws.read().unwrap();
        ws.send(tungstenite::Message::Ping(b"p".to_vec().into()))
            .unwrap();
        let pong = ws.read().unwrap();
        (headers, message, pong)
    });
    let mut cam = WsCamera::connect("127.0.0.1", port, "/ws/camera", DEFAULT_BUFFER_SIZE)
        .await
        .unwrap();
    let jpeg: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 256) as u8).collect();
    cam.send_binary(&jpeg).await.unwrap();
    cam.read_more().await.unwrap();
    cam.handle_incoming().await.unwrap();
    let (headers, message, pong) = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    assert!(
        headers
            .iter()
            .any(|h| h == "user-agent: \"ESP32 Websocket Client\""),
        "{headers:?}"
    );
    assert!(!headers.iter().any(|h| h.starts_with("origin")));
    assert_eq!(message, tungstenite::Message::Binary(jpeg.into()));
    assert_eq!(pong, tungstenite::Message::Pong(b"p".to_vec().into()));
}

#[tokio::test]
async fn full_run_sends_jpegs_pings_and_a_clean_close() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept_raw(&listener).await;
        let mut seen = Vec::new();
        loop {
            let f = read_frame(&mut s).await;
            let op = f.opcode;
            seen.push(f);
            if op == 0x8 {
                s.write_all(b"\x88\x02\x03\xe8").await.unwrap();
                return seen;
            }
        }
    });
    let mut o = MockCameraOptions::new(format!("ws://127.0.0.1:{port}/ws/camera"));
    (o.size, o.fps, o.frames, o.ping_interval) = ((160, 120), 10.0, Some(3), 0.05);
    let summary = run_until(o, std::future::pending()).await.unwrap();
    let seen = server.await.unwrap();
    let jpegs: Vec<&RawFrame> = seen.iter().filter(|f| f.opcode == 0x2).collect();
    assert_eq!(jpegs.len(), 3);
    for j in &jpegs {
        assert!(
            j.fin && j.payload.starts_with(&[0xFF, 0xD8]) && j.payload.ends_with(&[0xFF, 0xD9])
        );
    }
    assert!(
        seen.iter().any(|f| f.opcode == 0x9 && f.payload.is_empty()),
        "no ping"
    );
    assert_eq!(
        seen.last().map(|f| f.payload.clone()),
        Some(vec![0x03, 0xE8])
    );
    let bytes: usize = jpegs.iter().map(|j| j.payload.len()).sum();
    assert_eq!(
        (summary.frames, summary.bytes, summary.connects),
        (3, bytes as u64, 1)
    );
    assert_eq!((summary.protocol, summary.gave_up), ("ws", false));
}

#[tokio::test]
async fn reconnects_after_a_server_close_and_gives_up_when_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // The first connection is closed by the server right away; the camera comes back.
    let server = tokio::spawn(async move {
        let (mut s, _) = accept_raw(&listener).await;
        s.write_all(b"\x88\x02\x03\xe9").await.unwrap();
        let echo = read_frame(&mut s).await;
        let (mut s2, _) = accept_raw(&listener).await;
        let jpeg = read_frame(&mut s2).await;
        drop(listener); // later attempts are refused
        (echo, jpeg)
    });
    let mut o = MockCameraOptions::new(format!("ws://127.0.0.1:{port}/"));
    (o.size, o.reconnect_delay, o.max_connect_failures) = ((64, 48), 0.05, 2);
    let summary = tokio::time::timeout(
        Duration::from_secs(20),
        run_until(o, std::future::pending()),
    )
    .await
    .unwrap()
    .unwrap();
    let (echo, jpeg) = server.await.unwrap();
    assert_eq!((echo.opcode, &echo.payload[..]), (0x8, &[0x03, 0xE9][..]));
    assert_eq!(jpeg.opcode, 0x2);
    assert!(summary.gave_up, "{summary:?}");
    assert_eq!((summary.connects, summary.connect_failures), (2, 2));
}
