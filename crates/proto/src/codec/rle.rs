//! RLE (0x01): run-length tokens over codec units (RGB565 pixels, or the bytes of packed grey
//! rows, see [`crate::PixelFormat`]), the rectangle taken as one row-major sequence (runs may cross
//! row ends).
//!
//! ```text
//! control byte c, then (u = unit size: 2 bytes for RGB565, 1 for grey):
//!   0x00..=0x7F  literal: n = c + 1 units (1..=128) follow, n*u bytes
//!   0x80..=0xFE  run:     n = c - 0x7F units (1..=127) of the one unit that follows (u bytes)
//!   0xFF         long run: n = u16 LE (1..=65535), then the unit (u bytes)
//! ```
//! The tokens must produce exactly the rectangle's units; a token that would overshoot is an
//! error. Decoding costs one branch per token and a copy or fill per unit, which suits a 160 MHz MCU.

use super::{EncodeFail, PixelRun, Pixels, for_each_unit_slice};
use crate::ProtoError;
use crate::format::PixelFormat;

const MAX_LITERAL: usize = 128;
const MAX_SHORT_RUN: usize = 127;
const MAX_LONG_RUN: usize = u16::MAX as usize;

struct Out<'o> {
    buf: &'o mut [u8],
    pos: usize,
    format: PixelFormat,
    unit: usize,
}

impl Out<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeFail> {
        let end = self.pos + bytes.len();
        self.buf
            .get_mut(self.pos..end)
            .ok_or(EncodeFail::DoesNotFit)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn literal(&mut self, px: &[u16]) -> Result<(), EncodeFail> {
        for chunk in px.chunks(MAX_LITERAL) {
            let need = 1 + chunk.len() * self.unit;
            let end = self.pos + need;
            let dst = self
                .buf
                .get_mut(self.pos..end)
                .ok_or(EncodeFail::DoesNotFit)?;
            dst[0] = (chunk.len() - 1) as u8;
            match self.format {
                PixelFormat::Rgb565(order) => {
                    for (p, d) in chunk.iter().zip(dst[1..].chunks_exact_mut(2)) {
                        d.copy_from_slice(&order.to_bytes(*p));
                    }
                }
                _ => {
                    for (p, d) in chunk.iter().zip(dst[1..].iter_mut()) {
                        *d = *p as u8;
                    }
                }
            }
            self.pos = end;
        }
        Ok(())
    }

    fn run(&mut self, px: u16, mut n: usize) -> Result<(), EncodeFail> {
        let b = self.format.unit_to_bytes(px);
        let b = &b[..self.unit];
        while n > 0 {
            if n <= MAX_SHORT_RUN {
                self.put(&[0x7F + n as u8])?;
                self.put(b)?;
                n = 0;
            } else {
                let k = n.min(MAX_LONG_RUN);
                let c = (k as u16).to_le_bytes();
                self.put(&[0xFF, c[0], c[1]])?;
                self.put(b)?;
                n -= k;
            }
        }
        Ok(())
    }
}

/// The greedy tokeniser: a run of 3+ equal units (2+ when no literal is pending) becomes a run
/// token; the rest collects into literals of up to 128 units.
struct Tokens<'o> {
    out: Out<'o>,
    lit: [u16; MAX_LITERAL],
    lit_len: usize,
    run_px: u16,
    run_len: usize,
}

