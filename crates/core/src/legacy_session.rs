//! The server side of a seed-000 sketch connection (`seed-protocols.md` §A.9) as a sans-IO state
//! machine. The sketch never sends a byte and never acknowledges, so pacing is by the socket: one
//! frame is handed to the edge at a time, and the next is built only when the edge reports that
//! every byte of the previous one was written ([`LegacySession::handle_written`]). With a small
//! socket send buffer that keeps latency bounded; meanwhile damage accumulates against the shadow.
//!
//! The first frame after connecting repaints the whole panel. An all-zero 12-byte header (a no-op
//! for the sketch) is sent after `keepalive` of silence, so a dead peer is found by a failing write.

use crate::decode_cost::DeviceTime;
use crate::encode::WireFormat;
use crate::frame::Frame;
use crate::image565::Rgb565Image;
use crate::session::FrameSent;
use crate::sink::{DisplaySink, SinkConfig};
use crate::time::{Stopwatch, Timestamp};
use pixelwire_proto::legacy;
use std::sync::Arc;
use std::time::Duration;

/// Settings of a legacy display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegacyConfig {
    /// Panel width in the sketch's rotation (the sketch never reports it).
    pub width: u32,
    /// Panel height.
    pub height: u32,
    /// Largest pixel payload per packet (seed default 8192; the sketch's limit is 10240).
    pub max_payload: u32,
    /// Silence after which the keepalive header is sent.
    pub keepalive: Duration,
    /// Processing and rate control.
    pub sink: SinkConfig,
}

impl Default for LegacyConfig {
    fn default() -> Self {
        Self {
            width: 320,
            height: 240,
            max_payload: legacy::DEFAULT_MAX_PAYLOAD,
            keepalive: Duration::from_secs(1),
            sink: SinkConfig::default(),
        }
    }
}

/// What a legacy session reports to the edge.
#[derive(Debug, Clone, PartialEq)]
pub enum LegacyEvent {
    /// A frame was queued.
    Sent(FrameSent),
    /// A frame's bytes were all written; `latency` is capture → written.
    Written {
        /// Sequence number (server-local; the wire has none).
        seq: u32,
        /// Bytes written.
        bytes: u64,
        /// Capture to end of write.
        latency: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
struct Writing {
    seq: u32,
    sent_at: Timestamp,
    bytes: u64,
    pixels: u64,
    capture_time_us: u64,
}

/// One legacy connection; see the module docs.
pub struct LegacySession {
    cfg: LegacyConfig,
    sink: DisplaySink,
    transmit: Vec<u8>,
    writing: Option<Writing>,
    damage_left: bool,
    next_seq: u32,
    last_tx: Timestamp,
    events: Vec<LegacyEvent>,
}

impl std::fmt::Debug for LegacySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacySession")
            .field("cfg", &self.cfg)
            .field("writing", &self.writing)
            .finish()
    }
}

impl LegacySession {
    /// A session for a connection accepted at `now`.
    pub fn new(now: Timestamp, cfg: LegacyConfig, stopwatch: Box<dyn Stopwatch>) -> Self {
        let mut sink = DisplaySink::new(cfg.width, cfg.height, cfg.sink, stopwatch);
        sink.invalidate();
        Self {
            cfg,
            sink,
            transmit: Vec::new(),
            writing: None,
            damage_left: false,
            next_seq: 1,
            last_tx: now,
            events: Vec::new(),
        }
    }

    /// Switches the rate-control policy from the next frame (the page or the API chose it).
    pub fn set_prefer(&mut self, prefer: crate::rate::Prefer) {
        self.sink.set_prefer(prefer);
    }

    /// The sink core (shadow, rate controller).
    pub fn sink(&self) -> &DisplaySink {
        &self.sink
    }

    /// What the panel shows, as far as the server knows.
    pub fn shadow(&self) -> &Rgb565Image {
        self.sink.shadow()
    }

    /// True while a frame's bytes are being written.
    pub fn is_writing(&self) -> bool {
        self.writing.is_some()
    }

