//! The machinery of the panel simulations (`sim_session.rs`, `sim_dct.rs`): the real server
//! session (`pixelwire_core::DisplaySession`) ⇄ a simulated slow link ⇄ the firmware's runner
//! (`pixelwire_panel::Runner`) ⇄ the panel driver ⇄ a virtual panel that decodes the SPI command
//! stream, in virtual time. The device reads the socket in pieces of random size (1..=1500 bytes),
//! the SPI bus takes real time (40 MHz), and a source (the scenario's) moves, then stands still.
//!
//! At every ACK the device sends, the panel is compared with the shadow the server committed for
//! that sequence number (`World::tears` lists the differences); every RECT the server sends is
//! parsed off the wire and counted by codec (`World::rect_codecs`).
//!
//! The executor is a loop that polls the runner's future and, while it is pending, advances the
//! world to the next event (a link delivery, a timer, an SPI transfer ending, a source frame).
//! Included with `#[path = "common/sim.rs"] mod sim;` next to `mod common;`, so that the panel
//! tests without a server do not build it.
#![allow(dead_code)]

use crate::common::{NoDelay, Pipe};
use embedded_hal_async::spi::{ErrorType, Operation, SpiDevice};
use pixelwire_core::{DisplaySession, Frame, NoClock, SessionConfig, SessionEvent, Timestamp};
use pixelwire_panel::runner::{DeviceHooks, RunnerEvent};
use pixelwire_panel::status::{StatusInfo, draw_status};
use pixelwire_panel::virtual_panel::{VirtualDc, VirtualSpi};
use pixelwire_panel::{
    Buffers, Clock, Panel, PanelConfig, Runner, RunnerConfig, SessionEnd, VirtualPanel, Window,
};
use pixelwire_proto::{Decoder, Event, ShortStr, Stats};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// The server's clock is the Unix epoch plus virtual time; the device's is virtual time.
pub const EPOCH_US: u64 = 1_700_000_000_000_000;
/// SPI clock of the simulated bus.
pub const SPI_HZ: u64 = 40_000_000;

pub struct World {
    pub now: u64,
    /// Earliest time a pending device future asked to be woken at (this round).
    pub wake: u64,
    pub rng: u64,
    pub server: DisplaySession,
    pub down: Pipe,
    pub up: Pipe,
    pub device_rx: VecDeque<u8>,
    pub panel: VirtualPanel,
    pub width: u32,
    pub height: u32,
    /// Server shadow after each frame was built, by sequence number.
    pub committed: HashMap<u32, Vec<u16>>,
    pub up_decoder: Decoder,
    pub acks_checked: u32,
    pub tears: Vec<String>,
    pub stats: Vec<(u64, Stats)>,
    pub server_closed: Option<String>,
    pub frame_no: u64,
    pub next_frame_us: u64,
    pub moving_until_us: u64,
    pub source: Source,
    /// Parses the server's output (checking only) to count its RECTs by codec.
    pub wire: Decoder,
    /// RECTs the server sent, by codec id.
    pub rect_codecs: [u32; 5],
    /// Wire errors seen while parsing the server's output.
    pub wire_errors: Vec<String>,
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

    /// Moves server output to the link and records what the server committed.
    fn drain_server(&mut self) {
        while let Some(bytes) = self.server.poll_transmit() {
            let now = self.now;
            self.down.send(now, &bytes);
            for ev in self.wire.feed(&bytes) {
                match ev {
                    Ok(Event::RectBegin(r)) => self.rect_codecs[r.codec as usize] += 1,
                    Ok(_) => {}
                    Err(e) => self.wire_errors.push(e.to_string()),
                }
            }
        }
        while let Some(ev) = self.server.poll_event() {
            match ev {
                SessionEvent::Sent(f) => {
                    if std::env::var("SIM_TRACE").is_ok() {
                        eprintln!(
                            "t={:.3} sent seq {} bytes {} rects {} px {} level {} complete {}",
                            self.now as f64 / 1e6,
                            f.seq,
                            f.bytes,
                            f.rects,
                            f.pixels,
                            f.level,
                            f.complete
                        );
                    }
                    let shadow = self
                        .server
                        .shadow()
                        .map(|s| s.px.clone())
                        .unwrap_or_default();
                    self.committed.insert(f.seq, shadow);
                }
                SessionEvent::DeviceStats(s) => self.stats.push((self.now, s)),
                SessionEvent::Closed(reason) => self.server_closed = Some(reason.to_string()),
                _ => {}
            }
        }
    }

