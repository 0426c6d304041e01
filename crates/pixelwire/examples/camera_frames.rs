//! Writes a fixed sequence of camera JPEGs for benchmarks: the moving `pattern` test screen, exactly
//! as `pixelwire mock-camera` renders and encodes it ([`FrameSource`]: libjpeg-turbo, baseline
//! 4:2:0), at frame times `i / fps`; or, with `--scene camera`, a fixed camera's view: a still
//! scene (the pattern's first frame, blurred by nothing), per-pixel sensor noise of σ ≈ 3 grey
//! levels in every frame, and a dark object crossing it during the middle third of the clip. `scripts/bench_camera.py` replays the same files into the
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
    /// `pattern` (full motion) or `camera` (still scene, sensor noise, an object crossing).
    #[arg(long, default_value = "pattern")]
    scene: String,
}

/// Frame `i` of `n` of the camera-like clip, from the still `base` (RGBA).
fn camera_scene(base: &[u8], w: u32, h: u32, i: u64, n: u64) -> Vec<u8> {
    let mut rgba = base.to_vec();
    // The object crosses from the left edge to the right one during the middle third.
    let (ow, oh) = (w / 8, h * 2 / 5);
    let third = (n / 3).max(1);
    let object_x = (third..2 * third)
        .contains(&i)
        .then(|| ((i - third) as f64 / third as f64 * f64::from(w + ow)) as i64 - i64::from(ow));
    // xorshift noise, different in every frame, the same in every run.
    let mut state = (i as u32).wrapping_mul(2_654_435_761) ^ 0x9E37_79B9;
    for y in 0..h {
        for x in 0..w {
            let p = ((y * w + x) * 4) as usize;
            let inside = object_x.is_some_and(|ox| {
                (ox..ox + i64::from(ow)).contains(&i64::from(x)) && (h / 3..h / 3 + oh).contains(&y)
            });
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            // Roughly uniform in -5..=5: σ ≈ 3.2.
            let noise = (state % 11) as i32 - 5;
            for c in 0..3 {
                let v = if inside {
                    40 + c as i32 * 10
                } else {
                    i32::from(rgba[p + c])
                };
                rgba[p + c] = (v + noise).clamp(0, 255) as u8;
            }
        }
    }
    rgba
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
    let camera = match args.scene.as_str() {
        "pattern" => None,
        // The still scene: the pattern's first frame.
        "camera" => {
            Some(pixelwire_media::jpeg::decode_rgba(&source.next_frame(Duration::ZERO)?)?.2)
        }
        other => anyhow::bail!("--scene must be pattern or camera, not {other:?}"),
    };
    let mut total_bytes = 0usize;
    for i in 0..args.frames {
        let elapsed = Duration::from_secs_f64(i as f64 / args.fps);
        let jpeg = match &camera {
            Some(base) => pixelwire_media::jpeg::encode_rgba(
                &camera_scene(base, w, h, i, args.frames),
                w,
                h,
                args.quality,
            )?,
            None => source.next_frame(elapsed)?,
        };
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
