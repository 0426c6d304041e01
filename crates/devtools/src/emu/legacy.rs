//! The emulator's legacy mode: parses the stream exactly as the seed-000 sketch does
//! (`seed-protocols.md` §A.3) — 12-byte header, a 10 KiB pixel buffer, disconnect on
//! `data_len > 10240`, discard on `w == 0 || h == 0`, ignore on `data_len == 0` — and pushes pixels
//! into a framebuffer with the sketch's clipping.

use pixelwire_proto::legacy::{HEADER_LEN, Header, SKETCH_BUFFER_BYTES, SketchAction};

/// What the parser ran into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SketchError {
    /// A packet larger than the sketch's buffer: the sketch disconnects.
    Oversize(u32),
}

/// Incremental sketch-exact parser.
#[derive(Debug)]
pub struct SketchParser {
    width: u16,
    height: u16,
    header: Vec<u8>,
    current: Option<Header>,
    payload: Vec<u8>,
    /// Packets pushed to the panel.
    pub packets: u64,
    /// Keepalive (all-zero) headers seen.
    pub keepalives: u64,
    /// Packets whose `data_len` was not `w*h*2` (the sketch only warns).
    pub length_mismatches: u64,
}

impl SketchParser {
    /// A parser for a `width × height` panel.
    pub fn new(width: u16, height: u16) -> Self {
        Self {
            width,
            height,
            header: Vec::with_capacity(HEADER_LEN),
            current: None,
            payload: Vec::with_capacity(SKETCH_BUFFER_BYTES as usize),
            packets: 0,
            keepalives: 0,
            length_mismatches: 0,
        }
    }

    /// Feeds bytes; pixels go into `fb` (RGB565 big-endian, `width*height*2`).
    pub fn feed(&mut self, mut input: &[u8], fb: &mut [u8]) -> Result<(), SketchError> {
        while !input.is_empty() {
            match self.current {
                None => {
                    let take = (HEADER_LEN - self.header.len()).min(input.len());
                    self.header.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.header.len() == HEADER_LEN {
                        let mut b = [0u8; HEADER_LEN];
                        b.copy_from_slice(&self.header);
                        self.header.clear();
                        let h = Header::decode(&b);
                        match h.sketch_action() {
                            SketchAction::Disconnect => {
                                return Err(SketchError::Oversize(h.data_len));
                            }
                            SketchAction::Ignore => {
                                if h == Header::decode(&[0; HEADER_LEN]) {
                                    self.keepalives += 1;
                                }
                            }
                            SketchAction::Discard | SketchAction::Push => {
                                self.current = Some(h);
                                self.payload.clear();
                            }
                        }
                    }
                }
                Some(h) => {
                    let take = (h.data_len as usize - self.payload.len()).min(input.len());
                    self.payload.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.payload.len() == h.data_len as usize {
                        self.current = None;
                        if h.sketch_action() == SketchAction::Push {
                            self.push(h, fb);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// `tft.pushImage(x, y, w, h, buf)`: reads `w*h*2` bytes from the buffer whatever `data_len`
    /// said (stale bytes past it, as the sketch would), clipped to the panel.
    fn push(&mut self, h: Header, fb: &mut [u8]) {
        self.packets += 1;
        let need = usize::from(h.w) * usize::from(h.h) * 2;
        if need != h.data_len as usize {
            self.length_mismatches += 1;
        }
        self.payload.resize(need.max(self.payload.len()), 0);
        for row in 0..usize::from(h.h) {
            let y = usize::from(h.y) + row;
            if y >= usize::from(self.height) {
                break;
            }
            for col in 0..usize::from(h.w) {
                let x = usize::from(h.x) + col;
                if x >= usize::from(self.width) {
                    break;
                }
                let s = (row * usize::from(h.w) + col) * 2;
                let d = (y * usize::from(self.width) + x) * 2;
                fb[d..d + 2].copy_from_slice(&self.payload[s..s + 2]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversize_packet_disconnects_and_keepalive_is_ignored() {
        let mut p = SketchParser::new(320, 240);
        let mut fb = vec![0u8; 320 * 240 * 2];
        p.feed(&[0u8; 12], &mut fb).unwrap();
        assert_eq!(p.keepalives, 1);
        let big = Header::for_rect(0, 0, 320, 17).encode();
        assert_eq!(p.feed(&big, &mut fb), Err(SketchError::Oversize(10880)));
    }

    #[test]
    fn packets_split_anywhere_land_in_place() {
        let mut bytes = Header::for_rect(2, 1, 2, 1).encode().to_vec();
        bytes.extend_from_slice(&[0xF8, 0x00, 0x00, 0x1F]);
        for cut in 0..bytes.len() {
            let mut p = SketchParser::new(4, 2);
            let mut fb = vec![0u8; 16];
            p.feed(&bytes[..cut], &mut fb).unwrap();
            p.feed(&bytes[cut..], &mut fb).unwrap();
            assert_eq!(&fb[(4 + 2) * 2..(4 + 4) * 2], [0xF8, 0x00, 0x00, 0x1F]);
            assert_eq!(p.packets, 1);
        }
    }
}
