//! Issue 15, part 1: the delivered-quality figure a sink reports with each update is the PSNR of
//! the panel (its shadow) against the source frame before RGB565: partial updates score lower,
//! a complete exact update scores RGB565's own loss, and nothing is reported before a frame.

use pixelwire_core::psnr::{PSNR_CAP_DB, psnr_db, sse_rect};
use pixelwire_core::{DisplaySink, Frame, NoClock, SinkConfig, WireFormat};
use pixelwire_proto::{CodecSet, PixelFormat, PixelOrder};

const FORMAT: WireFormat = WireFormat::Pixelwire {
    format: PixelFormat::Rgb565(PixelOrder::BigEndian),
    codecs: CodecSet::all(),
    max_packet_bytes: 8192,
};

/// Deterministic full-range noise, `w × h`.
fn noise(w: u32, h: u32, seq: u64) -> Frame {
    let mut s = 0x9E37_79B9u32 ^ seq as u32;
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for _ in 0..w * h {
        for _ in 0..3 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            rgba.push((s >> 24) as u8);
        }
        rgba.push(255);
    }
    Frame {
        width: w,
        height: h,
        rgba,
        seq,
        capture_time_us: seq,
    }
}

#[test]
fn the_figure_follows_what_the_panel_shows() {
    let (w, h) = (64, 48);
    let mut sink = DisplaySink::new(w, h, SinkConfig::default(), Box::new(NoClock));
    sink.invalidate();
    assert_eq!(sink.build_update(&FORMAT, usize::MAX).psnr_db, None);

    let frame = noise(w, h, 1);
    sink.set_frame(&frame);
    // A frame cap of a few rows: the panel is mostly black still, far from the noise.
    let partial = sink.build_update(&FORMAT, 2048);
    assert!(!partial.complete);
    let first = partial.psnr_db.expect("a figure once a frame is set");
    // It is exactly the PSNR of the shadow against the frame.
    let whole = sink.shadow().bounds();
    let want = psnr_db(
        sse_rect(&frame.rgba, None, sink.shadow(), whole),
        u64::from(w * h) * 3,
    );
    assert!((first - want).abs() < 1e-9, "{first} vs {want}");
    assert!(first < 15.0, "{first}");

    // The rest arrives: complete and exact, the figure is RGB565's own loss over noise.
    let mut last = first;
    for _ in 0..100 {
        let u = sink.build_update(&FORMAT, 2048);
        let db = u.psnr_db.unwrap();
        assert!(
            db >= last - 1e-9,
            "quality fell from {last} to {db} with nothing new"
        );
        last = db;
        if u.complete && u.damaged_pixels == 0 {
            break;
        }
    }
    assert_eq!(sink.shadow(), sink.target());
    assert!((last - 39.2).abs() < 0.3, "{last}");
    assert!(last < PSNR_CAP_DB);
}

#[test]
fn a_resized_source_is_compared_at_panel_size() {
    let (w, h) = (64, 48);
    let mut sink = DisplaySink::new(w, h, SinkConfig::default(), Box::new(NoClock));
    sink.invalidate();
    // A flat grey source at twice the size is still flat once resized: it scores what the
    // panel-sized flat frame scores.
    let flat = |w: u32, h: u32, seq: u64| Frame {
        width: w,
        height: h,
        rgba: [0x80, 0x80, 0x80, 0xFF].repeat((w * h) as usize),
        seq,
        capture_time_us: seq,
    };
    sink.set_frame(&flat(128, 96, 1));
    let resized = sink.build_update(&FORMAT, usize::MAX).psnr_db.unwrap();
    let mut same = DisplaySink::new(w, h, SinkConfig::default(), Box::new(NoClock));
    same.invalidate();
    same.set_frame(&flat(w, h, 1));
    let direct = same.build_update(&FORMAT, usize::MAX).psnr_db.unwrap();
    assert_eq!(resized, direct);
    // 0x80 shows as (132, 130, 132): MSE (16 + 4 + 16) / 3 = 12 → 37.33 dB.
    assert!((direct - 37.33).abs() < 0.01, "{direct}");
}
