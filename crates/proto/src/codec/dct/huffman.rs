//! Canonical Huffman codes built at compile time from the Annex K tables ([`super::tables`]): a
//! decoding table (an 8-bit lookup for the short codes, which are nearly all of them, and per-length
//! limits for the rest), for AC a 9-bit lookahead that decodes a whole coefficient (code, run and
//! value) in one lookup, and an encoding table (code and length per symbol).
//!
//! The decoder's bits are a `u32` holding the unread bits MSB first, left-aligned (the low bits
//! beyond the count are zero): 32-bit arithmetic only, which the RV32 device does in one
//! instruction where `u64` takes two or three.

use super::tables;

/// A Huffman table for decoding.
#[derive(Debug)]
pub(crate) struct DecodeTable {
    /// Indexed by the next 8 bits: `symbol | length << 8` for a code of at most 8 bits, else 0.
    pub(crate) lut: [u16; 256],
    /// Per code length 1..=16: the end of that length's codes as 16-bit left-aligned values
    /// (canonical codes of each length follow those of the length before, so a code of 16 bits
    /// read ahead is as long as the first length whose limit exceeds it).
    limit: [u32; 17],
    /// Per code length: index in `vals` of the symbol of code 0 of that length (may be negative).
    offset: [i32; 17],
    vals: &'static [u8],
}

/// What [`DecodeTable::decode`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symbol {
    /// A symbol and its code length.
    Found(u8, u8),
    /// The bits available are a prefix of a code: more input is needed.
    NeedMore,
    /// No code of up to 16 bits matches: the payload is corrupt.
    Invalid,
}

impl DecodeTable {
    const fn new(bits: &[u8; 16], vals: &'static [u8]) -> Self {
        let mut limit = [0u32; 17];
        let mut offset = [0i32; 17];
        let mut lut = [0u16; 256];
        let mut code: i32 = 0;
        let mut k: i32 = 0;
        let mut len = 1;
        while len <= 16 {
            let n = bits[len - 1] as i32;
            if n > 0 {
                offset[len] = k - code;
                let mut i = 0;
                while i < n {
                    if len <= 8 {
                        // every 8-bit index that starts with this code
                        let first = ((code + i) << (8 - len)) as usize;
                        let mut j = 0;
                        while j < 1 << (8 - len) {
                            lut[first + j] = vals[(k + i) as usize] as u16 | (len as u16) << 8;
                            j += 1;
                        }
                    }
                    i += 1;
                }
                code += n;
                k += n;
            }
            limit[len] = (code as u32) << (16 - len);
            code <<= 1;
            len += 1;
        }
        Self {
            lut,
            limit,
            offset,
            vals,
        }
    }

    /// The symbol and length of the code longer than 8 bits at the top of `bits` (all 32 of them
    /// input, or at least 16), if there is one.
    #[inline(always)]
    pub(crate) fn long_code(&self, bits: u32) -> Option<(u8, u32)> {
        let code = bits >> 16;
        let mut len = 9;
        while len <= 16 {
            if code < self.limit[len] {
                let i = self.offset[len] + (code >> (16 - len)) as i32;
                return self.vals.get(i as usize).map(|&v| (v, len as u32));
            }
            len += 1;
        }
        None
    }

    /// Decodes the symbol at the top of `bits` (left-aligned, MSB first), of which `nbits` are
    /// input.
    #[inline]
    pub(crate) fn decode(&self, bits: u32, nbits: u32) -> Symbol {
        let e = self.lut[(bits >> 24) as usize];
        if e != 0 {
            // the one code that starts the next 8 bits (those past `nbits` are zero, so a
            // shorter code of the input would have been found here too)
            return if u32::from(e >> 8) <= nbits {
                Symbol::Found(e as u8, (e >> 8) as u8)
            } else {
                Symbol::NeedMore
            };
        }
        // no code of up to 8 bits starts the input
        let code = bits >> 16;
        let mut len = 9;
        while len <= 16 && code >= self.limit[len] {
            len += 1;
        }
        if len > 16 {
            // no code at all, or (bits past `nbits` being zero) not known yet
            return if nbits >= 16 {
                Symbol::Invalid
            } else {
                Symbol::NeedMore
            };
        }
        if len as u32 > nbits {
            return Symbol::NeedMore;
        }
        let i = self.offset[len] + (code >> (16 - len)) as i32;
        match self.vals.get(i as usize) {
            Some(&v) => Symbol::Found(v, len as u8),
            None => Symbol::Invalid,
        }
    }
}

