//! Simulation: the server's codec choice against a device whose CPU, not its link, limits it. The
//! device is the protocol crate's device session behind a CPU that follows the ESP32-C3 cost model
//! (`pixelwire_core::DecodeCost::ESP32C3`, applied by `pixelwire_core::DeviceCpu` as in
//! `display-emu --cpu`): it runs each RECT's receive pass as its bytes arrive, and the present pass
//! at FRAME_END beside a 2.5 Mpx/s SPI transfer; only then does the device session see the bytes
//! (and ACK).
//!
//! The same source (every pixel changes every frame, in runs of two: RLE saves a quarter of the
//! bytes but costs a token per two pixels) runs twice per link: with a firmware string the server knows
//! (it weighs decode cost) and one it does not (smallest encoding wins). On a fast link the cost
//! model must deliver clearly more complete frames; on a slow link it must not do worse. Both must
//! end with the panel equal to the source.

mod common;

use common::{Pipe, Timed};
use pixelwire_core::{
    DecodeCost, DeviceCpu, DisplaySession, Frame, NoClock, SessionConfig, SessionEvent, Timestamp,
};
use pixelwire_proto::{
    CodecSet, DeviceSession, DoubleBuffer, Hello, PixelFormat, PixelOrder, ShortStr, Stats,
};
use std::collections::HashMap;
use std::sync::Arc;

const W: u32 = 320;
const H: u32 = 240;
const PANEL_PX_PER_S: f64 = 2_500_000.0;

/// Runs of two pixels in many colours, moving 2 px per frame.
fn busy_frame(n: u64, t_us: u64) -> Frame {
    let mut rgba = vec![0u8; (W * H * 4) as usize];
    for y in 0..u64::from(H) {
        for x in 0..u64::from(W) {
            let i = ((y * u64::from(W) + x) * 4) as usize;
            let k = (x + n * 2) / 2;
            let c = [
                (k * 37 % 256) as u8,
                ((k * 11 + y * 5) % 256) as u8,
                (y * 3 % 256) as u8,
            ];
            rgba[i..i + 4].copy_from_slice(&[c[0], c[1], c[2], 255]);
        }
    }
    Frame {
        width: W,
        height: H,
        rgba,
        seq: n,
        capture_time_us: t_us,
    }
}

/// The device's CPU; see the module docs. The cost of each byte comes from the model the
/// emulator uses ([`DeviceCpu`]): a RECT's receive pass as it completes, the frame's present pass
/// beside the SPI transfer of its pixels at FRAME_END.
struct Cpu {
    model: DeviceCpu,
    free_at_us: f64,
    done: Timed,
}

impl Cpu {
    fn new() -> Self {
        Self {
            model: DeviceCpu::new(DecodeCost::ESP32C3),
            free_at_us: 0.0,
            done: Timed::default(),
        }
    }

    fn push(&mut self, now_us: u64, bytes: Vec<u8>) {
        let mut t = self.free_at_us.max(now_us as f64);
        let cost = self.model.feed(&bytes);
        t += cost.receive.as_secs_f64() * 1e6;
        if let Some(present) = cost.present {
            let spi = cost.frame_pixels as f64 / PANEL_PX_PER_S;
            t += present.as_secs_f64().max(spi) * 1e6;
        }
        self.free_at_us = t;
        self.done.push(t.ceil() as u64, bytes);
    }
}

struct Outcome {
    complete_frames_presented: u32,
    /// Pixels of the updates presented while the source moved.
    pixels_presented: u64,
    panel_equals_source: bool,
}

