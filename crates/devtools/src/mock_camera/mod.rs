//! `pixelwire mock-camera`: a camera that uploads the `pattern` test screen exactly like the seed
//! devices do (`reference/seed-protocols.md`), for trying a server by hand and for integration tests
//! that need clients which speak byte for byte like real firmware:
//!
//! * `ws://` — seed 001's AtomS3R firmware (`esp_websocket_client` 1.3.0, §B.2): one JPEG per
//!   binary message, fragmented above 16 KiB, pings every 10 s, reconnects after 5 s ([`ws`],
//!   with the exact bytes in [`ws_wire`]).
//! * `http://` — seed 002's ESP32-S3 sketch (Arduino `HTTPClient`, §C.1–C.3, C.6): multipart POSTs
//!   over a kept-alive connection, register at boot, heartbeat every 30 s; `--format rgb565` is the
//!   later raw-socket variant (§C.4) ([`http`], with the exact request bytes in [`http_wire`]).
//! * `tcp://` — seed 004's Picamera client (§D): `u32` LE length + frame, a zero length at the end
//!   ([`picamera`]).
//!
//! Frames come from [`content::FrameSource`] and are paced by [`pacer::Pacer`]. [`run_until`] is the
//! entry point for tests; [`run`] adds Ctrl-C handling and prints the `summary {json}` line.

pub mod content;
pub mod http;
pub mod http_client;
pub mod http_wire;
pub mod pacer;
pub mod picamera;
mod runner;
pub mod target;
pub mod ws;
pub mod ws_wire;

#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod http_wire_tests;
#[cfg(test)]
mod ws_tests;

use std::future::Future;

pub use content::{FrameSource, MovingBars, PaintInput, Painter, PainterFactory};
pub use http::{ArduinoHttpClient, HttpCamera};
pub use http_wire::{http_stream_request, multipart_body};
pub use pacer::Pacer;
pub use picamera::PicameraClient;
pub use target::Target;
pub use ws::WsCamera;

/// What each frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Baseline 4:2:0 JPEG (every protocol).
    Jpeg,
    /// Big-endian RGB565, w×h×2 bytes (http only: the seed-002 raw variant, §C.4).
    Rgb565,
    /// Picamera raw I420, padded to a width multiple of 32 and height multiple of 16 (tcp only).
    Yuv,
    /// Picamera raw RGB24 with the same padding (tcp only).
    Rgb,
}

/// `pixelwire mock-camera` options.
#[derive(Debug, Clone, clap::Args)]
pub struct MockCameraOptions {
    /// Where to upload: ws://HOST:PORT/PATH (seed 001 camera), http://HOST:PORT (seed 002
    /// camera) or tcp://HOST:PORT (seed 004 Picamera client).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Frame size, WxH.
    #[arg(long, value_name = "WxH", default_value = "640x480", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Frames per second to aim at; after a slow send the missed ticks are skipped, not burst.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// JPEG quality, 1..=100 (seed 001's mock_camera.py used 85).
    #[arg(long, default_value_t = 85, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub quality: i32,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Stop after this many frames (delivered or failed).
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,
    /// Payload: jpeg (any protocol), rgb565 (http only), yuv or rgb (tcp only, Picamera raw).
    #[arg(long, value_enum, default_value = "jpeg")]
    pub format: Format,
    /// http: device id (seed 002 DEVICE_ID), sent at registration, in heartbeats and (rgb565)
    /// as X-Device-Id.
    #[arg(long, default_value = "ESP32-CAM-001")]
    pub device_id: String,
    /// http: device name sent at registration (seed 002 DEVICE_NAME).
    #[arg(long, default_value = "Camera #1")]
    pub device_name: String,
    /// http: X-API-Key header on every request.
    #[arg(long, default_value = "dev-api-key-change-in-production")]
    pub api_key: String,
    /// http: seconds between heartbeat ticks (a tick re-registers if the last heartbeat failed).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub heartbeat_interval: f64,
    /// http: send frames only, no registration and no heartbeats.
    #[arg(long)]
    pub no_register: bool,
    /// http: run firmware 7b50e93's boot connectivity test first (GET the stream URL, pass on
    /// 200/404/405; then a JSON test POST); register at boot only if the GET passed.
    #[arg(long)]
    pub boot_probe: bool,
    /// ws: seconds between pings (esp_websocket_client: 10); a missing pong for 120 s reconnects.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub ping_interval: f64,
    /// ws: largest frame payload; bigger messages are fragmented (esp_websocket_client
    /// buffer_size, 16384 in seed 001).
    #[arg(long, value_name = "BYTES", default_value_t = ws::DEFAULT_BUFFER_SIZE)]
    pub ws_buffer_size: usize,
    /// Seconds to wait before connecting again after an error (esp_websocket_client: 5).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub reconnect_delay: f64,
    /// Give up after this many failed connection attempts in a row (mock_camera.py: 5); 0 = never.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_connect_failures: u32,
    /// What the frames show (not a command-line option): the `pixelwire` binary paints its
    /// `pattern` screen; the default is [`MovingBars`].
    #[arg(skip)]
    pub painter: PainterFactory,
}

