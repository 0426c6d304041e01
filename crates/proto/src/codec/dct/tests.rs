//! Round trips, corrupt input and incremental decoding of DCT.

use super::*;
use crate::codec::{CodecDecoder, PixelRun, decode_format_to_vec};
use crate::format::PixelFormat;
use crate::{Codec, EncodeFail, PixelOrder, Pixels, ProtoError};
use alloc::vec::Vec;

/// Colour gradients crossed by sharp light bars: moving UI content. (Sharp edges between two
/// saturated colours are where 4:2:0 loses most; the benchmarks measure real screens.)
fn picture(w: usize, h: usize) -> Vec<u16> {
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = if (x / 6) % 4 == 0 {
                (28, 58, 28)
            } else {
                (((x / 4) % 32) as u16, ((y * 2) % 64) as u16, 12)
            };
            px.push(r << 11 | g << 5 | b);
        }
    }
    px
}

fn psnr(a: &[u16], b: &[u16]) -> f64 {
    let mut se = 0.0;
    for (&p, &q) in a.iter().zip(b) {
        for (s, bits) in [(11, 5), (5, 6), (0, 5)] {
            let max = f64::from((1u16 << bits) - 1);
            let d = f64::from((p >> s) & ((1 << bits) - 1)) / max
                - f64::from((q >> s) & ((1 << bits) - 1)) / max;
            se += d * d * 255.0 * 255.0;
        }
    }
    let mse = se / (a.len() * 3) as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

fn round_trip(px: &[u16], w: usize, h: usize, quality: u8) -> (usize, Vec<u16>) {
    let mut out = [0u8; 8192];
    let n = encode(Pixels::packed(px, w, h), quality, &mut out).expect("encodes");
    let fmt = PixelFormat::Rgb565(PixelOrder::BigEndian);
    let bytes = decode_format_to_vec(Codec::Dct, fmt, w as u16, h as u16, &out[..n]).unwrap();
    assert_eq!(bytes.len(), w * h * 2);
    let px = bytes
        .chunks(2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .collect();
    (n, px)
}

#[test]
fn quality_buys_fidelity_and_costs_bytes() {
    let (w, h) = (128, 16);
    let src = picture(w, h);
    let mut last = (0, 0.0);
    for q in [30, 50, 75, 90, 100] {
        let (n, got) = round_trip(&src, w, h, q);
        let db = psnr(&src, &got);
        assert!(
            n > last.0 && db > last.1,
            "q{q}: {n} bytes {db:.1} dB after {last:?}"
        );
        last = (n, db);
    }
    // at quality 100 the only losses are rounding and 4:2:0 chroma
    assert!(last.1 > 33.0, "{last:?}");
}

#[test]
fn a_flat_colour_decodes_exactly() {
    for colour in [0x0000u16, 0xFFFF, 0xF800, 0x07E0, 0x001F, 0x8410] {
        let src = [colour; 40 * 16];
        let (n, got) = round_trip(&src, 40, 16, 75);
        assert!(got.iter().all(|&p| p == colour), "{colour:04x}: {got:04x?}");
        assert!(n < 40, "{n} bytes for a flat rect");
    }
}

#[test]
fn every_size_up_to_the_limits_round_trips() {
    for (w, h) in [
        (1, 1),
        (7, 3),
        (16, 16),
        (17, 16),
        (33, 9),
        (128, 16),
        (127, 15),
    ] {
        let src = picture(w, h);
        let (_, got) = round_trip(&src, w, h, 90);
        assert!(psnr(&src, &got) > 28.0, "{w}x{h}: {:.1}", psnr(&src, &got));
    }
    let src = picture(129, 16);
    assert_eq!(
        encode(Pixels::packed(&src, 129, 16), 75, &mut [0; 4096]),
        Err(EncodeFail::NotApplicable)
    );
    assert_eq!(
        encode(Pixels::packed(&src, 16, 17), 75, &mut [0; 4096]),
        Err(EncodeFail::NotApplicable)
    );
    assert_eq!(
        encode(Pixels::packed(&src, 128, 16), 75, &mut [0; 20]),
        Err(EncodeFail::DoesNotFit)
    );
}

#[test]
fn little_endian_panels_get_the_same_pixels_swapped() {
    let src = picture(48, 16);
    let mut out = [0u8; 4096];
    let n = encode(Pixels::packed(&src, 48, 16), 80, &mut out).unwrap();
    let be = PixelFormat::Rgb565(PixelOrder::BigEndian);
    let le = PixelFormat::Rgb565(PixelOrder::LittleEndian);
    let a = decode_format_to_vec(Codec::Dct, be, 48, 16, &out[..n]).unwrap();
    let b = decode_format_to_vec(Codec::Dct, le, 48, 16, &out[..n]).unwrap();
    for (x, y) in a.chunks(2).zip(b.chunks(2)) {
        assert_eq!([x[1], x[0]], [y[0], y[1]]);
    }
}

/// Feeds `payload` split at `split` (and byte by byte) and collects the pixels.
fn decode_split(payload: &[u8], w: u16, h: u16, split: usize) -> Result<Vec<u8>, ProtoError> {
    let fmt = PixelFormat::Rgb565(PixelOrder::BigEndian);
    let mut d = CodecDecoder::new(Codec::Dct, fmt, w, h)?;
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for part in [&payload[..split], &payload[split..]] {
        let mut rest = part;
        loop {
            let (used, run) = d.step(rest, &mut scratch)?;
            rest = &rest[used..];
            match run {
                Some(PixelRun::Chunk(c)) => out.extend_from_slice(c.as_bytes()),
                Some(other) => panic!("DCT emitted {other:?}"),
                None if used == 0 => break,
                None => {}
            }
        }
        assert!(rest.is_empty());
    }
    if !d.is_done() {
        return Err(ProtoError::PixelCountMismatch);
    }
    Ok(out)
}

#[test]
fn splitting_the_payload_anywhere_changes_nothing() {
    let src = picture(64, 16);
    let mut out = [0u8; 4096];
    let n = encode(Pixels::packed(&src, 64, 16), 70, &mut out).unwrap();
    let whole = decode_split(&out[..n], 64, 16, n).unwrap();
    for split in 0..=n {
        assert_eq!(
            decode_split(&out[..n], 64, 16, split).unwrap(),
            whole,
            "split {split}"
        );
    }
}

/// Feeds `payload` in pieces of `size` bytes and collects the pixels.
fn decode_pieces(payload: &[u8], w: u16, h: u16, size: usize) -> Vec<u8> {
    let fmt = PixelFormat::Rgb565(PixelOrder::BigEndian);
    let mut d = CodecDecoder::new(Codec::Dct, fmt, w, h).unwrap();
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for part in payload.chunks(size) {
        let mut rest = part;
        loop {
            let (used, run) = d.step(rest, &mut scratch).unwrap();
            rest = &rest[used..];
            match run {
                Some(PixelRun::Chunk(c)) => out.extend_from_slice(c.as_bytes()),
                Some(other) => panic!("DCT emitted {other:?}"),
                None if used == 0 => break,
                None => {}
            }
        }
        assert!(rest.is_empty());
    }
    assert!(d.is_done());
    out
}

/// Noisy content at high quality has long codes and large values, so pieces of one to three
/// bytes cut codes and value bits at every position (the decoder's general path and the symbol
/// it keeps waiting for its value bits).
#[test]
fn feeding_a_few_bytes_at_a_time_changes_nothing() {
    let mut seed = 7u32;
    let noise: Vec<u16> = (0..128 * 16)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u16
        })
        .collect();
    for (src, q) in [(&noise, 100), (&noise, 60), (&picture(128, 16), 95)] {
        let mut out = [0u8; 8192];
        let n = encode(Pixels::packed(src, 128, 16), q, &mut out).unwrap();
        let whole = decode_pieces(&out[..n], 128, 16, n);
        for size in 1..=3 {
            assert!(
                decode_pieces(&out[..n], 128, 16, size) == whole,
                "q{q} by {size}"
            );
        }
    }
}

