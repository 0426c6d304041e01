//! Conversion of RGBA frames for grey and monochrome panels (HELLO `pixel_format` gray8, gray4,
//! mono1; `docs/protocol.md`, "Pixel formats").
//!
//! Luma follows the colour path: each channel goes through the same gamma / white-balance LUT
//! ([`crate::ColorCorrection`]), then `Y' = (77 R' + 150 G' + 29 B' + 128) >> 8`, BT.601's weights
//! on the gamma-encoded values (as JPEG and PIL's `L` mode compute it; the seed's pipeline is
//! PIL-based). Grey OLED and e-paper controllers space their levels roughly perceptually, so luma on
//! gamma-encoded values is what their levels mean.
//!
//! Quantisation to the panel's depth either rounds to the nearest level ([`Dither::None`], crisp
//! text and UI) or applies an ordered 8×8 Bayer dither keyed to *absolute panel coordinates*
//! ([`Dither::Ordered`]). Ordered rather than error diffusion because it is stable by construction
//! (the same input pixel at the same place always gives the same output, so still content never
//! crawls and costs nothing), and a change stays where it is: error diffusion carries each pixel's
//! error into its neighbours, so a one-pixel change re-dithers the rest of its row (or, confined to
//! tiles to keep it stable, its tile, with seams at tile borders), and change detection then sends
//! all of it. 8×8 gives a mono panel 65 apparent levels where 4×4 gives 17. 8-bit grey needs no
//! dither: the dither bias never reaches a whole level there, so gray8 is the plain luma.

use crate::color::{ColorCorrection, Dither};
use crate::image565::Rgb565Image;
use pixelwire_proto::PixelFormat;

/// 8×8 Bayer matrix, values 0..64.
const BAYER8: [[u8; 8]; 8] = [
    [0, 32, 8, 40, 2, 34, 10, 42],
    [48, 16, 56, 24, 50, 18, 58, 26],
    [12, 44, 4, 36, 14, 46, 6, 38],
    [60, 28, 52, 20, 62, 30, 54, 22],
    [3, 35, 11, 43, 1, 33, 9, 41],
    [51, 19, 59, 27, 49, 17, 57, 25],
    [15, 47, 7, 39, 13, 45, 5, 37],
    [63, 31, 55, 23, 61, 29, 53, 21],
];

/// BT.601 luma of gamma-encoded 8-bit channels.
#[inline]
pub const fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * r as u32 + 150 * g as u32 + 29 * b as u32 + 128) >> 8) as u8
}

/// Luma of an RGBA pixel after the channel LUTs (identity when `None`).
#[inline]
pub fn luma_of(px: &[u8], luts: Option<&[[u8; 256]; 3]>) -> u8 {
    match luts {
        None => luma(px[0], px[1], px[2]),
        Some(l) => luma(
            l[0][usize::from(px[0])],
            l[1][usize::from(px[1])],
            l[2][usize::from(px[2])],
        ),
    }
}

/// Converts RGBA frames into grey levels of one pixel format; see the module docs.
#[derive(Debug, Clone)]
pub struct GrayConverter {
    format: PixelFormat,
    luts: Option<[[u8; 256]; 3]>,
    /// Per luma value and Bayer threshold (row-major 8×8 cell): the level; one row of 64 per luma
    /// value when dithering, else one entry per luma value.
    table: Vec<u8>,
    dither: bool,
}

impl GrayConverter {
    /// A converter to `format` (one of the grey formats; an RGB565 format is treated as gray8).
    pub fn new(format: PixelFormat, correction: ColorCorrection, dither: Dither) -> Self {
        let max = u32::from(format.max_value().min(0xFF));
        let dither = dither == Dither::Ordered && max < 255;
        let table = if dither {
            // level = floor((y·max + (t + ½)/64 · 255) / 255): a fraction y/255 of the cells of a
            // flat area end up one level higher, so areas keep their mean.
            (0..256u32)
                .flat_map(|y| {
                    (0..64u32)
                        .map(move |t| ((y * max * 128 + (2 * t + 1) * 255) / (255 * 128)) as u8)
                })
                .collect()
        } else {
            (0..256u32).map(|y| ((y * max + 127) / 255) as u8).collect()
        };
        Self {
            format,
            luts: (!correction.is_identity()).then(|| correction.luts()),
            table,
            dither,
        }
    }

    /// The pixel format converted to.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// The colour LUTs applied before luma, `None` for the identity.
    pub fn luts(&self) -> Option<&[[u8; 256]; 3]> {
        self.luts.as_ref()
    }

