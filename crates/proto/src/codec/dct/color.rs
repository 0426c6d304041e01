//! YCbCr (JFIF, full range) → RGB565 for the decoder, with tables built at compile time: per
//! chroma sample three additive terms (computed once for the four pixels that share it), then per
//! pixel three table lookups that clamp, round to 5 or 6 bits and place the field.

/// The clamping tables are indexed by `y + term + OFFSET`; terms stay within ±OFFSET (the largest,
/// 1.772 × 128 ≈ 227, and the green sum, 0.344 × 128 + 0.714 × 128 ≈ 136).
const OFFSET: i32 = 232;
const SPAN: usize = 256 + 2 * OFFSET as usize;

/// A channel's field in RGB565 for every `value + OFFSET`: clamped to 0..=255, rounded to the
/// nearest of `levels` (31 or 63), shifted into place and stored so that the `u16`'s bytes in
/// memory are in the panel's order (`big_endian` or not).
const fn field_table(levels: u32, shift: u32, big_endian: bool) -> [u16; SPAN] {
    let mut t = [0u16; SPAN];
    let mut i = 0;
    while i < SPAN {
        let v = i as i32 - OFFSET;
        let v = if v < 0 {
            0
        } else if v > 255 {
            255
        } else {
            v as u32
        };
        let f = (((v * levels + 127) / 255) << shift) as u16;
        t[i] = if big_endian { f.to_be() } else { f.to_le() };
        i += 1;
    }
    t
}

/// The three channels' field tables for one byte order.
#[derive(Debug)]
pub(crate) struct Fields {
    red: [u16; SPAN],
    green: [u16; SPAN],
    blue: [u16; SPAN],
}

impl Fields {
    const fn new(big_endian: bool) -> Self {
        Self {
            red: field_table(31, 11, big_endian),
            green: field_table(63, 5, big_endian),
            blue: field_table(31, 0, big_endian),
        }
    }

    /// The fields for one chroma sample: per channel a table indexed by luma (what the sample
    /// adds is folded into where the table starts), for the four pixels that share it.
    #[inline(always)]
    pub(crate) fn for_chroma(&self, cb: u8, cr: u8) -> Chroma<'_> {
        let cb = i32::from(cb) - 128;
        let cr = i32::from(cr) - 128;
        let r = ((91_881 * cr + 32_768) >> 16) + OFFSET;
        let g = OFFSET - ((22_554 * cb + 46_802 * cr + 32_768) >> 16);
        let b = ((116_130 * cb + 32_768) >> 16) + OFFSET;
        Chroma {
            red: from(&self.red, r),
            green: from(&self.green, g),
            blue: from(&self.blue, b),
        }
    }
}

/// The 256 entries of `t` from `at` (the terms stay within ±OFFSET, so every start leaves 256).
#[inline(always)]
fn from(t: &[u16; SPAN], at: i32) -> &[u16; 256] {
    t.get(at as usize..)
        .and_then(|t| t.first_chunk())
        .unwrap_or(&[0; 256])
}

/// Little-endian panels' fields.
pub(crate) static LITTLE_ENDIAN: Fields = Fields::new(false);
/// Big-endian panels' fields.
pub(crate) static BIG_ENDIAN: Fields = Fields::new(true);

/// One chroma sample's field tables (see [`Fields::for_chroma`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chroma<'a> {
    red: &'a [u16; 256],
    green: &'a [u16; 256],
    blue: &'a [u16; 256],
}

impl Chroma<'_> {
    /// The pixel of luma `y`: RGB565 whose bytes in memory are in the panel's order.
    #[inline(always)]
    pub(crate) fn pixel(&self, y: u8) -> u16 {
        let y = usize::from(y);
        self.red[y] | self.green[y] | self.blue[y]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_jfif_equations() {
        for y in (0..=255u8).step_by(5) {
            for cb in (0..=255u8).step_by(15) {
                for cr in (0..=255u8).step_by(15) {
                    let (yf, cbf, crf) =
                        (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
                    let want = [
                        (yf + 1.402 * crf, 31.0),
                        (yf - 0.344_136 * cbf - 0.714_136 * crf, 63.0),
                        (yf + 1.772 * cbf, 31.0),
                    ];
                    let got = u16::from_le(LITTLE_ENDIAN.for_chroma(cb, cr).pixel(y));
                    let be = u16::from_be(BIG_ENDIAN.for_chroma(cb, cr).pixel(y));
                    assert_eq!(got, be);
                    let fields = [got >> 11, (got >> 5) & 0x3F, got & 0x1F];
                    for ((v, levels), f) in want.into_iter().zip(fields) {
                        let exact = v.clamp(0.0, 255.0) * levels / 255.0;
                        assert!(
                            (f64::from(f) - exact).abs() <= 0.65,
                            "{y} {cb} {cr}: {f} vs {exact}"
                        );
                    }
                }
            }
        }
    }
}
