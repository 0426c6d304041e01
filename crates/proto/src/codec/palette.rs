//! PALETTE_RLE (0x02): for rectangles of at most 16 distinct codec units (RGB565 colours, or
//! bytes of packed grey rows, see [`crate::PixelFormat`]): text, UI, graphs; one byte per run of
//! up to 15 units.
//!
//! ```text
//! n        u8, number of palette entries, 1..=16
//! palette  n units, each 2 bytes in the device's pixel order (RGB565) or 1 byte (grey)
//! tokens   byte t: index = t & 0x0F (must be < n), r = t >> 4
//!            r in 0..=14: a run of r + 1 units
//!            r == 15:     a run of 16 + e units (16..=271), e = the next byte
//! ```
//! The tokens must produce exactly the rectangle's units (rows are one sequence).

use super::{EncodeFail, PixelRun, Pixels, for_each_unit_slice};
use crate::ProtoError;
use crate::format::PixelFormat;

/// Most palette entries.
pub const MAX_COLORS: usize = 16;
const MAX_RUN: usize = 16 + 255;

/// The distinct units of a run of pixels, up to 16.
struct PaletteBuilder {
    colors: [u16; MAX_COLORS],
    n: usize,
}

impl PaletteBuilder {
    fn new() -> Self {
        Self {
            colors: [0; MAX_COLORS],
            n: 0,
        }
    }

    /// Adds the units of row `r` of `px`; false (and the builder unusable) once there are more
    /// than 16.
    fn add_row(&mut self, px: &Pixels<'_>, r: usize, format: PixelFormat) -> bool {
        let mut last = None;
        for_each_unit_slice(px, r, format, |units| {
            for &p in units {
                if last == Some(p) {
                    continue;
                }
                last = Some(p);
                if !self.colors[..self.n].contains(&p) {
                    if self.n == MAX_COLORS {
                        return Err(());
                    }
                    self.colors[self.n] = p;
                    self.n += 1;
                }
            }
            Ok(())
        })
        .is_ok()
    }
}

/// Finds the palette of `px`, or `None` if it has more than 16 units.
fn palette_of(px: &Pixels<'_>, format: PixelFormat) -> Option<([u16; MAX_COLORS], usize)> {
    let mut b = PaletteBuilder::new();
    (0..px.height)
        .all(|r| b.add_row(px, r, format))
        .then_some((b.colors, b.n))
}

/// How many of the first `max_rows` rows of `px` together use at most 16 units in `format`.
pub fn rows_within_palette(
    px: Pixels<'_>,
    max_rows: usize,
    format: impl Into<PixelFormat>,
) -> usize {
    let format = format.into();
    let mut b = PaletteBuilder::new();
    (0..max_rows.min(px.height))
        .find(|&r| !b.add_row(&px, r, format))
        .unwrap_or(max_rows.min(px.height))
}

/// Encodes `px` as PALETTE_RLE into `out`; `NotApplicable` if it has more than 16 units.
pub fn encode(
    px: Pixels<'_>,
    format: impl Into<PixelFormat>,
    out: &mut [u8],
) -> Result<usize, EncodeFail> {
    let format = format.into();
    let unit = format.unit_bytes();
    let (pal, n) = palette_of(&px, format).ok_or(EncodeFail::NotApplicable)?;
    if n == 0 {
        return Err(EncodeFail::NotApplicable);
    }
    let head = 1 + unit * n;
    let dst = out.get_mut(..head).ok_or(EncodeFail::DoesNotFit)?;
    dst[0] = n as u8;
    for (p, d) in pal[..n].iter().zip(dst[1..].chunks_exact_mut(unit)) {
        d.copy_from_slice(&format.unit_to_bytes(*p)[..unit]);
    }
    let mut pos = head;
    let mut emit = |idx: usize, mut count: usize, pos: &mut usize| -> Result<(), EncodeFail> {
        while count > 0 {
            let k = count.min(MAX_RUN);
            if k <= 15 {
                *out.get_mut(*pos).ok_or(EncodeFail::DoesNotFit)? =
                    ((k as u8 - 1) << 4) | idx as u8;
                *pos += 1;
            } else {
                let d = out.get_mut(*pos..*pos + 2).ok_or(EncodeFail::DoesNotFit)?;
                d[0] = 0xF0 | idx as u8;
                d[1] = (k - 16) as u8;
                *pos += 2;
            }
            count -= k;
        }
        Ok(())
    };
    let mut cur: Option<(u16, usize)> = None;
    let mut cur_idx = 0usize;
    for r in 0..px.height {
        for_each_unit_slice(&px, r, format, |units| {
            for &p in units {
                match cur {
                    Some((c, ref mut len)) if c == p => *len += 1,
                    _ => {
                        if let Some((_, len)) = cur {
                            emit(cur_idx, len, &mut pos)?;
                        }
                        // present by construction of `pal`
                        cur_idx = pal[..n].iter().position(|&c| c == p).unwrap_or(0);
                        cur = Some((p, 1));
                    }
                }
            }
            Ok(())
        })?;
    }
    if let Some((_, len)) = cur {
        emit(cur_idx, len, &mut pos)?;
    }
    Ok(pos)
}

