//! The device side of one pixelwire connection, above the HAL: what the firmware runs once its TCP
//! socket is connected. It owns a [`DeviceSession`] (the protocol state machine from
//! `pixelwire-proto`), reads the socket, and presents frames without tearing (`docs/protocol.md`,
//! FRAME_END and "Budget"):
//!
//! * RECT messages are copied, as received, into a staging buffer of `frame_buffer_bytes` (declared
//!   in HELLO, so the server never sends a frame whose RECTs exceed it), while the session's decoder
//!   checks every byte and answers PINGs.
//! * At the last byte of a FRAME_END the staged RECTs are decoded into strips and written to the
//!   panel ([`crate::present`]), then the FRAME_END is handed to the session, which queues the ACK
//!   with the real presentation time. The panel therefore only ever changes from one complete frame
//!   to the next, and the ACK leaves after the pixels are on the glass.
//! * While a frame is written, the runner reads ahead into the free part of its receive buffer.
//! * Every `stats_interval_us` it sends STATS: frames per second, mean decode-and-present time,
//!   mean panel time, RSSI, free heap and the panel's measured pixels per second.
//!
//! Any error ends the session with a [`SessionEnd`] that says why; the firmware shows it, backs off
//! and reconnects. Nothing here panics on any input.

// `SessionEnd` carries the server's ERROR text (up to 120 bytes) by value: there is no allocator to
// box it, and it is returned once per session, so its size costs nothing that matters.
#![allow(clippy::result_large_err)]

use crate::Clock;
use crate::display::Display;
use crate::framer::{Framer, HEADER_LEN, KIND_FRAME_END, KIND_RECT, Part};
use crate::present::{PresentError, PresentReport};
use embassy_futures::select::{Either, select};
use embedded_io_async::{Read, Write};
use pixelwire_proto::{
    CodecSet, DeviceError, DeviceSession, FrameEnd, Hello, PROTOCOL_VERSION, PixelSink, RectHeader,
    ShortStr, Stats, Welcome,
};

/// Settings of the runner.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    /// Device id sent in HELLO (stable across reboots).
    pub device_id: ShortStr<32>,
    /// Firmware version sent in HELLO.
    pub firmware: ShortStr<32>,
    /// Frames in flight the device allows (1..=8).
    pub window: u8,
    /// Largest RECT payload accepted; capped to what the staging buffer holds.
    pub max_packet_bytes: u16,
    /// Interval between STATS reports, µs.
    pub stats_interval_us: u64,
}

/// The buffers the runner works in (static on the device).
#[derive(Debug)]
pub struct Buffers<'b> {
    /// Socket reads land here.
    pub rx: &'b mut [u8],
    /// RECT messages of the frame being received; its size is the declared `frame_buffer_bytes`.
    pub staging: &'b mut [u8],
    /// The two strip buffers (each an even number of bytes).
    pub strips: [&'b mut [u8]; 2],
}

/// What the firmware hears from a running session (status screen, logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerEvent {
    /// The server accepted the HELLO.
    Welcome(Welcome),
    /// A frame is on the panel.
    Presented {
        /// Its sequence number.
        seq: u32,
        /// Pixels written.
        pixels: u64,
        /// Decode and panel time, µs.
        present_us: u64,
    },
    /// A STATS report was sent.
    Stats(Stats),
    /// A frame exceeded the staging buffer (the server broke its budget): what was staged was
    /// shown early, so this frame may tear.
    BudgetOverflow,
}

/// The firmware's side of the runner: device figures and a watchdog.
pub trait DeviceHooks {
    /// Called at least once per loop iteration (and per frame).
    fn feed_watchdog(&mut self) {}
    /// WiFi signal, dBm (0 = unknown).
    fn rssi_dbm(&mut self) -> i8 {
        0
    }
    /// Free heap, bytes (0 = unknown).
    fn free_heap_bytes(&mut self) -> u32 {
        0
    }
    /// Something happened.
    fn on_event(&mut self, _event: &RunnerEvent) {}
}

/// Hooks that do nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl DeviceHooks for NoHooks {}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd<IO, P> {
    /// The server closed the connection.
    ServerClosed,
    /// Reading or writing the socket failed.
    Io(IO),
    /// The protocol session failed: malformed input, an ERROR from the server, or a timeout.
    Device(DeviceError),
    /// A FRAME_END counted a different number of RECTs than arrived.
    RectCount {
        /// The FRAME_END's `rect_count`.
        expected: u16,
        /// RECTs received.
        got: u32,
    },
    /// One RECT message is larger than the staging buffer.
    RectTooLarge(u32),
    /// The panel failed.
    Panel(P),
}