    /// Bytes the device wrote: deliver them upstream and check every ACK against the panel.
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
            let shown = self.panel.render_visible();
            match self.committed.remove(&seq) {
                Some(want) if want == shown => self.acks_checked += 1,
                Some(want) => {
                    let diff = want.iter().zip(&shown).filter(|(a, b)| a != b).count();
                    self.tears.push(format!(
                        "ACK {seq}: {diff} pixels differ from the committed frame"
                    ));
                }
                None => self.tears.push(format!("ACK {seq} for a frame never sent")),
            }
            self.committed.retain(|s, _| *s > seq);
        }
    }

    /// Advances virtual time to the next event and processes everything due then.
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
            let frame = (self.source)(
                self.width,
                self.height,
                self.frame_no,
                moving,
                EPOCH_US + now,
            );
            self.server.handle_frame(self.server_now(), Arc::new(frame));
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

pub type Shared = Rc<RefCell<World>>;

/// Completes once the world's time reaches `t`.
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

/// The device's socket: reads whatever the link delivered, in random pieces.
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

/// The virtual panel's SPI behind a bus that takes time: 1 µs per transaction plus 8 bits per
/// byte at [`SPI_HZ`].
struct TimedSpi {
    inner: VirtualSpi,
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
pub struct CountingHooks {
    pub presented: u32,
    pub welcomed: bool,
    pub overflows: u32,
    pub feeds: u64,
}

impl DeviceHooks for CountingHooks {
    fn feed_watchdog(&mut self) {
        self.feeds += 1;
    }
    fn rssi_dbm(&mut self) -> i8 {
        -55
    }
    fn free_heap_bytes(&mut self) -> u32 {
        40_000
    }
    fn on_event(&mut self, event: &RunnerEvent) {
        match event {
            RunnerEvent::Welcome(_) => self.welcomed = true,
            RunnerEvent::Presented { .. } => self.presented += 1,
            RunnerEvent::BudgetOverflow => self.overflows += 1,
            RunnerEvent::Stats(_) => {}
        }
    }
}

/// A source: frame `n` of a `w × h` picture at `t_us`, moving or standing still.
pub type Source = fn(w: u32, h: u32, n: u64, moving: bool, t_us: u64) -> Frame;

pub struct Scenario {
    pub panel: PanelConfig,
    pub link_bytes_per_s: f64,
    pub rtt_ms: u64,
    pub staging_bytes: usize,
    pub max_packet_bytes: u16,
    pub strip_bytes: usize,
    pub seconds_moving: u64,
    pub seconds_still: u64,
    pub source: Source,
}

pub struct Outcome {
    pub world: World,
    pub hooks: CountingHooks,
    pub end: Option<String>,
    pub faults: Vec<String>,
}

pub fn run(sc: &Scenario) -> Outcome {
    let (w, h) = (sc.panel.width(), sc.panel.height());
    let vp = VirtualPanel::for_config(&sc.panel);
    let server = DisplaySession::new(
        Timestamp::from_micros(EPOCH_US),
        SessionConfig::default(),
        Box::new(NoClock),
    );
    let world = Rc::new(RefCell::new(World {
        now: 0,
        wake: u64::MAX,
        rng: 0x2545_F491_4F6C_DD1D,
        server,
        down: Pipe::new(sc.link_bytes_per_s, sc.rtt_ms * 500),
        up: Pipe::new(sc.link_bytes_per_s, sc.rtt_ms * 500),
        device_rx: VecDeque::new(),
        panel: vp.clone(),
        width: u32::from(w),
        height: u32::from(h),
        committed: HashMap::new(),
        up_decoder: Decoder::default(),
        acks_checked: 0,
        tears: Vec::new(),
        stats: Vec::new(),
        server_closed: None,
        frame_no: 0,
        next_frame_us: 0,
        moving_until_us: sc.seconds_moving * 1_000_000,
        source: sc.source,
        wire: Decoder::default().checking_only(),
        rect_codecs: [0; 5],
        wire_errors: Vec::new(),
    }));
    let end_us = (sc.seconds_moving + sc.seconds_still) * 1_000_000;

    // Boot as the firmware does: init, status screen, then black (the server's shadow starts
    // black, so the tearing check can compare whole images from the first ACK on).
    let spi: TimedSpi = TimedSpi {
        inner: vp.spi(),
        world: world.clone(),
    };
    let mut panel: Panel<TimedSpi, VirtualDc> = Panel::new(spi, vp.dc(), sc.panel);
    let mut rx = vec![0u8; 4096];
    let mut staging = vec![0u8; sc.staging_bytes];
    let mut a = vec![0u8; sc.strip_bytes];
    let mut b = vec![0u8; sc.strip_bytes];
    let poll_world = |fut: std::pin::Pin<&mut dyn Future<Output = ()>>| {
        let mut fut = fut;
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            world.borrow_mut().wake = u64::MAX;
            if fut.as_mut().poll(&mut cx).is_ready() {
                return;
            }
            world.borrow_mut().advance(u64::MAX);
        }
    };
    {
        let boot = async {
            panel.init(&mut NoDelay::default()).await.unwrap();
            let info = StatusInfo {
                device_id: "sim-1",
                firmware: "test",
                panel: "virtual",
                ssid: "sim",
                wifi: "connected",
                ip: Some([10, 0, 0, 2]),
                server: "10.0.0.1:8888",
                link: "connecting",
                ..Default::default()
            };
            draw_status(&mut panel, &mut a, &info).await.unwrap();
            panel
                .fill(Window { x: 0, y: 0, w, h }, 0, &mut a)
                .await
                .unwrap();
        };
        poll_world(pin!(boot));
    }
    // The boot took virtual time; the source starts now.
    {
        let mut wd = world.borrow_mut();
        let t = wd.now;
        wd.next_frame_us = t;
        wd.moving_until_us += t;
    }
    let end_us = end_us + world.borrow().now;

