//! One encoded stripe as the library hands it to the caller, and its wire form: the header of
//! pixelflux 2.0/2.1 (seed 003's Rust rewrite), which its example browser page parses, so a page
//! written for pixelflux plays pixelwire's stripes unchanged:
//!
//! * JPEG, 6 bytes, big-endian: `03 00 | frame_id u16 | y u16`, then one complete JFIF.
//! * H.264, 10 bytes, big-endian: `04 | type | frame_id u16 | y u16 | width u16 | height u16`, then
//!   Annex-B; `type` is `01` for an IDR and `00` otherwise.
//!
//! `frame_id` is the capture counter modulo 65536; ids skip when nothing changed.

use bytes::Bytes;

/// Codec of a stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StripeCodec {
    /// One complete baseline JFIF.
    Jpeg,
    /// Annex-B H.264 (SPS/PPS before every IDR).
    H264,
}

/// Why a stripe was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StripeReason {
    /// Its pixels changed.
    Changed,
    /// It stood still long enough to be refreshed at the paint-over quality.
    PaintOver,
    /// A full refresh was asked for (start, a new viewer, [`crate::ScreenCapture::request_refresh`]).
    Refresh,
}

/// One encoded stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedStripe {
    /// Codec.
    pub codec: StripeCodec,
    /// An H.264 IDR, or any JPEG stripe (each stands alone).
    pub keyframe: bool,
    /// Why it was encoded.
    pub reason: StripeReason,
    /// Capture counter of the frame it belongs to (from 0, never wraps here; the wire header
    /// carries it modulo 65536).
    pub frame_id: u64,
    /// Top row in the captured frame.
    pub y: u32,
    /// Width, pixels (the frame's width).
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The encoded bytes without any header: a JFIF or an Annex-B access unit.
    pub data: Bytes,
    /// When the frame was captured, µs since the Unix epoch on [`pixelwire_media::clock`].
    pub capture_us: u64,
    /// When encoding of this stripe started, same clock.
    pub encode_start_us: u64,
    /// When encoding of this stripe ended, same clock.
    pub encode_end_us: u64,
}

/// Bytes of the JPEG stripe header.
pub const JPEG_HEADER_LEN: usize = 6;
/// Bytes of the H.264 stripe header.
pub const H264_HEADER_LEN: usize = 10;
/// First byte of a JPEG stripe message.
pub const JPEG_TAG: u8 = 0x03;
/// First byte of an H.264 stripe message.
pub const H264_TAG: u8 = 0x04;

impl EncodedStripe {
    /// Size of the encoded data in bytes (pixelflux `size`).
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// The pixelflux-compatible header (see the module docs).
    pub fn header(&self) -> Vec<u8> {
        let id = (self.frame_id & 0xFFFF) as u16;
        let y = self.y.min(u32::from(u16::MAX)) as u16;
        match self.codec {
            StripeCodec::Jpeg => {
                let mut h = Vec::with_capacity(JPEG_HEADER_LEN);
                h.extend_from_slice(&[JPEG_TAG, 0x00]);
                h.extend_from_slice(&id.to_be_bytes());
                h.extend_from_slice(&y.to_be_bytes());
                h
            }
            StripeCodec::H264 => {
                let mut h = Vec::with_capacity(H264_HEADER_LEN);
                h.push(H264_TAG);
                h.push(u8::from(self.keyframe));
                h.extend_from_slice(&id.to_be_bytes());
                h.extend_from_slice(&y.to_be_bytes());
                h.extend_from_slice(&(self.width.min(0xFFFF) as u16).to_be_bytes());
                h.extend_from_slice(&(self.height.min(0xFFFF) as u16).to_be_bytes());
                h
            }
        }
    }

    /// Header followed by the data: one WebSocket message for a pixelflux-style page.
    pub fn wire_message(&self) -> Vec<u8> {
        let mut m = self.header();
        m.extend_from_slice(&self.data);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe(codec: StripeCodec, keyframe: bool) -> EncodedStripe {
        EncodedStripe {
            codec,
            keyframe,
            reason: StripeReason::Changed,
            frame_id: 0x1_0203,
            y: 0x0140,
            width: 1280,
            height: 64,
            data: Bytes::from_static(&[0xFF, 0xD8]),
            capture_us: 1,
            encode_start_us: 2,
            encode_end_us: 3,
        }
    }

    #[test]
    fn jpeg_header_is_pixelflux_2_0_six_bytes() {
        let m = stripe(StripeCodec::Jpeg, true).wire_message();
        assert_eq!(m, [0x03, 0x00, 0x02, 0x03, 0x01, 0x40, 0xFF, 0xD8]);
    }

    #[test]
    fn h264_header_is_ten_bytes_with_type_and_size() {
        let idr = stripe(StripeCodec::H264, true).header();
        assert_eq!(
            idr,
            [0x04, 0x01, 0x02, 0x03, 0x01, 0x40, 0x05, 0x00, 0x00, 0x40]
        );
        assert_eq!(stripe(StripeCodec::H264, false).header()[1], 0x00);
    }
}