#[test]
fn corrupt_payloads_are_errors_never_panics() {
    let src = picture(64, 16);
    let mut out = [0u8; 4096];
    let n = encode(Pixels::packed(&src, 64, 16), 70, &mut out).unwrap();
    let fmt = PixelFormat::Rgb565(PixelOrder::BigEndian);
    // truncated anywhere: an error, never pixels of the wrong count
    for cut in 0..n {
        assert!(decode_format_to_vec(Codec::Dct, fmt, 64, 16, &out[..cut]).is_err());
    }
    // a byte too many
    let mut long = out[..n].to_vec();
    long.push(0xFF);
    assert!(decode_format_to_vec(Codec::Dct, fmt, 64, 16, &long).is_err());
    // bad quality byte
    let mut bad = out[..n].to_vec();
    bad[0] = 0;
    assert_eq!(
        decode_format_to_vec(Codec::Dct, fmt, 64, 16, &bad),
        Err(ProtoError::BadField("dct quality"))
    );
    // every byte flipped in turn: decodes or fails, never panics
    let mut seed = 7u32;
    for i in 1..n {
        for _ in 0..4 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let mut m = out[..n].to_vec();
            m[i] ^= (seed >> 24) as u8 | 1;
            let _ = decode_format_to_vec(Codec::Dct, fmt, 64, 16, &m);
        }
    }
    // sixteen 1 bits are no Huffman code
    assert!(decode_format_to_vec(Codec::Dct, fmt, 16, 16, &[50, 0xFF, 0xFF, 0xFF]).is_err());
}

