//! A horizontal band of the screen in RAM, as an `embedded-graphics` draw target: the status screen
//! is drawn band by band into one strip buffer and each band is pushed to the panel in one window,
//! so text needs no framebuffer and no per-pixel SPI transactions.

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
