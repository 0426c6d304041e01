//! What viewers get, checked by real tools: ffprobe and ffmpeg read the MJPEG URL and an H.264
//! capture of the viewer WebSocket, the decoded H.264 matches the source, a viewer that stops
//! reading does not slow the others, and seed 001's endpoints work.

use crate::common::{decode_png, get, start_with_default, temp_dir};
use futures_util::{SinkExt, StreamExt};
use pixelwire_media::viewer_message as message;
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const STREAMS: &str = "[[streams]]\nname = \"still\"\nsource = \"pattern\"\nstill = true\n\
[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\n";

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn require_ffmpeg() {
    assert!(
        have("ffprobe") && have("ffmpeg"),
        "ffmpeg/ffprobe not installed: run scripts/setup-test-deps.sh (CI installs them)"
    );
}

fn ffprobe(args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Reads the hello and then `n` binary messages from a viewer socket.
async fn read_viewer(url: &str, n: usize) -> (serde_json::Value, Vec<bytes::Bytes>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("viewer connects");
    let hello = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str(&t).unwrap(),
        other => panic!("expected a hello, got {other:?}"),
    };
    let mut msgs = Vec::new();
    while msgs.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => msgs.push(b),
            Ok(Some(Ok(_))) => {}
            other => panic!("viewer socket ended: {other:?}"),
        }
    }
    (hello, msgs)
}

#[tokio::test]
async fn mjpeg_url_plays_in_ffmpeg() {
    require_ffmpeg();
    let running = start_with_default("still", STREAMS).await;
    let url = format!("http://{}/api/streams/pattern/mjpeg", running.http_addr);
    let u = url.clone();
    let probe = tokio::task::spawn_blocking(move || {
        ffprobe(&[
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
            &u,
        ])
    })
    .await
    .unwrap();
    assert_eq!(probe.trim(), "mjpeg,320,240");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-i",
                &url,
                "-frames:v",
                "20",
                "-f",
                "null",
                "-",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap = get(running.http_addr, "/api/streams/pattern/snapshot.jpg").await;
    assert_eq!(snap.status, 200);
    assert!(
        snap.headers
            .to_ascii_lowercase()
            .contains("content-type: image/jpeg")
    );
    assert_eq!(&snap.body[..2], [0xFF, 0xD8]);
    running.shutdown();
}

#[tokio::test]
async fn h264_viewer_socket_is_constrained_baseline_and_decodes_to_the_source() {
    require_ffmpeg();
    let running = start_with_default("still", STREAMS).await;
    let url = format!("ws://{}/api/streams/still/ws?codec=h264", running.http_addr);
    // The still stream renders one frame; frames reach the encoder only as they are published,
    // so watch the moving stream to get many units, and the still one for a pixel comparison.
    let (hello, msgs) = read_viewer(&url.replace("still", "pattern"), 45).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["codec"], "h264");
    assert_eq!(hello["codec_string"], "avc1.42E01E");
    let (first, _) = message::parse(&msgs[0]).unwrap();
    assert_eq!(
        (first.kind, first.keyframe, first.width, first.height),
        (message::KIND_H264, true, 320, 240),
        "a viewer starts at a keyframe"
    );
    let now = pixelwire_server::clock::now().as_micros();
    assert!(
        now - first.capture_time_us < 10_000_000,
        "capture times are on the server clock"
    );
    let dir = temp_dir("h264");
    let file = dir.join("capture.h264");
    let annexb: Vec<u8> = msgs
        .iter()
        .flat_map(|m| message::parse(m).unwrap().1.to_vec())
        .collect();
    std::fs::write(&file, &annexb).unwrap();
    let f = file.to_str().unwrap().to_string();
    let probe = ffprobe(&[
        "-f",
        "h264",
        "-show_entries",
        "stream=codec_name,profile,width,height",
        "-of",
        "csv=p=0",
        &f,
    ]);
    assert_eq!(probe.trim(), "h264,Constrained Baseline,320,240");
    let count = ffprobe(&[
        "-f",
        "h264",
        "-count_frames",
        "-show_entries",
        "stream=nb_read_frames",
        "-of",
        "csv=p=0",
        &f,
    ]);
    assert_eq!(count.trim(), "45", "every access unit decodes");

    // The still stream: decode its first unit and compare with the source snapshot.
    let (_, still) = read_viewer(&url, 1).await;
    let (h, payload) = message::parse(&still[0]).unwrap();
    assert!(h.keyframe);
    let still_file = dir.join("still.h264");
    std::fs::write(&still_file, payload).unwrap();
    let png = dir.join("still.png");
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "h264",
            "-i",
            still_file.to_str().unwrap(),
            "-frames:v",
            "1",
            "-y",
            png.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, ht, decoded) = decode_png(&std::fs::read(&png).unwrap());
    let snap = get(running.http_addr, "/api/streams/still/snapshot.png").await;
    let (sw, sh, source) = decode_png(&snap.body);
    assert_eq!((w, ht), (sw, sh));
    let mse: f64 = decoded
        .iter()
        .zip(&source)
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
        .sum::<f64>()
        / decoded.len() as f64;
    let psnr = 10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10();
    assert!(
        psnr > 28.0,
        "decoded H.264 differs from the source: PSNR {psnr:.1} dB"
    );
    running.shutdown();
}