impl MockCameraOptions {
    /// The command-line defaults, sending to `to`.
    pub fn new(to: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            size: (640, 480),
            fps: 30.0,
            quality: 85,
            duration: None,
            frames: None,
            format: Format::Jpeg,
            device_id: "ESP32-CAM-001".into(),
            device_name: "Camera #1".into(),
            api_key: "dev-api-key-change-in-production".into(),
            heartbeat_interval: 30.0,
            no_register: false,
            boot_probe: false,
            ping_interval: 10.0,
            ws_buffer_size: ws::DEFAULT_BUFFER_SIZE,
            reconnect_delay: 5.0,
            max_connect_failures: 5,
            painter: PainterFactory::default(),
        }
    }
}

pub(crate) fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("expected WxH, e.g. 640x480")?;
    let w: u32 = w.trim().parse().map_err(|_| format!("bad width {w:?}"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("bad height {h:?}"))?;
    let max = pixelwire_media::jpeg::MAX_SIDE;
    if w == 0 || h == 0 || w > max || h > max {
        return Err(format!("width and height must be within 1..={max}"));
    }
    Ok((w, h))
}

/// The end-of-run figures (`summary {json}`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// `ws`, `http` or `tcp`.
    pub protocol: &'static str,
    /// Payload format.
    pub format: Format,
    /// Frames delivered (ws/tcp: fully written; http: answered 200).
    pub frames: u64,
    /// Payload bytes of the delivered frames (JPEG or raw bytes, without protocol framing).
    pub bytes: u64,
    /// Frames that were attempted but not delivered.
    pub failures: u64,
    /// Seconds from start to the end of the run.
    pub elapsed_s: f64,
    /// Delivered frames per second over the run.
    pub fps: f64,
    /// Connections established (ws/tcp sessions, http TCP connections).
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// http: successful registrations.
    pub registrations: u64,
    /// http: heartbeats answered 200.
    pub heartbeats: u64,
    /// True when the run stopped because `--max-connect-failures` was reached.
    pub gave_up: bool,
}

impl Summary {
    fn new(protocol: &'static str, format: Format) -> Self {
        Self {
            protocol,
            format,
            frames: 0,
            bytes: 0,
            failures: 0,
            elapsed_s: 0.0,
            fps: 0.0,
            connects: 0,
            connect_failures: 0,
            registrations: 0,
            heartbeats: 0,
            gave_up: false,
        }
    }
}

