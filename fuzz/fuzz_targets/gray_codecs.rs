//! Fuzzes the pixel codecs in the grey and monochrome formats (gray8, gray4, mono1: one-byte codec
//! units, packed rows; `docs/protocol.md`, "Pixel formats") through the public API, and the packed
//! path of [`FramebufferWriter`]. Byte 0 picks the mode (bit 0) and the format (bits 1..=2):
//!
//! * **decode**: a RECT message is crafted around an arbitrary payload (codec, `x`, `w`, `h` from
//!   the input; `x` aligned or not) and fed to [`Decoder::with_format`] split at one position,
//!   through a packed [`FramebufferWriter`] on a small panel (rects hang off its edges). Must not
//!   panic, must agree with the whole-input decode, and with the reference
//!   `codec::decode_format_to_vec` on validity and on the bytes it gives.
//! * **round trip**: arbitrary pixel values (masked to the format's depth, a strided block) are
//!   encoded with each codec; decoding must give RAW's bytes back, the framebuffer must hold the
//!   pixels, and an encoder given a smaller buffer must produce the same bytes or `DoesNotFit`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_proto::codec::decode_format_to_vec;
use pixelwire_proto::message::{HEADER_LEN, RECT_FIELDS_LEN};
use pixelwire_proto::{
    Codec, Decoder, EncodeFail, Event, FramebufferWriter, PixelFormat, Pixels, RectHeader,
};

/// Largest rect whose decoded units are collected (the reference decoder allocates them all).
const MAX_COLLECTED_UNITS: u32 = 1 << 16;

const FORMATS: [PixelFormat; 4] = [
    PixelFormat::Gray8,
    PixelFormat::Gray4,
    PixelFormat::Mono1,
    PixelFormat::Mono1,
];

/// Decodes one RECT message given in `pieces` onto a `fb_w × fb_h` panel; returns the unit bytes
/// (collected from the events when `collect`) and the framebuffer, or the error.
fn decode_rect(
    format: PixelFormat,
    pieces: &[&[u8]],
    fb_w: u16,
    fb_h: u16,
    collect: bool,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut d = Decoder::default().with_format(format);
    let mut fbw = FramebufferWriter::with_format(fb_w, fb_h, format);
    let mut fb = vec![0u8; format.frame_bytes(usize::from(fb_w), usize::from(fb_h))];
    let mut units = Vec::new();
    let mut ended = false;
    for piece in pieces {
        for ev in d.feed(piece) {
            let ev = ev.map_err(|e| e.to_string())?;
            match ev {
                Event::Pixels(b) if collect => units.extend_from_slice(b),
                Event::Fill { pixel, count } if collect => {
                    assert_eq!(pixel[0], pixel[1], "a grey fill repeats its byte");
                    units.extend(std::iter::repeat_n(pixel[0], count as usize));
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
    Ok((units, fb))
}

fn message(hdr: &RectHeader, payload: &[u8]) -> Vec<u8> {
    let mut msg = vec![0u8; HEADER_LEN + RECT_FIELDS_LEN + payload.len()];
    let head = hdr
        .encode(&mut msg, payload.len())
        .expect("the buffer was sized for the message");
    msg[head..].copy_from_slice(payload);
    msg
}

fn fuzz_decode(format: PixelFormat, data: &[u8]) {
    let [codec, w, h, split, x, payload @ ..] = data else {
        return;
    };
    let codec = Codec::LOSSLESS[usize::from(codec % 3)];
    let side = |b: u8| {
        if b & 0x80 == 0 {
            u16::from(b) + 1
        } else {
            u16::from(b & 0x7F) * 64 + 1
        }
    };
    let hdr = RectHeader {
        x: u16::from(*x % 24),
        y: u16::from(split / 8 % 4),
        w: side(*w),
        h: side(*h),
        codec,
    };
    let payload = &payload[..payload.len().min(usize::from(u16::MAX) - RECT_FIELDS_LEN)];
    let msg = message(&hdr, payload);
    let at = usize::from(*split) % (msg.len() + 1);
    let units = format.rect_units(hdr.w, hdr.h);
    let collect = units <= MAX_COLLECTED_UNITS;
    let streamed = decode_rect(format, &[&msg[..at], &msg[at..]], 21, 12, collect);
    let whole = decode_rect(format, &[&msg], 21, 12, collect);
    match (&streamed, &whole) {
        (Ok(a), Ok(b)) => assert!(a == b, "split decoding differs"),
        (Err(_), Err(_)) => {}
        _ => panic!("split decoding disagrees on validity: {streamed:?} vs {whole:?}"),
    }
    let aligned = hdr.x % format.x_align() == 0;
    if !aligned {
        assert!(whole.is_err(), "an unaligned rect was accepted");
        return;
    }
    if collect {
        let reference = decode_format_to_vec(codec, format, hdr.w, hdr.h, payload);
        match (&whole, &reference) {
            (Ok((got, _)), Ok(r)) => assert!(got == r, "bytes differ from the reference decoder"),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "Decoder and decode_format_to_vec disagree: {:?} vs {:?}",
                whole.as_ref().map(|_| ()),
                reference.map(|_| ())
            ),
        }
    }
}

fn fuzz_round_trip(format: PixelFormat, data: &[u8]) {
    let [shape, cut, bytes @ ..] = data else {
        return;
    };
    let max = format.max_value();
    let pixels: Vec<u16> = bytes.iter().take(32_000).map(|&b| u16::from(b) & max).collect();
    let width = usize::from(shape & 0x3F) + 1;
    let stride = width + usize::from((shape >> 6) & 3);
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
    let mut raw = vec![0u8; format.row_bytes(width) * height];
    let n = Codec::Raw
        .encode(px, format, &mut raw)
        .expect("RAW fits its exact size");
    assert_eq!(n, raw.len());
    for codec in Codec::LOSSLESS {
        let mut out = vec![0u8; raw.len() * 2 + 64];
        let n = match codec.encode(px, format, &mut out) {
            Ok(n) => n,
            Err(EncodeFail::NotApplicable) if codec == Codec::PaletteRle => continue,
            Err(e) => panic!("{codec:?} failed on a roomy buffer: {e:?}"),
        };
        let encoded = &out[..n];
        let hdr = RectHeader {
            x: 0,
            y: 0,
            w: width as u16,
            h: height as u16,
            codec,
        };
        let msg = message(&hdr, encoded);
        let (got, fb) = decode_rect(format, &[&msg], width as u16, height as u16, true)
            .unwrap_or_else(|e| panic!("{codec:?} output does not decode: {e}"));
        assert!(got == raw, "{codec:?} round trip differs from RAW");
        let stride_bytes = format.row_bytes(width);
        for (y, row) in fb.chunks(stride_bytes).enumerate() {
            for x in 0..width {
                assert_eq!(
                    format.unpack(row, x),
                    pixels[y * stride + x],
                    "{codec:?} pixel ({x},{y})"
                );
            }
        }
        let small = usize::from(*cut) * n / 255;
        let mut out2 = vec![0u8; small];
        match codec.encode(px, format, &mut out2) {
            Ok(m) => assert_eq!(&out2[..m], encoded, "{codec:?} output depends on room"),
            Err(EncodeFail::DoesNotFit) => assert!(small < n),
            Err(e) => panic!("{codec:?}: {e:?} on a small buffer"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from((mode >> 1) & 3)];
    if mode & 1 == 0 {
        fuzz_decode(format, rest);
    } else {
        fuzz_round_trip(format, rest);
    }
});
