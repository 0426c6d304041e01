//! Scaling source frames to a panel's size with a quality filter (Lanczos3 by default, through
//! `fast_image_resize`), in one of three fit modes. Same-size frames are passed through untouched.

use crate::frame::Frame;

/// How a source of another aspect ratio fills the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// Scale to fill exactly, distorting the aspect ratio if it differs.
    Stretch,
    /// Scale to fit inside, keeping the aspect ratio; black bars fill the rest (letterbox).
    #[default]
    Contain,
    /// Scale to cover, keeping the aspect ratio; the overflow is cropped (centred).
    Cover,
}

/// Resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    /// Nearest pixel: fastest, blocky.
    Nearest,
    /// Bilinear.
    Bilinear,
    /// Catmull-Rom bicubic.
    CatmullRom,
    /// Lanczos with 3 lobes: sharpest, what seed 000 used.
    #[default]
    Lanczos3,
}

/// Resizes RGBA frames to one output size, keeping its scratch buffers between calls.
pub struct FrameResizer {
    width: u32,
    height: u32,
    fit: Fit,
    filter: Filter,
    resizer: fast_image_resize::Resizer,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for FrameResizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameResizer")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("fit", &self.fit)
            .field("filter", &self.filter)
            .finish()
    }
}

impl FrameResizer {
    /// A resizer to `width × height`.
    pub fn new(width: u32, height: u32, fit: Fit, filter: Filter) -> Self {
        Self {
            width,
            height,
            fit,
            filter,
            resizer: fast_image_resize::Resizer::new(),
            scratch: Vec::new(),
        }
    }

    /// Output size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Resizes `frame` into `out` (`width*height*4` bytes, RGBA). Returns false if the frame is
    /// empty or malformed (then `out` is black).
    pub fn resize(&mut self, frame: &Frame, out: &mut Vec<u8>) -> bool {
        use fast_image_resize::{
            FilterType, PixelType, ResizeAlg, ResizeOptions, images::Image, images::ImageRef,
        };
        let (w, h) = (self.width, self.height);
        out.clear();
        out.resize(w as usize * h as usize * 4, 0);
        let Ok(src) = ImageRef::new(frame.width, frame.height, &frame.rgba, PixelType::U8x4) else {
            return false;
        };
        if frame.width == 0 || frame.height == 0 {
            return false;
        }
        if frame.width == w && frame.height == h {
            let n = out.len();
            out.copy_from_slice(&frame.rgba[..n]);
            return true;
        }
        let alg = match self.filter {
            Filter::Nearest => ResizeAlg::Nearest,
            Filter::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
            Filter::CatmullRom => ResizeAlg::Convolution(FilterType::CatmullRom),
            Filter::Lanczos3 => ResizeAlg::Convolution(FilterType::Lanczos3),
        };
        let opts = ResizeOptions::new().resize_alg(alg).use_alpha(false);
        let ok = match self.fit {
            Fit::Stretch => match Image::from_slice_u8(w, h, out, PixelType::U8x4) {
                Ok(mut dst) => self.resizer.resize(&src, &mut dst, &opts).is_ok(),
                Err(_) => false,
            },
            Fit::Cover => {
                // Crop the centre of the source to the panel's aspect ratio ourselves, then scale
                // it whole: fast_image_resize 6.1's own crop overflows an index for some sizes
                // (found by the `legacy` fuzz target: 19x6 into 33x16).
                let (sw, sh) = (u64::from(frame.width), u64::from(frame.height));
                let (cw, ch) = if sw * u64::from(h) > sh * u64::from(w) {
                    (
                        ((sh * u64::from(w) + u64::from(h) / 2) / u64::from(h)).clamp(1, sw),
                        sh,
                    )
                } else {
                    (
                        sw,
                        ((sw * u64::from(h) + u64::from(w) / 2) / u64::from(w)).clamp(1, sh),
                    )
                };
                let (x0, y0) = ((sw - cw) / 2, (sh - ch) / 2);
                let Self {
                    resizer, scratch, ..
                } = self;
                scratch.clear();
                for y in y0..y0 + ch {
                    let start = ((y * sw + x0) * 4) as usize;
                    scratch.extend_from_slice(&frame.rgba[start..start + cw as usize * 4]);
                }
                match (
                    ImageRef::new(cw as u32, ch as u32, scratch, PixelType::U8x4),
                    Image::from_slice_u8(w, h, out, PixelType::U8x4),
                ) {
                    (Ok(cropped), Ok(mut dst)) => resizer.resize(&cropped, &mut dst, &opts).is_ok(),
                    _ => false,
                }
            }
            Fit::Contain => {
                // Largest size of the source's aspect ratio that fits, centred on black. Scaled
                // into the front of `out` as a packed `fw × fh` image, then moved into place row by
                // row from the bottom (a row's place is never before where it was packed, and the
                // rows above it are packed before it): no second panel-sized buffer.
                let scale = (f64::from(w) / f64::from(frame.width))
                    .min(f64::from(h) / f64::from(frame.height));
                let fw = ((f64::from(frame.width) * scale).round() as u32).clamp(1, w);
                let fh = ((f64::from(frame.height) * scale).round() as u32).clamp(1, h);
                let (row, packed_row) = (w as usize * 4, fw as usize * 4);
                let packed = packed_row * fh as usize;
                let ok = match Image::from_slice_u8(fw, fh, &mut out[..packed], PixelType::U8x4) {
                    Ok(mut dst) => self.resizer.resize(&src, &mut dst, &opts).is_ok(),
                    Err(_) => false,
                };
                let (ox, oy) = ((w - fw) as usize / 2, (h - fh) as usize / 2);
                for y in (0..fh as usize).rev() {
                    let d = (oy + y) * row + ox * 4;
                    out.copy_within(y * packed_row..(y + 1) * packed_row, d);
                }
                // Black around the picture: above, below, and either side of each row.
                let top = oy * row;
                let bottom = (oy + fh as usize) * row;
                out[..top].fill(0);
                out[bottom..].fill(0);
                for y in oy..oy + fh as usize {
                    out[y * row..y * row + ox * 4].fill(0);
                    out[y * row + ox * 4 + packed_row..(y + 1) * row].fill(0);
                }
                ok
            }
        };
        // Opaque output whatever the filter did to alpha.
        for px in out.chunks_exact_mut(4) {
            px[3] = 0xFF;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Frame {
        let mut rgba = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let c = f(x, y);
                rgba.extend_from_slice(&[c[0], c[1], c[2], 255]);
            }
        }
        Frame {
            width: w,
            height: h,
            rgba,
            seq: 0,
            capture_time_us: 0,
        }
    }

