//! `pixelwire serve` and `pixelwire display-emu` as separate processes over loopback: the emulator's
//! panel (its PNG snapshot) equals the server's preview of that panel pixel for pixel; and the CLI
//! reports bad configuration with the file, line and key.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pixelwire");

/// No camera or RTSP listeners and no WebRTC port (the tests here do not need them, and fixed
/// ports would collide).
const CAMERAS_OFF: &str = "[cameras]\nwebsocket_listen = []\nviewer_listen = []\nhttp_listen = []\ntcp_listen = []\n[rtsp]\nlisten = []\n[webrtc]\nenabled = false\n";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` on port 0 and reads the bound addresses from its log.
fn serve(config: &std::path::Path) -> (Killed, String, String) {
    let mut child = Killed(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .args(["--http", "127.0.0.1:0", "--display", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn serve"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "serve did not start");
        let line = lines.next().expect("serve log line").expect("read log");
        if let Some(rest) = line.split("http=").nth(1) {
            let http = rest.split_whitespace().next().unwrap().to_string();
            let disp = line
                .split("displays=[")
                .nth(1)
                .unwrap()
                .split(']')
                .next()
                .unwrap()
                .to_string();
            // keep draining the log so the server never blocks on a full pipe
            std::thread::spawn(move || for _ in lines {});
            return (child, http, disp);
        }
    }
}

fn http_get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

/// Any PNG (RGB, or the grey one of a grey panel) as RGB.
fn png_rgb(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let (w, h, rgba) = pixelwire_media::png::decode_rgba(bytes).unwrap();
    let rgb = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (w, h, rgb)
}

#[test]
fn emulator_panel_equals_server_preview() {
    let prgb = emulator_and_preview("rgb565", "loop");
    // The letterboxed 320x240 pattern: black bars above and below, the white border inside.
    assert_eq!(&prgb[..3], [0, 0, 0]);
    assert_eq!(&prgb[(120 * 240) * 3..(120 * 240) * 3 + 3], [255, 255, 255]);
}

/// Issue 15, part 5: `display-emu --format mono1` declares a monochrome panel; its snapshot (a grey
/// PNG) equals the server's preview, and both show only black and white.
#[test]
fn mono_emulator_panel_equals_server_preview() {
    let prgb = emulator_and_preview("mono1", "loop-mono");
    assert!(prgb.iter().all(|&v| v == 0 || v == 255));
    assert_eq!(&prgb[..3], [0, 0, 0]);
    assert_eq!(&prgb[(120 * 240) * 3..(120 * 240) * 3 + 3], [255, 255, 255]);
}

/// Runs `pixelwire serve` and a 240x240 `display-emu --format <format>` against it; asserts that
/// the emulator's snapshot and the server's preview are the same image, returned as RGB.
fn emulator_and_preview(format: &str, id: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("pixelwire-{id}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("pixelwire.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndefault_stream = \"still\"\ndata_dir = \"{}\"\n{CAMERAS_OFF}[[streams]]\nname = \"still\"\nsource = \"pattern\"\nstill = true\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let (_server, http, display) = serve(&cfg);
    let snap = dir.join("emu.png");
    let emu = Command::new(BIN)
        .args([
            "display-emu",
            "--connect",
            &display,
            "--size",
            "240x240",
            "--id",
            id,
            "--format",
            format,
            "--duration",
            "6",
        ])
        .args(["--link-kbps", "300", "--rtt-ms", "10", "--snapshot"])
        .arg(&snap)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn display-emu");
    // The emulator exits by itself after --duration, even if this test fails first.
    // Wait until the emulator is connected and has a frame, then take the server's preview.
    let path = format!("/api/displays/{id}/preview.png");
    let deadline = Instant::now() + Duration::from_secs(5);
    let preview = loop {
        let (status, _) = http_get(&http, &path);
        if status == 200 {
            std::thread::sleep(Duration::from_millis(1500));
            break http_get(&http, &path).1;
        }
        assert!(Instant::now() < deadline, "display never connected");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = emu.wait_with_output().expect("emulator exits");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("summary {"), "{stdout}");
    let (pw, ph, prgb) = png_rgb(&preview);
    let (ew, eh, ergb) = png_rgb(&std::fs::read(&snap).expect("emulator snapshot"));
    assert_eq!((pw, ph), (240, 240));
    assert_eq!((ew, eh), (240, 240));
    let differing = prgb.iter().zip(&ergb).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing, 0,
        "emulator panel and server preview differ in {differing} bytes"
    );
    let _ = std::fs::remove_dir_all(&dir);
    prgb
}

#[test]
fn bad_config_names_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("pixelwire-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("broken.toml");
    std::fs::write(&cfg, "[server]\nhttp = \"127.0.0.1:0\"\nhtpp = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.toml") && err.contains("line 3") && err.contains("htpp"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_explains_every_option() {
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in ["--config", "--http", "--display"] {
        assert!(text.contains(opt), "{text}");
    }
    let out = Command::new(BIN)
        .args(["display-emu", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--connect",
        "--size",
        "--legacy",
        "--link-kbps",
        "--rtt-ms",
        "--snapshot",
        "--duration",
        "--format",
    ] {
        assert!(text.contains(opt), "{text}");
    }
}

#[test]
fn sigterm_says_goodbye_to_displays_and_exits_cleanly() {
    use std::io::{Read, Write};
    let dir = std::env::temp_dir().join(format!("pixelwire-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("pixelwire.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndata_dir = \"{}\"\n{CAMERAS_OFF}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let (mut server, _http, display) = serve(&cfg);
    // A pixelwire device: HELLO, then read until the server closes.
    let mut sock = std::net::TcpStream::connect(&display).unwrap();
    let mut buf = [0u8; 128];
    let hello = pixelwire_proto::Hello {
        version: 1,
        width: 32,
        height: 24,
        pixel_format: pixelwire_proto::PixelFormat::default(),
        codecs: pixelwire_proto::CodecSet::all(),
        max_packet_bytes: 4096,
        frame_buffer_bytes: 0,
        window: 2,
        device_id: pixelwire_proto::ShortStr::new("bye").unwrap(),
        firmware: pixelwire_proto::ShortStr::new("t").unwrap(),
    };
    let n = hello.encode(&mut buf).unwrap();
    sock.write_all(&buf[..n]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut all = Vec::new();
    let _ = sock.read_to_end(&mut all);
    let mut d = pixelwire_proto::Decoder::default();
    let err = d.feed(&all).filter_map(Result::ok).find_map(|ev| match ev {
        pixelwire_proto::Event::Error(e) => Some(e),
        _ => None,
    });
    let err = err.expect("an ERROR before the close");
    assert_eq!(err.code, pixelwire_proto::ErrorCode::Shutdown);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `display-emu`'s summary counts what follows the warm-up whatever the report interval (with an
/// interval longer than the run it used to count nothing: the only window began before the
/// warm-up ended), and with `--server-http` carries the quality the server measured for it
/// (issue 15 part 1).
#[test]
fn emulator_summary_counts_after_the_warmup_with_a_long_report_interval() {
    let dir = std::env::temp_dir().join(format!("pixelwire-emu-summary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("pixelwire.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndefault_stream = \"moving\"\ndata_dir = \"{}\"\n{CAMERAS_OFF}[[streams]]\nname = \"moving\"\nsource = \"pattern\"\nfps = 20\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let (_server, http, display) = serve(&cfg);
    let out = Command::new(BIN)
        .args(["display-emu", "--connect", &display, "--id", "summary"])
        .args(["--server-http", &http])
        .args([
            "--duration",
            "4",
            "--warmup",
            "1",
            "--report-interval",
            "100",
        ])
        .output()
        .expect("run display-emu");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("summary "))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("no summary: {stdout}"));
    let frames = summary["frames"].as_u64().unwrap();
    assert!(
        frames >= 20,
        "3 s at 20 fps after the warm-up counted {frames} frames: {summary}"
    );
    // the server's figure for this display, passed through (a debug server on a busy machine
    // may run coarser than exact, so only a plausible PSNR is asserted)
    let psnr = summary["psnr_db_mean"].as_f64();
    assert!(
        psnr.is_some_and(|p| (15.0..=100.0).contains(&p)),
        "psnr_db_mean {psnr:?}: {summary}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
