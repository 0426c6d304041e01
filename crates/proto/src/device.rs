//! The device side of a pixelwire session, sans-IO and allocation-free: what the ESP32 firmware and
//! `pixelwire display-emu` run. The caller feeds received bytes with the device clock (µs, any epoch)
//! and writes out whatever [`DeviceSession::take_transmit`] returns; pixels go to a [`PixelSink`].
//!
//! It sends HELLO on start, acknowledges every FRAME_END after the sink presented the frame, answers
//! PINGs, sends its own PING at least every keepalive interval (the PONGs give the round trip and the
//! offset between the device clock and the server's, hence capture-to-display latency), and gives
//! up on a server silent for three intervals.

use crate::ProtoError;
use crate::decoder::{Decoder, Event};
use crate::message::{
    Ack, ErrorCode, ErrorMsg, FrameEnd, Hello, Ping, Pong, RectHeader, Stats, Welcome,
};

/// Where a device's pixels go. Rect events arrive in order; `present` marks the frame boundary.
pub trait PixelSink {
    /// A rectangle starts; its `w*h` pixels follow in row-major order.
    fn begin_rect(&mut self, rect: &RectHeader);
    /// Pixel bytes in the device's order (a piece may end mid-pixel; the next continues it).
    fn pixels(&mut self, bytes: &[u8]);
    /// `count` copies of one pixel.
    fn fill(&mut self, pixel: [u8; 2], count: u32);
    /// The rectangle is complete.
    fn end_rect(&mut self) {}
    /// Show everything received since the previous frame. `latency_us` is the estimated time since
    /// the frame was captured, once the clock offset to the server is known.
    fn present(&mut self, frame: &FrameEnd, latency_us: Option<i64>);
    /// The server accepted the HELLO.
    fn on_welcome(&mut self, _welcome: &Welcome) {}
}

/// Why a device session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceError {
    /// The server's bytes did not parse.
    Protocol(ProtoError),
    /// The server sent an ERROR and will close.
    Server(ErrorMsg),
    /// The server was silent for three keepalive intervals.
    Timeout,
}

impl core::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Server(e) => write!(f, "server error: {}", e.text),
            Self::Timeout => f.write_str("server timed out"),
        }
    }
}

const TX_CAP: usize = 512;

/// The device side of one connection; see the module docs.
#[derive(Debug)]
pub struct DeviceSession {
    hello: Hello,
    decoder: Decoder,
    welcome: Option<Welcome>,
    tx: [u8; TX_CAP],
    tx_len: usize,
    last_rx_us: u64,
    last_ping_us: u64,
    frame_start_us: Option<u64>,
    /// Server clock minus device clock, µs, from the PONG with the smallest round trip.
    offset: Option<(i64, u64)>,
    failed: Option<DeviceError>,
    frames: u32,
}

/// Keepalive interval used until the WELCOME names one.
const DEFAULT_KEEPALIVE_US: u64 = 2_000_000;

impl DeviceSession {
    /// Starts a session at `now_us`: the HELLO is queued for transmission.
    pub fn new(hello: Hello, now_us: u64) -> Self {
        let mut s = Self {
            hello,
            decoder: Decoder::new(hello.max_packet_bytes).with_format(hello.pixel_format),
            welcome: None,
            tx: [0; TX_CAP],
            tx_len: 0,
            last_rx_us: now_us,
            last_ping_us: now_us,
            frame_start_us: None,
            offset: None,
            failed: None,
            frames: 0,
        };
        s.queue(|b| hello.encode(b));
        // A PING right away gives the clock offset (and so latency) from the first frame on.
        s.queue(|b| Ping { time_us: now_us }.encode(b));
        s
    }

    /// This session only checks RECTs: its sink ignores pixels (the firmware stages the bytes and
    /// decodes them again to present), so lossy codecs skip their pixel work
    /// ([`Decoder::checking_only`]).
    #[must_use]
    pub fn checking_only(mut self) -> Self {
        self.decoder = core::mem::take(&mut self.decoder).checking_only();
        self
    }

    /// The HELLO this session opened with.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The WELCOME, once received.
    pub fn welcome(&self) -> Option<&Welcome> {
        self.welcome.as_ref()
    }

    /// Frames presented so far.
    pub fn frames_presented(&self) -> u32 {
        self.frames
    }

