//! The display benchmark of issue 15 in virtual time: the server's display session sends full
//! motion to an ESP32-C3 over a 300 kB/s link with a 10 ms round trip, and the device spends the
//! time the firmware's cost model says (`pixelwire_core::DeviceCpu`, the model `display-emu --cpu
//! esp32c3` uses). No socket, no sleep, no wall clock in the loop: the figures (fps, mean PSNR of
//! what the panel shows, capture-to-panel latency) are the same on every run and every machine, so
//! a change to pacing or codec choice can be judged on a busy machine. Only the server CPU column
//! is measured: this thread's CPU time in the server session's calls per second of virtual time.
//!
//! The source is the built-in `pattern` screen itself (the server's renderer), rendered at 30 fps
//! in virtual time: its background, circle and square move every frame; `--still` keeps its
//! first frame; `--detail` runs the displays under `prefer = "detail"`; `--dct-only` skips the
//! lossless row.
//!
//! Run: `cargo run --release -p pixelwire-server --example device_bound [-- --seconds 12] [--still] [--detail] [--dct-only]`

use pixelwire_core::{
    DecodeCost, DeviceCpu, DisplaySession, Frame, NoClock, Prefer, SessionConfig, SessionEvent,
    Timestamp,
};
use pixelwire_proto::{
    CodecSet, DeviceSession, DoubleBuffer, Hello, PixelFormat, PixelOrder, ShortStr, Stats,
};
use pixelwire_server::source::generator::{ClockTime, Generator, RenderInput};
use pixelwire_server::source::render::pattern::PatternScreen;
use std::collections::VecDeque;
use std::sync::Arc;

/// This thread's CPU time so far.
fn thread_cpu() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

const W: u32 = 320;
const H: u32 = 240;
const LINK_BYTES_PER_S: f64 = 300_000.0;
const ONE_WAY_US: u64 = 5_000;
const SPI_MHZ: f64 = 40.0;
const SOURCE_FPS: u64 = 30;
const WARMUP_S: u64 = 2;

/// The `pattern` screen's frame `n` (30 fps), captured at `capture_time_us`.
fn pattern_frame(screen: &mut PatternScreen, n: u64, capture_time_us: u64) -> Frame {
    let input = RenderInput {
        clock: ClockTime::default(),
        elapsed_ms: n * 1000 / SOURCE_FPS,
        frame_index: n,
        fps: SOURCE_FPS as f32,
    };
    let mut rgba = vec![0; (W * H * 4) as usize];
    screen.render(&input, &mut rgba);
    Frame {
        width: W,
        height: H,
        rgba,
        seq: n + 1,
        capture_time_us,
    }
}

/// One direction of the link: FIFO at a fixed rate, fixed propagation delay, 1460-byte segments.
#[derive(Default)]
struct Pipe {
    busy_until: u64,
    due: VecDeque<(u64, Vec<u8>)>,
}

impl Pipe {
    fn send(&mut self, now: u64, bytes: &[u8]) {
        for seg in bytes.chunks(1460) {
            let start = self.busy_until.max(now);
            self.busy_until = start + (seg.len() as f64 / LINK_BYTES_PER_S * 1e6) as u64;
            self.due
                .push_back((self.busy_until + ONE_WAY_US, seg.to_vec()));
        }
    }

    fn next(&self) -> Option<u64> {
        self.due.front().map(|(t, _)| *t)
    }

    fn take_due(&mut self, now: u64) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while self.due.front().is_some_and(|(t, _)| *t <= now) {
            out.extend(self.due.pop_front().map(|(_, b)| b));
        }
        out
    }
}

/// The device's CPU and panel as `display-emu --cpu esp32c3` models them: a segment waits for the
/// panel to finish the previous frame, its receive pass delays the bytes after it, and a FRAME_END
/// keeps the panel busy for the larger of the present pass and the SPI transfer; the device
/// session (and so its ACK) sees a frame's last bytes when the panel is done with them.
struct Device {
    cpu: DeviceCpu,
    /// The CPU is busy until then.
    free_at: u64,
    /// Bytes the device session gets at a given time.
    ready: VecDeque<(u64, Vec<u8>)>,
}

impl Device {
    fn push(&mut self, at: u64, bytes: Vec<u8>) {
        let mut t = self.free_at.max(at);
        let cost = self.cpu.feed(&bytes);
        t += cost.receive.as_micros() as u64;
        if let Some(present) = cost.present {
            let spi_us = (cost.frame_pixels as f64 * 16.0 / SPI_MHZ) as u64;
            t += spi_us.max(present.as_micros() as u64);
        }
        self.free_at = t;
        self.ready.push_back((t, bytes));
    }
}