impl<IO: core::fmt::Debug, P: core::fmt::Debug> core::fmt::Display for SessionEnd<IO, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ServerClosed => f.write_str("server closed the connection"),
            Self::Io(e) => write!(f, "network: {e:?}"),
            Self::Device(e) => write!(f, "{e}"),
            Self::RectCount { expected, got } => {
                write!(f, "frame had {got} rects, FRAME_END said {expected}")
            }
            Self::RectTooLarge(n) => write!(f, "RECT of {n} bytes exceeds the frame buffer"),
            Self::Panel(e) => write!(f, "panel: {e:?}"),
        }
    }
}

/// The session-facing sink: pixels are not drawn here (they are staged as bytes); it counts RECTs
/// to check FRAME_END and notes the WELCOME.
#[derive(Debug, Default)]
struct CheckSink {
    rects: u32,
    mismatch: Option<(u16, u32)>,
    welcome: Option<Welcome>,
    presented: Option<u32>,
}

impl PixelSink for CheckSink {
    fn begin_rect(&mut self, _rect: &RectHeader) {
        self.rects = self.rects.saturating_add(1);
    }
    fn pixels(&mut self, _bytes: &[u8]) {}
    fn fill(&mut self, _pixel: [u8; 2], _count: u32) {}
    fn present(&mut self, frame: &FrameEnd, _latency_us: Option<i64>) {
        if u32::from(frame.rect_count) != self.rects.min(u32::from(u16::MAX)) {
            self.mismatch = Some((frame.rect_count, self.rects));
        }
        self.rects = 0;
        self.presented = Some(frame.seq);
    }
    fn on_welcome(&mut self, welcome: &Welcome) {
        self.welcome = Some(*welcome);
    }
}

/// Figures over one STATS interval.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    since_us: u64,
    frames: u32,
    present_us: u64,
    spi_us: u64,
    pixels: u64,
    /// The last measured panel rate, kept across intervals without pixels.
    px_per_s: u32,
}

impl Figures {
    fn add(&mut self, r: &PresentReport, frame: bool) {
        self.frames += u32::from(frame);
        self.present_us += r.total_us;
        self.spi_us += r.spi_us;
        self.pixels += r.pixels;
    }

    fn report(&mut self, now_us: u64, rssi_dbm: i8, free_heap_bytes: u32) -> Stats {
        let elapsed = now_us.saturating_sub(self.since_us).max(1);
        if self.spi_us > 0 && self.pixels >= 1000 {
            self.px_per_s = (u128::from(self.pixels) * 1_000_000 / u128::from(self.spi_us))
                .min(u128::from(u32::MAX)) as u32;
        }
        let frames = u64::from(self.frames.max(1));
        let stats = Stats {
            fps_centi: (u64::from(self.frames) * 100_000_000 / elapsed).min(u64::from(u16::MAX))
                as u16,
            decode_us: (self.present_us / frames).min(u64::from(u32::MAX)) as u32,
            panel_us: (self.spi_us / frames).min(u64::from(u32::MAX)) as u32,
            rssi_dbm,
            free_heap_bytes,
            panel_pixels_per_s: self.px_per_s,
        };
        *self = Self {
            since_us: now_us,
            px_per_s: self.px_per_s,
            ..Self::default()
        };
        stats
    }
}

/// Per-connection state besides the protocol session.
struct Conn<E> {
    framer: Framer,
    sink: CheckSink,
    staged: usize,
    start: usize,
    end: usize,
    eof: bool,
    io_err: Option<E>,
}

/// The error type of a runner session.
pub type EndOf<S, D> =
    SessionEnd<<S as embedded_io_async::ErrorType>::Error, <D as Display>::Error>;

/// Runs pixelwire sessions on a panel; see the module docs.
#[derive(Debug)]
pub struct Runner<'b, D> {
    panel: D,
    bufs: Buffers<'b>,
    cfg: RunnerConfig,
    figures: Figures,
}

impl<'b, D: Display> Runner<'b, D> {
    /// A runner for `panel` working in `bufs`.
    pub fn new(panel: D, bufs: Buffers<'b>, cfg: RunnerConfig) -> Self {
        Self {
            panel,
            bufs,
            cfg,
            figures: Figures::default(),
        }
    }

    /// The panel (for the status screen between sessions).
    pub fn panel(&mut self) -> &mut D {
        &mut self.panel
    }

    /// A strip buffer to draw with between sessions.
    pub fn scratch(&mut self) -> &mut [u8] {
        let [a, _] = &mut self.bufs.strips;
        a
    }

    /// The panel and a strip buffer together.
    pub fn panel_and_scratch(&mut self) -> (&mut D, &mut [u8]) {
        let [a, _] = &mut self.bufs.strips;
        (&mut self.panel, a)
    }

