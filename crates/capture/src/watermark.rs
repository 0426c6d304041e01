//! The watermark (pixelflux §6): a PNG loaded once, placed per [`WatermarkLocation`] (a corner,
//! the middle, or bouncing a few pixels per frame and reflecting at the edges), and blended into a
//! *copy* of the stripes it overlaps (captured pixels live in shared memory and are never
//! written) before they are hashed and encoded. Opaque pixels overwrite, transparent ones are
//! skipped, only edge pixels pay for a blend. A moving watermark reports its old and new
//! rectangles as damage so the stripes it leaves and enters are hashed.

use crate::error::CaptureError;
use crate::settings::{Watermark, WatermarkLocation};
use pixelwire_core::Rect;
use pixelwire_media::PixelLayout;

/// Pixels an animated watermark moves per frame, horizontally and vertically.
pub const BOUNCE_STEP: (i64, i64) = (3, 2);

/// Where the watermark goes on one frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    /// Its rectangle, clipped to the frame (`None`: it does not fit at all).
    pub rect: Option<Rect>,
    /// Rectangles that changed because it moved (old and new; empty for a still watermark).
    pub dirty: Vec<Rect>,
}

/// A loaded watermark and its animation state.
#[derive(Debug, Clone)]
pub struct WatermarkLayer {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
    location: WatermarkLocation,
    pos: (i64, i64),
    step: (i64, i64),
    last: Option<(u32, u32, Rect)>,
}

