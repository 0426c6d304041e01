//! WebRTC out via WHEP (issue 17, part 3): headless Chromium plays a stream over WHEP and the test
//! reads the painted pixels; one encoder serves a WebCodecs viewer and a WHEP session of the same
//! stream at once (`/metrics` says so); DELETE ends a session (its consumer count back to 0); the
//! refusals (garbage SDP 400, unknown stream 404, wrong content type 415, per-peer cap 429,
//! PATCH 405) and the ICE connect timeout, without a browser.

use crate::common::{chromium, decode_png, get, start_with_default};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STREAMS: &str = "[[streams]]\nname = \"still\"\nsource = \"pattern\"\nstill = true\n";

/// A recvonly H.264 offer as Chromium makes it (one H.264 and one VP8 payload type).
pub(crate) const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Ab3d\r\na=ice-pwd:0123456789abcdefghijklmn\r\na=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\na=setup:actpass\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack pli\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";

/// A response: status, head, body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

/// `method path` with `content_type` and `body` over HTTP/1.1.
pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Reply {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("reply in time")
        .expect("read");
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// The `Location` of a response head.
pub(crate) fn location(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("location")
            .then(|| v.trim().to_string())
    })
}

/// The value of `series` (name and labels, exactly) in `/metrics`, 0 if absent.
async fn metric(addr: SocketAddr, series: &str) -> f64 {
    let body = String::from_utf8(get(addr, "/metrics").await.body).unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits up to `limit` for `series` to read `want`; returns the last value read.
async fn metric_becomes(addr: SocketAddr, series: &str, want: f64, limit: Duration) -> f64 {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let v = metric(addr, series).await;
        if v == want || tokio::time::Instant::now() >= deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn close(a: [i64; 3], b: [i64; 3], tol: i64) -> bool {
    a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= tol)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_plays_a_stream_over_whep_beside_webcodecs_on_one_encoder() {
    assert!(
        chromium::available(),
        "chromium not installed: run scripts/setup-test-deps.sh (CI installs it)"
    );
    let running = start_with_default("still", STREAMS).await;
    let addr = running.http_addr;
    let snap = get(addr, "/api/streams/still/snapshot.png").await;
    let (w, h, rgb) = decode_png(&snap.body);
    assert_eq!((w, h), (320, 240));
    let at = |x: u32, y: u32| {
        let i = ((y * w + x) * 3) as usize;
        [
            i64::from(rgb[i]),
            i64::from(rgb[i + 1]),
            i64::from(rgb[i + 2]),
        ]
    };
    let mut browser = chromium::Browser::launch().await.expect("launch chromium");
    let mut page = browser
        .open(&format!("http://{addr}/streams/still?transport=whep"))
        .await
        .expect("open the viewer");
    page.wait_for(
        "window.pixelwireViewer && window.pixelwireViewer.framesPresented > 0",
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("nothing painted over WHEP: {e}\n{}", page.console_tail(30)));
    let v = page
        .eval("JSON.stringify({path: pixelwireViewer.path, w: pixelwireViewer.width, h: pixelwireViewer.height, err: pixelwireViewer.error, session: pixelwireViewer.whepSession})")
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
    assert_eq!(v["path"], "whep", "the page fell back: {v}");
    assert_eq!(
        (v["w"].as_u64(), v["h"].as_u64()),
        (Some(320), Some(240)),
        "{v}"
    );
    let session = v["session"].as_str().expect("a session URL").to_string();
    assert!(session.starts_with("/api/streams/still/whep/"), "{session}");
    // The painted pixels are the stream's (H.264 is lossy: a tolerance like the WebCodecs path's).
    // The page redraws the video's picture each second (a first draw can be black in headless
    // Chromium, and a still stream sends no next frame): give it that second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (x, y) in [(160, 120), (1, 1), (318, 238), (280, 200), (40, 200)] {
        let s = page
            .eval(&format!("JSON.stringify(pixelwireViewer.sample({x}, {y}))"))
            .await
            .unwrap();
        let s: Vec<i64> = serde_json::from_str(s.as_str().unwrap()).unwrap();
        assert!(
            close([s[0], s[1], s[2]], at(x, y), 32),
            "pixel ({x},{y}) painted {s:?}, source {:?}",
            at(x, y)
        );
    }
    // A WebCodecs viewer of the same stream joins: still one encoder, one consumer of each kind.
    let mut webcodecs = browser
        .open(&format!("http://{addr}/streams/still?codec=h264"))
        .await
        .expect("open a WebCodecs viewer");
    webcodecs
        .wait_for(
            "window.pixelwireViewer && window.pixelwireViewer.framesPresented > 0 && pixelwireViewer.path === 'h264'",
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("WebCodecs: {e}\n{}", webcodecs.console_tail(20)));
    let series = |kind: &str| {
        format!("pixelwire_stream_encoded_consumers{{stream=\"still\",kind=\"{kind}\"}}")
    };
    assert_eq!(
        metric(addr, "pixelwire_stream_h264_encoders{stream=\"still\"}").await,
        1.0
    );
    assert_eq!(metric(addr, &series("whep")).await, 1.0);
    assert_eq!(metric(addr, &series("webcodecs")).await, 1.0);
    assert_eq!(
        metric(addr, "pixelwire_whep_sessions{stream=\"still\"}").await,
        1.0
    );
    // The page measures its latency from the RTP timestamps (capture time at 90 kHz).
    let p50 = page
        .wait_for(
            "pixelwireViewer.latencyMsP50 !== null && pixelwireViewer.latencyMsP50",
            Duration::from_secs(10),
        )
        .await;
    assert!(p50.is_ok(), "no latency figure: {p50:?}");
    // DELETE on the session URL ends it: the session and its consumer count go, the encoder stays
    // for the WebCodecs viewer.
    let status = page
        .eval(&format!(
            "fetch({session:?}, {{method: 'DELETE'}}).then(r => r.status)"
        ))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let d = Duration::from_secs(5);
    assert_eq!(metric_becomes(addr, &series("whep"), 0.0, d).await, 0.0);
    assert_eq!(
        metric_becomes(addr, "pixelwire_whep_sessions{stream=\"still\"}", 0.0, d).await,
        0.0
    );
    assert_eq!(
        metric(
            addr,
            "pixelwire_whep_session_ends_total{reason=\"deleted\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(addr, "pixelwire_stream_h264_encoders{stream=\"still\"}").await,
        1.0
    );
    // A second DELETE finds nothing.
    assert_eq!(
        request(addr, "DELETE", &session, "text/plain", "")
            .await
            .status,
        404
    );
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_are_refused_with_the_right_status_and_silent_sessions_time_out() {
    let running = start_with_default(
        "still",
        &format!(
            "{STREAMS}[webrtc]\nlisten = \"127.0.0.1:0\"\nmax_sessions_per_peer = 1\nconnect_timeout_ms = 1000\n"
        ),
    )
    .await;
    let addr = running.http_addr;
    let sdp = "application/sdp";
    let r = request(addr, "POST", "/api/streams/still/whep", sdp, "garbage").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not an SDP offer"), "{}", r.body);
    let vp8_only = OFFER.replace("H264/90000", "VP9/90000");
    let r = request(addr, "POST", "/api/streams/still/whep", sdp, &vp8_only).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("H.264"), "{}", r.body);
    let r = request(addr, "POST", "/api/streams/nope/whep", sdp, OFFER).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = request(addr, "POST", "/api/streams/still/whep", "text/plain", OFFER).await;
    assert_eq!(r.status, 415, "{}", r.body);
    // A good offer: 201, an SDP answer with a host candidate on the WebRTC port, a Location.
    let r = request(addr, "POST", "/api/streams/still/whep", sdp, OFFER).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let head = r.head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/sdp"), "{}", r.head);
    let port = running.webrtc_addr.expect("the WebRTC port").port();
    assert!(
        r.body.contains(&format!("127.0.0.1 {port} typ host")),
        "{}",
        r.body
    );
    let location = location(&r.head).expect("a Location");
    assert!(
        location.starts_with("/api/streams/still/whep/"),
        "{location}"
    );
    // Trickle ICE is not supported: PATCH is 405, as WHEP allows.
    assert_eq!(
        request(
            addr,
            "PATCH",
            &location,
            "application/trickle-ice-sdpfrag",
            "a=x"
        )
        .await
        .status,
        405
    );
    // One session per peer here: the second is refused with 429.
    let r = request(addr, "POST", "/api/streams/still/whep", sdp, OFFER).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        metric(addr, "pixelwire_whep_refused_total{reason=\"peer_full\"}").await,
        1.0
    );
    // Nobody does ICE for it: it ends after connect_timeout_ms, and its URL is gone.
    let ends = "pixelwire_whep_session_ends_total{reason=\"connect_timeout\"}";
    assert_eq!(
        metric_becomes(addr, ends, 1.0, Duration::from_secs(5)).await,
        1.0
    );
    assert_eq!(
        metric(
            addr,
            "pixelwire_stream_encoded_consumers{stream=\"still\",kind=\"whep\"}"
        )
        .await,
        0.0
    );
    assert_eq!(
        request(addr, "DELETE", &location, "text/plain", "")
            .await
            .status,
        404
    );
    assert_eq!(
        request(
            addr,
            "DELETE",
            "/api/streams/still/whep/not-an-id",
            "text/plain",
            ""
        )
        .await
        .status,
        404
    );
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}

/// CPU seconds this process (the in-process server and the test) used so far, from
/// `/proc/self/stat` (utime + stime at the usual 100 ticks per second).
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses: the state is field
    // 3, utime and stime fields 14 and 15 (proc(5)); some fields before them may be -1.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    (tick(11) + tick(12)) as f64 / 100.0
}

