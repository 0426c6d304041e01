//! Canonical Huffman codes built at compile time from the Annex K tables ([`super::tables`]): a
//! decoding table (an 8-bit lookup for the short codes, which are nearly all of them, and per-length
//! limits for the rest) and an encoding table (code and length per symbol).

use super::tables;

/// A Huffman table for decoding.
#[derive(Debug)]
pub(crate) struct DecodeTable {
    /// Indexed by the next 8 bits: `symbol | length << 8` for a code of at most 8 bits, else 0.
    lut: [u16; 256],
    /// Per code length 1..=16: the largest code of that length, or -1.
    max_code: [i32; 17],
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
        let mut max_code = [-1i32; 17];
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
                max_code[len] = code - 1;
            }
            code <<= 1;
            len += 1;
        }
        Self {
            lut,
            max_code,
            offset,
            vals,
        }
    }

    /// Decodes the symbol at the top of the `nbits` low bits of `acc` (MSB first).
    #[inline]
    pub(crate) fn decode(&self, acc: u64, nbits: u32) -> Symbol {
        if nbits >= 8 {
            let e = self.lut[((acc >> (nbits - 8)) & 0xFF) as usize];
            if e != 0 {
                return Symbol::Found(e as u8, (e >> 8) as u8);
            }
        }
        let mut len = 1;
        while len <= 16 {
            if len > nbits {
                return Symbol::NeedMore;
            }
            let code = ((acc >> (nbits - len)) & ((1 << len) - 1)) as i32;
            if code <= self.max_code[len as usize] {
                let i = self.offset[len as usize] + code;
                return match self.vals.get(i as usize) {
                    Some(&v) => Symbol::Found(v, len as u8),
                    None => Symbol::Invalid,
                };
            }
            len += 1;
        }
        Symbol::Invalid
    }
}

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
                    // the code followed by 16 one bits, and exactly the code alone
                    let acc = (u64::from(enc.code[sym]) << 16) | 0xFFFF;
                    assert_eq!(
                        dec.decode(acc, len + 16),
                        Symbol::Found(sym as u8, len as u8)
                    );
                    assert_eq!(
                        dec.decode(u64::from(enc.code[sym]), len),
                        Symbol::Found(sym as u8, len as u8)
                    );
                    if len > 1 {
                        assert_eq!(
                            dec.decode(u64::from(enc.code[sym]) >> 1, len - 1),
                            Symbol::NeedMore
                        );
                    }
                }
                assert!(n == 12 || n == 162, "{n} symbols");
            }
        }
        // sixteen one bits are no code in any table
        assert_eq!(DECODE[0].ac.decode(0xFFFF, 16), Symbol::Invalid);
    }
}
