//! Exact bytes of every message, as hex literals (docs/protocol.md shows the same bytes), and round
//! trips through the incremental decoder.

use pixelwire_proto::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode_one(bytes: &[u8]) -> Event<'_> {
    let mut d = Decoder::default();
    let evs: Vec<_> = d.feed(bytes).collect::<Result<_, _>>().unwrap();
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert!(d.is_idle());
    evs[0]
}

fn sample_hello() -> Hello {
    Hello {
        version: 1,
        width: 320,
        height: 240,
        pixel_format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs: CodecSet::all(),
        max_packet_bytes: 8192,
        frame_buffer_bytes: 65536,
        window: 2,
        device_id: ShortStr::new("desk-1").unwrap(),
        firmware: ShortStr::new("fw0.1").unwrap(),
    }
}

#[test]
fn hello_bytes() {
    let mut buf = [0u8; 128];
    let n = sample_hello().encode(&mut buf).unwrap();
    let want = hex("01 00 21 00                 # kind HELLO, flags, len 33
         50 58 57 4c                 # magic PXWL
         01 00                       # version 1
         40 01 f0 00                 # 320 x 240
         00                          # pixel format: RGB565 big-endian
         1f 00                       # codecs raw|rle|palette_rle|dct|dct_half
         00 20                       # max_packet_bytes 8192
         00 00 01 00                 # frame_buffer_bytes 65536
         02                          # window 2
         06 64 65 73 6b 2d 31        # device id desk-1
         05 66 77 30 2e 31           # firmware fw0.1"
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
        .as_str());
    assert_eq!(&buf[..n], want.as_slice());
    assert_eq!(decode_one(&want), Event::Hello(sample_hello()));
}

#[test]
fn welcome_ack_ping_pong_stats_bytes() {
    let mut buf = [0u8; 64];
    let w = Welcome {
        version: 1,
        keepalive_ms: 2000,
        window: 2,
        codecs: CodecSet::all(),
    };
    let n = w.encode(&mut buf).unwrap();
    assert_eq!(&buf[..n], hex("81 00 07 00 0100 d007 02 1f00").as_slice());
    assert_eq!(decode_one(&buf[..n]), Event::Welcome(w));

    let a = Ack {
        seq: 7,
        present_time_us: 0x0102030405,
        decode_us: 1500,
    };
    let n = a.encode(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        hex("02 00 10 00 07000000 0504030201000000 dc050000").as_slice()
    );
    assert_eq!(decode_one(&buf[..n]), Event::Ack(a));

    let p = Ping { time_us: 42 };
    let n = p.encode(&mut buf).unwrap();
    assert_eq!(&buf[..n], hex("03 00 08 00 2a00000000000000").as_slice());
    assert_eq!(decode_one(&buf[..n]), Event::Ping(p));

    let p = Pong {
        echo_us: 42,
        time_us: 43,
    };
    let n = p.encode(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        hex("04 00 10 00 2a00000000000000 2b00000000000000").as_slice()
    );
    assert_eq!(decode_one(&buf[..n]), Event::Pong(p));

    let s = Stats {
        fps_centi: 2950,
        decode_us: 1000,
        panel_us: 2000,
        rssi_dbm: -60,
        free_heap_bytes: 40000,
        panel_pixels_per_s: 2_500_000,
    };
    let n = s.encode(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        hex("05 00 13 00 860b e8030000 d0070000 c4 409c0000 a0252600").as_slice()
    );
    assert_eq!(decode_one(&buf[..n]), Event::Stats(s));
}

#[test]
fn frame_end_error_bytes() {
    let mut buf = [0u8; 160];
    let f = FrameEnd {
        seq: 1,
        capture_time_us: 1_700_000_000_000_000,
        rect_count: 3,
    };
    let n = f.encode(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        hex("91 00 0e 00 01000000 00401e18240a0600 0300").as_slice()
    );
    assert_eq!(decode_one(&buf[..n]), Event::FrameEnd(f));

    let e = ErrorMsg::new(ErrorCode::UnsupportedVersion, "version 2");
    let n = e.encode(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        hex("7f 00 0a 00 01 76657273696f6e2032").as_slice()
    );
    assert_eq!(decode_one(&buf[..n]), Event::Error(e));
}

