//! The legacy protocol of seed 000 (Python-ESP32-TFT-Stream), exactly as its Arduino sketch parses
//! it (`shared/reference/seed-protocols.md` §A.2–A.3): a bare concatenation of update packets, each a
//! 12-byte big-endian header followed by RGB565 big-endian pixels. No handshake, no acks, no frame
//! boundaries; the device never sends a byte.
//!
//! ```text
//! offset size field     type
//! 0      2    x         u16 BE
//! 2      2    y         u16 BE
//! 4      2    w         u16 BE
//! 6      2    h         u16 BE
//! 8      4    data_len  u32 BE  (always w*h*2; at most 10240 or the sketch disconnects)
//! 12     n    pixels    RGB565 BE, row-major
//! ```
//! An all-zero header is a no-op for the sketch: the server sends one as a keepalive probe.

/// Header size.
pub const HEADER_LEN: usize = 12;
/// The sketch's receive buffer (`PIXEL_BUFFER_SIZE`): a larger `data_len` makes it disconnect.
pub const SKETCH_BUFFER_BYTES: u32 = 10 * 1024;
/// The seed server's default payload cap per packet.
pub const DEFAULT_MAX_PAYLOAD: u32 = 8192;
/// The keepalive probe: an all-zero header.
pub const KEEPALIVE: [u8; HEADER_LEN] = [0; HEADER_LEN];

/// One update packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Left column.
    pub x: u16,
    /// Top row.
    pub y: u16,
    /// Width.
    pub w: u16,
    /// Height.
    pub h: u16,
    /// Payload bytes that follow.
    pub data_len: u32,
}

impl Header {
    /// A header for a `w × h` rect of RGB565 pixels (`data_len = w*h*2`).
    pub fn for_rect(x: u16, y: u16, w: u16, h: u16) -> Self {
        Self {
            x,
            y,
            w,
            h,
            data_len: u32::from(w) * u32::from(h) * 2,
        }
    }

    /// The 12 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..2].copy_from_slice(&self.x.to_be_bytes());
        b[2..4].copy_from_slice(&self.y.to_be_bytes());
        b[4..6].copy_from_slice(&self.w.to_be_bytes());
        b[6..8].copy_from_slice(&self.h.to_be_bytes());
        b[8..12].copy_from_slice(&self.data_len.to_be_bytes());
        b
    }

    /// Parses 12 wire bytes.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Self {
        Self {
            x: u16::from_be_bytes([b[0], b[1]]),
            y: u16::from_be_bytes([b[2], b[3]]),
            w: u16::from_be_bytes([b[4], b[5]]),
            h: u16::from_be_bytes([b[6], b[7]]),
            data_len: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }

    /// What the sketch does with this header (§A.3).
    pub fn sketch_action(&self) -> SketchAction {
        if self.data_len > SKETCH_BUFFER_BYTES {
            SketchAction::Disconnect
        } else if self.data_len == 0 {
            SketchAction::Ignore
        } else if self.w == 0 || self.h == 0 {
            SketchAction::Discard
        } else {
            SketchAction::Push
        }
    }
}

/// How the seed-000 sketch reacts to a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SketchAction {
    /// `data_len > 10240`: drain, close the socket, reconnect.
    Disconnect,
    /// `data_len == 0`: nothing (the keepalive probe).
    Ignore,
    /// `w == 0 || h == 0` with data: read and discard `data_len` bytes.
    Discard,
    /// Read `data_len` bytes and `pushImage(x, y, w, h)`.
    Push,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_test_vector() {
        // seed-protocols.md §A.2: x=0, y=12, w=320, h=12, len=7680
        let h = Header::for_rect(0, 12, 320, 12);
        assert_eq!(h.data_len, 7680);
        assert_eq!(
            h.encode(),
            [
                0x00, 0x00, 0x00, 0x0c, 0x01, 0x40, 0x00, 0x0c, 0x00, 0x00, 0x1e, 0x00
            ]
        );
        assert_eq!(Header::decode(&h.encode()), h);
    }

    #[test]
    fn sketch_actions() {
        assert_eq!(
            Header::decode(&KEEPALIVE).sketch_action(),
            SketchAction::Ignore
        );
        assert_eq!(
            Header::for_rect(0, 0, 320, 16).sketch_action(),
            SketchAction::Push
        );
        assert_eq!(
            Header::for_rect(0, 0, 320, 17).sketch_action(),
            SketchAction::Disconnect
        );
        assert_eq!(
            Header {
                x: 0,
                y: 0,
                w: 0,
                h: 4,
                data_len: 8
            }
            .sketch_action(),
            SketchAction::Discard
        );
    }
}
