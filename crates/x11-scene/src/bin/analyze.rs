//! `pixelwire-scene-analyze`: the figures of one stripe record (see `pixelwire_x11_scene::record`).
//!
//! ```text
//! pixelwire-scene-analyze --record FILE [--mode dashboard|heavy|idle|pulse]
//!                         [--h264-luma bt601-full|bt709-limited] [--psnr-frames 200]
//! ```
//!
//! Stripes are decoded in arrival order (JPEG with libjpeg-turbo; H.264 with OpenH264, one decoder
//! per stripe row, which is one decoder for full-frame streams) and painted into a luma canvas.
//! At up to `--psnr-frames` frames spread evenly over the record, the marker is read from the
//! canvas, the reference picture re-rendered, and the luma PSNR taken (JPEG: BT.601 full range;
//! H.264: `--h264-luma`, the encoder's matrix). One line of `key=value` pairs goes to stdout:
//! frames/s (distinct frame ids per second of the record's `duration_s`), stripes/s, payload
//! bytes/s, keyframes, capture-to-callback latency p50/p95 (ms), encode time p50 (ms), PSNR mean
//! and 5th percentile (dB), frames whose marker could not be read, decode errors.

use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use pixelwire_x11_scene::compose::{Canvas, LumaMatrix, quantile};
use pixelwire_x11_scene::record::{self, Codec, Entry};
use pixelwire_x11_scene::{Mode, marker, render};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::ExitCode;