#[test]
fn rect_bytes_and_events() {
    // A 2x1 RAW rect at (3,4): red, blue, big-endian.
    let bytes = hex("90 00 0d 00 0300 0400 0200 0100 00 f800 001f");
    let mut d = Decoder::default();
    let evs: Vec<_> = d.feed(&bytes).collect::<Result<_, _>>().unwrap();
    assert_eq!(
        evs,
        vec![
            Event::RectBegin(RectHeader {
                x: 3,
                y: 4,
                w: 2,
                h: 1,
                codec: Codec::Raw
            }),
            Event::Pixels(&[0xf8, 0x00, 0x00, 0x1f]),
            Event::RectEnd,
        ]
    );
    let mut buf = [0u8; 13];
    let h = RectHeader {
        x: 3,
        y: 4,
        w: 2,
        h: 1,
        codec: Codec::Raw,
    };
    assert_eq!(h.encode(&mut buf, 4).unwrap(), 13);
    assert_eq!(&buf[..13], &bytes[..13]);
}

#[test]
fn zero_flags_and_known_kinds_only() {
    let mut d = Decoder::default();
    assert_eq!(
        d.decode(&hex("03 01 08 00")),
        Err(ProtoError::ReservedFlags(1))
    );
    // sticky
    assert_eq!(d.decode(&[0]), Err(ProtoError::ReservedFlags(1)));
    let mut d = Decoder::default();
    assert_eq!(
        d.decode(&hex("42 00 00 00")),
        Err(ProtoError::UnknownKind(0x42))
    );
    let mut d = Decoder::default();
    assert_eq!(
        d.decode(&hex("7f 00 ff 00")),
        Err(ProtoError::ControlTooLong {
            kind: 0x7f,
            len: 255
        })
    );
}

#[test]
fn hello_errors_are_specific() {
    let mut buf = [0u8; 128];
    let mut h = sample_hello();
    h.version = 2;
    // encode does not validate, so a future-version hello can be built
    let n = h.encode(&mut buf).unwrap();
    let mut d = Decoder::default();
    let err = d.feed(&buf[..n]).find_map(Result::err).unwrap();
    assert_eq!(err, ProtoError::UnsupportedVersion(2));
    assert_eq!(
        err.to_string(),
        "unsupported protocol version 2; this side speaks version 1"
    );

    let mut bad = buf[..n].to_vec();
    bad[4] = b'X';
    let mut d = Decoder::default();
    assert_eq!(
        d.feed(&bad).find_map(Result::err),
        Some(ProtoError::BadMagic)
    );

    for (field, mutate) in [
        (
            "width",
            Box::new(|h: &mut Hello| h.width = 0) as Box<dyn Fn(&mut Hello)>,
        ),
        ("window", Box::new(|h: &mut Hello| h.window = 9)),
        (
            "codecs",
            Box::new(|h: &mut Hello| h.codecs = CodecSet::EMPTY.with(Codec::Rle)),
        ),
        (
            "max_packet_bytes",
            Box::new(|h: &mut Hello| h.max_packet_bytes = 10),
        ),
        (
            "device_id",
            Box::new(|h: &mut Hello| h.device_id = ShortStr::new("a b").unwrap()),
        ),
    ] {
        let mut h = sample_hello();
        mutate(&mut h);
        let n = h.encode(&mut buf).unwrap();
        let mut d = Decoder::default();
        assert_eq!(
            d.feed(&buf[..n]).find_map(Result::err),
            Some(ProtoError::BadField(field))
        );
    }
}

#[test]
fn rect_payload_limit_is_enforced() {
    let mut d = Decoder::new(100);
    let hdr = hex("90 00 65 00"); // 101 bytes
    assert!(d.decode(&hdr).is_err());
}

#[test]
fn codec_names_round_trip() {
    for c in Codec::ALL {
        assert_eq!(Codec::from_name(c.name()), Some(c));
    }
    assert_eq!(Codec::from_wire(9), Err(ProtoError::UnknownCodec(9)));
}

/// Issue 13, defect 9: a RECT sent by a device got ERROR 0x02 "payload exceeds max_packet_bytes".
/// The server's decoder (`Decoder::new(0)`) receives no RECT at all: one is a message in the wrong
/// direction, whatever its length (the session answers ERROR 0x03 unexpected).
#[test]
fn a_rect_from_a_device_is_unexpected() {
    for len in ["00 00", "0d 00", "00 20", "ff ff"] {
        let mut d = Decoder::new(0);
        assert_eq!(
            d.decode(&hex(&format!("90 00 {len}"))),
            Err(ProtoError::WrongDirection { kind: 0x90 }),
            "len {len}"
        );
    }
    assert_eq!(
        ProtoError::WrongDirection { kind: 0x90 }.to_string(),
        "message 0x90 is not sent in this direction"
    );
    // A device's decoder still takes RECTs up to its max_packet_bytes.
    let mut d = Decoder::new(100);
    assert!(d.decode(&hex("90 00 0d 00")).is_ok());
}

