//! `pixelwire-load`: a load generator for one pixelwire node (issue 12, "one-node envelope"). In
//! one process, bounded in count and time and only against this machine ([`loopback`]), it opens
//!
//! * cameras pushing pre-encoded JPEGs (a directory of files, e.g. `camera_frames`' 640x480
//!   pattern, else [`crate::mock_camera::MovingBars`] encoded once) over the camera WebSocket at a
//!   fixed rate ([`camera`]);
//! * H.264 viewers spread over the first `--viewed-cameras` cameras, measuring ingest-to-receive
//!   latency and frames missing ([`viewer`]);
//! * MJPEG readers ([`mjpeg`]) and snapshot pollers ([`snapshot`]) spread over every camera;
//! * emulated displays ([`crate::emu`]) behind a shaped link (e.g. 300 kB/s) on the display port.
//!
//! After `--warmup` seconds it counts for `--duration` seconds and prints one `interval {json}`
//! line every `--interval` seconds and a `summary {json}` line at the end (stdout). By default it
//! runs on one thread, so it takes at most one core from the server it measures.

pub mod camera;
pub mod gaps;
pub mod histogram;
pub mod http_get;
pub mod loopback;
pub mod mjpeg;
pub mod multipart;
pub mod report;
pub mod snapshot;
pub mod tally;
pub mod viewer;

use anyhow::Context;
use report::{Kinds, Window};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Bytes;

/// Command-line options.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pixelwire-load",
    version,
    about = "Load generator for one pixelwire node (loopback only)"
)]
pub struct LoadOptions {
    /// The server's HTTP address (loopback only).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub server: String,
    /// The server's display address (loopback only); needed with --displays.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8888")]
    pub display: String,
    /// Cameras, pushing to streams PREFIX-0, PREFIX-1, ...
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub cameras: u32,
    /// Stream name prefix of the cameras.
    #[arg(long, default_value = "load")]
    pub prefix: String,
    /// Camera frames per second.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// A directory of JPEG files to replay in name order (default: moving bars, encoded once).
    #[arg(long, value_name = "DIR")]
    pub frames_dir: Option<PathBuf>,
    /// Size of the moving bars without --frames-dir, WxH.
    #[arg(long, value_name = "WxH", default_value = "640x480", value_parser = crate::mock_camera::parse_size)]
    pub size: (u32, u32),
    /// H.264 viewers, spread round-robin over the first --viewed-cameras cameras.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=2000))]
    pub viewers: u32,
    /// How many cameras the viewers watch (default: all).
    #[arg(long)]
    pub viewed_cameras: Option<u32>,
    /// MJPEG readers, spread over every camera.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=200))]
    pub mjpeg: u32,
    /// Snapshot pollers, spread over every camera.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub snapshots: u32,
    /// Milliseconds between two snapshots of one poller.
    #[arg(long, default_value_t = 1000)]
    pub snapshot_interval_ms: u64,
    /// Emulated displays on --display (the server routes them; e.g. its default_stream).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub displays: u32,
    /// Each emulated display's link rate, kB/s.
    #[arg(long, default_value_t = 300.0)]
    pub display_kbps: f64,
    /// Emulated display size, WxH.
    #[arg(long, default_value = "320x240")]
    pub display_size: String,
    /// Seconds from the last connection to the start of counting.
    #[arg(long, default_value_t = 3.0)]
    pub warmup: f64,
    /// Seconds counted (at most an hour).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds between `interval` lines.
    #[arg(long, default_value_t = 10.0)]
    pub interval: f64,
    /// Milliseconds between opening two viewer, MJPEG or snapshot connections.
    #[arg(long, default_value_t = 5)]
    pub connect_interval_ms: u64,
    /// Runtime threads (1: the generator uses at most one core).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// Returns once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The JPEGs the cameras replay.
fn load_frames(opts: &LoadOptions) -> anyhow::Result<Arc<[Bytes]>> {
    let frames: Vec<Bytes> = match &opts.frames_dir {
        Some(dir) => {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| {
                        x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg")
                    })
                })
                .collect();
            paths.sort();
            paths
                .iter()
                .map(|p| {
                    std::fs::read(p)
                        .map(Bytes::from)
                        .with_context(|| format!("reading {}", p.display()))
                })
                .collect::<anyhow::Result<_>>()?
        }
        None => {
            let (w, h) = opts.size;
            let mut src = crate::mock_camera::FrameSource::new(
                w,
                h,
                crate::mock_camera::Format::Jpeg,
                85,
                opts.fps,
            );
            (0..60)
                .map(|i| {
                    src.next_frame(Duration::from_secs_f64(f64::from(i) / opts.fps))
                        .map(Bytes::from)
                })
                .collect::<anyhow::Result<_>>()?
        }
    };
    anyhow::ensure!(!frames.is_empty(), "no JPEG frames to send");
    Ok(frames.into())
}

fn emu_options(
    opts: &LoadOptions,
    index: u32,
    warmup: f64,
    run_s: f64,
) -> anyhow::Result<crate::emu::EmuOptions> {
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        emu: crate::emu::EmuOptions,
    }
    let args = [
        "emu".to_string(),
        "--connect".into(),
        opts.display.clone(),
        "--size".into(),
        opts.display_size.clone(),
        "--link-kbps".into(),
        opts.display_kbps.to_string(),
        "--id".into(),
        format!("{}-display-{index}", opts.prefix),
        "--warmup".into(),
        warmup.to_string(),
        "--duration".into(),
        run_s.to_string(),
        "--report-interval".into(),
        opts.interval.to_string(),
        "--quiet".into(),
    ];
    Ok(<Wrap as clap::Parser>::try_parse_from(args)?.emu)
}

