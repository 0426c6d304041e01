//! Message kinds and the fixed-layout control messages of the pixelwire display protocol, version 1.
//! `docs/protocol.md` is the byte-by-byte reference; this file is its implementation.
//!
//! Every message is a 4-byte header followed by `len` payload bytes:
//!
//! ```text
//! offset size field
//! 0      1    kind   (see [`Kind`])
//! 1      1    flags  (reserved, must be 0)
//! 2      2    len    u16 LE, payload length
//! ```
//!
//! Control messages (everything but RECT) carry at most [`MAX_CONTROL_PAYLOAD`] bytes and are decoded
//! whole; RECT payloads are streamed through the pixel codecs (see [`crate::codec`]).

use crate::ProtoError;
use crate::codec::CodecSet;
use crate::format::PixelFormat;
use crate::short_str::ShortStr;
use crate::wire::{Reader, Writer};

/// The four bytes that open every HELLO payload.
pub const MAGIC: [u8; 4] = *b"PXWL";
/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// Size of the message header.
pub const HEADER_LEN: usize = 4;
/// Largest payload of any control message.
pub const MAX_CONTROL_PAYLOAD: usize = 128;
/// Size of the fixed RECT fields that precede the codec payload.
pub const RECT_FIELDS_LEN: usize = 9;
/// Smallest `max_packet_bytes` a device may declare: a RECT header plus a useful payload.
pub const MIN_PACKET_BYTES: u16 = 64;
/// Largest panel side, in pixels.
pub const MAX_PANEL_SIDE: u16 = 4096;
/// Largest `window` a device may declare.
pub const MAX_WINDOW: u8 = 8;
/// Longest device id, in bytes.
pub const DEVICE_ID_MAX: usize = 32;
/// Longest firmware version string, in bytes.
pub const FIRMWARE_MAX: usize = 32;
/// Longest ERROR text, in bytes.
pub const ERROR_TEXT_MAX: usize = 120;

/// Message kinds. Values below 0x80 may be sent by either side or by the device; 0x80 and up only
/// by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// device → server: the opening message.
    Hello = 0x01,
    /// device → server: a frame was presented.
    Ack = 0x02,
    /// either way: keepalive probe carrying the sender's clock.
    Ping = 0x03,
    /// either way: answer to a PING.
    Pong = 0x04,
    /// device → server: the device's own figures.
    Stats = 0x05,
    /// either way: a fatal error; the sender closes after it.
    Error = 0x7F,
    /// server → device: answer to HELLO.
    Welcome = 0x81,
    /// server → device: one rectangle of pixels.
    Rect = 0x90,
    /// server → device: present everything received since the previous FRAME_END.
    FrameEnd = 0x91,
}

impl Kind {
    /// Parses a wire kind byte.
    pub fn from_wire(v: u8) -> Result<Self, ProtoError> {
        Ok(match v {
            0x01 => Self::Hello,
            0x02 => Self::Ack,
            0x03 => Self::Ping,
            0x04 => Self::Pong,
            0x05 => Self::Stats,
            0x7F => Self::Error,
            0x81 => Self::Welcome,
            0x90 => Self::Rect,
            0x91 => Self::FrameEnd,
            other => return Err(ProtoError::UnknownKind(other)),
        })
    }
}

/// Writes a message header for `payload_len` bytes of `kind`.
pub fn write_header(out: &mut [u8], kind: Kind, payload_len: usize) -> Result<usize, ProtoError> {
    let len = u16::try_from(payload_len).map_err(|_| ProtoError::BufferTooSmall)?;
    let mut w = Writer::new(out);
    w.u8(kind as u8)?;
    w.u8(0)?;
    w.u16(len)?;
    Ok(HEADER_LEN)
}

/// Device → server, first message on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Protocol version the device speaks.
    pub version: u16,
    /// Panel width in pixels, in the rotation the device uses.
    pub width: u16,
    /// Panel height in pixels.
    pub height: u16,
    /// How pixels travel on the wire: RGB565 in a byte order (the only choice before grey
    /// panels, and what the byte's values `0x00`/`0x01` still mean), grey or monochrome.
    pub pixel_format: PixelFormat,
    /// Codecs the device decodes. Must include RAW.
    pub codecs: CodecSet,
    /// Largest message payload (RECT fields + codec payload) the device accepts.
    pub max_packet_bytes: u16,
    /// Largest sum of RECT payloads in one frame the device can stage before presenting it;
    /// 0 means no limit (the device keeps a whole framebuffer).
    pub frame_buffer_bytes: u32,
    /// Frames the device can have outstanding (sent, not yet acknowledged), 1..=8.
    pub window: u8,
    /// Stable device id: 1..=32 bytes of `[A-Za-z0-9._-]`.
    pub device_id: ShortStr<DEVICE_ID_MAX>,
    /// Firmware version text, free form, up to 32 bytes.
    pub firmware: ShortStr<FIRMWARE_MAX>,
}

fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl Hello {
    /// Checks the field ranges documented in `docs/protocol.md`.
    pub fn validate(&self) -> Result<(), ProtoError> {
        if self.version != PROTOCOL_VERSION {
            return Err(ProtoError::UnsupportedVersion(self.version));
        }
        if self.width == 0 || self.width > MAX_PANEL_SIDE {
            return Err(ProtoError::BadField("width"));
        }
        if self.height == 0 || self.height > MAX_PANEL_SIDE {
            return Err(ProtoError::BadField("height"));
        }
        if !self.codecs.contains(crate::Codec::Raw) {
            return Err(ProtoError::BadField("codecs"));
        }
        if self.max_packet_bytes < MIN_PACKET_BYTES {
            return Err(ProtoError::BadField("max_packet_bytes"));
        }
        if self.window == 0 || self.window > MAX_WINDOW {
            return Err(ProtoError::BadField("window"));
        }
        if !valid_device_id(self.device_id.as_str()) {
            return Err(ProtoError::BadField("device_id"));
        }
        Ok(())
    }

    /// Encodes header and payload into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ProtoError> {
        let payload =
            4 + 2 + 2 + 2 + 1 + 2 + 2 + 4 + 1 + 1 + self.device_id.len() + 1 + self.firmware.len();
        write_header(out, Kind::Hello, payload)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.bytes(&MAGIC)?;
        w.u16(self.version)?;
        w.u16(self.width)?;
        w.u16(self.height)?;
        w.u8(self.pixel_format.to_wire())?;
        w.u16(self.codecs.bits())?;
        w.u16(self.max_packet_bytes)?;
        w.u32(self.frame_buffer_bytes)?;
        w.u8(self.window)?;
        w.u8(self.device_id.len() as u8)?;
        w.bytes(self.device_id.as_str().as_bytes())?;
        w.u8(self.firmware.len() as u8)?;
        w.bytes(self.firmware.as_str().as_bytes())?;
        Ok(HEADER_LEN + w.position())
    }

    /// Parses a HELLO payload. The magic and version are checked before anything else, so a future
    /// version with another layout still gets a clear "unsupported version" answer.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Kind::Hello as u8, payload);
        if r.bytes(4).map_err(|_| ProtoError::BadMagic)? != MAGIC {
            return Err(ProtoError::BadMagic);
        }
        let version = r.u16()?;
        if version != PROTOCOL_VERSION {
            return Err(ProtoError::UnsupportedVersion(version));
        }
        let width = r.u16()?;
        let height = r.u16()?;
        let pixel_format =
            PixelFormat::from_wire(r.u8()?).ok_or(ProtoError::BadField("pixel_format"))?;
        let codecs = CodecSet::from_bits(r.u16()?);
        let max_packet_bytes = r.u16()?;
        let frame_buffer_bytes = r.u32()?;
        let window = r.u8()?;
        let id_len = r.u8()? as usize;
        let device_id =
            ShortStr::from_utf8(r.bytes(id_len)?).ok_or(ProtoError::BadField("device_id"))?;
        let fw_len = r.u8()? as usize;
        let firmware =
            ShortStr::from_utf8(r.bytes(fw_len)?).ok_or(ProtoError::BadField("firmware"))?;
        let hello = Self {
            version,
            width,
            height,
            pixel_format,
            codecs,
            max_packet_bytes,
            frame_buffer_bytes,
            window,
            device_id,
            firmware,
        };
        hello.validate()?;
        Ok(hello)
    }
}

/// Server → device, the answer to a valid HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Welcome {
    /// Protocol version the server will speak (equal to the device's).
    pub version: u16,
    /// Each side sends a PING when it has sent nothing for this long; a peer silent for three
    /// intervals is dead.
    pub keepalive_ms: u16,
    /// Frames the server will keep in flight: `min(server window, device window)`.
    pub window: u8,
    /// Codecs the server may use: a subset of the device's.
    pub codecs: CodecSet,
}