    /// Server clock minus device clock in µs, once estimated.
    pub fn clock_offset_us(&self) -> Option<i64> {
        self.offset.map(|(o, _)| o)
    }

    /// Smallest round trip seen, µs.
    pub fn min_rtt_us(&self) -> Option<u64> {
        self.offset.map(|(_, r)| r)
    }

    /// Bytes to send, if any. The returned slice is valid until the next call on the session.
    pub fn take_transmit(&mut self) -> &[u8] {
        let n = core::mem::take(&mut self.tx_len);
        &self.tx[..n]
    }

    /// True while bytes wait to be sent.
    pub fn has_transmit(&self) -> bool {
        self.tx_len > 0
    }

    fn queue(&mut self, f: impl FnOnce(&mut [u8]) -> Result<usize, ProtoError>) {
        // Control messages are at most 132 bytes; a caller that never drains loses the newest
        // (acks are cumulative, pings periodic), which is what a stalled link would do anyway.
        if let Ok(n) = f(&mut self.tx[self.tx_len..]) {
            self.tx_len += n;
        }
    }

    fn keepalive_us(&self) -> u64 {
        self.welcome.map_or(DEFAULT_KEEPALIVE_US, |w| {
            u64::from(w.keepalive_ms.max(100)) * 1000
        })
    }

    /// When [`DeviceSession::handle_timeout`] must run next, device clock µs.
    pub fn poll_timeout(&self) -> u64 {
        let k = self.keepalive_us();
        (self.last_ping_us + k).min(self.last_rx_us + 3 * k)
    }

    /// Call when time passes; sends a PING or reports a dead server.
    pub fn handle_timeout(&mut self, now_us: u64) -> Result<(), DeviceError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let k = self.keepalive_us();
        if now_us >= self.last_rx_us + 3 * k {
            self.failed = Some(DeviceError::Timeout);
            return Err(DeviceError::Timeout);
        }
        if now_us >= self.last_ping_us + k {
            self.queue(|b| Ping { time_us: now_us }.encode(b));
            self.last_ping_us = now_us;
        }
        Ok(())
    }

    /// Reports the device's figures to the server.
    pub fn send_stats(&mut self, stats: &Stats) {
        self.queue(|b| stats.encode(b));
    }

    /// Tells the server why the device is closing.
    pub fn send_error(&mut self, code: ErrorCode, text: &str) {
        self.queue(|b| ErrorMsg::new(code, text).encode(b));
    }

    /// Feeds bytes received at `now_us` (device clock).
    pub fn handle_input(
        &mut self,
        now_us: u64,
        mut input: &[u8],
        sink: &mut impl PixelSink,
    ) -> Result<(), DeviceError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.last_rx_us = now_us;
        while !input.is_empty() {
            let (used, ev) = match self.decoder.decode(input) {
                Ok(r) => r,
                Err(e) => return Err(self.fail(DeviceError::Protocol(e))),
            };
            input = &input[used..];
            match ev {
                None if used == 0 => break,
                None => {}
                Some(ev) => self.on_event(now_us, ev, sink)?,
            }
        }
        Ok(())
    }

    fn fail(&mut self, e: DeviceError) -> DeviceError {
        if let DeviceError::Protocol(p) = e {
            let mut text = [0u8; 64];
            let n = fmt_into(&mut text, format_args!("{p}"));
            let msg = core::str::from_utf8(&text[..n]).unwrap_or("malformed input");
            self.send_error(ErrorCode::Malformed, msg);
        }
        self.failed = Some(e);
        e
    }

    fn on_event(
        &mut self,
        now_us: u64,
        ev: Event<'_>,
        sink: &mut impl PixelSink,
    ) -> Result<(), DeviceError> {
        match ev {
            Event::Welcome(w) => {
                self.welcome = Some(w);
                sink.on_welcome(&w);
            }
            Event::RectBegin(r) => {
                self.frame_start_us.get_or_insert(now_us);
                sink.begin_rect(&r);
            }
            Event::Pixels(b) => sink.pixels(b),
            Event::Chunk(c) => sink.pixels(c.as_bytes()),
            Event::Fill { pixel, count } => sink.fill(pixel, count),
            Event::RectEnd => sink.end_rect(),
            Event::FrameEnd(f) => {
                let start = self.frame_start_us.take().unwrap_or(now_us);
                let latency = self.offset.map(|(o, _)| {
                    (i128::from(now_us) + i128::from(o) - i128::from(f.capture_time_us))
                        .clamp(i128::from(i64::MIN), i128::from(i64::MAX))
                        as i64
                });
                sink.present(&f, latency);
                self.frames = self.frames.wrapping_add(1);
                let decode_us = now_us.saturating_sub(start).min(u64::from(u32::MAX)) as u32;
                self.queue(|b| {
                    Ack {
                        seq: f.seq,
                        present_time_us: now_us,
                        decode_us,
                    }
                    .encode(b)
                });
            }
            Event::Ping(p) => self.queue(|b| {
                Pong {
                    echo_us: p.time_us,
                    time_us: now_us,
                }
                .encode(b)
            }),
            Event::Pong(p) => {
                let rtt = now_us.saturating_sub(p.echo_us);
                // Wide arithmetic: both values come from the network and may be anything.
                let offset = (i128::from(p.time_us) - (i128::from(p.echo_us) + i128::from(rtt / 2)))
                    .clamp(i128::from(i64::MIN), i128::from(i64::MAX))
                    as i64;
                if self.offset.is_none_or(|(_, best)| rtt <= best) {
                    self.offset = Some((offset, rtt));
                }
            }
            Event::Error(e) => return Err(self.fail(DeviceError::Server(e))),
            Event::Hello(_) | Event::Ack(_) | Event::Stats(_) => {
                return Err(self.fail(DeviceError::Protocol(ProtoError::UnknownKind(0))));
            }
        }
        Ok(())
    }
}