#[test]
fn refused_error_code_bytes() {
    let mut buf = [0u8; 160];
    let e = ErrorMsg::new(ErrorCode::Refused, "no");
    let n = e.encode(&mut buf).unwrap();
    assert_eq!(&buf[..n], hex("7f 00 03 00 07 6e6f").as_slice());
    assert_eq!(decode_one(&buf[..n]), Event::Error(e));
    assert_eq!(ErrorCode::from_wire(0x07), ErrorCode::Refused);
    assert_eq!(ErrorCode::from_wire(0x08), ErrorCode::Other);
}

/// One DCT RECT (codec 0x03), frozen: a 16x16 flat orange at quality 50 (the whole message and
/// the pixels a panel shows), then a 20x2 RECT whose second MCU is mostly edge replication. The
/// payload is the quality byte then the six blocks of each MCU (Y×4, Cb, Cr; JPEG baseline codes
/// from the Annex K tables, padded with 1 bits). A change to these bytes is a wire format change:
/// a device flashed before it would show other pixels than the server's shadow.
#[test]
fn dct_rect_bytes() {
    let orange = 0xFC00u16; // r 31, g 32, b 0
    let flat = vec![orange; 16 * 16];
    let mut payload = [0u8; 256];
    let n = codec::dct::encode(Pixels::packed(&flat, 16, 16), 50, &mut payload).unwrap();
    assert_eq!(&payload[..n], hex("32 b9 45 14 57 cb 1f 44 7f"));
    let hdr = RectHeader {
        x: 8,
        y: 4,
        w: 16,
        h: 16,
        codec: Codec::Dct,
    };
    let mut msg = [0u8; 64];
    let head = hdr.encode(&mut msg, n).unwrap();
    msg[head..head + n].copy_from_slice(&payload[..n]);
    let msg = &msg[..head + n];
    assert_eq!(
        msg,
        hex(
            "90 00 12 00 0800 0400 1000 1000 03 # RECT, len 18; x 8, y 4, 16x16, DCT
             32 b9 45 14 57 cb 1f 44 7f          # quality 50, the blocks"
                .lines()
                .map(|l| l.split('#').next().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
                .as_str()
        )
        .as_slice()
    );
    // Both byte orders, split anywhere: exactly the orange back (a flat block survives).
    for order in [PixelOrder::BigEndian, PixelOrder::LittleEndian] {
        for at in 0..=msg.len() {
            let mut d = Decoder::default().with_format(PixelFormat::Rgb565(order));
            let mut px = Vec::new();
            for piece in [&msg[..at], &msg[at..]] {
                for ev in d.feed(piece) {
                    match ev.unwrap() {
                        Event::Chunk(c) => px.extend_from_slice(c.as_bytes()),
                        Event::RectBegin(h) => assert_eq!(h, hdr),
                        Event::RectEnd => {}
                        other => panic!("{other:?}"),
                    }
                }
            }
            assert!(d.is_idle());
            let px: Vec<u16> = px
                .chunks(2)
                .map(|p| match order {
                    PixelOrder::BigEndian => u16::from_be_bytes([p[0], p[1]]),
                    PixelOrder::LittleEndian => u16::from_le_bytes([p[0], p[1]]),
                })
                .collect();
            assert_eq!(px, vec![0xFC00u16; 256], "{order:?} split at {at}");
        }
    }

    let two: Vec<u16> = (0..40u16)
        .map(|i| ((i % 20) * 0x0841) ^ ((i / 20) * 0xF800))
        .collect();
    let n = codec::dct::encode(Pixels::packed(&two, 20, 2), 50, &mut payload).unwrap();
    assert_eq!(
        &payload[..n],
        hex(
            "32 c7 86 08 47 48 90 7d 14 55 f8 55 47 45 03 e8 2a a4 55 76 2a e5 a4 d9 ee e6 10 8a \
             bd 91 71 18 85 ea 69 77 37 a9 fc e9 ab d2 96 bb 91 f2 f2 6e e7"
        )
    );
    let format = PixelFormat::Rgb565(PixelOrder::BigEndian);
    let px = codec::decode_format_to_vec(Codec::Dct, format, 20, 2, &payload[..n]).unwrap();
    assert_eq!(px.len(), 20 * 2 * 2);
}
