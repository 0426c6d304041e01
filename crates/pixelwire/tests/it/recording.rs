//! Recordings (issue 17, part 4), checked by real tools: ffprobe counts the frames and durations
//! of recorded files; a server killed with `kill -9` leaves a file that plays to its last
//! fragment; retention by age and by size never removes the open file; an `on_demand` start holds
//! its pre-roll; headless Chromium plays `recording.mp4` and seeks in it (HTTP Range).

use crate::common::{chromium, get, start_with_default, temp_dir};
use pixelwire_server::record::scan;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn require_ffmpeg() {
    let ok = Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "ffprobe not installed: run scripts/setup-test-deps.sh (CI installs it)"
    );
}

/// `ffprobe -count_frames` of a file: (frames decoded, duration in seconds).
fn probe(path: &std::path::Path) -> (u64, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let s = &v["streams"][0];
    let frames = s["nb_read_frames"].as_str().and_then(|n| n.parse().ok());
    let duration = s["duration"].as_str().and_then(|d| d.parse().ok());
    (frames.unwrap_or(0), duration.unwrap_or(0.0))
}

/// Frames and duration (s) of the complete fragments of a recording file, as the server reads it.
fn scanned(path: &std::path::Path) -> (u64, f64, usize) {
    let bytes = std::fs::read(path).expect("read recording");
    let s = scan::scan(&mut std::io::Cursor::new(&bytes), bytes.len() as u64).expect("a recording");
    let frames = s.fragments.iter().map(|f| u64::from(f.samples)).sum();
    let ticks: u64 = s.fragments.iter().map(|f| f.duration).sum();
    (frames, ticks as f64 / 90_000.0, s.fragments.len())
}

/// One request with a method, extra header lines and a body: (status, head, body).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head, raw[split + 4..].to_vec())
}

