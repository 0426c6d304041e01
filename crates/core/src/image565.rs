//! An RGB565 image in memory: what a display sink computes from a source frame and compares against
//! its shadow of the panel. For a grey or monochrome panel the same type holds grey levels
//! (`0..=PixelFormat::max_value()`), one `u16` per pixel, so change detection, merging and encoding
//! run unchanged.

use crate::frame::Rect;
use pixelwire_proto::Pixels;

/// `width × height` RGB565 pixel values (native `u16`), row-major, tightly packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb565Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` pixels.
    pub px: Vec<u16>,
}

impl Rgb565Image {
    /// An image filled with `value`.
    pub fn filled(width: u32, height: u32, value: u16) -> Self {
        Self {
            width,
            height,
            px: vec![value; width as usize * height as usize],
        }
    }

    /// The whole image as a rect.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// Row `y`.
    #[inline]
    pub fn row(&self, y: u32) -> &[u16] {
        let w = self.width as usize;
        &self.px[y as usize * w..(y as usize + 1) * w]
    }

    /// The pixels of `r` (which must lie inside the image) for the encoders.
    pub fn pixels(&self, r: Rect) -> Pixels<'_> {
        let start = r.y as usize * self.width as usize + r.x as usize;
        Pixels {
            data: &self.px[start..],
            stride: self.width as usize,
            width: r.w as usize,
            height: r.h as usize,
        }
    }

    /// Copies the pixels of `r` from `src` (same size) into `self`.
    pub fn copy_rect_from(&mut self, src: &Rgb565Image, r: Rect) {
        let w = self.width as usize;
        for y in r.y..r.bottom() {
            let a = y as usize * w + r.x as usize;
            self.px[a..a + r.w as usize].copy_from_slice(&src.px[a..a + r.w as usize]);
        }
    }

    /// Expands to 8-bit RGB (for PNG previews).
    pub fn to_rgb888(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.px.len() * 3);
        for &p in &self.px {
            out.extend_from_slice(&pixelwire_proto::rgb565_to_rgb888(p));
        }
        out
    }

    /// Grey levels of `format` widened to 8-bit grey (PNG previews of grey panels).
    pub fn to_gray8(&self, format: pixelwire_proto::PixelFormat) -> Vec<u8> {
        self.px.iter().map(|&v| format.gray_to_8bit(v)).collect()
    }

    /// Parses a packed framebuffer of a grey `format` (`format.frame_bytes(width, height)` bytes,
    /// as a device or emulator holds it) into grey levels.
    pub fn from_packed(
        width: u32,
        height: u32,
        bytes: &[u8],
        format: pixelwire_proto::PixelFormat,
    ) -> Self {
        let stride = format.row_bytes(width as usize);
        let mut px = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height as usize {
            let row = bytes.get(y * stride..(y + 1) * stride).unwrap_or(&[]);
            px.extend((0..width as usize).map(|x| format.unpack(row, x)));
        }
        Self { width, height, px }
    }

    /// Parses a framebuffer of two bytes per pixel in `order` (what a device or emulator holds).
    pub fn from_bytes(
        width: u32,
        height: u32,
        bytes: &[u8],
        order: pixelwire_proto::PixelOrder,
    ) -> Self {
        let px = bytes
            .chunks_exact(2)
            .map(|b| order.from_bytes([b[0], b[1]]))
            .collect();
        Self { width, height, px }
    }
}
