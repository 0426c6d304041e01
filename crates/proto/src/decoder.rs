//! The incremental message decoder, shared by the server (device → server direction), the display
//! emulator and the firmware (server → device direction).
//!
//! Feed it bytes exactly as they come off the socket, split anywhere; it never buffers a RECT payload
//! (pixels stream out as [`Event::Pixels`] / [`Event::Fill`] borrowed from the input) and keeps at most
//! one control payload ([`MAX_CONTROL_PAYLOAD`] bytes) inside. Errors are sticky: after one, every
//! call returns it again, because the byte stream has no resync point.

use crate::ProtoError;
use crate::codec::{CodecDecoder, PixelChunk, PixelRun};
use crate::format::PixelFormat;
use crate::message::{
    Ack, ErrorMsg, FrameEnd, HEADER_LEN, Hello, Kind, MAX_CONTROL_PAYLOAD, Ping, Pong,
    RECT_FIELDS_LEN, RectHeader, Stats, Welcome,
};

/// One decoded item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A HELLO (device → server).
    Hello(Hello),
    /// A WELCOME (server → device).
    Welcome(Welcome),
    /// An ACK (device → server).
    Ack(Ack),
    /// A PING.
    Ping(Ping),
    /// A PONG.
    Pong(Pong),
    /// A STATS report (device → server).
    Stats(Stats),
    /// An ERROR; the peer closes after it.
    Error(ErrorMsg),
    /// A RECT starts; its pixels follow as `Pixels`/`Fill` events, then `RectEnd`.
    RectBegin(RectHeader),
    /// Pixel bytes of the current rect as RAW carries them: RGB565 in the device's pixel order
    /// (may split a pixel), or packed grey rows.
    Pixels(&'a [u8]),
    /// Pixel bytes of the current rect computed by the decoder (DCT), by value; otherwise as
    /// [`Event::Pixels`].
    Chunk(PixelChunk),
    /// `count` copies of one codec unit in the current rect.
    Fill {
        /// Two bytes in the device's pixel order (RGB565), or the grey unit byte twice.
        pixel: [u8; 2],
        /// Repeat count.
        count: u32,
    },
    /// The current rect is complete.
    RectEnd,
    /// A FRAME_END: present the frame.
    FrameEnd(FrameEnd),
}

// `RectBody` holds the codec decoder by value (see `CodecDecoder`).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum State {
    Header {
        have: u8,
    },
    Control {
        kind: Kind,
        len: u16,
        have: u16,
    },
    RectFields {
        len: u16,
        have: u8,
    },
    RectBody {
        payload_left: u16,
        codec: CodecDecoder,
    },
    RectEnd,
    Failed(ProtoError),
}

/// Incremental decoder for a pixelwire byte stream; see the module docs.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    header: [u8; HEADER_LEN],
    control: [u8; MAX_CONTROL_PAYLOAD],
    rect: [u8; RECT_FIELDS_LEN],
    max_rect_payload: u16,
    format: PixelFormat,
    check_only: bool,
    /// DCT's buffers, allocated with the decoder and reused by every DCT RECT.
    dct: crate::codec::dct::Scratch,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(u16::MAX)
    }
}

impl Decoder {
    /// A decoder that rejects RECT messages whose payload exceeds `max_rect_payload` bytes (a device
    /// passes the `max_packet_bytes` it declared). `0` means this side never receives a RECT (the
    /// server): one is [`ProtoError::WrongDirection`], not an oversized payload.
    pub fn new(max_rect_payload: u16) -> Self {
        Self {
            state: State::Header { have: 0 },
            header: [0; HEADER_LEN],
            control: [0; MAX_CONTROL_PAYLOAD],
            rect: [0; RECT_FIELDS_LEN],
            max_rect_payload,
            format: PixelFormat::default(),
            check_only: false,
            dct: crate::codec::dct::Scratch::default(),
        }
    }

