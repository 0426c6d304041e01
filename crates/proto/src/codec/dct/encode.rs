//! The DCT encoder (server side): RGB565 → JFIF YCbCr 4:2:0 → forward DCT → quantisation →
//! baseline Huffman coding with the Annex K tables. Floating point is fine here: only the decoder
//! has to be bit-exact, and the server learns what the panel shows by decoding its own payload.

use super::huffman::{ENCODE, EncodeTables};
use super::{MCU, ZIGZAG, category, fits, quant_tables};
use crate::codec::{EncodeFail, Pixels};

/// The orthonormal 8-point DCT-II basis: `BASIS[u][x] = c(u)/2 · cos((2x+1)uπ/16)`.
#[rustfmt::skip]
const BASIS: [[f32; 8]; 8] = [
    [0.353_553_4, 0.353_553_4, 0.353_553_4, 0.353_553_4, 0.353_553_4, 0.353_553_4, 0.353_553_4, 0.353_553_4],
    [0.490_392_6, 0.415_734_8, 0.277_785_1, 0.097_545_16, -0.097_545_16, -0.277_785_1, -0.415_734_8, -0.490_392_6],
    [0.461_939_8, 0.191_341_7, -0.191_341_7, -0.461_939_8, -0.461_939_8, -0.191_341_7, 0.191_341_7, 0.461_939_8],
    [0.415_734_8, -0.097_545_16, -0.490_392_6, -0.277_785_1, 0.277_785_1, 0.490_392_6, 0.097_545_16, -0.415_734_8],
    [0.353_553_4, -0.353_553_4, -0.353_553_4, 0.353_553_4, 0.353_553_4, -0.353_553_4, -0.353_553_4, 0.353_553_4],
    [0.277_785_1, -0.490_392_6, 0.097_545_16, 0.415_734_8, -0.415_734_8, -0.097_545_16, 0.490_392_6, -0.277_785_1],
    [0.191_341_7, -0.461_939_8, 0.461_939_8, -0.191_341_7, -0.191_341_7, 0.461_939_8, -0.461_939_8, 0.191_341_7],
    [0.097_545_16, -0.277_785_1, 0.415_734_8, -0.490_392_6, 0.490_392_6, -0.415_734_8, 0.277_785_1, -0.097_545_16],
];

/// Encodes `px` (RGB565 values, at most [`super::MAX_WIDTH`] × [`super::MAX_HEIGHT`]) at `quality`
/// (1..=100) into `out`; returns the payload length.
pub fn encode(px: Pixels<'_>, quality: u8, out: &mut [u8]) -> Result<usize, EncodeFail> {
    let (w, h) = (px.width, px.height);
    if w > u16::MAX as usize || h > u16::MAX as usize || !fits(w as u16, h as u16) {
        return Err(EncodeFail::NotApplicable);
    }
    let quality = quality.clamp(1, 100);
    let quant = quant_tables(quality);
    let mut bits = BitWriter {
        out,
        pos: 0,
        acc: 0,
        nbits: 0,
    };
    bits.byte(quality)?;
    let mut pred = [0i32; 3];
    let mut samples = [[0f32; 64]; 6];
    for m in 0..w.div_ceil(MCU) {
        mcu_samples(&px, m * MCU, &mut samples);
        for (b, block) in samples.iter().enumerate() {
            let (class, comp) = match b {
                0..=3 => (0, 0),
                4 => (1, 1),
                _ => (1, 2),
            };
            let coef = forward(block, &quant[class]);
            encode_block(&mut bits, &coef, &mut pred[comp], &ENCODE[class])?;
        }
    }
    bits.finish()
}