/// Bits an [`AcLookahead`] looks at.
pub(crate) const LOOKAHEAD_BITS: u32 = 9;

/// A whole AC coefficient (code and value bits) decoded by one lookup of the next
/// [`LOOKAHEAD_BITS`] bits, for every coefficient that fits them (most do: the short codes carry
/// the small values). An entry is `value << 8 | run << 4 | bits used` with the value as `i8`;
/// `0` (no bits used) means "not in the table" (a longer code or value, or ZRL); EOB is the
/// entry with value 0 (no coefficient has value 0).
#[derive(Debug)]
pub(crate) struct AcLookahead(pub(crate) [u16; 1 << LOOKAHEAD_BITS]);

impl AcLookahead {
    const fn new(bits: &[u8; 16], vals: &[u8]) -> Self {
        let n = LOOKAHEAD_BITS as usize;
        let mut t = [0u16; 1 << LOOKAHEAD_BITS];
        let mut code: usize = 0;
        let mut k = 0;
        let mut len = 1;
        while len <= n {
            let mut i = 0;
            while i < bits[len - 1] as usize {
                let sym = vals[k];
                let (run, size) = ((sym >> 4) as usize, (sym & 0x0F) as usize);
                if (sym == 0 || size > 0) && len + size <= n {
                    // every index that starts with this code, for each value of the extra bits
                    let mut x = 0;
                    while x < 1 << size {
                        let v = if size == 0 {
                            0
                        } else if x < 1 << (size - 1) {
                            x as i32 - (1 << size) + 1
                        } else {
                            x as i32
                        };
                        let e = ((v as i8 as u8 as u16) << 8) | (run << 4 | (len + size)) as u16;
                        let first = ((code << size) | x) << (n - len - size);
                        let mut j = 0;
                        while j < 1 << (n - len - size) {
                            t[first + j] = e;
                            j += 1;
                        }
                        x += 1;
                    }
                }
                code += 1;
                k += 1;
                i += 1;
            }
            code <<= 1;
            len += 1;
        }
        Self(t)
    }
}

/// The AC lookaheads of luma and chroma.
pub(crate) static AC_LOOKAHEAD: [AcLookahead; 2] = [
    AcLookahead::new(&tables::LUMA_AC_BITS, &tables::LUMA_AC_VALS),
    AcLookahead::new(&tables::CHROMA_AC_BITS, &tables::CHROMA_AC_VALS),
];

/// A Huffman table for encoding: per symbol, its code and length (0: no code).
#[derive(Debug)]
pub(crate) struct EncodeTable {
    pub(crate) code: [u16; 256],
    pub(crate) len: [u8; 256],
}

impl EncodeTable {
    const fn new(bits: &[u8; 16], vals: &[u8]) -> Self {
        let mut t = Self {
            code: [0; 256],
            len: [0; 256],
        };
        let mut code: u32 = 0;
        let mut k = 0;
        let mut len = 1;
        while len <= 16 {
            let mut i = 0;
            while i < bits[len - 1] {
                t.code[vals[k] as usize] = code as u16;
                t.len[vals[k] as usize] = len as u8;
                code += 1;
                k += 1;
                i += 1;
            }
            code <<= 1;
            len += 1;
        }
        t
    }
}

/// DC and AC tables of one component class (luma or chroma).
#[derive(Debug)]
pub(crate) struct DecodeTables {
    pub(crate) dc: DecodeTable,
    pub(crate) ac: DecodeTable,
}

/// Encoding counterpart of [`DecodeTables`].
#[derive(Debug)]
pub(crate) struct EncodeTables {
    pub(crate) dc: EncodeTable,
    pub(crate) ac: EncodeTable,
}

