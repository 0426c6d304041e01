//! Delivered quality: the PSNR of what the panel shows against the frame it was built from.
//!
//! The reference is the panel-sized RGBA frame *before* RGB565 quantisation (after the colour LUT,
//! which is intended, so a display with gamma correction is not charged for it), and the test image
//! is the sink's shadow of the panel, each RGB565 value widened to 8 bits per channel by bit
//! replication (`r8 = r5 << 3 | r5 >> 2`), as a panel driving 8-bit-per-channel glass does. So the
//! figure includes RGB565's own loss (over uniform noise, the seed's truncating conversion scores
//! 39.2 dB; rounding to the nearest RGB565 value would score about 41.9 dB, the 41.5 dB for
//! a real frame lies between), the coarser levels of rate control, dither noise and
//! damage not yet sent. MSE is over the three colour channels of every panel pixel, peak 255:
//! `PSNR = 10 log10(255² / MSE)`, capped at [`PSNR_CAP_DB`] for a panel equal to its reference.
//!
//! For a grey or monochrome panel the reference is the grey source: the luma the sink quantises
//! ([`crate::gray`]: the same LUT, then BT.601 weights), and the test image is the shadow's grey
//! levels widened to 8 bits (`v · 255 / max`: gray4 `v · 17`, mono 0 or 255), over one channel. So
//! the figure charges what the panel's depth and dither lose against the best grey picture, not the
//! colour such a panel cannot show; a mono panel dithering a mid-grey scores about 6 dB where a
//! gray4 panel scores about 30 dB.
//!
//! PSNR rather than SSIM: it is additive over tiles, so a per-tile cache of squared errors keeps it
//! incremental (only tiles whose shadow or reference changed are re-summed), and it is the figure
//! the targets and the other PSNRs in the project (JPEG, H.264 golden tests) are given in.

use crate::frame::Rect;
use crate::gray::luma_of;
use crate::image565::Rgb565Image;
use pixelwire_proto::PixelFormat;

/// What a panel equal to its reference scores, dB (MSE 0 would be infinite).
pub const PSNR_CAP_DB: f64 = 100.0;

/// PSNR of `sse` summed over `samples` 8-bit values, dB, capped at [`PSNR_CAP_DB`].
pub fn psnr_db(sse: u64, samples: u64) -> f64 {
    if sse == 0 || samples == 0 {
        return PSNR_CAP_DB;
    }
    let mse = sse as f64 / samples as f64;
    (10.0 * (255.0f64 * 255.0 / mse).log10()).min(PSNR_CAP_DB)
}

/// RGB565 widened to 8 bits per channel by bit replication.
#[inline]
pub const fn widen565(p: u16) -> [u8; 3] {
    let r = (p >> 11) & 0x1F;
    let g = (p >> 5) & 0x3F;
    let b = p & 0x1F;
    [
        ((r << 3) | (r >> 2)) as u8,
        ((g << 2) | (g >> 4)) as u8,
        ((b << 3) | (b >> 2)) as u8,
    ]
}

/// Sum of squared errors over `rect` between `reference` (RGBA, `shadow.width` pixels a row), mapped
/// through `luts` if given, and `shadow`.
pub fn sse_rect(
    reference: &[u8],
    luts: Option<&[[u8; 256]; 3]>,
    shadow: &Rgb565Image,
    rect: Rect,
) -> u64 {
    let w = shadow.width as usize;
    let (x0, x1) = (rect.x as usize, (rect.x + rect.w) as usize);
    let mut sse = 0u64;
    for y in rect.y..rect.y + rect.h {
        let row = y as usize * w;
        let refs = &reference[(row + x0) * 4..(row + x1) * 4];
        let shown = &shadow.px[row + x0..row + x1];
        // Up to 2^14 pixels of at most 3 · 255² each fit a u32 sum, which vectorises.
        for (refs, shown) in refs.chunks(4 << 14).zip(shown.chunks(1 << 14)) {
            sse += u64::from(match luts {
                None => match bytemuck::try_cast_slice::<u8, u32>(refs) {
                    Ok(words) => sse_words(words, shown),
                    Err(_) => sse_bytes(refs, shown, |r, g, b| (r, g, b)),
                },
                Some(l) => sse_bytes(refs, shown, |r, g, b| {
                    (l[0][r as usize], l[1][g as usize], l[2][b as usize])
                }),
            });
        }
    }
    sse
}

