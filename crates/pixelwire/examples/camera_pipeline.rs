//! Per-frame CPU cost of the camera → H.264 path on a fixed JPEG sequence (the one `camera_frames`
//! writes), stage by stage, in one thread: the server's JPEG → I420 decode
//! (`media::jpeg::decode_i420`), libjpeg-turbo's own `decompress_to_yuv` alone (the difference is
//! the server's plane repacking), and OpenH264 with the server's settings (`encoded::shared_encoder`:
//! camera real-time, low complexity, 0.12 bit/pixel at 30 fps, IDR every 60 frames) with its
//! output bitrate. `scripts/bench_camera.py` prints it next to the server's measured CPU.
//!
//! Times are CPU time of this process (`/proc/self/task/*/schedstat`, so other load on a shared
//! machine inflates them little), medians over `--passes` passes of each pass's mean per frame.
//!
//! Run: `cargo run --release -p pixelwire --example camera_pipeline -- --dir /tmp/frames`

use anyhow::Context;
use clap::Parser;
use pixelwire_media::h264;
use pixelwire_media::jpeg;
use pixelwire_media::yuv::I420;
use std::path::PathBuf;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Directory of `*.jpg` frames, replayed in name order.
    #[arg(long)]
    dir: PathBuf,
    /// Timed passes over the sequence per stage.
    #[arg(long, default_value_t = 3)]
    passes: usize,
}

/// Nanoseconds every thread of this process has run on a CPU (`/proc/self/task/*/schedstat`).
fn cpu_time_ns() -> anyhow::Result<u64> {
    let mut ns = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let s = std::fs::read_to_string(task?.path().join("schedstat"))?;
        ns += s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .context("unexpected schedstat format")?;
    }
    Ok(ns)
}

/// Median over `passes` of the mean CPU ms per item of `pass` (which handles `items` items).
fn ms_per_item(
    passes: usize,
    items: usize,
    mut pass: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let mut runs = Vec::with_capacity(passes);
    for _ in 0..passes {
        let t = cpu_time_ns()?;
        pass()?;
        runs.push((cpu_time_ns()? - t) as f64 / 1e6 / items as f64);
    }
    runs.sort_by(f64::total_cmp);
    Ok(runs[runs.len() / 2])
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.passes > 0, "--passes must be at least 1");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&args.dir)
        .with_context(|| format!("cannot read {}", args.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    names.sort();
    let frames: Vec<Vec<u8>> = names.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    anyhow::ensure!(
        !frames.is_empty(),
        "no .jpg files in {}",
        args.dir.display()
    );
    let infos: Vec<jpeg::JpegInfo> = frames
        .iter()
        .map(|j| jpeg::inspect(j))
        .collect::<Result<_, _>>()?;
    let yuv: Vec<I420> = frames
        .iter()
        .zip(&infos)
        .map(|(j, i)| jpeg::decode_i420(j, i))
        .collect::<Result<_, _>>()?;
    let (w, h) = (yuv[0].width, yuv[0].height);
    let n = frames.len();

    let server_decode = ms_per_item(args.passes, n, || {
        for (j, i) in frames.iter().zip(&infos) {
            std::hint::black_box(jpeg::decode_i420(j, i)?);
        }
        Ok(())
    })?;
    let turbo_only = ms_per_item(args.passes, n, || {
        for j in &frames {
            std::hint::black_box(turbojpeg::decompress_to_yuv(j)?);
        }
        Ok(())
    })?;
    let mut encoded_bytes = 0;
    let encode_ms = ms_per_item(args.passes, n, || {
        let mut enc = h264::H264Encoder::new();
        encoded_bytes = 0;
        for f in &yuv {
            encoded_bytes += enc.encode(f)?.stats.bytes;
        }
        Ok(())
    })?;
    let kbps = encoded_bytes as f64 * 8.0 / 1000.0 / (n as f64 / 30.0);

    println!(
        "{n} frames of {w}x{h}, mean {:.0} bytes; CPU time, medians of {} passes\n",
        frames.iter().map(Vec::len).sum::<usize>() as f64 / n as f64,
        args.passes
    );
    println!("| stage | ms/frame | CPU s/s at 30 fps |");
    println!("|---|---:|---:|");
    for (name, ms) in [
        (
            "JPEG → I420, server (`decode_i420`: turbojpeg, planes split in place)",
            server_decode,
        ),
        (
            "JPEG → YUV, turbojpeg `decompress_to_yuv` alone",
            turbo_only,
        ),
        (
            &format!("OpenH264 encode, server settings ({kbps:.0} kbit/s)"),
            encode_ms,
        ),
    ] {
        println!("| {name} | {ms:.2} | {:.3} |", ms * 30.0 / 1000.0);
    }
    Ok(())
}
