//! I420 (planar YUV 4:2:0) images: what the H.264 encoder takes, and what Picamera's raw `yuv`
//! format is. Every I420 here is **BT.601, full range**: the JPEG (JFIF) convention, so a camera's
//! 4:2:0 JPEG planes go to the encoder untouched, and RGB converts the same way (`yuvutils-rs`).
//! The encoder declares it in the stream's VUI, so decoders do not guess.

use crate::frame::PixelLayout;
use yuvutils_rs::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

/// A planar 4:2:0 image with even dimensions and tightly packed planes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420 {
    /// Width (even).
    pub width: u32,
    /// Height (even).
    pub height: u32,
    /// `width * height` luma bytes.
    pub y: Vec<u8>,
    /// `width/2 * height/2` Cb bytes.
    pub u: Vec<u8>,
    /// `width/2 * height/2` Cr bytes.
    pub v: Vec<u8>,
}

impl I420 {
    /// Chroma plane width.
    pub fn chroma_width(&self) -> u32 {
        self.width / 2
    }

    /// Converts RGBA (`width*height*4`) into I420, cropping an odd last column or row.
    pub fn from_rgba(rgba: &[u8], width: u32, height: u32) -> Option<I420> {
        I420::from_packed(rgba, width, height, width as usize * 4, PixelLayout::Rgba)
    }

    /// Converts 4-byte pixels in `layout` with `stride` bytes per row into I420, cropping an odd
    /// last column or row.
    pub fn from_packed(
        pixels: &[u8],
        width: u32,
        height: u32,
        stride: usize,
        layout: PixelLayout,
    ) -> Option<I420> {
        let (w, h) = (width & !1, height & !1);
        let needed = (height as usize).saturating_sub(1) * stride + width as usize * 4;
        if w == 0 || h == 0 || stride < width as usize * 4 || pixels.len() < needed {
            return None;
        }
        // yuvutils-rs wants every row whole, padding included (it silently leaves the last rows
        // black otherwise): a buffer that ends right after the last pixel is padded first.
        let whole;
        let pixels = if pixels.len() < stride * height as usize {
            let mut v = pixels.to_vec();
            v.resize(stride * height as usize, 0);
            whole = v;
            &whole[..]
        } else {
            pixels
        };
        let stride = u32::try_from(stride).ok()?;
        let mut img = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Owned(vec![0; (w * h) as usize]),
            y_stride: w,
            u_plane: BufferStoreMut::Owned(vec![0; (w / 2 * h / 2) as usize]),
            u_stride: w / 2,
            v_plane: BufferStoreMut::Owned(vec![0; (w / 2 * h / 2) as usize]),
            v_stride: w / 2,
            width: w,
            height: h,
        };
        let convert = match layout {
            PixelLayout::Rgba => yuvutils_rs::rgba_to_yuv420,
            // The fourth byte is not read.
            PixelLayout::Bgra | PixelLayout::Bgrx => yuvutils_rs::bgra_to_yuv420,
        };
        convert(
            &mut img,
            pixels,
            stride,
            YuvRange::Full,
            YuvStandardMatrix::Bt601,
            YuvConversionMode::Balanced,
        )
        .ok()?;
        let take = |b: BufferStoreMut<'_, u8>| match b {
            BufferStoreMut::Owned(v) => v,
            BufferStoreMut::Borrowed(s) => s.to_vec(),
        };
        Some(I420 {
            width: w,
            height: h,
            y: take(img.y_plane),
            u: take(img.u_plane),
            v: take(img.v_plane),
        })
    }

    /// Reads a Picamera-style raw YUV420 buffer: `frame_w × frame_h` visible pixels in a buffer
    /// whose width is padded to a multiple of 32 and height to a multiple of 16.
    pub fn from_padded(buf: &[u8], frame_w: u32, frame_h: u32) -> Option<I420> {
        let (pw, ph) = (frame_w.div_ceil(32) * 32, frame_h.div_ceil(16) * 16);
        if buf.len() != padded_i420_len(frame_w, frame_h) {
            return None;
        }
        let (w, h) = (frame_w & !1, frame_h & !1);
        if w == 0 || h == 0 {
            return None;
        }
        let (y_plane, chroma) = buf.split_at((pw * ph) as usize);
        let (u_plane, v_plane) = chroma.split_at((pw / 2 * ph / 2) as usize);
        let crop = |plane: &[u8], stride: u32, cw: u32, ch: u32| -> Vec<u8> {
            (0..ch)
                .flat_map(|r| {
                    plane[(r * stride) as usize..(r * stride + cw) as usize]
                        .iter()
                        .copied()
                })
                .collect()
        };
        Some(I420 {
            width: w,
            height: h,
            y: crop(y_plane, pw, w, h),
            u: crop(u_plane, pw / 2, w / 2, h / 2),
            v: crop(v_plane, pw / 2, w / 2, h / 2),
        })
    }

    /// Converts to RGBA.
    pub fn to_rgba(&self) -> Vec<u8> {
        let mut rgba = vec![0u8; (self.width * self.height * 4) as usize];
        let img = YuvPlanarImage {
            y_plane: &self.y,
            y_stride: self.width,
            u_plane: &self.u,
            u_stride: self.width / 2,
            v_plane: &self.v,
            v_stride: self.width / 2,
            width: self.width,
            height: self.height,
        };
        // Sizes are consistent by construction, so this cannot fail; a failure leaves black.
        let _ = yuvutils_rs::yuv420_to_rgba(
            &img,
            &mut rgba,
            self.width * 4,
            YuvRange::Full,
            YuvStandardMatrix::Bt601,
        );
        rgba
    }
}