impl Tokens<'_> {
    /// Ends the current run: either as a run token or by moving it into the literal buffer.
    fn end_run(&mut self) -> Result<(), EncodeFail> {
        let (px, n) = (self.run_px, self.run_len);
        if n >= 3 || (n == 2 && self.lit_len == 0) {
            self.out.literal(&self.lit[..self.lit_len])?;
            self.lit_len = 0;
            self.out.run(px, n)
        } else {
            for _ in 0..n {
                if self.lit_len == MAX_LITERAL {
                    self.out.literal(&self.lit[..])?;
                    self.lit_len = 0;
                }
                self.lit[self.lit_len] = px;
                self.lit_len += 1;
            }
            Ok(())
        }
    }

    #[inline]
    fn push(&mut self, p: u16) -> Result<(), EncodeFail> {
        if self.run_len > 0 && p == self.run_px {
            self.run_len += 1;
        } else {
            if self.run_len > 0 {
                self.end_run()?;
            }
            self.run_px = p;
            self.run_len = 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<usize, EncodeFail> {
        if self.run_len > 0 {
            self.end_run()?;
        }
        self.out.literal(&self.lit[..self.lit_len])?;
        Ok(self.out.pos)
    }
}

/// Encodes `px` as RLE into `out`; see [`Tokens`] for the token choice.
pub fn encode(
    px: Pixels<'_>,
    format: impl Into<PixelFormat>,
    out: &mut [u8],
) -> Result<usize, EncodeFail> {
    let format = format.into();
    let mut t = Tokens {
        out: Out {
            buf: out,
            pos: 0,
            format,
            unit: format.unit_bytes(),
        },
        lit: [0; MAX_LITERAL],
        lit_len: 0,
        run_px: 0,
        run_len: 0,
    };
    for r in 0..px.height {
        for_each_unit_slice(&px, r, format, |units| {
            for &u in units {
                // The common case inline: the run goes on.
                if t.run_len > 0 && u == t.run_px {
                    t.run_len += 1;
                } else {
                    t.push(u)?;
                }
            }
            Ok(())
        })?;
    }
    t.finish()
}

/// Number of tokens in an RLE payload of RGB565 pixels (what a decoder's per-token work scales
/// with); see [`token_count_units`].
pub fn token_count(payload: &[u8]) -> usize {
    token_count_units(payload, 2)
}

/// Number of tokens in an RLE payload whose units are `unit_bytes` long; a token cut short by the
/// end of `payload` counts. Walks the control bytes only, without checking pixel counts: meant
/// for payloads this crate encoded.
pub fn token_count_units(payload: &[u8], unit_bytes: usize) -> usize {
    let mut pos = 0;
    let mut tokens = 0;
    while let Some(&c) = payload.get(pos) {
        tokens += 1;
        pos += match c {
            0x00..=0x7F => 1 + unit_bytes * (usize::from(c) + 1),
            0xFF => 1 + 2 + unit_bytes,
            _ => 1 + unit_bytes,
        };
    }
    tokens
}

#[derive(Debug, Clone, Copy)]
enum State {
    Control,
    Literal { bytes_left: u32 },
    LongCount { have: u8, lo: u8 },
    RunPixel { count: u32, have: u8, first: u8 },
}

#[derive(Debug, Clone)]
pub(crate) struct Decoder {
    pixels_left: u32,
    /// Bytes per unit: 2 (RGB565) or 1 (grey).
    unit: u8,
    state: State,
}

impl Decoder {
    /// A decoder for `units` codec units of `unit_bytes` (1 or 2) bytes each.
    pub(crate) fn new(units: u32, unit_bytes: u8) -> Self {
        Self {
            pixels_left: units,
            unit: unit_bytes.clamp(1, 2),
            state: State::Control,
        }
    }

    fn take(&mut self, n: u32) -> Result<(), ProtoError> {
        if n == 0 || n > self.pixels_left {
            return Err(ProtoError::PixelCountMismatch);
        }
        self.pixels_left -= n;
        Ok(())
    }

    pub(crate) fn step<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<PixelRun<'a>>), ProtoError> {
        let Some(&b) = input.first() else {
            return Ok((0, None));
        };
        match self.state {
            State::Control => {
                // Fast paths: a token whose bytes are all in `input` is decoded in one call (a
                // literal yields the pixel bytes that are there). Otherwise byte by byte below.
                match (b, input) {
                    (0x00..=0x7F, [_, rest @ ..]) if !rest.is_empty() => {
                        let n = u32::from(b) + 1;
                        self.take(n)?;
                        let u = u32::from(self.unit);
                        let k = rest.len().min((n * u) as usize);
                        let left = n * u - k as u32;
                        if left > 0 {
                            self.state = State::Literal { bytes_left: left };
                        }
                        return Ok((1 + k, Some(PixelRun::Bytes(&rest[..k]))));
                    }
                    (0x80..=0xFE, [_, p0, p1, ..]) if self.unit == 2 => {
                        let count = u32::from(b - 0x7F);
                        self.take(count)?;
                        let pixel = [*p0, *p1];
                        return Ok((3, Some(PixelRun::Fill { pixel, count })));
                    }
                    (0x80..=0xFE, [_, p0, ..]) if self.unit == 1 => {
                        let count = u32::from(b - 0x7F);
                        self.take(count)?;
                        let pixel = [*p0, *p0];
                        return Ok((2, Some(PixelRun::Fill { pixel, count })));
                    }
                    (0xFF, [_, lo, hi, p0, p1, ..]) if self.unit == 2 => {
                        let count = u32::from(u16::from_le_bytes([*lo, *hi]));
                        self.take(count)?;
                        let pixel = [*p0, *p1];
                        return Ok((5, Some(PixelRun::Fill { pixel, count })));
                    }
                    (0xFF, [_, lo, hi, p0, ..]) if self.unit == 1 => {
                        let count = u32::from(u16::from_le_bytes([*lo, *hi]));
                        self.take(count)?;
                        let pixel = [*p0, *p0];
                        return Ok((4, Some(PixelRun::Fill { pixel, count })));
                    }
                    _ => {}
                }
                match b {
                    0x00..=0x7F => {
                        let n = u32::from(b) + 1;
                        self.take(n)?;
                        self.state = State::Literal {
                            bytes_left: n * u32::from(self.unit),
                        };
                    }
                    0xFF => self.state = State::LongCount { have: 0, lo: 0 },
                    _ => {
                        let n = u32::from(b - 0x7F);
                        self.take(n)?;
                        self.state = State::RunPixel {
                            count: n,
                            have: 0,
                            first: 0,
                        };
                    }
                }
                Ok((1, None))
            }
            State::Literal { bytes_left } => {
                let n = input.len().min(bytes_left as usize);
                let left = bytes_left - n as u32;
                self.state = if left == 0 {
                    State::Control
                } else {
                    State::Literal { bytes_left: left }
                };
                Ok((n, Some(PixelRun::Bytes(&input[..n]))))
            }
            State::LongCount { have: 0, .. } => {
                self.state = State::LongCount { have: 1, lo: b };
                Ok((1, None))
            }
            State::LongCount { lo, .. } => {
                let n = u32::from(u16::from_le_bytes([lo, b]));
                self.take(n)?;
                self.state = State::RunPixel {
                    count: n,
                    have: 0,
                    first: 0,
                };
                Ok((1, None))
            }
            State::RunPixel { count, have: 0, .. } if self.unit == 1 => {
                self.state = State::Control;
                Ok((
                    1,
                    Some(PixelRun::Fill {
                        pixel: [b, b],
                        count,
                    }),
                ))
            }
            State::RunPixel { count, have: 0, .. } => {
                self.state = State::RunPixel {
                    count,
                    have: 1,
                    first: b,
                };
                Ok((1, None))
            }
            State::RunPixel { count, first, .. } => {
                self.state = State::Control;
                Ok((
                    1,
                    Some(PixelRun::Fill {
                        pixel: [first, b],
                        count,
                    }),
                ))
            }
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pixels_left == 0 && matches!(self.state, State::Control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, decode_to_vec, raw};
    use crate::pixel::PixelOrder;
    use alloc::vec;
    use alloc::vec::Vec;

    fn enc(data: &[u16]) -> Vec<u8> {
        let mut out = vec![0u8; data.len() * 3 + 16];
        let n = encode(
            Pixels::packed(data, data.len(), 1),
            PixelOrder::BigEndian,
            &mut out,
        )
        .unwrap();
        out.truncate(n);
        out
    }

    fn raw_bytes(data: &[u16]) -> Vec<u8> {
        let mut out = vec![0u8; data.len() * 2];
        raw::encode(
            Pixels::packed(data, data.len(), 1),
            PixelOrder::BigEndian,
            &mut out,
        )
        .unwrap();
        out
    }

    #[test]
    fn token_bytes() {
        // one run of 5 red pixels: 0x7F+5 = 0x84, then F8 00
        assert_eq!(enc(&[0xF800; 5]), [0x84, 0xF8, 0x00]);
        // a literal of 3 distinct pixels: count-1 = 2
        assert_eq!(enc(&[1, 2, 3]), [0x02, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03]);
        // a long run of 300 pixels: FF 2C 01 (300 LE) then the pixel
        assert_eq!(enc(&[0x07E0; 300]), [0xFF, 0x2C, 0x01, 0x07, 0xE0]);
        // 127 is the longest short run: 0xFE
        assert_eq!(enc(&[7; 127]), [0xFE, 0x00, 0x07]);
        // two equal pixels after a literal stay in the literal
        assert_eq!(enc(&[1, 2, 2]), [0x02, 0x00, 0x01, 0x00, 0x02, 0x00, 0x02]);
    }

    #[test]
    fn token_count_matches_the_decoder() {
        assert_eq!(token_count(&enc(&[0xF800; 5])), 1);
        assert_eq!(token_count(&enc(&[0x07E0; 300])), 1);
        assert_eq!(token_count(&enc(&[1, 2, 2, 9, 9, 9, 9])), 2);
        assert_eq!(token_count(&[]), 0);
        let data: Vec<u16> = (0..5000u32)
            .map(|i| ((i / 7) % 5 + u32::from(i % 50 < 9) * (i % 4)) as u16)
            .collect();
        let payload = enc(&data);
        let runs = crate::codec::runs_emitted(Codec::Rle, data.len() as u32, &payload);
        assert!(runs > 100);
        assert_eq!(token_count(&payload), runs);
    }

    #[test]
    fn round_trips() {
        let mut data = Vec::new();
        for i in 0..5000u32 {
            // mixes long runs, short runs and noise
            let v = if i % 700 < 400 {
                0x1234
            } else if i % 7 < 3 {
                i.wrapping_mul(2654435761) as u16
            } else {
                9
            };
            data.push(v);
        }
        let bytes = enc(&data);
        assert_eq!(
            decode_to_vec(Codec::Rle, data.len() as u32, &bytes).unwrap(),
            raw_bytes(&data)
        );
        // a literal longer than 128 splits
        let noise: Vec<u16> = (0..300u32).map(|i| i as u16).collect();
        let bytes = enc(&noise);
        assert_eq!(
            decode_to_vec(Codec::Rle, 300, &bytes).unwrap(),
            raw_bytes(&noise)
        );
        // a run longer than 65535
        let long = vec![5u16; 70_000];
        let bytes = enc(&long);
        assert_eq!(bytes.len(), 10);
        assert_eq!(
            decode_to_vec(Codec::Rle, 70_000, &bytes).unwrap(),
            raw_bytes(&long)
        );
    }

    #[test]
    fn runs_cross_rows() {
        let data = [3u16; 12];
        let mut out = [0u8; 16];
        let n = encode(Pixels::packed(&data, 4, 3), PixelOrder::BigEndian, &mut out).unwrap();
        assert_eq!(&out[..n], [0x8B, 0x00, 0x03]);
    }

    #[test]
    fn overshoot_and_zero_runs_are_errors() {
        assert_eq!(
            decode_to_vec(Codec::Rle, 4, &[0x84, 0, 0]),
            Err(ProtoError::PixelCountMismatch)
        );
        assert_eq!(
            decode_to_vec(Codec::Rle, 4, &[0xFF, 0, 0, 1, 1]),
            Err(ProtoError::PixelCountMismatch)
        );
        // stops inside a literal
        assert_eq!(
            decode_to_vec(Codec::Rle, 2, &[0x01, 0, 1, 0]),
            Err(ProtoError::PixelCountMismatch)
        );
    }

    #[test]
    fn does_not_fit_is_reported() {
        let data = [1u16, 2, 3, 4];
        let mut out = [0u8; 8];
        assert_eq!(
            encode(Pixels::packed(&data, 4, 1), PixelOrder::BigEndian, &mut out),
            Err(EncodeFail::DoesNotFit)
        );
    }
}
