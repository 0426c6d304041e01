//! Applies decoded rect events to a framebuffer in memory: what the display emulator, the host tests
//! and a device with enough RAM do. Pixels outside the panel are clipped, as TFT drivers clip.
//!
//! For the grey formats the framebuffer is packed like the wire ([`PixelFormat`]: rows of
//! `row_bytes(width)` bytes, leftmost pixel in the high bits), so a RECT's bytes are copied in
//! unchanged: its `x` is byte-aligned (the decoder checks it), and the last byte of each of its rows
//! is merged under a mask when the rectangle ends inside a byte, so pixels beside it stay.

use crate::decoder::Event;
use crate::format::PixelFormat;
use crate::message::RectHeader;

/// Writes the pixels of RECT events into a `width × height` framebuffer: RGB565 in the device's
/// pixel order (two bytes per pixel, row-major), or packed grey rows.
#[derive(Debug)]
pub struct FramebufferWriter {
    width: u16,
    height: u16,
    format: PixelFormat,
    rect: Option<RectHeader>,
    /// Column and row of the next pixel inside the current rect.
    col: u32,
    row: u32,
    /// First byte of a pixel split across input pieces.
    half: Option<u8>,
}

impl FramebufferWriter {
    /// A writer for a `width × height` RGB565 panel.
    pub fn new(width: u16, height: u16) -> Self {
        Self::with_format(width, height, PixelFormat::default())
    }

    /// A writer for a `width × height` panel in `format`; the framebuffer holds
    /// `format.frame_bytes(width, height)` bytes.
    pub fn with_format(width: u16, height: u16, format: PixelFormat) -> Self {
        Self {
            width,
            height,
            format,
            rect: None,
            col: 0,
            row: 0,
            half: None,
        }
    }

    /// Applies one event to `fb` (`width*height*2` bytes for RGB565, else
    /// [`PixelFormat::frame_bytes`]). Non-pixel events are ignored; returns true for events that
    /// changed pixels.
    pub fn apply(&mut self, fb: &mut [u8], ev: &Event<'_>) -> bool {
        if !self.format.is_rgb565() {
            return self.apply_packed(fb, ev);
        }
        match *ev {
            Event::RectBegin(h) => {
                self.rect = Some(h);
                self.col = 0;
                self.row = 0;
                self.half = None;
                false
            }
            Event::RectEnd => {
                self.rect = None;
                false
            }
            Event::Pixels(mut bytes) => {
                if let Some(first) = self.half.take() {
                    if let Some((&second, rest)) = bytes.split_first() {
                        self.put(fb, [first, second]);
                        bytes = rest;
                    } else {
                        self.half = Some(first);
                    }
                }
                let mut pairs = bytes.chunks_exact(2);
                for p in &mut pairs {
                    self.put(fb, [p[0], p[1]]);
                }
                if let [last] = pairs.remainder() {
                    self.half = Some(*last);
                }
                true
            }
            Event::Fill { pixel, count } => {
                self.fill(fb, pixel, count);
                true
            }
            Event::Chunk(ref c) => self.apply(fb, &Event::Pixels(c.as_bytes())),
            _ => false,
        }
    }