impl Welcome {
    /// Encodes header and payload into `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ProtoError> {
        write_header(out, Kind::Welcome, 7)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.u16(self.version)?;
        w.u16(self.keepalive_ms)?;
        w.u8(self.window)?;
        w.u16(self.codecs.bits())?;
        Ok(HEADER_LEN + 7)
    }

    /// Parses a WELCOME payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Kind::Welcome as u8, payload);
        Ok(Self {
            version: r.u16()?,
            keepalive_ms: r.u16()?,
            window: r.u8()?,
            codecs: CodecSet::from_bits(r.u16()?),
        })
    }
}

/// Device → server: frame `seq` is on the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The FRAME_END sequence number being acknowledged.
    pub seq: u32,
    /// When the frame was presented, in the device's clock (µs, any epoch).
    pub present_time_us: u64,
    /// Time from the frame's first byte to its presentation, µs.
    pub decode_us: u32,
}

impl Ack {
    /// Encodes header and payload into `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ProtoError> {
        write_header(out, Kind::Ack, 16)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.u32(self.seq)?;
        w.u64(self.present_time_us)?;
        w.u32(self.decode_us)?;
        Ok(HEADER_LEN + 16)
    }

    /// Parses an ACK payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Kind::Ack as u8, payload);
        Ok(Self {
            seq: r.u32()?,
            present_time_us: r.u64()?,
            decode_us: r.u32()?,
        })
    }
}

/// Either way: keepalive probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    /// The sender's clock when sent, µs (any epoch); echoed in the PONG.
    pub time_us: u64,
}

impl Ping {
    /// Encodes header and payload into `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ProtoError> {
        write_header(out, Kind::Ping, 8)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.u64(self.time_us)?;
        Ok(HEADER_LEN + 8)
    }

    /// Parses a PING payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        Ok(Self {
            time_us: Reader::new(Kind::Ping as u8, payload).u64()?,
        })
    }
}

/// Either way: answer to a PING. Lets the PING's sender measure the round trip and the offset
/// between the two clocks (`offset ≈ time_us - (echo_us + receive_time) / 2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong {
    /// The PING's `time_us`.
    pub echo_us: u64,
    /// The responder's clock when answering, µs.
    pub time_us: u64,
}

impl Pong {
    /// Encodes header and payload into `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ProtoError> {
        write_header(out, Kind::Pong, 16)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.u64(self.echo_us)?;
        w.u64(self.time_us)?;
        Ok(HEADER_LEN + 16)
    }

    /// Parses a PONG payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Kind::Pong as u8, payload);
        Ok(Self {
            echo_us: r.u64()?,
            time_us: r.u64()?,
        })
    }
}

/// Device → server: the device's own figures, sent about once a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Frames presented per second × 100.
    pub fps_centi: u16,
    /// Mean time to decode and present a frame, µs.
    pub decode_us: u32,
    /// Mean time spent writing pixels to the panel per frame, µs.
    pub panel_us: u32,
    /// WiFi signal, dBm (0 = unknown).
    pub rssi_dbm: i8,
    /// Free heap, bytes (0 = unknown).
    pub free_heap_bytes: u32,
    /// Pixels per second the panel takes while being written (0 = unknown). The server's rate
    /// control uses it to tell a slow link from a slow panel.
    pub panel_pixels_per_s: u32,
}

impl Stats {
    /// Encodes header and payload into `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ProtoError> {
        write_header(out, Kind::Stats, 19)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.u16(self.fps_centi)?;
        w.u32(self.decode_us)?;
        w.u32(self.panel_us)?;
        w.u8(self.rssi_dbm as u8)?;
        w.u32(self.free_heap_bytes)?;
        w.u32(self.panel_pixels_per_s)?;
        Ok(HEADER_LEN + 19)
    }

    /// Parses a STATS payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Kind::Stats as u8, payload);
        Ok(Self {
            fps_centi: r.u16()?,
            decode_us: r.u32()?,
            panel_us: r.u32()?,
            rssi_dbm: r.u8()? as i8,
            free_heap_bytes: r.u32()?,
            panel_pixels_per_s: r.u32()?,
        })
    }
}

/// Reasons carried by an ERROR message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorCode {
    /// Anything else.
    Other = 0x00,
    /// The peer's protocol version is not supported.
    UnsupportedVersion = 0x01,
    /// The peer sent bytes that do not parse.
    Malformed = 0x02,
    /// The peer sent a message that is not allowed in this direction or state.
    Unexpected = 0x03,
    /// A newer connection with the same device id took over.
    Replaced = 0x04,
    /// The peer was silent for too long.
    Timeout = 0x05,
    /// The server is shutting down.
    Shutdown = 0x06,
    /// The server will not serve this HELLO: a limit or a rule (the display memory budget is
    /// spent, or the device id is held by a device at another address); the text says which.
    Refused = 0x07,
}

