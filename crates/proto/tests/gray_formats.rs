//! The grey and monochrome pixel formats (`docs/protocol.md`, "Pixel formats"): the HELLO byte
//! (an old device's HELLO parses unchanged and means RGB565), exact codec bytes as hex literals,
//! round trips of every codec in every format at awkward widths, the decoder fed a session split at
//! every byte offset, and the alignment rule for RECT `x`.

use pixelwire_proto::*;

/// Decodes one `w × h` rectangle's codec payload in `format` through the message decoder and
/// returns the units it produced (the RAW bytes).
fn decode_format_to_vec(
    codec: Codec,
    format: PixelFormat,
    w: u16,
    h: u16,
    payload: &[u8],
) -> Result<Vec<u8>, ProtoError> {
    let hdr = RectHeader {
        x: 0,
        y: 0,
        w,
        h,
        codec,
    };
    let mut msg = vec![0u8; 16];
    let k = hdr.encode(&mut msg, payload.len()).unwrap();
    msg.truncate(k);
    msg.extend_from_slice(payload);
    let mut d = Decoder::new(u16::MAX).with_format(format);
    let mut out = Vec::new();
    for ev in d.feed(&msg) {
        match ev? {
            Event::Pixels(b) => out.extend_from_slice(b),
            Event::Fill { pixel, count } => {
                for _ in 0..count {
                    out.extend_from_slice(&pixel[..format.unit_bytes()]);
                }
            }
            _ => {}
        }
    }
    if !d.is_idle() {
        return Err(ProtoError::PixelCountMismatch);
    }
    Ok(out)
}

const GREY: [PixelFormat; 3] = [PixelFormat::Gray8, PixelFormat::Gray4, PixelFormat::Mono1];

fn hello(format: PixelFormat) -> Hello {
    Hello {
        version: 1,
        width: 128,
        height: 64,
        pixel_format: format,
        codecs: CodecSet::all(),
        max_packet_bytes: 1024,
        frame_buffer_bytes: 0,
        window: 2,
        device_id: ShortStr::new("oled-1").unwrap(),
        firmware: ShortStr::new("fw").unwrap(),
    }
}

