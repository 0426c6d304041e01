//! A whole monochrome display session in virtual time, as `sim_session.rs` runs a DCS one: the real
//! server session (`pixelwire_core::DisplaySession`) ⇄ a simulated slow link ⇄ the firmware's
//! runner (`pixelwire_panel::Runner`) ⇄ the SSD1306 driver ⇄ a virtual SSD1306 that decodes the
//! SPI command stream into its GDDRAM pages. The device declares `mono1` in HELLO, reads the
//! socket in pieces of random size, the SPI bus takes real time (8 MHz), and the source (grey
//! ramps, colour, a moving box) moves, then stands still.
//!
//! Checked: at every ACK the device sends, the glass shows exactly the shadow the server committed
//! for that frame, every pixel (nothing of a later frame, nothing half drawn, no page missed); once
//! the source stops, the glass equals the server's target exactly; the server's sink works in
//! mono1; the virtual controller saw no fault; and the link carried a fraction of what RGB565
//! would need.

mod common;

use common::{NoDelay, Pipe};
use embedded_hal_async::spi::{ErrorType, Operation, SpiDevice};
use pixelwire_core::{
    DisplaySession, Dither, Frame, NoClock, SessionConfig, SessionEvent, Timestamp,
};
use pixelwire_panel::runner::{DeviceHooks, RunnerEvent};
use pixelwire_panel::ssd1306::Ssd1306;
use pixelwire_panel::virtual_ssd1306::{VirtualSsd1306, VirtualSsdDc, VirtualSsdSpi};
use pixelwire_panel::{Buffers, Clock, Runner, RunnerConfig};
use pixelwire_proto::{Decoder, Event, PixelFormat, ShortStr};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

const EPOCH_US: u64 = 1_700_000_000_000_000;
const SPI_HZ: u64 = 8_000_000;

struct World {
    now: u64,
    /// Earliest time a pending device future asked to be woken at (this round).
    wake: u64,
    rng: u64,
    server: DisplaySession,
    down: Pipe,
    up: Pipe,
    device_rx: VecDeque<u8>,
    glass: VirtualSsd1306,
    width: u32,
    height: u32,
    /// Server shadow after each frame was built, by sequence number.
    committed: HashMap<u32, Vec<u16>>,
    up_decoder: Decoder,
    acks_checked: u32,
    tears: Vec<String>,
    frame_no: u64,
    next_frame_us: u64,
    moving_until_us: u64,
    bytes_down: u64,
    closed: Option<String>,
}

impl World {
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn server_now(&self) -> Timestamp {
        Timestamp::from_micros(EPOCH_US + self.now)
    }

    fn drain_server(&mut self) {
        while let Some(bytes) = self.server.poll_transmit() {
            self.bytes_down += bytes.len() as u64;
            let now = self.now;
            self.down.send(now, &bytes);
        }
        while let Some(ev) = self.server.poll_event() {
            match ev {
                SessionEvent::Sent(f) => {
                    let shadow = self.server.shadow().map(|s| s.px.clone());
                    self.committed.insert(f.seq, shadow.unwrap_or_default());
                }
                SessionEvent::Closed(reason) => self.closed = Some(reason.to_string()),
                _ => {}
            }
        }
    }

    /// Bytes the device wrote: deliver them upstream and check every ACK against the glass.
    fn device_wrote(&mut self, bytes: &[u8]) {
        let now = self.now;
        self.up.send(now, bytes);
        let acks: Vec<u32> = self
            .up_decoder
            .feed(bytes)
            .filter_map(|ev| match ev {
                Ok(Event::Ack(a)) => Some(a.seq),
                _ => None,
            })
            .collect();
        for seq in acks {
            let shown = self.glass.render();
            match self.committed.remove(&seq) {
                Some(want) if want == shown => self.acks_checked += 1,
                Some(want) => {
                    let diff = want.iter().zip(&shown).filter(|(a, b)| a != b).count();
                    self.tears.push(format!("ACK {seq}: {diff} pixels differ"));
                }
                None => self.tears.push(format!("ACK {seq} for a frame never sent")),
            }
            self.committed.retain(|s, _| *s > seq);
        }
    }

    fn advance(&mut self, end_us: u64) {
        let server_t = self
            .server
            .poll_timeout()
            .map(|t| t.as_micros().saturating_sub(EPOCH_US))
            .unwrap_or(u64::MAX);
        let next = [
            self.wake,
            self.next_frame_us,
            server_t,
            self.up.next().unwrap_or(u64::MAX),
            self.down.next().unwrap_or(u64::MAX),
            end_us,
        ]
        .into_iter()
        .min()
        .unwrap_or(end_us);
        self.now = next.max(self.now);
        let now = self.now;
        if now >= self.next_frame_us {
            let moving = now < self.moving_until_us;
            let f = source_frame(
                self.width,
                self.height,
                self.frame_no,
                moving,
                EPOCH_US + now,
            );
            self.server.handle_frame(self.server_now(), Arc::new(f));
            self.drain_server();
            self.frame_no += 1;
            self.next_frame_us += 1_000_000 / 30;
        }
        if now >= server_t {
            self.server.handle_timeout(self.server_now());
            self.drain_server();
        }
        let up = self.up.take_due(now);
        if !up.is_empty() {
            self.server.handle_input(self.server_now(), &up);
            self.drain_server();
        }
        let down = self.down.take_due(now);
        self.device_rx.extend(down);
    }
}

