//! RLE (0x01): run-length tokens over RGB565 pixels, the rectangle taken as one row-major sequence
//! (runs may cross row ends).
//!
//! ```text
//! control byte c, then:
//!   0x00..=0x7F  literal: n = c + 1 pixels (1..=128) follow, 2n bytes
//!   0x80..=0xFE  run:     n = c - 0x7F pixels (1..=127) of the one pixel that follows (2 bytes)
//!   0xFF         long run: n = u16 LE (1..=65535), then the pixel (2 bytes)
//! ```
//! The tokens must produce exactly `w*h` pixels; a token that would overshoot is an error.
//! Decoding costs one branch per token and a copy or fill per pixel, which suits a 160 MHz MCU.

use super::{EncodeFail, PixelRun, Pixels};
use crate::ProtoError;
use crate::pixel::PixelOrder;

const MAX_LITERAL: usize = 128;
const MAX_SHORT_RUN: usize = 127;
const MAX_LONG_RUN: usize = u16::MAX as usize;

struct Out<'o> {
    buf: &'o mut [u8],
    pos: usize,
    order: PixelOrder,
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
            let need = 1 + chunk.len() * 2;
            let end = self.pos + need;
            let dst = self
                .buf
                .get_mut(self.pos..end)
                .ok_or(EncodeFail::DoesNotFit)?;
            dst[0] = (chunk.len() - 1) as u8;
            for (p, d) in chunk.iter().zip(dst[1..].chunks_exact_mut(2)) {
                d.copy_from_slice(&self.order.to_bytes(*p));
            }
            self.pos = end;
        }
        Ok(())
    }

    fn run(&mut self, px: u16, mut n: usize) -> Result<(), EncodeFail> {
        let b = self.order.to_bytes(px);
        while n > 0 {
            if n <= MAX_SHORT_RUN {
                self.put(&[0x7F + n as u8, b[0], b[1]])?;
                n = 0;
            } else {
                let k = n.min(MAX_LONG_RUN);
                let c = (k as u16).to_le_bytes();
                self.put(&[0xFF, c[0], c[1], b[0], b[1]])?;
                n -= k;
            }
        }
        Ok(())
    }
}

/// Encodes `px` as RLE into `out`.
///
/// Greedy: a run of 3+ equal pixels (2+ when no literal is pending) becomes a run token; the rest
/// collects into literals of up to 128 pixels.
pub fn encode(px: Pixels<'_>, order: PixelOrder, out: &mut [u8]) -> Result<usize, EncodeFail> {
    let mut o = Out {
        buf: out,
        pos: 0,
        order,
    };
    let mut lit = [0u16; MAX_LITERAL];
    let mut lit_len = 0usize;
    let mut run_px = 0u16;
    let mut run_len = 0usize;

    // Ends the current run: either as a run token or by moving it into the literal buffer.
    let end_run =
        |o: &mut Out<'_>, lit: &mut [u16; MAX_LITERAL], lit_len: &mut usize, px: u16, n: usize| {
            if n >= 3 || (n == 2 && *lit_len == 0) {
                o.literal(&lit[..*lit_len])?;
                *lit_len = 0;
                o.run(px, n)
            } else {
                for _ in 0..n {
                    if *lit_len == MAX_LITERAL {
                        o.literal(&lit[..])?;
                        *lit_len = 0;
                    }
                    lit[*lit_len] = px;
                    *lit_len += 1;
                }
                Ok(())
            }
        };

    for r in 0..px.height {
        for &p in px.row(r) {
            if run_len > 0 && p == run_px {
                run_len += 1;
            } else {
                if run_len > 0 {
                    end_run(&mut o, &mut lit, &mut lit_len, run_px, run_len)?;
                }
                run_px = p;
                run_len = 1;
            }
        }
    }
    if run_len > 0 {
        end_run(&mut o, &mut lit, &mut lit_len, run_px, run_len)?;
    }
    o.literal(&lit[..lit_len])?;
    Ok(o.pos)
}

/// Number of tokens in an RLE payload (what a decoder's per-token work scales with); a token cut
/// short by the end of `payload` counts. Walks the control bytes only, without checking pixel
/// counts: meant for payloads this crate encoded.
pub fn token_count(payload: &[u8]) -> usize {
    let mut pos = 0;
    let mut tokens = 0;
    while let Some(&c) = payload.get(pos) {
        tokens += 1;
        pos += match c {
            0x00..=0x7F => 1 + 2 * (usize::from(c) + 1),
            0xFF => 1 + 2 + 2,
            _ => 1 + 2,
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
    state: State,
}

impl Decoder {
    pub(crate) fn new(pixels: u32) -> Self {
        Self {
            pixels_left: pixels,
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
                        let k = rest.len().min(n as usize * 2);
                        let left = n * 2 - k as u32;
                        if left > 0 {
                            self.state = State::Literal { bytes_left: left };
                        }
                        return Ok((1 + k, Some(PixelRun::Bytes(&rest[..k]))));
                    }
                    (0x80..=0xFE, [_, p0, p1, ..]) => {
                        let count = u32::from(b - 0x7F);
                        self.take(count)?;
                        let pixel = [*p0, *p1];
                        return Ok((3, Some(PixelRun::Fill { pixel, count })));
                    }
                    (0xFF, [_, lo, hi, p0, p1, ..]) => {
                        let count = u32::from(u16::from_le_bytes([*lo, *hi]));
                        self.take(count)?;
                        let pixel = [*p0, *p1];
                        return Ok((5, Some(PixelRun::Fill { pixel, count })));
                    }
                    _ => {}
                }
                match b {
                    0x00..=0x7F => {
                        let n = u32::from(b) + 1;
                        self.take(n)?;
                        self.state = State::Literal { bytes_left: n * 2 };
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
