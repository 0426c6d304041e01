//! Picamera's raw frame layouts (seed 004, `seed-protocols.md` §D): a raw frame is I420, RGB24 or
//! RGBA at a configured `width × height`, in a buffer whose width is padded to a multiple of 32 and
//! height to a multiple of 16, and the layout is told apart only by the frame's length. The framing
//! around it (`u32` little-endian length, then the frame) belongs to the ingest edge.

use crate::frame::MediaFrame;
use crate::yuv::{I420, padded_i420_len, padded_packed_len};

/// Which raw layout a frame of some length is, for a configured size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawLayout {
    /// Planar YUV 4:2:0 (Picamera's `yuv`).
    I420,
    /// 3 bytes per pixel, R G B (Picamera's `rgb`).
    Rgb24,
    /// 4 bytes per pixel, R G B A (Picamera's `rgba`).
    Rgba,
}

impl RawLayout {
    /// The layout of a `len`-byte frame at `w × h`, or `None` if no layout has that length.
    pub fn for_len(len: usize, w: u32, h: u32) -> Option<RawLayout> {
        if len == padded_i420_len(w, h) {
            Some(RawLayout::I420)
        } else if len == padded_packed_len(w, h, 3) {
            Some(RawLayout::Rgb24)
        } else if len == padded_packed_len(w, h, 4) {
            Some(RawLayout::Rgba)
        } else {
            None
        }
    }
}

/// Reads a raw frame of `w × h` (layout by length), cropping the padding; `None` if its length
/// matches no layout.
pub fn raw_frame(
    data: &[u8],
    w: u32,
    h: u32,
    seq: u64,
    capture_time_us: u64,
) -> Option<MediaFrame> {
    let bpp: u32 = match RawLayout::for_len(data.len(), w, h)? {
        RawLayout::I420 => {
            return I420::from_padded(data, w, h)
                .map(|y| MediaFrame::from_i420(y, seq, capture_time_us));
        }
        RawLayout::Rgb24 => 3,
        RawLayout::Rgba => 4,
    };
    let pw = w.div_ceil(32) * 32;
    // RGB24 and RGBA both start each pixel with R, G, B.
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        let row = (y * pw * bpp) as usize;
        for x in 0..w {
            let i = row + (x * bpp) as usize;
            rgba.extend_from_slice(&[data[i], data[i + 1], data[i + 2], 255]);
        }
    }
    Some(MediaFrame::from_rgba(w, h, rgba, seq, capture_time_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_layouts_by_length() {
        let (w, h) = (320, 240);
        let yuv = vec![128u8; padded_i420_len(w, h)];
        assert_eq!(
            raw_frame(&yuv, w, h, 0, 0).map(|f| (f.width, f.height)),
            Some((320, 240))
        );
        let mut rgb = vec![0u8; padded_packed_len(w, h, 3)];
        rgb[0..3].copy_from_slice(&[200, 100, 50]);
        let f = raw_frame(&rgb, w, h, 0, 0).unwrap();
        assert_eq!(&f.rgba().unwrap().rgba[..4], &[200, 100, 50, 255]);
        assert!(raw_frame(&[0u8; 1000], w, h, 0, 0).is_none());
    }
}
