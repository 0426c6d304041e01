//! RGB565 pixels and the byte order they travel in.
//!
//! SPI TFT controllers (ILI9341, ST7789, ST7735) take RGB565 high byte first, so a device that DMAs
//! received bytes straight to the panel declares [`PixelOrder::BigEndian`]; a device with a little-endian
//! framebuffer declares [`PixelOrder::LittleEndian`]. The server encodes pixels in the declared order,
//! so the device never swaps bytes.

/// Byte order of RGB565 pixels on the wire, declared by the device in its HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum PixelOrder {
    /// High byte first: what SPI panels take. Wire value `0x00`.
    #[default]
    BigEndian = 0x00,
    /// Low byte first. Wire value `0x01`.
    LittleEndian = 0x01,
}

impl PixelOrder {
    /// Parses the wire value.
    pub fn from_wire(v: u8) -> Option<Self> {
        match v {
            0x00 => Some(Self::BigEndian),
            0x01 => Some(Self::LittleEndian),
            _ => None,
        }
    }

    /// The two bytes of `px` in this order.
    #[inline]
    pub fn to_bytes(self, px: u16) -> [u8; 2] {
        match self {
            Self::BigEndian => px.to_be_bytes(),
            Self::LittleEndian => px.to_le_bytes(),
        }
    }

    /// The pixel value of two bytes in this order.
    #[inline]
    pub fn from_bytes(self, b: [u8; 2]) -> u16 {
        match self {
            Self::BigEndian => u16::from_be_bytes(b),
            Self::LittleEndian => u16::from_le_bytes(b),
        }
    }
}

/// Packs 8-bit RGB into RGB565 by truncation (the seed-000 formula:
/// `((r & 0xF8) << 8) | ((g & 0xFC) << 3) | (b >> 3)`).
#[inline]
pub const fn rgb565(r: u8, g: u8, b: u8) -> u16 {
    ((r as u16 & 0xF8) << 8) | ((g as u16 & 0xFC) << 3) | (b as u16 >> 3)
}

/// Expands RGB565 to 8-bit RGB, replicating the high bits into the low ones so that white stays
/// 255 and black stays 0.
#[inline]
pub const fn rgb565_to_rgb888(px: u16) -> [u8; 3] {
    let r5 = ((px >> 11) & 0x1F) as u8;
    let g6 = ((px >> 5) & 0x3F) as u8;
    let b5 = (px & 0x1F) as u8;
    [
        (r5 << 3) | (r5 >> 2),
        (g6 << 2) | (g6 >> 4),
        (b5 << 3) | (b5 >> 2),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_000_vectors_big_endian() {
        // seed-protocols.md §A.2 vectors
        assert_eq!(
            PixelOrder::BigEndian.to_bytes(rgb565(255, 0, 0)),
            [0xF8, 0x00]
        );
        assert_eq!(
            PixelOrder::BigEndian.to_bytes(rgb565(0, 255, 0)),
            [0x07, 0xE0]
        );
        assert_eq!(
            PixelOrder::BigEndian.to_bytes(rgb565(0, 0, 255)),
            [0x00, 0x1F]
        );
        assert_eq!(
            PixelOrder::BigEndian.to_bytes(rgb565(128, 128, 128)),
            [0x84, 0x10]
        );
        assert_eq!(
            PixelOrder::BigEndian.to_bytes(rgb565(10, 200, 30)),
            [0x0E, 0x43]
        );
    }

    #[test]
    fn little_endian_swaps() {
        assert_eq!(PixelOrder::LittleEndian.to_bytes(0xF800), [0x00, 0xF8]);
        assert_eq!(PixelOrder::LittleEndian.from_bytes([0x00, 0xF8]), 0xF800);
    }

    #[test]
    fn expansion_keeps_extremes() {
        assert_eq!(rgb565_to_rgb888(0xFFFF), [255, 255, 255]);
        assert_eq!(rgb565_to_rgb888(0), [0, 0, 0]);
        assert_eq!(rgb565_to_rgb888(rgb565(255, 0, 0)), [255, 0, 0]);
    }
}
