//! The incremental DCT decoder: accepts the payload split at any byte, decodes each 8x8 block as
//! its last coefficient arrives, converts each completed MCU to RGB565 in the device's byte order
//! into a band buffer, and once the row of MCUs is complete emits the band row-major in
//! [`PixelChunk`]s (by value: they come from the decoder's own buffer, not the input).

use super::color::{BIG_ENDIAN, LITTLE_ENDIAN};
use super::huffman::{AC_LOOKAHEAD, DECODE, DecodeTable, LOOKAHEAD_BITS, Symbol};
use super::idct::{COEF_LIMIT, dc_only, idct_block, square};
use super::{MAX_WIDTH, MCU, ZIGZAG, quant_tables_zigzag};
use crate::ProtoError;
use crate::codec::{PixelChunk, PixelRun};

/// Pixels of one band row.
const BAND_STRIDE: usize = MAX_WIDTH as usize;

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

/// The input bits read but not yet decoded: MSB first, left-aligned in a `u32` (the bits past
/// `n` are zero). 32 bits, not 64: the device is RV32, where `u64` shifts take several
/// instructions.
#[derive(Debug, Clone, Copy, Default)]
struct BitReader {
    bits: u32,
    n: u32,
}

impl BitReader {
    /// Takes input bytes while a whole one fits (leaving 25 to 32 bits, or the input used up).
    #[inline(always)]
    fn refill(&mut self, input: &[u8], at: &mut usize) {
        while self.n <= 24 {
            let Some(&b) = input.get(*at) else {
                return;
            };
            self.bits |= u32::from(b) << (24 - self.n);
            self.n += 8;
            *at += 1;
        }
    }

    /// Drops `len` (at most `n`, below 32) bits.
    #[inline(always)]
    fn skip(&mut self, len: u32) {
        self.bits <<= len;
        self.n -= len;
    }

    /// Reads `size` (1..=11, at most `n`) bits as a JPEG coefficient value: a leading 0 bit
    /// means negative (`x - 2^size + 1`).
    #[inline(always)]
    fn value(&mut self, size: u32) -> i32 {
        let x = (self.bits >> (32 - size)) as i32;
        self.skip(size);
        if x < 1 << (size - 1) {
            x - (1 << size) + 1
        } else {
            x
        }
    }
}

/// Dequantised coefficients of one block, natural order (within ±[`COEF_LIMIT`], so `i16`: half
/// the bytes to clear).
#[derive(Debug, Clone)]
#[repr(align(8))]
struct Coefs([i16; 64]);

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
    br: BitReader,
    /// Dequantised coefficients of the block being decoded, natural order (clamped to
    /// ±[`COEF_LIMIT`]); all zero between blocks but for the DC.
    coef: Coefs,
    /// Largest zigzag index written in the block (0: only the DC, a flat block).
    last: u8,
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