async fn recordings(addr: SocketAddr, stream: &str) -> Value {
    let r = get(addr, &format!("/api/streams/{stream}/recordings")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice(&r.body).expect("json")
}

/// Waits until `cond` holds for the stream's recordings (at most `limit`).
async fn wait_for(
    addr: SocketAddr,
    stream: &str,
    limit: Duration,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    let end = Instant::now() + limit;
    loop {
        let v = recordings(addr, stream).await;
        if cond(&v) || Instant::now() > end {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn closed_files(v: &Value) -> usize {
    v["files"]
        .as_array()
        .map_or(0, |f| f.iter().filter(|f| f["open"] == false).count())
}

fn config(recording: &str, streams: &str) -> String {
    format!("[recording]\n{recording}\n{streams}")
}

const ALWAYS: &str =
    "[[streams]]\nname = \"rec\"\nsource = \"pattern\"\nfps = 30\nrecord = \"always\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_hold_the_frames_ffprobe_counts_and_a_range_is_served_with_http_ranges() {
    require_ffmpeg();
    let running = start_with_default("rec", &config("segment_seconds = 2", ALWAYS)).await;
    let addr = running.http_addr;
    let v = wait_for(addr, "rec", Duration::from_secs(30), |v| {
        closed_files(v) >= 2
    })
    .await;
    assert!(closed_files(&v) >= 2, "{v}");
    let dir = running.state.recordings.root().join("rec");
    for f in v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["open"] == false)
    {
        let path = dir.join(f["name"].as_str().unwrap());
        let (frames, duration) = probe(&path);
        let (scanned_frames, scanned_s, fragments) = scanned(&path);
        assert_eq!(frames, f["frames"].as_u64().unwrap(), "{f}");
        assert_eq!(frames, scanned_frames, "{f}");
        assert!(frames >= 2, "{f}");
        // The first keyframe at least 2 s after the file's start closes it (an IDR every 60
        // frames: 2 s at 30 fps, up to 5 s on a loaded machine that renders 12 fps), in fragments
        // of about 1 s. ffprobe's duration is the file's own.
        assert!(
            (duration - scanned_s).abs() < 0.05,
            "ffprobe {duration} s, scan {scanned_s} s"
        );
        assert!((1.9..=10.0).contains(&duration), "{duration} s: {f}");
        assert!(
            fragments >= 2 && fragments as f64 <= duration + 2.0,
            "{fragments} fragments: {f}"
        );
        assert_eq!(
            (f["width"].as_u64(), f["height"].as_u64()),
            (Some(320), Some(240))
        );
    }
    // The whole first span as one MP4: every frame of its closed files, then Range answers.
    let span = &v["spans"][0];
    let first = &v["files"][0];
    let url = format!(
        "/api/streams/rec/recording.mp4?start={}&duration=1.5",
        first["start"].as_str().unwrap().replace(':', "%3A")
    );
    let (status, head, body) = request(addr, "GET", &url, "", "").await;
    assert_eq!(status, 200, "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("accept-ranges: bytes") && lower.contains("content-type: video/mp4"),
        "{head}"
    );
    let out = temp_dir("range").join("range.mp4");
    std::fs::write(&out, &body).unwrap();
    let (frames, duration) = probe(&out);
    let (_, _, fragments) = scanned(&out);
    assert!(
        fragments >= 1 && frames >= 2,
        "{frames} frames in {fragments} fragments"
    );
    assert!((1.0..=3.0).contains(&duration), "{duration} s");
    let (status, head, part) = request(addr, "GET", &url, "Range: bytes=100-1099\r\n", "").await;
    assert_eq!(status, 206, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-range: bytes 100-1099/{}", body.len())),
        "{head}"
    );
    assert_eq!(part, body[100..1100]);
    let (status, _, tail) = request(addr, "GET", &url, "Range: bytes=-10\r\n", "").await;
    assert_eq!((status, &tail[..]), (206, &body[body.len() - 10..]));
    let (status, head, _) = request(
        addr,
        "GET",
        &url,
        &format!("Range: bytes={}-\r\n", body.len()),
        "",
    )
    .await;
    assert_eq!(status, 416, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-range: bytes */{}", body.len()))
    );
    // Bad queries and unknown streams.
    assert!(
        span["url"]
            .as_str()
            .unwrap()
            .starts_with("/api/streams/rec/recording.mp4?start=")
    );
    for (path, want) in [
        ("/api/streams/rec/recording.mp4?start=yesterday", 400),
        ("/api/streams/rec/recording.mp4", 400),
        (
            "/api/streams/rec/recording.mp4?start=2020-01-01T00:00:00Z&duration=-1",
            400,
        ),
        (
            "/api/streams/rec/recording.mp4?start=2020-01-01T00:00:00Z&duration=10",
            404,
        ),
        ("/api/streams/nope/recordings", 404),
        (
            "/api/streams/nope/recording.mp4?start=2020-01-01T00:00:00Z",
            404,
        ),
    ] {
        assert_eq!(get(addr, path).await.status, want, "{path}");
    }
    let (status, _, body) = request(
        addr,
        "POST",
        "/api/streams/rec/recording",
        "Content-Type: application/json\r\n",
        "{\"action\":\"stop\"}",
    )
    .await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    // Deleting everything deletes every closed file and keeps the open one.
    let (status, _, body) = request(addr, "DELETE", "/api/streams/rec/recordings", "", "").await;
    assert_eq!(status, 200);
    let d: Value = serde_json::from_slice(&body).unwrap();
    assert!(d["deleted"].as_array().unwrap().len() >= 2, "{d}");
    let v = recordings(addr, "rec").await;
    let files = v["files"].as_array().unwrap();
    assert!(
        files.iter().all(|f| f["open"] == true) && files.len() == 1,
        "{v}"
    );
    assert!(dir.join(files[0]["name"].as_str().unwrap()).exists());
    running.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_by_age_and_by_size_never_removes_the_open_file() {
    for (limit, reason) in [("max_age_s = 1", "age"), ("max_bytes = 1", "size")] {
        let running = start_with_default(
            "rec",
            &config(&format!("segment_seconds = 1\n{limit}"), ALWAYS),
        )
        .await;
        let addr = running.http_addr;
        let series = format!(
            "pixelwire_recording_files_deleted_total{{stream=\"rec\",reason=\"{reason}\"}} "
        );
        let end = Instant::now() + Duration::from_secs(40);
        let mut deleted = 0.0;
        while Instant::now() < end && deleted < 2.0 {
            let m = String::from_utf8(get(addr, "/metrics").await.body).unwrap();
            deleted = m
                .lines()
                .find_map(|l| l.strip_prefix(&series)?.parse().ok())
                .unwrap_or(0.0);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert!(deleted >= 2.0, "{reason}: {deleted} files deleted");
        // Whatever the limit, the file being written stays, on disk and in the index.
        let v = recordings(addr, "rec").await;
        let files = v["files"].as_array().unwrap();
        let open: Vec<&Value> = files.iter().filter(|f| f["open"] == true).collect();
        assert_eq!(open.len(), 1, "{reason}: {v}");
        let dir = running.state.recordings.root().join("rec");
        assert!(
            dir.join(open[0]["name"].as_str().unwrap()).exists(),
            "{reason}"
        );
        // Closed files go at once (by size) or within a second or so of closing (by age).
        assert!(files.len() <= 3, "{reason}: {v}");
        running.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_demand_recording_starts_with_its_pre_roll() {
    require_ffmpeg();
    let streams = "[[streams]]\nname = \"door\"\nsource = \"pattern\"\nfps = 30\nrecord = \"on_demand\"\npre_roll_s = 3\n";
    let running = start_with_default("door", &config("", streams)).await;
    let addr = running.http_addr;
    // The pre-roll holds the encoder: its ring fills while nothing records.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        recordings(addr, "door").await["files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let t = pixelwire_server::clock::now().as_micros();
    let json = "Content-Type: application/json\r\n";
    let (status, _, body) = request(
        addr,
        "POST",
        "/api/streams/door/recording",
        json,
        "{\"action\":\"start\"}",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _, _) = request(
        addr,
        "POST",
        "/api/streams/door/recording",
        json,
        "{\"action\":\"stop\"}",
    )
    .await;
    assert_eq!(status, 200);
    let v = wait_for(addr, "door", Duration::from_secs(10), |v| {
        v["recording"] == false
            && closed_files(v) >= 1
            && v["files"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["open"] == false)
    })
    .await;
    let span = &v["spans"][0];
    let start = chrono::DateTime::parse_from_rfc3339(span["start"].as_str().unwrap()).unwrap();
    let start_us = start.timestamp_micros() as u64;
    assert!(
        start_us <= t - 3_000_000,
        "the span starts {} ms before the start",
        (t - start_us) / 1000
    );
    let end = chrono::DateTime::parse_from_rfc3339(span["end"].as_str().unwrap()).unwrap();
    assert!(end.timestamp_micros() as u64 >= t + 1_000_000, "{v}");
    // And the frames are there: ffprobe decodes at least 3 s of them before the start.
    let dir = running.state.recordings.root().join("door");
    let first = dir.join(v["files"][0]["name"].as_str().unwrap());
    let (frames, duration) = probe(&first);
    assert!(
        frames >= 60 && duration >= 3.0,
        "{frames} frames, {duration} s"
    );
    let (status, _, _) = request(
        addr,
        "POST",
        "/api/streams/door/recording",
        json,
        "{\"action\":\"pause\"}",
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = request(
        addr,
        "POST",
        "/api/streams/door/recording",
        "",
        "{\"action\":\"start\"}",
    )
    .await;
    assert_eq!(status, 415);
    running.shutdown();
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_file_cut_by_kill_9_plays_to_its_last_fragment() {
    require_ffmpeg();
    let dir = temp_dir("kill9");
    let cfg = dir.join("pixelwire.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndata_dir = \"{}\"\ndefault_stream = \"rec\"\n[cameras]\nwebsocket_listen = []\nviewer_listen = []\nhttp_listen = []\ntcp_listen = []\n[rtsp]\nlisten = []\n[webrtc]\nenabled = false\n{ALWAYS}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_pixelwire"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .args(["--http", "127.0.0.1:0", "--display", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn serve"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    let rec = dir.join("data/recordings/rec");
    // Wait for a few fragments of the first file (60-s segments: the file stays open).
    let end = Instant::now() + Duration::from_secs(30);
    let file = loop {
        assert!(Instant::now() < end, "no recording grew");
        let f = std::fs::read_dir(&rec)
            .ok()
            .and_then(|d| d.flatten().map(|e| e.path()).next());
        if let Some(f) = f
            && scanned(&f).2 >= 3
        {
            break f;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    let _ = child.0.wait();
    // The file was never closed; every complete fragment plays.
    let (frames, fragments_s, fragments) = scanned(&file);
    let (decoded, duration) = probe(&file);
    assert!(fragments >= 3);
    assert_eq!(
        decoded, frames,
        "ffprobe decodes every frame of the complete fragments"
    );
    assert!(
        (duration - fragments_s).abs() < 0.05,
        "{duration} vs {fragments_s}"
    );
    // The same file cut in the middle of its last fragment (a crash mid-write): players stop
    // there, and every earlier frame still decodes.
    let bytes = std::fs::read(&file).unwrap();
    let s = scan::scan(&mut std::io::Cursor::new(&bytes), bytes.len() as u64).unwrap();
    let last = s.fragments.last().unwrap();
    let cut = dir.join("cut.mp4");
    std::fs::write(&cut, &bytes[..(last.offset + last.len / 2) as usize]).unwrap();
    let (before_last, _, n) = scanned(&cut);
    assert_eq!(n, s.fragments.len() - 1);
    let (decoded, _) = probe(&cut);
    assert!(
        decoded >= before_last,
        "{decoded} frames decoded, {before_last} in complete fragments"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_plays_a_recorded_span_and_seeks_in_it() {
    assert!(
        chromium::available(),
        "chromium not installed: run scripts/setup-test-deps.sh (CI installs it)"
    );
    let running = start_with_default("rec", &config("segment_seconds = 2", ALWAYS)).await;
    let addr = running.http_addr;
    let v = wait_for(addr, "rec", Duration::from_secs(40), |v| {
        v["spans"][0]["duration_s"].as_f64().unwrap_or(0.0) >= 6.0
    })
    .await;
    assert!(v["spans"][0]["url"].is_string(), "{v}");
    let mut browser = chromium::Browser::launch().await.expect("launch chromium");
    // The status page lists the stream's spans; its play button loads one into the card's video.
    let mut page = browser
        .open(&format!("http://{addr}/"))
        .await
        .expect("open the page");
    page.wait_for(
        "document.querySelector('.rec .spans button') !== null",
        Duration::from_secs(20),
    )
    .await
    .unwrap_or_else(|e| panic!("no span on the page: {e}\n{}", page.console_tail(20)));
    page.eval(
        "window.v = document.querySelector('.rec-video'); window.seeked = 0; \
         v.addEventListener('seeked', () => window.seeked++); \
         document.querySelector('.rec .spans button').click(); 0",
    )
    .await
    .unwrap();
    page.wait_for(
        "v.readyState >= 2 && isFinite(v.duration)",
        Duration::from_secs(20),
    )
    .await
    .unwrap_or_else(|e| panic!("no metadata: {e}\n{}", page.console_tail(20)));
    page.eval("v.pause(); 0").await.unwrap();
    let duration = page.eval("v.duration").await.unwrap().as_f64().unwrap();
    assert!(duration >= 5.0, "duration {duration}");
    // Seekable over the whole file: the browser knows it can ask for any byte range.
    let seekable = page
        .eval("v.seekable.length ? v.seekable.end(v.seekable.length - 1) : 0")
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(
        (seekable - duration).abs() < 0.5,
        "seekable to {seekable} of {duration}"
    );
    let target = duration * 0.7;
    page.eval(&format!("v.currentTime = {target}; 0"))
        .await
        .unwrap();
    page.wait_for(
        "window.seeked > 0 && v.readyState >= 2",
        Duration::from_secs(20),
    )
    .await
    .unwrap_or_else(|e| panic!("no seek: {e}\n{}", page.console_tail(20)));
    let at = page.eval("v.currentTime").await.unwrap().as_f64().unwrap();
    assert!((at - target).abs() < 0.5, "seeked to {at}, asked {target}");
    // It plays on from there, decoding frames.
    page.eval("v.play(); 0").await.unwrap();
    page.wait_for(
        &format!(
            "v.currentTime > {} && v.getVideoPlaybackQuality().totalVideoFrames > 0",
            target + 0.3
        ),
        Duration::from_secs(20),
    )
    .await
    .unwrap_or_else(|e| panic!("does not play: {e}\n{}", page.console_tail(20)));
    let err = page.eval("v.error ? v.error.message : ''").await.unwrap();
    assert_eq!(err.as_str(), Some(""));
    running.shutdown();
}
