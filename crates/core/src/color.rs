//! Colour correction and RGB565 conversion.
//!
//! Correction follows seed 000 (`seed-protocols.md` §A.5 step 4):
//! `out = floor(clip((v/255)^gamma * wb_c * 255, 0, 255))`, evaluated once per channel into a
//! 256-entry LUT. Conversion to RGB565 either truncates (the seed formula) or applies an ordered
//! (Bayer 4×4) dither keyed to *absolute panel coordinates*: the same input pixel at the same place
//! always gives the same output, so dithering never crawls on static regions and a changed region
//! re-dithers identically to a full-frame conversion (seed 000's per-band Floyd–Steinberg did both).

use crate::image565::Rgb565Image;

/// Gamma and white-balance settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorCorrection {
    /// Exponent applied to normalised values (1.0 = none; the seed used 2.2 and 2.8).
    pub gamma: f64,
    /// Per-channel scale after gamma (1.0 = none).
    pub white_balance: [f64; 3],
}

impl Default for ColorCorrection {
    fn default() -> Self {
        Self {
            gamma: 1.0,
            white_balance: [1.0; 3],
        }
    }
}

impl ColorCorrection {
    /// True when the correction changes nothing.
    pub fn is_identity(&self) -> bool {
        self.gamma == 1.0 && self.white_balance == [1.0; 3]
    }

    /// The three channel LUTs.
    pub fn luts(&self) -> [[u8; 256]; 3] {
        let mut luts = [[0u8; 256]; 3];
        for (c, lut) in luts.iter_mut().enumerate() {
            for (v, out) in lut.iter_mut().enumerate() {
                let x = (v as f64 / 255.0).powf(self.gamma) * self.white_balance[c] * 255.0;
                *out = x.clamp(0.0, 255.0).floor() as u8;
            }
        }
        luts
    }
}

/// How 8-bit channels become 5/6/5 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dither {
    /// Drop the low bits (seed 000's formula).
    #[default]
    None,
    /// Ordered 4×4 Bayer dither in panel coordinates.
    Ordered,
}

/// 4×4 Bayer matrix, values 0..16.
const BAYER4: [[u8; 4]; 4] = [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]];

/// Converts RGBA frames into RGB565 with a colour LUT and optional dither.
#[derive(Debug, Clone)]
pub struct Rgb565Converter {
    luts: Option<[[u8; 256]; 3]>,
    dither: Dither,
    /// Per Bayer cell: the bias added before dropping 3 bits (R, B) and 2 bits (G).
    bias5: [[u16; 4]; 4],
    bias6: [[u16; 4]; 4],
}

impl Rgb565Converter {
    /// A converter for the given correction and dither.
    pub fn new(correction: ColorCorrection, dither: Dither) -> Self {
        let mut bias5 = [[0u16; 4]; 4];
        let mut bias6 = [[0u16; 4]; 4];
        for y in 0..4 {
            for x in 0..4 {
                let t = u16::from(BAYER4[y][x]);
                // Uniform thresholds over one quantisation step: 0..=7 for 5 bits, 0..=3 for 6 bits.
                bias5[y][x] = t / 2;
                bias6[y][x] = t / 4;
            }
        }
        Self {
            luts: (!correction.is_identity()).then(|| correction.luts()),
            dither,
            bias5,
            bias6,
        }
    }

    /// The colour LUTs applied before quantisation, `None` for the identity.
    pub fn luts(&self) -> Option<&[[u8; 256]; 3]> {
        self.luts.as_ref()
    }

    /// Converts `rgba` (`width*height*4` bytes) into `out`, whose size must match. `origin` is the
    /// panel position of the image's top-left pixel (it keys the dither pattern).
    pub fn convert(&self, rgba: &[u8], out: &mut Rgb565Image) {
        let w = out.width as usize;
        for (y, (src_row, dst_row)) in rgba
            .chunks_exact(w * 4)
            .zip(out.px.chunks_exact_mut(w))
            .enumerate()
        {
            match (self.dither, &self.luts) {
                (Dither::None, None) => truncate_row(src_row, dst_row),
                (Dither::None, Some(l)) => {
                    for (s, d) in src_row.chunks_exact(4).zip(dst_row.iter_mut()) {
                        *d = pixelwire_proto::rgb565(
                            l[0][s[0] as usize],
                            l[1][s[1] as usize],
                            l[2][s[2] as usize],
                        );
                    }
                }
                (Dither::Ordered, luts) => {
                    let b5 = &self.bias5[y & 3];
                    let b6 = &self.bias6[y & 3];
                    for (x, (s, d)) in src_row.chunks_exact(4).zip(dst_row.iter_mut()).enumerate() {
                        let (r, g, b) = match luts {
                            Some(l) => (
                                l[0][s[0] as usize],
                                l[1][s[1] as usize],
                                l[2][s[2] as usize],
                            ),
                            None => (s[0], s[1], s[2]),
                        };
                        let r5 = ((u16::from(r) + b5[x & 3]) >> 3).min(31);
                        let g6 = ((u16::from(g) + b6[x & 3]) >> 2).min(63);
                        let b5v = ((u16::from(b) + b5[x & 3]) >> 3).min(31);
                        *d = (r5 << 11) | (g6 << 5) | b5v;
                    }
                }
            }
        }
    }
}