fn run(link_bytes_per_s: f64, firmware: &str, seconds_moving: u64) -> Outcome {
    let start = 1_700_000_000_000_000u64;
    let mut server = DisplaySession::new(
        Timestamp::from_micros(start),
        SessionConfig::default(),
        Box::new(NoClock),
    );
    let hello = Hello {
        version: 1,
        width: W as u16,
        height: H as u16,
        pixel_format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs: CodecSet::all(),
        max_packet_bytes: 8192,
        frame_buffer_bytes: 0,
        window: 2,
        device_id: ShortStr::new("sim").unwrap(),
        firmware: ShortStr::new(firmware).unwrap(),
    };
    let mut device = DeviceSession::new(hello, start);
    let n = (W * H * 2) as usize;
    let mut panel = DoubleBuffer::new(W as u16, H as u16, vec![0u8; n], vec![0u8; n]);
    let mut cpu = Cpu::new();
    let mut down = Pipe::new(link_bytes_per_s, 2_000);
    let mut up = Pipe::new(link_bytes_per_s, 2_000);
    up.send(start, device.take_transmit());
    let mut stats_sent = false;

    let end = start + (seconds_moving + 3) * 1_000_000;
    let moving_until = start + seconds_moving * 1_000_000;
    let (mut now, mut next_frame, mut frame_no) = (start, start, 0u64);
    let mut sent: HashMap<u32, (bool, u64)> = HashMap::new();
    let (mut complete_frames_presented, mut pixels_presented) = (0, 0);
    while now < end {
        if now >= next_frame {
            // After `seconds_moving` the source stands still (and keeps sending that frame).
            server.handle_frame(
                Timestamp::from_micros(now),
                Arc::new(busy_frame(frame_no, now)),
            );
            frame_no += u64::from(now < moving_until);
            next_frame += 1_000_000 / 30;
        }
        if server.poll_timeout().is_some_and(|t| now >= t.as_micros()) {
            server.handle_timeout(Timestamp::from_micros(now));
        }
        let got = up.take_due(now);
        if !got.is_empty() {
            server.handle_input(Timestamp::from_micros(now), &got);
        }
        while let Some(bytes) = server.poll_transmit() {
            down.send(now, &bytes);
        }
        while let Some(ev) = server.poll_event() {
            match ev {
                SessionEvent::Sent(f) => {
                    sent.insert(f.seq, (f.complete, f.pixels));
                }
                SessionEvent::Presented(r) if now < moving_until => {
                    let (complete, pixels) = sent[&r.seq];
                    complete_frames_presented += u32::from(complete);
                    pixels_presented += pixels;
                }
                SessionEvent::Closed(reason) => panic!("server closed: {reason}"),
                _ => {}
            }
        }
        let got = down.take_due(now);
        if !got.is_empty() {
            cpu.push(now, got);
        }
        let got = cpu.done.take_due(now);
        if !got.is_empty() {
            device
                .handle_input(now, &got, &mut panel)
                .expect("device session");
        }
        if !stats_sent && device.welcome().is_some() {
            device.send_stats(&Stats {
                fps_centi: 0,
                decode_us: 0,
                panel_us: 0,
                rssi_dbm: -50,
                free_heap_bytes: 100_000,
                panel_pixels_per_s: PANEL_PX_PER_S as u32,
            });
            stats_sent = true;
        }
        if now >= device.poll_timeout() {
            device.handle_timeout(now).expect("device timeout");
        }
        if device.has_transmit() {
            up.send(now, device.take_transmit());
        }
        let candidates = [
            next_frame,
            server.poll_timeout().map_or(u64::MAX, |t| t.as_micros()),
            device.poll_timeout(),
            up.next().unwrap_or(u64::MAX),
            down.next().unwrap_or(u64::MAX),
            cpu.done.next().unwrap_or(u64::MAX),
        ];
        now = candidates.into_iter().min().unwrap_or(end).max(now + 1);
    }
    let target: Vec<u8> = server
        .sink()
        .unwrap()
        .target()
        .px
        .iter()
        .flat_map(|p| p.to_be_bytes())
        .collect();
    Outcome {
        complete_frames_presented,
        pixels_presented,
        panel_equals_source: panel.front == target,
    }
}

const KNOWN: &str = "pixelwire-esp32c3 sim";
const UNKNOWN: &str = "sim";

/// The same 6 s of motion with the firmware known and unknown; both panels must end exact.
fn with_and_without(link_bytes_per_s: f64) -> (Outcome, Outcome) {
    let with = run(link_bytes_per_s, KNOWN, 6);
    let without = run(link_bytes_per_s, UNKNOWN, 6);
    eprintln!(
        "{link_bytes_per_s} B/s, 6 s: with decode cost {} complete frames, {} px; \
         without {} complete, {} px",
        with.complete_frames_presented,
        with.pixels_presented,
        without.complete_frames_presented,
        without.pixels_presented
    );
    assert!(with.panel_equals_source && without.panel_equals_source);
    (with, without)
}

#[test]
fn fast_link_cpu_bound_device_gets_cheaper_codecs() {
    let (with, without) = with_and_without(2_500_000.0);
    assert!(
        with.complete_frames_presented >= 3 * without.complete_frames_presented.max(1),
        "complete frames: with {} without {}",
        with.complete_frames_presented,
        without.complete_frames_presented
    );
    // Pixel throughput gains less than frames do (about 1.26x here): the in-flight limit (two
    // round trips plus the device's presentation time, about 90 kB here) lets a 154 kB RAW frame
    // go only after the previous one's ACK, so link and SPI time add up instead of overlapping.
    assert!(
        with.pixels_presented as f64 >= 1.2 * without.pixels_presented as f64,
        "pixels: with {} without {}",
        with.pixels_presented,
        without.pixels_presented
    );
}

#[test]
fn slow_link_keeps_compression() {
    let (with, without) = with_and_without(300_000.0);
    assert!(
        with.pixels_presented as f64 >= 0.9 * without.pixels_presented as f64,
        "pixels: with {} without {}",
        with.pixels_presented,
        without.pixels_presented
    );
}
