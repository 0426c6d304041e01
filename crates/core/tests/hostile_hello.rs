//! Issue 13 ("Hostile network"), the display session's part, sans IO: HELLOs the server must not
//! serve are refused before anything is allocated for the panel, `frame_buffer_bytes` caps every
//! frame, and a RECT from a device is an unexpected message.

use pixelwire_core::{
    Admission, CloseReason, DisplaySession, Frame, NoClock, Refusal, SessionConfig, SessionEvent,
    Timestamp, display_memory_bytes,
};
use pixelwire_proto::{
    CodecSet, Decoder, DeviceSession, DoubleBuffer, ErrorCode, Event, Hello, PixelFormat,
    PixelOrder, ShortStr,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn hello(id: &str, w: u16, h: u16, max_packet_bytes: u16, frame_buffer_bytes: u32) -> Hello {
    Hello {
        version: 1,
        width: w,
        height: h,
        pixel_format: PixelFormat::Rgb565(PixelOrder::BigEndian),
        codecs: CodecSet::all(),
        max_packet_bytes,
        frame_buffer_bytes,
        window: 2,
        device_id: ShortStr::new(id).unwrap(),
        firmware: ShortStr::new("test").unwrap(),
    }
}

fn hello_bytes(h: &Hello) -> Vec<u8> {
    let mut buf = [0u8; 160];
    let n = h.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

fn t(us: u64) -> Timestamp {
    Timestamp::from_micros(us)
}

/// The ERROR among `bytes`, if any.
fn error_in(bytes: &[u8]) -> Option<(ErrorCode, String)> {
    Decoder::default()
        .feed(bytes)
        .filter_map(Result::ok)
        .find_map(|ev| match ev {
            Event::Error(e) => Some((e.code, e.text.to_string())),
            _ => None,
        })
}

fn closed(s: &mut DisplaySession) -> Option<CloseReason> {
    std::iter::from_fn(|| s.poll_event()).find_map(|ev| match ev {
        SessionEvent::Closed(r) => Some(r),
        _ => None,
    })
}

/// A memory budget as the server keeps one: a lease is a reservation released on drop.
struct Budget {
    limit: u64,
    used: AtomicU64,
}

struct Reservation(Arc<Budget>, u64);

impl Drop for Reservation {
    fn drop(&mut self) {
        self.0.used.fetch_sub(self.1, Ordering::SeqCst);
    }
}

fn budgeted_session(budget: &Arc<Budget>) -> DisplaySession {
    let budget = budget.clone();
    DisplaySession::new(t(0), SessionConfig::default(), Box::new(NoClock)).with_router(Box::new(
        move |hello| {
            let cfg = SessionConfig::default();
            let need = display_memory_bytes(hello, &cfg);
            let used = budget.used.load(Ordering::SeqCst);
            if used + need > budget.limit {
                return Err(Refusal {
                    code: ErrorCode::Refused,
                    text: format!("display memory budget: need {need} bytes"),
                });
            }
            budget.used.fetch_add(need, Ordering::SeqCst);
            Ok(Admission {
                cfg,
                lease: Some(Box::new(Reservation(budget.clone(), need))),
            })
        },
    ))
}

/// Defect 1: every 4096x4096 HELLO cost ~220 MiB with no cap on how many.
#[test]
fn hello_beyond_the_display_memory_budget_is_refused() {
    let budget = Arc::new(Budget {
        limit: 64 << 20,
        used: AtomicU64::new(0),
    });
    // A small panel fits, and holds its share while it streams.
    let mut small = budgeted_session(&budget);
    small.handle_input(t(1), &hello_bytes(&hello("small", 320, 240, 4096, 0)));
    assert!(small.sink().is_some());
    let small_share = budget.used.load(Ordering::SeqCst);
    assert!(
        (1 << 20..4 << 20).contains(&small_share),
        "320x240: {small_share} bytes"
    );
    // The largest panel the protocol allows does not: ERROR refused, no sink built.
    let mut big = budgeted_session(&budget);
    big.handle_input(t(1), &hello_bytes(&hello("big", 4096, 4096, 8192, 0)));
    let out = big.poll_transmit().unwrap_or_default();
    let (code, text) = error_in(&out).expect("an ERROR");
    assert_eq!(code, ErrorCode::Refused);
    assert!(text.contains("display memory budget"), "{text}");
    assert!(big.sink().is_none() && big.is_closed());
    assert!(matches!(closed(&mut big), Some(CloseReason::Refused(_))));
    // no WELCOME went out before the ERROR
    assert_eq!(out[0], 0x7f);
    assert_eq!(budget.used.load(Ordering::SeqCst), small_share);
    // What a session holds goes back to the budget when it closes.
    small.close(ErrorCode::Shutdown, "bye");
    assert_eq!(budget.used.load(Ordering::SeqCst), 0);
    // The estimate of the largest panel: well above what one device should get by default.
    let cfg = SessionConfig::default();
    let max = display_memory_bytes(&hello("x", 4096, 4096, 8192, 0), &cfg);
    assert!(max > 200 << 20, "{max}");
}

/// Defect 6 (refusal half): `frame_buffer_bytes = 1` was accepted.
#[test]
fn frame_buffer_bytes_too_small_for_one_row_is_refused() {
    for (fb, refused) in [(1, true), (652, true), (653, false), (0, false)] {
        let mut s = DisplaySession::new(t(0), SessionConfig::default(), Box::new(NoClock));
        // 320 wide: a RECT of one RAW row is 4 + 9 + 640 = 653 bytes (< the 4096-byte packet)
        s.handle_input(t(1), &hello_bytes(&hello("fb", 320, 240, 4096, fb)));
        let out = s.poll_transmit().unwrap_or_default();
        if refused {
            let (code, text) = error_in(&out).expect("an ERROR");
            assert_eq!(code, ErrorCode::Malformed, "{fb}");
            assert!(
                text.contains(&format!("frame_buffer_bytes {fb}")) && text.contains("653"),
                "{text}"
            );
            assert!(s.is_closed());
        } else {
            assert!(error_in(&out).is_none(), "{fb}");
            assert!(s.sink().is_some());
        }
    }
    // A packet smaller than a row: one packet is enough.
    let mut s = DisplaySession::new(t(0), SessionConfig::default(), Box::new(NoClock));
    s.handle_input(t(1), &hello_bytes(&hello("fb", 320, 240, 256, 260)));
    assert!(!s.is_closed());
}

fn busy_frame(w: u32, h: u32, n: u64) -> Arc<Frame> {
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    for (i, px) in rgba.chunks_exact_mut(4).enumerate() {
        let (x, y) = (i as u64 % u64::from(w), i as u64 / u64::from(w));
        px.copy_from_slice(&[
            (x * 7 + n * 13) as u8,
            ((y * 5) ^ x) as u8,
            (x * y) as u8,
            255,
        ]);
    }
    Arc::new(Frame {
        width: w,
        height: h,
        rgba,
        seq: n,
        capture_time_us: n * 1000,
    })
}

/// Defect 6: with `frame_buffer_bytes = 4096` (and 8 kB packets), 18 of 20 frames carried
/// 6.2–7.4 kB of RECT payload. Every frame's RECT payloads now stay within it, and the panel
/// shows exactly what the server's shadow says.
#[test]
fn frame_buffer_bytes_caps_every_frame() {
    let (w, h) = (160u16, 120u16);
    let hello = hello("fb", w, h, 8192, 4096);
    let mut server = DisplaySession::new(t(0), SessionConfig::default(), Box::new(NoClock));
    let mut device = DeviceSession::new(hello, 0);
    let n = usize::from(w) * usize::from(h) * 2;
    let mut panel = DoubleBuffer::new(w, h, vec![0; n], vec![0; n]);
    server.handle_input(t(0), device.take_transmit());
    let (mut staged, mut frames, mut worst) = (0usize, 0u32, 0usize);
    let mut now = 0u64;
    for step in 0..400u64 {
        now += 5_000;
        if step < 3 {
            server.handle_frame(t(now), busy_frame(u32::from(w), u32::from(h), step + 1));
        }
        server.handle_timeout(t(now));
        if let Some(bytes) = server.poll_transmit() {
            // RECT messages per frame, as the device stages them (headers included)
            let mut pos = 0;
            while pos + 4 <= bytes.len() {
                let len = usize::from(u16::from_le_bytes([bytes[pos + 2], bytes[pos + 3]]));
                match bytes[pos] {
                    0x90 => staged += 4 + len,
                    0x91 => {
                        worst = worst.max(staged);
                        assert!(staged <= 4096, "frame {frames}: {staged} bytes staged");
                        staged = 0;
                        frames += 1;
                    }
                    _ => {}
                }
                pos += 4 + len;
            }
            device.handle_input(now, &bytes, &mut panel).unwrap();
        }
        if device.has_transmit() {
            let acks = device.take_transmit().to_vec();
            server.handle_input(t(now), &acks);
        }
        while server.poll_event().is_some() {}
    }
    assert!(frames > 10, "{frames} frames");
    assert!(worst > 2048, "frames are filled up to the cap: {worst}");
    // The panel shows exactly what the server believes it shows (nothing was lost to the cap).
    let shadow: Vec<u8> = server
        .shadow()
        .unwrap()
        .px
        .iter()
        .flat_map(|p| p.to_be_bytes())
        .collect();
    assert!(panel.front == shadow, "the panel differs from the shadow");
}

/// Defect 9: a RECT sent by a device got ERROR 0x02 "payload exceeds max_packet_bytes".
#[test]
fn a_rect_from_a_device_is_unexpected() {
    for before_hello in [true, false] {
        let mut s = DisplaySession::new(t(0), SessionConfig::default(), Box::new(NoClock));
        if !before_hello {
            s.handle_input(t(1), &hello_bytes(&hello("r", 32, 32, 4096, 0)));
            let _ = s.poll_transmit();
        }
        // a valid 1x1 RAW RECT
        s.handle_input(t(2), &[0x90, 0, 11, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0xf8, 0]);
        let (code, text) = error_in(&s.poll_transmit().unwrap_or_default()).expect("an ERROR");
        assert_eq!(code, ErrorCode::Unexpected, "{text}");
        assert!(text.contains("0x90"), "{text}");
    }
}

/// A lease lives exactly as long as the sink: dropping a session (a panicked task) releases it.
#[test]
fn a_dropped_session_releases_its_lease() {
    let budget = Arc::new(Budget {
        limit: 64 << 20,
        used: AtomicU64::new(0),
    });
    let mut s = budgeted_session(&budget);
    s.handle_input(t(1), &hello_bytes(&hello("d", 64, 64, 4096, 0)));
    assert!(budget.used.load(Ordering::SeqCst) > 0);
    drop(s);
    assert_eq!(budget.used.load(Ordering::SeqCst), 0);
}
