//! Fuzzes the pixel codecs (RAW, RLE, PALETTE_RLE; `crates/proto/src/codec/`) through the public
//! API, in two modes chosen by bit 0 of the first byte:
//!
//! * **decode**: a RECT message header is crafted around an arbitrary payload (codec, `w`, `h` from
//!   the input) and fed to [`Decoder`] split at one position, through a [`FramebufferWriter`]. Must
//!   not panic, and must agree with the whole-payload reference decoder `codec::decode_to_vec` on
//!   whether the payload is valid and on the pixels it gives.
//! * **round trip**: arbitrary `u16` pixels (a strided block) are encoded with each codec in both
//!   pixel orders; decoding the result must give the pixels back, and an encoder given a smaller
//!   buffer must either produce the same bytes or report `DoesNotFit`, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_proto::codec::decode_to_vec;
use pixelwire_proto::message::{HEADER_LEN, RECT_FIELDS_LEN};
use pixelwire_proto::{
    Codec, Decoder, EncodeFail, Event, FramebufferWriter, PixelOrder, Pixels, RectHeader,
};

/// Largest rect whose decoded pixels are collected (the reference decoder allocates them all).
const MAX_COLLECTED_PIXELS: u32 = 1 << 16;

/// Decodes one RECT message given in `pieces`; returns its pixel bytes (collected from the events
/// when `collect`) and the framebuffer, or the error.
fn decode_rect(
    pieces: &[&[u8]],
    fb_w: u16,
    fb_h: u16,
    collect: bool,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut d = Decoder::default();
    let mut fbw = FramebufferWriter::new(fb_w, fb_h);
    let mut fb = vec![0u8; usize::from(fb_w) * usize::from(fb_h) * 2];
    let mut px = Vec::new();
    let mut ended = false;
    for piece in pieces {
        for ev in d.feed(piece) {
            let ev = ev.map_err(|e| e.to_string())?;
            match ev {
                Event::Pixels(b) if collect => px.extend_from_slice(b),
                Event::Fill { pixel, count } if collect => {
                    for _ in 0..count {
                        px.extend_from_slice(&pixel);
                    }
                }
                Event::RectEnd => ended = true,
                _ => {}
            }
            fbw.apply(&mut fb, &ev);
        }
    }
    if !ended || !d.is_idle() {
        return Err("incomplete".into());
    }
    Ok((px, fb))
}

fn message(hdr: &RectHeader, payload: &[u8]) -> Vec<u8> {
    let mut msg = vec![0u8; HEADER_LEN + RECT_FIELDS_LEN + payload.len()];
    let head = hdr
        .encode(&mut msg, payload.len())
        .expect("the buffer was sized for the message");
    msg[head..].copy_from_slice(payload);
    msg
}

fn fuzz_decode(data: &[u8]) {
    let [codec, w, h, split, payload @ ..] = data else {
        return;
    };
    let codec = Codec::LOSSLESS[usize::from(codec % 3)];
    // Small sizes mostly (so the payload can be complete); bit 7 asks for a large rect.
    let side = |b: u8| {
        if b & 0x80 == 0 {
            u16::from(b) + 1
        } else {
            u16::from(b & 0x7F) * 64 + 1
        }
    };
    let hdr = RectHeader {
        x: u16::from(split % 8),
        y: u16::from(split / 8 % 4),
        w: side(*w),
        h: side(*h),
        codec,
    };
    let payload = &payload[..payload.len().min(usize::from(u16::MAX) - RECT_FIELDS_LEN)];
    let msg = message(&hdr, payload);
    let at = usize::from(*split) % (msg.len() + 1);
    let collect = hdr.pixel_count() <= MAX_COLLECTED_PIXELS;
    let streamed = decode_rect(&[&msg[..at], &msg[at..]], 16, 12, collect);
    let whole = decode_rect(&[&msg], 16, 12, collect);
    match (&streamed, &whole) {
        (Ok(a), Ok(b)) => assert!(a == b, "split decoding differs"),
        (Err(_), Err(_)) => {}
        _ => panic!("split decoding disagrees on validity: {streamed:?} vs {whole:?}"),
    }
    if collect {
        let reference = decode_to_vec(codec, hdr.pixel_count(), payload);
        match (&whole, &reference) {
            (Ok((px, _)), Ok(r)) => assert!(px == r, "pixels differ from the reference decoder"),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "Decoder and decode_to_vec disagree: {:?} vs {:?}",
                whole.as_ref().map(|_| ()),
                reference.map(|_| ())
            ),
        }
    }
}

fn fuzz_round_trip(data: &[u8]) {
    let [shape, cut, bytes @ ..] = data else {
        return;
    };
    // At most 16k pixels, so every encoding fits one RECT message (u16 length).
    let pixels: Vec<u16> = bytes
        .chunks_exact(2)
        .take(16_000)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    // Palette-friendly content half of the time: fold values into a few colours.
    let pixels: Vec<u16> = if shape & 0x80 != 0 {
        pixels.iter().map(|p| p % 13).collect()
    } else {
        pixels
    };
    let width = usize::from(shape & 0x1F) + 1;
    let stride = width + usize::from((shape >> 5) & 3);
    let height = pixels.len() / stride;
    if height == 0 {
        return;
    }
    let px = Pixels {
        data: &pixels,
        stride,
        width,
        height,
    };
    for order in [PixelOrder::BigEndian, PixelOrder::LittleEndian] {
        let want: Vec<u8> = px.iter().flat_map(|p| order.to_bytes(p)).collect();
        for codec in Codec::LOSSLESS {
            let mut out = vec![0u8; px.len() * 3 + 64];
            let n = match codec.encode(px, order, &mut out) {
                Ok(n) => n,
                Err(EncodeFail::NotApplicable) if codec == Codec::PaletteRle => continue,
                Err(e) => panic!("{codec:?} failed on a roomy buffer: {e:?}"),
            };
            let encoded = &out[..n];
            if codec == Codec::Raw {
                assert_eq!(encoded, &want[..]);
            }
            // Through the public streaming API, as a device would.
            let hdr = RectHeader {
                x: 0,
                y: 0,
                w: width as u16,
                h: height as u16,
                codec,
            };
            let msg = message(&hdr, encoded);
            let (got, fb) = decode_rect(&[&msg], width as u16, height as u16, true)
                .unwrap_or_else(|e| panic!("{codec:?} output does not decode: {e}"));
            assert!(got == want, "{codec:?} round trip differs");
            assert!(fb == want, "{codec:?} framebuffer differs");
            // A smaller buffer: the same bytes or DoesNotFit.
            let small = usize::from(*cut) * n / 255;
            let mut out2 = vec![0u8; small];
            match codec.encode(px, order, &mut out2) {
                Ok(m) => assert_eq!(&out2[..m], encoded, "{codec:?} output depends on room"),
                Err(EncodeFail::DoesNotFit) => assert!(small < n),
                Err(e) => panic!("{codec:?}: {e:?} on a small buffer"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        fuzz_decode(rest);
    } else {
        fuzz_round_trip(rest);
    }
});