type Shared = Rc<RefCell<World>>;

async fn sleep_until(world: &Shared, t: u64) {
    std::future::poll_fn(|_| {
        let mut w = world.borrow_mut();
        if w.now >= t {
            Poll::Ready(())
        } else {
            w.wake = w.wake.min(t);
            Poll::Pending
        }
    })
    .await
}

struct SimClock(Shared);

impl Clock for SimClock {
    fn now_us(&self) -> u64 {
        self.0.borrow().now
    }

    fn sleep_until(&self, deadline_us: u64) -> impl Future<Output = ()> {
        let world = self.0.clone();
        async move { sleep_until(&world, deadline_us).await }
    }
}

struct SimSocket(Shared);

impl embedded_io_async::ErrorType for SimSocket {
    type Error = embedded_io_async::ErrorKind;
}

impl embedded_io_async::Read for SimSocket {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        std::future::poll_fn(|_| {
            let mut w = self.0.borrow_mut();
            if w.device_rx.is_empty() || buf.is_empty() {
                return Poll::Pending;
            }
            let want = 1 + (w.random() % 1500) as usize;
            let n = want.min(buf.len()).min(w.device_rx.len());
            for (d, s) in buf.iter_mut().zip(w.device_rx.drain(..n)) {
                *d = s;
            }
            Poll::Ready(Ok(n))
        })
        .await
    }
}