/// Seed 000's truncating conversion of one row. Reading each RGBA pixel as one little-endian
/// `u32` makes this a plain element-wise map that the compiler vectorises.
fn truncate_row(src: &[u8], dst: &mut [u16]) {
    match bytemuck::try_cast_slice::<u8, u32>(src) {
        Ok(words) => {
            for (w, d) in words.iter().zip(dst.iter_mut()) {
                let v = u32::from_le(*w);
                *d = (((v & 0xF8) << 8) | ((v >> 5) & 0x07E0) | ((v >> 19) & 0x1F)) as u16;
            }
        }
        // Unaligned input (never from our own buffers): the byte-wise formula.
        Err(_) => {
            for (s, d) in src.chunks_exact(4).zip(dst.iter_mut()) {
                *d = pixelwire_proto::rgb565(s[0], s[1], s[2]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lut_vectors() {
        // seed-protocols.md §A.5: γ=2.2, wb=1: 0→0, 16→0, 64→12, 128→55, 192→136, 255→255
        let l = ColorCorrection {
            gamma: 2.2,
            white_balance: [1.0; 3],
        }
        .luts();
        for (v, want) in [(0, 0), (16, 0), (64, 12), (128, 55), (192, 136), (255, 255)] {
            assert_eq!(l[0][v], want, "v={v}");
        }
        // γ=2.8, wb=(0.85,0.95,0.75): 128→(31,35,27), 255→(216,242,191)
        let l = ColorCorrection {
            gamma: 2.8,
            white_balance: [0.85, 0.95, 0.75],
        }
        .luts();
        assert_eq!([l[0][128], l[1][128], l[2][128]], [31, 35, 27]);
        assert_eq!([l[0][255], l[1][255], l[2][255]], [216, 242, 191]);
    }

    fn solid(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
        (0..w * h)
            .flat_map(|_| [rgb[0], rgb[1], rgb[2], 255])
            .collect()
    }

    #[test]
    fn word_and_byte_truncation_agree() {
        let rgba: Vec<u8> = (0..4096u32)
            .flat_map(|i| [(i * 7) as u8, (i * 13) as u8, (i * 31) as u8, 255])
            .collect();
        let mut a = vec![0u16; 4096];
        truncate_row(&rgba, &mut a);
        let b: Vec<u16> = rgba
            .chunks_exact(4)
            .map(|s| pixelwire_proto::rgb565(s[0], s[1], s[2]))
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn truncating_matches_seed_formula() {
        let c = Rgb565Converter::new(ColorCorrection::default(), Dither::None);
        let mut out = Rgb565Image::filled(2, 1, 0);
        let rgba = [10, 200, 30, 255, 128, 128, 128, 255];
        c.convert(&rgba, &mut out);
        assert_eq!(out.px, vec![0x0E43, 0x8410]);
    }

    #[test]
    fn dither_keeps_extremes_and_averages_midtones() {
        let c = Rgb565Converter::new(ColorCorrection::default(), Dither::Ordered);
        let mut out = Rgb565Image::filled(4, 4, 0);
        c.convert(&solid(4, 4, [255, 255, 255]), &mut out);
        assert!(out.px.iter().all(|&p| p == 0xFFFF));
        c.convert(&solid(4, 4, [0, 0, 0]), &mut out);
        assert!(out.px.iter().all(|&p| p == 0));
        // 100 is 12.5 steps of 8: half the cells round up to 13, half down to 12.
        c.convert(&solid(4, 4, [100, 100, 100]), &mut out);
        let reds: Vec<u16> = out.px.iter().map(|p| p >> 11).collect();
        assert_eq!(reds.iter().filter(|&&r| r == 13).count(), 8);
        assert_eq!(reds.iter().filter(|&&r| r == 12).count(), 8);
    }

    #[test]
    fn dither_is_a_function_of_position_not_history() {
        // Converting the same content twice gives identical pixels (no crawl).
        let c = Rgb565Converter::new(
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
        let mut b = Rgb565Image::filled(64, 8, 0);
        c.convert(&rgba, &mut a);
        c.convert(&rgba, &mut b);
        assert_eq!(a, b);
    }
}