    /// Bytes to write, if any. Report completion with [`LegacySession::handle_written`].
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.transmit.is_empty()).then(|| std::mem::take(&mut self.transmit))
    }

    /// Events since the last call.
    pub fn drain_events(&mut self) -> Vec<LegacyEvent> {
        std::mem::take(&mut self.events)
    }

    /// When [`LegacySession::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.writing
            .is_none()
            .then(|| self.last_tx + self.cfg.keepalive)
    }

    /// A new source frame (the newest wins).
    pub fn handle_frame(&mut self, now: Timestamp, frame: Arc<Frame>) {
        self.sink.set_frame(&frame);
        self.try_send(now);
    }

    /// Every byte handed out so far has been written to the socket.
    pub fn handle_written(&mut self, now: Timestamp) {
        if let Some(w) = self.writing.take() {
            self.sink
                .on_delivered(now, w.sent_at, w.bytes, w.pixels, DeviceTime::NONE);
            self.events.push(LegacyEvent::Written {
                seq: w.seq,
                bytes: w.bytes,
                latency: Duration::from_micros(now.as_micros().saturating_sub(w.capture_time_us)),
            });
            self.sink.on_idle();
        }
        self.try_send(now);
    }

    /// Time passed: sends the keepalive header after `keepalive` of silence.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.writing.is_none() && now >= self.last_tx + self.cfg.keepalive {
            self.transmit.extend_from_slice(&legacy::KEEPALIVE);
            self.last_tx = now;
        }
    }

    fn try_send(&mut self, now: Timestamp) {
        if self.writing.is_some()
            || !self.sink.has_frame()
            || !(self.sink.has_fresh_frame() || self.damage_left)
        {
            return;
        }
        let format = WireFormat::Legacy {
            max_payload: self.cfg.max_payload,
        };
        let update = self.sink.build_update(&format, usize::MAX);
        self.damage_left = !update.complete;
        if update.bytes.is_empty() {
            return;
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let bytes = update.bytes.len() as u64;
        self.transmit.extend_from_slice(&update.bytes);
        self.last_tx = now;
        self.writing = Some(Writing {
            seq,
            sent_at: now,
            bytes,
            pixels: update.stats.pixels,
            capture_time_us: update.capture_time_us,
        });
        self.events.push(LegacyEvent::Sent(FrameSent {
            seq,
            bytes,
            rects: update.stats.messages,
            pixels: update.stats.pixels,
            level: update.level.get(),
            complete: update.complete,
            source_seq: update.source_seq,
            psnr_db: update.psnr_db,
            stages: update.stages,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NoClock;

    fn frame(seq: u64, color: [u8; 3]) -> Arc<Frame> {
        let rgba = (0..320 * 240)
            .flat_map(|_| [color[0], color[1], color[2], 255])
            .collect();
        Arc::new(Frame {
            width: 320,
            height: 240,
            rgba,
            seq,
            capture_time_us: 0,
        })
    }

    /// Parses packets exactly like the seed-000 sketch into a big-endian framebuffer.
    fn sketch_apply(fb: &mut [u8], mut bytes: &[u8]) {
        while bytes.len() >= 12 {
            let h = legacy::Header::decode(bytes[..12].try_into().unwrap());
            bytes = &bytes[12..];
            assert_ne!(h.sketch_action(), legacy::SketchAction::Disconnect, "{h:?}");
            let n = h.data_len as usize;
            if h.data_len == 0 {
                continue;
            }
            assert_eq!(
                n,
                usize::from(h.w) * usize::from(h.h) * 2,
                "data_len must be w*h*2"
            );
            for row in 0..usize::from(h.h) {
                let dst = ((usize::from(h.y) + row) * 320 + usize::from(h.x)) * 2;
                let src = row * usize::from(h.w) * 2;
                fb[dst..dst + usize::from(h.w) * 2]
                    .copy_from_slice(&bytes[src..src + usize::from(h.w) * 2]);
            }
            bytes = &bytes[n..];
        }
        assert!(bytes.is_empty());
    }

    #[test]
    fn full_frame_first_then_paced_by_writes() {
        let t0 = Timestamp::from_micros(1_000_000);
        let mut s = LegacySession::new(t0, LegacyConfig::default(), Box::new(NoClock));
        let mut fb = vec![0u8; 320 * 240 * 2];
        s.handle_frame(t0, frame(1, [255, 0, 0]));
        let first = s.poll_transmit().unwrap();
        // 20 packets of 12 rows (7680 B): the whole panel, seed 000's chunking
        assert_eq!(first.len(), 20 * (12 + 7680));
        sketch_apply(&mut fb, &first);
        assert!(fb.chunks(2).all(|p| p == [0xF8, 0x00]));
        // while writing, new frames only update the pending state
        s.handle_frame(t0, frame(2, [0, 255, 0]));
        s.handle_frame(t0, frame(3, [0, 0, 255]));
        assert!(s.poll_transmit().is_none());
        s.handle_written(t0 + Duration::from_millis(50));
        let next = s.poll_transmit().unwrap();
        sketch_apply(&mut fb, &next);
        assert!(fb.chunks(2).all(|p| p == [0x00, 0x1F]), "newest frame wins");
    }

    #[test]
    fn keepalive_is_an_all_zero_header_when_idle() {
        let t0 = Timestamp::from_micros(0);
        let mut s = LegacySession::new(t0, LegacyConfig::default(), Box::new(NoClock));
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        s.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(s.poll_transmit().unwrap(), vec![0u8; 12]);
    }
}
