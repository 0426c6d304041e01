//! The server side of one pixelwire display connection as a sans-IO state machine
//! (`docs/protocol.md`, "Session"). The edge feeds it socket bytes, source frames and timeouts with
//! the current time, and drains bytes to write, events, and its next deadline.
//!
//! Flow control: at most `window` frames are in flight (sent, not yet acknowledged). While the
//! window is full, new source frames only replace the pending one and damage accumulates against
//! the shadow, so the next frame carries the newest state and latency cannot grow on a slow link.

use crate::decode_cost::{DecodeCost, DeviceTime};
use crate::encode::WireFormat;
use crate::frame::Frame;
use crate::image565::Rgb565Image;
use crate::sink::{DisplaySink, SinkConfig, StageTimes};
use crate::time::{Stopwatch, Timestamp};
use pixelwire_proto::{
    Codec, CodecSet, Decoder, ErrorCode, ErrorMsg, Event, FrameEnd, Hello, PROTOCOL_VERSION, Ping,
    Pong, ProtoError, Stats, Welcome,
};
use std::collections::VecDeque;
use std::time::Duration;

/// Settings of a pixelwire display session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionConfig {
    /// Each side pings after this much silence; three intervals of silence close the session.
    pub keepalive: Duration,
    /// The HELLO must arrive within this time of the connection.
    pub hello_timeout: Duration,
    /// Frames in flight at most (the device may ask for fewer).
    pub window: u8,
    /// Codecs the server may use (intersected with the device's).
    pub codecs: CodecSet,
    /// Processing and rate control.
    pub sink: SinkConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(2),
            hello_timeout: Duration::from_secs(5),
            window: 2,
            codecs: CodecSet::all(),
            sink: SinkConfig::default(),
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The device sent bytes that do not parse or break the protocol.
    Protocol(String),
    /// The device was silent too long.
    Timeout,
    /// The device reported an error and closed.
    PeerError(String),
    /// Closed by the server (replaced by a newer connection, shutdown).
    Local(ErrorCode),
    /// The server would not serve the HELLO (a limit or a rule; [`Refusal`]).
    Refused(String),
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Timeout => f.write_str("peer timed out"),
            // The peer chose the text: escaped, so it cannot forge log lines.
            Self::PeerError(e) => write!(f, "peer error: {e:?}"),
            Self::Local(c) => write!(f, "closed by server ({c:?})"),
            Self::Refused(e) => write!(f, "refused: {e}"),
        }
    }
}

/// A frame the device presented.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameReport {
    /// Frame sequence number.
    pub seq: u32,
    /// Bytes of the frame on the wire.
    pub bytes: u64,
    /// RECT messages in it.
    pub rects: u32,
    /// Estimated capture-to-present latency: ack arrival − capture − min RTT / 2.
    pub latency: Duration,
    /// Device-reported decode time.
    pub decode: Duration,
}

/// A frame that was built and queued.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameSent {
    /// Sequence number.
    pub seq: u32,
    /// Bytes including FRAME_END.
    pub bytes: u64,
    /// RECT messages.
    pub rects: u32,
    /// Pixels sent.
    pub pixels: u64,
    /// Level it was encoded at.
    pub level: u8,
    /// False if damage was left for later frames.
    pub complete: bool,
    /// Sequence number of the source frame it shows.
    pub source_seq: u64,
    /// PSNR of the panel once this frame is presented against its source, dB
    /// ([`crate::psnr`]); `None` before the first source frame.
    pub psnr_db: Option<f64>,
    /// Time per processing stage.
    pub stages: StageTimes,
}

/// What the edge needs to know.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The device said HELLO and was welcomed.
    Ready(Hello),
    /// A frame was queued for sending.
    Sent(FrameSent),
    /// A frame was presented.
    Presented(FrameReport),
    /// The device's own figures.
    DeviceStats(Stats),
    /// The session is over; flush the transmit queue and close.
    Closed(CloseReason),
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    seq: u32,
    sent_at: Timestamp,
    bytes: u64,
    rects: u32,
    pixels: u64,
    device: DeviceTime,
    capture_time_us: u64,
}

