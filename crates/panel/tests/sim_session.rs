//! A whole display session in virtual time: the real server session (`pixelwire_core::
//! DisplaySession`) ⇄ a simulated slow link ⇄ the firmware's runner (`pixelwire_panel::Runner`) ⇄
//! the panel driver ⇄ a virtual panel that decodes the SPI command stream. The device reads the
//! socket in pieces of random size (1..=1500 bytes), the SPI bus takes real time (40 MHz), and the
//! source moves, then stands still.
//!
//! Checked: the visible image ends equal to the server's RGB565 target, pixel for pixel; at every
//! ACK the device sends, the panel shows exactly the frame the server committed for that sequence
//! number (no tearing: nothing of a later frame, nothing half drawn); STATS arrive every second
//! with fps and the panel's measured rate; the virtual panel saw no protocol fault.
//!
//! The executor is a loop that polls the runner's future and, while it is pending, advances the
//! world to the next event (a link delivery, a timer, an SPI transfer ending, a source frame).

mod common;
#[path = "common/sim.rs"]
mod sim;

use pixelwire_core::Frame;
use pixelwire_panel::{Controller, PanelConfig, Rotation};
use sim::{Outcome, SPI_HZ, Scenario, run};

/// A `w × h` test source (as in `crates/core/tests/sim_slow_link.rs`): a gradient, a 48x48 box
/// moving 4 px per frame, a changing counter strip; `full_motion` changes every pixel every frame.
fn source_frame(w: u32, h: u32, n: u64, moving: bool, full_motion: bool, t_us: u64) -> Frame {
    let (fw, fh) = (u64::from(w), u64::from(h));
    let k = if moving { n } else { 0 };
    let (bx, by) = ((k * 4) % (fw - 48), (k * 3) % (fh - 48));
    let mut rgba = vec![0u8; (fw * fh * 4) as usize];
    for y in 0..fh {
        for x in 0..fw {
            let i = ((y * fw + x) * 4) as usize;
            let inside = x >= bx && x < bx + 48 && y >= by && y < by + 48;
            let c = if inside {
                [250, 40, 40]
            } else if y < 8 && x < 64 {
                [(k * 37 % 256) as u8, (x * 4) as u8, 0]
            } else if full_motion {
                let u = x + k * 3;
                [
                    ((u * 255 / fw) % 256) as u8,
                    ((y * 255 / fh + (u * 7 % 23)) % 256) as u8,
                    ((x ^ y) * 2 % 256) as u8,
                ]
            } else {
                [(x * 255 / fw) as u8, (y * 255 / fh) as u8, 128]
            };
            rgba[i..i + 4].copy_from_slice(&[c[0], c[1], c[2], 255]);
        }
    }
    Frame {
        width: w,
        height: h,
        rgba,
        seq: n,
        capture_time_us: t_us,
    }
}

/// [`source_frame`] with the box and the counter strip on a still gradient.
fn boxes(w: u32, h: u32, n: u64, moving: bool, t_us: u64) -> Frame {
    source_frame(w, h, n, moving, false, t_us)
}

/// [`source_frame`] with every pixel changing every frame.
fn full_motion(w: u32, h: u32, n: u64, moving: bool, t_us: u64) -> Frame {
    source_frame(w, h, n, moving, true, t_us)
}

fn check(sc: &Scenario, o: &Outcome) {
    let seconds = sc.seconds_moving + sc.seconds_still;
    assert_eq!(o.end, None, "the runner ended early");
    assert_eq!(o.world.server_closed, None, "the server closed the session");
    assert!(o.faults.is_empty(), "panel faults: {:?}", o.faults);
    assert!(o.hooks.welcomed);
    assert_eq!(
        o.hooks.overflows, 0,
        "the server kept to frame_buffer_bytes"
    );
    assert!(
        o.world.tears.is_empty(),
        "{:?}",
        &o.world.tears[..o.world.tears.len().min(5)]
    );
    assert!(
        o.world.acks_checked >= o.hooks.presented.saturating_sub(2) && o.world.acks_checked > 20,
        "checked {} acks of {} frames",
        o.world.acks_checked,
        o.hooks.presented
    );
    // The picture converged to the source.
    let target = o.world.server.sink().unwrap().target().px.clone();
    let shown = o.world.panel.render_visible();
    assert_eq!(shown.len(), (o.world.width * o.world.height) as usize);
    let diff = shown.iter().zip(&target).filter(|(a, b)| a != b).count();
    if diff > 0 {
        let shadow = o.world.server.shadow().unwrap().px.clone();
        eprintln!(
            "shadow vs target: {} differ; shown vs shadow: {}; presented {}; in flight {}",
            shadow.iter().zip(&target).filter(|(a, b)| a != b).count(),
            shadow.iter().zip(&shown).filter(|(a, b)| a != b).count(),
            o.hooks.presented,
            o.world.server.frames_in_flight()
        );
    }
    assert_eq!(diff, 0, "{diff} pixels differ from the server's target");
    // STATS once a second, with the device's own figures.
    let stats = &o.world.stats;
    assert!(stats.len() as u64 >= seconds - 1, "{} STATS", stats.len());
    let spi_px_per_s = SPI_HZ / 16;
    for (_, s) in stats.iter().skip(1) {
        assert_eq!((s.rssi_dbm, s.free_heap_bytes), (-55, 40_000));
        assert!(
            u64::from(s.panel_pixels_per_s) > spi_px_per_s / 2
                && u64::from(s.panel_pixels_per_s) <= spi_px_per_s,
            "panel rate {} px/s",
            s.panel_pixels_per_s
        );
    }
    assert!(
        stats
            .iter()
            .any(|(_, s)| s.fps_centi > 100 && s.decode_us > 0 && s.panel_us > 0)
    );
    eprintln!(
        "presented {} frames, {} acks checked, {} STATS, last {:?}",
        o.hooks.presented,
        o.world.acks_checked,
        stats.len(),
        stats.last().map(|(_, s)| s)
    );
}