    #[test]
    fn contain_is_the_stretched_picture_centred_on_black() {
        // Letterboxing in place must equal scaling to the fitted size and centring it.
        for (sw, sh, w, h) in [
            (64, 16, 32, 32),
            (16, 64, 32, 32),
            (30, 20, 17, 13),
            (5, 7, 40, 9),
        ] {
            let f = frame(sw, sh, |x, y| {
                [(x * 37) as u8, (y * 11) as u8, (x ^ y) as u8]
            });
            let mut out = Vec::new();
            assert!(FrameResizer::new(w, h, Fit::Contain, Filter::Lanczos3).resize(&f, &mut out));
            let scale = (f64::from(w) / f64::from(sw)).min(f64::from(h) / f64::from(sh));
            let fw = ((f64::from(sw) * scale).round() as u32).clamp(1, w);
            let fh = ((f64::from(sh) * scale).round() as u32).clamp(1, h);
            let mut inner = Vec::new();
            assert!(
                FrameResizer::new(fw, fh, Fit::Stretch, Filter::Lanczos3).resize(&f, &mut inner)
            );
            let (ox, oy) = ((w - fw) / 2, (h - fh) / 2);
            for y in 0..h {
                for x in 0..w {
                    let i = ((y * w + x) * 4) as usize;
                    let want = if (ox..ox + fw).contains(&x) && (oy..oy + fh).contains(&y) {
                        let j = (((y - oy) * fw + (x - ox)) * 4) as usize;
                        &inner[j..j + 4]
                    } else {
                        &[0, 0, 0, 255][..]
                    };
                    assert_eq!(&out[i..i + 4], want, "{sw}x{sh} -> {w}x{h} at {x},{y}");
                }
            }
        }
    }

