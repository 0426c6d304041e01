//! Records what pixelwire-capture encodes from an X display, for `scripts/bench-screen.sh` (the
//! pixelwire half of the side-by-side benchmark against pixelflux).
//!
//! ```text
//! DISPLAY=:40 cargo run --release -p pixelwire-capture --example capture_record -- \
//!     --out rec.bin --width 1280 --height 720 --fps 60 --codec jpeg|h264|h264-full \
//!     --duration 20 [--jpeg-quality 85] [--started FILE]
//! ```
//!
//! Captures the region (0, 0, width, height) of `$DISPLAY` with the library's defaults apart from
//! the frame rate, the codec and the JPEG quality (85, pixelflux 2.2.1's default), and writes every
//! stripe in the record format of `crates/x11-scene/src/record.rs`: a `PWREC1` preamble, then a
//! 64-byte little-endian header and the payload per stripe. All four times are µs since the Unix
//! epoch on `pixelwire_media::clock` (monotonic, anchored to wall time) times 1000; the preamble
//! says `clock=pixelwire`. `--started` is created once capture runs, so the driver can sample CPU
//! over the same window.

use pixelwire_capture::{
    CaptureSettings, CaptureTarget, EncodedStripe, OutputMode, Region, ScreenCapture, StripeCodec,
};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAGIC: u32 = 0x5253_5750;

struct Args {
    out: String,
    width: u32,
    height: u32,
    fps: f64,
    codec: String,
    duration: f64,
    jpeg_quality: u8,
    motion_frames: Option<u32>,
    started: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        out: String::new(),
        width: 0,
        height: 0,
        fps: 60.0,
        codec: "jpeg".into(),
        duration: 20.0,
        jpeg_quality: 85,
        motion_frames: None,
        started: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--out" => a.out = v,
            "--width" => a.width = num(&v)? as u32,
            "--height" => a.height = num(&v)? as u32,
            "--fps" => a.fps = num(&v)?,
            "--codec" => a.codec = v,
            "--duration" => a.duration = num(&v)?,
            "--jpeg-quality" => a.jpeg_quality = num(&v)?.clamp(1.0, 100.0) as u8,
            // Damage throttling's `duration` (0: stripes in motion keep the base quality).
            "--motion-frames" => a.motion_frames = Some(num(&v)?.clamp(0.0, 1e6) as u32),
            "--started" => a.started = Some(v),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.out.is_empty() || a.width == 0 || a.height == 0 {
        return Err("usage: capture_record --out FILE --width W --height H [--fps F] \
                    [--codec jpeg|h264|h264-full] [--duration S] [--jpeg-quality Q] [--started FILE]"
            .into());
    }
    if !["jpeg", "h264", "h264-full"].contains(&a.codec.as_str()) {
        return Err(format!("unknown codec {}", a.codec));
    }
    Ok(a)
}

/// One record entry (see `crates/x11-scene/src/record.rs`).
fn entry(s: &EncodedStripe, arrival_us: u64) -> [u8; 64] {
    let mut h = [0u8; 64];
    h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    h[4] = match s.codec {
        StripeCodec::Jpeg => 0,
        StripeCodec::H264 => 1,
    };
    h[5] = u8::from(s.keyframe);
    h[8..16].copy_from_slice(&s.frame_id.to_le_bytes());
    h[16..20].copy_from_slice(&s.y.to_le_bytes());
    h[20..24].copy_from_slice(&s.width.to_le_bytes());
    h[24..28].copy_from_slice(&s.height.to_le_bytes());
    h[28..32].copy_from_slice(&(s.data.len() as u32).to_le_bytes());
    for (i, us) in [s.capture_us, s.encode_start_us, s.encode_end_us, arrival_us]
        .into_iter()
        .enumerate()
    {
        h[32 + i * 8..40 + i * 8].copy_from_slice(&(us * 1000).to_le_bytes());
    }
    h
}

fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = CaptureSettings {
        target: CaptureTarget::Region(Region {
            x: 0,
            y: 0,
            width: a.width,
            height: a.height,
        }),
        target_fps: a.fps,
        output: if a.codec == "jpeg" {
            OutputMode::Jpeg
        } else {
            OutputMode::H264
        },
        ..CaptureSettings::default()
    };
    settings.jpeg.quality = a.jpeg_quality;
    if let Some(d) = a.motion_frames {
        settings.damage_block.duration = d;
    }
    settings.h264.full_frame = a.codec == "h264-full";

    let mut out = BufWriter::with_capacity(1 << 20, File::create(&a.out)?);
    writeln!(out, "PWREC1")?;
    writeln!(
        out,
        "system=pixelwire clock=pixelwire width={} height={} fps={} codec={} jpeg_quality={} \
         duration_s={}",
        a.width, a.height, a.fps, a.codec, a.jpeg_quality, a.duration
    )?;
    let out = Arc::new(Mutex::new(out));
    let recording = Arc::new(AtomicBool::new(true));
    let stripes = Arc::new(AtomicU64::new(0));
    let write_error = Arc::new(Mutex::new(None::<std::io::Error>));

    let cap = {
        let (out, recording, stripes, write_error) = (
            out.clone(),
            recording.clone(),
            stripes.clone(),
            write_error.clone(),
        );
        ScreenCapture::start(settings, move |s: EncodedStripe| {
            let arrival_us = pixelwire_media::clock::now().as_micros();
            if !recording.load(Ordering::Relaxed) {
                return;
            }
            // A poisoned lock only means an earlier callback panicked; the file is still usable.
            let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
            let written = out
                .write_all(&entry(&s, arrival_us))
                .and_then(|()| out.write_all(&s.data));
            match written {
                Ok(()) => {
                    stripes.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    recording.store(false, Ordering::Relaxed);
                    *write_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                }
            }
        })?
    };
    let t0 = Instant::now();
    if let Some(path) = &a.started {
        std::fs::write(path, std::process::id().to_string())?;
    }
    std::thread::sleep(Duration::from_secs_f64(a.duration.max(0.0)).saturating_sub(t0.elapsed()));
    recording.store(false, Ordering::Relaxed);
    let stats = cap.stats();
    cap.stop()?;
    if let Some(e) = write_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e.into());
    }
    out.lock().unwrap_or_else(|p| p.into_inner()).flush()?;
    eprintln!(
        "capture_record: {} stripes in {:.1} s -> {} ({stats:?})",
        stripes.load(Ordering::Relaxed),
        a.duration,
        a.out
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capture_record: {e}");
            ExitCode::FAILURE
        }
    }
}
