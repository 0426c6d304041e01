//! Writes a fixed sequence of camera JPEGs for benchmarks: the moving `pattern` test screen, exactly
//! as `pixelwire mock-camera` renders and encodes it ([`FrameSource`]: libjpeg-turbo, baseline
//! 4:2:0), at frame times `i / fps`. `scripts/bench_camera.py` replays the same files into the
//! server (one WebSocket message each) and into `ffmpeg -f image2pipe`, so both encode identical
//! input.
//!
//! Output: `DIR/frame_00000.jpg`, `DIR/frame_00001.jpg`, ... and a summary line on stdout.
//!
//! Run: `cargo run --release -p pixelwire --example camera_frames -- --dir /tmp/frames
//! [--frames 300] [--size 640x480] [--fps 30] [--quality 85]`

use anyhow::Context;
use clap::Parser;
use pixelwire_devtools::mock_camera::{Format, FrameSource};
use std::path::PathBuf;
use std::time::Duration;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Directory to write into (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// Number of frames.
    #[arg(long, default_value_t = 300)]
    frames: u64,
    /// Frame size, WxH.
    #[arg(long, default_value = "640x480")]
    size: String,
    /// Frame rate the sequence is rendered for (sets the motion per frame).
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// JPEG quality (mock-camera's default is 85).
    #[arg(long, default_value_t = 85)]
    quality: i32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (w, h) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .context("--size must be WxH, e.g. 640x480")?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let painter = pixelwire::pattern_painter::pattern().make(w, h);
    let mut source = FrameSource::with_painter(painter, w, h, Format::Jpeg, args.quality, args.fps);
    let mut total_bytes = 0usize;
    for i in 0..args.frames {
        let elapsed = Duration::from_secs_f64(i as f64 / args.fps);
        let jpeg = source.next_frame(elapsed)?;
        total_bytes += jpeg.len();
        let path = args.dir.join(format!("frame_{i:05}.jpg"));
        std::fs::write(&path, &jpeg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "wrote {} frames of {w}x{h} (quality {}) to {}: mean {:.0} bytes/frame",
        args.frames,
        args.quality,
        args.dir.display(),
        total_bytes as f64 / args.frames.max(1) as f64
    );
    Ok(())
}
