//! The one error type of the wire protocol. Small, `Copy`, and printable without allocation, so the
//! firmware can report it on its status screen and the server can send it back as an ERROR message.

use core::fmt;

/// Everything that can be wrong with bytes received from a peer, or with a message we were asked
/// to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoError {
    /// A message kind this side does not know.
    UnknownKind(u8),
    /// The reserved flags byte of a message header was not zero.
    ReservedFlags(u8),
    /// A control message announced more payload than it may carry.
    ControlTooLong {
        /// The message kind.
        kind: u8,
        /// The announced payload length.
        len: u16,
    },
    /// A message payload was shorter than its fixed fields.
    Truncated {
        /// The message kind.
        kind: u8,
    },
    /// The HELLO did not start with the `PXWL` magic: the peer does not speak pixelwire.
    BadMagic,
    /// The peer speaks a protocol version this side does not.
    UnsupportedVersion(u16),
    /// A field had a value outside its documented range.
    BadField(&'static str),
    /// A rectangle used a codec id this side does not know.
    UnknownCodec(u8),
    /// A rectangle's payload decoded to more or fewer pixels than `w * h`, or ended inside a token.
    PixelCountMismatch,
    /// A palette index pointed past the palette.
    BadPaletteIndex(u8),
    /// An output buffer was too small for the message being encoded.
    BufferTooSmall,
    /// A message that is only sent the other way (a RECT from a device).
    WrongDirection {
        /// The message kind.
        kind: u8,
    },
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownKind(k) => write!(f, "unknown message kind 0x{k:02x}"),
            Self::ReservedFlags(v) => write!(f, "reserved header flags must be 0, got 0x{v:02x}"),
            Self::ControlTooLong { kind, len } => {
                write!(f, "control message 0x{kind:02x} too long ({len} bytes)")
            }
            Self::Truncated { kind } => write!(f, "message 0x{kind:02x} is truncated"),
            Self::BadMagic => f.write_str("not a pixelwire HELLO (bad magic)"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "unsupported protocol version {v}; this side speaks version {}",
                crate::PROTOCOL_VERSION
            ),
            Self::BadField(name) => write!(f, "field {name} is out of range"),
            Self::UnknownCodec(c) => write!(f, "unknown codec 0x{c:02x}"),
            Self::PixelCountMismatch => f.write_str("rect payload does not decode to w*h pixels"),
            Self::BadPaletteIndex(i) => write!(f, "palette index {i} is out of range"),
            Self::BufferTooSmall => f.write_str("output buffer too small"),
            Self::WrongDirection { kind } => {
                write!(f, "message 0x{kind:02x} is not sent in this direction")
            }
        }
    }
}

impl core::error::Error for ProtoError {}
