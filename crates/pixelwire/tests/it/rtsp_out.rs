//! RTSP out, checked by real clients: ffprobe with its default options (UDP first, then TCP after
//! our 461), ffmpeg reading 300 frames over TCP whose decoded pixels match the camera's pictures,
//! Frigate's record arguments producing playable MP4 segments, and a hand-written client for the
//! protocol details (SDP parameter sets, errors) and the one-encoder-per-stream metric, also with
//! a WHEP session and the recorder on the same stream.

use crate::common::{self, get, start_with_default, temp_dir};
use futures_util::SinkExt;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const STREAMS: &str = "[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\n";
const W: u32 = 320;
const H: u32 = 240;
/// Source pictures the test camera cycles through.
const PICTURES: usize = 24;

fn require_ffmpeg() {
    let have = |t: &str| {
        Command::new(t)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        have("ffprobe") && have("ffmpeg"),
        "ffmpeg/ffprobe not installed: run scripts/setup-test-deps.sh (CI installs them)"
    );
}

/// Picture `i`: colour gradients with a white 40x40 square at a position depending on `i`.
fn picture(i: usize) -> Vec<u8> {
    let (sx, sy) = (
        20 + (i as u32 * 11) % (W - 80),
        30 + (i as u32 * 7) % (H - 80),
    );
    (0..W * H)
        .flat_map(|p| {
            let (x, y) = (p % W, p / W);
            if (sx..sx + 40).contains(&x) && (sy..sy + 40).contains(&y) {
                [255, 255, 255, 255]
            } else {
                [(x * 255 / W) as u8, (y * 255 / H) as u8, 128, 255]
            }
        })
        .collect()
}

/// The camera's JPEGs and what they decode to (RGB), one per picture.
fn camera_pictures() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    (0..PICTURES)
        .map(|i| {
            let jpeg = pixelwire_media::jpeg::encode_rgba(&picture(i), W, H, 95).unwrap();
            let (_, _, rgba) = pixelwire_media::jpeg::decode_rgba(&jpeg).unwrap();
            let rgb = rgba
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            (jpeg, rgb)
        })
        .unzip()
}

