//! RAW (0x00): the rectangle's codec units, no compression: `w*h` RGB565 pixels of two bytes each
//! in the device's pixel order, or the grey rows packed as [`crate::PixelFormat`] says (one byte
//! per 1, 2 or 8 pixels, each row starting on a byte). The fallback every device must decode.

use super::{EncodeFail, PixelRun, Pixels, for_each_unit_slice};
use crate::format::PixelFormat;

/// Writes `px` uncompressed; fails with `DoesNotFit` if `out` is shorter than
/// [`encoded_len`].
pub fn encode(
    px: Pixels<'_>,
    format: impl Into<PixelFormat>,
    out: &mut [u8],
) -> Result<usize, EncodeFail> {
    let format = format.into();
    let len = encoded_len(px, format);
    let out = out.get_mut(..len).ok_or(EncodeFail::DoesNotFit)?;
    if let PixelFormat::Rgb565(order) = format {
        let mut chunks = out.chunks_exact_mut(2);
        for r in 0..px.height {
            for (&p, dst) in px.row(r).iter().zip(&mut chunks) {
                dst.copy_from_slice(&order.to_bytes(p));
            }
        }
        return Ok(len);
    }
    let mut pos = 0;
    for r in 0..px.height {
        let _ = for_each_unit_slice::<()>(&px, r, format, |units| {
            for (d, &u) in out.get_mut(pos..).unwrap_or(&mut []).iter_mut().zip(units) {
                *d = u as u8;
            }
            pos += units.len();
            Ok(())
        });
    }
    Ok(len)
}

/// Exact payload size of RAW for `px` in `format`.
pub fn encoded_len(px: Pixels<'_>, format: PixelFormat) -> usize {
    format.row_bytes(px.width) * px.height
}

#[derive(Debug, Clone)]
pub(crate) struct Decoder {
    bytes_left: u32,
}

impl Decoder {
    /// A decoder for `units` codec units of `unit_bytes` bytes each.
    pub(crate) fn new(units: u32, unit_bytes: u8) -> Self {
        Self {
            bytes_left: units.saturating_mul(u32::from(unit_bytes)),
        }
    }

    pub(crate) fn step<'a>(&mut self, input: &'a [u8]) -> (usize, Option<PixelRun<'a>>) {
        let n = input.len().min(self.bytes_left as usize);
        if n == 0 {
            return (0, None);
        }
        self.bytes_left -= n as u32;
        (n, Some(PixelRun::Bytes(&input[..n])))
    }

    pub(crate) fn is_done(&self) -> bool {
        self.bytes_left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, decode_to_vec};
    use crate::pixel::PixelOrder;

    #[test]
    fn raw_bytes_follow_pixel_order() {
        let data = [0xF800u16, 0x07E0, 0x001F, 0x1234];
        let mut out = [0u8; 8];
        let n = encode(Pixels::packed(&data, 2, 2), PixelOrder::BigEndian, &mut out).unwrap();
        assert_eq!(n, 8);
        assert_eq!(out, [0xF8, 0x00, 0x07, 0xE0, 0x00, 0x1F, 0x12, 0x34]);
        let n = encode(
            Pixels::packed(&data, 2, 2),
            PixelOrder::LittleEndian,
            &mut out,
        )
        .unwrap();
        assert_eq!(n, 8);
        assert_eq!(out, [0x00, 0xF8, 0xE0, 0x07, 0x1F, 0x00, 0x34, 0x12]);
        assert_eq!(decode_to_vec(Codec::Raw, 4, &out).unwrap(), out.to_vec());
    }

    #[test]
    fn raw_strided_rows_and_short_buffer() {
        // 2x2 block out of a 3-wide image
        let data = [1u16, 2, 9, 3, 4, 9];
        let px = Pixels {
            data: &data,
            stride: 3,
            width: 2,
            height: 2,
        };
        let mut out = [0u8; 8];
        encode(px, PixelOrder::BigEndian, &mut out).unwrap();
        assert_eq!(out, [0, 1, 0, 2, 0, 3, 0, 4]);
        assert_eq!(
            encode(px, PixelOrder::BigEndian, &mut [0u8; 7]),
            Err(EncodeFail::DoesNotFit)
        );
    }

    #[test]
    fn raw_payload_too_short_is_detected() {
        assert!(decode_to_vec(Codec::Raw, 4, &[0u8; 6]).is_err());
    }
}