impl ErrorCode {
    /// Parses the wire value; unknown values map to [`ErrorCode::Other`].
    pub fn from_wire(v: u8) -> Self {
        match v {
            0x01 => Self::UnsupportedVersion,
            0x02 => Self::Malformed,
            0x03 => Self::Unexpected,
            0x04 => Self::Replaced,
            0x05 => Self::Timeout,
            0x06 => Self::Shutdown,
            0x07 => Self::Refused,
            _ => Self::Other,
        }
    }
}

/// Either way: the sender is about to close, and says why in plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorMsg {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Human-readable reason, up to 120 bytes of UTF-8.
    pub text: ShortStr<ERROR_TEXT_MAX>,
}

impl ErrorMsg {
    /// An error with `text` cut to 120 bytes.
    pub fn new(code: ErrorCode, text: &str) -> Self {
        Self {
            code,
            text: ShortStr::truncating(text),
        }
    }

    /// Encodes header and payload into `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ProtoError> {
        let len = 1 + self.text.len();
        write_header(out, Kind::Error, len)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.u8(self.code as u8)?;
        w.bytes(self.text.as_str().as_bytes())?;
        Ok(HEADER_LEN + len)
    }

    /// Parses an ERROR payload. Invalid UTF-8 in the text is replaced by a fixed note rather than
    /// rejected: an error report should always get through.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Kind::Error as u8, payload);
        let code = ErrorCode::from_wire(r.u8()?);
        let text = ShortStr::from_utf8(r.rest())
            .unwrap_or_else(|| ShortStr::truncating("(error text was not UTF-8)"));
        Ok(Self { code, text })
    }
}

/// Server → device: end of frame `seq`; present everything received since the previous FRAME_END,
/// then acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEnd {
    /// Frame sequence number, +1 per frame on a connection, starting at 1.
    pub seq: u32,
    /// When the source frame was captured or rendered, server wall clock, µs since the Unix epoch.
    pub capture_time_us: u64,
    /// Number of RECT messages in this frame (a check for the device).
    pub rect_count: u16,
}

impl FrameEnd {
    /// Encodes header and payload into `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ProtoError> {
        write_header(out, Kind::FrameEnd, 14)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.u32(self.seq)?;
        w.u64(self.capture_time_us)?;
        w.u16(self.rect_count)?;
        Ok(HEADER_LEN + 14)
    }

    /// Parses a FRAME_END payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Kind::FrameEnd as u8, payload);
        Ok(Self {
            seq: r.u32()?,
            capture_time_us: r.u64()?,
            rect_count: r.u16()?,
        })
    }
}

/// The fixed fields of a RECT message; the codec payload follows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RectHeader {
    /// Left column on the panel.
    pub x: u16,
    /// Top row on the panel.
    pub y: u16,
    /// Width in pixels, ≥ 1.
    pub w: u16,
    /// Height in pixels, ≥ 1.
    pub h: u16,
    /// Codec of the payload.
    pub codec: crate::Codec,
}

impl RectHeader {
    /// Pixels in the rectangle.
    pub fn pixel_count(&self) -> u32 {
        u32::from(self.w) * u32::from(self.h)
    }

    /// Writes the message header and the RECT fields for a codec payload of `payload_len` bytes;
    /// the payload goes right after the returned length.
    pub fn encode(&self, out: &mut [u8], payload_len: usize) -> Result<usize, ProtoError> {
        write_header(out, Kind::Rect, RECT_FIELDS_LEN + payload_len)?;
        let mut w = Writer::new(
            out.get_mut(HEADER_LEN..)
                .ok_or(ProtoError::BufferTooSmall)?,
        );
        w.u16(self.x)?;
        w.u16(self.y)?;
        w.u16(self.w)?;
        w.u16(self.h)?;
        w.u8(self.codec as u8)?;
        Ok(HEADER_LEN + RECT_FIELDS_LEN)
    }

    /// Parses the fixed RECT fields.
    pub fn decode(fields: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Kind::Rect as u8, fields);
        let x = r.u16()?;
        let y = r.u16()?;
        let w = r.u16()?;
        let h = r.u16()?;
        let codec = crate::Codec::from_wire(r.u8()?)?;
        if w == 0 || h == 0 {
            return Err(ProtoError::BadField("rect size"));
        }
        Ok(Self { x, y, w, h, codec })
    }
}