impl embedded_io_async::Write for SimSocket {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.borrow_mut().device_wrote(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The virtual controller's SPI behind a bus that takes time: 1 µs per transaction plus 8 bits
/// per byte at [`SPI_HZ`].
struct TimedSpi {
    inner: VirtualSsdSpi,
    world: Shared,
}

impl ErrorType for TimedSpi {
    type Error = Infallible;
}

impl SpiDevice for TimedSpi {
    async fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        let bytes: u64 = ops
            .iter()
            .map(|o| match o {
                Operation::Write(b) => b.len() as u64,
                _ => 0,
            })
            .sum();
        self.inner.transaction(ops).await?;
        let done = self.world.borrow().now + 1 + bytes * 8 * 1_000_000 / SPI_HZ;
        sleep_until(&self.world, done).await;
        Ok(())
    }
}

#[derive(Default)]
struct Hooks {
    presented: u32,
    overflows: u32,
}

impl DeviceHooks for Hooks {
    fn on_event(&mut self, event: &RunnerEvent) {
        match event {
            RunnerEvent::Presented { .. } => self.presented += 1,
            RunnerEvent::BudgetOverflow => self.overflows += 1,
            _ => {}
        }
    }
}

/// A `w × h` source: a grey ramp, a colour band, a 24x16 box moving 3 px a frame.
fn source_frame(w: u32, h: u32, n: u64, moving: bool, t_us: u64) -> Frame {
    let k = if moving { n } else { 0 };
    let (bx, by) = ((k * 3) % u64::from(w - 24), (k * 2) % u64::from(h - 16));
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..u64::from(h) {
        for x in 0..u64::from(w) {
            let c = if x >= bx && x < bx + 24 && y >= by && y < by + 16 {
                [255, 255, 255]
            } else if y < 8 {
                [(x * 2) as u8, 30, 220]
            } else {
                let v = (x * 255 / u64::from(w)) as u8;
                [v, v / 2, v]
            };
            rgba.extend_from_slice(&[c[0], c[1], c[2], 255]);
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

struct Outcome {
    world: World,
    hooks: Hooks,
    end: Option<String>,
    faults: Vec<String>,
}

fn run(height: u16, link_bytes_per_s: f64, dither: Dither, staging_bytes: usize) -> Outcome {
    let width = 128u16;
    let glass = VirtualSsd1306::new(width, height);
    let mut cfg = SessionConfig::default();
    cfg.sink.dither = dither;
    let server = DisplaySession::new(Timestamp::from_micros(EPOCH_US), cfg, Box::new(NoClock));
    let world = Rc::new(RefCell::new(World {
        now: 0,
        wake: u64::MAX,
        rng: 0x2545_F491_4F6C_DD1D,
        server,
        down: Pipe::new(link_bytes_per_s, 5_000),
        up: Pipe::new(link_bytes_per_s, 5_000),
        device_rx: VecDeque::new(),
        glass: glass.clone(),
        width: u32::from(width),
        height: u32::from(height),
        committed: HashMap::new(),
        up_decoder: Decoder::default(),
        acks_checked: 0,
        tears: Vec::new(),
        frame_no: 0,
        next_frame_us: 0,
        moving_until_us: 3_000_000,
        bytes_down: 0,
        closed: None,
    }));
    let end_us = 6_000_000;
    let spi = TimedSpi {
        inner: glass.spi(),
        world: world.clone(),
    };
    let mut fb = vec![0u8; usize::from(width) * usize::from(height) / 8];
    let mut oled: Ssd1306<TimedSpi, VirtualSsdDc> =
        Ssd1306::new(spi, glass.dc(), width, height, &mut fb).expect("an SSD1306 size");
    let mut rx = vec![0u8; 2048];
    let mut staging = vec![0u8; staging_bytes];
    let mut a = vec![0u8; 256];
    let mut b = vec![0u8; 2];
    // Boot: init writes the black framebuffer whole, so the glass matches the server's black
    // shadow from the first ACK on.
    {
        let mut delay = NoDelay::default();
        let mut boot = pin!(oled.init(&mut delay, &mut a));
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            world.borrow_mut().wake = u64::MAX;
            if let Poll::Ready(r) = boot.as_mut().poll(&mut cx) {
                r.expect("init");
                break;
            }
            world.borrow_mut().advance(u64::MAX);
        }
    }
    assert!(glass.is_on());
    assert!(glass.render().iter().all(|&p| p == 0), "black after init");
    {
        let mut w = world.borrow_mut();
        let t = w.now;
        w.next_frame_us = t;
        w.moving_until_us += t;
    }
    let end_us = end_us + world.borrow().now;
    let cfg = RunnerConfig {
        device_id: ShortStr::new("oled-1").unwrap(),
        firmware: ShortStr::new("test").unwrap(),
        window: 2,
        max_packet_bytes: 512,
        stats_interval_us: 1_000_000,
    };
    let bufs = Buffers {
        rx: &mut rx,
        staging: &mut staging,
        strips: [&mut a, &mut b],
    };
    let mut runner = Runner::new(oled, bufs, cfg);
    assert_eq!(runner.hello().pixel_format, PixelFormat::Mono1);
    let mut socket = SimSocket(world.clone());
    let clock = SimClock(world.clone());
    let mut hooks = Hooks::default();
    let end = {
        let mut fut = pin!(runner.run(&mut socket, &clock, &mut hooks));
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            world.borrow_mut().wake = u64::MAX;
            if let Poll::Ready(end) = fut.as_mut().poll(&mut cx) {
                break Some(end.to_string());
            }
            if world.borrow().now >= end_us {
                break None;
            }
            world.borrow_mut().advance(end_us);
        }
    };
    drop(runner);
    drop((socket, clock));
    let faults = glass.faults();
    let world = Rc::try_unwrap(world).ok().unwrap().into_inner();
    Outcome {
        world,
        hooks,
        end,
        faults,
    }
}

fn check(o: &Outcome) {
    assert_eq!(o.end, None, "the runner ended early");
    assert_eq!(o.world.closed, None, "the server closed the session");
    assert!(o.faults.is_empty(), "controller faults: {:?}", o.faults);
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
        o.world.acks_checked >= o.hooks.presented.saturating_sub(2) && o.world.acks_checked > 30,
        "checked {} acks of {} frames",
        o.world.acks_checked,
        o.hooks.presented
    );
    let sink = o.world.server.sink().expect("streaming");
    assert_eq!(sink.format(), PixelFormat::Mono1);
    let target = &sink.target().px;
    let shown = o.world.glass.render();
    let diff = shown.iter().zip(target).filter(|(a, b)| a != b).count();
    assert_eq!(diff, 0, "{diff} pixels differ from the server's target");
    assert!(shown.contains(&1) && shown.contains(&0), "a blank glass");
    eprintln!(
        "presented {} frames, {} acks checked, {} bytes down",
        o.hooks.presented, o.world.acks_checked, o.world.bytes_down
    );
}

#[test]
fn ssd1306_128x64_over_a_slow_link() {
    // 15 kB/s: a whole mono frame (1 KiB) is 70 ms; RGB565 would need 16 KiB a frame.
    let o = run(64, 15_000.0, Dither::Ordered, 4096);
    check(&o);
    let frames = o.world.frame_no;
    assert!(
        o.world.bytes_down < frames * 128 * 64 / 8,
        "{} bytes for {frames} frames: more than a raw mono frame each",
        o.world.bytes_down
    );
}

#[test]
fn ssd1306_128x32_thresholded_with_a_small_staging_buffer() {
    // A frame buffer of 300 bytes: repaints are cut into many small frames, each shown whole.
    let o = run(32, 40_000.0, Dither::None, 300);
    check(&o);
}
