//! Fuzzes what happens to a camera's JPEG (a WebSocket message, an HTTP body, a Picamera TCP frame
//! starting `FF D8 FF`): [`jpeg::inspect`] on arrival, [`MediaFrame::from_jpeg`], then every form a
//! consumer asks for ([`MediaFrame::rgba`], [`MediaFrame::i420`], [`MediaFrame::jpeg`], the viewer
//! message). Two modes, chosen by the low 2 bits of the first byte:
//!
//! * **raw** (0): the rest is the camera's message as it arrived.
//! * **crafted** (1..=3): a real JPEG from the input's pixels, with a size (up to 64 × 64), chroma
//!   subsampling (every one libjpeg-turbo writes, or pixelwire-media's own encoder), quality,
//!   progressive / arithmetic / lossless coding from the input, then up to 7 edits (set, flip,
//!   insert, delete bytes; cut the stream and end it with EOI) between its SOI and EOI markers.
//!   The smoke run has no coverage feedback, so random bytes alone would never get past `inspect`.
//!
//! Must never panic, and:
//! * `inspect` ignores zero padding after EOI (but for headers that do not parse: their segments
//!   may run on into it), and `from_jpeg` accepts exactly what it accepts, at the size it reports
//!   (within `1..=MAX_SIDE`);
//! * the frame's JPEG is the camera's bytes themselves, and its viewer message carries them with
//!   the frame's size;
//! * a decoded RGBA frame has the inspected size and `w × h × 4` bytes; a decoded I420 has the
//!   inspected size cropped to even and planes of `w × h` and `w/2 × h/2` bytes; a JPEG that is not
//!   4:2:0 converts to I420 from its RGBA exactly as `I420::from_rgba` does;
//! * every failed decode is reported to the frame's hook once, as [`JpegError::Decode`], and a
//!   form asked for again is the same (shared, not decoded again, not reported again);
//! * a JPEG straight from an encoder (no edits) inspects to the size and subsampling it was encoded
//!   with, and decodes to RGBA, and to I420 unless it is smaller than 2 × 2.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pixelwire_fuzz::Seeded;
use pixelwire_media::jpeg::{self, JpegError, MAX_SIDE};
use pixelwire_media::viewer_message::{self, KIND_JPEG};
use pixelwire_media::{I420, MediaFrame};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

/// Larger images (a mutated frame header can say up to 8192 × 8192) are inspected but not
/// decoded: the decoder's work grows with the area, its code paths do not.
const MAX_DECODED_PIXELS: u32 = 1 << 18;

/// What the crafted mode encoded.
#[derive(Debug)]
struct Crafted {
    width: u32,
    height: u32,
    subsamp: Subsamp,
    lossless: bool,
}

/// One edit: an op, a position between SOI and EOI (modulo), a value.
type Edit = (u8, u16, u8);

/// A JPEG of `pixels` with options from `opts`, or `None` when libjpeg-turbo declines them.
fn encode(c: &Crafted, opts: u8, quality: i32, pixels: &[u8]) -> Option<Vec<u8>> {
    let (width, height) = (c.width, c.height);
    if opts & 7 == 0 {
        // pixelwire-media's own encoder: what snapshots and MJPEG viewers get.
        let jpeg = jpeg::encode_rgba(pixels, width, height, quality)
            .expect("pixelwire-media encodes any non-empty RGBA image");
        return Some(jpeg);
    }
    let mut tj = Compressor::new().ok()?;
    tj.set_quality(quality).ok()?;
    tj.set_subsamp(c.subsamp).ok()?;
    tj.set_progressive(opts & 0x08 != 0).ok()?;
    tj.set_arithmetic(opts & 0x10 != 0).ok()?;
    tj.set_optimize(opts & 0x20 != 0).ok()?;
    tj.set_lossless(c.lossless).ok()?;
    let image = Image {
        pixels,
        width: width as usize,
        pitch: width as usize * 4,
        height: height as usize,
        format: PixelFormat::RGBA,
    };
    tj.compress_to_vec(image).ok()
}

