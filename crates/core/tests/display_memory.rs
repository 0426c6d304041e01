//! What a display sink really allocates, against `DisplaySink::memory_bytes`, the estimate a
//! display is admitted under (issue 13, defect 1: every 4096x4096 HELLO cost ~220 MiB with no cap).
//! A counting allocator records the peak of live heap bytes while a sink takes frames and builds
//! updates; the estimate must cover it, and memory must follow what the display uses.
// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use pixelwire_core::{
    DisplaySink, Fit, Frame, NoClock, QualityLevel, RateConfig, SinkConfig, WireFormat,
};
use pixelwire_proto::{CodecSet, PixelFormat, PixelOrder};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// One measurement at a time (tests run on several threads; the counters are global).
static SERIAL: Mutex<()> = Mutex::new(());

fn note(delta_up: usize) {
    let now = LIVE.fetch_add(delta_up, Ordering::Relaxed) + delta_up;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed to `System` unchanged; counting touches only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            note(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn frame(w: u32, h: u32, n: u64) -> Frame {
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    for (i, px) in rgba.chunks_exact_mut(4).enumerate() {
        let (x, y) = (i as u64 % u64::from(w), i as u64 / u64::from(w));
        px.copy_from_slice(&[(x + n) as u8, (y * 3) as u8, ((x ^ y) + n) as u8, 255]);
    }
    Frame {
        width: w,
        height: h,
        rgba,
        seq: n,
        capture_time_us: n,
    }
}

/// Peak heap bytes held beyond what was live before, while a `w × h` sink takes `frames` and
/// builds an update for each (the frames themselves are the source's, made beforehand).
fn sink_peak(w: u32, h: u32, cfg: SinkConfig, frames: &[Frame]) -> usize {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let format = WireFormat::Pixelwire {
        format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs: CodecSet::all(),
        max_packet_bytes: 8192,
    };
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    {
        let mut sink = DisplaySink::new(w, h, cfg, Box::new(NoClock));
        sink.invalidate();
        for f in frames {
            sink.set_frame(f);
            // the encoded update is the session's (it moves to the socket); dropped here
            drop(sink.build_update(&format, usize::MAX));
        }
    }
    PEAK.load(Ordering::Relaxed) - base
}

#[test]
fn a_sink_allocates_within_its_estimate_and_only_what_it_uses() {
    let (w, h) = (800u32, 600u32);
    let frames: Vec<Frame> = (1..=3).map(|n| frame(640, 400, n)).collect();
    let same_size: Vec<Frame> = (1..=3).map(|n| frame(w, h, n)).collect();
    let exact = SinkConfig {
        rate: RateConfig {
            max_level: QualityLevel::EXACT,
            ..RateConfig::default()
        },
        ..SinkConfig::default()
    };
    let stretch = SinkConfig {
        fit: Fit::Stretch,
        ..exact
    };
    // An update of the whole panel in RAW is the most one frame's bytes can be.
    let update = (w * h * 2) as usize + 64 * 1024;
    for (name, cfg, input) in [
        ("default, resized", SinkConfig::default(), &frames),
        ("exact, resized", exact, &frames),
        ("exact, stretch", stretch, &frames),
        ("exact, same size", exact, &same_size),
    ] {
        let peak = sink_peak(w, h, cfg, input);
        let estimate = DisplaySink::memory_bytes(w, h, &cfg) as usize;
        eprintln!("{name}: peak {peak} bytes, estimate {estimate}");
        assert!(
            peak <= estimate + update,
            "{name}: {peak} bytes allocated, estimate {estimate}"
        );
    }
    // Memory follows use: while the rate controller stays at exact quality (no link figures yet,
    // so it does here) a sink that may go coarser allocates no more than one that may not (the
    // paint-over copy and the quantised copy come with the first coarse frame), and a source of
    // the panel's size needs no resize intermediate (it keeps only its RGBA copy, the reference of
    // the delivered-quality figure, `pixelwire_core::psnr`).
    let default_peak = sink_peak(w, h, SinkConfig::default(), &frames);
    let exact_peak = sink_peak(w, h, exact, &frames);
    let same_peak = sink_peak(w, h, exact, &same_size);
    let px = (w * h) as usize;
    assert!(
        default_peak <= exact_peak + px / 100,
        "exact {exact_peak}, default {default_peak}"
    );
    assert!(
        same_peak + px <= exact_peak,
        "same size {same_peak}, resized {exact_peak}"
    );
    // The estimate of the largest panel the protocol allows, at the defaults.
    let max = DisplaySink::memory_bytes(4096, 4096, &SinkConfig::default());
    assert!((250 << 20..270 << 20).contains(&max), "{max}");
}