impl WatermarkLayer {
    /// Reads the PNG.
    pub fn load(wm: &Watermark) -> Result<Self, CaptureError> {
        let err = |reason: String| CaptureError::Watermark {
            path: wm.path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(&wm.path).map_err(|e| err(e.to_string()))?;
        let (w, h, rgba) =
            pixelwire_media::png::decode_rgba(&bytes).map_err(|e| err(e.to_string()))?;
        Ok(Self::from_rgba(w, h, rgba, wm.location))
    }

    /// A watermark from RGBA pixels (`width * height * 4` bytes).
    pub fn from_rgba(width: u32, height: u32, rgba: Vec<u8>, location: WatermarkLocation) -> Self {
        Self {
            width,
            height,
            rgba,
            location,
            pos: (0, 0),
            step: BOUNCE_STEP,
            last: None,
        }
    }

    /// Places it on the next frame of `fw × fh` (an animated one moves one step).
    pub fn advance(&mut self, fw: u32, fh: u32) -> Placement {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        let (fwi, fhi) = (i64::from(fw), i64::from(fh));
        let (x, y) = match self.location {
            WatermarkLocation::TopLeft => (0, 0),
            WatermarkLocation::TopRight => (fwi - w, 0),
            WatermarkLocation::BottomLeft => (0, fhi - h),
            WatermarkLocation::BottomRight => (fwi - w, fhi - h),
            WatermarkLocation::Middle => ((fwi - w) / 2, (fhi - h) / 2),
            WatermarkLocation::Animated => {
                let moved = self.last.is_some_and(|(lw, lh, _)| (lw, lh) == (fw, fh));
                if moved {
                    let bounce = |p: i64, s: &mut i64, room: i64| {
                        if p + *s < 0 || p + *s > room {
                            *s = -*s;
                        }
                        (p + *s).clamp(0, room.max(0))
                    };
                    self.pos = (
                        bounce(self.pos.0, &mut self.step.0, fwi - w),
                        bounce(self.pos.1, &mut self.step.1, fhi - h),
                    );
                } else {
                    self.pos = (0, 0);
                }
                self.pos
            }
        };
        let (x, y) = (x.max(0), y.max(0));
        let rect = (x < fwi && y < fhi && w > 0 && h > 0).then(|| Rect {
            x: x as u32,
            y: y as u32,
            w: (w.min(fwi - x)) as u32,
            h: (h.min(fhi - y)) as u32,
        });
        let mut dirty = Vec::new();
        if self.location == WatermarkLocation::Animated
            && let Some(r) = rect
        {
            if let Some((lw, lh, old)) = self.last
                && (lw, lh) == (fw, fh)
                && old != r
            {
                dirty.push(old);
            }
            dirty.push(r);
        }
        self.last = rect.map(|r| (fw, fh, r));
        Placement { rect, dirty }
    }

    /// Blends it, placed at `rect`, into `dst`: rows `y0..y0 + rows` of the frame, `stride` bytes
    /// apart, in `layout`.
    pub fn blend(
        &self,
        rect: Rect,
        dst: &mut [u8],
        stride: usize,
        y0: u32,
        rows: u32,
        layout: PixelLayout,
    ) {
        let top = rect.y.max(y0);
        let bottom = (rect.y + rect.h).min(y0 + rows);
        for fy in top..bottom {
            let src_row = (fy - rect.y) as usize * self.width as usize * 4;
            let dst_row = (fy - y0) as usize * stride + rect.x as usize * 4;
            let src = &self.rgba[src_row..src_row + rect.w as usize * 4];
            let Some(dst) = dst.get_mut(dst_row..dst_row + rect.w as usize * 4) else {
                return;
            };
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                let a = u32::from(s[3]);
                if a == 0 {
                    continue;
                }
                let c = match layout {
                    PixelLayout::Rgba => [s[0], s[1], s[2]],
                    PixelLayout::Bgra | PixelLayout::Bgrx => [s[2], s[1], s[0]],
                };
                for (dc, sc) in d.iter_mut().zip(c) {
                    *dc = ((u32::from(sc) * a + u32::from(*dc) * (255 - a) + 127) / 255) as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(location: WatermarkLocation) -> WatermarkLayer {
        // 4x2: left half opaque red, right half half-transparent white
        let px = |x: u32| {
            if x < 2 {
                [255, 0, 0, 255]
            } else {
                [255, 255, 255, 128]
            }
        };
        let rgba = (0..8).flat_map(|i| px(i % 4)).collect();
        WatermarkLayer::from_rgba(4, 2, rgba, location)
    }

    #[test]
    fn corners_and_middle() {
        let at = |loc| layer(loc).advance(20, 10).rect.unwrap();
        let r = |x, y| Rect { x, y, w: 4, h: 2 };
        assert_eq!(at(WatermarkLocation::TopLeft), r(0, 0));
        assert_eq!(at(WatermarkLocation::TopRight), r(16, 0));
        assert_eq!(at(WatermarkLocation::BottomLeft), r(0, 8));
        assert_eq!(at(WatermarkLocation::BottomRight), r(16, 8));
        assert_eq!(at(WatermarkLocation::Middle), r(8, 4));
        assert!(
            layer(WatermarkLocation::Middle)
                .advance(20, 10)
                .dirty
                .is_empty()
        );
    }

    #[test]
    fn the_bounce_moves_reflects_and_dirties_old_and_new() {
        let mut wm = layer(WatermarkLocation::Animated);
        let first = wm.advance(10, 6);
        assert_eq!(first.dirty, [first.rect.unwrap()]);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for _ in 0..6 {
            let p = wm.advance(10, 6);
            let r = p.rect.unwrap();
            assert_eq!(p.dirty.len(), 2);
            assert_eq!(p.dirty[1], r);
            xs.push(r.x);
            ys.push(r.y);
        }
        // room 6 wide and 4 high, steps of 3 and 2
        assert_eq!(xs, [3, 6, 3, 0, 3, 6]);
        assert_eq!(ys, [2, 4, 2, 0, 2, 4]);
    }

    #[test]
    fn blending_overwrites_opaque_mixes_partial_and_keeps_the_rest() {
        let wm = layer(WatermarkLocation::TopLeft);
        let rect = Rect {
            x: 1,
            y: 1,
            w: 4,
            h: 2,
        };
        // frame rows 1..3 of a 6-wide BGRA frame, all black, stride with 4 bytes of padding
        let stride = 6 * 4 + 4;
        let mut dst = vec![0u8; stride * 2];
        wm.blend(rect, &mut dst, stride, 1, 2, PixelLayout::Bgra);
        let px = |row: usize, x: usize| &dst[row * stride + x * 4..row * stride + x * 4 + 4];
        assert_eq!(px(0, 0), [0, 0, 0, 0]);
        assert_eq!(px(0, 1), [0, 0, 255, 0]); // red, as BGRA; destination alpha kept
        assert_eq!(px(1, 3), [128, 128, 128, 0]);
        assert_eq!(px(1, 5), [0, 0, 0, 0]);
    }
}