/// Applies `edits` between SOI and EOI.
fn mutate(data: &mut Vec<u8>, edits: &[Edit]) {
    for &(op, pos, value) in edits {
        let inner = data.len().saturating_sub(4).max(1);
        let at = 2 + usize::from(pos) % inner;
        if at + 2 > data.len() {
            break;
        }
        match op % 5 {
            0 => data[at] = value,
            1 => data[at] ^= 1 << (value % 8),
            2 => data.insert(at, value),
            3 => {
                let end = (at + usize::from(value % 16) + 1).min(data.len() - 2);
                data.drain(at..end);
            }
            _ => {
                data.truncate(at);
                data.extend_from_slice(&[0xFF, 0xD9]);
            }
        }
    }
}

fn check(data: Vec<u8>, crafted: Option<&Crafted>, rgba_first: bool, padding: usize) {
    let info = jpeg::inspect(&data);
    let mut padded = data.clone();
    padded.resize(data.len() + padding, 0);
    let padded = jpeg::inspect(&padded);
    match &info {
        // A header that parses ends before EOI, so what follows EOI cannot change it. (One that
        // does not parse may run on into the padding.)
        Ok(_) | Err(JpegError::NoSoi | JpegError::NoEoi) => {
            assert_eq!(padded, info, "zero padding after EOI")
        }
        _ => {}
    }

    let data = Bytes::from(data);
    let frame = MediaFrame::from_jpeg(data.clone(), 7, 1_234);
    let (info, frame) = match (info, frame) {
        (Ok(info), Ok(frame)) => (info, frame),
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            if let Some(c) = crafted {
                panic!("{c:?}: the encoder's own JPEG does not inspect: {a}");
            }
            return;
        }
        (a, b) => panic!(
            "inspect and from_jpeg disagree: {a:?} vs {:?}",
            b.map(|_| ())
        ),
    };
    assert!(data.starts_with(&[0xFF, 0xD8]));
    assert!((1..=MAX_SIDE).contains(&info.width) && (1..=MAX_SIDE).contains(&info.height));
    assert_eq!((frame.width, frame.height), (info.width, info.height));
    assert!(frame.is_jpeg());
    if let Some(c) = crafted {
        assert_eq!((info.width, info.height), (c.width, c.height));
        // (libjpeg-turbo writes lossless JPEGs without subsampling, whatever it is asked for.)
        let want_420 = c.subsamp == Subsamp::Sub2x2 && !c.lossless;
        assert_eq!(info.is_420, want_420, "{c:?}");
    }

    // Pass-through: no decode, no copy.
    let own = frame.jpeg().expect("a JPEG frame is its JPEG");
    assert!(own.as_ptr() == data.as_ptr() && own.len() == data.len());
    let msg = frame.viewer_jpeg_message().expect("a viewer message");
    let (hdr, payload) = viewer_message::parse(&msg).expect("a viewer message parses");
    assert_eq!(hdr.kind, KIND_JPEG);
    assert_eq!(
        (u32::from(hdr.width), u32::from(hdr.height)),
        (info.width, info.height)
    );
    assert_eq!(hdr.capture_time_us, 1_234);
    assert!(payload == &data[..]);

    if info.width * info.height > MAX_DECODED_PIXELS {
        return;
    }
    let reports = Arc::new(AtomicUsize::new(0));
    let bad_report = Arc::new(Mutex::new(None));
    let (r, bad) = (reports.clone(), bad_report.clone());
    let frame = frame.with_decode_error_hook(Arc::new(move |e: &JpegError| {
        r.fetch_add(1, Ordering::Relaxed);
        if !matches!(e, JpegError::Decode(_)) {
            *bad.lock().expect("not poisoned") = Some(e.clone());
        }
    }));
    let (rgba, i420) = if rgba_first {
        let rgba = frame.rgba();
        (rgba, frame.i420())
    } else {
        let i420 = frame.i420();
        (frame.rgba(), i420)
    };
    let failures = usize::from(rgba.is_none()) + usize::from(i420.is_none());
    assert_eq!(reports.load(Ordering::Relaxed), failures);
    if let Some(e) = bad_report.lock().expect("not poisoned").take() {
        panic!("a decode failure reported as {e:?}");
    }
    let (w, h) = (info.width, info.height);
    if let Some(f) = &rgba {
        assert_eq!((f.width, f.height), (w, h));
        assert_eq!(f.rgba.len(), (w * h * 4) as usize);
        assert_eq!((f.seq, f.capture_time_us), (7, 1_234));
    }
    if let Some(y) = &i420 {
        let (ew, eh) = (w & !1, h & !1);
        assert_eq!((y.width, y.height), (ew, eh));
        assert_eq!(y.y.len(), (ew * eh) as usize);
        assert_eq!(y.u.len(), (ew / 2 * eh / 2) as usize);
        assert_eq!(y.v.len(), y.u.len());
    }
    // Not 4:2:0 but with planes (4:2:2, 4:4:4, grey, ...): I420 comes from the JPEG's own planes;
    // its luma is the JPEG's Y exactly (libjpeg-turbo's greyscale output of the same data), and a
    // greyscale JPEG has neutral chroma.
    let planes = !info.is_420
        && turbojpeg::decompress_to_yuv(&data).is_ok_and(|y| {
            !matches!(y.subsamp, Subsamp::Sub2x2 | Subsamp::Unknown) && w >= 2 && h >= 2
        });
    if planes {
        if let Some(y) = &i420
            && let Ok(grey) = turbojpeg::decompress(&data, PixelFormat::GRAY)
        {
            let (ew, eh) = (y.width as usize, y.height as usize);
            for r in 0..eh {
                assert_eq!(
                    &y.y[r * ew..(r + 1) * ew],
                    &grey.pixels[r * grey.pitch..r * grey.pitch + ew],
                    "row {r} of the I420 luma is not the JPEG's Y"
                );
            }
            if turbojpeg::read_header(&data).is_ok_and(|hd| hd.subsamp == Subsamp::Gray) {
                assert!(
                    y.u.iter().chain(&y.v).all(|&c| c == 128),
                    "grey JPEG with chroma"
                );
            }
        }
    } else if !info.is_420 {
        // No planar form: I420 comes from the RGBA decode.
        match (&rgba, &i420) {
            (Some(f), Some(y)) => {
                let want = I420::from_rgba(&f.rgba, w, h).expect("at least 2x2");
                assert!(**y == want, "I420 is not the RGBA's conversion");
            }
            (Some(_), None) => assert!(w < 2 || h < 2, "{w}x{h}: RGBA but no I420"),
            (None, Some(_)) => panic!("I420 without the RGBA it is converted from"),
            (None, None) => {}
        }
    }
    if let Some(c) = crafted {
        assert!(
            rgba.is_some(),
            "{c:?}: the encoder's own JPEG does not decode"
        );
        assert_eq!(i420.is_some(), w >= 2 && h >= 2, "{c:?}: I420");
    }
    // Asked again: the same forms, shared, nothing reported again.
    assert_eq!(
        frame.rgba().map(|f| Arc::as_ptr(&f)),
        rgba.as_ref().map(Arc::as_ptr)
    );
    assert_eq!(
        frame.i420().map(|y| Arc::as_ptr(&y)),
        i420.as_ref().map(Arc::as_ptr)
    );
    assert_eq!(reports.load(Ordering::Relaxed), failures);
}