    /// This decoder for a side that only checks RECTs (the firmware's receive pass, which stages
    /// the bytes and ignores the pixels): every byte is still validated, but lossy codecs skip
    /// the work that only produces pixels and emit a [`Event::Fill`] of the right count instead.
    #[must_use]
    pub fn checking_only(mut self) -> Self {
        self.check_only = true;
        self
    }

    /// This decoder for RECTs in `format` (the device's HELLO `pixel_format`; RGB565 by
    /// default): it counts codec units of that format and rejects a RECT whose `x` is not a
    /// multiple of [`PixelFormat::x_align`].
    #[must_use]
    pub fn with_format(mut self, format: PixelFormat) -> Self {
        self.format = format;
        self
    }

    /// True between messages (no message is partly read).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Header { have: 0 })
    }

    /// Consumes a prefix of `input` and maybe returns an event. Call again with the rest while it
    /// consumes bytes or returns events; `(0, None)` means "need more input".
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), ProtoError> {
        let r = self.step(input);
        if let Err(e) = r {
            self.state = State::Failed(e);
        }
        r
    }

    /// Iterates over the events in `input`. Stops at the end of the input or at the first error.
    pub fn feed<'d, 'a>(&'d mut self, input: &'a [u8]) -> Events<'d, 'a> {
        Events {
            decoder: self,
            input,
            done: false,
        }
    }

    fn step<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>), ProtoError> {
        match &mut self.state {
            State::Failed(e) => Err(*e),
            State::RectEnd => {
                self.state = State::Header { have: 0 };
                Ok((0, Some(Event::RectEnd)))
            }
            State::Header { have } => {
                let have_n = *have as usize;
                let n = (HEADER_LEN - have_n).min(input.len());
                self.header[have_n..have_n + n].copy_from_slice(&input[..n]);
                let have_n = have_n + n;
                if have_n < HEADER_LEN {
                    self.state = State::Header { have: have_n as u8 };
                    return Ok((n, None));
                }
                let kind = Kind::from_wire(self.header[0])?;
                if self.header[1] != 0 {
                    return Err(ProtoError::ReservedFlags(self.header[1]));
                }
                let len = u16::from_le_bytes([self.header[2], self.header[3]]);
                if kind == Kind::Rect {
                    if self.max_rect_payload == 0 {
                        return Err(ProtoError::WrongDirection { kind: kind as u8 });
                    }
                    if (len as usize) < RECT_FIELDS_LEN {
                        return Err(ProtoError::Truncated { kind: kind as u8 });
                    }
                    if len > self.max_rect_payload {
                        return Err(ProtoError::BadField(
                            "rect payload exceeds max_packet_bytes",
                        ));
                    }
                    self.state = State::RectFields { len, have: 0 };
                    return Ok((n, None));
                }
                if len as usize > MAX_CONTROL_PAYLOAD {
                    return Err(ProtoError::ControlTooLong {
                        kind: kind as u8,
                        len,
                    });
                }
                self.state = State::Control { kind, len, have: 0 };
                if len == 0 {
                    // A zero-length control message completes right here.
                    return self.finish_control(kind, 0).map(|ev| (n, Some(ev)));
                }
                Ok((n, None))
            }
            State::Control { kind, len, have } => {
                let (kind, len, h) = (*kind, *len as usize, *have as usize);
                let n = (len - h).min(input.len());
                self.control[h..h + n].copy_from_slice(&input[..n]);
                if h + n < len {
                    self.state = State::Control {
                        kind,
                        len: len as u16,
                        have: (h + n) as u16,
                    };
                    return Ok((n, None));
                }
                self.finish_control(kind, len).map(|ev| (n, Some(ev)))
            }
            State::RectFields { len, have } => {
                let (len, h) = (*len, *have as usize);
                let n = (RECT_FIELDS_LEN - h).min(input.len());
                self.rect[h..h + n].copy_from_slice(&input[..n]);
                if h + n < RECT_FIELDS_LEN {
                    self.state = State::RectFields {
                        len,
                        have: (h + n) as u8,
                    };
                    return Ok((n, None));
                }
                let hdr = RectHeader::decode(&self.rect)?;
                if hdr.x % self.format.x_align() != 0 {
                    return Err(ProtoError::BadField("rect x alignment"));
                }
                let payload_left = len - RECT_FIELDS_LEN as u16;
                self.state = State::RectBody {
                    payload_left,
                    codec: CodecDecoder::new(hdr.codec, self.format, hdr.w, hdr.h)?
                        .checking_only(self.check_only),
                };
                Ok((n, Some(Event::RectBegin(hdr))))
            }
            State::RectBody {
                payload_left,
                codec,
            } => {
                if *payload_left == 0 {
                    if codec.is_draining() {
                        // The payload is read; the codec still has pixels to hand out.
                        let (_, run) = codec.step(&[], &mut self.dct)?;
                        return Ok((0, run.map(run_event)));
                    }
                    if !codec.is_done() {
                        return Err(ProtoError::PixelCountMismatch);
                    }
                    self.state = State::Header { have: 0 };
                    return Ok((0, Some(Event::RectEnd)));
                }
                let avail = &input[..input.len().min(*payload_left as usize)];
                let (used, run) = codec.step(avail, &mut self.dct)?;
                if used == 0 && run.is_none() && !avail.is_empty() {
                    // The codec has produced every pixel but payload bytes remain.
                    return Err(ProtoError::PixelCountMismatch);
                }
                *payload_left -= used as u16;
                if *payload_left == 0 && !codec.is_draining() {
                    if !codec.is_done() {
                        return Err(ProtoError::PixelCountMismatch);
                    }
                    // Emit this run now, RectEnd on the next call.
                    self.state = State::RectEnd;
                    if run.is_none() {
                        self.state = State::Header { have: 0 };
                        return Ok((used, Some(Event::RectEnd)));
                    }
                }
                Ok((used, run.map(run_event)))
            }
        }
    }

    fn finish_control(&mut self, kind: Kind, len: usize) -> Result<Event<'static>, ProtoError> {
        let p = &self.control[..len];
        let ev = match kind {
            Kind::Hello => Event::Hello(Hello::decode(p)?),
            Kind::Welcome => Event::Welcome(Welcome::decode(p)?),
            Kind::Ack => Event::Ack(Ack::decode(p)?),
            Kind::Ping => Event::Ping(Ping::decode(p)?),
            Kind::Pong => Event::Pong(Pong::decode(p)?),
            Kind::Stats => Event::Stats(Stats::decode(p)?),
            Kind::Error => Event::Error(ErrorMsg::decode(p)?),
            Kind::FrameEnd => Event::FrameEnd(FrameEnd::decode(p)?),
            // RECT never reaches the control path (see `step`).
            Kind::Rect => return Err(ProtoError::UnknownKind(kind as u8)),
        };
        self.state = State::Header { have: 0 };
        Ok(ev)
    }
}

fn run_event(run: PixelRun<'_>) -> Event<'_> {
    match run {
        PixelRun::Bytes(b) => Event::Pixels(b),
        PixelRun::Chunk(c) => Event::Chunk(c),
        PixelRun::Fill { pixel, count } => Event::Fill { pixel, count },
    }
}

/// Iterator returned by [`Decoder::feed`].
pub struct Events<'d, 'a> {
    decoder: &'d mut Decoder,
    input: &'a [u8],
    done: bool,
}

impl<'a> Iterator for Events<'_, 'a> {
    type Item = Result<Event<'a>, ProtoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.decoder.decode(self.input) {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok((used, ev)) => {
                    self.input = &self.input[used..];
                    if let Some(ev) = ev {
                        return Some(Ok(ev));
                    }
                    if used == 0 {
                        self.done = true;
                        return None;
                    }
                }
            }
        }
    }
}
