//! Fuzzes [`pixelwire_core::LegacySession`], the server side of a seed-000 sketch connection, with
//! arbitrary panel settings and source frames of arbitrary sizes and contents (malformed ones too),
//! and checks every byte it sends with a parser that behaves exactly like the sketch
//! (`shared/reference/seed-protocols.md` §A.2–A.3, `crates/proto/src/legacy.rs`):
//!
//! * every packet has `data_len == w*h*2 <= 10240` (more makes the sketch disconnect; a mismatch
//!   makes it push stale bytes), `w, h > 0`, and its rect lies inside the panel;
//! * a packet with `data_len == 0` is the all-zero keepalive header;
//! * every pixel the sketch has drawn equals the server's shadow of the panel (the shadow is what
//!   change detection compares against, so a difference would be a change never resent);
//! * once the session has nothing left to send, every pixel has been drawn.
//!
//! Input layout (missing bytes read as zero): panel width class, height class, `max_payload` (LE
//! u16), sink options byte; then steps, each an op byte (low 2 bits: 0 = a frame, 1 = the edge
//! reports everything written, 2 = `handle_timeout`, 3 = a malformed frame) whose high 6 bits
//! advance the clock (ms × 8). A frame reads `w`, `h` (0..=63) and `n` bytes of content (used
//! cyclically for its RGBA).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelwire_core::{
    Dither, Filter, Fit, Frame, LegacyConfig, LegacySession, NoClock, SinkConfig, Timestamp,
};
use pixelwire_fuzz::Input;
use pixelwire_proto::legacy::{HEADER_LEN, Header, KEEPALIVE, SKETCH_BUFFER_BYTES};
use std::sync::Arc;
use std::time::Duration;

/// The seed-000 sketch's parser, with the server's obligations as assertions.
struct Sketch {
    width: usize,
    height: usize,
    /// Big-endian RGB565, as the panel receives it.
    fb: Vec<u8>,
    drawn: Vec<bool>,
    header: Vec<u8>,
    /// The packet whose payload is being read, and its bytes so far.
    packet: Option<(Header, Vec<u8>)>,
}

impl Sketch {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            fb: vec![0; width * height * 2],
            drawn: vec![false; width * height],
            header: Vec::new(),
            packet: None,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.packet {
                None => {
                    let n = (HEADER_LEN - self.header.len()).min(bytes.len());
                    self.header.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if self.header.len() == HEADER_LEN {
                        let raw: [u8; HEADER_LEN] =
                            self.header[..].try_into().expect("12 bytes collected");
                        self.header.clear();
                        self.on_header(raw);
                    }
                }
                Some((h, data)) => {
                    let n = (h.data_len as usize - data.len()).min(bytes.len());
                    data.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if data.len() == h.data_len as usize {
                        let (h, data) = self.packet.take().expect("a packet is open");
                        self.push_image(&h, &data);
                    }
                }
            }
        }
    }

    fn on_header(&mut self, raw: [u8; HEADER_LEN]) {
        let h = Header::decode(&raw);
        assert!(
            h.data_len <= SKETCH_BUFFER_BYTES,
            "data_len {} makes the sketch disconnect: {h:?}",
            h.data_len
        );
        if h.data_len == 0 {
            assert_eq!(raw, KEEPALIVE, "an empty packet must be the keepalive");
            return;
        }
        assert!(h.w > 0 && h.h > 0, "the sketch would discard {h:?}");
        assert_eq!(
            h.data_len,
            u32::from(h.w) * u32::from(h.h) * 2,
            "data_len must be w*h*2: {h:?}"
        );
        assert!(
            usize::from(h.x) + usize::from(h.w) <= self.width
                && usize::from(h.y) + usize::from(h.h) <= self.height,
            "rect outside the {}x{} panel: {h:?}",
            self.width,
            self.height
        );
        self.packet = Some((h, Vec::with_capacity(h.data_len as usize)));
    }

    /// `tft.pushImage(x, y, w, h, buf)`: row-major, bytes in memory order.
    fn push_image(&mut self, h: &Header, data: &[u8]) {
        let w = usize::from(h.w);
        for row in 0..usize::from(h.h) {
            let y = usize::from(h.y) + row;
            let at = y * self.width + usize::from(h.x);
            self.fb[at * 2..(at + w) * 2].copy_from_slice(&data[row * w * 2..(row + 1) * w * 2]);
            self.drawn[at..at + w].iter_mut().for_each(|d| *d = true);
        }
    }

    /// Every drawn pixel equals the shadow; with `all`, every pixel is drawn.
    fn check_shadow(&self, session: &LegacySession, all: bool) {
        assert!(
            self.header.is_empty() && self.packet.is_none(),
            "whole packets only"
        );
        let shadow = session.shadow();
        for (i, (&px, &drawn)) in shadow.px.iter().zip(&self.drawn).enumerate() {
            assert!(drawn || !all, "pixel {i} never drawn");
            if drawn {
                assert_eq!(
                    px.to_be_bytes(),
                    [self.fb[i * 2], self.fb[i * 2 + 1]],
                    "panel and shadow differ at pixel {i}"
                );
            }
        }
    }
}

