//! Fuzzes the DCT codec (0x03; `crates/proto/src/codec/dct/`, `docs/protocol.md`) through the
//! public API, in two modes chosen by bit 0 of the first byte (bit 1 picks the panel's byte order,
//! bit 2 DCT_HALF, codec 0x04, whose RECTs are up to 256 × 32 and decode at half resolution):
//!
//! * **decode**: a RECT message with codec 0x03 is crafted around an arbitrary payload (`w`, `h`
//!   from the input, some past DCT's 128 × 16 limit, some zero) and fed to [`Decoder`] whole and
//!   split at two arbitrary positions, through a [`FramebufferWriter`] on a small panel (rects hang
//!   off its edges). Must not panic; the split decode must equal the whole one; a success gives
//!   exactly `w*h*2` bytes and the same bytes as the reference `codec::decode_format_to_vec`; the
//!   firmware's checking-only decoder must agree on validity and announce exactly `w*h` pixels.
//! * **round trip**: arbitrary RGB565 pixels (`w × h` within DCT's limits) are encoded at an
//!   arbitrary quality with `dct::encode`; the payload must decode (whole, split, checking only,
//!   reference) to `w*h` pixels, the two byte orders must be each other's byte swap, and an
//!   encoder given a smaller buffer must give the same bytes or `DoesNotFit`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_proto::codec::{dct, decode_format_to_vec};
use pixelwire_proto::message::{HEADER_LEN, RECT_FIELDS_LEN};
use pixelwire_proto::{
    Codec, Decoder, EncodeFail, Event, FramebufferWriter, PixelFormat, PixelOrder, Pixels,
    RectHeader,
};

/// What a decode gave: the pixel bytes and the framebuffer, or the error.
type Decoded = Result<(Vec<u8>, Vec<u8>), String>;