#[test]
fn hello_pixel_format_byte() {
    let mut buf = [0u8; 128];
    for (format, byte) in [
        (PixelFormat::Rgb565(PixelOrder::BigEndian), 0x00),
        (PixelFormat::Rgb565(PixelOrder::LittleEndian), 0x01),
        (PixelFormat::Gray8, 0x02),
        (PixelFormat::Gray4, 0x03),
        (PixelFormat::Mono1, 0x04),
    ] {
        let n = hello(format).encode(&mut buf).unwrap();
        // header 4 + magic 4 + version 2 + width 2 + height 2: byte 14 of the message
        assert_eq!(buf[14], byte, "{format:?}");
        let evs: Vec<_> = Decoder::default()
            .feed(&buf[..n])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(evs, vec![Event::Hello(hello(format))]);
    }
    // A value this version does not know is refused with the field's name, so a device declaring
    // a future format gets a clear answer instead of pixels it cannot show.
    let n = hello(PixelFormat::Mono1).encode(&mut buf).unwrap();
    buf[14] = 0x05;
    assert_eq!(
        Decoder::default().feed(&buf[..n]).find_map(Result::err),
        Some(ProtoError::BadField("pixel_format"))
    );
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn encode(codec: Codec, format: PixelFormat, px: &[u16], w: usize) -> Result<Vec<u8>, EncodeFail> {
    let mut out = vec![0u8; px.len() * 3 + 64];
    let n = codec.encode(Pixels::packed(px, w, px.len() / w), format, &mut out)?;
    out.truncate(n);
    Ok(out)
}

#[test]
fn exact_codec_bytes() {
    // mono1, a 10x2 rect: rows of 2 bytes, leftmost pixel in bit 7, padding bits zero.
    let px = [
        1, 0, 1, 1, 0, 0, 0, 1, 1, 1, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    assert_eq!(
        encode(Codec::Raw, PixelFormat::Mono1, &px, 10).unwrap(),
        hex("b1 c0 00 40")
    );
    // gray4: 3 pixels a row, two rows: a5 f0 a5 f0; RLE sees 4 one-byte units.
    let g = [0xA, 0x5, 0xF, 0xA, 0x5, 0xF];
    assert_eq!(
        encode(Codec::Raw, PixelFormat::Gray4, &g, 3).unwrap(),
        hex("a5 f0 a5 f0")
    );
    assert_eq!(
        encode(Codec::Rle, PixelFormat::Gray4, &g, 3).unwrap(),
        hex("03 a5 f0 a5 f0")
    );
    // gray8: 300 pixels of 0x80 are one long run of one-byte units: ff 2c 01 80.
    assert_eq!(
        encode(Codec::Rle, PixelFormat::Gray8, &[0x80; 300], 300).unwrap(),
        hex("ff 2c 01 80")
    );
    // 5 black then 20 white mono bytes (40 + 160 pixels): palette [00, ff], tokens 40, f1 04.
    let mut m = vec![0u16; 40];
    m.extend([1; 160]);
    assert_eq!(
        encode(Codec::PaletteRle, PixelFormat::Mono1, &m, 200).unwrap(),
        hex("02 00 ff 40 f1 04")
    );
}

/// Deterministic test content: flat areas, gradients and noise, at the format's depth.
fn content(format: PixelFormat, w: usize, h: usize, seed: u32) -> Vec<u16> {
    let max = u32::from(format.max_value());
    (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            let v = if (x / 5 + y / 3 + seed).is_multiple_of(4) {
                max
            } else if y.is_multiple_of(3) {
                x * (max + 1) / w as u32
            } else if (x ^ y ^ seed) % 7 < 2 {
                (x.wrapping_mul(2_654_435_761) >> 7) ^ y
            } else {
                0
            };
            (v & max) as u16
        })
        .collect()
}

/// Packs pixel values into the wire's row layout by hand (the reference for every codec).
fn packed(format: PixelFormat, px: &[u16], w: usize) -> Vec<u8> {
    let bpp = format.bits_per_pixel() as usize;
    let mut out = Vec::new();
    for row in px.chunks(w) {
        let mut bytes = vec![0u8; (w * bpp).div_ceil(8)];
        for (x, &p) in row.iter().enumerate() {
            let bit = x * bpp;
            bytes[bit / 8] |= ((p as u8) << (8 - bpp)) >> (bit % 8);
        }
        out.extend(bytes);
    }
    out
}

#[test]
fn every_codec_round_trips_in_every_grey_format() {
    for format in GREY {
        for (w, h) in [(1, 1), (3, 2), (7, 5), (8, 8), (13, 9), (128, 64), (250, 3)] {
            for seed in 0..3 {
                let px = content(format, w, h, seed);
                let want = packed(format, &px, w);
                assert_eq!(want.len(), format.row_bytes(w) * h);
                for codec in Codec::LOSSLESS {
                    let bytes = match encode(codec, format, &px, w) {
                        Ok(b) => b,
                        Err(EncodeFail::NotApplicable) if codec == Codec::PaletteRle => continue,
                        Err(e) => panic!("{format:?} {codec:?} {w}x{h}: {e:?}"),
                    };
                    let got = decode_format_to_vec(codec, format, w as u16, h as u16, &bytes)
                        .unwrap_or_else(|e| panic!("{format:?} {codec:?} {w}x{h}: {e}"));
                    assert_eq!(got, want, "{format:?} {codec:?} {w}x{h} seed {seed}");
                }
            }
        }
    }
}

#[test]
fn rle_shrinks_flat_mono_and_palette_reads_few_grey_levels() {
    let flat = vec![0u16; 128 * 64];
    let n = encode(Codec::Rle, PixelFormat::Mono1, &flat, 128)
        .unwrap()
        .len();
    assert!(n <= 4, "{n} bytes for a black 128x64 mono panel");
    let ui: Vec<u16> = (0..200 * 10).map(|i| [0, 3, 9, 15][(i / 7) % 4]).collect();
    let raw = encode(Codec::Raw, PixelFormat::Gray8, &ui, 200)
        .unwrap()
        .len();
    let pal = encode(Codec::PaletteRle, PixelFormat::Gray8, &ui, 200)
        .unwrap()
        .len();
    assert!(pal * 3 < raw, "palette {pal} vs raw {raw}");
}

/// A server→device stream in `format`: WELCOME, three rects (one per codec) at aligned x, one
/// narrower than a byte at the right edge, FRAME_END; and the packed framebuffer it leaves.
fn stream(format: PixelFormat) -> (Vec<u8>, Vec<u8>) {
    let (w, h) = (36usize, 6usize);
    let px = content(format, w, h, 1);
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    let n = Welcome {
        version: 1,
        keepalive_ms: 1000,
        window: 2,
        codecs: CodecSet::all(),
    }
    .encode(&mut buf)
    .unwrap();
    out.extend_from_slice(&buf[..n]);
    let parts = [
        (0usize, 16usize, Codec::Rle),
        (16, 16, Codec::Raw),
        (32, 4, Codec::PaletteRle),
    ];
    for (x, rw, codec) in parts {
        let pixels = Pixels {
            data: &px[x..],
            stride: w,
            width: rw,
            height: h,
        };
        let mut payload = vec![0u8; 1024];
        let (codec, n) = match codec.encode(pixels, format, &mut payload) {
            Ok(n) => (codec, n),
            Err(_) => (
                Codec::Raw,
                Codec::Raw.encode(pixels, format, &mut payload).unwrap(),
            ),
        };
        let hdr = RectHeader {
            x: x as u16,
            y: 0,
            w: rw as u16,
            h: h as u16,
            codec,
        };
        let mut head = [0u8; 16];
        let k = hdr.encode(&mut head, n).unwrap();
        out.extend_from_slice(&head[..k]);
        out.extend_from_slice(&payload[..n]);
    }
    let n = FrameEnd {
        seq: 1,
        capture_time_us: 5,
        rect_count: 3,
    }
    .encode(&mut buf)
    .unwrap();
    out.extend_from_slice(&buf[..n]);
    (out, packed(format, &px, w))
}

fn run(format: PixelFormat, pieces: &[&[u8]]) -> Vec<u8> {
    let mut d = Decoder::default().with_format(format);
    let mut fbw = FramebufferWriter::with_format(36, 6, format);
    let mut fb = vec![0u8; format.frame_bytes(36, 6)];
    for piece in pieces {
        for ev in d.feed(piece) {
            fbw.apply(&mut fb, &ev.unwrap());
        }
    }
    assert!(d.is_idle());
    fb
}

#[test]
fn every_split_point_gives_the_same_framebuffer() {
    for format in GREY {
        let (bytes, want) = stream(format);
        assert_eq!(run(format, &[&bytes]), want, "{format:?}");
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(run(format, &[a, b]), want, "{format:?} split at {cut}");
        }
        let ones: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(format, &ones), want, "{format:?} byte by byte");
        for cut1 in (0..bytes.len()).step_by(5) {
            for cut2 in (cut1..bytes.len()).step_by(3) {
                let (a, rest) = bytes.split_at(cut1);
                let (b, c) = rest.split_at(cut2 - cut1);
                assert_eq!(run(format, &[a, b, c]), want, "{cut1},{cut2}");
            }
        }
    }
}

