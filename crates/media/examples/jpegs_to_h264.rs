//! What a program outside pixelwire does with `pixelwire-media`: no async runtime, no server.
//! Reads JPEG files (a camera's frames), converts each once to I420 (4:2:0 JPEGs straight from
//! their planes), encodes them with pixelwire's H.264 settings, writes an Annex-B stream that
//! ffplay/ffprobe/VLC read, and prints what each frame cost.
//!
//! Run: `cargo run --release -p pixelwire-media --example jpegs_to_h264 -- OUT.h264 a.jpg b.jpg ...`
//! then `ffprobe OUT.h264`.

use bytes::Bytes;
use pixelwire_media::MediaFrame;
use pixelwire_media::h264::H264Encoder;
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out_path = args
        .next()
        .ok_or("usage: jpegs_to_h264 OUT.h264 FRAME.jpg...")?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&out_path)?);
    let mut encoder = H264Encoder::new();
    let (mut frames, mut bytes, mut encode_us) = (0u64, 0usize, 0u128);
    for (seq, path) in args.enumerate() {
        let data = Bytes::from(std::fs::read(&path)?);
        let frame = match MediaFrame::from_jpeg(data, seq as u64, 0) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{path}: skipped: {e}");
                continue;
            }
        };
        let Some(yuv) = frame.i420() else {
            eprintln!("{path}: skipped: does not decode");
            continue;
        };
        let au = encoder.encode(&yuv)?;
        out.write_all(au.annexb)?;
        frames += 1;
        bytes += au.stats.bytes;
        encode_us += au.stats.encode_time.as_micros();
        println!(
            "{path}: {}x{} {} bytes{} in {:.2} ms",
            yuv.width,
            yuv.height,
            au.stats.bytes,
            if au.stats.keyframe { " (IDR)" } else { "" },
            au.stats.encode_time.as_secs_f64() * 1e3
        );
    }
    out.flush()?;
    if frames > 0 {
        println!(
            "{frames} frames, {bytes} bytes, mean encode {:.2} ms -> {out_path}",
            encode_us as f64 / frames as f64 / 1e3
        );
    }
    Ok(())
}