    #[test]
    fn same_size_passes_through() {
        let f = frame(8, 4, |x, y| [x as u8 * 10, y as u8 * 20, 7]);
        let mut r = FrameResizer::new(8, 4, Fit::Contain, Filter::Lanczos3);
        let mut out = Vec::new();
        assert!(r.resize(&f, &mut out));
        assert_eq!(out, f.rgba);
    }

    #[test]
    fn contain_letterboxes_a_wide_source() {
        // 64x16 red source into 32x32: scaled to 32x8, centred vertically at y=12..20
        let f = frame(64, 16, |_, _| [255, 0, 0]);
        let mut r = FrameResizer::new(32, 32, Fit::Contain, Filter::Lanczos3);
        let mut out = Vec::new();
        assert!(r.resize(&f, &mut out));
        let at = |x: usize, y: usize| &out[(y * 32 + x) * 4..(y * 32 + x) * 4 + 3];
        assert_eq!(at(16, 2), [0, 0, 0]);
        assert_eq!(at(16, 16), [255, 0, 0]);
        assert_eq!(at(16, 29), [0, 0, 0]);
    }

    #[test]
    fn cover_crops_and_stretch_fills() {
        // left half red, right half blue, 64x16 into 16x16: cover keeps the centre (both colours)
        let f = frame(
            64,
            16,
            |x, _| if x < 32 { [255, 0, 0] } else { [0, 0, 255] },
        );
        let mut out = Vec::new();
        let mut r = FrameResizer::new(16, 16, Fit::Cover, Filter::Bilinear);
        assert!(r.resize(&f, &mut out));
        assert_eq!(&out[0..3], [255, 0, 0]);
        assert_eq!(&out[15 * 4..15 * 4 + 3], [0, 0, 255]);
        let mut r = FrameResizer::new(16, 16, Fit::Stretch, Filter::Nearest);
        assert!(r.resize(&f, &mut out));
        assert_eq!(&out[(15 * 16) * 4..(15 * 16) * 4 + 3], [255, 0, 0]);
    }

    #[test]
    fn every_size_pairing_resizes_without_panic() {
        // Regression: fast_image_resize's own crop panicked on 19x6 -> 33x16 (Cover), and in release
        // builds read out of bounds on 320x240 -> 5x320 and 64x48 -> 16x240 (Cover + CatmullRom).
        for (sw, sh, dw, dh) in [(320, 240, 5, 320), (64, 48, 16, 240), (19, 6, 33, 16)] {
            let f = frame(sw, sh, |x, y| [x as u8, y as u8, 9]);
            for filter in [Filter::CatmullRom, Filter::Lanczos3] {
                let mut r = FrameResizer::new(dw, dh, Fit::Cover, filter);
                let mut out = Vec::new();
                assert!(r.resize(&f, &mut out));
            }
        }
        let sizes = [1u32, 2, 3, 5, 6, 7, 16, 19, 33, 40];
        for fit in [Fit::Contain, Fit::Cover, Fit::Stretch] {
            for filter in [
                Filter::Nearest,
                Filter::Bilinear,
                Filter::CatmullRom,
                Filter::Lanczos3,
            ] {
                for &sw in &sizes {
                    for &sh in &sizes {
                        let f = frame(sw, sh, |x, y| [x as u8, y as u8, 9]);
                        for (dw, dh) in [(33, 16), (16, 33), (7, 7), (1, 5), (40, 3)] {
                            let mut r = FrameResizer::new(dw, dh, fit, filter);
                            let mut out = Vec::new();
                            assert!(
                                r.resize(&f, &mut out),
                                "{sw}x{sh} -> {dw}x{dh} {fit:?} {filter:?}"
                            );
                            assert_eq!(out.len(), (dw * dh * 4) as usize);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn malformed_frame_is_rejected_not_a_panic() {
        let f = Frame {
            width: 100,
            height: 100,
            rgba: vec![0; 10],
            seq: 0,
            capture_time_us: 0,
        };
        let mut r = FrameResizer::new(16, 16, Fit::Contain, Filter::Lanczos3);
        let mut out = Vec::new();
        assert!(!r.resize(&f, &mut out));
        assert_eq!(out.len(), 16 * 16 * 4);
    }
}
