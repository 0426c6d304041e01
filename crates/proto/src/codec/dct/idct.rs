//! The inverse DCT of one 8x8 block in integer arithmetic, identical on every machine (the server
//! runs the same code to know what the panel shows), after Loeffler, Ligtenberg and Moschytz (the
//! "islow" factorisation: 12 multiplies per 8-point pass, 13-bit constants). Columns whose AC
//! coefficients are all zero, the common case at the qualities DCT runs at, take a shortcut.

const CONST_BITS: i32 = 13;
/// Largest dequantised coefficient magnitude taken in (8-bit samples never need more); larger
/// ones, which only a corrupt or hostile payload carries, are clamped so no product overflows.
pub(crate) const COEF_LIMIT: i32 = 2047;
/// Largest intermediate magnitude after the column pass (valid blocks stay far below it); with
/// it, the row pass stays inside `i32` (at most 11000 × 180000 < 2^31, with the DC's bias
/// [`ROW_BIAS`] too: see the test `the_row_pass_cannot_overflow`).
const PASS1_LIMIT: i32 = 11_000;
const PASS1_BITS: i32 = 2;

const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

#[inline(always)]
fn descale(x: i32, n: i32) -> i32 {
    (x + (1 << (n - 1))) >> n
}

/// Added to the DC of a row before the row pass: the rounding of the final descale and the
/// +128 level shift, both folded into one addition (every output carries the DC × 2^CONST_BITS,
/// and adding a multiple of 2^n before `>> n` adds exactly that multiple after it).
const ROW_BIAS: i32 = (1 << (PASS1_BITS + 2)) + (128 << (PASS1_BITS + 3));

/// One 8-point inverse DCT of `v[0..8]` (stride 1), before descaling: returns the 8 outputs
/// scaled by 2^CONST_BITS, plus `bias` (added once to the even part, so to every output).
#[inline(always)]
fn idct8(v: [i32; 8], bias: i32) -> [i32; 8] {
    // even part
    let z1 = (v[2] + v[6]) * FIX_0_541196100;
    let tmp2 = z1 - v[6] * FIX_1_847759065;
    let tmp3 = z1 + v[2] * FIX_0_765366865;
    let tmp0 = ((v[0] + v[4]) << CONST_BITS) + bias;
    let tmp1 = ((v[0] - v[4]) << CONST_BITS) + bias;
    let (t10, t13) = (tmp0 + tmp3, tmp0 - tmp3);
    let (t11, t12) = (tmp1 + tmp2, tmp1 - tmp2);
    // odd part
    let (mut o0, mut o1, mut o2, mut o3) = (v[7], v[5], v[3], v[1]);
    let mut z1 = o0 + o3;
    let mut z2 = o1 + o2;
    let mut z3 = o0 + o2;
    let mut z4 = o1 + o3;
    let z5 = (z3 + z4) * FIX_1_175875602;
    o0 *= FIX_0_298631336;
    o1 *= FIX_2_053119869;
    o2 *= FIX_3_072711026;
    o3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    o0 += z1 + z3;
    o1 += z2 + z4;
    o2 += z2 + z3;
    o3 += z1 + z4;
    [
        t10 + o3,
        t11 + o2,
        t12 + o1,
        t13 + o0,
        t13 - o0,
        t12 - o1,
        t11 - o2,
        t10 - o3,
    ]
}