/// Number of run tokens in a PALETTE_RLE payload of RGB565 pixels (what a decoder's per-token work
/// scales with); see [`token_count_units`].
pub fn token_count(payload: &[u8]) -> usize {
    token_count_units(payload, 2)
}

/// Number of run tokens in a PALETTE_RLE payload whose units are `unit_bytes` long. Walks the
/// token bytes only, without checking indices or pixel counts: meant for payloads this crate
/// encoded.
pub fn token_count_units(payload: &[u8], unit_bytes: usize) -> usize {
    let Some(&n) = payload.first() else {
        return 0;
    };
    let mut pos = 1 + unit_bytes * usize::from(n);
    let mut tokens = 0;
    while let Some(&t) = payload.get(pos) {
        tokens += 1;
        pos += if t >> 4 == 15 { 2 } else { 1 };
    }
    tokens
}

#[derive(Debug, Clone, Copy)]
enum State {
    Count,
    Palette { have: u8 },
    Token,
    LongRun { idx: u8 },
}

#[derive(Debug, Clone)]
pub(crate) struct Decoder {
    pixels_left: u32,
    /// Bytes per unit: 2 (RGB565) or 1 (grey).
    unit: u8,
    n: u8,
    palette: [[u8; 2]; MAX_COLORS],
    state: State,
}

impl Decoder {
    /// A decoder for `units` codec units of `unit_bytes` (1 or 2) bytes each.
    pub(crate) fn new(units: u32, unit_bytes: u8) -> Self {
        Self {
            pixels_left: units,
            unit: unit_bytes.clamp(1, 2),
            n: 0,
            palette: [[0; 2]; MAX_COLORS],
            state: State::Count,
        }
    }

