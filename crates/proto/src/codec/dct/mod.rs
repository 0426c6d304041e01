//! DCT (codec 0x03): lossy transform coding for moving content, cheap enough for a 160 MHz
//! microcontroller to decode. It is baseline JPEG reduced to what a RECT needs: the fixed Annex K
//! tables (so no tables travel), no markers and no byte stuffing, one row of MCUs per RECT.
//!
//! A DCT RECT is at most [`MAX_WIDTH`] pixels wide and [`MAX_HEIGHT`] rows high, and only for
//! RGB565 panels. Its payload:
//!
//! ```text
//! quality  u8       1..=100: the Annex K tables scaled as the IJG scales them
//! bits     ...      MSB first: for each 16x16 MCU, left to right, six 8x8 blocks (Y top-left,
//!                   Y top-right, Y bottom-left, Y bottom-right, Cb, Cr; 4:2:0, JFIF full-range
//!                   YCbCr), each a JPEG baseline block: the DC difference (its predictor per
//!                   component starts at 0 in each RECT) then run/size AC codes up to EOB; the
//!                   last byte is padded with 1 bits
//! ```
//!
//! The encoder replicates edge pixels to fill the last MCU; the decoder decodes whole MCUs and
//! keeps the `w × h` top-left pixels.
//!
//! DCT_HALF (codec 0x04) is the same payload for a picture of half the RECT's size in each
//! direction (rounded up; RECTs up to 256 x 32): the encoder averages each 2x2 block, the decoder
//! shows each decoded pixel as 2x2. A quarter of the decoding work per panel pixel, for motion a
//! small device could not otherwise decode at full rate. The inverse DCT is integer ([`idct`]), so the server, the
//! emulator and the firmware produce bit-identical pixels: the server decodes its own output to
//! know what the panel shows.

mod color;
mod decode;
mod encode;
mod huffman;
mod idct;
mod tables;

pub use decode::{Decoder, Scratch};
pub use encode::{encode, encode_half};

/// Widest DCT RECT, pixels (the decoder holds one row of MCUs this wide).
pub const MAX_WIDTH: u16 = 128;
/// Highest DCT RECT, rows (one row of 16x16 MCUs).
pub const MAX_HEIGHT: u16 = 16;
/// Side of an MCU, pixels.
pub(crate) const MCU: usize = 16;

/// Zigzag position → natural (row-major) index in an 8x8 block.
#[rustfmt::skip]
pub(crate) const ZIGZAG: [u8; 64] = [
     0,  1,  8, 16,  9,  2,  3, 10,
    17, 24, 32, 25, 18, 11,  4,  5,
    12, 19, 26, 33, 40, 48, 41, 34,
    27, 20, 13,  6,  7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36,
    29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46,
    53, 60, 61, 54, 47, 55, 62, 63,
];

/// The quantisation tables (luma, chroma) at `quality` (1..=100), in natural order.
pub(crate) fn quant_tables(quality: u8) -> [[u16; 64]; 2] {
    scaled_quant(quality, [&tables::LUMA_QUANT, &tables::CHROMA_QUANT])
}

/// [`quant_tables`] in zigzag order (what the decoder indexes).
pub(crate) fn quant_tables_zigzag(quality: u8) -> [[u16; 64]; 2] {
    scaled_quant(quality, [&LUMA_QUANT_ZIGZAG, &CHROMA_QUANT_ZIGZAG])
}

const LUMA_QUANT_ZIGZAG: [u16; 64] = zigzag_order(&tables::LUMA_QUANT);
const CHROMA_QUANT_ZIGZAG: [u16; 64] = zigzag_order(&tables::CHROMA_QUANT);

const fn zigzag_order(natural: &[u16; 64]) -> [u16; 64] {
    let mut out = [0; 64];
    let mut k = 0;
    while k < 64 {
        out[k] = natural[ZIGZAG[k] as usize];
        k += 1;
    }
    out
}

/// `bases` scaled as the IJG scales the Annex K tables for `quality`.
fn scaled_quant(quality: u8, bases: [&[u16; 64]; 2]) -> [[u16; 64]; 2] {
    let q = u32::from(quality.clamp(1, 100));
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    let mut out = [[0u16; 64]; 2];
    for (t, base) in out.iter_mut().zip(bases) {
        for (d, &b) in t.iter_mut().zip(base.iter()) {
            *d = ((u32::from(b) * scale + 50) / 100).clamp(1, 255) as u16;
        }
    }
    out
}

/// Whether a `w × h` RECT may use DCT.
pub fn fits(w: u16, h: u16) -> bool {
    (1..=MAX_WIDTH).contains(&w) && (1..=MAX_HEIGHT).contains(&h)
}

/// Whether a `w × h` RECT may use DCT_HALF (its coded picture, half the size rounded up, fits
/// [`fits`]).
pub fn fits_half(w: u16, h: u16) -> bool {
    (1..=2 * MAX_WIDTH).contains(&w) && (1..=2 * MAX_HEIGHT).contains(&h)
}

/// Number of bits needed for `v`'s magnitude (JPEG's SSSS category).
#[inline]
pub(crate) fn category(v: i32) -> u32 {
    32 - v.unsigned_abs().leading_zeros()
}

#[cfg(test)]
mod tests;
