//! The server's camera → H.264 path on a fixed JPEG clip, as the shared encoder runs it
//! (`crates/server/src/encoded/shared_encoder.rs`): each frame's thumbnail is compared with the
//! last encoded one (`thumbnail::StillGate`, unless `--no-skip`), and only a changed frame is
//! decoded (`decode_i420`, straight to planes) and encoded (OpenH264 at the server's settings).
//! Prints one JSON line: CPU ms per frame (this process, all threads, median of `--passes`),
//! frames encoded, bytes and kbit/s at 30 fps, and the PSNR of what a viewer sees against the
//! decoded source (every source frame against the newest decoded picture, so a skipped frame
//! scores what the viewer still shows; Y, U and V together, from the mean squared error over the
//! clip, as ffmpeg's `psnr` filter reports its "average").
//!
//! Run: `cargo run --release -p pixelwire --example camera_encode -- --dir /tmp/frames`;
//! `scripts/bench_encode.py` runs it beside ffmpeg/libx264 on the same clip.

use anyhow::Context;
use clap::Parser;
use pixelwire_media::MediaFrame;
use pixelwire_media::h264::H264Encoder;
use pixelwire_media::thumbnail::{StillGate, Thumbnail};
use pixelwire_media::yuv::I420;
use std::path::PathBuf;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Directory of `*.jpg` frames (30 fps), in name order.
    #[arg(long)]
    dir: PathBuf,
    /// Timed passes.
    #[arg(long, default_value_t = 3)]
    passes: usize,
    /// Encode every frame (no still detection).
    #[arg(long)]
    no_skip: bool,
}

/// Nanoseconds every thread of this process has run (`/proc/self/task/*/schedstat`).
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

/// One pass of the server's path: the access units produced, by source frame index.
fn run(frames: &[bytes::Bytes], skip: bool) -> anyhow::Result<Vec<(usize, Vec<u8>)>> {
    let mut gate = StillGate::default();
    let mut enc = H264Encoder::new();
    let mut out = Vec::new();
    for (i, jpeg) in frames.iter().enumerate() {
        let t = i as u64 * 1_000_000 / 30;
        let frame = MediaFrame::from_jpeg(jpeg.clone(), i as u64, t)?;
        if skip && !gate.should_encode(Thumbnail::of(&frame), t) {
            continue;
        }
        let yuv = frame.i420().context("a frame does not decode")?;
        let au = enc.encode(&yuv)?;
        if !au.annexb.is_empty() {
            out.push((i, au.annexb.to_vec()));
        }
    }
    Ok(out)
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
    let frames: Vec<bytes::Bytes> = names
        .iter()
        .map(|p| std::fs::read(p).map(bytes::Bytes::from))
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(
        !frames.is_empty(),
        "no .jpg files in {}",
        args.dir.display()
    );
    let n = frames.len();
    let mut runs = Vec::new();
    let mut units = Vec::new();
    for _ in 0..args.passes {
        let t0 = cpu_time_ns()?;
        units = run(&frames, !args.no_skip)?;
        runs.push((cpu_time_ns()? - t0) as f64 / 1e6 / n as f64);
    }
    runs.sort_by(f64::total_cmp);
    let bytes: usize = units.iter().map(|(_, u)| u.len()).sum();

    // What a viewer sees: decode the units, hold each picture until the next.
    let mut decoder = openh264::decoder::Decoder::new()?;
    let mut shown: Option<I420> = None;
    let mut next = units.iter().peekable();
    let (mut se, mut samples) = (0f64, 0f64);
    for (i, jpeg) in frames.iter().enumerate() {
        while let Some((_, au)) = next.next_if(|(at, _)| *at == i) {
            use openh264::formats::YUVSource;
            if let Some(p) = decoder.decode(au)? {
                let (w, h) = p.dimensions();
                let (ys, us, vs) = p.strides();
                let plane = |data: &[u8], stride: usize, pw: usize, ph: usize| -> Vec<u8> {
                    (0..ph)
                        .flat_map(|r| data[r * stride..r * stride + pw].to_vec())
                        .collect()
                };
                shown = Some(I420 {
                    width: w as u32,
                    height: h as u32,
                    y: plane(p.y(), ys, w, h),
                    u: plane(p.u(), us, w / 2, h / 2),
                    v: plane(p.v(), vs, w / 2, h / 2),
                });
            }
        }
        let source =
            pixelwire_media::jpeg::decode_i420(jpeg, &pixelwire_media::jpeg::inspect(jpeg)?)?;
        let shown = shown
            .as_ref()
            .context("no picture decoded before a source frame")?;
        for (a, b) in [
            (&source.y, &shown.y),
            (&source.u, &shown.u),
            (&source.v, &shown.v),
        ] {
            se += a
                .iter()
                .zip(b)
                .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
                .sum::<f64>();
            samples += a.len() as f64;
        }
    }
    let psnr = 10.0 * (255.0f64 * 255.0 / (se / samples).max(1e-12)).log10();
    println!(
        "{{\"frames\":{n},\"encoded\":{},\"encoded_frames\":{:?},\"cpu_ms_per_frame\":{:.3},\"cpu_ms_runs\":{:?},\"bytes\":{bytes},\"kbps\":{:.1},\"psnr\":{:.2}}}",
        units.len(),
        units.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        runs[runs.len() / 2],
        runs,
        bytes as f64 * 8.0 / 1000.0 / (n as f64 / 30.0),
        psnr
    );
    Ok(())
}
