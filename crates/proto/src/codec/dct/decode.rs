//! The incremental DCT decoder: accepts the payload split at any byte, decodes each 8x8 block as
//! its last coefficient arrives, converts each completed MCU to RGB565 in the device's byte order
//! into a band buffer, and once the row of MCUs is complete emits the band row-major in
//! [`PixelChunk`]s (by value: they come from the decoder's own buffer, not the input).

use super::color::{ChromaTerms, rgb565};
use super::huffman::{DECODE, Symbol};
use super::idct::{COEF_LIMIT, dc_only, idct_block};
use super::{MAX_WIDTH, MCU, ZIGZAG, quant_tables};
use crate::ProtoError;
use crate::codec::{PixelChunk, PixelRun};

/// Bytes of one band row (RGB565).
const BAND_STRIDE: usize = MAX_WIDTH as usize * 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the quality byte.
    Quality,
    /// Decoding blocks.
    Blocks,
    /// Emitting pixels; the value is the next pixel's index.
    Emit(u32),
    /// Every pixel emitted.
    Done,
}

/// Incremental decoder for one DCT RECT; see the module docs.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// The RECT's size on the panel.
    w: u16,
    h: u16,
    /// The coded picture's width: `w`, or half of it for DCT_HALF.
    coded_w: u16,
    /// DCT_HALF: every coded pixel covers 2x2 panel pixels.
    half: bool,
    big_endian: bool,
    stage: Stage,
    /// Bit accumulator: the `nbits` low bits are unread input, MSB first.
    acc: u64,
    nbits: u32,
    /// Dequantisation multipliers (luma, chroma), natural order.
    quant: [[u16; 64]; 2],
    /// Dequantised coefficients of the block being decoded, natural order (clamped to
    /// ±[`COEF_LIMIT`]).
    coef: [i32; 64],
    /// Whether the block has a non-zero AC coefficient (else it is flat: no transform needed).
    has_ac: bool,
    /// Largest zigzag index written in the block.
    kmax: u8,
    /// Check only: decode and validate every bit, but skip the transform and colour work and
    /// emit the pixels as one fill (the firmware's receive pass, whose sink ignores pixels).
    check_only: bool,
    /// Position: MCU, block in the MCU (0..6), zigzag index in the block.
    mcu: u16,
    block: u8,
    k: u8,
    /// A decoded symbol waiting for its extra bits.
    pending: Option<u8>,
    /// DC predictors of Y, Cb, Cr.
    pred: [i32; 3],
}

/// The decoder's sample and pixel buffers (4.5 KiB), kept apart from its per-RECT state so a
/// protocol decoder allocates them once rather than zeroing and moving them for every RECT.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// Samples of the MCU being decoded: Y (16x16), Cb and Cr (8x8 each).
    y: [u8; MCU * MCU],
    cb: [u8; 64],
    cr: [u8; 64],
    /// The row of MCUs in RGB565, device order, row `r` at `r * BAND_STRIDE`.
    band: [u8; BAND_STRIDE * MCU],
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            y: [0; MCU * MCU],
            cb: [0; 64],
            cr: [0; 64],
            band: [0; BAND_STRIDE * MCU],
        }
    }
}

impl Decoder {
    /// A decoder for a `w × h` RECT whose pixels go out in RGB565, big-endian if `big_endian`.
    /// The caller has checked [`super::fits`].
    pub fn new(w: u16, h: u16, big_endian: bool) -> Self {
        Self::with_scale(w, h, big_endian, false)
    }

    /// A decoder for a DCT_HALF RECT of `w × h` panel pixels (a coded picture of half that in
    /// each direction, rounded up, shown at twice its size). The caller has checked
    /// [`super::fits_half`].
    pub fn half(w: u16, h: u16, big_endian: bool) -> Self {
        Self::with_scale(w, h, big_endian, true)
    }

    fn with_scale(w: u16, h: u16, big_endian: bool, half: bool) -> Self {
        let scale = if half { 2 } else { 1 };
        let (w, h) = (w.min(MAX_WIDTH * scale), h.min(super::MAX_HEIGHT * scale));
        Self {
            w,
            h,
            coded_w: w.div_ceil(scale),
            half,
            big_endian,
            stage: Stage::Quality,
            acc: 0,
            nbits: 0,
            quant: [[0; 64]; 2],
            coef: [0; 64],
            has_ac: false,
            kmax: 0,
            check_only: false,
            mcu: 0,
            block: 0,
            k: 0,
            pending: None,
            pred: [0; 3],
        }
    }

    /// This decoder validates only; see [`Decoder::check_only`].
    #[must_use]
    pub fn checking_only(mut self) -> Self {
        self.check_only = true;
        self
    }

