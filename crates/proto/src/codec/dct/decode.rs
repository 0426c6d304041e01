//! The incremental DCT decoder: accepts the payload split at any byte, decodes each 8x8 block as
//! its last coefficient arrives, and once the row of MCUs is complete emits its pixels row-major in
//! [`PixelChunk`]s (by value: they come from the decoder's own buffer, not the input).

use super::huffman::{DECODE, Symbol};
use super::idct::{COEF_LIMIT, idct_block};
use super::{MAX_WIDTH, MCU, ZIGZAG, quant_tables, ycbcr_to_rgb565};
use crate::ProtoError;
use crate::codec::{PixelChunk, PixelRun};

const Y_STRIDE: usize = MAX_WIDTH as usize;
const C_STRIDE: usize = MAX_WIDTH as usize / 2;

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
    w: u16,
    h: u16,
    big_endian: bool,
    stage: Stage,
    /// Bit accumulator: the `nbits` low bits are unread input, MSB first.
    acc: u32,
    nbits: u32,
    /// Dequantisation multipliers (luma, chroma), natural order.
    quant: [[u16; 64]; 2],
    /// Quantised coefficients of the block being decoded, natural order.
    coef: [i16; 64],
    /// Position: MCU, block in the MCU (0..6), zigzag index in the block.
    mcu: u16,
    block: u8,
    k: u8,
    /// A decoded symbol waiting for its extra bits.
    pending: Option<u8>,
    /// DC predictors of Y, Cb, Cr.
    pred: [i32; 3],
    y: [u8; Y_STRIDE * MCU],
    cb: [u8; C_STRIDE * MCU / 2],
    cr: [u8; C_STRIDE * MCU / 2],
}

impl Decoder {
    /// A decoder for a `w × h` RECT whose pixels go out in RGB565, big-endian if `big_endian`.
    /// The caller has checked [`super::fits`].
    pub fn new(w: u16, h: u16, big_endian: bool) -> Self {
        Self {
            w: w.min(MAX_WIDTH),
            h: h.min(super::MAX_HEIGHT),
            big_endian,
            stage: Stage::Quality,
            acc: 0,
            nbits: 0,
            quant: [[0; 64]; 2],
            coef: [0; 64],
            mcu: 0,
            block: 0,
            k: 0,
            pending: None,
            pred: [0; 3],
            y: [0; Y_STRIDE * MCU],
            cb: [0; C_STRIDE * MCU / 2],
            cr: [0; C_STRIDE * MCU / 2],
        }
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
        self.w.div_ceil(MCU as u16)
    }

    /// Consumes a prefix of `input`, maybe producing a run of pixels.
    pub fn step<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<PixelRun<'a>>), ProtoError> {
        let mut used = 0;
        loop {
            match self.stage {
                Stage::Done => return Ok((used, None)),
                Stage::Emit(p) => return Ok((used, Some(PixelRun::Chunk(self.emit(p))))),
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
                Stage::Blocks => {
                    while self.nbits <= 24 && used < input.len() {
                        self.acc = self.acc << 8 | u32::from(input[used]);
                        self.nbits += 8;
                        used += 1;
                    }
                    if !self.coefficient()? {
                        return Ok((used, None));
                    }
                }
            }
        }
    }

    /// Decodes the next coefficient (or run) if the bits for it are there; false if not.
    fn coefficient(&mut self) -> Result<bool, ProtoError> {
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
            self.coef[0] = self.pred[comp] as i16;
            self.k = 1;
            return Ok(true);
        }
        let run = sym >> 4;
        if size == 0 {
            match run {
                0 => return self.end_block().map(|()| true), // EOB
                15 => self.k += 16,                          // ZRL
                _ => return Err(ProtoError::BadField("dct run without value")),
            }
        } else {
            self.k += run;
            if self.k > 63 {
                return Err(ProtoError::BadField("dct run past the block"));
            }
            self.coef[usize::from(ZIGZAG[usize::from(self.k)])] = value as i16;
            self.k += 1;
        }
        match self.k {
            64 => self.end_block().map(|()| true),
            k if k > 64 => Err(ProtoError::BadField("dct run past the block")),
            _ => Ok(true),
        }
    }

    /// The current block is complete: transform it into the sample buffers.
    fn end_block(&mut self) -> Result<(), ProtoError> {
        let class = usize::from(self.block >= 4);
        let mut deq = [0i32; 64];
        for ((d, &c), &q) in deq.iter_mut().zip(&self.coef).zip(&self.quant[class]) {
            *d = (i32::from(c) * i32::from(q)).clamp(-COEF_LIMIT, COEF_LIMIT);
        }
        let m = usize::from(self.mcu);
        match self.block {
            b @ 0..=3 => {
                let x = m * MCU + usize::from(b & 1) * 8;
                let y = usize::from(b >> 1) * 8;
                idct_block(&deq, &mut self.y[y * Y_STRIDE + x..], Y_STRIDE);
            }
            4 => idct_block(&deq, &mut self.cb[m * 8..], C_STRIDE),
            _ => idct_block(&deq, &mut self.cr[m * 8..], C_STRIDE),
        }
        self.coef = [0; 64];
        self.k = 0;
        self.block += 1;
        if self.block == 6 {
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

    /// The next chunk of pixels from pixel `p` on.
    fn emit(&mut self, p: u32) -> PixelChunk {
        let w = u32::from(self.w);
        let total = w * u32::from(self.h);
        let n = (total - p).min(PixelChunk::PIXELS as u32);
        let mut chunk = PixelChunk::EMPTY;
        let (mut row, mut col) = ((p / w) as usize, (p % w) as usize);
        for i in 0..n as usize {
            let y = self.y[row * Y_STRIDE + col];
            let c = (row / 2) * C_STRIDE + col / 2;
            let px = ycbcr_to_rgb565(y, self.cb[c], self.cr[c]);
            let b = if self.big_endian {
                px.to_be_bytes()
            } else {
                px.to_le_bytes()
            };
            chunk.bytes[2 * i..2 * i + 2].copy_from_slice(&b);
            col += 1;
            if col == self.w as usize {
                col = 0;
                row += 1;
            }
        }
        chunk.len = (2 * n) as u8;
        self.stage = if p + n == total {
            Stage::Done
        } else {
            Stage::Emit(p + n)
        };
        chunk
    }
}
