//! Fuzzes the device side of a session, [`pixelwire_proto::DeviceSession`], with arbitrary server
//! bytes in arbitrary chunks into a [`DoubleBuffer`] sink: what the ESP32 firmware and
//! `pixelwire display-emu` run on bytes off the network (`docs/protocol.md`, "Session").
//!
//! Input layout (all of it optional; missing bytes read as zero):
//! * byte 0: bit 0 pixel order, bits 1..=3 panel width class, bits 4..=6 height class, bit 7 whether
//!   to feed a WELCOME first (so the fuzzer starts past the handshake half of the time);
//! * bytes 1..=2: `max_packet_bytes` (LE, raised to the protocol minimum of 64);
//! * byte 3: the pixel format, `% 8`: 5 gray8, 6 gray4, 7 mono1, else RGB565 in byte 0's order;
//! * then chunks: `len: u8`, `dt: u8` (time advance, ms), `len` bytes of server input. A chunk of
//!   length 0 runs `handle_timeout` instead. Transmit bytes are drained after every step.
//!
//! Must never panic; once the session reports an error it must keep reporting it; whatever it
//! transmits must parse as device → server messages.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_fuzz::Input;
use pixelwire_proto::message::MIN_PACKET_BYTES;
use pixelwire_proto::{
    CodecSet, Decoder, DeviceSession, DoubleBuffer, Event, Hello, PROTOCOL_VERSION, PixelFormat,
    PixelOrder,
    ShortStr, Welcome,
};

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let flags = input.u8();
    let order = if flags & 1 == 0 {
        PixelOrder::BigEndian
    } else {
        PixelOrder::LittleEndian
    };
    let width = [1u16, 2, 7, 16, 24, 32, 64, 80][usize::from((flags >> 1) & 7)];
    let height = [1u16, 3, 8, 12, 16, 20, 40, 60][usize::from((flags >> 4) & 7)];
    let max_packet_bytes = input.u16().max(MIN_PACKET_BYTES);
    let format = match input.u8() % 8 {
        5 => PixelFormat::Gray8,
        6 => PixelFormat::Gray4,
        7 => PixelFormat::Mono1,
        _ => PixelFormat::Rgb565(order),
    };
    let hello = Hello {
        version: PROTOCOL_VERSION,
        width,
        height,
        pixel_format: format,
        codecs: CodecSet::all(),
        max_packet_bytes,
        frame_buffer_bytes: 0,
        window: 2,
        device_id: ShortStr::truncating("fuzz-device"),
        firmware: ShortStr::truncating("fuzz"),
    };
    let n = format.frame_bytes(usize::from(width), usize::from(height));
    let mut sink = DoubleBuffer::with_format(width, height, format, vec![0u8; n], vec![0u8; n]);
    let mut now_us = 1_000_000u64;
    let mut session = DeviceSession::new(hello, now_us);
    // The server's view of what the device sends.
    let mut server = Decoder::new(0);
    let mut check_tx = |session: &mut DeviceSession| {
        for ev in server.feed(session.take_transmit()) {
            match ev {
                Ok(Event::Hello(_) | Event::Ack(_) | Event::Ping(_) | Event::Pong(_))
                | Ok(Event::Stats(_) | Event::Error(_)) => {}
                other => panic!("device sent {other:?}"),
            }
        }
        assert!(!session.has_transmit());
    };
    assert!(session.has_transmit(), "HELLO is queued at start");
    check_tx(&mut session);
    let mut failed = None;

    if flags & 0x80 != 0 {
        let mut buf = [0u8; 32];
        let len = Welcome {
            version: PROTOCOL_VERSION,
            keepalive_ms: 1000,
            window: 2,
            codecs: CodecSet::all(),
        }
        .encode(&mut buf)
        .expect("a WELCOME fits 32 bytes");
        session
            .handle_input(now_us, &buf[..len], &mut sink)
            .expect("a valid WELCOME is accepted");
        assert!(session.welcome().is_some());
    }

    while !input.is_empty() {
        let len = usize::from(input.u8());
        now_us += u64::from(input.u8()) * 1000;
        let r = if len == 0 {
            session.handle_timeout(now_us)
        } else {
            let chunk = input.bytes(len);
            session.handle_input(now_us, chunk, &mut sink)
        };
        match (failed, r) {
            (Some(e), r) => assert_eq!(r, Err(e), "errors are sticky"),
            (None, Err(e)) => failed = Some(e),
            (None, Ok(())) => {}
        }
        check_tx(&mut session);
        assert!(session.poll_timeout() > 0);
    }
});