#[test]
fn ili9341_landscape_over_a_slow_link() {
    let sc = Scenario {
        panel: PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90),
        link_bytes_per_s: 300_000.0,
        rtt_ms: 10,
        staging_bytes: 64 * 1024,
        max_packet_bytes: 8192,
        strip_bytes: 320 * 8 * 2,
        seconds_moving: 4,
        seconds_still: 3,
        source: boxes,
    };
    let o = run(&sc);
    check(&sc, &o);
    assert!(o.hooks.presented > 60, "presented {}", o.hooks.presented);
}

#[test]
fn st7789_240x240_rotated_full_motion() {
    // Every pixel changes every frame on a 240x240 glass rotated 180° (row offset 80).
    let sc = Scenario {
        panel: PanelConfig::new(Controller::St7789)
            .with_glass((240, 240), (0, 0))
            .with_rotation(Rotation::Deg180),
        link_bytes_per_s: 1_000_000.0,
        rtt_ms: 4,
        staging_bytes: 64 * 1024,
        max_packet_bytes: 4096,
        strip_bytes: 240 * 4 * 2 + 6,
        seconds_moving: 3,
        seconds_still: 3,
        source: full_motion,
    };
    let o = run(&sc);
    check(&sc, &o);
}

// Why the next two scenarios are ignored (server livelock, found by them): when one merged rectangle
// needs more than the frame's byte budget (`frame_buffer_bytes`), `DisplaySink::build_update` sends
// its first bands and commits them with no complete tile, so `DamageTracker` keeps those tiles
// "unknown" and sends the same bands again in every later frame: the panel never converges (the
// same frame size repeats forever; `SIM_TRACE=1` shows it). Marking the tiles that a committed
// part covers entirely as known fixes it, and these tests then pass. That change belongs to
// `crates/core/src/damage.rs` (`DamageTracker::commit`); remove the `ignore`s with it.

#[test]
fn st7789_240x240_full_motion_small_frame_buffer() {
    // The device stages only 12 KiB: the server must split every repaint into many small frames,
    // each of which the panel shows whole.
    let sc = Scenario {
        panel: PanelConfig::new(Controller::St7789)
            .with_glass((240, 240), (0, 0))
            .with_rotation(Rotation::Deg180),
        link_bytes_per_s: 1_000_000.0,
        rtt_ms: 4,
        staging_bytes: 12 * 1024,
        max_packet_bytes: 4096,
        strip_bytes: 240 * 4 * 2 + 6,
        seconds_moving: 3,
        seconds_still: 3,
        source: full_motion,
    };
    let o = run(&sc);
    check(&sc, &o);
}

#[test]
fn ili9341_full_motion_with_the_firmware_buffers() {
    // The firmware's sizes (64 KiB staging, 8 KiB packets, 8-line strips) and a link of 1 MB/s
    // with every pixel changing: frames are budget-limited, still each shows whole.
    let sc = Scenario {
        panel: PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90),
        link_bytes_per_s: 1_000_000.0,
        rtt_ms: 6,
        staging_bytes: 64 * 1024,
        max_packet_bytes: 8192,
        strip_bytes: 320 * 8 * 2,
        seconds_moving: 3,
        seconds_still: 3,
        source: full_motion,
    };
    let o = run(&sc);
    check(&sc, &o);
}