/// Formats into a byte buffer without allocating; returns the length written (truncated to fit).
fn fmt_into(buf: &mut [u8], args: core::fmt::Arguments<'_>) -> usize {
    struct W<'a> {
        buf: &'a mut [u8],
        n: usize,
    }
    impl core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let room = self.buf.len() - self.n;
            let mut k = s.len().min(room);
            while !s.is_char_boundary(k) {
                k -= 1;
            }
            self.buf[self.n..self.n + k].copy_from_slice(&s.as_bytes()[..k]);
            self.n += k;
            Ok(())
        }
    }
    let mut w = W { buf, n: 0 };
    let _ = core::fmt::write(&mut w, args);
    w.n
}

/// A [`PixelSink`] over two in-memory framebuffers: rects are drawn into the back buffer and copied
/// to the front buffer at `present`, so a reader of the front buffer never sees half a frame.
#[derive(Debug)]
pub struct DoubleBuffer<B: AsMut<[u8]> + AsRef<[u8]>> {
    writer: crate::FramebufferWriter,
    /// What is being drawn.
    pub back: B,
    /// What is shown.
    pub front: B,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> DoubleBuffer<B> {
    /// Wraps two buffers of `width*height*2` bytes each (RGB565).
    pub fn new(width: u16, height: u16, back: B, front: B) -> Self {
        Self::with_format(width, height, crate::PixelFormat::default(), back, front)
    }

    /// Wraps two buffers of `format.frame_bytes(width, height)` bytes each.
    pub fn with_format(
        width: u16,
        height: u16,
        format: crate::PixelFormat,
        back: B,
        front: B,
    ) -> Self {
        Self {
            writer: crate::FramebufferWriter::with_format(width, height, format),
            back,
            front,
        }
    }
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> PixelSink for DoubleBuffer<B> {
    fn begin_rect(&mut self, rect: &RectHeader) {
        self.writer
            .apply(self.back.as_mut(), &Event::RectBegin(*rect));
    }

    fn pixels(&mut self, bytes: &[u8]) {
        self.writer.apply(self.back.as_mut(), &Event::Pixels(bytes));
    }

    fn fill(&mut self, pixel: [u8; 2], count: u32) {
        self.writer
            .apply(self.back.as_mut(), &Event::Fill { pixel, count });
    }

    fn present(&mut self, _frame: &FrameEnd, _latency_us: Option<i64>) {
        let n = self.front.as_ref().len().min(self.back.as_ref().len());
        self.front.as_mut()[..n].copy_from_slice(&self.back.as_ref()[..n]);
    }
}