    fn fill(&mut self, idx: u8, count: u32) -> Result<PixelRun<'static>, ProtoError> {
        if count > self.pixels_left {
            return Err(ProtoError::PixelCountMismatch);
        }
        self.pixels_left -= count;
        Ok(PixelRun::Fill {
            pixel: self.palette[idx as usize],
            count,
        })
    }

    pub(crate) fn step<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<PixelRun<'a>>), ProtoError> {
        let Some(&b) = input.first() else {
            return Ok((0, None));
        };
        match self.state {
            State::Count => {
                if b == 0 || b as usize > MAX_COLORS {
                    return Err(ProtoError::BadField("palette size"));
                }
                self.n = b;
                self.state = State::Palette { have: 0 };
                Ok((1, None))
            }
            State::Palette { have: 0 } if input.len() >= usize::from(self.n * self.unit) => {
                // The whole palette is here: load it in one call.
                let unit = usize::from(self.unit);
                let entries = self.palette.iter_mut().take(usize::from(self.n));
                for (entry, px) in entries.zip(input.chunks_exact(unit)) {
                    *entry = [px[0], px[unit - 1]];
                }
                self.state = State::Token;
                Ok((usize::from(self.n) * unit, None))
            }
            State::Palette { have } => {
                let (i, k) = ((have / self.unit) as usize, (have % self.unit) as usize);
                if self.unit == 1 {
                    self.palette[i] = [b, b];
                } else {
                    self.palette[i][k] = b;
                }
                let have = have + 1;
                self.state = if have == self.n * self.unit {
                    State::Token
                } else {
                    State::Palette { have }
                };
                Ok((1, None))
            }
            State::Token => {
                let idx = b & 0x0F;
                if idx >= self.n {
                    return Err(ProtoError::BadPaletteIndex(idx));
                }
                let r = b >> 4;
                if r == 15 {
                    if let Some(&e) = input.get(1) {
                        // The long run's extra byte is here too: one call.
                        return Ok((2, Some(self.fill(idx, 16 + u32::from(e))?)));
                    }
                    self.state = State::LongRun { idx };
                    Ok((1, None))
                } else {
                    Ok((1, Some(self.fill(idx, u32::from(r) + 1)?)))
                }
            }
            State::LongRun { idx } => {
                self.state = State::Token;
                Ok((1, Some(self.fill(idx, 16 + u32::from(b))?)))
            }
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pixels_left == 0 && matches!(self.state, State::Token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, decode_to_vec, raw};
    use crate::pixel::PixelOrder;
    use alloc::vec;
    use alloc::vec::Vec;

    fn enc(data: &[u16], w: usize) -> Result<Vec<u8>, EncodeFail> {
        let mut out = vec![0u8; data.len() * 2 + 64];
        let n = encode(
            Pixels::packed(data, w, data.len() / w),
            PixelOrder::BigEndian,
            &mut out,
        )?;
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn token_bytes() {
        // 3 black then 20 white: palette [0000, FFFF]; tokens 0x20 (run 3, idx 0), 0xF1 0x04 (run 20, idx 1)
        let mut data = vec![0u16; 3];
        data.extend([0xFFFF; 20]);
        assert_eq!(
            enc(&data, 23).unwrap(),
            [0x02, 0x00, 0x00, 0xFF, 0xFF, 0x20, 0xF1, 0x04]
        );
    }

    #[test]
    fn token_count_matches_the_decoder() {
        let mut data = vec![0u16; 3];
        data.extend([0xFFFF; 20]);
        assert_eq!(token_count(&enc(&data, 23).unwrap()), 2);
        assert_eq!(token_count(&[]), 0);
        let data: Vec<u16> = (0..320 * 16u32)
            .map(|i| [0u16, 0xFFFF, 0xF800][((i / 5 + i / 300) % 3) as usize])
            .collect();
        let payload = enc(&data, 320).unwrap();
        let runs = crate::codec::runs_emitted(Codec::PaletteRle, data.len() as u32, &payload);
        assert!(runs > 100);
        assert_eq!(token_count(&payload), runs);
    }

    #[test]
    fn round_trip_text_like() {
        let data: Vec<u16> = (0..320 * 16)
            .map(|i| {
                if (i * 7 / 3) % 5 == 0 {
                    0xFFFF
                } else {
                    0x0010 + (i % 3) as u16
                }
            })
            .collect();
        let bytes = enc(&data, 320).unwrap();
        let mut raw_out = vec![0u8; data.len() * 2];
        raw::encode(
            Pixels::packed(&data, 320, 16),
            PixelOrder::BigEndian,
            &mut raw_out,
        )
        .unwrap();
        assert_eq!(
            decode_to_vec(Codec::PaletteRle, data.len() as u32, &bytes).unwrap(),
            raw_out
        );
        assert!(bytes.len() < raw_out.len());
    }

    #[test]
    fn too_many_colours() {
        let data: Vec<u16> = (0..17).collect();
        assert_eq!(enc(&data, 17), Err(EncodeFail::NotApplicable));
    }

    #[test]
    fn bad_index_and_size_are_errors() {
        assert_eq!(
            decode_to_vec(Codec::PaletteRle, 1, &[1, 0, 0, 0x01]),
            Err(ProtoError::BadPaletteIndex(1))
        );
        assert_eq!(
            decode_to_vec(Codec::PaletteRle, 1, &[0]),
            Err(ProtoError::BadField("palette size"))
        );
        assert_eq!(
            decode_to_vec(Codec::PaletteRle, 1, &[17]),
            Err(ProtoError::BadField("palette size"))
        );
        assert_eq!(
            decode_to_vec(Codec::PaletteRle, 2, &[1, 0, 0, 0x20]),
            Err(ProtoError::PixelCountMismatch)
        );
    }
}