#[tokio::test]
async fn jpeg_viewer_socket() {
    let running = start_with_default("still", STREAMS).await;
    let url = format!(
        "ws://{}/api/streams/pattern/ws?codec=jpeg",
        running.http_addr
    );
    let (hello, msgs) = read_viewer(&url, 5).await;
    assert_eq!(hello["codec"], "jpeg");
    for m in &msgs {
        let (h, payload) = message::parse(m).unwrap();
        assert_eq!((h.kind, h.width, h.height), (message::KIND_JPEG, 320, 240));
        assert!(pixelwire_media::jpeg::inspect(payload).is_ok());
    }
    // Frames are newer one after the other.
    let times: Vec<u64> = msgs
        .iter()
        .map(|m| message::parse(m).unwrap().0.capture_time_us)
        .collect();
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    // Unknown stream: 404 before any upgrade.
    assert_eq!(
        get(running.http_addr, "/api/streams/nope/ws").await.status,
        404
    );
    running.shutdown();
}

#[tokio::test]
async fn ping_gives_the_server_clock_and_keyframe_requests_are_honoured() {
    let running = start_with_default("still", STREAMS).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/api/streams/pattern/ws",
        running.http_addr
    ))
    .await
    .unwrap();
    ws.send(Message::Text(r#"{"type":"ping","id":7}"#.into()))
        .await
        .unwrap();
    let mut keyframes = 0;
    let mut pong = None;
    let mut asked = false;
    for _ in 0..300 {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "pong" {
                    pong = Some(v);
                }
            }
            Some(Ok(Message::Binary(b))) if message::parse(&b).unwrap().0.keyframe => {
                keyframes += 1;
                if !asked {
                    // Ask for another at once: it must come long before the 2 s GOP.
                    ws.send(Message::Text(r#"{"type":"keyframe"}"#.into()))
                        .await
                        .unwrap();
                    asked = true;
                }
            }
            _ => {}
        }
        if keyframes >= 2 && pong.is_some() {
            break;
        }
    }
    let pong = pong.expect("a pong");
    assert_eq!(pong["id"], 7);
    let server_us = pong["server_us"].as_u64().unwrap();
    assert!(server_us.abs_diff(pixelwire_server::clock::now().as_micros()) < 5_000_000);
    assert!(keyframes >= 2, "keyframe on request");
    running.shutdown();
}

#[tokio::test]
async fn an_oversized_viewer_message_ends_only_that_viewer() {
    let running = start_with_default("still", STREAMS).await;
    let url = format!("ws://{}/api/streams/pattern/ws", running.http_addr);
    let (mut bad, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // Viewers send small JSON; 100 KiB is past the 64 KiB cap.
    let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(100 * 1024));
    bad.send(Message::Text(big.into())).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match bad.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "the server ends the oversized viewer");
    // Everyone else is served as before.
    let (hello, msgs) = read_viewer(&url, 5).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(msgs.len(), 5);
    running.shutdown();
}

#[tokio::test]
async fn a_viewer_that_stops_reading_does_not_slow_the_others() {
    let running = start_with_default("still", STREAMS).await;
    let url = format!("ws://{}/api/streams/pattern/ws", running.http_addr);
    // Connect a viewer and never read from it: its TCP window fills, its broadcast queue lags.
    let (_stalled, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let start = std::time::Instant::now();
    let (_, msgs) = read_viewer(&url, 60).await;
    let secs = start.elapsed().as_secs_f64();
    // 60 frames of a 30 fps stream: about 2 s; the stalled viewer must not hold this one back.
    assert!(secs < 6.0, "60 frames took {secs:.1} s");
    let times: Vec<u64> = msgs
        .iter()
        .map(|m| message::parse(m).unwrap().0.capture_time_us)
        .collect();
    let gaps = times.windows(2).filter(|w| w[1] - w[0] > 200_000).count();
    assert_eq!(gaps, 0, "no stalls of the healthy viewer: {times:?}");
    running.shutdown();
}

#[tokio::test]
async fn seed_001_viewer_endpoints_follow_the_active_camera() {
    let running = start_with_default("still", STREAMS).await;
    // No camera yet: /mjpeg says so.
    assert_eq!(get(running.http_addr, "/mjpeg").await.status, 503);
    let (mut cam, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/camera/door", running.http_addr))
            .await
            .unwrap();
    let rgba: Vec<u8> = (0..320 * 240)
        .flat_map(|i| [(i % 320) as u8, (i / 320) as u8, 90, 255])
        .collect();
    let jpeg = pixelwire_media::jpeg::encode_rgba(&rgba, 320, 240, 80).unwrap();
    let sender = tokio::spawn(async move {
        loop {
            if cam
                .send(Message::Binary(jpeg.clone().into()))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(33)).await;
        }
    });
    // /ws/viewer on the HTTP port and any path on the viewer port: H.264 of the camera.
    for url in [
        format!("ws://{}/ws/viewer", running.http_addr),
        format!("ws://{}/anything", running.viewer_addrs[0]),
    ] {
        let (hello, msgs) = read_viewer(&url, 3).await;
        assert_eq!(hello["stream"], "door");
        assert!(message::parse(&msgs[0]).unwrap().0.keyframe);
    }
    let r = get(running.http_addr, "/mjpeg").await;
    assert_eq!(r.status, 307);
    assert!(
        r.headers.contains("/streams/door?codec=mjpeg"),
        "{}",
        r.headers
    );
    let status: serde_json::Value =
        serde_json::from_slice(&get(running.http_addr, "/status").await.body).unwrap();
    assert_eq!(status["camera_clients"], 1);
    assert_eq!(status["streaming"], true);
    sender.abort();
    running.shutdown();
}