/// Runs the camera until `--duration`, `--frames` or Ctrl-C, then prints `summary {json}` on
/// stdout. The first Ctrl-C ends cleanly (WebSocket close, Picamera end marker), a second one at
/// once. Fails (after printing the summary) when it gave up connecting.
/// `signal` resolves on each SIGINT/SIGTERM.
pub async fn run<S, F>(opts: MockCameraOptions, signal: S) -> anyhow::Result<()>
where
    S: Fn() -> F,
    F: Future<Output = ()>,
{
    let max_failures = opts.max_connect_failures;
    let second_signal = async {
        signal().await;
        signal().await;
    };
    let summary = tokio::select! {
        r = run_until(opts, signal()) => r?,
        () = second_signal => anyhow::bail!("interrupted twice; stopped at once"),
    };
    println!("summary {}", serde_json::to_string(&summary)?);
    if summary.gave_up {
        anyhow::bail!("gave up after {max_failures} failed connection attempts in a row");
    }
    Ok(())
}

/// Runs the camera until `--duration`, `--frames` or until `stop` resolves, and returns the
/// summary. After `stop` the camera ends cleanly (WebSocket close, Picamera end marker).
pub async fn run_until(
    opts: MockCameraOptions,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<Summary> {
    let target = Target::parse(&opts.to)?;
    check_options(&opts, &target)?;
    let (trigger, signal) = tokio::sync::watch::channel(false);
    let work = runner::run_target(opts, target, signal);
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => return r,
        () = stop => {
            trigger.send_replace(true);
        }
    }
    work.await
}

fn check_options(opts: &MockCameraOptions, target: &Target) -> anyhow::Result<()> {
    anyhow::ensure!(
        opts.fps.is_finite() && opts.fps > 0.0 && opts.fps <= 1000.0,
        "--fps must be within (0, 1000]"
    );
    for (name, v) in [
        ("--heartbeat-interval", opts.heartbeat_interval),
        ("--ping-interval", opts.ping_interval),
    ] {
        anyhow::ensure!(v.is_finite() && v > 0.0, "{name} must be positive");
    }
    anyhow::ensure!(
        opts.reconnect_delay.is_finite() && opts.reconnect_delay >= 0.0,
        "--reconnect-delay must not be negative"
    );
    if let Some(d) = opts.duration {
        anyhow::ensure!(d.is_finite() && d >= 0.0, "--duration must not be negative");
    }
    anyhow::ensure!(opts.ws_buffer_size > 0, "--ws-buffer-size must be positive");
    let ok = matches!(
        (target, opts.format),
        (_, Format::Jpeg)
            | (Target::Http(..), Format::Rgb565)
            | (Target::Tcp(_), Format::Yuv | Format::Rgb)
    );
    anyhow::ensure!(
        ok,
        "--format {:?} is not available for {}:// (rgb565 is http only, yuv/rgb tcp only)",
        opts.format,
        target.scheme()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        opts: MockCameraOptions,
    }

    #[test]
    fn new_matches_the_command_line_defaults() {
        let parsed = Wrapper::parse_from(["x", "--to", "ws://h:1/ws"]).opts;
        assert_eq!(
            format!("{parsed:?}"),
            format!("{:?}", MockCameraOptions::new("ws://h:1/ws"))
        );
        let p = Wrapper::parse_from([
            "x",
            "--to",
            "tcp://h:1",
            "--format",
            "yuv",
            "--size",
            "320x240",
        ]);
        assert_eq!((p.opts.format, p.opts.size), (Format::Yuv, (320, 240)));
        assert!(Wrapper::try_parse_from(["x", "--to", "a", "--size", "0x5"]).is_err());
        assert!(Wrapper::try_parse_from(["x", "--to", "a", "--quality", "101"]).is_err());
    }

    #[test]
    fn formats_must_fit_the_protocol() {
        let check = |to: &str, f: Format| {
            let mut o = MockCameraOptions::new(to);
            o.format = f;
            check_options(&o, &Target::parse(to).unwrap()).is_ok()
        };
        assert!(check("ws://h/ws", Format::Jpeg));
        assert!(!check("ws://h/ws", Format::Rgb565));
        assert!(check("http://h:9005", Format::Rgb565));
        assert!(!check("http://h:9005", Format::Yuv));
        assert!(check("tcp://h:1308", Format::Rgb));
        assert!(!check("tcp://h:1308", Format::Rgb565));
    }
}
