//! The decoder fed a whole server→device session split at every byte offset (TCP reads arrive in
//! pieces of any size) must produce the same framebuffer as one contiguous read.

use pixelwire_proto::*;

/// Builds a stream: WELCOME, three rects in three codecs, FRAME_END, PING.
fn session_stream() -> (Vec<u8>, Vec<u16>) {
    let (w, h) = (24usize, 10usize);
    let mut img = vec![0u16; w * h];
    for y in 0..h {
        for x in 0..w {
            img[y * w + x] = if x < 8 {
                0x001F
            } else if x < 16 {
                ((x * 31 + y * 7) % 65536) as u16
            } else {
                [0xFFFF, 0][(x + y) % 2]
            };
        }
    }
    let mut out = vec![0u8; 8192];
    let mut pos = 0;
    pos += Welcome {
        version: 1,
        keepalive_ms: 1000,
        window: 2,
        codecs: CodecSet::all(),
    }
    .encode(&mut out[pos..])
    .unwrap();
    for (i, codec) in [Codec::Rle, Codec::Raw, Codec::PaletteRle]
        .into_iter()
        .enumerate()
    {
        let x = i * 8;
        let px = Pixels {
            data: &img[x..],
            stride: w,
            width: 8,
            height: h,
        };
        let mut payload = vec![0u8; 1024];
        let n = codec
            .encode(px, PixelOrder::BigEndian, &mut payload)
            .unwrap();
        let hdr = RectHeader {
            x: x as u16,
            y: 0,
            w: 8,
            h: h as u16,
            codec,
        };
        pos += hdr.encode(&mut out[pos..], n).unwrap();
        out[pos..pos + n].copy_from_slice(&payload[..n]);
        pos += n;
    }
    pos += FrameEnd {
        seq: 1,
        capture_time_us: 5,
        rect_count: 3,
    }
    .encode(&mut out[pos..])
    .unwrap();
    pos += Ping { time_us: 9 }.encode(&mut out[pos..]).unwrap();
    out.truncate(pos);
    (out, img)
}

fn run(pieces: &[&[u8]]) -> (Vec<u8>, Vec<String>) {
    let mut d = Decoder::default();
    let mut fbw = FramebufferWriter::new(24, 10);
    let mut fb = vec![0u8; 24 * 10 * 2];
    let mut control = Vec::new();
    for piece in pieces {
        for ev in d.feed(piece) {
            let ev = ev.unwrap();
            if !fbw.apply(&mut fb, &ev) && !matches!(ev, Event::RectBegin(_) | Event::RectEnd) {
                control.push(format!("{ev:?}"));
            }
        }
    }
    assert!(d.is_idle());
    (fb, control)
}

#[test]
fn every_split_point_gives_the_same_result() {
    let (stream, img) = session_stream();
    let (fb, control) = run(&[&stream]);
    let want: Vec<u8> = img.iter().flat_map(|p| p.to_be_bytes()).collect();
    assert_eq!(fb, want);
    assert_eq!(control.len(), 3, "{control:?}");
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(
            run(&[a, b]),
            (fb.clone(), control.clone()),
            "split at {cut}"
        );
    }
    for cut1 in (0..stream.len()).step_by(7) {
        for cut2 in cut1..stream.len() {
            let (a, rest) = stream.split_at(cut1);
            let (b, c) = rest.split_at(cut2 - cut1);
            assert_eq!(run(&[a, b, c]).0, fb, "split at {cut1},{cut2}");
        }
    }
}

#[test]
fn one_byte_at_a_time() {
    let (stream, _) = session_stream();
    let pieces: Vec<&[u8]> = stream.chunks(1).collect();
    let whole = run(&[&stream]);
    assert_eq!(run(&pieces), whole);
}

#[test]
fn truncated_rect_payload_is_an_error_not_a_panic() {
    let (stream, _) = session_stream();
    // lie about the first rect's length: make it 1 byte shorter than its tokens need
    let welcome_len = 4 + 7;
    let mut bad = stream.clone();
    let len = u16::from_le_bytes([bad[welcome_len + 2], bad[welcome_len + 3]]);
    bad[welcome_len + 2..welcome_len + 4].copy_from_slice(&(len - 1).to_le_bytes());
    let mut d = Decoder::default();
    assert!(d.feed(&bad).any(|r| r.is_err()));
    // and one byte longer: surplus payload after the last pixel
    let mut bad = stream.clone();
    bad[welcome_len + 2..welcome_len + 4].copy_from_slice(&(len + 1).to_le_bytes());
    let mut d = Decoder::default();
    assert!(d.feed(&bad).any(|r| r.is_err()));
}

/// One RECT per codec over content with every token kind: RLE long runs (0xFF), literals and short
/// runs; PALETTE_RLE long runs (an extra byte) and short ones. The decoder has a one-call path for
/// tokens that arrive whole and a byte-by-byte one for tokens cut by a read; both must agree.
fn token_kinds_stream() -> (Vec<u8>, Vec<u16>) {
    let (w, h) = (32usize, 20usize);
    let mut img = vec![0u16; w * h];
    for (i, p) in img.iter_mut().enumerate() {
        *p = match i {
            0..200 => 0x07E0,                     // long run
            200..260 => (i * 97 % 65_521) as u16, // literal
            260..300 => [0x1234, 0xFFFF][i / 5 % 2],
            300..420 => 0xF800,                   // long palette run
            _ => [0x0000, 0xFFFF, 0x001F][i % 3], // short palette runs
        };
    }
    let mut out = vec![0u8; 8192];
    let mut pos = 0;
    for (codec, rows) in [(Codec::Rle, 0..10), (Codec::PaletteRle, 10..20)] {
        let px = Pixels {
            data: &img[rows.start * w..],
            stride: w,
            width: w,
            height: rows.len(),
        };
        let mut payload = vec![0u8; 2048];
        let n = match codec.encode(px, PixelOrder::BigEndian, &mut payload) {
            Ok(n) => n,
            Err(e) => panic!("{codec:?}: {e:?}"),
        };
        let hdr = RectHeader {
            x: 0,
            y: rows.start as u16,
            w: w as u16,
            h: rows.len() as u16,
            codec,
        };
        pos += hdr.encode(&mut out[pos..], n).unwrap();
        out[pos..pos + n].copy_from_slice(&payload[..n]);
        pos += n;
    }
    out.truncate(pos);
    (out, img)
}

#[test]
fn tokens_whole_and_cut_decode_alike() {
    let (stream, img) = token_kinds_stream();
    let mut d = Decoder::default();
    let mut fbw = FramebufferWriter::new(32, 20);
    let mut fb = vec![0u8; 32 * 20 * 2];
    for ev in d.feed(&stream) {
        fbw.apply(&mut fb, &ev.unwrap());
    }
    let want: Vec<u8> = img.iter().flat_map(|p| p.to_be_bytes()).collect();
    assert_eq!(fb, want, "one read");
    let pieces: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run_pixels(&pieces), want, "one byte at a time");
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(run_pixels(&[a, b]), want, "split at {cut}");
    }
}

fn run_pixels(pieces: &[&[u8]]) -> Vec<u8> {
    let mut d = Decoder::default();
    let mut fbw = FramebufferWriter::new(32, 20);
    let mut fb = vec![0u8; 32 * 20 * 2];
    for p in pieces {
        for ev in d.feed(p) {
            fbw.apply(&mut fb, &ev.unwrap());
        }
    }
    assert!(d.is_idle());
    fb
}