struct Figures {
    fps: f64,
    psnr_db: f64,
    latency_p50_ms: f64,
    latency_p95_ms: f64,
    kbytes_per_s: f64,
    server_cpu_pct: f64,
    levels: [u32; 4],
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

fn run(seconds: u64, moving: bool, codecs: CodecSet, prefer: Prefer) -> Figures {
    let mut screen = PatternScreen::new(W, H);
    let start = 1_700_000_000_000_000u64;
    let mut cfg = SessionConfig::default();
    cfg.sink.rate.prefer = prefer;
    let mut server = DisplaySession::new(Timestamp::from_micros(start), cfg, Box::new(NoClock));
    let hello = Hello {
        version: 1,
        width: W as u16,
        height: H as u16,
        pixel_format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs,
        max_packet_bytes: 8192,
        frame_buffer_bytes: 0,
        window: 2,
        device_id: ShortStr::new("virtual").expect("id"),
        firmware: ShortStr::new("pixelwire-esp32c3 (virtual)").expect("firmware"),
    };
    let mut device_session = DeviceSession::new(hello, start);
    let n = (W * H * 2) as usize;
    let mut panel = DoubleBuffer::new(W as u16, H as u16, vec![0u8; n], vec![0u8; n]);
    let mut device = Device {
        cpu: DeviceCpu::new(DecodeCost::ESP32C3),
        free_at: start,
        ready: VecDeque::new(),
    };
    let (mut down, mut up) = (Pipe::default(), Pipe::default());
    up.send(start, device_session.take_transmit());
    let mut stats_sent = false;

    let end = start + seconds * 1_000_000;
    let measure_from = start + WARMUP_S * 1_000_000;
    let (mut now, mut next_frame, mut frame_no) = (start, start, 0u64);
    let (mut presented, mut bytes, mut latencies, mut psnr) = (0u32, 0u64, Vec::new(), Vec::new());
    let mut levels = [0u32; 4];
    // this thread's CPU time in the server's session calls (not wall time: another process
    // preempting this one does not count)
    let mut server_cpu = std::time::Duration::ZERO;
    while now < end {
        let t0 = thread_cpu();
        if now >= next_frame {
            server.handle_frame(
                Timestamp::from_micros(now),
                Arc::new(pattern_frame(&mut screen, frame_no, now)),
            );
            frame_no += u64::from(moving);
            next_frame += 1_000_000 / SOURCE_FPS;
        }
        if server.poll_timeout().is_some_and(|t| now >= t.as_micros()) {
            server.handle_timeout(Timestamp::from_micros(now));
        }
        for seg in up.take_due(now) {
            server.handle_input(Timestamp::from_micros(now), &seg);
        }
        if now >= measure_from {
            server_cpu += thread_cpu().saturating_sub(t0);
        }
        while let Some(b) = server.poll_transmit() {
            down.send(now, &b);
        }
        while let Some(ev) = server.poll_event() {
            match ev {
                SessionEvent::Sent(f) if now >= measure_from => {
                    bytes += f.bytes;
                    levels[usize::from(f.level.min(3))] += 1;
                    psnr.extend(f.psnr_db);
                }
                SessionEvent::Presented(r) if now >= measure_from => {
                    presented += 1;
                    latencies.push(r.latency.as_secs_f64() * 1e3);
                }
                SessionEvent::Closed(reason) => panic!("server closed: {reason}"),
                _ => {}
            }
        }
        for seg in down.take_due(now) {
            device.push(now, seg);
        }
        while device.ready.front().is_some_and(|(t, _)| *t <= now) {
            let (_, b) = device.ready.pop_front().expect("front");
            device_session
                .handle_input(now, &b, &mut panel)
                .expect("device session");
        }
        if !stats_sent && device_session.welcome().is_some() {
            device_session.send_stats(&Stats {
                fps_centi: 0,
                decode_us: 0,
                panel_us: 0,
                rssi_dbm: -50,
                free_heap_bytes: 100_000,
                panel_pixels_per_s: (SPI_MHZ * 1e6 / 16.0) as u32,
            });
            stats_sent = true;
        }
        if now >= device_session.poll_timeout() {
            device_session.handle_timeout(now).expect("device timeout");
        }
        if device_session.has_transmit() {
            up.send(now, device_session.take_transmit());
        }
        let candidates = [
            next_frame,
            server.poll_timeout().map_or(u64::MAX, |t| t.as_micros()),
            device_session.poll_timeout(),
            up.next().unwrap_or(u64::MAX),
            down.next().unwrap_or(u64::MAX),
            device.ready.front().map_or(u64::MAX, |(t, _)| *t),
        ];
        now = candidates.into_iter().min().unwrap_or(end).max(now + 1);
    }
    let secs = (seconds - WARMUP_S) as f64;
    Figures {
        fps: f64::from(presented) / secs,
        psnr_db: psnr.iter().sum::<f64>() / psnr.len().max(1) as f64,
        latency_p50_ms: percentile(&mut latencies, 0.5),
        latency_p95_ms: percentile(&mut latencies, 0.95),
        kbytes_per_s: bytes as f64 / secs / 1e3,
        server_cpu_pct: server_cpu.as_secs_f64() / secs * 100.0,
        levels,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(12u64)
        .max(WARMUP_S + 1);
    let moving = !args.iter().any(|a| a == "--still");
    let prefer = if args.iter().any(|a| a == "--detail") {
        Prefer::Detail
    } else {
        Prefer::Motion
    };
    println!(
        "| codecs | fps | mean PSNR dB | latency p50 ms | p95 ms | kB/s | frames at level 0/1/2/3 | server CPU % |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---:|");
    let dct_only = args.iter().any(|a| a == "--dct-only");
    for (name, codecs) in [
        ("lossless", CodecSet::lossless()),
        ("with DCT", CodecSet::all()),
    ] {
        if dct_only && name == "lossless" {
            continue;
        }
        let f = run(seconds, moving, codecs, prefer);
        println!(
            "| {name} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {}/{}/{}/{} | {:.1} |",
            f.fps,
            f.psnr_db,
            f.latency_p50_ms,
            f.latency_p95_ms,
            f.kbytes_per_s,
            f.levels[0],
            f.levels[1],
            f.levels[2],
            f.levels[3],
            f.server_cpu_pct
        );
    }
}