fn frame(input: &mut Input<'_>, seq: u64, malformed: bool, now: Timestamp) -> Arc<Frame> {
    let (w, h) = (u32::from(input.u8() & 63), u32::from(input.u8() & 63));
    let n = usize::from(input.u8());
    let content = input.bytes(n);
    let mut len = w as usize * h as usize * 4;
    if malformed {
        len = len * usize::from(content.first().copied().unwrap_or(0) % 4) / 2;
    }
    let rgba = if content.is_empty() {
        vec![0; len]
    } else {
        content.iter().copied().cycle().take(len).collect()
    };
    Arc::new(Frame {
        width: w,
        height: h,
        rgba,
        seq,
        capture_time_us: now.as_micros().saturating_sub(3_000),
    })
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let width = [1u32, 7, 16, 33, 64, 96, 160, 320][usize::from(input.u8() & 7)];
    let height = [1u32, 5, 12, 16, 40, 64, 120, 240][usize::from(input.u8() & 7)];
    let max_payload = u32::from(input.u16());
    let opts = input.u8();
    let sink = SinkConfig {
        fit: [Fit::Contain, Fit::Cover, Fit::Stretch, Fit::Contain][usize::from(opts & 3)],
        filter: [
            Filter::Lanczos3,
            Filter::Nearest,
            Filter::Bilinear,
            Filter::CatmullRom,
        ][usize::from((opts >> 2) & 3)],
        dither: if opts & 0x10 != 0 {
            Dither::Ordered
        } else {
            Dither::None
        },
        tile_size: [16, 8, 32, 13][usize::from((opts >> 5) & 3)],
        ..SinkConfig::default()
    };
    let cfg = LegacyConfig {
        width,
        height,
        max_payload,
        keepalive: Duration::from_secs(1),
        sink,
    };
    let mut now = Timestamp::from_micros(1_700_000_000_000_000);
    let mut session = LegacySession::new(now, cfg, Box::new(NoClock));
    let mut sketch = Sketch::new(width as usize, height as usize);
    let mut frames = 0u64;

    while !input.is_empty() {
        let op = input.u8();
        now = now + Duration::from_millis(u64::from(op >> 2) * 8);
        match op & 3 {
            0 | 3 => {
                frames += 1;
                let f = frame(&mut input, frames, op & 3 == 3, now);
                session.handle_frame(now, f);
            }
            1 => session.handle_written(now),
            _ => session.handle_timeout(now),
        }
        if let Some(tx) = session.poll_transmit() {
            sketch.feed(&tx);
        }
        let _ = session.drain_events();
        sketch.check_shadow(&session, false);
    }

    // Let the edge write everything: the session must run out of things to send with the whole
    // panel drawn (a first frame repaints everything, and deferred damage is sent later).
    if frames > 0 {
        for _ in 0..10_000 {
            now = now + Duration::from_millis(5);
            session.handle_written(now);
            let Some(tx) = session.poll_transmit() else {
                sketch.check_shadow(&session, true);
                return;
            };
            sketch.feed(&tx);
        }
        panic!("the session never ran out of damage to send");
    }
});
