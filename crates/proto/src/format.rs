//! The pixel formats a device can declare in HELLO (`docs/protocol.md`, "Pixel formats"): RGB565
//! in either byte order (what every device before grey support sends, and what those bytes still
//! mean), 8-bit and 4-bit grey, and 1-bit monochrome (SSD1306-class OLEDs, e-paper).
//!
//! In memory (the server's images, [`crate::Pixels`]) a pixel is a `u16` value: RGB565, or the grey
//! level `0..=max_value()` (0 black, max white). On the wire a rectangle's rows are packed into
//! *codec units*: one RGB565 pixel (2 bytes), or one byte holding 1, 2 or 8 grey pixels, the
//! leftmost in the most significant bits, each row starting on a byte boundary (padding bits are
//! zero). Every codec works on these units, so every codec decodes to exactly the RAW bytes, and a
//! device with a packed framebuffer copies them in without unpacking. A RECT's `x` must be a
//! multiple of the pixels per byte ([`PixelFormat::x_align`]) so that its bytes line up with the
//! framebuffer's.

use crate::pixel::PixelOrder;

/// How a device's pixels travel on the wire; the HELLO `pixel_format` byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// RGB565 in the given byte order. Wire values `0x00` (big-endian) and `0x01` (little-endian),
    /// the values of the field's first meaning, `pixel_order`.
    Rgb565(PixelOrder),
    /// 8-bit grey, one pixel per byte. Wire value `0x02`.
    Gray8,
    /// 4-bit grey, two pixels per byte, the left one in the high nibble. Wire value `0x03`.
    Gray4,
    /// 1-bit monochrome (1 = white / lit), eight pixels per byte, the leftmost in bit 7. Wire
    /// value `0x04`.
    Mono1,
}

impl Default for PixelFormat {
    fn default() -> Self {
        Self::Rgb565(PixelOrder::BigEndian)
    }
}

impl From<PixelOrder> for PixelFormat {
    fn from(order: PixelOrder) -> Self {
        Self::Rgb565(order)
    }
}

impl PixelFormat {
    /// Every format, in wire order.
    pub const ALL: [PixelFormat; 5] = [
        Self::Rgb565(PixelOrder::BigEndian),
        Self::Rgb565(PixelOrder::LittleEndian),
        Self::Gray8,
        Self::Gray4,
        Self::Mono1,
    ];

    /// Parses the HELLO byte.
    pub const fn from_wire(v: u8) -> Option<Self> {
        match v {
            0x00 => Some(Self::Rgb565(PixelOrder::BigEndian)),
            0x01 => Some(Self::Rgb565(PixelOrder::LittleEndian)),
            0x02 => Some(Self::Gray8),
            0x03 => Some(Self::Gray4),
            0x04 => Some(Self::Mono1),
            _ => None,
        }
    }

    /// The HELLO byte.
    pub const fn to_wire(self) -> u8 {
        match self {
            Self::Rgb565(o) => o as u8,
            Self::Gray8 => 0x02,
            Self::Gray4 => 0x03,
            Self::Mono1 => 0x04,
        }
    }