/// Encodes `px` (RGB565 values, at most 256 × 32) as DCT_HALF at `quality` into `out`: each 2x2
/// block averaged (its last row or column alone where the size is odd); returns the payload length.
pub fn encode_half(px: Pixels<'_>, quality: u8, out: &mut [u8]) -> Result<usize, EncodeFail> {
    let (w, h) = (px.width, px.height);
    if w > u16::MAX as usize || h > u16::MAX as usize || !super::fits_half(w as u16, h as u16) {
        return Err(EncodeFail::NotApplicable);
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut coded = [0u16; super::MAX_WIDTH as usize * super::MAX_HEIGHT as usize];
    for y in 0..ch {
        let rows = [px.row(2 * y), px.row((2 * y + 1).min(h - 1))];
        for x in 0..cw {
            let (x0, x1) = (2 * x, (2 * x + 1).min(w - 1));
            let mut sum = [0u32; 3];
            for row in rows {
                for p in [row.get(x0), row.get(x1)].into_iter().flatten() {
                    let (r, g, b) = expand(*p);
                    sum[0] += r as u32;
                    sum[1] += g as u32;
                    sum[2] += b as u32;
                }
            }
            // to the nearest RGB565 level of the 2x2 mean
            let [r, g, b] = sum.map(|s| (s + 2) / 4);
            let (r5, g6, b5) = (
                (r * 31 + 127) / 255,
                (g * 63 + 127) / 255,
                (b * 31 + 127) / 255,
            );
            coded[y * cw + x] = ((r5 << 11) | (g6 << 5) | b5) as u16;
        }
    }
    encode(Pixels::packed(&coded[..cw * ch], cw, ch), quality, out)
}

/// The six blocks (four Y, Cb, Cr) of the MCU whose left edge is column `x0`, level-shifted
/// (−128), edge pixels replicated past the rectangle.
fn mcu_samples(px: &Pixels<'_>, x0: usize, out: &mut [[f32; 64]; 6]) {
    let mut cb = [0f32; 64];
    let mut cr = [0f32; 64];
    let mut ycc = [[0f32; 3]; MCU * MCU];
    for r in 0..MCU {
        let row = px.row(r.min(px.height - 1));
        for c in 0..MCU {
            let p = row.get((x0 + c).min(px.width - 1)).copied().unwrap_or(0);
            let (r8, g8, b8) = expand(p);
            ycc[r * MCU + c] = [
                0.299 * r8 + 0.587 * g8 + 0.114 * b8 - 128.0,
                -0.168_736 * r8 - 0.331_264 * g8 + 0.5 * b8,
                0.5 * r8 - 0.418_688 * g8 - 0.081_312 * b8,
            ];
        }
    }
    for (b, block) in out.iter_mut().take(4).enumerate() {
        let (bx, by) = ((b & 1) * 8, (b >> 1) * 8);
        for r in 0..8 {
            for c in 0..8 {
                block[r * 8 + c] = ycc[(by + r) * MCU + bx + c][0];
            }
        }
    }
    for r in 0..8 {
        for c in 0..8 {
            let at = |dr: usize, dc: usize| ycc[(2 * r + dr) * MCU + 2 * c + dc];
            let quad = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
            cb[r * 8 + c] = quad.iter().map(|s| s[1]).sum::<f32>() / 4.0;
            cr[r * 8 + c] = quad.iter().map(|s| s[2]).sum::<f32>() / 4.0;
        }
    }
    out[4] = cb;
    out[5] = cr;
}

/// An RGB565 value's channels on the 0..=255 scale.
fn expand(p: u16) -> (f32, f32, f32) {
    let r = u32::from(p >> 11);
    let g = u32::from((p >> 5) & 0x3F);
    let b = u32::from(p & 0x1F);
    (
        (r << 3 | r >> 2) as f32,
        (g << 2 | g >> 4) as f32,
        (b << 3 | b >> 2) as f32,
    )
}

/// Forward DCT and quantisation of one block; the result is in zigzag order.
///
/// Both passes run over whole rows of eight outputs (which the compiler vectorises), each output
/// summed over its eight inputs in ascending order as the plain definition does, so the
/// coefficients (and the wire bytes) are exactly those of the textbook loops.
fn forward(block: &[f32; 64], quant: &[u16; 64]) -> [i32; 64] {
    // rows: tmp[r][u] = Σ_x BASIS[u][x] · block[r][x]
    let mut tmp = [[0f32; 8]; 8];
    for (r, out) in tmp.iter_mut().enumerate() {
        for x in 0..8 {
            let s = block[r * 8 + x];
            for (u, o) in out.iter_mut().enumerate() {
                *o += BASIS_T[x][u] * s;
            }
        }
    }
    // columns: f[v][u] = Σ_y BASIS[v][y] · tmp[y][u]
    let mut f = [[0f32; 8]; 8];
    for (v, out) in f.iter_mut().enumerate() {
        for (y, t) in tmp.iter().enumerate() {
            let b = BASIS[v][y];
            for (o, t) in out.iter_mut().zip(t) {
                *o += b * t;
            }
        }
    }
    let mut out = [0i32; 64];
    for (zz, &nat) in ZIGZAG.iter().enumerate() {
        let nat = usize::from(nat);
        let q = f[nat / 8][nat % 8] / f32::from(quant[nat]);
        // round half away from zero, as the decoder's DC range allows
        out[zz] = if q >= 0.0 {
            (q + 0.5) as i32
        } else {
            -((-q + 0.5) as i32)
        };
    }
    out
}

/// [`BASIS`] transposed: `BASIS_T[x][u] = BASIS[u][x]`.
const BASIS_T: [[f32; 8]; 8] = {
    let mut t = [[0f32; 8]; 8];
    let mut x = 0;
    while x < 8 {
        let mut u = 0;
        while u < 8 {
            t[x][u] = BASIS[u][x];
            u += 1;
        }
        x += 1;
    }
    t
};

fn encode_block(
    bits: &mut BitWriter<'_>,
    coef: &[i32; 64],
    pred: &mut i32,
    tables: &EncodeTables,
) -> Result<(), EncodeFail> {
    let diff = coef[0] - *pred;
    *pred = coef[0];
    let size = category(diff);
    bits.symbol(&tables.dc, size as u8)?;
    bits.value(diff, size)?;
    let mut run = 0u8;
    for &v in &coef[1..] {
        if v == 0 {
            run += 1;
            continue;
        }
        while run >= 16 {
            bits.symbol(&tables.ac, 0xF0)?;
            run -= 16;
        }
        let size = category(v).min(10);
        let v = v.clamp(-1023, 1023);
        bits.symbol(&tables.ac, run << 4 | size as u8)?;
        bits.value(v, size)?;
        run = 0;
    }
    if run > 0 {
        bits.symbol(&tables.ac, 0x00)?;
    }
    Ok(())
}

/// MSB-first bit writer into a bounded buffer.
struct BitWriter<'o> {
    out: &'o mut [u8],
    pos: usize,
    acc: u32,
    nbits: u32,
}