    /// Converts `rgba` (`width*height*4` bytes) into grey levels in `out`, whose size must match;
    /// pixel `(x, y)` is dithered with the Bayer cell of its panel position.
    pub fn convert(&self, rgba: &[u8], out: &mut Rgb565Image) {
        let w = out.width as usize;
        let luts = self.luts.as_ref();
        for (y, (src_row, dst_row)) in rgba
            .chunks_exact(w * 4)
            .zip(out.px.chunks_exact_mut(w))
            .enumerate()
        {
            let cells = &BAYER8[y & 7];
            for (x, (s, d)) in src_row.chunks_exact(4).zip(dst_row.iter_mut()).enumerate() {
                let l = usize::from(luma_of(s, luts));
                *d = u16::from(if self.dither {
                    self.table[l * 64 + usize::from(cells[x & 7])]
                } else {
                    self.table[l]
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
        (0..w * h)
            .flat_map(|_| [rgb[0], rgb[1], rgb[2], 255])
            .collect()
    }

    #[test]
    fn luma_weights() {
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(0, 0, 0), 0);
        assert_eq!(luma(255, 0, 0), 77);
        assert_eq!(luma(0, 255, 0), 149);
        assert_eq!(luma(0, 0, 255), 29);
    }

    #[test]
    fn extremes_stay_black_and_white_and_gray8_is_plain_luma() {
        for format in [PixelFormat::Gray8, PixelFormat::Gray4, PixelFormat::Mono1] {
            for dither in [Dither::None, Dither::Ordered] {
                let c = GrayConverter::new(format, ColorCorrection::default(), dither);
                let mut out = Rgb565Image::filled(8, 8, 7);
                c.convert(&solid(8, 8, [255, 255, 255]), &mut out);
                assert!(
                    out.px.iter().all(|&p| p == format.max_value()),
                    "{format:?}"
                );
                c.convert(&solid(8, 8, [0, 0, 0]), &mut out);
                assert!(out.px.iter().all(|&p| p == 0), "{format:?}");
            }
        }
        let c = GrayConverter::new(
            PixelFormat::Gray8,
            ColorCorrection::default(),
            Dither::Ordered,
        );
        let mut out = Rgb565Image::filled(2, 1, 0);
        c.convert(&[10, 200, 30, 255, 128, 128, 128, 255], &mut out);
        assert_eq!(out.px, vec![u16::from(luma(10, 200, 30)), 128]);
    }

    #[test]
    fn ordered_dither_keeps_the_mean_of_flat_areas() {
        let c = GrayConverter::new(
            PixelFormat::Mono1,
            ColorCorrection::default(),
            Dither::Ordered,
        );
        let mut out = Rgb565Image::filled(8, 8, 0);
        for v in [32u8, 64, 128, 200] {
            c.convert(&solid(8, 8, [v, v, v]), &mut out);
            let lit = out.px.iter().filter(|&&p| p == 1).count();
            let want = (f64::from(v) / 255.0 * 64.0).round() as usize;
            assert!(lit.abs_diff(want) <= 1, "{v}: {lit} lit, want {want}");
        }
        // gray4: 100/255·15 = 5.88: cells at 5 and 6, mean within a sixteenth of a level
        let c = GrayConverter::new(
            PixelFormat::Gray4,
            ColorCorrection::default(),
            Dither::Ordered,
        );
        c.convert(&solid(8, 8, [100, 100, 100]), &mut out);
        assert!(out.px.iter().all(|&p| p == 5 || p == 6));
        let mean = out.px.iter().map(|&p| f64::from(p)).sum::<f64>() / 64.0;
        assert!((mean - 100.0 / 255.0 * 15.0).abs() < 1.0 / 16.0, "{mean}");
        // without dither: nearest level
        let c = GrayConverter::new(PixelFormat::Mono1, ColorCorrection::default(), Dither::None);
        c.convert(&solid(8, 8, [127, 127, 127]), &mut out);
        assert!(out.px.iter().all(|&p| p == 0));
        c.convert(&solid(8, 8, [128, 128, 128]), &mut out);
        assert!(out.px.iter().all(|&p| p == 1));
    }

    #[test]
    fn dither_is_a_function_of_position_not_history() {
        let c = GrayConverter::new(
            PixelFormat::Gray4,
            ColorCorrection {
                gamma: 2.2,
                white_balance: [1.0; 3],
            },
            Dither::Ordered,
        );
        let rgba: Vec<u8> = (0..64u32 * 8)
            .flat_map(|i| [(i % 251) as u8, (i * 3 % 256) as u8, 77, 255])
            .collect();
        let mut a = Rgb565Image::filled(64, 8, 0);
        let mut b = Rgb565Image::filled(64, 8, 9);
        c.convert(&rgba, &mut a);
        c.convert(&rgba, &mut b);
        assert_eq!(a, b);
    }
}
