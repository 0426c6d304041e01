//! The rate-control policy of a display chosen while it streams (`PATCH /api/displays/{id}` with
//! `prefer`): the session's controller aims at the other frame rate from then on, and a choice
//! made before HELLO is the one the sink starts with.

use pixelwire_core::{DisplaySession, NoClock, Prefer, SessionConfig, Timestamp};
use pixelwire_proto::{CodecSet, Hello, PixelFormat, PixelOrder, ShortStr};

fn hello_bytes() -> Vec<u8> {
    let hello = Hello {
        version: 1,
        width: 32,
        height: 24,
        pixel_format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs: CodecSet::all(),
        max_packet_bytes: 4096,
        frame_buffer_bytes: 0,
        window: 2,
        device_id: ShortStr::new("desk-1").unwrap(),
        firmware: ShortStr::new("test").unwrap(),
    };
    let mut buf = [0u8; 160];
    let n = hello.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn prefer_switches_while_streaming_and_before_hello() {
    let cfg = SessionConfig::default();
    let (motion_fps, detail_fps) = (cfg.sink.rate.target_fps, cfg.sink.rate.detail_fps);
    assert!(detail_fps < motion_fps);

    let mut s = DisplaySession::new(Timestamp::from_micros(1), cfg, Box::new(NoClock));
    s.handle_input(Timestamp::from_micros(2), &hello_bytes());
    let rate = |s: &DisplaySession| s.sink().expect("streaming").rate().level_fps();
    assert_eq!(rate(&s), motion_fps);
    s.set_prefer(Prefer::Detail);
    assert_eq!(rate(&s), detail_fps);
    s.set_prefer(Prefer::Motion);
    assert_eq!(rate(&s), motion_fps);

    let mut early = DisplaySession::new(Timestamp::from_micros(1), cfg, Box::new(NoClock));
    early.set_prefer(Prefer::Detail);
    early.handle_input(Timestamp::from_micros(2), &hello_bytes());
    assert_eq!(rate(&early), detail_fps);
}
