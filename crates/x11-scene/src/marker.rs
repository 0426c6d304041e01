//! The picture index, stamped into the picture so that a decoded capture says which picture it
//! shows. One row of 32 blocks of 8x8 pixels at ([`X0`], [`Y0`]), most significant bit first,
//! white for 1 and black for 0: 20 bits of index and a 12-bit check computed from them. The blocks
//! sit on the 8x8 (JPEG) and 16x16 (H.264 macroblock) grid and are read from the mean luma of their
//! inner 4x4 pixels, which survives JPEG q40 and H.264 at ordinary quantisers.

use crate::mix;

/// Left column of the first block (a multiple of 16).
pub const X0: usize = 16;
/// Top row of the blocks (a multiple of 16).
pub const Y0: usize = 16;
/// Side of a block, pixels.
pub const BLOCK: usize = 8;
/// Blocks in the row.
pub const BITS: usize = 32;
/// Bits of the index; indices are stamped modulo 2^20 (4.8 hours at 60 pictures/s).
pub const INDEX_BITS: u32 = 20;
/// Largest index the marker carries.
pub const MAX_INDEX: u64 = (1 << INDEX_BITS) - 1;
/// Smallest frame the marker fits in.
pub const MIN_WIDTH: usize = X0 + BITS * BLOCK;
/// Smallest frame the marker fits in.
pub const MIN_HEIGHT: usize = Y0 + BLOCK;

fn check(index: u64) -> u32 {
    (mix(index ^ 0x5EED) & 0xFFF) as u32
}

/// The 32-bit word for `index` (modulo 2^20).
pub fn word(index: u64) -> u32 {
    let index = index & MAX_INDEX;
    (check(index) << INDEX_BITS) | index as u32
}

/// Stamps `index` into a BGRA frame (`width` x `height`, packed). Frames smaller than
/// [`MIN_WIDTH`] x [`MIN_HEIGHT`] are left alone.
pub fn stamp(bgra: &mut [u8], width: usize, height: usize, index: u64) {
    if width < MIN_WIDTH || height < MIN_HEIGHT || bgra.len() < width * height * 4 {
        return;
    }
    let w = word(index);
    for row in Y0..Y0 + BLOCK {
        let line = &mut bgra[row * width * 4..(row + 1) * width * 4];
        for bit in 0..BITS {
            let v = if w & (1 << (BITS - 1 - bit)) != 0 {
                0xFF
            } else {
                0x00
            };
            let x = X0 + bit * BLOCK;
            for px in line[x * 4..(x + BLOCK) * 4].chunks_exact_mut(4) {
                px.copy_from_slice(&[v, v, v, 0xFF]);
            }
        }
    }
}

/// Reads the index from a luma plane (`stride` bytes per row). `None` when the frame is too small
/// or the check does not match (a torn or badly damaged marker).
pub fn read_luma(luma: &[u8], stride: usize, width: usize, height: usize) -> Option<u64> {
    if width < MIN_WIDTH || height < MIN_HEIGHT || luma.len() < (Y0 + BLOCK - 1) * stride + width {
        return None;
    }
    let mut w = 0u32;
    for bit in 0..BITS {
        let x = X0 + bit * BLOCK + 2;
        let sum: u32 = (Y0 + 2..Y0 + 6)
            .map(|r| {
                luma[r * stride + x..r * stride + x + 4]
                    .iter()
                    .map(|&v| u32::from(v))
                    .sum::<u32>()
            })
            .sum();
        w = (w << 1) | u32::from(sum / 16 >= 128);
    }
    let index = u64::from(w & MAX_INDEX as u32);
    (w >> INDEX_BITS == check(index)).then_some(index)
}

/// Reads the index from a packed BGRA frame.
pub fn read_bgra(bgra: &[u8], width: usize, height: usize) -> Option<u64> {
    if width < MIN_WIDTH || height < MIN_HEIGHT || bgra.len() < width * MIN_HEIGHT * 4 {
        return None;
    }
    let luma: Vec<u8> = bgra[..width * MIN_HEIGHT * 4]
        .chunks_exact(4)
        .map(|p| ((u32::from(p[2]) * 77 + u32::from(p[1]) * 150 + u32::from(p[0]) * 29) >> 8) as u8)
        .collect();
    read_luma(&luma, width, width, MIN_HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::{Mode, render};

    #[test]
    fn round_trip_on_a_plain_frame() {
        let (w, h) = (320, 64);
        for index in [0, 1, 2, 59, 60, 12_345, MAX_INDEX] {
            let mut f = vec![0x40; w * h * 4];
            stamp(&mut f, w, h, index);
            assert_eq!(read_bgra(&f, w, h), Some(index));
        }
        let mut f = vec![0x40; w * h * 4];
        stamp(&mut f, w, h, MAX_INDEX + 5);
        assert_eq!(read_bgra(&f, w, h), Some(4));
    }

    #[test]
    fn a_flipped_block_fails_the_check() {
        let (w, h) = (320, 32);
        let mut f = vec![0; w * h * 4];
        stamp(&mut f, w, h, 777);
        // Invert block 31 (the lowest index bit).
        for row in Y0..Y0 + BLOCK {
            let x = X0 + 31 * BLOCK;
            for b in &mut f[(row * w + x) * 4..(row * w + x + BLOCK) * 4] {
                *b = !*b;
            }
        }
        assert_eq!(read_bgra(&f, w, h), None);
    }

    #[test]
    fn too_small_frames_are_refused() {
        assert_eq!(read_bgra(&[0; 100 * 100 * 4], 100, 100), None);
        let mut f = vec![0; 100 * 100 * 4];
        stamp(&mut f, 100, 100, 3);
        assert!(f.iter().all(|&b| b == 0));
    }

    #[test]
    fn survives_jpeg_q40_on_the_busiest_scenes() {
        let (w, h) = (640, 360);
        for mode in [Mode::Dashboard, Mode::Heavy] {
            for index in [0, 1, 333, 4_095, 99_999] {
                let bgra = render(index, w as u32, h as u32, mode);
                let jpeg = pixelwire_media::jpeg::encode(
                    &bgra,
                    w as u32,
                    h as u32,
                    w * 4,
                    pixelwire_media::PixelLayout::Bgra,
                    40,
                )
                .unwrap();
                let (dw, dh, rgba) = pixelwire_media::jpeg::decode_rgba(&jpeg).unwrap();
                assert_eq!((dw, dh), (w as u32, h as u32));
                let bgra_back: Vec<u8> = rgba
                    .chunks_exact(4)
                    .flat_map(|p| [p[2], p[1], p[0], p[3]])
                    .collect();
                assert_eq!(read_bgra(&bgra_back, w, h), Some(index), "{mode:?} {index}");
            }
        }
    }
}