#[derive(Debug)]
enum State {
    AwaitHello {
        deadline: Timestamp,
    },
    Streaming {
        hello: Hello,
        welcome: Welcome,
        sink: Box<DisplaySink>,
        format: WireFormat,
        /// Held as long as the sink: the edge's reservation for it (dropped with it).
        _lease: Option<Lease>,
    },
    Closed,
}

/// Whatever the edge wants kept alive exactly as long as the session's sink (a reservation in a
/// memory budget that it releases on drop).
pub type Lease = Box<dyn std::any::Any + Send>;

/// The edge's answer to a HELLO: serve it with these settings, keeping `lease` alive meanwhile.
pub struct Admission {
    /// The device's settings (its route).
    pub cfg: SessionConfig,
    /// Dropped when the session's sink is.
    pub lease: Option<Lease>,
}

/// The edge will not serve a HELLO: the device gets ERROR `code` with `text`, and the session
/// closes before anything is allocated for the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// ERROR code (usually [`ErrorCode::Refused`]).
    pub code: ErrorCode,
    /// Why, for the device (cut to 120 bytes on the wire) and the log.
    pub text: String,
}

/// Decides on a device's HELLO: its settings (its route), or a refusal.
pub type Router = Box<dyn FnMut(&Hello) -> Result<Admission, Refusal> + Send>;

/// The smallest `frame_buffer_bytes` (other than 0, no limit) a device may declare: one RECT
/// message (4-byte header included, as the device stages it) as large as the device's packet, or
/// carrying one whole panel row in RAW if that is smaller. Anything less cannot stage the RECTs the
/// encoder cuts a rectangle into.
pub fn min_frame_buffer_bytes(hello: &Hello) -> u32 {
    let raw_row = hello.pixel_format.row_bytes(usize::from(hello.width)) as u32;
    let row = pixelwire_proto::message::RECT_FIELDS_LEN as u32 + raw_row;
    pixelwire_proto::message::HEADER_LEN as u32 + row.min(u32::from(hello.max_packet_bytes))
}

/// The memory a session for `hello` with `cfg` may hold, bytes: its sink's
/// ([`DisplaySink::memory_bytes`]) plus the encoder's packet-sized scratch.
pub fn display_memory_bytes(hello: &Hello, cfg: &SessionConfig) -> u64 {
    DisplaySink::memory_bytes(u32::from(hello.width), u32::from(hello.height), &cfg.sink)
        + 3 * u64::from(hello.max_packet_bytes)
}

/// One display connection; see the module docs.
pub struct DisplaySession {
    cfg: SessionConfig,
    router: Option<Router>,
    state: State,
    decoder: Decoder,
    transmit: Vec<u8>,
    events: VecDeque<SessionEvent>,
    pending: Option<std::sync::Arc<Frame>>,
    in_flight: VecDeque<InFlight>,
    next_seq: u32,
    /// The last frame left damage for later (budget), so send again even without a new frame.
    damage_left: bool,
    last_rx: Timestamp,
    last_ping: Timestamp,
    stopwatch: Option<Box<dyn Stopwatch>>,
}

impl std::fmt::Debug for DisplaySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisplaySession")
            .field("state", &self.state)
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

impl DisplaySession {
    /// A session for a connection accepted at `now`.
    pub fn new(now: Timestamp, cfg: SessionConfig, stopwatch: Box<dyn Stopwatch>) -> Self {
        Self {
            cfg,
            router: None,
            state: State::AwaitHello {
                deadline: now + cfg.hello_timeout,
            },
            decoder: Decoder::new(0),
            transmit: Vec::new(),
            events: VecDeque::new(),
            pending: None,
            in_flight: VecDeque::new(),
            next_seq: 1,
            damage_left: false,
            last_rx: now,
            last_ping: now,
            stopwatch: Some(stopwatch),
        }
    }

    /// Settings chosen per device: `router` maps the HELLO to the session's configuration.
    #[must_use]
    pub fn with_router(mut self, router: Router) -> Self {
        self.router = Some(router);
        self
    }

    /// The device's HELLO, once received.
    pub fn hello(&self) -> Option<&Hello> {
        match &self.state {
            State::Streaming { hello, .. } => Some(hello),
            _ => None,
        }
    }