    /// The HELLO this runner opens with: the panel's real size and pixel format (big-endian
    /// RGB565 for a DCS panel), every codec the
    /// protocol crate decodes, and the staging buffer as `frame_buffer_bytes`.
    pub fn hello(&self) -> Hello {
        let staging = self.bufs.staging.len();
        let max_packet = staging
            .saturating_sub(HEADER_LEN)
            .min(usize::from(self.cfg.max_packet_bytes))
            .max(usize::from(pixelwire_proto::message::MIN_PACKET_BYTES));
        Hello {
            version: PROTOCOL_VERSION,
            width: self.panel.width(),
            height: self.panel.height(),
            pixel_format: self.panel.pixel_format(),
            codecs: CodecSet::all(),
            max_packet_bytes: max_packet.min(usize::from(u16::MAX)) as u16,
            frame_buffer_bytes: staging.min(u32::MAX as usize) as u32,
            window: self
                .cfg
                .window
                .clamp(1, pixelwire_proto::message::MAX_WINDOW),
            device_id: self.cfg.device_id,
            firmware: self.cfg.firmware,
        }
    }

    /// Runs one session on a connected `socket` until it ends; returns why. The socket's `read`
    /// must be cancel-safe (embassy-net's `TcpSocket` is): it races a timer and a frame write.
    pub async fn run<S, C, H>(&mut self, socket: &mut S, clock: &C, hooks: &mut H) -> EndOf<S, D>
    where
        S: Read + Write,
        C: Clock,
        H: DeviceHooks,
    {
        // The session only checks RECTs (`CheckSink`); `present` decodes the staged bytes.
        let mut sess = DeviceSession::new(self.hello(), clock.now_us()).checking_only();
        let mut conn: Conn<S::Error> = Conn {
            framer: Framer::new(),
            sink: CheckSink::default(),
            staged: 0,
            start: 0,
            end: 0,
            eof: false,
            io_err: None,
        };
        self.figures = Figures {
            since_us: clock.now_us(),
            ..Figures::default()
        };
        let mut next_stats = clock.now_us().saturating_add(self.cfg.stats_interval_us);
        loop {
            hooks.feed_watchdog();
            if let Err(end) = self
                .process(&mut sess, &mut conn, socket, clock, hooks)
                .await
            {
                let _ = socket.write_all(sess.take_transmit()).await;
                return end;
            }
            if let Some(e) = conn.io_err.take() {
                return SessionEnd::Io(e);
            }
            if conn.eof {
                return SessionEnd::ServerClosed;
            }
            let now = clock.now_us();
            if now >= sess.poll_timeout()
                && let Err(e) = sess.handle_timeout(now)
            {
                let _ = socket.write_all(sess.take_transmit()).await;
                return SessionEnd::Device(e);
            }
            if now >= next_stats {
                let stats = self
                    .figures
                    .report(now, hooks.rssi_dbm(), hooks.free_heap_bytes());
                sess.send_stats(&stats);
                hooks.on_event(&RunnerEvent::Stats(stats));
                next_stats = now.saturating_add(self.cfg.stats_interval_us.max(1));
            }
            if let Err(e) = socket.write_all(sess.take_transmit()).await {
                return SessionEnd::Io(e);
            }
            let deadline = sess.poll_timeout().min(next_stats);
            match select(socket.read(self.bufs.rx), clock.sleep_until(deadline)).await {
                Either::First(Ok(0)) => return SessionEnd::ServerClosed,
                Either::First(Ok(n)) => {
                    conn.start = 0;
                    conn.end = n.min(self.bufs.rx.len());
                }
                Either::First(Err(e)) => return SessionEnd::Io(e),
                Either::Second(()) => {}
            }
        }
    }

