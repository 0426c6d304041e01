//! The DCT codec (0x03) end to end in virtual time, on the machinery of `sim_session.rs`
//! (`common/sim.rs`): the real server session ⇄ a slow link (300 kB/s, 10 ms RTT) ⇄ the
//! firmware's runner (which advertises every codec, receives with `DeviceSession::checking_only`
//! and decodes the staged RECTs into strips) ⇄ a virtual ILI9341. The source is full motion made
//! of smooth gradients, so the rate controller goes below exact quality and the server offers DCT.
//!
//! Checked: the server really sent DCT RECTs (parsed off the wire and in its update stats); at
//! every ACK the panel shows exactly the shadow the server committed for that frame, which for a
//! DCT RECT is the server's own decode of its payload: so the server's decoder, the firmware's
//! checking-only receive pass and its strip decoder agree bit for bit; once the source stops,
//! paint-over makes the panel exactly equal to the target (lossless codecs only at the end).

mod common;
#[path = "common/sim.rs"]
mod sim;

use pixelwire_core::Frame;
use pixelwire_panel::{Controller, PanelConfig, Rotation};
use pixelwire_proto::Codec;
use sim::{Scenario, run};

/// Smooth gradients scrolling every frame (what a video or a game looks like to the rate
/// controller: every pixel changes, nothing a palette or a run catches), plus a soft disc
/// moving across them.
fn gradients(w: u32, h: u32, n: u64, moving: bool, t_us: u64) -> Frame {
    let (fw, fh) = (i64::from(w), i64::from(h));
    let k = if moving { n as i64 } else { 0 };
    let (cx, cy) = ((k * 5) % fw, fh / 2 + (k * 3) % (fh / 3));
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..fh {
        for x in 0..fw {
            let u = x + k * 3;
            let d2 = (x - cx).pow(2) + (y - cy).pow(2);
            let disc = (255 - d2 / 8).clamp(0, 255);
            let r = (u * 255 / fw).rem_euclid(256);
            let g = ((y + k * 2) * 255 / fh).rem_euclid(256);
            let b = ((x + y + k) * 128 / (fw + fh) + disc / 2).clamp(0, 255);
            rgba.extend_from_slice(&[r as u8, g as u8, b as u8, 255]);
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

#[test]
fn dct_under_full_motion_matches_the_shadow_at_every_ack_then_paints_over() {
    let sc = Scenario {
        panel: PanelConfig::new(Controller::Ili9341).with_rotation(Rotation::Deg90),
        link_bytes_per_s: 300_000.0,
        rtt_ms: 10,
        staging_bytes: 64 * 1024,
        max_packet_bytes: 8192,
        strip_bytes: 320 * 8 * 2,
        seconds_moving: 4,
        seconds_still: 4,
        source: gradients,
    };
    let o = run(&sc);
    let world = &o.world;
    eprintln!(
        "presented {} frames, {} acks checked, RECTs by codec {:?}",
        o.hooks.presented, world.acks_checked, world.rect_codecs
    );
    assert_eq!(o.end, None, "the runner ended early");
    assert_eq!(world.server_closed, None, "the server closed the session");
    assert!(o.faults.is_empty(), "panel faults: {:?}", o.faults);
    assert!(world.wire_errors.is_empty(), "{:?}", world.wire_errors);
    assert!(o.hooks.welcomed);
    assert_eq!(
        o.hooks.overflows, 0,
        "the server kept to frame_buffer_bytes"
    );

    // DCT was used, and used a lot: full motion on 300 kB/s is far below exact.
    // DCT at full or half resolution, whichever the server found cheaper per band
    let dct = world.rect_codecs[Codec::Dct as usize] + world.rect_codecs[Codec::DctHalf as usize];
    assert!(dct > 100, "only {dct} DCT RECTs: {:?}", world.rect_codecs);

    // At every ACK: the panel equals the server's shadow, every pixel.
    assert!(
        world.tears.is_empty(),
        "{} ACKs differ, first: {:?}",
        world.tears.len(),
        &world.tears[..world.tears.len().min(5)]
    );
    assert!(
        world.acks_checked >= o.hooks.presented.saturating_sub(2) && world.acks_checked > 20,
        "checked {} acks of {} frames",
        world.acks_checked,
        o.hooks.presented
    );

    // Paint-over: once still, the panel is the target exactly, not a lossy approximation.
    let target = &world.server.sink().expect("streaming").target().px;
    let shown = world.panel.render_visible();
    assert_eq!(shown.len(), target.len());
    let diff = shown.iter().zip(target).filter(|(a, b)| a != b).count();
    assert_eq!(diff, 0, "{diff} pixels differ from the server's target");
}