    /// The agreed WELCOME, once sent.
    pub fn welcome(&self) -> Option<&Welcome> {
        match &self.state {
            State::Streaming { welcome, .. } => Some(welcome),
            _ => None,
        }
    }

    /// The sink core (shadow, rate controller), once streaming.
    pub fn sink(&self) -> Option<&DisplaySink> {
        match &self.state {
            State::Streaming { sink, .. } => Some(sink),
            _ => None,
        }
    }

    /// What the panel shows, once streaming.
    pub fn shadow(&self) -> Option<&Rgb565Image> {
        self.sink().map(DisplaySink::shadow)
    }

    /// Frames sent and not yet acknowledged.
    pub fn frames_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// True once the session has ended (after draining its last bytes, close the socket).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Bytes to write to the socket, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.transmit.is_empty()).then(|| std::mem::take(&mut self.transmit))
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`DisplaySession::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match &self.state {
            State::AwaitHello { deadline } => Some(*deadline),
            State::Streaming { .. } => Some(
                (self.last_ping + self.cfg.keepalive).min(self.last_rx + self.cfg.keepalive * 3),
            ),
            State::Closed => None,
        }
    }

    /// Bytes arrived from the device.
    pub fn handle_input(&mut self, now: Timestamp, mut input: &[u8]) {
        if self.is_closed() {
            return;
        }
        self.last_rx = now;
        while !input.is_empty() && !self.is_closed() {
            match self.decoder.decode(input) {
                Err(e) => return self.fail(e),
                Ok((used, ev)) => {
                    input = &input[used..];
                    if let Some(ev) = ev {
                        self.on_event(now, ev);
                    } else if used == 0 {
                        break;
                    }
                }
            }
        }
        self.try_send_frame(now);
    }

    /// A new source frame (the newest wins; an older pending one is dropped).
    pub fn handle_frame(&mut self, now: Timestamp, frame: std::sync::Arc<Frame>) {
        if self.is_closed() {
            return;
        }
        self.pending = Some(frame);
        self.try_send_frame(now);
    }

    /// Time passed; call at or after [`DisplaySession::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Timestamp) {
        match &self.state {
            State::AwaitHello { deadline } if now >= *deadline => {
                self.close_with(
                    ErrorCode::Timeout,
                    "no HELLO received",
                    CloseReason::Timeout,
                );
            }
            State::Streaming { .. } => {
                if now >= self.last_rx + self.cfg.keepalive * 3 {
                    self.close_with(
                        ErrorCode::Timeout,
                        "peer silent for three keepalive intervals",
                        CloseReason::Timeout,
                    );
                    return;
                }
                if now >= self.last_ping + self.cfg.keepalive {
                    self.queue(|b| {
                        Ping {
                            time_us: now.as_micros(),
                        }
                        .encode(b)
                    });
                    self.last_ping = now;
                }
                self.try_send_frame(now);
            }
            _ => {}
        }
    }

    /// Switches the display's rate-control policy from its next frame (the page or the API
    /// chose it); before HELLO, the session's configuration takes it.
    pub fn set_prefer(&mut self, prefer: crate::rate::Prefer) {
        self.cfg.sink.rate.prefer = prefer;
        if let State::Streaming { sink, .. } = &mut self.state {
            sink.set_prefer(prefer);
        }
    }

    /// Ends the session from the server side (`Replaced`, `Shutdown`): queues an ERROR with `text`.
    pub fn close(&mut self, code: ErrorCode, text: &str) {
        if !self.is_closed() {
            self.close_with(code, text, CloseReason::Local(code));
        }
    }

    fn queue(&mut self, f: impl FnOnce(&mut [u8]) -> Result<usize, ProtoError>) {
        let mut buf = [0u8; 160];
        // Control messages are at most 132 bytes, so they always fit.
        if let Ok(n) = f(&mut buf) {
            self.transmit.extend_from_slice(&buf[..n]);
        }
    }

    fn close_with(&mut self, code: ErrorCode, text: &str, reason: CloseReason) {
        self.queue(|b| ErrorMsg::new(code, text).encode(b));
        self.state = State::Closed;
        self.events.push_back(SessionEvent::Closed(reason));
    }

    fn fail(&mut self, e: ProtoError) {
        let code = match e {
            ProtoError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            ProtoError::WrongDirection { .. } => ErrorCode::Unexpected,
            _ => ErrorCode::Malformed,
        };
        let text = e.to_string();
        self.close_with(code, &text, CloseReason::Protocol(text.clone()));
    }

    fn unexpected(&mut self, what: &str) {
        let text = format!("unexpected {what}");
        self.close_with(
            ErrorCode::Unexpected,
            &text,
            CloseReason::Protocol(text.clone()),
        );
    }

    fn on_event(&mut self, now: Timestamp, ev: Event<'_>) {
        match (&self.state, ev) {
            (State::AwaitHello { .. }, Event::Hello(hello)) => self.on_hello(now, hello),
            (State::AwaitHello { .. }, _) => self.unexpected("message before HELLO"),
            (State::Streaming { .. }, Event::Ack(ack)) => self.on_ack(now, ack.seq, ack.decode_us),
            (State::Streaming { .. }, Event::Ping(p)) => {
                self.queue(|b| {
                    Pong {
                        echo_us: p.time_us,
                        time_us: now.as_micros(),
                    }
                    .encode(b)
                });
            }
            (State::Streaming { .. }, Event::Pong(p)) => {
                let rtt = now.since(Timestamp::from_micros(p.echo_us));
                if let State::Streaming { sink, .. } = &mut self.state {
                    sink.on_rtt(now, rtt);
                }
            }
            (State::Streaming { .. }, Event::Stats(s)) => {
                if let State::Streaming { sink, .. } = &mut self.state {
                    sink.set_panel_rate(Some(f64::from(s.panel_pixels_per_s)));
                }
                self.events.push_back(SessionEvent::DeviceStats(s))
            }
            (_, Event::Error(e)) => {
                self.state = State::Closed;
                self.events
                    .push_back(SessionEvent::Closed(CloseReason::PeerError(
                        e.text.to_string(),
                    )));
            }
            (State::Streaming { .. }, Event::Hello(_)) => self.unexpected("second HELLO"),
            (State::Streaming { .. }, _) => self.unexpected("server-only message from a device"),
            (State::Closed, _) => {}
        }
    }

    fn on_hello(&mut self, now: Timestamp, hello: Hello) {
        let min_fb = min_frame_buffer_bytes(&hello);
        if hello.frame_buffer_bytes != 0 && hello.frame_buffer_bytes < min_fb {
            let text = format!(
                "frame_buffer_bytes {} cannot hold one RECT row; need at least {min_fb} (or 0)",
                hello.frame_buffer_bytes
            );
            return self.close_with(
                ErrorCode::Malformed,
                &text,
                CloseReason::Protocol(text.clone()),
            );
        }
        let mut lease = None;
        if let Some(route) = &mut self.router {
            match route(&hello) {
                Ok(admission) => {
                    self.cfg = admission.cfg;
                    lease = admission.lease;
                }
                Err(refusal) => {
                    return self.close_with(
                        refusal.code,
                        &refusal.text,
                        CloseReason::Refused(refusal.text.clone()),
                    );
                }
            }
        }
        let codecs = self.cfg.codecs.intersect(hello.codecs).with(Codec::Raw);
        let welcome = Welcome {
            version: PROTOCOL_VERSION,
            keepalive_ms: self.cfg.keepalive.as_millis().min(u128::from(u16::MAX)) as u16,
            window: self
                .cfg
                .window
                .clamp(1, pixelwire_proto::message::MAX_WINDOW)
                .min(hello.window),
            codecs,
        };
        self.queue(|b| welcome.encode(b));
        // A PING right away measures the round trip before the first (large) frame is queued.
        self.queue(|b| {
            Ping {
                time_us: now.as_micros(),
            }
            .encode(b)
        });
        self.last_ping = now;
        let stopwatch = self
            .stopwatch
            .take()
            .unwrap_or_else(|| Box::new(crate::time::NoClock));
        // The panel gets pixels in the format its HELLO declared, and only that one: a device
        // that declares none (an older HELLO's 0x00/0x01) is an RGB565 device.
        let mut sink = DisplaySink::with_format(
            u32::from(hello.width),
            u32::from(hello.height),
            hello.pixel_format,
            self.cfg.sink,
            stopwatch,
        );
        sink.invalidate();
        // The measured decode costs are per RGB565 token and pixel; grey units are not priced.
        if hello.pixel_format.is_rgb565() {
            sink.set_decode_cost(DecodeCost::for_firmware(hello.firmware.as_str()));
        }
        let format = WireFormat::Pixelwire {
            format: hello.pixel_format,
            codecs,
            max_packet_bytes: hello.max_packet_bytes,
        };
        self.state = State::Streaming {
            hello,
            welcome,
            sink: Box::new(sink),
            format,
            _lease: lease,
        };
        self.events.push_back(SessionEvent::Ready(hello));
    }

    fn on_ack(&mut self, now: Timestamp, seq: u32, decode_us: u32) {
        let Some(pos) = self.in_flight.iter().position(|f| f.seq == seq) else {
            if seq >= self.next_seq {
                let text = format!("ACK for frame {seq}, which was never sent");
                self.close_with(
                    ErrorCode::Unexpected,
                    &text,
                    CloseReason::Protocol(text.clone()),
                );
            }
            // An ACK for a frame already acknowledged is harmless.
            return;
        };
        // Acks are cumulative: frames before `seq` were presented too.
        for f in self.in_flight.drain(..=pos).collect::<Vec<_>>() {
            if let State::Streaming { sink, .. } = &mut self.state {
                sink.on_delivered(now, f.sent_at, f.bytes, f.pixels, f.device);
                let half_rtt = sink.rate().link.min_rtt().unwrap_or_default() / 2;
                let latency =
                    Duration::from_micros(now.as_micros().saturating_sub(f.capture_time_us))
                        .saturating_sub(half_rtt);
                self.events.push_back(SessionEvent::Presented(FrameReport {
                    seq: f.seq,
                    bytes: f.bytes,
                    rects: f.rects,
                    latency,
                    decode: Duration::from_micros(u64::from(decode_us)),
                }));
            }
        }
        if self.in_flight.is_empty()
            && let State::Streaming { sink, .. } = &mut self.state
        {
            sink.on_idle();
        }
    }

    fn try_send_frame(&mut self, now: Timestamp) {
        let State::Streaming {
            hello,
            welcome,
            sink,
            format,
            ..
        } = &mut self.state
        else {
            return;
        };
        // A second frame goes out only if the first leaves room; otherwise it would just queue.
        let inflight_bytes: u64 = self.in_flight.iter().map(|f| f.bytes).sum();
        if self.in_flight.len() >= usize::from(welcome.window)
            || !self.in_flight.is_empty() && inflight_bytes >= sink.rate().link.inflight_limit()
        {
            return;
        }
        if let Some(frame) = self.pending.take() {
            sink.set_frame(&frame);
        }
        // Send when there is a new frame, or damage a budget-limited frame left behind.
        if !sink.has_frame() || !(sink.has_fresh_frame() || self.damage_left) {
            return;
        }
        let cap = if hello.frame_buffer_bytes == 0 {
            usize::MAX
        } else {
            hello.frame_buffer_bytes as usize
        };
        let update = sink.build_update(format, cap);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        let rects = update.stats.messages;
        let end = FrameEnd {
            seq,
            capture_time_us: update.capture_time_us,
            rect_count: rects.min(u32::from(u16::MAX)) as u16,
        };
        self.transmit.extend_from_slice(&update.bytes);
        self.queue(|b| end.encode(b));
        let bytes = update.bytes.len() as u64 + 18;
        self.in_flight.push_back(InFlight {
            seq,
            sent_at: now,
            bytes,
            rects,
            pixels: update.stats.pixels,
            device: update.stats.device_time(),
            capture_time_us: update.capture_time_us,
        });
        self.damage_left = !update.complete;
        self.events.push_back(SessionEvent::Sent(FrameSent {
            seq,
            bytes,
            rects,
            pixels: update.stats.pixels,
            level: update.level.get(),
            complete: update.complete,
            source_seq: update.source_seq,
            psnr_db: update.psnr_db,
            stages: update.stages,
        }));
    }
}
