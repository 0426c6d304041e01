//! Fuzzes Picamera raw frames (seed 004, `seed-protocols.md` §D), what the TCP ingest hands
//! [`raw_frame`] after its length word: I420, RGB24 or RGBA at the configured size, padded to a
//! multiple of 32 wide and 16 high, told apart only by length. Checked against the layout written
//! out independently in [`Padded`]:
//!
//! * [`RawLayout::for_len`] at any configurable size (`1..=8192` each way, `cameras.tcp_raw_*`)
//!   and a length at or near one of the three: the layout whose length it is, or `None`;
//! * [`raw_frame`] at a size from the input kept small (`0..=64` each way, so runs stay fast) on a
//!   buffer of a layout's length, a near miss or any length: a frame exactly when the length is a
//!   layout's (and an I420 frame crops to at least 2 × 2). The frame keeps the sequence number and
//!   capture time, has the visible size (even-cropped for I420), and its pixels are the visible part
//!   of the buffer byte for byte (RGB24/RGBA: R, G, B then opaque alpha; I420: each plane). Its other
//!   forms work as a consumer asks for them: RGBA and I420 of the right sizes, a JPEG that inspects
//!   to the frame's size, and a viewer message that parses back to the frame's header and JPEG.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_fuzz::{Padded, Seeded};
use pixelwire_media::jpeg;
use pixelwire_media::picamera::{RawLayout, raw_frame};
use pixelwire_media::viewer_message::{self, KIND_JPEG};

/// The layout of a `len`-byte frame at `p`'s size, by the reference arithmetic.
fn reference_layout(p: &Padded, len: u64) -> Option<RawLayout> {
    let matches = [
        (p.i420_len(), RawLayout::I420),
        (p.packed_len(3), RawLayout::Rgb24),
        (p.packed_len(4), RawLayout::Rgba),
    ]
    .into_iter()
    .filter(|&(l, _)| l == len)
    .map(|(_, layout)| layout)
    .collect::<Vec<_>>();
    // At any non-empty size the three lengths differ (1.5, 3 and 4 bytes per padded pixel).
    assert!(matches.len() <= 1 || p.pw * p.ph == 0, "{p:?}: {matches:?}");
    matches.first().copied()
}

/// A length at, or up to 3 bytes off, one of the three layouts' (or any length up to 64 KiB).
fn length(input: &mut Seeded<'_>, p: &Padded) -> u64 {
    let sel = input.u8();
    let base = match sel % 5 {
        0 => p.i420_len(),
        1 => p.packed_len(3),
        2 => p.packed_len(4),
        3 => return u64::from(input.u16()),
        _ => p.i420_len() * u64::from(sel >> 4 & 3),
    };
    if sel & 8 == 0 {
        base
    } else {
        (base + 3).saturating_sub(u64::from(input.u8() % 7))
    }
}

fn check_for_len(input: &mut Seeded<'_>) {
    let w = u32::from(input.u16() % 8192 + 1);
    let h = u32::from(input.u16() % 8192 + 1);
    let p = Padded::new(w, h);
    let len = length(input, &p);
    let want = reference_layout(&p, len);
    assert_eq!(
        RawLayout::for_len(len as usize, w, h),
        want,
        "{w}x{h}, {len} bytes"
    );
}

fn check_raw_frame(input: &mut Seeded<'_>) {
    let (w, h) = (u32::from(input.u8() % 65), u32::from(input.u8() % 65));
    let p = Padded::new(w, h);
    let len = length(input, &p);
    let seq = input.u64();
    let capture_time_us = input.u64();
    let data = input.fill(len as usize);
    let layout = reference_layout(&p, len);
    assert_eq!(RawLayout::for_len(data.len(), w, h), layout);
    let expect_frame = match layout {
        None => false,
        Some(RawLayout::I420) => w >= 2 && h >= 2,
        Some(_) => true,
    };
    let Some(frame) = raw_frame(&data, w, h, seq, capture_time_us) else {
        assert!(!expect_frame, "{w}x{h}: refused a {layout:?} frame");
        return;
    };
    let layout = layout.expect("a frame, so a layout");
    assert!(expect_frame, "{w}x{h}: a frame from {len} bytes");
    assert_eq!((frame.seq, frame.capture_time_us), (seq, capture_time_us));
    assert!(!frame.is_jpeg() && frame.damage().is_none());
    let rgba = frame.rgba().expect("a raw frame has RGBA");
    match layout {
        RawLayout::I420 => {
            assert_eq!((frame.width, frame.height), (w & !1, h & !1));
            let img = frame.i420().expect("an I420 frame is I420");
            let [y, u, v] = p.crop_i420(&data);
            assert!(
                img.y == y && img.u == u && img.v == v,
                "{w}x{h}: planes differ"
            );
            assert_eq!(rgba.rgba.len(), (frame.width * frame.height * 4) as usize);
        }
        RawLayout::Rgb24 | RawLayout::Rgba => {
            let bpp = if layout == RawLayout::Rgb24 { 3 } else { 4 };
            assert_eq!((frame.width, frame.height), (w, h));
            let mut want = Vec::with_capacity((w * h * 4) as usize);
            for row in 0..p.h as usize {
                for x in 0..p.w as usize {
                    let i = (row * p.pw as usize + x) * bpp;
                    want.extend_from_slice(&[data[i], data[i + 1], data[i + 2], 255]);
                }
            }
            assert!(rgba.rgba == want, "{w}x{h} {layout:?}: pixels differ");
            match frame.i420() {
                Some(img) => assert_eq!((img.width, img.height), (w & !1, h & !1)),
                None => assert!(w < 2 || h < 2, "{w}x{h}: no I420"),
            }
        }
    }
    assert_eq!((rgba.width, rgba.height), (frame.width, frame.height));
    assert_eq!((rgba.seq, rgba.capture_time_us), (seq, capture_time_us));
    // What MJPEG and JPEG viewers get.
    let jpg = frame.jpeg().expect("a raw frame encodes as JPEG");
    let info = jpeg::inspect(&jpg).expect("an encoded frame inspects");
    assert_eq!((info.width, info.height), (frame.width, frame.height));
    let msg = frame
        .viewer_jpeg_message()
        .expect("a raw frame has a viewer message");
    let (hdr, payload) = viewer_message::parse(&msg).expect("a viewer message parses");
    assert_eq!(hdr.kind, KIND_JPEG);
    assert_eq!(
        (u32::from(hdr.width), u32::from(hdr.height)),
        (frame.width, frame.height)
    );
    assert_eq!(hdr.capture_time_us, capture_time_us);
    assert!(
        payload == &jpg[..],
        "the viewer message carries another JPEG"
    );
}

fuzz_target!(|data: &[u8]| {
    let mut input = Seeded::new(data);
    check_raw_frame(&mut input);
    check_for_len(&mut input);
});
