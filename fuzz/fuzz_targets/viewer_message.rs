//! Fuzzes the browser viewer's message header, [`pixelwire_media::viewer_message`] (`docs/api.md`,
//! "Viewer WebSocket": kind, flags, width, height, reserved, capture time, then the payload), in
//! two modes chosen by bit 0 of the first byte:
//!
//! * **parse**: a message of 0 to 39 bytes (the rest of the input, repeated), as a reader receives
//!   it; bit 1 of the first byte makes its kind one the server sends. [`parse`] must refuse exactly
//!   the messages shorter than the header, read every field from its documented offset and hand
//!   back the payload in place; and building the parsed header again must give back the message's
//!   bytes, except the bits a reader ignores (flag bits 1..=7, the reserved word) which come back
//!   zero.
//! * **round trip**: [`build`] is given fields from the input (width and height as `u32`, so the
//!   clamp to `u16` is exercised). The message must be the header plus the payload, and [`parse`]
//!   must give back what was built.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_fuzz::Seeded;
use pixelwire_media::viewer_message::{
    HEADER_LEN, Header, KIND_H264, KIND_JPEG, MessageKind, build, parse,
};

fn kind_of(byte: u8) -> Option<MessageKind> {
    match byte {
        KIND_H264 => Some(MessageKind::H264),
        KIND_JPEG => Some(MessageKind::Jpeg),
        _ => None,
    }
}

fn fuzz_parse(msg: &[u8]) {
    let Some((h, payload)) = parse(msg) else {
        assert!(
            msg.len() < HEADER_LEN,
            "refused a {}-byte message",
            msg.len()
        );
        return;
    };
    assert!(msg.len() >= HEADER_LEN);
    let le16 = |i: usize| u16::from_le_bytes([msg[i], msg[i + 1]]);
    let want = Header {
        kind: msg[0],
        keyframe: msg[1] & 1 == 1,
        width: le16(2),
        height: le16(4),
        capture_time_us: u64::from_le_bytes(msg[8..16].try_into().expect("8 bytes")),
    };
    assert_eq!(h, want);
    assert!(
        std::ptr::eq(payload, &msg[HEADER_LEN..]),
        "the payload is not the message's own bytes"
    );
    // Build it again: the same bytes but for what a reader ignores.
    let Some(kind) = kind_of(h.kind) else {
        return;
    };
    let again = build(
        kind,
        h.keyframe,
        u32::from(h.width),
        u32::from(h.height),
        h.capture_time_us,
        payload,
    );
    let mut canonical = msg.to_vec();
    canonical[1] &= 1;
    canonical[6..8].fill(0);
    assert!(again[..] == canonical[..], "build(parse(msg)) differs");
}

fn fuzz_round_trip(mut input: Seeded<'_>) {
    let flags = input.u8();
    let kind = if flags & 1 == 0 {
        MessageKind::H264
    } else {
        MessageKind::Jpeg
    };
    let keyframe = flags & 2 != 0;
    // Mostly in range; bit 2 / bit 3 ask for a width / height above u16::MAX.
    let side = |v: u32, big: bool| if big { v } else { v & 0xFFFF };
    let width = side(input.u32(), flags & 4 != 0);
    let height = side(input.u32(), flags & 8 != 0);
    let capture_time_us = input.u64();
    let len = usize::from(input.u8() % 32);
    let payload = &input.fill(len)[..];
    let msg = build(kind, keyframe, width, height, capture_time_us, payload);
    assert_eq!(msg.len(), HEADER_LEN + payload.len());
    assert_eq!(msg[6..8], [0, 0], "reserved word");
    let (h, got) = parse(&msg).expect("a built message parses");
    assert_eq!(
        h,
        Header {
            kind: kind as u8,
            keyframe,
            width: width.min(0xFFFF) as u16,
            height: height.min(0xFFFF) as u16,
            capture_time_us,
        }
    );
    assert!(got == payload, "payload differs");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Seeded::new(data);
    let mode = input.u8();
    if mode & 1 == 0 {
        // Around the header's length, so that both sides of the limit are tried.
        let len = usize::from(input.u8() % 40);
        let mut msg = input.fill(len);
        if mode & 2 != 0
            && let Some(kind) = msg.first_mut()
        {
            *kind = [KIND_H264, KIND_JPEG][usize::from(*kind & 1)];
        }
        fuzz_parse(&msg);
    } else {
        fuzz_round_trip(input);
    }
});