/// Rates over a measuring window, CPU seconds per second.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// The whole test process (server and test).
    cpu: f64,
    /// The stream's encode, as timed by the encoder.
    encode: f64,
    /// The stream's rendering.
    render: f64,
    /// The WebRTC task (`pixelwire_whep_cpu_seconds_total`).
    whep: f64,
}

/// Issue 17's WHEP figures (BENCHMARKS.md, "WHEP"): the CPU each extra WHEP viewer adds to an
/// already encoded stream, against the encode's own, and capture-to-display latency in Chromium.
/// `cargo test --release -p pixelwire --test it whep::bench -- --ignored --nocapture`;
/// `PW_WHEP_VIEWERS` (default 4) sessions are added one by one, `PW_WHEP_WINDOW_S` (default 10)
/// seconds measured at each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it with --ignored --nocapture"]
async fn bench() {
    let viewers: usize = std::env::var("PW_WHEP_VIEWERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let window = Duration::from_secs_f64(
        std::env::var("PW_WHEP_WINDOW_S")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10.0),
    );
    let running = start_with_default(
        "moving",
        "[[streams]]\nname = \"moving\"\nsource = \"pattern\"\nwidth = 1280\nheight = 720\nfps = 30\n",
    )
    .await;
    let addr = running.http_addr;
    // The encoder runs for a consumer that costs nothing (as if a recorder held it).
    let stream = running.state.bus.get("moving").expect("the stream");
    let encoder = running.state.encoders.get(&stream, &running.state.metrics);
    let _held = encoder.subscribe(
        pixelwire_server::metrics::ConsumerKind::Recorder,
        pixelwire_server::encoded::Start::Live,
    );
    let encode_sum = |addr| async move {
        metric(
            addr,
            "pixelwire_stream_h264_encode_seconds_sum{stream=\"moving\"}",
        )
        .await
    };
    let render_sum = |addr| async move {
        metric(
            addr,
            "pixelwire_stream_render_seconds_sum{stream=\"moving\"}",
        )
        .await
    };
    let whep_sum = |addr| async move { metric(addr, "pixelwire_whep_cpu_seconds_total").await };
    let measure = |label: String| async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let c0 = process_cpu_s();
        let (e0, r0, w0) = (
            encode_sum(addr).await,
            render_sum(addr).await,
            whep_sum(addr).await,
        );
        tokio::time::sleep(window).await;
        let c1 = process_cpu_s();
        let (e1, r1, w1) = (
            encode_sum(addr).await,
            render_sum(addr).await,
            whep_sum(addr).await,
        );
        let s = window.as_secs_f64();
        let m = Measured {
            cpu: (c1 - c0) / s,
            encode: (e1 - e0) / s,
            render: (r1 - r0) / s,
            whep: (w1 - w0) / s,
        };
        eprintln!("{label}: {m:?} (s/s)");
        m
    };
    let base = measure("0 WHEP viewers".into()).await;
    // The encode's cost: its own timing, or the process's CPU less rendering if that is smaller
    // (encode timings are wall time, which a busy machine stretches).
    let encode = base.encode.min(base.cpu - base.render).max(1e-9);
    let mut browser = chromium::Browser::launch().await.expect("launch chromium");
    let mut pages = Vec::new();
    let mut rows = Vec::new();
    let mut p50s = Vec::new();
    for n in 1..=viewers {
        let mut page = browser
            .open(&format!("http://{addr}/streams/moving?codec=whep"))
            .await
            .expect("open");
        page.wait_for(
            "window.pixelwireViewer && pixelwireViewer.framesPresented > 0",
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("viewer {n}: {e}"));
        if n == 1 {
            // Latency while this is the only (foreground) tab: headless Chromium throttles the
            // painting of background tabs. Its p50 over 2 s windows, for the whole window.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let deadline = tokio::time::Instant::now() + window;
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if let Ok(v) = page
                    .eval("JSON.stringify([pixelwireViewer.latencyMsP50, pixelwireViewer.fps])")
                    .await
                {
                    let v: Vec<Option<f64>> =
                        serde_json::from_str(v.as_str().unwrap_or("[]")).unwrap_or_default();
                    if let (Some(Some(p)), Some(Some(fps))) = (v.first(), v.get(1)) {
                        p50s.push((*p, *fps));
                    }
                }
            }
        }
        pages.push(page);
        rows.push((n, measure(format!("{n} WHEP viewers")).await));
    }
    println!(
        "encode cost: {encode:.3} CPU s/s (timed {:.3}; process {:.3} less render {:.3})",
        base.encode, base.cpu, base.render
    );
    println!(
        "| WHEP viewers | server process CPU s/s | WebRTC task CPU s/s | per viewer | per viewer, % of the encode |"
    );
    println!("|---|---|---|---|---|");
    println!("| 0 | {:.3} | {:.4} | — | — |", base.cpu, base.whep);
    for (n, m) in &rows {
        let per = m.whep / *n as f64;
        println!(
            "| {n} | {:.3} | {:.4} | {:.4} | {:.1} % |",
            m.cpu,
            m.whep,
            per,
            100.0 * per / encode
        );
    }
    let mut p: Vec<f64> = p50s.iter().map(|x: &(f64, f64)| x.0).collect();
    p.sort_by(f64::total_cmp);
    let fps: Vec<f64> = p50s.iter().map(|x| x.1).collect();
    println!(
        "latency p50 (median of 2 s windows): {:.1} ms, windows {:?}, fps {:?}",
        p.get(p.len() / 2).copied().unwrap_or(f64::NAN),
        p,
        fps
    );
    running.shutdown();
    running.join(Duration::from_secs(5)).await;
}