#[test]
fn grey_panels_and_oversized_rects_refuse_dct() {
    assert!(CodecDecoder::new(Codec::Dct, PixelFormat::Gray8, 16, 16).is_err());
    let fmt = PixelFormat::Rgb565(PixelOrder::BigEndian);
    assert!(CodecDecoder::new(Codec::Dct, fmt, 129, 16).is_err());
    assert!(CodecDecoder::new(Codec::Dct, fmt, 16, 17).is_err());
    assert!(CodecDecoder::new(Codec::Dct, fmt, 0, 16).is_err());
}

#[test]
fn extreme_content_survives_the_clamps() {
    // a 1-pixel checkerboard of black and white at quality 100: the largest coefficients 8-bit
    // content has; the clamps must not bite
    let mut src = Vec::new();
    for y in 0..16 {
        for x in 0..16 {
            src.push(if (x + y) % 2 == 0 { 0xFFFF } else { 0 });
        }
    }
    let (_, got) = round_trip(&src, 16, 16, 100);
    // luma is exact to within the 4:2:0 and rounding losses: every pixel on the right side
    for (s, g) in src.iter().zip(&got) {
        let (sg, gg) = ((s >> 5) & 0x3F, (g >> 5) & 0x3F);
        assert!(sg.abs_diff(gg) <= 2, "{s:04x} vs {g:04x}");
    }
}

#[test]
fn half_resolution_shows_each_decoded_pixel_as_two_by_two() {
    let fmt = PixelFormat::Rgb565(PixelOrder::BigEndian);
    // a flat colour survives exactly at any odd or even size up to the limits
    for (w, h) in [(1, 1), (3, 5), (32, 32), (33, 31), (256, 32)] {
        let src = alloc::vec![0xFC00u16; w * h];
        let mut out = [0u8; 4096];
        let n = encode_half(Pixels::packed(&src, w, h), 50, &mut out).unwrap();
        let bytes =
            decode_format_to_vec(Codec::DctHalf, fmt, w as u16, h as u16, &out[..n]).unwrap();
        assert_eq!(bytes.len(), w * h * 2);
        assert!(bytes.chunks(2).all(|p| p == [0xFC, 0x00]), "{w}x{h}");
    }
    // a smooth picture: every 2x2 block of the output is one colour, close to the source
    let (w, h) = (64, 32);
    let src = picture(w, h);
    let mut out = [0u8; 4096];
    let n = encode_half(Pixels::packed(&src, w, h), 90, &mut out).unwrap();
    let bytes = decode_format_to_vec(Codec::DctHalf, fmt, w as u16, h as u16, &out[..n]).unwrap();
    let got: Vec<u16> = bytes
        .chunks(2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .collect();
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let p = got[y * w + x];
            assert_eq!(
                [
                    got[y * w + x + 1],
                    got[(y + 1) * w + x],
                    got[(y + 1) * w + x + 1]
                ],
                [p; 3]
            );
        }
    }
    assert!(psnr(&src, &got) > 20.0, "{:.1}", psnr(&src, &got));
    // past the limits, and the full-resolution size check stays DCT's
    assert_eq!(
        encode_half(Pixels::packed(&picture(257, 2), 257, 2), 50, &mut out),
        Err(EncodeFail::NotApplicable)
    );
    assert!(CodecDecoder::new(Codec::DctHalf, fmt, 256, 32).is_ok());
    assert!(CodecDecoder::new(Codec::DctHalf, fmt, 256, 33).is_err());
    assert!(CodecDecoder::new(Codec::Dct, fmt, 256, 32).is_err());
}