    /// Feeds everything buffered in `rx[start..end]`, staging RECTs and presenting at FRAME_ENDs.
    async fn process<S, C, H>(
        &mut self,
        sess: &mut DeviceSession,
        conn: &mut Conn<S::Error>,
        socket: &mut S,
        clock: &C,
        hooks: &mut H,
    ) -> Result<(), EndOf<S, D>>
    where
        S: Read + Write,
        C: Clock,
        H: DeviceHooks,
    {
        while conn.start < conn.end {
            let now = clock.now_us();
            let Some(piece) = self.bufs.rx.get(conn.start..conn.end) else {
                break;
            };
            let (n, part) = conn.framer.step(piece);
            if n == 0 {
                break;
            }
            match part {
                Part::Header(Some((KIND_RECT, len))) => {
                    let need = HEADER_LEN + usize::from(len);
                    if need > self.bufs.staging.len() {
                        return Err(SessionEnd::RectTooLarge(need as u32));
                    }
                    if conn.staged + need > self.bufs.staging.len() {
                        // The server exceeded the budget it was given: show what is staged now.
                        hooks.on_event(&RunnerEvent::BudgetOverflow);
                        let report = self.present_staged(conn, socket, clock).await?;
                        self.figures.add(&report, false);
                    }
                    let hdr = conn.framer.header();
                    if let Some(dst) = self
                        .bufs
                        .staging
                        .get_mut(conn.staged..conn.staged + HEADER_LEN)
                    {
                        dst.copy_from_slice(&hdr);
                        conn.staged += HEADER_LEN;
                    }
                }
                Part::Payload {
                    kind: KIND_RECT, ..
                } => {
                    let src = self.bufs.rx.get(conn.start..conn.start + n).unwrap_or(&[]);
                    if let Some(dst) = self.bufs.staging.get_mut(conn.staged..conn.staged + n) {
                        dst.copy_from_slice(src);
                        conn.staged += n;
                    }
                }
                Part::Payload {
                    kind: KIND_FRAME_END,
                    last: true,
                } => {
                    // Everything but the FRAME_END's last byte goes in now; the frame is shown;
                    // then the last byte makes the session present and acknowledge it.
                    self.feed(sess, conn, now, n - 1)?;
                    let report = self.present_staged(conn, socket, clock).await?;
                    let now = clock.now_us();
                    self.feed(sess, conn, now, 1)?;
                    if let Some((expected, got)) = conn.sink.mismatch.take() {
                        return Err(SessionEnd::RectCount { expected, got });
                    }
                    self.figures.add(&report, true);
                    if let Some(seq) = conn.sink.presented.take() {
                        hooks.on_event(&RunnerEvent::Presented {
                            seq,
                            pixels: report.pixels,
                            present_us: report.total_us,
                        });
                    }
                    hooks.feed_watchdog();
                    socket
                        .write_all(sess.take_transmit())
                        .await
                        .map_err(SessionEnd::Io)?;
                    continue;
                }
                _ => {}
            }
            self.feed(sess, conn, now, n)?;
            if let Some(w) = conn.sink.welcome.take() {
                hooks.on_event(&RunnerEvent::Welcome(w));
            }
        }
        conn.start = 0;
        conn.end = 0;
        Ok(())
    }

    /// Hands `rx[start..start + n]` to the session.
    fn feed<E>(
        &mut self,
        sess: &mut DeviceSession,
        conn: &mut Conn<E>,
        now: u64,
        n: usize,
    ) -> Result<(), SessionEnd<E, D::Error>> {
        let bytes = self.bufs.rx.get(conn.start..conn.start + n).unwrap_or(&[]);
        conn.start += n;
        sess.handle_input(now, bytes, &mut conn.sink)
            .map_err(SessionEnd::Device)
    }

    /// Writes the staged RECTs to the panel, reading ahead from the socket meanwhile.
    async fn present_staged<S, C>(
        &mut self,
        conn: &mut Conn<S::Error>,
        socket: &mut S,
        clock: &C,
    ) -> Result<PresentReport, EndOf<S, D>>
    where
        S: Read + Write,
        C: Clock,
    {
        let Self { panel, bufs, .. } = self;
        let Buffers {
            rx,
            staging,
            strips: [a, b],
        } = bufs;
        // Unread input moves to the front, so the rest of the buffer can take a read-ahead.
        rx.copy_within(conn.start..conn.end, 0);
        conn.end -= conn.start;
        conn.start = 0;
        let staged = staging.get(..conn.staged).unwrap_or(&[]);
        conn.staged = 0;
        let result = if staged.is_empty() {
            Ok(PresentReport::default())
        } else {
            let shown = core::pin::pin!(panel.present(staged, a, b, clock));
            let room = rx.get_mut(conn.end..).unwrap_or(&mut []);
            if room.is_empty() || conn.eof || conn.io_err.is_some() {
                shown.await
            } else {
                let mut shown = shown;
                let read = core::pin::pin!(socket.read(room));
                match select(shown.as_mut(), read).await {
                    Either::First(r) => r,
                    Either::Second(got) => {
                        match got {
                            Ok(0) => conn.eof = true,
                            Ok(n) => conn.end += n,
                            Err(e) => conn.io_err = Some(e),
                        }
                        shown.await
                    }
                }
            }
        };
        match result {
            Ok(r) => Ok(r),
            Err(PresentError::Panel(e)) => Err(SessionEnd::Panel(e)),
            Err(PresentError::Decode(e)) => Err(SessionEnd::Device(DeviceError::Protocol(e))),
        }
    }
}
