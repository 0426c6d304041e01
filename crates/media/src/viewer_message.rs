//! The binary messages of the browser viewer WebSocket (`docs/api.md`, "Viewer WebSocket"): a
//! 16-byte little-endian header, then an H.264 access unit (Annex-B) or a JPEG.
//!
//! ```text
//! 0  u8   kind: 1 = H.264 access unit, 2 = JPEG
//! 1  u8   flags: bit 0 = keyframe
//! 2  u16  width
//! 4  u16  height
//! 6  u16  reserved, 0
//! 8  u64  capture_time_us: server clock, µs since the Unix epoch
//! 16 ...  payload
//! ```
//! Messages are built once per frame and shared by every viewer (cloning `Bytes` shares the buffer).

use bytes::{BufMut, Bytes, BytesMut};

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageKind {
    /// An H.264 access unit, Annex-B.
    H264 = 1,
    /// A JPEG image.
    Jpeg = 2,
}

/// Message kind byte: H.264.
pub const KIND_H264: u8 = MessageKind::H264 as u8;
/// Message kind byte: JPEG.
pub const KIND_JPEG: u8 = MessageKind::Jpeg as u8;
/// Header size.
pub const HEADER_LEN: usize = 16;

/// Builds a message.
pub fn build(
    kind: MessageKind,
    keyframe: bool,
    width: u32,
    height: u32,
    capture_time_us: u64,
    payload: &[u8],
) -> Bytes {
    let mut b = BytesMut::with_capacity(HEADER_LEN + payload.len());
    b.put_u8(kind as u8);
    b.put_u8(u8::from(keyframe));
    b.put_u16_le(width.min(65535) as u16);
    b.put_u16_le(height.min(65535) as u16);
    b.put_u16_le(0);
    b.put_u64_le(capture_time_us);
    b.put_slice(payload);
    b.freeze()
}

/// Parsed header (viewers, tests and tools).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Kind.
    pub kind: u8,
    /// Keyframe flag.
    pub keyframe: bool,
    /// Width.
    pub width: u16,
    /// Height.
    pub height: u16,
    /// Capture time.
    pub capture_time_us: u64,
}

/// Parses the header of a message; `None` if it is shorter than the header. The kind byte is not
/// checked: a reader skips kinds it does not know.
pub fn parse(msg: &[u8]) -> Option<(Header, &[u8])> {
    if msg.len() < HEADER_LEN {
        return None;
    }
    let u16_at = |i: usize| u16::from_le_bytes([msg[i], msg[i + 1]]);
    let mut t = [0u8; 8];
    t.copy_from_slice(&msg[8..16]);
    Some((
        Header {
            kind: msg[0],
            keyframe: msg[1] & 1 != 0,
            width: u16_at(2),
            height: u16_at(4),
            capture_time_us: u64::from_le_bytes(t),
        },
        &msg[HEADER_LEN..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes() {
        let m = build(
            MessageKind::H264,
            true,
            640,
            480,
            0x0102_0304_0506_0708,
            &[0, 0, 0, 1],
        );
        assert_eq!(
            &m[..16],
            [1, 1, 0x80, 0x02, 0xe0, 0x01, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]
        );
        let (h, p) = parse(&m).unwrap();
        assert_eq!((h.kind, h.keyframe, h.width, h.height), (1, true, 640, 480));
        assert_eq!(p, [0, 0, 0, 1]);
    }
}