#[test]
fn unaligned_x_and_wrong_unit_counts_are_errors() {
    let mut buf = [0u8; 64];
    let hdr = RectHeader {
        x: 4,
        y: 0,
        w: 8,
        h: 1,
        codec: Codec::Raw,
    };
    let k = hdr.encode(&mut buf, 1).unwrap();
    let msg = &buf[..k + 1];
    let mut d = Decoder::new(1024).with_format(PixelFormat::Mono1);
    assert_eq!(
        d.feed(msg).find_map(Result::err),
        Some(ProtoError::BadField("rect x alignment"))
    );
    // gray4 at x=4 is aligned, but one byte holds 2 pixels, so 8 pixels need 4 bytes, not 1.
    let mut d = Decoder::new(1024).with_format(PixelFormat::Gray4);
    let evs: Vec<_> = d.feed(msg).collect();
    assert!(matches!(evs[0], Ok(Event::RectBegin(_))), "{evs:?}");
    assert_eq!(evs.last(), Some(&Err(ProtoError::PixelCountMismatch)));
    // RLE of one-byte units overshooting the count
    assert_eq!(
        decode_format_to_vec(Codec::Rle, PixelFormat::Mono1, 8, 1, &hex("81 ff")),
        Err(ProtoError::PixelCountMismatch)
    );
    assert_eq!(
        decode_format_to_vec(Codec::Rle, PixelFormat::Mono1, 16, 1, &hex("81 ff")).unwrap(),
        vec![0xff, 0xff]
    );
}
