//! Fuzzes [`I420::from_padded`], which reads a Picamera raw `yuv` frame off the network
//! (`seed-protocols.md` §D: the width padded to a multiple of 32, the height to 16), against the
//! layout written out independently in [`Padded`]. Two modes, chosen by bit 0 of the first byte:
//!
//! * **parse**: a buffer of the exact length, a near miss (±3 bytes) or any length up to 8 KiB, at a
//!   size `w, h` in `0..=64`. It must be accepted exactly when its length is the padded I420 length
//!   and the even-cropped size is not empty, and then hold the visible part of each plane, byte for
//!   byte, with even dimensions; its RGBA conversion is `w × h × 4` bytes.
//! * **round trip**: an I420 image (even size up to 64 × 64) padded the way Picamera pads it, with
//!   arbitrary bytes in the padding, must come back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_fuzz::{Padded, Seeded};
use pixelwire_media::yuv::{I420, padded_i420_len};

fn fuzz_parse(mut input: Seeded<'_>) {
    let (w, h) = (u32::from(input.u8() % 65), u32::from(input.u8() % 65));
    let layout = Padded::new(w, h);
    let exact = layout.i420_len() as usize;
    assert_eq!(padded_i420_len(w, h), exact);
    let len = match input.u8() % 4 {
        0 | 1 => exact,
        2 => (exact + 3).saturating_sub(usize::from(input.u8() % 7)),
        _ => usize::from(input.u16() % 8192),
    };
    let buf = input.fill(len);
    let got = I420::from_padded(&buf, w, h);
    let valid = len == exact && w >= 2 && h >= 2;
    let Some(img) = got else {
        assert!(!valid, "refused a valid {w}x{h} buffer of {len} bytes");
        return;
    };
    assert!(
        valid,
        "accepted {len} bytes at {w}x{h} (want {exact}, size >= 2x2)"
    );
    assert_eq!((img.width, img.height), (w & !1, h & !1));
    let [y, u, v] = layout.crop_i420(&buf);
    assert!(img.y == y, "Y plane differs");
    assert!(img.u == u, "U plane differs");
    assert!(img.v == v, "V plane differs");
    assert_eq!(img.to_rgba().len(), (img.width * img.height * 4) as usize);
}

fn fuzz_round_trip(mut input: Seeded<'_>) {
    let w = u32::from(input.u8() % 32 + 1) * 2;
    let h = u32::from(input.u8() % 32 + 1) * 2;
    let pad = input.u8();
    let (cw, ch) = ((w / 2) as usize, (h / 2) as usize);
    let planes = input.fill((w * h) as usize + 2 * cw * ch);
    let (y, chroma) = planes.split_at((w * h) as usize);
    let (u, v) = chroma.split_at(cw * ch);
    let img = I420 {
        width: w,
        height: h,
        y: y.to_vec(),
        u: u.to_vec(),
        v: v.to_vec(),
    };
    // Pad as Picamera does; the padding holds whatever the camera left there.
    let layout = Padded::new(w, h);
    let (pw, ph) = (layout.pw as usize, layout.ph as usize);
    let mut buf: Vec<u8> = (0..layout.i420_len())
        .map(|i| pad.wrapping_add(i as u8))
        .collect();
    let mut put = |start: usize, stride: usize, plane: &[u8], width: usize| {
        for (r, row) in plane.chunks_exact(width).enumerate() {
            buf[start + r * stride..][..width].copy_from_slice(row);
        }
    };
    put(0, pw, &img.y, w as usize);
    put(pw * ph, pw / 2, &img.u, cw);
    put(pw * ph + pw / 2 * (ph / 2), pw / 2, &img.v, cw);
    let back = I420::from_padded(&buf, w, h).expect("a padded I420 frame parses");
    assert!(back == img, "{w}x{h}: the padded round trip differs");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Seeded::new(data);
    if input.u8() & 1 == 0 {
        fuzz_parse(input);
    } else {
        fuzz_round_trip(input);
    }
});
