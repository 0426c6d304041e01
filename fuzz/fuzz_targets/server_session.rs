//! Fuzzes the server side of a pixelwire display connection, [`pixelwire_core::DisplaySession`],
//! with arbitrary device bytes in arbitrary chunks, interleaved with small generated source frames
//! and timeouts (`docs/protocol.md`, "Session").
//!
//! Input layout (missing bytes read as zero):
//! * byte 0, bit 0: open with a valid HELLO built from the next bytes (so the fuzzer spends its time
//!   past the handshake); without it, the device bytes alone must get the session going;
//! * HELLO fields, if bit 0: width class, height class, pixel order, codec bits, `max_packet_bytes`
//!   (LE), `frame_buffer_bytes` (LE u16), window;
//! * then steps, each an op byte (low 2 bits: 0 = device bytes `len: u8` + bytes, 1 = a source
//!   frame, 2 = `handle_timeout`, 3 = a canned ACK of the newest frame sent) with a time advance in
//!   the high 6 bits (ms × 4).
//!
//! Must never panic. When the fuzzer's HELLO opened the session, everything the server transmits
//! must also parse for that device: only server → device messages, RECT payloads within its
//! `max_packet_bytes`, rects inside its panel, codecs it declared.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_core::{DisplaySession, Frame, NoClock, SessionConfig, SessionEvent, Timestamp};
use pixelwire_fuzz::Input;
use pixelwire_proto::message::MIN_PACKET_BYTES;
use pixelwire_proto::{
    Ack, CodecSet, Decoder, Event, FramebufferWriter, Hello, PROTOCOL_VERSION, PixelFormat,
    ShortStr,
};
use std::sync::Arc;
use std::time::Duration;

/// A `w × h` source frame whose content depends on `seed`, so successive frames differ in part.
fn frame(seq: u64, w: u32, h: u32, seed: u8, capture_time_us: u64) -> Arc<Frame> {
    let mut rgba = Vec::with_capacity(w as usize * h as usize * 4);
    for y in 0..h {
        for x in 0..w {
            let v = if (x + y) % 7 == u32::from(seed) % 7 {
                seed
            } else {
                (x * 8) as u8
            };
            rgba.extend_from_slice(&[v, (y * 16) as u8, seed.wrapping_mul(3), 255]);
        }
    }
    Arc::new(Frame {
        width: w,
        height: h,
        rgba,
        seq,
        capture_time_us,
    })
}

/// What the device side sees of the server's bytes, when the device is the fuzzer's HELLO.
struct DeviceView {
    hello: Hello,
    decoder: Decoder,
    writer: FramebufferWriter,
    fb: Vec<u8>,
    agreed: CodecSet,
}

impl DeviceView {
    fn check(&mut self, bytes: &[u8]) {
        for ev in self.decoder.feed(bytes) {
            let ev = ev.unwrap_or_else(|e| panic!("server sent bytes its device rejects: {e}"));
            match ev {
                Event::Welcome(w) => {
                    assert!(w.window >= 1 && w.window <= self.hello.window, "{w:?}");
                    assert_eq!(w.codecs.bits() & !self.hello.codecs.bits() & 0b1_1111, 0);
                    self.agreed = w.codecs;
                }
                Event::RectBegin(r) => {
                    assert!(
                        u32::from(r.x) + u32::from(r.w) <= u32::from(self.hello.width)
                            && u32::from(r.y) + u32::from(r.h) <= u32::from(self.hello.height),
                        "rect outside the panel: {r:?}"
                    );
                    assert!(self.agreed.contains(r.codec), "codec not agreed: {r:?}");
                }
                Event::Error(_) | Event::Ping(_) | Event::Pong(_) | Event::FrameEnd(_) => {}
                Event::Pixels(_) | Event::Chunk(_) | Event::Fill { .. } | Event::RectEnd => {}
                Event::Hello(_) | Event::Ack(_) | Event::Stats(_) => {
                    panic!("server sent a device message: {ev:?}")
                }
            }
            self.writer.apply(&mut self.fb, &ev);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let flags = input.u8();
    let mut now = Timestamp::from_micros(1_700_000_000_000_000);
    let mut session = DisplaySession::new(now, SessionConfig::default(), Box::new(NoClock));
    let mut device = None;

    if flags & 1 != 0 {
        let codecs = CodecSet::from_bits(u16::from(input.u8()) | 1);
        let mut hello = Hello {
            version: PROTOCOL_VERSION,
            width: [1u16, 5, 16, 24, 32, 40, 64, 96][usize::from(input.u8() & 7)],
            height: [1u16, 3, 8, 16, 24, 30, 48, 64][usize::from(input.u8() & 7)],
            pixel_format: PixelFormat::ALL[usize::from(input.u8() % 5)],
            codecs,
            max_packet_bytes: input.u16().max(MIN_PACKET_BYTES),
            frame_buffer_bytes: u32::from(input.u16()),
            window: input.u8() % 8 + 1,
            device_id: ShortStr::truncating("fuzz-device"),
            firmware: ShortStr::truncating("fuzz"),
        };
        // A frame buffer too small for one RECT row is refused at HELLO (`hostile_hello.rs` in
        // pixelwire-core tests that); lift it so the session opens.
        if hello.frame_buffer_bytes != 0 {
            hello.frame_buffer_bytes = hello
                .frame_buffer_bytes
                .max(pixelwire_core::min_frame_buffer_bytes(&hello));
        }
        let mut buf = [0u8; 128];
        let n = hello.encode(&mut buf).expect("a HELLO fits 128 bytes");
        session.handle_input(now, &buf[..n]);
        assert!(matches!(session.poll_event(), Some(SessionEvent::Ready(_))));
        let format = hello.pixel_format;
        let px = format.frame_bytes(usize::from(hello.width), usize::from(hello.height));
        device = Some(DeviceView {
            hello,
            decoder: Decoder::new(hello.max_packet_bytes).with_format(format),
            writer: FramebufferWriter::with_format(hello.width, hello.height, format),
            fb: vec![0; px],
            agreed: CodecSet::EMPTY,
        });
    }

    let mut frames = 0u64;
    let mut last_sent = None;
    while !input.is_empty() {
        let op = input.u8();
        now = now + Duration::from_millis(u64::from(op >> 2) * 4);
        match op & 3 {
            0 => {
                let len = usize::from(input.u8());
                session.handle_input(now, input.bytes(len));
            }
            1 => {
                frames += 1;
                let size = input.u8();
                let (w, h) = (u32::from(size & 15) * 4 + 1, u32::from(size >> 4) * 4 + 1);
                let f = frame(frames, w, h, input.u8(), now.as_micros() - 5_000);
                session.handle_frame(now, f);
            }
            2 => session.handle_timeout(now),
            _ => {
                if let Some(seq) = last_sent {
                    let mut buf = [0u8; 32];
                    let ack = Ack {
                        seq,
                        present_time_us: now.as_micros(),
                        decode_us: 1_000,
                    };
                    let n = ack.encode(&mut buf).expect("an ACK fits 32 bytes");
                    session.handle_input(now, &buf[..n]);
                }
            }
        }
        while let Some(ev) = session.poll_event() {
            if let SessionEvent::Sent(s) = ev {
                last_sent = Some(s.seq);
            }
        }
        if let Some(tx) = session.poll_transmit()
            && let Some(d) = device.as_mut()
        {
            d.check(&tx);
        }
        if session.is_closed() {
            assert!(session.poll_timeout().is_none());
        }
    }
});