impl BitWriter<'_> {
    fn byte(&mut self, b: u8) -> Result<(), EncodeFail> {
        let slot = self.out.get_mut(self.pos).ok_or(EncodeFail::DoesNotFit)?;
        *slot = b;
        self.pos += 1;
        Ok(())
    }

    /// Appends the `n` (≤ 16) low bits of `v`.
    fn put(&mut self, v: u32, n: u32) -> Result<(), EncodeFail> {
        self.acc = self.acc << n | (v & ((1 << n) - 1));
        self.nbits += n;
        while self.nbits >= 8 {
            self.nbits -= 8;
            self.byte((self.acc >> self.nbits) as u8)?;
        }
        Ok(())
    }

    fn symbol(&mut self, t: &super::huffman::EncodeTable, s: u8) -> Result<(), EncodeFail> {
        let len = u32::from(t.len[usize::from(s)]);
        if len == 0 {
            // every (run, size) the encoder forms has a code in the Annex K tables
            return Err(EncodeFail::NotApplicable);
        }
        self.put(u32::from(t.code[usize::from(s)]), len)
    }

    /// JPEG's extra bits for a value of category `size`: the value, or for a negative one its
    /// one's complement.
    fn value(&mut self, v: i32, size: u32) -> Result<(), EncodeFail> {
        if size == 0 {
            return Ok(());
        }
        let bits = if v < 0 { v - 1 } else { v };
        self.put(bits as u32, size)
    }

    fn finish(mut self) -> Result<usize, EncodeFail> {
        if self.nbits > 0 {
            let pad = 8 - self.nbits;
            self.put((1 << pad) - 1, pad)?;
        }
        Ok(self.pos)
    }
}