/// `v` clamped to 0..=255.
#[inline(always)]
fn sample(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// The sample value of a block whose only non-zero coefficient is the (dequantised) DC: what
/// [`idct_block`] produces for it, without the transform.
#[inline]
pub(crate) fn dc_only(dc: i32) -> u8 {
    (descale(
        dc.clamp(-COEF_LIMIT, COEF_LIMIT) << PASS1_BITS,
        PASS1_BITS + 3,
    ) + 128)
        .clamp(0, 255) as u8
}

/// Inverse-transforms `coef` (dequantised, natural order) into 8x8 samples (level shift and clamp
/// to 0..=255 included; every coefficient within ±[`COEF_LIMIT`]), written to `out` with row `r`
/// at `r * stride`. `last` is the largest zigzag index of a non-zero coefficient: the transform
/// leaves out the rows and columns it shows are zero (see [`square`]). The result is the same,
/// since only terms that are zero are left out.
pub(crate) fn idct_block(coef: &[i16; 64], out: &mut [u8], stride: usize, last: usize) {
    match square(last) {
        2 => transform::<2>(coef, out, stride),
        4 => transform::<4>(coef, out, stride),
        6 => transform::<6>(coef, out, stride),
        _ => transform::<8>(coef, out, stride),
    }
}

/// The side of the top-left square that holds every coefficient up to zigzag index `last`
/// (index ≤ 2: 2x2, ≤ 9: 4x4, ≤ 20: 6x6; the common cases for smooth moving content are the
/// smallest), and so everything [`idct_block`] reads.
pub(crate) fn square(last: usize) -> usize {
    match last {
        0..=2 => 2,
        3..=9 => 4,
        10..=20 => 6,
        _ => 8,
    }
}

/// The transform for coefficients that are zero outside the top-left `N`x`N`.
#[inline(always)]
fn transform<const N: usize>(coef: &[i16; 64], out: &mut [u8], stride: usize) {
    let mut ws = [[0i32; N]; 8];
    // pass 1: columns, results scaled by 2^PASS1_BITS
    let (mut flat_first, mut flat_others) = (true, true);
    for c in 0..N {
        let col = |r: usize| if r < N { i32::from(coef[r * 8 + c]) } else { 0 };
        if (1..N).all(|r| col(r) == 0) {
            let dc = col(0) << PASS1_BITS;
            for row in ws.iter_mut() {
                row[c] = dc;
            }
            continue;
        }
        if c == 0 {
            flat_first = false;
        } else {
            flat_others = false;
        }
        let o = idct8(
            [
                col(0),
                col(1),
                col(2),
                col(3),
                col(4),
                col(5),
                col(6),
                col(7),
            ],
            1 << (CONST_BITS - PASS1_BITS - 1),
        );
        for (row, v) in ws.iter_mut().zip(o) {
            row[c] = (v >> (CONST_BITS - PASS1_BITS)).clamp(-PASS1_LIMIT, PASS1_LIMIT);
        }
    }
    let flat_columns = flat_first && flat_others;
    if flat_others && !flat_columns {
        // Columns 1.. are flat, so every row has the same AC inputs and differs only in its DC:
        // the row transform being linear, the AC part is worked out once and each row adds its
        // DC (exactly what the full row pass gives).
        let w = &ws[0];
        let at = |c: usize| if (1..N).contains(&c) { w[c] } else { 0 };
        let ac = idct8([0, at(1), at(2), at(3), at(4), at(5), at(6), at(7)], 0);
        for (r, w) in ws.iter().enumerate() {
            let Some(dst) = out.get_mut(r * stride..r * stride + 8) else {
                return;
            };
            let dc = (w[0] + ROW_BIAS) << CONST_BITS;
            for (d, a) in dst.iter_mut().zip(ac) {
                *d = sample((dc + a) >> (CONST_BITS + PASS1_BITS + 3));
            }
        }
        return;
    }
    // pass 2: rows (all the same when every column was flat: one is worked out and copied)
    let rows = if flat_columns { 1 } else { 8 };
    for (r, w) in ws.iter().enumerate().take(rows) {
        let at = |c: usize| if c < N { w[c] } else { 0 };
        let Some(dst) = out.get_mut(r * stride..r * stride + 8) else {
            return;
        };
        if (1..N).all(|c| at(c) == 0) {
            dst.fill(sample((at(0) + ROW_BIAS) >> (PASS1_BITS + 3)));
            continue;
        }
        let o = idct8(
            [at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)],
            ROW_BIAS << CONST_BITS,
        );
        for (d, v) in dst.iter_mut().zip(o) {
            *d = sample(v >> (CONST_BITS + PASS1_BITS + 3));
        }
    }
    if flat_columns {
        let mut first = [0u8; 8];
        if let Some(src) = out.get(..8) {
            first.copy_from_slice(src);
        }
        for r in 1..8 {
            if let Some(dst) = out.get_mut(r * stride..r * stride + 8) {
                dst.copy_from_slice(&first);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ZIGZAG;
    use super::*;

    /// The textbook inverse DCT in f64.
    fn reference(coef: &[i16; 64]) -> [f64; 64] {
        let c = |u: usize| {
            if u == 0 {
                core::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        let mut out = [0.0; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0.0;
                for v in 0..8 {
                    for u in 0..8 {
                        s += c(u)
                            * c(v)
                            * f64::from(coef[v * 8 + u])
                            * (((2 * x + 1) * u) as f64 * core::f64::consts::PI / 16.0).cos()
                            * (((2 * y + 1) * v) as f64 * core::f64::consts::PI / 16.0).cos();
                    }
                }
                out[y * 8 + x] = (s / 4.0 + 128.0).clamp(0.0, 255.0);
            }
        }
        out
    }

    #[test]
    fn the_low_frequency_paths_equal_the_full_transform() {
        let mut seed = 99u32;
        for n in 1..=6 {
            for _ in 0..2000 {
                let mut coef = [0i16; 64];
                let mut last = 0;
                for (k, &at) in ZIGZAG.iter().enumerate() {
                    let (r, c) = (usize::from(at) / 8, usize::from(at) % 8);
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    if r < n && c < n && seed >> 30 != 0 {
                        coef[usize::from(at)] = ((seed >> 8) % 4095) as i16 - 2047;
                        last = k;
                    }
                }
                let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
                idct_block(&coef, &mut a, 8, last);
                transform::<8>(&coef, &mut b, 8);
                assert_eq!(a, b, "{coef:?}");
            }
        }
    }

    /// Every intermediate of the row pass is linear in its inputs, so its largest magnitude over
    /// the inputs the column pass can give (±PASS1_LIMIT, the DC plus ROW_BIAS) is at one of the
    /// corners: with overflow checks on (tests build with them), none of them may panic.
    #[test]
    fn the_row_pass_cannot_overflow() {
        for signs in 0..256u32 {
            let mut v = [0i32; 8];
            for (i, x) in v.iter_mut().enumerate() {
                *x = if signs >> i & 1 == 0 {
                    PASS1_LIMIT
                } else {
                    -PASS1_LIMIT
                };
            }
            v[0] += ROW_BIAS;
            core::hint::black_box(idct8(core::hint::black_box(v), ROW_BIAS << CONST_BITS));
        }
    }

    #[test]
    fn a_flat_block_takes_the_shortcut_to_the_same_value() {
        for dc in -COEF_LIMIT..=COEF_LIMIT {
            let mut coef = [0i16; 64];
            coef[0] = dc as i16;
            let mut out = [0u8; 64];
            transform::<8>(&coef, &mut out, 8);
            assert!(out.iter().all(|&v| v == dc_only(dc)), "dc {dc}");
        }
    }

    #[test]
    fn matches_the_textbook_transform_within_one_level() {
        let mut seed = 12345u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as i32
        };
        for case in 0..400 {
            let mut coef = [0i16; 64];
            // sparse, JPEG-like: big DC, a few AC of shrinking size
            coef[0] = (rnd() % 1024 - 512) as i16;
            for _ in 0..(case % 20) {
                let k = (rnd() % 64) as usize;
                coef[k] = (rnd() % (400 / (1 + k as i32 / 4)) - 200 / (1 + k as i32 / 4)) as i16;
            }
            let mut out = [0u8; 64];
            transform::<8>(&coef, &mut out, 8);
            let want = reference(&coef);
            for i in 0..64 {
                assert!(
                    (f64::from(out[i]) - want[i]).abs() <= 1.0,
                    "case {case} sample {i}: {} vs {}",
                    out[i],
                    want[i]
                );
            }
        }
    }
}