/// Decodes one RECT message given in `pieces` onto a 40 × 20 panel.
fn decode_rect(order: PixelOrder, pieces: &[&[u8]]) -> Decoded {
    let format = PixelFormat::Rgb565(order);
    let mut d = Decoder::default().with_format(format);
    let mut fbw = FramebufferWriter::with_format(40, 20, format);
    let mut fb = vec![0u8; format.frame_bytes(40, 20)];
    let mut px = Vec::new();
    let mut ended = false;
    for piece in pieces {
        for ev in d.feed(piece) {
            let ev = ev.map_err(|e| e.to_string())?;
            match ev {
                Event::Pixels(b) => px.extend_from_slice(b),
                Event::Chunk(c) => {
                    assert!(c.len % 2 == 0 && c.len > 0, "a chunk of {} bytes", c.len);
                    px.extend_from_slice(c.as_bytes());
                }
                Event::Fill { .. } => panic!("a full DCT decode emitted a Fill"),
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

/// Decodes one RECT message with the firmware's checking-only decoder; returns the pixel count
/// its events announce.
fn check_rect(order: PixelOrder, pieces: &[&[u8]]) -> Result<u64, String> {
    let mut d = Decoder::default()
        .with_format(PixelFormat::Rgb565(order))
        .checking_only();
    let mut count = 0u64;
    let mut ended = false;
    for piece in pieces {
        for ev in d.feed(piece) {
            match ev.map_err(|e| e.to_string())? {
                Event::Fill { count: n, .. } => count += u64::from(n),
                Event::Pixels(b) => count += b.len() as u64 / 2,
                Event::Chunk(c) => count += u64::from(c.len) / 2,
                Event::RectEnd => ended = true,
                _ => {}
            }
        }
    }
    if !ended || !d.is_idle() {
        return Err("incomplete".into());
    }
    Ok(count)
}

fn message(hdr: &RectHeader, payload: &[u8]) -> Vec<u8> {
    let mut msg = vec![0u8; HEADER_LEN + RECT_FIELDS_LEN + payload.len()];
    let head = hdr
        .encode(&mut msg, payload.len())
        .expect("the buffer was sized for the message");
    msg[head..].copy_from_slice(payload);
    msg
}

/// `msg` cut at two positions taken from `a` and `b` (in either order, possibly equal).
fn three_pieces(msg: &[u8], a: u16, b: u16) -> [&[u8]; 3] {
    let a = usize::from(a) % (msg.len() + 1);
    let b = usize::from(b) % (msg.len() + 1);
    let (a, b) = (a.min(b), a.max(b));
    [&msg[..a], &msg[a..b], &msg[b..]]
}

/// Every check on one RECT: returns the pixel bytes if it decoded.
fn check_all(order: PixelOrder, hdr: &RectHeader, payload: &[u8], cuts: (u16, u16)) -> Decoded {
    let msg = message(hdr, payload);
    let whole = decode_rect(order, &[&msg]);
    let streamed = decode_rect(order, &three_pieces(&msg, cuts.0, cuts.1));
    match (&streamed, &whole) {
        (Ok(a), Ok(b)) => assert!(a == b, "split decoding differs"),
        (Err(_), Err(_)) => {}
        _ => panic!("split decoding disagrees on validity: {streamed:?} vs {whole:?}"),
    }
    // Byte by byte: the worst case for the decoder's bit accumulator.
    if msg.len() <= 2048 {
        let bytes: Vec<&[u8]> = msg.chunks(1).collect();
        let one_by_one = decode_rect(order, &bytes);
        assert!(
            one_by_one.is_ok() == whole.is_ok(),
            "byte-by-byte decoding disagrees on validity"
        );
        if let (Ok(a), Ok(b)) = (&one_by_one, &whole) {
            assert!(a == b, "byte-by-byte decoding differs");
        }
    }
    let checked = check_rect(order, &three_pieces(&msg, cuts.1, cuts.0));
    match (&checked, &whole) {
        (Ok(n), Ok(_)) => assert_eq!(*n, u64::from(hdr.pixel_count()), "checking-only count"),
        (Err(_), Err(_)) => {}
        _ => panic!("checking-only decoding disagrees on validity: {checked:?} vs {whole:?}"),
    }
    let reference = decode_format_to_vec(
        hdr.codec,
        PixelFormat::Rgb565(order),
        hdr.w,
        hdr.h,
        payload,
    );
    match (&whole, &reference) {
        (Ok((px, _)), Ok(r)) => {
            assert_eq!(px.len(), hdr.pixel_count() as usize * 2, "pixel bytes");
            assert!(px == r, "pixels differ from the reference decoder");
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "Decoder and decode_format_to_vec disagree: {:?} vs {:?}",
            whole.as_ref().map(|_| ()),
            reference.map(|_| ())
        ),
    }
    whole
}

fn fuzz_decode(order: PixelOrder, half: bool, data: &[u8]) {
    let [w, h, c0, c1, c2, payload @ ..] = data else {
        return;
    };
    let s = if half { 2 } else { 1 };
    let hdr = RectHeader {
        x: u16::from(c2 % 40),
        y: u16::from(c2 / 40 % 20),
        // 0..=136 × 0..=20 (twice that for DCT_HALF): mostly within the limits, some past them,
        // some zero.
        w: (u16::from(*w) * s) % (137 * s),
        h: (u16::from(*h) * s + u16::from(*c0 & 1)) % (21 * s),
        codec: if half { Codec::DctHalf } else { Codec::Dct },
    };
    let payload = &payload[..payload.len().min(usize::from(u16::MAX) - RECT_FIELDS_LEN)];
    let cuts = (u16::from_le_bytes([*c0, *c1]), u16::from(*c1) << 4 | u16::from(*c0));
    let whole = check_all(order, &hdr, payload, cuts);
    if whole.is_ok() {
        let fits = if half { dct::fits_half(hdr.w, hdr.h) } else { dct::fits(hdr.w, hdr.h) };
        assert!(fits, "a {}x{} {:?} rect decoded", hdr.w, hdr.h, hdr.codec);
    }
}

fn fuzz_round_trip(half: bool, data: &[u8]) {
    let [w, h, quality, cut, c0, c1, bytes @ ..] = data else {
        return;
    };
    let s = if half { 2 } else { 1 };
    let width = usize::from(*w) % (s * usize::from(dct::MAX_WIDTH)) + 1;
    let height = usize::from(*h & 0x7F) % (s * usize::from(dct::MAX_HEIGHT)) + 1;
    // Strided storage: a spare column on the right when bit 7 of `h` is set.
    let stride = width + usize::from(*h >> 7);
    let words: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let pixels: Vec<u16> = if words.is_empty() {
        vec![0; stride * height]
    } else {
        words.iter().copied().cycle().take(stride * height).collect()
    };
    let px = Pixels {
        data: &pixels,
        stride,
        width,
        height,
    };
    let mut out = vec![0u8; 32 * 1024];
    let encode = |out: &mut [u8]| {
        if half {
            dct::encode_half(px, *quality, out)
        } else {
            dct::encode(px, *quality, out)
        }
    };
    let n = encode(&mut out).unwrap_or_else(|e| panic!("DCT failed on a roomy buffer: {e:?}"));
    let encoded = &out[..n];
    assert_eq!(encoded[0], (*quality).clamp(1, 100), "the quality byte");
    let hdr = RectHeader {
        x: 0,
        y: 0,
        w: width as u16,
        h: height as u16,
        codec: if half { Codec::DctHalf } else { Codec::Dct },
    };
    let cuts = (u16::from_le_bytes([*c0, *c1]), u16::from_le_bytes([*c1, *cut]));
    let be = check_all(PixelOrder::BigEndian, &hdr, encoded, cuts)
        .unwrap_or_else(|e| panic!("DCT output does not decode: {e}"));
    let le = check_all(PixelOrder::LittleEndian, &hdr, encoded, cuts)
        .unwrap_or_else(|e| panic!("DCT output does not decode little-endian: {e}"));
    assert_eq!(be.0.len(), width * height * 2, "decoded pixel bytes");
    let swapped: Vec<u8> = be.0.chunks(2).flat_map(|p| [p[1], p[0]]).collect();
    assert!(swapped == le.0, "the byte orders decode to different pixels");
    // A smaller buffer: the same bytes or DoesNotFit.
    let small = usize::from(*cut) * n / 255;
    let mut out2 = vec![0u8; small];
    match encode(&mut out2) {
        Ok(m) => assert_eq!(&out2[..m], encoded, "DCT output depends on room"),
        Err(EncodeFail::DoesNotFit) => assert!(small < n),
        Err(e) => panic!("DCT: {e:?} on a small buffer"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let order = if mode & 2 == 0 {
        PixelOrder::BigEndian
    } else {
        PixelOrder::LittleEndian
    };
    let half = mode & 4 != 0;
    if mode & 1 == 0 {
        fuzz_decode(order, half, rest);
    } else {
        fuzz_round_trip(half, rest);
    }
});
