//! Prints the dashboard figures for `BENCHMARKS.md`: render time per frame at 240×240, 320×240 and
//! 640×480 (a full redraw, and the steady one-poll-per-second update where every series gets a new
//! value), and the bytes each update costs on the wire to a display of the same size, measured
//! through the server's real per-display pipeline (`pixelwire_core::DisplaySink`: RGB565, change
//! detection against the display's shadow, rect merging, the codecs), at exact quality.
//!
//! Data: the "node" preset fed with synthetic answers (`benches/common/dashboard_data.rs`), two
//! minutes of history backfilled, then 300 polls. Times are medians over the polls of one run.
//!
//! Run: `cargo run --release -p pixelwire --example dashboard_report`

#[path = "../../server/benches/common/dashboard_data.rs"]
mod dashboard_data;

use std::time::Instant;

use dashboard_data::{Noise, answers, node_dashboard};
use pixelwire_core::{Frame, QualityLevel, RateConfig, SinkConfig, WireFormat};
use pixelwire_proto::{CodecSet, PixelFormat, PixelOrder};
use pixelwire_server::clock::RealStopwatch;
use pixelwire_server::source::render::dashboard::DashboardScreen;

const HISTORY: usize = 120;
const POLLS: i64 = 300;

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

struct Figures {
    full_ms: f64,
    tick_ms: f64,
    cells_per_tick: f64,
    first_bytes: usize,
    bytes: Vec<f64>,
    legacy_bytes: Vec<f64>,
    bbox_bytes: Vec<f64>,
}

/// What seed 000's controller would send for this change: one bounding box around every pixel
/// that differs in RGB565, 2 bytes per pixel plus a 12-byte header per 8192-byte packet.
fn seed_bbox_bytes(prev: &[u8], next: &[u8], width: u32) -> f64 {
    let q = |p: &[u8]| (p[0] >> 3, p[1] >> 2, p[2] >> 3);
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (i, (a, b)) in prev.chunks_exact(4).zip(next.chunks_exact(4)).enumerate() {
        if q(a) != q(b) {
            let (x, y) = (i as u32 % width, i as u32 / width);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    if x0 == u32::MAX {
        return 0.0;
    }
    let pixel_bytes = f64::from((x1 - x0 + 1) * (y1 - y0 + 1) * 2);
    pixel_bytes + 12.0 * (pixel_bytes / 8192.0).ceil()
}

fn measure(width: u32, height: u32) -> Figures {
    let (specs, mut model) = node_dashboard(HISTORY);
    let mut noise = Noise::new();
    let start = 1_000_000i64;
    for tick in start - HISTORY as i64..start {
        model.apply_instant(tick, answers(&specs, tick, &mut noise));
    }
    // Full redraws: a fresh screen each time (every cell drawn, glyphs cached after the first).
    let mut warm = DashboardScreen::new(width, height, specs.len(), None);
    warm.update(&specs, &model);
    let mut rgba = vec![0u8; (width * height * 4) as usize];
    let mut full: Vec<f64> = (0..31)
        .map(|_| {
            let mut s = DashboardScreen::new(width, height, specs.len(), None);
            let t = Instant::now();
            s.update(&specs, &model);
            s.copy_to(&mut rgba);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();

    let sink_cfg = SinkConfig {
        rate: RateConfig {
            max_level: QualityLevel::new(0),
            ..RateConfig::default()
        },
        ..SinkConfig::default()
    };
    let pixelwire = WireFormat::Pixelwire {
        format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs: CodecSet::all(),
        max_packet_bytes: 4096,
    };
    let legacy = WireFormat::Legacy { max_payload: 8192 };
    let mut sink =
        pixelwire_core::DisplaySink::new(width, height, sink_cfg, Box::new(RealStopwatch));
    let mut legacy_sink =
        pixelwire_core::DisplaySink::new(width, height, sink_cfg, Box::new(RealStopwatch));
    let mut screen = DashboardScreen::new(width, height, specs.len(), None);
    screen.update(&specs, &model);
    screen.copy_to(&mut rgba);
    let mut seq = 0;
    let mut frame = |rgba: &[u8]| {
        seq += 1;
        Frame {
            width,
            height,
            rgba: rgba.to_vec(),
            seq,
            capture_time_us: seq,
        }
    };
    let f = frame(&rgba);
    sink.set_frame(&f);
    legacy_sink.set_frame(&f);
    let first_bytes = sink.build_update(&pixelwire, usize::MAX).bytes.len();
    legacy_sink.build_update(&legacy, usize::MAX);

    let (mut tick_ms, mut bytes, mut legacy_bytes, mut cells) = (vec![], vec![], vec![], 0usize);
    let mut bbox_bytes = vec![];
    let mut prev = rgba.clone();
    for tick in start..start + POLLS {
        let a = answers(&specs, tick, &mut noise);
        let t = Instant::now();
        model.apply_instant(tick, a);
        let redrawn = screen.update(&specs, &model);
        if redrawn > 0 {
            screen.copy_to(&mut rgba);
        }
        tick_ms.push(t.elapsed().as_secs_f64() * 1e3);
        cells += redrawn;
        if redrawn > 0 {
            let f = frame(&rgba);
            sink.set_frame(&f);
            legacy_sink.set_frame(&f);
            bytes.push(sink.build_update(&pixelwire, usize::MAX).bytes.len() as f64);
            bbox_bytes.push(seed_bbox_bytes(&prev, &rgba, width));
            prev.copy_from_slice(&rgba);
            legacy_bytes.push(legacy_sink.build_update(&legacy, usize::MAX).bytes.len() as f64);
        }
    }
    Figures {
        full_ms: percentile(&mut full, 0.5),
        tick_ms: percentile(&mut tick_ms, 0.5),
        cells_per_tick: cells as f64 / POLLS as f64,
        first_bytes,
        bytes,
        legacy_bytes,
        bbox_bytes,
    }
}

fn main() {
    println!(
        "| size | full redraw ms (median) | poll update ms (median) | cells redrawn per poll | first frame bytes | bytes per update median / p95 / max (pixelwire) | legacy protocol median / p95 | seed 000 single bbox median / p95 | raw RGB565 frame |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (w, h) in [(240, 240), (320, 240), (640, 480)] {
        let mut f = measure(w, h);
        let (m, p95, max) = (
            percentile(&mut f.bytes, 0.5),
            percentile(&mut f.bytes, 0.95),
            percentile(&mut f.bytes, 1.0),
        );
        let (lm, lp) = (
            percentile(&mut f.legacy_bytes, 0.5),
            percentile(&mut f.legacy_bytes, 0.95),
        );
        let (bm, bp) = (
            percentile(&mut f.bbox_bytes, 0.5),
            percentile(&mut f.bbox_bytes, 0.95),
        );
        println!(
            "| {w}x{h} | {:.2} | {:.2} | {:.1} | {} | {m:.0} / {p95:.0} / {max:.0} | {lm:.0} / {lp:.0} | {bm:.0} / {bp:.0} | {} |",
            f.full_ms,
            f.tick_ms,
            f.cells_per_tick,
            f.first_bytes,
            w * h * 2
        );
    }
}