/// Squared error of RGBA pixels read as little-endian words against RGB565 values.
#[inline]
fn sse_words(words: &[u32], shown: &[u16]) -> u32 {
    words
        .iter()
        .zip(shown)
        .map(|(&v, &p)| {
            let v = u32::from_le(v);
            let p = u32::from(p);
            let (r5, g6, b5) = (p >> 11, (p >> 5) & 0x3F, p & 0x1F);
            let dr = (v & 0xFF) as i32 - ((r5 << 3) | (r5 >> 2)) as i32;
            let dg = ((v >> 8) & 0xFF) as i32 - ((g6 << 2) | (g6 >> 4)) as i32;
            let db = ((v >> 16) & 0xFF) as i32 - ((b5 << 3) | (b5 >> 2)) as i32;
            (dr * dr + dg * dg + db * db) as u32
        })
        .sum()
}

/// Squared error of RGBA bytes mapped through `map` against RGB565 values.
#[inline]
fn sse_bytes(refs: &[u8], shown: &[u16], map: impl Fn(u8, u8, u8) -> (u8, u8, u8)) -> u32 {
    refs.chunks_exact(4)
        .zip(shown)
        .map(|(s, &p)| {
            let (r, g, b) = map(s[0], s[1], s[2]);
            let q = widen565(p);
            let dr = i32::from(r) - i32::from(q[0]);
            let dg = i32::from(g) - i32::from(q[1]);
            let db = i32::from(b) - i32::from(q[2]);
            (dr * dr + dg * dg + db * db) as u32
        })
        .sum()
}

/// Squared error of RGBA bytes' luma (after `luts`) against grey levels of `format`.
#[inline]
fn sse_gray(refs: &[u8], shown: &[u16], luts: Option<&[[u8; 256]; 3]>, format: PixelFormat) -> u32 {
    refs.chunks_exact(4)
        .zip(shown)
        .map(|(s, &p)| {
            let d = i32::from(luma_of(s, luts)) - i32::from(format.gray_to_8bit(p));
            (d * d) as u32
        })
        .sum()
}

/// Per-tile squared errors of a panel against its reference, re-summed only where marked stale.
#[derive(Debug, Clone)]
pub struct PanelPsnr {
    /// The grey format of the panel, `None` for RGB565.
    gray: Option<PixelFormat>,
    width: u32,
    height: u32,
    tile: u32,
    tiles_x: u32,
    sse: Vec<u64>,
    stale: Vec<bool>,
    total: u64,
    /// One band's new sums.
    scratch: Vec<u64>,
}

impl PanelPsnr {
    /// For a `width × height` panel in `tile`-pixel tiles; everything starts stale.
    pub fn new(width: u32, height: u32, tile: u32) -> Self {
        let tile = tile.clamp(8, 256);
        let tiles_x = width.div_ceil(tile);
        let n = (tiles_x * height.div_ceil(tile)) as usize;
        Self {
            gray: None,
            width,
            height,
            tile,
            tiles_x,
            sse: vec![0; n],
            stale: vec![true; n],
            total: 0,
            scratch: vec![0; tiles_x as usize],
        }
    }

    /// This figure for a panel in `format`: scored against the grey source for the grey formats
    /// (see the module docs).
    #[must_use]
    pub fn with_format(mut self, format: PixelFormat) -> Self {
        self.gray = (!format.is_rgb565()).then_some(format);
        self
    }

    /// The reference changed everywhere (a new source frame).
    pub fn mark_all(&mut self) {
        self.stale.fill(true);
    }

    /// The shadow changed inside `r`.
    pub fn mark(&mut self, r: Rect) {
        if r.w == 0 || r.h == 0 {
            return;
        }
        let t = self.tile;
        let (tx0, ty0) = (r.x / t, r.y / t);
        let tx1 = (r.x + r.w - 1).min(self.width.saturating_sub(1)) / t;
        let ty1 = (r.y + r.h - 1).min(self.height.saturating_sub(1)) / t;
        for ty in ty0..=ty1 {
            for tx in tx0..=tx1 {
                if let Some(s) = self.stale.get_mut((ty * self.tiles_x + tx) as usize) {
                    *s = true;
                }
            }
        }
    }