/// Bytes of a Picamera raw YUV420 frame (width padded to 32, height to 16).
pub fn padded_i420_len(w: u32, h: u32) -> usize {
    let (pw, ph) = (w.div_ceil(32) * 32, h.div_ceil(16) * 16);
    (pw * ph * 3 / 2) as usize
}

/// Bytes of a Picamera raw frame with `bpp` bytes per pixel (3 for RGB, 4 for RGBA/BGRA).
pub fn padded_packed_len(w: u32, h: u32, bpp: u32) -> usize {
    let (pw, ph) = (w.div_ceil(32) * 32, h.div_ceil(16) * 16);
    (pw * ph * bpp) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picamera_sizes() {
        // seed-protocols.md §D: 320x240 is 115200 bytes of YUV and 230400 of RGB
        assert_eq!(padded_i420_len(320, 240), 115_200);
        assert_eq!(padded_packed_len(320, 240, 3), 230_400);
        // 100x50 pads to 128x64
        assert_eq!(padded_i420_len(100, 50), 128 * 64 * 3 / 2);
    }

    #[test]
    fn rgba_round_trip_is_close() {
        let (w, h) = (64u32, 32u32);
        let rgba: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i % 64 * 4) as u8, 128, (255 - i % 64 * 4) as u8, 255])
            .collect();
        let yuv = I420::from_rgba(&rgba, w, h).unwrap();
        let back = yuv.to_rgba();
        let worst = rgba
            .iter()
            .zip(&back)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap();
        assert!(worst <= 24, "worst channel error {worst}");
    }

    #[test]
    fn padded_frames_are_cropped() {
        let (w, h) = (40u32, 20u32);
        let mut buf = vec![16u8; padded_i420_len(w, h)];
        buf[0] = 235; // top-left luma
        let yuv = I420::from_padded(&buf, w, h).unwrap();
        assert_eq!((yuv.width, yuv.height), (40, 20));
        assert_eq!(yuv.y[0], 235);
        assert_eq!(yuv.y.len(), 800);
        assert!(I420::from_padded(&buf[1..], w, h).is_none());
    }
}
