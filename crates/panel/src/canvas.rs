//! `embedded-graphics` draw targets for the firmware's own screens ([`crate::status`]):
//!
//! * [`StripCanvas`], a horizontal band of an RGB565 screen in RAM: a DCS panel's status screen is
//!   drawn band by band into one strip buffer and each band is pushed to the panel in one window,
//!   so text needs no framebuffer and no per-pixel SPI transactions;
//! * [`PackedCanvas`], rows of a grey or monochrome [`PackedFrame`]: the same RGB565 drawing,
//!   each colour turned into its grey level (luma, rounded to the format's depth, so on `mono1`
//!   a colour is lit when its luma is at least half).

use crate::packed::PackedFrame;
use core::convert::Infallible;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::pixelcolor::raw::RawU16;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

/// Rows `top..top + rows` of a `width`-pixel-wide screen, RGB565 big-endian.
#[derive(Debug)]
pub struct StripCanvas<'a> {
    buf: &'a mut [u8],
    width: u16,
    top: u16,
    rows: u16,
}

impl<'a> StripCanvas<'a> {
    /// A band starting at screen row `top`, as many rows as `buf` holds (at most `rows`).
    pub fn new(buf: &'a mut [u8], width: u16, top: u16, rows: u16) -> Self {
        let fit = buf.len() / (usize::from(width).max(1) * 2);
        let rows = rows.min(fit.min(usize::from(u16::MAX)) as u16);
        Self {
            buf,
            width,
            top,
            rows,
        }
    }

    /// Rows in the band.
    pub fn rows(&self) -> u16 {
        self.rows
    }

    /// The band's pixel bytes.
    pub fn bytes(&self) -> &[u8] {
        let n = usize::from(self.width) * usize::from(self.rows) * 2;
        self.buf.get(..n).unwrap_or(&[])
    }

    fn index(&self, p: Point) -> Option<usize> {
        let y = p.y - i32::from(self.top);
        if p.x < 0 || p.x >= i32::from(self.width) || y < 0 || y >= i32::from(self.rows) {
            return None;
        }
        Some((y as usize * usize::from(self.width) + p.x as usize) * 2)
    }
}

impl OriginDimensions for StripCanvas<'_> {
    fn size(&self) -> Size {
        Size::new(
            u32::from(self.width),
            u32::from(self.top) + u32::from(self.rows),
        )
    }
}

impl DrawTarget for StripCanvas<'_> {
    type Color = Rgb565;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb565>>,
    {
        for Pixel(p, c) in pixels {
            if let Some(i) = self.index(p)
                && let Some(d) = self.buf.get_mut(i..i + 2)
            {
                d.copy_from_slice(&RawU16::from(c).into_inner().to_be_bytes());
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb565) -> Result<(), Infallible> {
        let band = Rectangle::new(
            Point::new(0, i32::from(self.top)),
            Size::new(u32::from(self.width), u32::from(self.rows)),
        );
        let a = area.intersection(&band);
        let Some(br) = a.bottom_right() else {
            return Ok(());
        };
        let px = RawU16::from(color).into_inner().to_be_bytes();
        for y in a.top_left.y..=br.y {
            let (Some(s), Some(e)) = (
                self.index(Point::new(a.top_left.x, y)),
                self.index(Point::new(br.x, y)),
            ) else {
                continue;
            };
            if let Some(row) = self.buf.get_mut(s..e + 2) {
                for d in row.chunks_exact_mut(2) {
                    d.copy_from_slice(&px);
                }
            }
        }
        Ok(())
    }
}

/// Rows `top..bottom` of a packed framebuffer as an RGB565 draw target; see the module docs.
/// Pixels outside those rows are left alone.
#[derive(Debug)]
pub struct PackedCanvas<'f, 'b> {
    frame: &'f mut PackedFrame<'b>,
    top: u16,
    bottom: u16,
}

impl<'f, 'b> PackedCanvas<'f, 'b> {
    /// Rows `[top, bottom)` of `frame` (clipped to it).
    pub fn new(frame: &'f mut PackedFrame<'b>, top: u16, bottom: u16) -> Self {
        let bottom = bottom.min(frame.height());
        Self { frame, top, bottom }
    }

    /// The grey level of `c` in the frame's format: luma (ITU-R BT.601 weights) scaled to the
    /// format's white and rounded.
    pub fn level(&self, c: Rgb565) -> u16 {
        let (r, g, b) = (u32::from(c.r()), u32::from(c.g()), u32::from(c.b()));
        // Each channel to 0..=255, then luma 0..=255.
        let (r, g, b) = (r * 255 / 31, g * 255 / 63, b * 255 / 31);
        let luma = (299 * r + 587 * g + 114 * b) / 1000;
        let max = u32::from(self.frame.format().max_value());
        ((luma * max + 127) / 255) as u16
    }

    fn put(&mut self, p: Point, level: u16) {
        if p.x < 0 || p.y < i32::from(self.top) || p.y >= i32::from(self.bottom) {
            return;
        }
        // Both fit a u16: x is checked by `set_pixel`, y against `bottom` above.
        self.frame
            .set_pixel(p.x.min(i32::from(u16::MAX)) as u16, p.y as u16, level);
    }
}

impl OriginDimensions for PackedCanvas<'_, '_> {
    fn size(&self) -> Size {
        Size::new(
            u32::from(self.frame.width()),
            u32::from(self.frame.height()),
        )
    }
}

impl DrawTarget for PackedCanvas<'_, '_> {
    type Color = Rgb565;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb565>>,
    {
        for Pixel(p, c) in pixels {
            let level = self.level(c);
            self.put(p, level);
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb565) -> Result<(), Infallible> {
        let rows = Rectangle::new(
            Point::new(0, i32::from(self.top)),
            Size::new(
                u32::from(self.frame.width()),
                u32::from(self.bottom.saturating_sub(self.top)),
            ),
        );
        let level = self.level(color);
        for p in area.intersection(&rows).points() {
            self.put(p, level);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixelwire_proto::PixelFormat;

    #[test]
    fn colours_become_grey_levels_and_only_the_rows_given_change() {
        let mut fb = [0u8; 16 * 4];
        let mut f = PackedFrame::new(PixelFormat::Mono1, 16, 4, &mut fb).unwrap();
        let mut c = PackedCanvas::new(&mut f, 1, 3);
        assert_eq!(c.level(Rgb565::WHITE), 1);
        assert_eq!(c.level(Rgb565::new(0, 0, 21)), 0, "the status blue is dark");
        assert_eq!(
            c.level(Rgb565::new(24, 48, 24)),
            1,
            "the label grey is light"
        );
        c.clear(Rgb565::WHITE).unwrap();
        Pixel(Point::new(3, 2), Rgb565::BLACK).draw(&mut c).unwrap();
        Pixel(Point::new(-1, 2), Rgb565::BLACK)
            .draw(&mut c)
            .unwrap();
        Pixel(Point::new(99, 2), Rgb565::BLACK)
            .draw(&mut c)
            .unwrap();
        for y in 0..4 {
            for x in 0..16 {
                let lit = (1..3).contains(&y) && (x, y) != (3, 2);
                assert_eq!(f.pixel(x, y), u16::from(lit), "({x}, {y})");
            }
        }
        let mut fb = [0u8; 4];
        let mut g = PackedFrame::new(PixelFormat::Gray8, 2, 2, &mut fb).unwrap();
        let c = PackedCanvas::new(&mut g, 0, 2);
        assert_eq!(
            (c.level(Rgb565::WHITE), c.level(Rgb565::new(0, 63, 0))),
            (255, 149)
        );
    }
}