    /// True once every pixel has been emitted.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// True while the payload is fully read and pixels remain to be emitted (no input needed).
    pub fn is_draining(&self) -> bool {
        matches!(self.stage, Stage::Emit(_))
    }

    fn mcus(&self) -> u16 {
        self.coded_w.div_ceil(MCU as u16)
    }

    /// Consumes a prefix of `input`, maybe producing a run of pixels; `scratch` holds the samples
    /// between calls (one [`Scratch`] per decoder, used for one RECT at a time).
    pub fn step<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &mut Scratch,
    ) -> Result<(usize, Option<PixelRun<'a>>), ProtoError> {
        let mut used = 0;
        loop {
            match self.stage {
                Stage::Done => return Ok((used, None)),
                Stage::Emit(p) => return Ok((used, Some(self.emit(p, scratch)))),
                Stage::Quality => {
                    let Some(&q) = input.first() else {
                        return Ok((0, None));
                    };
                    if !(1..=100).contains(&q) {
                        return Err(ProtoError::BadField("dct quality"));
                    }
                    self.quant = quant_tables(q);
                    used = 1;
                    self.stage = Stage::Blocks;
                }
                Stage::Blocks => loop {
                    // Up to 64 bits: at least two coefficients (≤ 27 bits each) per refill.
                    while self.nbits <= 56 && used < input.len() {
                        self.acc = self.acc << 8 | u64::from(input[used]);
                        self.nbits += 8;
                        used += 1;
                    }
                    if !self.coefficient(scratch)? {
                        return Ok((used, None));
                    }
                    if self.stage != Stage::Blocks {
                        break;
                    }
                },
            }
        }
    }

    /// Decodes the next coefficient (or run) if the bits for it are there; false if not.
    #[inline(always)]
    fn coefficient(&mut self, scratch: &mut Scratch) -> Result<bool, ProtoError> {
        let class = usize::from(self.block >= 4);
        let sym = match self.pending {
            Some(s) => s,
            None => {
                let table = if self.k == 0 {
                    &DECODE[class].dc
                } else {
                    &DECODE[class].ac
                };
                match table.decode(self.acc, self.nbits) {
                    Symbol::Found(s, len) => {
                        self.nbits -= u32::from(len);
                        s
                    }
                    Symbol::NeedMore => return Ok(false),
                    Symbol::Invalid => return Err(ProtoError::BadField("dct huffman code")),
                }
            }
        };
        let size = u32::from(if self.k == 0 { sym } else { sym & 0x0F });
        if size > 11 {
            return Err(ProtoError::BadField("dct coefficient size"));
        }
        if size > self.nbits {
            self.pending = Some(sym);
            return Ok(false);
        }
        self.pending = None;
        let value = if size == 0 {
            0
        } else {
            let v = ((self.acc >> (self.nbits - size)) & ((1 << size) - 1)) as i32;
            self.nbits -= size;
            if v < 1 << (size - 1) {
                v - (1 << size) + 1
            } else {
                v
            }
        };
        if self.k == 0 {
            let comp = match self.block {
                0..=3 => 0,
                4 => 1,
                _ => 2,
            };
            self.pred[comp] += value;
            if !(-2048..=2047).contains(&self.pred[comp]) {
                return Err(ProtoError::BadField("dct dc out of range"));
            }
            let q = i32::from(self.quant[usize::from(self.block >= 4)][0]);
            self.coef[0] = (self.pred[comp] * q).clamp(-COEF_LIMIT, COEF_LIMIT);
            self.k = 1;
            return Ok(true);
        }
        let run = sym >> 4;
        if size == 0 {
            match run {
                0 => return self.end_block(scratch).map(|()| true), // EOB
                15 => self.k += 16,                                 // ZRL
                _ => return Err(ProtoError::BadField("dct run without value")),
            }
        } else {
            self.k += run;
            if self.k > 63 {
                return Err(ProtoError::BadField("dct run past the block"));
            }
            let at = usize::from(ZIGZAG[usize::from(self.k)]);
            let q = i32::from(self.quant[usize::from(self.block >= 4)][at]);
            self.coef[at] = (value * q).clamp(-COEF_LIMIT, COEF_LIMIT);
            self.has_ac = true;
            self.kmax = self.k;
            self.k += 1;
        }
        match self.k {
            64 => self.end_block(scratch).map(|()| true),
            k if k > 64 => Err(ProtoError::BadField("dct run past the block")),
            _ => Ok(true),
        }
    }

    /// The current block is complete: transform it into the sample buffers.
    fn end_block(&mut self, scratch: &mut Scratch) -> Result<(), ProtoError> {
        if !self.check_only {
            let (out, stride): (&mut [u8], usize) = match self.block {
                b @ 0..=3 => {
                    let x = usize::from(b & 1) * 8;
                    let y = usize::from(b >> 1) * 8;
                    (&mut scratch.y[y * MCU + x..], MCU)
                }
                4 => (&mut scratch.cb, 8),
                _ => (&mut scratch.cr, 8),
            };
            if self.has_ac {
                // zigzag indices up to 9 all lie in the top-left 4x4
                idct_block(&self.coef, out, stride, self.kmax <= 9);
            } else {
                let v = dc_only(self.coef[0]);
                for r in 0..8 {
                    if let Some(row) = out.get_mut(r * stride..r * stride + 8) {
                        row.fill(v);
                    }
                }
            }
        }
        if self.has_ac {
            self.coef = [0; 64];
            self.has_ac = false;
            self.kmax = 0;
        }
        self.k = 0;
        self.block += 1;
        if self.block == 6 {
            if !self.check_only {
                self.convert_mcu(scratch);
            }
            self.block = 0;
            self.mcu += 1;
            if self.mcu == self.mcus() {
                // Only the last byte's padding may remain.
                if self.nbits >= 8 {
                    return Err(ProtoError::PixelCountMismatch);
                }
                self.stage = Stage::Emit(0);
            }
        }
        Ok(())
    }

    /// Converts the completed MCU's samples into its 16 columns of the band (4:2:0: the chroma
    /// terms of each sample are worked out once for its four pixels).
    fn convert_mcu(&self, s: &mut Scratch) {
        let x0 = usize::from(self.mcu) * MCU * 2;
        for cy in 0..8 {
            for cx in 0..8 {
                let t = ChromaTerms::new(s.cb[cy * 8 + cx], s.cr[cy * 8 + cx]);
                for dy in 0..2 {
                    let (row, col) = (cy * 2 + dy, cx * 2);
                    let at = row * BAND_STRIDE + x0 + col * 2;
                    let ys = &s.y[row * MCU + col..row * MCU + col + 2];
                    let (a, b) = (rgb565(ys[0], t), rgb565(ys[1], t));
                    let (a, b) = if self.big_endian {
                        (a.to_be_bytes(), b.to_be_bytes())
                    } else {
                        (a.to_le_bytes(), b.to_le_bytes())
                    };
                    if let Some(d) = s.band.get_mut(at..at + 4) {
                        d.copy_from_slice(&[a[0], a[1], b[0], b[1]]);
                    }
                }
            }
        }
    }

    /// The next chunk of pixels from pixel `p` on: the rest of its row, up to a chunk.
    fn emit(&mut self, p: u32, scratch: &Scratch) -> PixelRun<'static> {
        if self.check_only {
            self.stage = Stage::Done;
            let count = u32::from(self.w) * u32::from(self.h) - p;
            return PixelRun::Fill {
                pixel: [0; 2],
                count,
            };
        }
        let w = u32::from(self.w);
        let total = w * u32::from(self.h);
        let (row, col) = ((p / w) as usize, (p % w) as usize);
        let n = (w as usize - col).min(PixelChunk::PIXELS);
        let mut chunk = PixelChunk::EMPTY;
        if self.half {
            // Each coded pixel twice across, each coded row twice down.
            let at = (row / 2) * BAND_STRIDE + (col / 2) * 2;
            let src = scratch.band.get(at..).unwrap_or(&[]);
            let dst = &mut chunk.bytes[..2 * n];
            // An odd start takes the second copy of its coded pixel first.
            let (first, src) = match (col % 2, src) {
                (1, [a, b, rest @ ..]) => (Some([*a, *b]), rest),
                _ => (None, src),
            };
            let dst = match (first, dst) {
                (Some(p), [a, b, rest @ ..]) => {
                    (*a, *b) = (p[0], p[1]);
                    rest
                }
                (_, dst) => dst,
            };
            let done = dst.len() / 4;
            let mut pairs = dst.chunks_exact_mut(4);
            for (d, p) in (&mut pairs).zip(src.chunks_exact(2)) {
                // one 16-bit load, one 32-bit store
                let px = u32::from(u16::from_ne_bytes([p[0], p[1]]));
                d.copy_from_slice(&(px | px << 16).to_ne_bytes());
            }
            let tail = pairs.into_remainder();
            if let (2, Some(p)) = (tail.len(), src.get(2 * done..2 * done + 2)) {
                tail.copy_from_slice(p);
            }
        } else {
            let at = row * BAND_STRIDE + col * 2;
            if let Some(src) = scratch.band.get(at..at + 2 * n) {
                chunk.bytes[..2 * n].copy_from_slice(src);
            }
        }
        let n = n as u32;
        chunk.len = (2 * n) as u8;
        self.stage = if p + n == total {
            Stage::Done
        } else {
            Stage::Emit(p + n)
        };
        PixelRun::Chunk(chunk)
    }
}
