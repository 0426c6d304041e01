//! The mouse pointer through XFixes: its position and image, blended into a captured frame
//! (premultiplied ARGB over the frame's BGRX) or reported apart as a [`CursorUpdate`].

use crate::x11::target::Area;
use bytes::Bytes;
use pixelwire_core::Rect;
use x11rb::protocol::xfixes::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

/// Largest cursor image accepted (larger ones are clipped to this).
const MAX_SIDE: u16 = 256;

/// The pointer as XFixes reports it, in root coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// Hot spot position on the root window.
    pub x: i32,
    /// Hot spot row on the root window.
    pub y: i32,
    /// Hot spot within the image.
    pub hot_x: u32,
    /// Hot spot row within the image.
    pub hot_y: u32,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Changes whenever the image changes.
    pub serial: u32,
    /// Premultiplied ARGB, one `u32` per pixel, rows top to bottom.
    pub argb: Vec<u32>,
}

impl Pointer {
    /// Reads the pointer; `None` if the request fails (no pointer on this screen).
    pub fn read(conn: &RustConnection) -> Option<Self> {
        let r = conn.xfixes_get_cursor_image().ok()?.reply().ok()?;
        let (w, h) = (r.width.min(MAX_SIDE), r.height.min(MAX_SIDE));
        let mut argb = Vec::with_capacity(usize::from(w) * usize::from(h));
        for row in r
            .cursor_image
            .chunks(usize::from(r.width).max(1))
            .take(usize::from(h))
        {
            argb.extend(row.iter().take(usize::from(w)));
        }
        if argb.len() != usize::from(w) * usize::from(h) {
            return None;
        }
        Some(Self {
            x: i32::from(r.x),
            y: i32::from(r.y),
            hot_x: u32::from(r.xhot),
            hot_y: u32::from(r.yhot),
            width: u32::from(w),
            height: u32::from(h),
            serial: r.cursor_serial,
            argb,
        })
    }

    /// The image's rectangle in the frame of `area`, clipped; `None` if outside.
    pub fn rect_in(&self, area: &Area) -> Option<Rect> {
        let left = i64::from(self.x) - i64::from(self.hot_x) - i64::from(area.x);
        let top = i64::from(self.y) - i64::from(self.hot_y) - i64::from(area.y);
        let x0 = left.clamp(0, i64::from(area.width));
        let y0 = top.clamp(0, i64::from(area.height));
        let x1 = (left + i64::from(self.width)).clamp(0, i64::from(area.width));
        let y1 = (top + i64::from(self.height)).clamp(0, i64::from(area.height));
        (x1 > x0 && y1 > y0).then(|| Rect {
            x: x0 as u32,
            y: y0 as u32,
            w: (x1 - x0) as u32,
            h: (y1 - y0) as u32,
        })
    }

    /// Blends the image over BGRX `pixels` (the frame of `area`, `stride` bytes per row).
    pub fn composite(&self, pixels: &mut [u8], stride: usize, area: &Area) {
        let Some(r) = self.rect_in(area) else {
            return;
        };
        let left = i64::from(self.x) - i64::from(self.hot_x) - i64::from(area.x);
        let top = i64::from(self.y) - i64::from(self.hot_y) - i64::from(area.y);
        for fy in r.y..r.y + r.h {
            let iy = (i64::from(fy) - top) as usize;
            let row_start = fy as usize * stride;
            let Some(row) = pixels.get_mut(row_start..row_start + area.width as usize * 4) else {
                return;
            };
            for fx in r.x..r.x + r.w {
                let ix = (i64::from(fx) - left) as usize;
                let src = self.argb[iy * self.width as usize + ix];
                let a = src >> 24;
                if a == 0 {
                    continue;
                }
                let px = &mut row[fx as usize * 4..fx as usize * 4 + 4];
                let inv = 255 - a;
                // Premultiplied source-over: dst = src + dst * (1 - a).
                for (i, shift) in [(0usize, 0u32), (1, 8), (2, 16)] {
                    let s = (src >> shift) & 0xFF;
                    let d = u32::from(px[i]);
                    px[i] = (s + (d * inv + 127) / 255).min(255) as u8;
                }
            }
        }
    }
}

/// The pointer for a program that draws it itself ([`crate::CursorMode::Separate`]): sent when
/// it moves or changes shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorUpdate {
    /// Hot spot in frame coordinates (may lie outside the frame).
    pub x: i32,
    /// Hot spot row in frame coordinates.
    pub y: i32,
    /// Hot spot within the image.
    pub hot_x: u32,
    /// Hot spot row within the image.
    pub hot_y: u32,
    /// A new image (straight RGBA, `width * height * 4` bytes) when the shape changed.
    pub image: Option<CursorImage>,
}

/// A cursor image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorImage {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Straight (not premultiplied) RGBA.
    pub rgba: Bytes,
}

impl Pointer {
    /// The image as straight RGBA.
    pub fn image(&self) -> CursorImage {
        let mut rgba = Vec::with_capacity(self.argb.len() * 4);
        for &p in &self.argb {
            let a = p >> 24;
            let un = |c: u32| {
                (c * 255 + a / 2)
                    .checked_div(a)
                    .map_or(0, |v| v.min(255) as u8)
            };
            rgba.extend_from_slice(&[
                un((p >> 16) & 0xFF),
                un((p >> 8) & 0xFF),
                un(p & 0xFF),
                a as u8,
            ]);
        }
        CursorImage {
            width: self.width,
            height: self.height,
            rgba: Bytes::from(rgba),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer() -> Pointer {
        // 2x1: opaque red, half-transparent white (premultiplied 0x80808080).
        Pointer {
            x: 11,
            y: 20,
            hot_x: 1,
            hot_y: 0,
            width: 2,
            height: 1,
            serial: 1,
            argb: vec![0xFFFF_0000, 0x8080_8080],
        }
    }

    #[test]
    fn composites_premultiplied_over_bgrx_at_the_hot_spot() {
        let area = Area {
            x: 5,
            y: 10,
            width: 8,
            height: 12,
        };
        let stride = 8 * 4 + 4;
        let mut px = vec![0u8; stride * 12];
        pointer().composite(&mut px, stride, &area);
        // Image left = 11 - 1 - 5 = 5, top = 20 - 0 - 10 = 10.
        let at = |x: usize, y: usize| &px[y * stride + x * 4..y * stride + x * 4 + 4];
        assert_eq!(at(5, 10), [0, 0, 255, 0], "red in BGRX");
        assert_eq!(at(6, 10), [128, 128, 128, 0], "half white over black");
        assert_eq!(at(4, 10), [0, 0, 0, 0]);
        assert_eq!(
            pointer().rect_in(&area),
            Some(Rect {
                x: 5,
                y: 10,
                w: 2,
                h: 1
            })
        );
    }

    #[test]
    fn a_pointer_outside_the_area_touches_nothing() {
        let area = Area {
            x: 100,
            y: 100,
            width: 8,
            height: 8,
        };
        let mut px = vec![7u8; 8 * 4 * 8];
        pointer().composite(&mut px, 32, &area);
        assert!(px.iter().all(|&b| b == 7));
        assert_eq!(pointer().rect_in(&area), None);
    }

    #[test]
    fn image_is_straight_rgba() {
        let img = pointer().image();
        assert_eq!(&img.rgba[..], &[255, 0, 0, 255, 255, 255, 255, 128]);
    }
}