/// Runs the load until the duration ends; prints the interval lines and returns the summary.
pub async fn run(opts: LoadOptions) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        opts.duration > 0.0 && opts.duration <= 3600.0,
        "--duration must be in (0, 3600] s"
    );
    anyhow::ensure!(
        opts.warmup >= 0.0 && opts.warmup <= 600.0,
        "--warmup must be in [0, 600] s"
    );
    anyhow::ensure!(
        opts.fps > 0.0 && opts.fps <= 120.0,
        "--fps must be in (0, 120]"
    );
    anyhow::ensure!(opts.interval >= 1.0, "--interval must be at least 1 s");
    let server = loopback::resolve(&opts.server)?;
    if opts.displays > 0 {
        loopback::resolve(&opts.display)?;
    }
    anyhow::ensure!(
        opts.cameras > 0 || (opts.viewers == 0 && opts.mjpeg == 0 && opts.snapshots == 0),
        "viewers, MJPEG and snapshot clients need --cameras"
    );
    let frames = load_frames(&opts)?;
    let kinds = Arc::new(Kinds::default());
    let (count_tx, counting) = watch::channel(false);
    let (stop_tx, stop) = watch::channel(false);
    let offset = Arc::new(viewer::ClockOffset::default());
    let stream = |i: u32| format!("{}-{i}", opts.prefix);
    let mut tasks = tokio::task::JoinSet::new();
    let mut sent = Vec::with_capacity(opts.cameras as usize);
    for i in 0..opts.cameras {
        let spec = camera::CameraSpec {
            server,
            stream: stream(i),
            fps: opts.fps,
            frames: frames.clone(),
            first: (i as usize * 7) % frames.len(),
        };
        let n = Arc::new(AtomicU64::new(0));
        sent.push(n.clone());
        tasks.spawn(camera::run(
            spec,
            kinds.camera.clone(),
            n,
            counting.clone(),
            stop.clone(),
        ));
    }
    eprintln!(
        "{} cameras pushing {} frames of {} bytes on average",
        opts.cameras,
        frames.len(),
        frames.iter().map(Bytes::len).sum::<usize>() / frames.len()
    );
    // Streams exist once their first frame arrived.
    if opts.cameras > 0 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let gap = Duration::from_millis(opts.connect_interval_ms);
    let viewed = opts
        .viewed_cameras
        .unwrap_or(opts.cameras)
        .clamp(1, opts.cameras.max(1));
    let mut units = Vec::with_capacity(opts.viewers as usize);
    let mut watches = Vec::with_capacity(opts.viewers as usize);
    for v in 0..opts.viewers {
        let spec = viewer::ViewerSpec {
            server,
            stream: stream(v % viewed),
            fps: opts.fps,
        };
        let n = Arc::new(AtomicU64::new(0));
        units.push(n.clone());
        watches.push((v % viewed) as usize);
        tasks.spawn(viewer::run(
            spec,
            kinds.h264.clone(),
            n,
            offset.clone(),
            counting.clone(),
            stop.clone(),
        ));
        tokio::time::sleep(gap).await;
    }
    for m in 0..opts.mjpeg {
        tasks.spawn(mjpeg::run(
            server,
            stream(m % opts.cameras),
            kinds.mjpeg.clone(),
            counting.clone(),
            stop.clone(),
        ));
        tokio::time::sleep(gap).await;
    }
    let every = Duration::from_millis(opts.snapshot_interval_ms.max(10));
    for s in 0..opts.snapshots {
        tasks.spawn(snapshot::run(
            server,
            stream(s % opts.cameras),
            every,
            kinds.snapshot.clone(),
            counting.clone(),
            stop.clone(),
        ));
        tokio::time::sleep(gap).await;
    }
    let mut displays = tokio::task::JoinSet::new();
    for d in 0..opts.displays {
        let o = emu_options(&opts, d, opts.warmup, opts.warmup + opts.duration)?;
        displays.spawn(crate::emu::emulate(o));
    }
    tokio::time::sleep(Duration::from_secs_f64(opts.warmup)).await;
    let _ = count_tx.send(true);
    let _ = kinds.take_interval(&sent, &units);
    eprintln!("measuring for {} s", opts.duration);
    let mut window = Window::new(opts.fps, opts.cameras, watches);
    let start = tokio::time::Instant::now();
    let end = start + Duration::from_secs_f64(opts.duration);
    let mut last = start;
    loop {
        let next = (last + Duration::from_secs_f64(opts.interval)).min(end);
        tokio::time::sleep_until(next).await;
        let secs = next.duration_since(last).as_secs_f64();
        let line = window.interval(
            &kinds.take_interval(&sent, &units),
            start.elapsed().as_secs_f64(),
            secs,
        );
        println!("interval {line}");
        last = next;
        if next >= end {
            break;
        }
    }
    let _ = count_tx.send(false);
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let mut reports = Vec::new();
    while let Some(r) = displays.join_next().await {
        match r {
            Ok(Ok(rep)) => reports.push(rep),
            Ok(Err(e)) => eprintln!("display emulator failed: {e:#}"),
            Err(e) => eprintln!("display emulator task failed: {e}"),
        }
    }
    // The window, not the time it took the emulators to finish after it.
    let secs = end.duration_since(start).as_secs_f64();
    Ok(window.summary(secs, offset.get(), &reports))
}

/// Builds the runtime (`--threads`), runs and prints the `summary {json}` line.
pub fn main_with(opts: LoadOptions) -> anyhow::Result<()> {
    let runtime = if opts.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.threads)
            .enable_all()
            .build()?
    };
    let summary = runtime.block_on(run(opts))?;
    println!("summary {summary}");
    Ok(())
}