struct Args {
    record: String,
    mode: Mode,
    h264_luma: LumaMatrix,
    psnr_frames: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        record: String::new(),
        mode: Mode::Dashboard,
        h264_luma: LumaMatrix::Bt601Full,
        psnr_frames: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--record" => a.record = v,
            "--mode" => a.mode = Mode::parse(&v).ok_or(format!("unknown mode {v}"))?,
            "--h264-luma" => {
                a.h264_luma = LumaMatrix::parse(&v).ok_or(format!("unknown matrix {v}"))?
            }
            "--psnr-frames" => {
                a.psnr_frames = v.parse().map_err(|e| format!("--psnr-frames: {e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.record.is_empty() {
        return Err("usage: pixelwire-scene-analyze --record FILE [--mode M] \
                    [--h264-luma bt601-full|bt709-limited] [--psnr-frames N]"
            .into());
    }
    Ok(a)
}

/// Decodes stripes into the canvas; JPEG stripes wait until the canvas is looked at, since each
/// one replaces the last at its row and only the newest matters.
struct Painter {
    canvas: Canvas,
    h264: HashMap<u32, Decoder>,
    pending_jpeg: BTreeMap<u32, usize>,
    decode_errors: u64,
}

impl Painter {
    fn add(&mut self, i: usize, e: &Entry) {
        match e.codec {
            Codec::Jpeg => {
                self.pending_jpeg.insert(e.y, i);
            }
            Codec::H264 => {
                let dec = match self.h264.entry(e.y) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => match Decoder::new() {
                        Ok(d) => v.insert(d),
                        Err(_) => {
                            self.decode_errors += 1;
                            return;
                        }
                    },
                };
                match dec.decode(&e.data) {
                    Ok(Some(yuv)) => {
                        let (w, h) = yuv.dimensions();
                        let stride = yuv.strides().0;
                        let rows = h.min(e.height as usize);
                        self.canvas.paint(e.y as usize, yuv.y(), stride, w, rows);
                    }
                    Ok(None) => {}
                    Err(_) => self.decode_errors += 1,
                }
            }
        }
    }

    fn flush(&mut self, entries: &[Entry]) {
        let mut order: Vec<usize> = self.pending_jpeg.values().copied().collect();
        order.sort_unstable();
        self.pending_jpeg.clear();
        for i in order {
            let e = &entries[i];
            match pixelwire_media::jpeg::decode_rgba(&e.data) {
                Ok((w, h, rgba)) => {
                    let luma = LumaMatrix::Bt601Full.plane_of_rgba(&rgba);
                    let rows = (h as usize).min(e.height as usize);
                    self.canvas
                        .paint(e.y as usize, &luma, w as usize, w as usize, rows);
                }
                Err(_) => self.decode_errors += 1,
            }
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::fs::File::open(&args.record)?;
    let rec = record::read(&mut std::io::BufReader::with_capacity(1 << 20, file))?;
    let (w, h) = (
        rec.meta_f64("width").ok_or("record has no width")? as usize,
        rec.meta_f64("height").ok_or("record has no height")? as usize,
    );
    let entries = &rec.entries;
    let duration_s = rec.meta_f64("duration_s").unwrap_or_else(|| {
        let (a, b) = (entries.first(), entries.last());
        a.zip(b)
            .map_or(0.0, |(a, b)| (b.arrival_ns - a.arrival_ns) as f64 / 1e9)
    });
    let ids: BTreeSet<u64> = entries.iter().map(|e| e.frame_id).collect();
    let bytes: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
    let ms = |ns: u64| ns as f64 / 1e6;
    let mut latency: Vec<f64> = entries
        .iter()
        .map(|e| ms(e.arrival_ns.saturating_sub(e.capture_ns)))
        .collect();
    let mut encode: Vec<f64> = entries
        .iter()
        .map(|e| ms(e.encode_end_ns.saturating_sub(e.encode_start_ns)))
        .collect();
    latency.sort_by(f64::total_cmp);
    encode.sort_by(f64::total_cmp);

    // Frames to score: every k-th distinct id, by the last stripe of each.
    let every = ids.len().div_ceil(args.psnr_frames.max(1)).max(1);
    let mut last_of_frame: Vec<usize> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if entries.get(i + 1).is_none_or(|n| n.frame_id != e.frame_id) {
            last_of_frame.push(i);
        }
    }
    let score_at: BTreeSet<usize> = last_of_frame.iter().copied().step_by(every).collect();
    let codec = entries.first().map(|e| e.codec);
    let luma_matrix = match codec {
        Some(Codec::H264) => args.h264_luma,
        _ => LumaMatrix::Bt601Full,
    };
    let mut painter = Painter {
        canvas: Canvas::new(w, h),
        h264: HashMap::new(),
        pending_jpeg: BTreeMap::new(),
        decode_errors: 0,
    };
    let (mut psnr, mut misses) = (Vec::new(), 0u64);
    let mut reference_cache: Option<(u64, Vec<u8>)> = None;
    for (i, e) in entries.iter().enumerate() {
        painter.add(i, e);
        if !score_at.contains(&i) {
            continue;
        }
        painter.flush(entries);
        let c = &painter.canvas;
        let Some(index) = marker::read_luma(&c.luma, w, w, h) else {
            misses += 1;
            continue;
        };
        if reference_cache.as_ref().is_none_or(|(k, _)| *k != index) {
            let bgra = render(index, w as u32, h as u32, args.mode);
            reference_cache = Some((index, luma_matrix.plane_of_bgra(&bgra)));
        }
        if let Some((_, reference)) = &reference_cache
            && let Some(p) = c.psnr(reference)
        {
            psnr.push(p);
        }
    }
    psnr.sort_by(f64::total_cmp);
    let per_s = |v: f64| {
        if duration_s > 0.0 {
            v / duration_s
        } else {
            0.0
        }
    };
    let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let mean = (!psnr.is_empty()).then(|| psnr.iter().sum::<f64>() / psnr.len() as f64);
    let system = rec.meta.get("system").map_or("?", String::as_str);
    let codec_name = match codec {
        Some(Codec::Jpeg) => "jpeg",
        Some(Codec::H264) => "h264",
        None => "-",
    };
    println!(
        "system={system} codec={codec_name} duration_s={duration_s:.2} stripes={} frames={} \
         fps={:.2} stripes_per_s={:.2} bytes_per_s={:.0} keyframes={} lat_p50_ms={} lat_p95_ms={} \
         enc_p50_ms={} psnr_mean={} psnr_p5={} psnr_frames={} marker_misses={misses} \
         decode_errors={}",
        entries.len(),
        ids.len(),
        per_s(ids.len() as f64),
        per_s(entries.len() as f64),
        per_s(bytes as f64),
        entries.iter().filter(|e| e.keyframe).count(),
        fmt(quantile(&latency, 0.5)),
        fmt(quantile(&latency, 0.95)),
        fmt(quantile(&encode, 0.5)),
        fmt(mean),
        fmt(quantile(&psnr, 0.05)),
        psnr.len(),
        painter.decode_errors,
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
            eprintln!("pixelwire-scene-analyze: {e}");
            ExitCode::FAILURE
        }
    }
}