    /// Short lowercase name (CLI, logs, API).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rgb565(PixelOrder::BigEndian) => "rgb565",
            Self::Rgb565(PixelOrder::LittleEndian) => "rgb565le",
            Self::Gray8 => "gray8",
            Self::Gray4 => "gray4",
            Self::Mono1 => "mono1",
        }
    }

    /// Parses [`PixelFormat::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    /// True for the RGB565 formats.
    pub const fn is_rgb565(self) -> bool {
        matches!(self, Self::Rgb565(_))
    }

    /// The RGB565 byte order (big-endian for the grey formats, where it means nothing).
    pub const fn order(self) -> PixelOrder {
        match self {
            Self::Rgb565(o) => o,
            _ => PixelOrder::BigEndian,
        }
    }

    /// Bits per pixel: 16, 8, 4 or 1.
    pub const fn bits_per_pixel(self) -> u32 {
        match self {
            Self::Rgb565(_) => 16,
            Self::Gray8 => 8,
            Self::Gray4 => 4,
            Self::Mono1 => 1,
        }
    }

    /// Pixels in one codec unit: 1, 1, 2 or 8. A RECT's `x` must be a multiple of it.
    pub const fn x_align(self) -> u16 {
        match self {
            Self::Rgb565(_) | Self::Gray8 => 1,
            Self::Gray4 => 2,
            Self::Mono1 => 8,
        }
    }

    /// Bytes of one codec unit: 2 for RGB565, 1 for the grey formats.
    pub const fn unit_bytes(self) -> usize {
        match self {
            Self::Rgb565(_) => 2,
            _ => 1,
        }
    }

    /// Largest pixel value: `0xFFFF` for RGB565, else the white grey level (255, 15 or 1).
    pub const fn max_value(self) -> u16 {
        match self {
            Self::Rgb565(_) => 0xFFFF,
            Self::Gray8 => 0xFF,
            Self::Gray4 => 0x0F,
            Self::Mono1 => 0x01,
        }
    }

    /// Codec units in a row of `w` pixels.
    pub const fn row_units(self, w: usize) -> usize {
        w.div_ceil(self.x_align() as usize)
    }

    /// Bytes of a row of `w` pixels on the wire (and in a packed framebuffer).
    pub const fn row_bytes(self, w: usize) -> usize {
        self.row_units(w) * self.unit_bytes()
    }

    /// Codec units in a `w × h` rectangle (saturating: the sizes come from the network).
    pub fn rect_units(self, w: u16, h: u16) -> u32 {
        (self.row_units(usize::from(w)) as u32).saturating_mul(u32::from(h))
    }

    /// Bytes of a whole `width × height` framebuffer in this format.
    pub const fn frame_bytes(self, width: usize, height: usize) -> usize {
        self.row_bytes(width) * height
    }

    /// The wire bytes of one unit value: two in the device's order for RGB565, else one (the
    /// second byte repeats it and is not sent).
    #[inline]
    pub fn unit_to_bytes(self, unit: u16) -> [u8; 2] {
        match self {
            Self::Rgb565(o) => o.to_bytes(unit),
            _ => [unit as u8, unit as u8],
        }
    }

    /// The codec unit `i` of a row of pixel values: the pixel itself for RGB565 and 8-bit grey,
    /// else the pixels `i*k .. i*k+k` packed leftmost-first into one byte (values masked to the
    /// format's depth; pixels past the row's end are zero padding).
    #[inline]
    pub fn pack_unit(self, row: &[u16], i: usize) -> u16 {
        match self {
            Self::Rgb565(_) => row.get(i).copied().unwrap_or(0),
            Self::Gray8 => row.get(i).map_or(0, |p| p & 0xFF),
            Self::Gray4 => {
                let hi = row.get(2 * i).map_or(0, |p| p & 0x0F);
                let lo = row.get(2 * i + 1).map_or(0, |p| p & 0x0F);
                (hi << 4) | lo
            }
            Self::Mono1 => {
                let px = row.get(8 * i..).unwrap_or(&[]);
                px.iter()
                    .take(8)
                    .enumerate()
                    .fold(0, |b, (k, p)| b | ((p & 1) << (7 - k)))
            }
        }
    }

    /// The grey level of pixel `x` of a packed row (`row_bytes(width)` bytes), or 0 past its end.
    /// Meaningless for RGB565 (use [`PixelOrder::from_bytes`]).
    #[inline]
    pub fn unpack(self, row: &[u8], x: usize) -> u16 {
        match self {
            Self::Rgb565(_) => 0,
            Self::Gray8 => row.get(x).map_or(0, |&b| u16::from(b)),
            Self::Gray4 => row.get(x / 2).map_or(0, |&b| {
                u16::from(if x.is_multiple_of(2) {
                    b >> 4
                } else {
                    b & 0x0F
                })
            }),
            Self::Mono1 => row
                .get(x / 8)
                .map_or(0, |&b| u16::from((b >> (7 - x % 8)) & 1)),
        }
    }

    /// A grey level expanded to 8 bits (0 and max stay black and white); RGB565 values unchanged.
    #[inline]
    pub const fn gray_to_8bit(self, v: u16) -> u8 {
        match self {
            Self::Rgb565(_) | Self::Gray8 => v as u8,
            Self::Gray4 => (v as u8 & 0x0F) * 17,
            Self::Mono1 => {
                if v & 1 == 1 {
                    255
                } else {
                    0
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_keep_the_old_pixel_order_meaning() {
        assert_eq!(
            PixelFormat::from_wire(0x00),
            Some(PixelFormat::Rgb565(PixelOrder::BigEndian))
        );
        assert_eq!(
            PixelFormat::from_wire(0x01),
            Some(PixelFormat::Rgb565(PixelOrder::LittleEndian))
        );
        for f in PixelFormat::ALL {
            assert_eq!(PixelFormat::from_wire(f.to_wire()), Some(f));
            assert_eq!(PixelFormat::from_name(f.name()), Some(f));
        }
        assert_eq!(PixelFormat::from_wire(0x05), None);
    }

    #[test]
    fn packing_is_leftmost_in_the_high_bits_rows_padded() {
        let row = [1u16, 0, 1, 1, 0, 0, 0, 1, 1, 1];
        assert_eq!(PixelFormat::Mono1.row_units(10), 2);
        assert_eq!(PixelFormat::Mono1.pack_unit(&row, 0), 0b1011_0001);
        assert_eq!(PixelFormat::Mono1.pack_unit(&row, 1), 0b1100_0000);
        let g = [0xA, 0x5, 0xF];
        assert_eq!(PixelFormat::Gray4.pack_unit(&g, 0), 0xA5);
        assert_eq!(PixelFormat::Gray4.pack_unit(&g, 1), 0xF0);
        assert_eq!(PixelFormat::Gray4.row_bytes(3), 2);
        assert_eq!(PixelFormat::Gray8.pack_unit(&[0x1FF], 0), 0xFF);
        for (x, &p) in row.iter().enumerate() {
            assert_eq!(PixelFormat::Mono1.unpack(&[0b1011_0001, 0b1100_0000], x), p);
        }
        assert_eq!(PixelFormat::Gray4.unpack(&[0xA5, 0xF0], 2), 0xF);
        assert_eq!(PixelFormat::Gray4.gray_to_8bit(15), 255);
        assert_eq!(PixelFormat::Mono1.gray_to_8bit(1), 255);
        assert_eq!(PixelFormat::Rgb565(PixelOrder::BigEndian).row_bytes(3), 6);
    }
}