    let cfg = RunnerConfig {
        device_id: ShortStr::new("sim-1").unwrap(),
        firmware: ShortStr::new("test").unwrap(),
        window: 2,
        max_packet_bytes: sc.max_packet_bytes,
        stats_interval_us: 1_000_000,
    };
    let bufs = Buffers {
        rx: &mut rx,
        staging: &mut staging,
        strips: [&mut a, &mut b],
    };
    let mut runner = Runner::new(panel, bufs, cfg);
    let mut socket = SimSocket(world.clone());
    let clock = SimClock(world.clone());
    let mut hooks = CountingHooks::default();
    let end = {
        let mut fut = pin!(runner.run(&mut socket, &clock, &mut hooks));
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            world.borrow_mut().wake = u64::MAX;
            if let Poll::Ready(end) = fut.as_mut().poll(&mut cx) {
                break Some(end_text(end));
            }
            if world.borrow().now >= end_us {
                break None;
            }
            world.borrow_mut().advance(end_us);
        }
    };
    drop(runner);
    drop((socket, clock));
    let faults = vp.faults();
    let world = Rc::try_unwrap(world).ok().unwrap().into_inner();
    Outcome {
        world,
        hooks,
        end,
        faults,
    }
}

pub fn end_text<E: std::fmt::Debug, P: std::fmt::Debug>(e: SessionEnd<E, P>) -> String {
    e.to_string()
}
