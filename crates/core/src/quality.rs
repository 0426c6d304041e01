//! Quality levels: how much colour precision an update may drop to fit a byte budget.
//!
//! Level 0 is exact RGB565. Level *n* keeps `5-n / 6-n / 5-n` bits of red, green and blue and sets
//! the dropped bits to the middle of their range, which lengthens runs for the RLE codecs on
//! gradients and camera content. Static regions are painted over at level 0 (see
//! [`crate::damage`]), so a lowered level only costs precision where things move.

/// A quality level, 0 (exact) ..= [`QualityLevel::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct QualityLevel(u8);

impl QualityLevel {
    /// Exact RGB565.
    pub const EXACT: Self = Self(0);
    /// The coarsest level: 2/3/2 bits.
    pub const MAX: Self = Self(3);

    /// Level `n`, clamped to `0..=3`.
    pub const fn new(n: u8) -> Self {
        Self(if n > 3 { 3 } else { n })
    }

    /// The numeric level.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Bits kept in each RGB565 value.
    pub const fn mask(self) -> u16 {
        match self.0 {
            0 => 0xFFFF,
            1 => 0xF7DE,
            2 => 0xE79C,
            _ => 0xC718,
        }
    }

    /// The value given to the dropped bits: the top dropped bit of each channel.
    pub const fn fill(self) -> u16 {
        let low = !self.mask();
        low & !(low >> 1)
    }

    /// `px` at this level.
    #[inline]
    pub const fn apply(self, px: u16) -> u16 {
        if self.0 == 0 {
            px
        } else {
            (px & self.mask()) | self.fill()
        }
    }

    /// One level coarser, if any.
    pub fn coarser(self) -> Option<Self> {
        (self.0 < Self::MAX.0).then(|| Self(self.0 + 1))
    }

    /// One level finer, if any.
    pub fn finer(self) -> Option<Self> {
        self.0.checked_sub(1).map(Self)
    }

    /// The DCT quality that stands in for this level on a device that decodes DCT: on moving
    /// content it is at least as faithful as the level's colour quantisation (BENCHMARKS.md,
    /// "Motion codec", which measured both on the built-in screens and a camera scene). Exact
    /// quality never uses DCT.
    pub const fn dct_quality(self) -> u8 {
        match self.0 {
            0 | 1 => 90,
            2 => 75,
            _ => 50,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unusual_byte_groupings)] // grouped as the 5/6/5 bits of RGB565
    fn masks_and_fills() {
        assert_eq!(QualityLevel::EXACT.apply(0x1234), 0x1234);
        // level 2: drop 2 bits per channel, set the top dropped bit of each
        assert_eq!(QualityLevel::new(2).fill(), 0b00010_000010_00010);
        assert_eq!(QualityLevel::new(2).apply(0), 0b00010_000010_00010);
        assert_eq!(QualityLevel::new(1).fill(), 0b00001_000001_00001);
        assert_eq!(QualityLevel::new(3).fill(), 0b00100_000100_00100);
        // idempotent
        for l in 0..=3 {
            let q = QualityLevel::new(l);
            for p in [0u16, 0xFFFF, 0x8410, 0x1234] {
                assert_eq!(q.apply(q.apply(p)), q.apply(p));
            }
        }
    }
}
