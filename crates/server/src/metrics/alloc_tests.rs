//! Recording into a resolved handle allocates nothing: the test binary's allocator counts the
//! allocations each thread makes, and every per-frame recording method is called many times once
//! its series exist. (A sent display frame used to allocate nine label strings.)

use super::{DropReason, Metrics, PollOutcome, ReportRejection, Transport, ViewerCodec};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed to `System` unchanged; counting touches only a const-initialised
// thread-local without a destructor, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations this thread makes while `f` runs.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn recording_a_frame_allocates_nothing() {
    let m = Metrics::new();
    let display = m.display("desk-1");
    let camera = m.camera("cam", Transport::WebSocket);
    let stream = m.stream("bios");
    let encoder = m.encoder("cam");
    let dashboard = m.dashboard("dash");
    let reports = m.viewer_reports("cam", ViewerCodec::H264);
    let latencies = [Duration::from_millis(30); 30];
    let sent = pixelwire_core::FrameSent {
        seq: 1,
        bytes: 4000,
        rects: 3,
        pixels: 100,
        level: 1,
        complete: true,
        source_seq: 1,
        psnr_db: Some(31.5),
        stages: Default::default(),
    };
    let stats = pixelwire_proto::Stats {
        fps_centi: 2950,
        decode_us: 3200,
        panel_us: 0,
        rssi_dbm: -60,
        free_heap_bytes: 40_000,
        panel_pixels_per_s: 0,
    };
    let d = Duration::from_millis(3);
    let record = || {
        display.frame_sent(&sent, 1);
        display.frame_presented(d);
        display.link(1, Some(300_000.0), Some(d));
        display.device().stats(&stats);
        camera.frame(1000);
        stream.rendered(d);
        encoder.encoded(d);
        dashboard.polled(PollOutcome::Answered, d);
        reports.report(&latencies, 30, 1);
        // Labels that are all enums allocate nothing even without a handle.
        m.camera_dropped(Transport::Tcp, DropReason::Truncated);
        reports.rejected(ReportRejection::Malformed);
    };
    // The first recording creates the series.
    record();
    assert_eq!(allocations(|| (0..100).for_each(|_| record())), 0);
    // A viewer's gauge is resolved when it connects; leaving allocates nothing.
    let viewer = m.viewer("cam", ViewerCodec::Jpeg);
    assert_eq!(allocations(|| drop(viewer)), 0);
}
