//! YCbCr (JFIF, full range) → RGB565 for the decoder, with tables built at compile time: per
//! chroma sample three additive terms (computed once for the four pixels that share it), then per
//! pixel three table lookups that clamp, round to 5 or 6 bits and place the field.

/// The clamping tables are indexed by `y + term + OFFSET`; terms stay within ±OFFSET (the largest,
/// 1.772 × 128 ≈ 227, and the green sum, 0.344 × 128 + 0.714 × 128 ≈ 136).
const OFFSET: i32 = 232;
const SPAN: usize = 256 + 2 * OFFSET as usize;

/// A channel's field in RGB565 for every `value + OFFSET`: clamped to 0..=255, rounded to the
/// nearest of `levels` (31 or 63) and shifted into place.
const fn field_table(levels: u32, shift: u32) -> [u16; SPAN] {
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
        t[i] = (((v * levels + 127) / 255) << shift) as u16;
        i += 1;
    }
    t
}

static RED: [u16; SPAN] = field_table(31, 11);
static GREEN: [u16; SPAN] = field_table(63, 5);
static BLUE: [u16; SPAN] = field_table(31, 0);

/// What one chroma sample adds to each channel (plus [`OFFSET`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChromaTerms {
    r: i32,
    g: i32,
    b: i32,
}

impl ChromaTerms {
    #[inline]
    pub(crate) fn new(cb: u8, cr: u8) -> Self {
        let cb = i32::from(cb) - 128;
        let cr = i32::from(cr) - 128;
        Self {
            r: ((91_881 * cr + 32_768) >> 16) + OFFSET,
            g: OFFSET - ((22_554 * cb + 46_802 * cr + 32_768) >> 16),
            b: ((116_130 * cb + 32_768) >> 16) + OFFSET,
        }
    }
}

/// The RGB565 value of luma `y` with chroma terms `t`.
#[inline]
pub(crate) fn rgb565(y: u8, t: ChromaTerms) -> u16 {
    let y = i32::from(y);
    // terms are within ±OFFSET of OFFSET, so every index is in 0..SPAN
    let at = |v: i32| (v as usize).min(SPAN - 1);
    RED[at(y + t.r)] | GREEN[at(y + t.g)] | BLUE[at(y + t.b)]
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
                    let got = rgb565(y, ChromaTerms::new(cb, cr));
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
