//! Issue 13's "hostile peers" test: the attacks of its defects 1–5 run at once against one server
//! while a good display, a good WebSocket camera and an MJPEG reader keep working. It asserts
//! what the limits promise: the attackers get refusals or closes, and the good clients' frames
//! keep arriving throughout.

use crate::common::{CAMERAS_ON_PORT_0, Device, connect_from, get, hello, start_with_default};
use futures_util::SinkExt;
use pixelwire_proto::Hello;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const CONFIG: &str = "[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\n\
[[streams]]\nname = \"porch\"\nsource = \"camera\"\n\
[[displays]]\nid = \"good\"\nstream = \"pattern\"\n\
[limits]\ndisplay_memory_bytes = 67108864\n";

fn jpeg(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let rgba: Vec<u8> = (0..w * h)
        .flat_map(|i| [shade, (i % 251) as u8, 90, 255])
        .collect();
    pixelwire_media::jpeg::encode_rgba(&rgba, w, h, 80).unwrap()
}

/// Reads an MJPEG response for `d`; returns the number of JPEG parts seen.
async fn mjpeg_parts(sock: &mut TcpStream, d: Duration) -> usize {
    let mut parts = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let end = tokio::time::Instant::now() + d;
    while let Ok(Ok(n)) = tokio::time::timeout_at(end, sock.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        parts += buf[..n].windows(2).filter(|w| *w == [0xFF, 0xD8]).count();
    }
    parts
}

fn status(resp: &[u8]) -> u16 {
    std::str::from_utf8(resp.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_leave_the_good_clients_served() {
    let extra = format!(
        "{CONFIG}{}max_frame_pixels = 1000000\nmax_pushed_streams = 8\n",
        CAMERAS_ON_PORT_0
    );
    let running = start_with_default("pattern", &extra).await;
    let (http, disp, tcp) = (
        running.http_addr,
        running.display_addrs[0],
        running.tcp_camera_addrs[0],
    );

    // The good clients: a display, a camera pushing 10 fps, an MJPEG reader of that camera.
    let mut display = Device::connect(disp, hello("good", 320, 240)).await;
    let (mut cam, _) = tokio_tungstenite::connect_async(format!("ws://{http}/ws/camera/porch"))
        .await
        .unwrap();
    let camera = tokio::spawn(async move {
        for i in 0u32.. {
            if cam
                .send(Message::binary(jpeg(160, 120, (i * 7) as u8)))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut reader = TcpStream::connect(http).await.unwrap();
    reader
        .write_all(b"GET /api/streams/porch/mjpeg HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    display.run_for(Duration::from_secs(2)).await;
    let before = display.frames();
    assert!(
        before > 20,
        "the good display streams before the attacks: {before}"
    );
    assert!(mjpeg_parts(&mut reader, Duration::from_millis(800)).await > 3);

    // The attacks, all at once.
    let attacks = tokio::spawn(async move {
        let mut refused = [0usize; 5];
        // 1: the largest panel, ten times, from ten addresses.
        for i in 0..10u8 {
            let Ok(mut s) = connect_from([127, 0, 1, i + 1], disp).await else {
                continue;
            };
            let h = Hello {
                width: 4096,
                height: 4096,
                ..hello(&format!("big{i}"), 4096, 4096)
            };
            let mut buf = [0u8; 160];
            let n = h.encode(&mut buf).unwrap();
            let _ = s.write_all(&buf[..n]).await;
            let mut all = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut all)).await;
            if pixelwire_proto::Decoder::default()
                .feed(&all)
                .filter_map(Result::ok)
                .any(|e| matches!(e, pixelwire_proto::Event::Error(_)))
            {
                refused[0] += 1;
            }
        }
        // 2: 300 half-sent requests from one address.
        let mut half = Vec::new();
        for _ in 0..300 {
            match connect_from([127, 0, 2, 1], http).await {
                Ok(mut s) => {
                    let _ = s.write_all(b"GET /api/status HTTP/1.1\r\nHo").await;
                    half.push(s);
                }
                Err(_) => refused[1] += 1,
            }
        }
        // 3: frames under 50 new camera names.
        for i in 0..50 {
            let body = jpeg(16, 16, i as u8);
            let mut s = TcpStream::connect(http).await.unwrap();
            let req = format!(
                "POST /api/v1/stream/stream HTTP/1.1\r\nHost: x\r\nX-API-Key: dev-api-key-change-in-production\r\nX-Device-Id: spam-{i}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(req.as_bytes()).await;
            let _ = s.write_all(&body).await;
            let mut resp = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut resp)).await;
            if status(&resp) == 429 {
                refused[2] += 1;
            }
        }
        // 4: a frame over the pixel limit, and Picamera lengths announced but never sent.
        let big = jpeg(1200, 1000, 1);
        let mut s = TcpStream::connect(http).await.unwrap();
        let req = format!(
            "POST /api/v1/stream/stream HTTP/1.1\r\nHost: x\r\nX-API-Key: dev-api-key-change-in-production\r\nX-Device-Id: porch\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            big.len()
        );
        let _ = s.write_all(req.as_bytes()).await;
        let _ = s.write_all(&big).await;
        let mut resp = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut resp)).await;
        if status(&resp) == 413 {
            refused[3] += 1;
        }
        let mut announced = Vec::new();
        for _ in 0..20 {
            let mut s = TcpStream::connect(tcp).await.unwrap();
            let _ = s.write_all(&(16u32 << 20).to_le_bytes()).await;
            announced.push(s);
        }
        // 5: an MJPEG reader that never reads.
        let mut stalled = TcpStream::connect(http).await.unwrap();
        let _ = stalled
            .write_all(b"GET /api/streams/pattern/mjpeg HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        refused[4] = usize::from(stalled.peer_addr().is_ok());
        drop((half, announced, stalled));
        refused
    });

    // The good clients during the attacks.
    let t0 = display.frames();
    let parts = {
        let shown = display.run_for(Duration::from_secs(4));
        let read = mjpeg_parts(&mut reader, Duration::from_secs(4));
        let ((), parts) = tokio::join!(shown, read);
        parts
    };
    let during = display.frames() - t0;
    let refused = attacks.await.unwrap();

    assert!(
        display.closed.is_none(),
        "the good display was dropped: {:?}",
        display.closed
    );
    assert!(
        during > 30,
        "the good display kept streaming during the attacks: {during} frames in 4 s"
    );
    assert!(
        parts > 10,
        "the MJPEG reader kept getting the camera: {parts} parts in 4 s"
    );
    assert!(
        refused[0] >= 9,
        "the largest panels were refused: {}",
        refused[0]
    );
    assert!(
        refused[2] >= 40,
        "new camera names beyond the cap got 429: {}",
        refused[2]
    );
    assert_eq!(refused[3], 1, "the frame over max_frame_pixels got 413");
    let streams: serde_json::Value =
        serde_json::from_slice(&get(http, "/api/streams").await.body).unwrap();
    let spam = streams
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"].as_str().is_some_and(|n| n.starts_with("spam-")))
        .count();
    assert!(spam <= 8, "pushed streams stay within the cap: {spam}");
    // The camera's frames kept arriving from start to end.
    let porch = running.state.bus.get("porch").unwrap().frames();
    assert!(porch >= 50, "the good camera published throughout: {porch}");
    camera.abort();
    running.shutdown();
}