/// Luma and chroma decoding tables.
pub(crate) static DECODE: [DecodeTables; 2] = [
    DecodeTables {
        dc: DecodeTable::new(&tables::LUMA_DC_BITS, &tables::LUMA_DC_VALS),
        ac: DecodeTable::new(&tables::LUMA_AC_BITS, &tables::LUMA_AC_VALS),
    },
    DecodeTables {
        dc: DecodeTable::new(&tables::CHROMA_DC_BITS, &tables::CHROMA_DC_VALS),
        ac: DecodeTable::new(&tables::CHROMA_AC_BITS, &tables::CHROMA_AC_VALS),
    },
];

/// Luma and chroma encoding tables.
pub(crate) static ENCODE: [EncodeTables; 2] = [
    EncodeTables {
        dc: EncodeTable::new(&tables::LUMA_DC_BITS, &tables::LUMA_DC_VALS),
        ac: EncodeTable::new(&tables::LUMA_AC_BITS, &tables::LUMA_AC_VALS),
    },
    EncodeTables {
        dc: EncodeTable::new(&tables::CHROMA_DC_BITS, &tables::CHROMA_DC_VALS),
        ac: EncodeTable::new(&tables::CHROMA_AC_BITS, &tables::CHROMA_AC_VALS),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_decodes_to_its_symbol() {
        for class in 0..2 {
            for (enc, dec) in [
                (&ENCODE[class].dc, &DECODE[class].dc),
                (&ENCODE[class].ac, &DECODE[class].ac),
            ] {
                let mut n = 0;
                for sym in 0..256usize {
                    let len = u32::from(enc.len[sym]);
                    if len == 0 {
                        continue;
                    }
                    n += 1;
                    // the code followed by one bits, and exactly the code alone
                    let top = u32::from(enc.code[sym]) << (32 - len);
                    let ones = u32::MAX >> len;
                    assert_eq!(
                        dec.decode(top | ones, 32),
                        Symbol::Found(sym as u8, len as u8)
                    );
                    assert_eq!(dec.decode(top, len), Symbol::Found(sym as u8, len as u8));
                    if len > 1 {
                        // the code cut short (whatever follows in the word is not input)
                        assert_eq!(dec.decode(top | ones, len - 1), Symbol::NeedMore);
                    }
                }
                assert!(n == 12 || n == 162, "{n} symbols");
            }
        }
        // sixteen one bits are no code in any table
        assert_eq!(DECODE[0].ac.decode(0xFFFF_0000, 16), Symbol::Invalid);
    }

    /// The lookahead agrees with the symbol decoder and the JPEG value rule for every 9-bit
    /// input, and covers what it can.
    #[test]
    fn the_lookahead_decodes_whole_coefficients() {
        for class in 0..2 {
            let mut covered = 0;
            for (i, &e) in AC_LOOKAHEAD[class].0.iter().enumerate() {
                let bits = (i as u32) << (32 - LOOKAHEAD_BITS);
                let Symbol::Found(sym, len) = DECODE[class].ac.decode(bits, 32) else {
                    assert_eq!(e, 0);
                    continue;
                };
                let (len, size) = (u32::from(len), u32::from(sym & 0x0F));
                if len + size > LOOKAHEAD_BITS || (size == 0 && sym != 0) {
                    assert_eq!(e, 0, "{i:09b}");
                    continue;
                }
                covered += 1;
                let x = if size == 0 {
                    0
                } else {
                    (bits << len >> (32 - size)) as i32
                };
                let v = if size > 0 && x < 1 << (size - 1) {
                    x - (1 << size) + 1
                } else {
                    x
                };
                assert_eq!(u32::from(e & 15), len + size, "{i:09b}");
                assert_eq!(e >> 4 & 15, u16::from(sym >> 4), "{i:09b}");
                assert_eq!(i32::from((e as i16) >> 8), v, "{i:09b}");
            }
            assert!(covered > 400, "{covered} of 512");
        }
    }
}