    /// Re-sums the stale tiles and returns the PSNR over the panel, dB; `None` if `reference` is
    /// not a panel-sized RGBA frame or `shadow` not the panel's size (no frame yet).
    pub fn update(
        &mut self,
        reference: &[u8],
        luts: Option<&[[u8; 256]; 3]>,
        shadow: &Rgb565Image,
    ) -> Option<f64> {
        let pixels = u64::from(self.width) * u64::from(self.height);
        if (shadow.width, shadow.height) != (self.width, self.height)
            || reference.len() as u64 != pixels * 4
        {
            return None;
        }
        let (t, w, h) = (
            self.tile as usize,
            self.width as usize,
            self.height as usize,
        );
        let tiles_x = self.tiles_x as usize;
        // Read as words once for the whole frame (our buffers are always aligned).
        let words = match (luts, self.gray) {
            (None, None) => bytemuck::try_cast_slice::<u8, u32>(reference).ok(),
            _ => None,
        };
        let gray = self.gray;
        for (ty, (stale, cached)) in self
            .stale
            .chunks_exact_mut(tiles_x)
            .zip(self.sse.chunks_exact_mut(tiles_x))
            .enumerate()
        {
            if !stale.contains(&true) {
                continue;
            }
            let sums = &mut self.scratch;
            sums.fill(0);
            // Row by row across the band, so each row is sliced once and each tile's segment
            // (at most 256 pixels: its sum fits a u32) is a short loop that vectorises.
            for y in ty * t..((ty + 1) * t).min(h) {
                let row = y * w;
                let shown = &shadow.px[row..row + w];
                for (tx, sum) in sums.iter_mut().enumerate() {
                    if !stale[tx] {
                        continue;
                    }
                    let (a, b) = (tx * t, ((tx + 1) * t).min(w));
                    let refs = &reference[(row + a) * 4..(row + b) * 4];
                    if let Some(f) = gray {
                        *sum += u64::from(sse_gray(refs, &shown[a..b], luts, f));
                        continue;
                    }
                    *sum += u64::from(match (words, luts) {
                        (Some(words), _) => sse_words(&words[row + a..row + b], &shown[a..b]),
                        (None, Some(l)) => sse_bytes(refs, &shown[a..b], |r, g, b| {
                            (l[0][r as usize], l[1][g as usize], l[2][b as usize])
                        }),
                        (None, None) => sse_bytes(refs, &shown[a..b], |r, g, b| (r, g, b)),
                    });
                }
            }
            for ((s, c), &new) in stale.iter_mut().zip(cached.iter_mut()).zip(sums.iter()) {
                if *s {
                    self.total = self.total - *c + new;
                    *c = new;
                    *s = false;
                }
            }
        }
        let channels = if gray.is_some() { 1 } else { 3 };
        Some(psnr_db(self.total, pixels * channels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgba(w: u32, h: u32, mut f: impl FnMut(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let mut out = Vec::with_capacity((w * h * 4) as usize);
        for y in 0..h {
            for x in 0..w {
                let [r, g, b] = f(x, y);
                out.extend_from_slice(&[r, g, b, 255]);
            }
        }
        out
    }

    fn to565(rgba: &[u8], w: u32, h: u32) -> Rgb565Image {
        Rgb565Image {
            width: w,
            height: h,
            px: rgba
                .chunks_exact(4)
                .map(|s| pixelwire_proto::rgb565(s[0], s[1], s[2]))
                .collect(),
        }
    }

    #[test]
    fn widening_replicates_bits() {
        assert_eq!(widen565(0xFFFF), [255, 255, 255]);
        assert_eq!(widen565(0), [0, 0, 0]);
        // r5 = 0b10000 → 0b10000_100, g6 = 0b100000 → 0b100000_10
        assert_eq!(widen565(0x8410), [132, 130, 132]);
    }

    #[test]
    fn a_panel_equal_to_its_reference_scores_the_cap() {
        // Values that RGB565 represents exactly.
        let src = rgba(40, 30, |x, y| {
            widen565(((x * 977 + y * 131) & 0xFFFF) as u16)
        });
        let shown = to565(&src, 40, 30);
        let mut p = PanelPsnr::new(40, 30, 16);
        assert_eq!(p.update(&src, None, &shown), Some(PSNR_CAP_DB));
    }

    #[test]
    fn a_known_error_gives_the_expected_figure() {
        // Every channel off by exactly 16 → MSE 256 → 10·log10(65025/256) = 24.048 dB.
        let src = rgba(32, 32, |_, _| [16, 16, 16]);
        let shown = Rgb565Image::filled(32, 32, 0);
        let mut p = PanelPsnr::new(32, 32, 16);
        let db = p.update(&src, None, &shown).unwrap();
        assert!((db - 24.048).abs() < 1e-3, "{db}");
        // Half the panel fixed, only its tiles re-summed: MSE 128 → 27.059 dB.
        let mut fixed = shown.clone();
        for y in 0..32 {
            for x in 0..16 {
                fixed.px[y * 32 + x] = pixelwire_proto::rgb565(16, 16, 16);
            }
        }
        p.mark(Rect::new(0, 0, 16, 32));
        let db = p.update(&src, None, &fixed).unwrap();
        assert!((db - 27.059).abs() < 1e-3, "{db}");
        // Unmarked tiles keep their cached error even if the image changed underneath.
        let db_again = p
            .update(&src, None, &Rgb565Image::filled(32, 32, 0))
            .unwrap();
        assert_eq!(db_again, db);
    }

    #[test]
    fn truncated_rgb565_over_noise_is_39_2_db() {
        // A deterministic full-range noise truncated to 5/6/5 bits (the sink's default conversion).
        // Per channel, truncation then bit replication leaves errors of -k..7-k (5 bits) and
        // -k..3-k (6 bits) with k the replicated top bits: MSE ≈ 7.8, 10·log10(65025/7.8) ≈ 39.2.
        let mut s = 0x1234_5678u32;
        let src = rgba(320, 240, |_, _| {
            let mut next = || {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 24) as u8
            };
            [next(), next(), next()]
        });
        let shown = to565(&src, 320, 240);
        let db = PanelPsnr::new(320, 240, 16)
            .update(&src, None, &shown)
            .unwrap();
        assert!((db - 39.2).abs() < 0.2, "{db}");
    }

    #[test]
    fn the_lut_is_applied_to_the_reference() {
        let src = rgba(16, 16, |_, _| [100, 100, 100]);
        let mut luts = [[0u8; 256]; 3];
        for l in &mut luts {
            for (v, o) in l.iter_mut().enumerate() {
                *o = (v / 2) as u8;
            }
        }
        let shown = Rgb565Image::filled(16, 16, 0);
        // LUT maps 100 → 50: MSE 2500 → 14.152 dB.
        let db = PanelPsnr::new(16, 16, 16)
            .update(&src, Some(&luts), &shown)
            .unwrap();
        assert!((db - 14.152).abs() < 1e-3, "{db}");
    }

    #[test]
    fn grey_panels_score_against_the_grey_source() {
        use crate::color::{ColorCorrection, Dither};
        use crate::gray::GrayConverter;
        // Mid-grey dithered: mono about 6 dB, gray4 about 30 dB, gray8 exact. A colour the panel
        // cannot show is not charged: pure red scores against its luma.
        let (w, h) = (32, 32);
        for (format, lo, hi) in [
            (PixelFormat::Mono1, 5.5, 6.5),
            (PixelFormat::Gray4, 28.0, 32.0),
            (PixelFormat::Gray8, PSNR_CAP_DB, PSNR_CAP_DB),
        ] {
            for color in [[128u8, 128, 128], [255, 0, 0]] {
                let src = rgba(w, h, |_, _| color);
                let c = GrayConverter::new(format, ColorCorrection::default(), Dither::Ordered);
                let mut shown = Rgb565Image::filled(w, h, 0);
                c.convert(&src, &mut shown);
                let mut p = PanelPsnr::new(w, h, 16).with_format(format);
                let db = p.update(&src, None, &shown).unwrap();
                if color[1] == 128 {
                    assert!((lo..=hi).contains(&db), "{format:?}: {db:.2} dB");
                } else {
                    assert!(db > lo - 1.0, "{format:?} red: {db:.2} dB");
                }
            }
        }
    }

    #[test]
    fn mismatched_sizes_give_no_figure() {
        let mut p = PanelPsnr::new(16, 16, 16);
        assert_eq!(
            p.update(&[0; 16], None, &Rgb565Image::filled(16, 16, 0)),
            None
        );
        assert_eq!(
            p.update(&[0; 16 * 16 * 4], None, &Rgb565Image::filled(8, 8, 0)),
            None
        );
    }
}