    /// [`FramebufferWriter::apply`] for the packed grey formats: `col` counts bytes of the rect's
    /// row.
    fn apply_packed(&mut self, fb: &mut [u8], ev: &Event<'_>) -> bool {
        match *ev {
            Event::Chunk(ref c) => self.apply_packed(fb, &Event::Pixels(c.as_bytes())),
            Event::RectBegin(h) => {
                self.rect = Some(h);
                self.col = 0;
                self.row = 0;
                false
            }
            Event::RectEnd => {
                self.rect = None;
                false
            }
            Event::Pixels(bytes) => {
                for &b in bytes {
                    self.put_byte(fb, b);
                }
                true
            }
            Event::Fill { pixel, count } => {
                let Some(r) = self.rect else { return true };
                let row_bytes = self.format.row_units(usize::from(r.w)) as u32;
                let mut left = count;
                while left > 0 && self.row < u32::from(r.h) {
                    if u32::from(r.y) + self.row >= u32::from(self.height) {
                        break; // every later row is below the panel too
                    }
                    let n = left.min(row_bytes - self.col);
                    // Only the bytes on the panel are visited: a huge run off its right edge
                    // costs one step per row. The row's last byte goes through `put_byte`'s mask.
                    let stride = self.format.row_bytes(usize::from(self.width)) as u32;
                    let xb = u32::from(r.x / self.format.x_align());
                    let on_panel = stride
                        .saturating_sub(xb + self.col)
                        .min(n.saturating_sub(1));
                    let at = (u32::from(r.y) + self.row) as usize * stride as usize
                        + (xb + self.col) as usize;
                    if let Some(d) = fb.get_mut(at..at + on_panel as usize) {
                        d.fill(pixel[0]);
                    }
                    self.col += n - 1;
                    self.put_byte(fb, pixel[0]);
                    left -= n;
                }
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn put_byte(&mut self, fb: &mut [u8], b: u8) {
        let Some(r) = self.rect else { return };
        let f = self.format;
        let row_bytes = f.row_units(usize::from(r.w)) as u32;
        let stride = f.row_bytes(usize::from(self.width));
        let xb = usize::from(r.x / f.x_align()) + self.col as usize;
        let y = u32::from(r.y) + self.row;
        if y < u32::from(self.height) && xb < stride {
            // Bits of this byte that belong to the rect: all but past the end of its row.
            let tail_bits = (u32::from(r.w) * f.bits_per_pixel()) % 8;
            let mask = if self.col + 1 == row_bytes && tail_bits != 0 {
                0xFFu8 << (8 - tail_bits)
            } else {
                0xFF
            };
            if let Some(d) = fb.get_mut(y as usize * stride + xb) {
                *d = (*d & !mask) | (b & mask);
            }
        }
        self.col += 1;
        if self.col == row_bytes {
            self.col = 0;
            self.row += 1;
        }
    }

    #[inline]
    fn put(&mut self, fb: &mut [u8], px: [u8; 2]) {
        let Some(r) = self.rect else { return };
        let x = u32::from(r.x) + self.col;
        let y = u32::from(r.y) + self.row;
        if x < u32::from(self.width) && y < u32::from(self.height) {
            let at = (y as usize * self.width as usize + x as usize) * 2;
            if let Some(dst) = fb.get_mut(at..at + 2) {
                dst.copy_from_slice(&px);
            }
        }
        self.col += 1;
        if self.col == u32::from(r.w) {
            self.col = 0;
            self.row += 1;
        }
    }

    /// `count` copies of `px`, a row segment at a time, writing only what lies on the panel: a
    /// huge run off the panel costs one step per row, not one per pixel.
    fn fill(&mut self, fb: &mut [u8], px: [u8; 2], mut count: u32) {
        let Some(r) = self.rect else { return };
        let (w, width) = (u32::from(r.w), u32::from(self.width));
        while count > 0 && self.row < u32::from(r.h) {
            let y = u32::from(r.y) + self.row;
            if y >= u32::from(self.height) {
                return; // every later row is below the panel too
            }
            let n = count.min(w - self.col);
            let x0 = u32::from(r.x) + self.col;
            let x1 = (x0 + n).min(width);
            if x0 < x1 {
                let row = y as usize * self.width as usize;
                if let Some(dst) = fb.get_mut((row + x0 as usize) * 2..(row + x1 as usize) * 2) {
                    for d in dst.chunks_exact_mut(2) {
                        d.copy_from_slice(&px);
                    }
                }
            }
            count -= n;
            self.col += n;
            if self.col == w {
                self.col = 0;
                self.row += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Codec;

    fn rect(x: u16, y: u16, w: u16, h: u16) -> Event<'static> {
        Event::RectBegin(RectHeader {
            x,
            y,
            w,
            h,
            codec: Codec::Rle,
        })
    }

    #[test]
    fn fills_and_pixels_clip_to_the_panel() {
        // 4x3 panel; a 3x3 rect at (2,1) hangs off the right and bottom edges.
        let mut fb = [0u8; 4 * 3 * 2];
        let mut w = FramebufferWriter::new(4, 3);
        w.apply(&mut fb, &rect(2, 1, 3, 3));
        w.apply(
            &mut fb,
            &Event::Fill {
                pixel: [1, 1],
                count: 4,
            },
        ); // row 1: x 2,3,(4); row 2: x 2
        w.apply(&mut fb, &Event::Pixels(&[2, 2, 3, 3])); // row 2: x 3, (4)
        w.apply(
            &mut fb,
            &Event::Fill {
                pixel: [9, 9],
                count: 3,
            },
        ); // row 3: below the panel
        let px = |x: usize, y: usize| [fb[(y * 4 + x) * 2], fb[(y * 4 + x) * 2 + 1]];
        assert_eq!(px(2, 1), [1, 1]);
        assert_eq!(px(3, 1), [1, 1]);
        assert_eq!(px(2, 2), [1, 1]);
        assert_eq!(px(3, 2), [2, 2]);
        assert_eq!(px(0, 0), [0, 0]);
        assert!(!fb.contains(&9) && !fb.contains(&3));
    }

    #[test]
    fn packed_rects_keep_the_pixels_beside_them() {
        // A 12x2 mono panel (2 bytes a row, 4 padding bits). All white, then a black 3-wide rect
        // at x=8 on row 1: only its 3 bits change.
        let mut fb = [0xFFu8; 4];
        let mut w = FramebufferWriter::with_format(12, 2, PixelFormat::Mono1);
        w.apply(&mut fb, &rect(8, 1, 3, 1));
        w.apply(&mut fb, &Event::Pixels(&[0x00]));
        assert_eq!(fb, [0xFF, 0xFF, 0xFF, 0b0001_1111]);
        // gray4 fill over a 3x2 rect at x=0: 2 bytes a row, the second half-masked.
        let mut fb = [0u8; 4];
        let mut w = FramebufferWriter::with_format(4, 2, PixelFormat::Gray4);
        w.apply(&mut fb, &rect(0, 0, 3, 2));
        w.apply(
            &mut fb,
            &Event::Fill {
                pixel: [0xAB, 0xAB],
                count: 4,
            },
        );
        assert_eq!(fb, [0xAB, 0xA0, 0xAB, 0xA0]);
        // a huge run off the panel stops at its bottom edge
        w.apply(&mut fb, &rect(0, 1, 4, 60000));
        w.apply(
            &mut fb,
            &Event::Fill {
                pixel: [0x11, 0x11],
                count: u32::MAX,
            },
        );
        assert_eq!(fb, [0xAB, 0xA0, 0x11, 0x11]);
    }

    #[test]
    fn a_huge_run_below_the_panel_is_skipped_not_walked() {
        // 65535 x 65535 rect mostly off a 2x2 panel: a fill of u32::MAX pixels returns after the
        // first row below the panel instead of stepping through four billion pixels.
        let mut fb = [0u8; 8];
        let mut w = FramebufferWriter::new(2, 2);
        w.apply(&mut fb, &rect(0, 0, 65535, 65535));
        w.apply(
            &mut fb,
            &Event::Fill {
                pixel: [5, 5],
                count: u32::MAX,
            },
        );
        assert_eq!(fb, [5; 8]);
    }
}