/// The decoder's sample and pixel buffers (4.6 KiB), kept apart from its per-RECT state so a
/// protocol decoder allocates them once rather than zeroing and moving them for every RECT; and
/// the dequantisation tables, worked out again only when a RECT's quality differs from the last.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// Dequantisation multipliers (luma, chroma) in zigzag order, for `quality` (0: none yet).
    quant: [[u16; 64]; 2],
    quality: u8,
    /// Samples of the MCU being decoded: Y (16x16), Cb and Cr (8x8 each).
    y: [u8; MCU * MCU],
    cb: [u8; 64],
    cr: [u8; 64],
    /// The row of MCUs in RGB565, each `u16`'s bytes in memory in the device's order, row `r`
    /// at `r * BAND_STRIDE`.
    band: [u16; BAND_STRIDE * MCU],
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            quant: [[0; 64]; 2],
            quality: 0,
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
            br: BitReader::default(),
            coef: Coefs([0; 64]),
            last: 0,
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
                    if !self.check_only && scratch.quality != q {
                        scratch.quant = quant_tables_zigzag(q);
                        scratch.quality = q;
                    }
                    used = 1;
                    self.stage = Stage::Blocks;
                }
                Stage::Blocks => {
                    let rest = input.get(used..).unwrap_or(&[]);
                    let (n, more) = if self.check_only {
                        self.blocks::<true>(rest, scratch)?
                    } else {
                        self.blocks::<false>(rest, scratch)?
                    };
                    used += n;
                    if !more {
                        return Ok((used, None));
                    }
                }
            }
        }
    }

    /// Decodes blocks from `input` until it runs out (returns the bytes used and false) or the
    /// last block is done (true). `CHECK`: validate only (no coefficients, no pixels).
    fn blocks<const CHECK: bool>(
        &mut self,
        input: &[u8],
        scratch: &mut Scratch,
    ) -> Result<(usize, bool), ProtoError> {
        let mut at = 0;
        let mut br = self.br;
        if self.pending.is_some() {
            // The symbol the last input cut off, on the general path.
            let class = usize::from(self.block >= 4);
            let table = if self.k == 0 {
                &DECODE[class].dc
            } else {
                &DECODE[class].ac
            };
            let Some((sym, value)) = symbol(
                &mut self.pending,
                &mut br,
                input,
                &mut at,
                table,
                self.k == 0,
            )?
            else {
                self.br = br;
                return Ok((at, false));
            };
            if self.k == 0 {
                self.dc::<CHECK>(scratch.quant[class][0], value)?;
            } else {
                let (mut k, mut last) = (usize::from(self.k), usize::from(self.last));
                let ended = ac::<CHECK>(
                    &mut self.coef,
                    &scratch.quant[class],
                    (&mut k, &mut last),
                    sym,
                    value,
                )?;
                (self.k, self.last) = (k as u8, last as u8);
                if ended && self.finish_block::<CHECK>(scratch, last, br.n, at < input.len())? {
                    self.br = br;
                    return Ok((at, true));
                }
            }
        }
        loop {
            let class = usize::from(self.block >= 4);
            if self.k == 0 {
                // DC: a code of up to 8 bits and its value bits, or the general path
                br.refill(input, &mut at);
                let e = DECODE[class].dc.lut[(br.bits >> 24) as usize];
                let (len, size) = (u32::from(e >> 8), u32::from(e & 0xFF));
                let value = if len != 0 && len + size <= br.n {
                    br.skip(len);
                    if size == 0 { 0 } else { br.value(size) }
                } else {
                    let Some((_, v)) = symbol(
                        &mut self.pending,
                        &mut br,
                        input,
                        &mut at,
                        &DECODE[class].dc,
                        true,
                    )?
                    else {
                        break;
                    };
                    v
                };
                self.dc::<CHECK>(scratch.quant[class][0], value)?;
            }
            // AC: the lookahead decodes most coefficients in one step; a code with its value bits
            // already read takes a second (an 8-bit lookup, or the lengths for a longer code);
            // a coefficient cut off by the end of the input, or no code, takes the general path.
            let lookahead = &AC_LOOKAHEAD[class].0;
            let ac_table = &DECODE[class].ac;
            let lut = &ac_table.lut;
            let quant = &scratch.quant[class];
            let mut k = usize::from(self.k);
            let mut last = usize::from(self.last);
            loop {
                if br.n < LOOKAHEAD_BITS {
                    br.refill(input, &mut at);
                }
                let e = lookahead[(br.bits >> (32 - LOOKAHEAD_BITS)) as usize];
                let len = u32::from(e & 0x0F);
                if len.wrapping_sub(1) < br.n {
                    // in the table (len ≠ 0) and all there
                    br.skip(len);
                    let value = i32::from((e as i16) >> 8);
                    if value == 0 {
                        break; // EOB
                    }
                    k += usize::from(e >> 4 & 0x0F);
                    if k > 63 {
                        return Err(ProtoError::BadField("dct run past the block"));
                    }
                    if !CHECK {
                        let q = i32::from(quant[k]);
                        self.coef.0[usize::from(ZIGZAG[k])] =
                            (value * q).clamp(-COEF_LIMIT, COEF_LIMIT) as i16;
                        last = k;
                    }
                    k += 1;
                    if k == 64 {
                        break;
                    }
                    continue;
                }
                let (sym, value);
                {
                    br.refill(input, &mut at);
                    let e = lut[(br.bits >> 24) as usize];
                    let (s, len) = if e != 0 {
                        (e as u8, u32::from(e >> 8))
                    } else if br.n >= 16 {
                        ac_table.long_code(br.bits).unwrap_or((0, 0))
                    } else {
                        (0, 0)
                    };
                    let size = u32::from(s & 0x0F);
                    if len != 0 && len + size <= br.n {
                        br.skip(len);
                        (sym, value) = (s, if size == 0 { 0 } else { br.value(size) });
                    } else {
                        let Some(found) = symbol(
                            &mut self.pending,
                            &mut br,
                            input,
                            &mut at,
                            &DECODE[class].ac,
                            false,
                        )?
                        else {
                            (self.k, self.last) = (k as u8, last as u8);
                            self.br = br;
                            return Ok((at, false));
                        };
                        (sym, value) = found;
                    }
                }
                if ac::<CHECK>(&mut self.coef, quant, (&mut k, &mut last), sym, value)? {
                    break;
                }
            }
            if self.finish_block::<CHECK>(scratch, last, br.n, at < input.len())? {
                self.br = br;
                return Ok((at, true));
            }
        }
        self.br = br;
        Ok((at, false))
    }

    /// Takes a block's DC difference `value` (`q`: the DC's dequantisation multiplier).
    #[inline(always)]
    fn dc<const CHECK: bool>(&mut self, q: u16, value: i32) -> Result<(), ProtoError> {
        let comp = match self.block {
            0..=3 => 0,
            4 => 1,
            _ => 2,
        };
        self.pred[comp] += value;
        if !(-2048..=2047).contains(&self.pred[comp]) {
            return Err(ProtoError::BadField("dct dc out of range"));
        }
        if !CHECK {
            self.coef.0[0] = (self.pred[comp] * i32::from(q)).clamp(-COEF_LIMIT, COEF_LIMIT) as i16;
        }
        self.k = 1;
        Ok(())
    }

    /// Ends the block whose largest zigzag index written is `last`; true if it was the RECT's
    /// last, in which case at most the last byte's padding may remain (`bits_left` bits read
    /// but not decoded, `more_input`).
    #[inline(always)]
    fn finish_block<const CHECK: bool>(
        &mut self,
        scratch: &mut Scratch,
        last: usize,
        bits_left: u32,
        more_input: bool,
    ) -> Result<bool, ProtoError> {
        self.k = 0;
        self.end_block::<CHECK>(scratch, last);
        if self.stage == Stage::Blocks {
            return Ok(false);
        }
        if bits_left >= 8 || more_input {
            return Err(ProtoError::PixelCountMismatch);
        }
        Ok(true)
    }

    /// The current block is complete (`last`: its largest zigzag index written): transform it
    /// into the sample buffers.
    fn end_block<const CHECK: bool>(&mut self, scratch: &mut Scratch, last: usize) {
        if !CHECK {
            let (out, stride): (&mut [u8], usize) = match self.block {
                b @ 0..=3 => {
                    let x = usize::from(b & 1) * 8;
                    let y = usize::from(b >> 1) * 8;
                    (&mut scratch.y[y * MCU + x..], MCU)
                }
                4 => (&mut scratch.cb, 8),
                _ => (&mut scratch.cr, 8),
            };
            if last > 0 {
                idct_block(&self.coef.0, out, stride, last);
                // clear what the block can have written
                let n = square(last);
                for row in self.coef.0.chunks_exact_mut(8).take(n) {
                    row[..n].fill(0);
                }
            } else {
                let v = dc_only(i32::from(self.coef.0[0]));
                for r in 0..8 {
                    if let Some(row) = out.get_mut(r * stride..r * stride + 8) {
                        row.fill(v);
                    }
                }
            }
            self.last = 0;
        }
        self.block += 1;
        if self.block == 6 {
            if !CHECK {
                self.convert_mcu(scratch);
            }
            self.block = 0;
            self.mcu += 1;
            if self.mcu == self.mcus() {
                self.stage = Stage::Emit(0);
            }
        }
    }

    /// Converts the completed MCU's samples into its 16 columns of the band (4:2:0: the chroma
    /// of each sample is worked out once for its four pixels).
    fn convert_mcu(&self, s: &mut Scratch) {
        let fields = if self.big_endian {
            &BIG_ENDIAN
        } else {
            &LITTLE_ENDIAN
        };
        let x0 = usize::from(self.mcu) * MCU;
        let rows = s.band.chunks_exact_mut(2 * BAND_STRIDE);
        let samples = s.y.chunks_exact(2 * MCU).zip(s.cb.chunks_exact(8));
        for ((out, (y, cb)), cr) in rows.zip(samples).zip(s.cr.chunks_exact(8)) {
            // two rows of pixels from two rows of luma and one of chroma
            let (top, bottom) = out.split_at_mut(BAND_STRIDE);
            let (Some(top), Some(bottom)) = (
                top.get_mut(x0..).and_then(|r| r.first_chunk_mut::<MCU>()),
                bottom
                    .get_mut(x0..)
                    .and_then(|r| r.first_chunk_mut::<MCU>()),
            ) else {
                return;
            };
            let (Some(y0), Some(y1)) = (
                y.first_chunk::<MCU>(),
                y.get(MCU..).and_then(|r| r.first_chunk::<MCU>()),
            ) else {
                return;
            };
            for (cx, (&cb, &cr)) in cb.iter().zip(cr).enumerate() {
                let c = fields.for_chroma(cb, cr);
                let x = 2 * cx;
                top[x] = c.pixel(y0[x]);
                top[x + 1] = c.pixel(y0[x + 1]);
                bottom[x] = c.pixel(y1[x]);
                bottom[x + 1] = c.pixel(y1[x + 1]);
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
            let at = (row / 2) * BAND_STRIDE + col / 2;
            let src = scratch.band.get(at..).unwrap_or(&[]);
            if col % 2 == 0 {
                // one 16-bit load, one 32-bit store per coded pixel
                let (pairs, _) = chunk.bytes.as_chunks_mut::<4>();
                for (d, &p) in pairs.iter_mut().zip(src).take(n / 2) {
                    let [a, b] = p.to_ne_bytes();
                    *d = [a, b, a, b];
                }
                if let (1, Some(p), Some(d)) =
                    (n % 2, src.get(n / 2), chunk.bytes.get_mut(2 * n - 2..2 * n))
                {
                    d.copy_from_slice(&p.to_ne_bytes());
                }
            } else {
                // an odd start (chunks are an even number of pixels, so none yet)
                let (px, _) = chunk.bytes.as_chunks_mut::<2>();
                for (i, d) in px.iter_mut().enumerate().take(n) {
                    if let Some(p) = src.get((col + i) / 2 - col / 2) {
                        *d = p.to_ne_bytes();
                    }
                }
            }
        } else {
            let at = row * BAND_STRIDE + col;
            if let Some(src) = scratch.band.get(at..at + n) {
                let (px, _) = chunk.bytes.as_chunks_mut::<2>();
                for (d, p) in px.iter_mut().zip(src) {
                    *d = p.to_ne_bytes();
                }
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

/// Takes AC symbol `sym` (run and size) with its `value` at zigzag index `k`, moving `k` on and
/// `last` to the coefficient written; true once the block is complete (EOB, or index 63 done).
#[inline(always)]
fn ac<const CHECK: bool>(
    coef: &mut Coefs,
    quant: &[u16; 64],
    (k, last): (&mut usize, &mut usize),
    sym: u8,
    value: i32,
) -> Result<bool, ProtoError> {
    let run = usize::from(sym >> 4);
    if sym & 0x0F == 0 {
        return match run {
            0 => Ok(true), // EOB
            15 => {
                // ZRL: sixteen zeros
                *k += 16;
                match *k {
                    64 => Ok(true),
                    k if k > 64 => Err(ProtoError::BadField("dct run past the block")),
                    _ => Ok(false),
                }
            }
            _ => Err(ProtoError::BadField("dct run without value")),
        };
    }
    *k += run;
    if *k > 63 {
        return Err(ProtoError::BadField("dct run past the block"));
    }
    if !CHECK {
        let q = i32::from(quant[*k]);
        coef.0[usize::from(ZIGZAG[*k])] = (value * q).clamp(-COEF_LIMIT, COEF_LIMIT) as i16;
        *last = *k;
    }
    *k += 1;
    Ok(*k == 64)
}

/// Decodes the next symbol with `table` and the value bits it announces (for `dc`, the
/// symbol is their count; for AC, its low four bits), reading more of `input` as needed.
/// `None`: the input ran out first (a symbol whose value bits are still to come waits in
/// `pending`).
#[inline(never)]
fn symbol(
    pending: &mut Option<u8>,
    br: &mut BitReader,
    input: &[u8],
    at: &mut usize,
    table: &DecodeTable,
    dc: bool,
) -> Result<Option<(u8, i32)>, ProtoError> {
    br.refill(input, at);
    let sym = match pending.take() {
        Some(s) => s,
        None => match table.decode(br.bits, br.n) {
            Symbol::Found(s, len) => {
                br.skip(u32::from(len));
                s
            }
            Symbol::NeedMore => return Ok(None),
            Symbol::Invalid => return Err(ProtoError::BadField("dct huffman code")),
        },
    };
    let size = u32::from(if dc { sym } else { sym & 0x0F });
    if size > 11 {
        return Err(ProtoError::BadField("dct coefficient size"));
    }
    br.refill(input, at);
    if size > br.n {
        *pending = Some(sym);
        return Ok(None);
    }
    let value = if size == 0 { 0 } else { br.value(size) };
    Ok(Some((sym, value)))
}