fuzz_target!(|data: &[u8]| {
    let mut input = Seeded::new(data);
    let mode = input.u8();
    let rgba_first = mode & 4 == 0;
    let padding = usize::from(mode >> 3 & 3) + 1;
    if mode & 3 == 0 {
        // Raw: the rest of the input as it is.
        check(
            data.get(1..).unwrap_or_default().to_vec(),
            None,
            rgba_first,
            padding,
        );
        return;
    }
    let opts = input.u8();
    let crafted = Crafted {
        width: u32::from(input.u8() % 64 + 1),
        height: u32::from(input.u8() % 64 + 1),
        subsamp: [
            Subsamp::Sub2x2,
            Subsamp::None,
            Subsamp::Sub2x1,
            Subsamp::Sub2x2,
            Subsamp::Gray,
            Subsamp::Sub1x2,
            Subsamp::Sub4x1,
            Subsamp::Sub1x4,
        ][usize::from(opts & 7)],
        lossless: opts & 7 != 0 && opts & 0x40 != 0,
    };
    let quality = i32::from(input.u8() % 100) + 1;
    let edits: Vec<Edit> = (0..input.u8() % 8)
        .map(|_| (input.u8(), input.u16(), input.u8()))
        .collect();
    let pixels = input.fill((crafted.width * crafted.height * 4) as usize);
    let Some(mut jpeg) = encode(&crafted, opts, quality, &pixels) else {
        return;
    };
    mutate(&mut jpeg, &edits);
    check(
        jpeg,
        edits.is_empty().then_some(&crafted),
        rgba_first,
        padding,
    );
});