/// Pushes the pictures round and round to `/ws/camera/{name}` at 30 fps until aborted.
fn push_camera(http: SocketAddr, name: &str, jpegs: Vec<Vec<u8>>) -> tokio::task::JoinHandle<()> {
    let url = format!("ws://{http}/ws/camera/{name}");
    tokio::spawn(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("camera connects");
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for i in 0.. {
            tick.tick().await;
            if ws
                .send(Message::Binary(jpegs[i % jpegs.len()].clone().into()))
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
}

#[tokio::test]
async fn ffprobe_with_default_options_sees_h264_at_the_streams_size() {
    require_ffmpeg();
    let running = start_with_default("pattern", STREAMS).await;
    let url = format!("rtsp://{}/pattern", running.rtsp_addrs[0]);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,profile,width,height",
                "-of",
                "csv=p=0",
                &url,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "h264,Constrained Baseline,320,240"
    );
    running.shutdown();
}

#[tokio::test]
async fn ffmpeg_reads_300_frames_over_tcp_that_match_the_camera() {
    require_ffmpeg();
    let running = start_with_default("pattern", "").await;
    let (jpegs, sources) = camera_pictures();
    let camera = push_camera(running.http_addr, "cam", jpegs);
    // The stream exists once the first frame arrived.
    for _ in 0..100 {
        if get(running.http_addr, "/api/streams/cam/snapshot.jpg")
            .await
            .status
            == 200
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("rtsp://{}/cam", running.rtsp_addrs[0]);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                "-i",
                &url,
                "-frames:v",
                "300",
                "-fps_mode",
                "passthrough",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "pipe:1",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    camera.abort();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frame = (W * H * 3) as usize;
    assert_eq!(out.stdout.len(), 300 * frame, "300 decoded frames");
    let mut worst = f64::INFINITY;
    let mut pictures_seen = std::collections::HashSet::new();
    for (n, decoded) in out.stdout.chunks_exact(frame).enumerate() {
        // Each decoded frame is one of the camera's pictures: the best match is it.
        let (best, score) = sources
            .iter()
            .enumerate()
            .map(|(i, s)| (i, psnr(decoded, s)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(
            score > 30.0,
            "frame {n}: best match picture {best} at {score:.1} dB"
        );
        worst = worst.min(score);
        pictures_seen.insert(best);
    }
    // Motion came through: the frames are many different pictures, not one repeated.
    assert!(
        pictures_seen.len() >= PICTURES / 2,
        "{} pictures seen",
        pictures_seen.len()
    );
    eprintln!(
        "worst frame {worst:.1} dB; {} of {PICTURES} pictures seen",
        pictures_seen.len()
    );
    running.shutdown();
}

#[tokio::test]
async fn frigates_record_arguments_write_playable_segments() {
    require_ffmpeg();
    let running = start_with_default("pattern", STREAMS).await;
    let dir = temp_dir("frigate");
    let url = format!("rtsp://{}/pattern", running.rtsp_addrs[0]);
    let pattern = dir.join("%Y%m%d%H%M%S.mp4").to_str().unwrap().to_string();
    // Frigate's preset-rtsp-generic input and preset-record-generic output arguments (with
    // 2 s segments instead of 10 so that the test is short), stopped after 7 s.
    let out = tokio::task::spawn_blocking(move || {
        Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "warning",
                "-avoid_negative_ts",
                "make_zero",
                "-fflags",
                "+genpts+discardcorrupt",
                "-rtsp_transport",
                "tcp",
                "-timeout",
                "5000000",
                "-use_wallclock_as_timestamps",
                "1",
                "-i",
                &url,
                "-t",
                "7",
                "-f",
                "segment",
                "-segment_time",
                "2",
                "-segment_format",
                "mp4",
                "-reset_timestamps",
                "1",
                "-strftime",
                "1",
                "-c",
                "copy",
                "-an",
                &pattern,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segments.sort();
    assert!(segments.len() >= 2, "{segments:?}");
    let mut total = 0;
    for s in &segments {
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-count_frames",
                "-show_entries",
                "stream=codec_name,width,height,nb_read_frames",
                "-of",
                "csv=p=0",
            ])
            .arg(s)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&probe.stdout).trim().to_string();
        assert!(
            probe.status.success() && text.starts_with("h264,320,240,") && !text.ends_with(",0"),
            "{s:?}: {text} {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        total += text.rsplit(',').next().unwrap().parse::<u32>().unwrap();
    }
    // Frames in every segment (checked above) and in all: the 7 s were recorded, at whatever
    // rate this machine rendered the pattern.
    assert!(total >= 30, "{total} frames in {} segments", segments.len());
    running.shutdown();
}

/// The session id in a SETUP response's `Session:` header.
fn session_id(head: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix("Session: "))
        .expect("a Session header")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A WebCodecs viewer of `stream` that has read its hello (so it holds the shared encoder).
async fn webcodecs_viewer(
    http: SocketAddr,
    stream: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{http}/api/streams/{stream}/ws?codec=h264"))
            .await
            .expect("viewer connects");
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::StreamExt::next(&mut ws),
    )
    .await;
    ws
}

/// A minimal RTSP client over TCP: sends a request, returns (status line + headers, body).
struct Client {
    sock: TcpStream,
    cseq: u32,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        Self {
            sock: TcpStream::connect(addr).await.unwrap(),
            cseq: 0,
            buf: Vec::new(),
        }
    }

    async fn request(&mut self, method: &str, url: &str, headers: &str) -> (String, String) {
        self.cseq += 1;
        let req = format!(
            "{method} {url} RTSP/1.0\r\nCSeq: {}\r\n{headers}\r\n",
            self.cseq
        );
        self.sock.write_all(req.as_bytes()).await.unwrap();
        loop {
            // Skip interleaved data before the response.
            while self.buf.first() == Some(&b'$') && self.buf.len() >= 4 {
                let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
                if self.buf.len() < 4 + len {
                    break;
                }
                self.buf.drain(..4 + len);
            }
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if self.buf.len() >= end + 4 + len {
                    let body =
                        String::from_utf8_lossy(&self.buf[end + 4..end + 4 + len]).to_string();
                    self.buf.drain(..end + 4 + len);
                    assert!(head.contains(&format!("CSeq: {}", self.cseq)), "{head}");
                    return (head, body);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), self.sock.read(&mut chunk))
                .await
                .expect("a response in time")
                .unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads interleaved packets until `n` RTP packets on channel 0 arrived; their payloads' NAL types.
    async fn rtp_nal_types(&mut self, n: usize) -> Vec<u8> {
        let mut types = Vec::new();
        while types.len() < n {
            if self.buf.len() >= 4 && self.buf[0] == b'$' {
                let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
                if self.buf.len() >= 4 + len {
                    if self.buf[1] == 0 {
                        types.push(self.buf[4 + 12] & 0x1F);
                    }
                    self.buf.drain(..4 + len);
                    continue;
                }
            }
            let mut chunk = [0u8; 65536];
            let k = tokio::time::timeout(Duration::from_secs(10), self.sock.read(&mut chunk))
                .await
                .expect("RTP in time")
                .unwrap();
            assert!(k > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..k]);
        }
        types
    }
}

#[tokio::test]
async fn one_encoder_serves_rtsp_and_browser_viewers_and_errors_are_clear() {
    let running = start_with_default("pattern", STREAMS).await;
    let rtsp = running.rtsp_addrs[0];
    let base = format!("rtsp://{rtsp}/pattern");
    let mut c = Client::connect(rtsp).await;
    let (head, _) = c.request("OPTIONS", &base, "").await;
    assert!(
        head.starts_with("RTSP/1.0 200 OK")
            && head.contains("Public: OPTIONS, DESCRIBE, SETUP, PLAY"),
        "{head}"
    );
    let (head, sdp) = c
        .request("DESCRIBE", &base, "Accept: application/sdp\r\n")
        .await;
    assert!(head.contains("Content-Type: application/sdp"), "{head}");
    assert!(
        sdp.contains("a=rtpmap:96 H264/90000") && sdp.contains("sprop-parameter-sets=Z0"),
        "{sdp}"
    );
    let (head, _) = c
        .request(
            "SETUP",
            &format!("{base}/trackID=0"),
            "Transport: RTP/AVP;unicast;client_port=6000-6001\r\n",
        )
        .await;
    assert!(head.starts_with("RTSP/1.0 461 "), "{head}");
    let (head, _) = c
        .request(
            "SETUP",
            &format!("{base}/trackID=0"),
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
        )
        .await;
    assert!(head.starts_with("RTSP/1.0 200 OK"), "{head}");
    let session = session_id(&head);
    let (head, _) = c
        .request(
            "PLAY",
            &base,
            &format!("Session: {session}\r\nRange: npt=0.000-\r\n"),
        )
        .await;
    assert!(head.starts_with("RTSP/1.0 200 OK"), "{head}");
    // The first unit is a keyframe: SPS, PPS, IDR slice (single or FU-A).
    let types = c.rtp_nal_types(3).await;
    assert_eq!(&types[..2], &[7, 8], "{types:?}");
    // A browser viewer of the same stream.
    let _viewer = webcodecs_viewer(running.http_addr, "pattern").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = String::from_utf8_lossy(&get(running.http_addr, "/metrics").await.body).to_string();
    for want in [
        "pixelwire_stream_h264_encoders{stream=\"pattern\"} 1\n",
        "pixelwire_stream_encoded_consumers{stream=\"pattern\",kind=\"rtsp\"} 1\n",
        "pixelwire_stream_encoded_consumers{stream=\"pattern\",kind=\"webcodecs\"} 1\n",
        "pixelwire_stream_h264_encoder_starts_total{stream=\"pattern\"} 1\n",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    let (head, _) = c
        .request("GET_PARAMETER", &base, &format!("Session: {session}\r\n"))
        .await;
    assert!(head.starts_with("RTSP/1.0 200 OK"), "{head}");
    let (head, _) = c
        .request("TEARDOWN", &base, &format!("Session: {session}\r\n"))
        .await;
    assert!(head.starts_with("RTSP/1.0 200 OK"), "{head}");

    // Unknown stream, garbage.
    let mut c = Client::connect(rtsp).await;
    let (head, body) = c
        .request("DESCRIBE", &format!("rtsp://{rtsp}/nope"), "")
        .await;
    assert!(head.starts_with("RTSP/1.0 404 "), "{head}");
    assert!(body.contains("no stream named \"nope\""), "{body}");
    let mut raw = TcpStream::connect(rtsp).await.unwrap();
    raw.write_all(b"\x16\x03\x01 not rtsp at all\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("RTSP/1.0 400 Bad Request"),
        "{answer:?}"
    );
    // The server still serves.
    let mut c = Client::connect(rtsp).await;
    assert!(
        c.request("OPTIONS", &base, "")
            .await
            .0
            .starts_with("RTSP/1.0 200")
    );
    let _ = common::RTSP_ON_PORT_0;
    running.shutdown();
}

#[tokio::test]
async fn one_encoder_serves_webcodecs_rtsp_whep_and_the_recorder_at_once() {
    let running = start_with_default(
        "pattern",
        "[[streams]]\nname = \"pattern\"\nsource = \"pattern\"\nfps = 30\nrecord = \"always\"\n",
    )
    .await;
    let rtsp = running.rtsp_addrs[0];
    let base = format!("rtsp://{rtsp}/pattern");
    let mut c = Client::connect(rtsp).await;
    c.request("DESCRIBE", &base, "").await;
    let (head, _) = c
        .request(
            "SETUP",
            &format!("{base}/trackID=0"),
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
        )
        .await;
    let session = session_id(&head);
    c.request("PLAY", &base, &format!("Session: {session}\r\n"))
        .await;
    c.rtp_nal_types(3).await;
    let _viewer = webcodecs_viewer(running.http_addr, "pattern").await;
    // A WHEP session holds its subscription from the answer on (its ICE need not finish here).
    let r = crate::whep::request(
        running.http_addr,
        "POST",
        "/api/streams/pattern/whep",
        "application/sdp",
        crate::whep::OFFER,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = String::from_utf8_lossy(&get(running.http_addr, "/metrics").await.body).to_string();
    for want in [
        "pixelwire_stream_h264_encoders{stream=\"pattern\"} 1\n",
        "pixelwire_stream_h264_encoder_starts_total{stream=\"pattern\"} 1\n",
        "pixelwire_stream_encoded_consumers{stream=\"pattern\",kind=\"webcodecs\"} 1\n",
        "pixelwire_stream_encoded_consumers{stream=\"pattern\",kind=\"rtsp\"} 1\n",
        "pixelwire_stream_encoded_consumers{stream=\"pattern\",kind=\"whep\"} 1\n",
        "pixelwire_stream_encoded_consumers{stream=\"pattern\",kind=\"recorder\"} 1\n",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    running.shutdown();
}
