//! Display metrics (`pixelwire_display_*`): connections, errors, frames, bytes, link state and
//! per-stage times. A connection records through its [`DisplayMetrics`], made once when the display
//! is identified; the status page reads its per-connection figures back from the same handle.

use super::device::DeviceMetrics;
use super::label::{Name, label_values};
use super::series::{
    FloatGauge, Hist, Lazy, bytes_histogram, hist, latency_histogram, psnr_histogram,
    rects_histogram, seconds_histogram,
};
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

label_values! {
    /// How a display talks to the server.
    pub enum Protocol {
        /// The pixelwire protocol (`docs/protocol.md`).
        Pixelwire => "pixelwire",
        /// The seed-000 sketch's raw packets.
        Legacy => "legacy",
    }
}

label_values! {
    /// What ended a display session by an error.
    pub enum ErrorKind {
        /// The device broke the protocol.
        Protocol => "protocol",
        /// The device was silent too long.
        Timeout => "timeout",
        /// The device reported an error.
        Peer => "peer",
        /// Reading from the socket failed.
        Read => "read",
        /// Writing to the socket failed or stalled.
        Write => "write",
        /// The server refused the device (a limit or the id bound to another address).
        Refused => "refused",
    }
}

label_values! {
    /// A per-frame processing stage of a display sink.
    pub enum Stage {
        /// Resize to the panel.
        Resize => "resize",
        /// Colour LUT and RGB565.
        Convert => "convert",
        /// Change detection and merging.
        Diff => "diff",
        /// Encoding and chunking.
        Encode => "encode",
        /// The delivered-quality figure (PSNR).
        Quality => "quality",
    }
}

/// `{display}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DisplayLabel {
    /// Display id (device id, or `legacy-<ip>-<port>`).
    pub display: Name,
}

/// `{protocol}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabel {
    protocol: Protocol,
}

/// `{protocol, kind}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabel {
    protocol: Protocol,
    kind: ErrorKind,
}

/// `{display, stage}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    display: Name,
    stage: Stage,
}

/// The display families.
pub(super) struct DisplayFamilies {
    connections: Family<ProtocolLabel, Counter>,
    reconnections: Family<DisplayLabel, Counter>,
    connected: Family<DisplayLabel, Gauge>,
    errors: Family<ErrorLabel, Counter>,
    frames_sent: Family<DisplayLabel, Counter>,
    frames_presented: Family<DisplayLabel, Counter>,
    frames_skipped: Family<DisplayLabel, Counter>,
    bytes_sent: Family<DisplayLabel, Counter>,
    packets_sent: Family<DisplayLabel, Counter>,
    rects_per_frame: Hist<DisplayLabel>,
    frame_bytes: Hist<DisplayLabel>,
    frames_in_flight: Family<DisplayLabel, Gauge>,
    quality_level: Family<DisplayLabel, Gauge>,
    capacity: Family<DisplayLabel, FloatGauge>,
    rtt: Family<DisplayLabel, FloatGauge>,
    latency: Hist<DisplayLabel>,
    psnr: Hist<DisplayLabel>,
    stage: Hist<StageLabel>,
}

impl DisplayFamilies {
    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            connections: register(
                r,
                "pixelwire_display_connections",
                "Display connections accepted, by protocol",
                Family::default(),
            ),
            reconnections: register(
                r,
                "pixelwire_display_reconnections",
                "Connections of a display id seen before",
                Family::default(),
            ),
            connected: register(
                r,
                "pixelwire_display_connected",
                "1 while the display is connected",
                Family::default(),
            ),
            errors: register(
                r,
                "pixelwire_display_errors",
                "Display sessions ended by an error, by kind",
                Family::default(),
            ),
            frames_sent: register(
                r,
                "pixelwire_display_frames_sent",
                "Frames sent to a display",
                Family::default(),
            ),
            frames_presented: register(
                r,
                "pixelwire_display_frames_delivered",
                "Frames a display acknowledged (legacy: fully written)",
                Family::default(),
            ),
            frames_skipped: register(
                r,
                "pixelwire_display_frames_skipped",
                "Source frames a display never got because a newer one replaced them",
                Family::default(),
            ),
            bytes_sent: register(
                r,
                "pixelwire_display_sent_bytes",
                "Bytes sent to a display",
                Family::default(),
            ),
            packets_sent: register(
                r,
                "pixelwire_display_packets_sent",
                "RECT messages or legacy packets sent",
                Family::default(),
            ),
            rects_per_frame: register(
                r,
                "pixelwire_display_rects_per_frame",
                "Rectangle messages per frame",
                hist(rects_histogram),
            ),
            frame_bytes: register(
                r,
                "pixelwire_display_frame_bytes",
                "Bytes per frame on the wire",
                hist(bytes_histogram),
            ),
            frames_in_flight: register(
                r,
                "pixelwire_display_frames_in_flight",
                "Frames sent and not yet acknowledged",
                Family::default(),
            ),
            quality_level: register(
                r,
                "pixelwire_display_quality_level",
                "Rate controller level: 0 exact .. 3 coarsest",
                Family::default(),
            ),
            capacity: register(
                r,
                "pixelwire_display_capacity_bytes_per_second",
                "Measured link and device capacity (0 until known)",
                Family::default(),
            ),
            rtt: register(
                r,
                "pixelwire_display_rtt_seconds",
                "Smallest round trip seen (PING/PONG)",
                Family::default(),
            ),
            latency: register(
                r,
                "pixelwire_display_latency_seconds",
                "Capture to presentation, estimated from acknowledgements",
                hist(latency_histogram),
            ),
            psnr: register(
                r,
                "pixelwire_display_psnr_db",
                "PSNR of the panel after each frame against its source before RGB565, dB (100: equal)",
                hist(psnr_histogram),
            ),
            stage: register(
                r,
                "pixelwire_display_stage_seconds",
                "Time per processing stage per frame",
                hist(seconds_histogram),
            ),
        }
    }
}

impl Metrics {
    /// A display connection was accepted.
    pub fn display_connection(&self, protocol: Protocol) {
        self.inner
            .display
            .connections
            .get_or_create(&ProtocolLabel { protocol })
            .inc();
    }

    /// A display session ended by an error (also before the display said who it is).
    pub fn display_error(&self, protocol: Protocol, kind: ErrorKind) {
        self.inner
            .display
            .errors
            .get_or_create(&ErrorLabel { protocol, kind })
            .inc();
    }

    /// The handle one connection of the display `id` records through.
    pub fn display(&self, id: &str) -> DisplayMetrics {
        let label = DisplayLabel { display: id.into() };
        let f = &self.inner.display;
        DisplayMetrics {
            reconnections: Lazy::new(&f.reconnections, label.clone()),
            connected: Lazy::new(&f.connected, label.clone()),
            in_flight: Lazy::new(&f.frames_in_flight, label.clone()),
            capacity: Lazy::new(&f.capacity, label.clone()),
            rtt: Lazy::new(&f.rtt, label.clone()),
            sent: OnceLock::new(),
            presented: OnceLock::new(),
            device: self.device(&label),
            metrics: self.clone(),
            label,
        }
    }
}

/// The series a sent frame updates, created with the connection's first frame.
#[derive(Debug)]
struct SentSeries {
    frames: Counter,
    skipped: Counter,
    bytes: Counter,
    packets: Counter,
    rects: Histogram,
    frame_bytes: Histogram,
    quality: Gauge,
    psnr: Histogram,
    /// The last frame's PSNR (`f64` bits; NaN until a frame carried one).
    psnr_last: AtomicU64,
    /// PSNR summed over this connection's frames, milli-dB, and how many frames carried one.
    psnr_sum_mdb: AtomicU64,
    psnr_frames: AtomicU64,
    /// Resize, convert, diff, encode, quality.
    stages: [Histogram; 5],
    /// The counters when this connection began recording: a display id's series count over the
    /// whole run, its status since it connected.
    frames_before: u64,
    bytes_before: u64,
}

/// The series a presented frame updates, created with the connection's first presented frame.
#[derive(Debug)]
struct PresentedSeries {
    frames: Counter,
    latency: Histogram,
    frames_before: u64,
}

/// What one display connection records, resolved once: the per-frame path builds no label set and
/// looks nothing up. Each series is created when it is first recorded, as it always was.
#[derive(Debug)]
pub struct DisplayMetrics {
    metrics: Metrics,
    label: DisplayLabel,
    reconnections: Lazy<DisplayLabel, Counter>,
    connected: Lazy<DisplayLabel, Gauge>,
    in_flight: Lazy<DisplayLabel, Gauge>,
    capacity: Lazy<DisplayLabel, FloatGauge>,
    rtt: Lazy<DisplayLabel, FloatGauge>,
    sent: OnceLock<SentSeries>,
    presented: OnceLock<PresentedSeries>,
    device: DeviceMetrics,
}

/// A connection's own figures, as the status shows them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionFigures {
    /// Frames sent since connecting.
    pub frames_sent: u64,
    /// Frames presented since connecting.
    pub frames_presented: u64,
    /// Bytes sent since connecting.
    pub bytes_sent: u64,
    /// Level of the last frame sent (0 before the first).
    pub quality_level: u8,
    /// PSNR of the panel after the last frame sent, dB (`pixelwire_core::psnr`).
    pub psnr_db: Option<f64>,
    /// Mean of the per-frame PSNR since connecting, dB.
    pub psnr_db_mean: Option<f64>,
}

impl DisplayMetrics {
    /// The display id was connected before in this run.
    pub fn reconnected(&self) {
        self.reconnections.get().inc();
    }

    /// The display is connected.
    pub fn connected(&self) {
        self.connected.get().set(1);
    }

    /// The display disconnected: nothing is in flight any more.
    pub fn disconnected(&self) {
        self.connected.get().set(0);
        self.in_flight.get().set(0);
    }

    /// A frame was sent; `skipped` source frames were replaced before this one was taken.
    pub fn frame_sent(&self, sent: &pixelwire_core::FrameSent, skipped: u64) {
        let s = self.sent.get_or_init(|| {
            let f = &self.metrics.inner.display;
            let l = &self.label;
            let frames = f.frames_sent.get_or_create_owned(l);
            let bytes = f.bytes_sent.get_or_create_owned(l);
            let stage = |stage| {
                f.stage.get_or_create_owned(&StageLabel {
                    display: l.display.clone(),
                    stage,
                })
            };
            SentSeries {
                frames_before: frames.get(),
                bytes_before: bytes.get(),
                frames,
                bytes,
                skipped: f.frames_skipped.get_or_create_owned(l),
                packets: f.packets_sent.get_or_create_owned(l),
                rects: f.rects_per_frame.get_or_create_owned(l),
                frame_bytes: f.frame_bytes.get_or_create_owned(l),
                quality: f.quality_level.get_or_create_owned(l),
                psnr: f.psnr.get_or_create_owned(l),
                psnr_last: AtomicU64::new(f64::NAN.to_bits()),
                psnr_sum_mdb: AtomicU64::new(0),
                psnr_frames: AtomicU64::new(0),
                stages: [
                    stage(Stage::Resize),
                    stage(Stage::Convert),
                    stage(Stage::Diff),
                    stage(Stage::Encode),
                    stage(Stage::Quality),
                ],
            }
        });
        s.frames.inc();
        s.skipped.inc_by(skipped);
        s.bytes.inc_by(sent.bytes);
        s.packets.inc_by(u64::from(sent.rects));
        s.rects.observe(f64::from(sent.rects));
        s.frame_bytes.observe(sent.bytes as f64);
        s.quality.set(i64::from(sent.level));
        if let Some(db) = sent.psnr_db {
            s.psnr.observe(db);
            s.psnr_last.store(db.to_bits(), Ordering::Relaxed);
            s.psnr_sum_mdb
                .fetch_add((db * 1e3).round() as u64, Ordering::Relaxed);
            s.psnr_frames.fetch_add(1, Ordering::Relaxed);
        }
        let st = &sent.stages;
        let times = [
            st.resize_us,
            st.convert_us,
            st.diff_us,
            st.encode_us,
            st.quality_us,
        ];
        for (h, us) in s.stages.iter().zip(times) {
            h.observe(Duration::from_micros(us).as_secs_f64());
        }
    }

    /// A frame was presented `latency` after capture.
    pub fn frame_presented(&self, latency: Duration) {
        let p = self.presented.get_or_init(|| {
            let f = &self.metrics.inner.display;
            let frames = f.frames_presented.get_or_create_owned(&self.label);
            PresentedSeries {
                frames_before: frames.get(),
                frames,
                latency: f.latency.get_or_create_owned(&self.label),
            }
        });
        p.frames.inc();
        p.latency.observe(latency.as_secs_f64());
    }

    /// Link state after an event: frames in flight, measured capacity (bytes/s, 0 until known)
    /// and the smallest round trip (kept until one is measured).
    pub fn link(&self, in_flight: usize, capacity: Option<f64>, rtt: Option<Duration>) {
        self.in_flight.get().set(in_flight as i64);
        self.capacity.get().set(capacity.unwrap_or(0.0));
        if let Some(r) = rtt {
            self.rtt.get().set(r.as_secs_f64());
        }
    }

    /// The device-reported figures of this connection.
    pub fn device(&self) -> &DeviceMetrics {
        &self.device
    }

    /// Frames, bytes, quality level and PSNR since this connection began.
    pub fn figures(&self) -> ConnectionFigures {
        let (psnr_db, psnr_db_mean) = self.sent.get().map_or((None, None), |s| {
            let last = f64::from_bits(s.psnr_last.load(Ordering::Relaxed));
            let n = s.psnr_frames.load(Ordering::Relaxed);
            let sum = s.psnr_sum_mdb.load(Ordering::Relaxed) as f64 / 1e3;
            (
                (!last.is_nan()).then_some(last),
                (n > 0).then(|| (sum / n as f64 * 100.0).round() / 100.0),
            )
        });
        let (frames_sent, bytes_sent, quality_level) = self.sent.get().map_or((0, 0, 0), |s| {
            (
                s.frames.get() - s.frames_before,
                s.bytes.get() - s.bytes_before,
                u8::try_from(s.quality.get()).unwrap_or(0),
            )
        });
        ConnectionFigures {
            frames_sent,
            bytes_sent,
            quality_level,
            psnr_db,
            psnr_db_mean,
            frames_presented: self
                .presented
                .get()
                .map_or(0, |p| p.frames.get() - p.frames_before),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: u64, level: u8) -> pixelwire_core::FrameSent {
        pixelwire_core::FrameSent {
            seq: 0,
            bytes,
            rects: 2,
            pixels: 100,
            level,
            complete: true,
            source_seq: 0,
            psnr_db: Some(40.0 - 5.0 * f64::from(level)),
            stages: Default::default(),
        }
    }

    #[test]
    fn figures_count_from_the_connection_and_series_from_the_run() {
        let m = Metrics::new();
        let first = m.display("d1");
        first.connected();
        assert_eq!(first.figures().quality_level, 0);
        first.frame_sent(&frame(100, 2), 0);
        first.frame_presented(Duration::from_millis(20));
        first.disconnected();
        let second = m.display("d1");
        second.reconnected();
        assert_eq!(
            second.figures(),
            ConnectionFigures {
                frames_sent: 0,
                frames_presented: 0,
                bytes_sent: 0,
                quality_level: 0,
                psnr_db: None,
                psnr_db_mean: None,
            }
        );
        second.frame_sent(&frame(50, 1), 3);
        second.frame_sent(&frame(70, 3), 0);
        second.frame_presented(Duration::from_millis(20));
        assert_eq!(
            second.figures(),
            ConnectionFigures {
                frames_sent: 2,
                frames_presented: 1,
                bytes_sent: 120,
                quality_level: 3,
                // 35 then 25 dB on this connection; the first connection's 30 dB is not in it.
                psnr_db: Some(25.0),
                psnr_db_mean: Some(30.0),
            }
        );
        let om = m.encode(&[]);
        for want in [
            "pixelwire_display_frames_sent_total{display=\"d1\"} 3\n",
            "pixelwire_display_sent_bytes_total{display=\"d1\"} 220\n",
            "pixelwire_display_frames_skipped_total{display=\"d1\"} 3\n",
            "pixelwire_display_reconnections_total{display=\"d1\"} 1\n",
            "pixelwire_display_stage_seconds_count{display=\"d1\",stage=\"diff\"} 3\n",
            "pixelwire_display_frames_in_flight{display=\"d1\"} 0\n",
            "pixelwire_display_psnr_db_count{display=\"d1\"} 3\n",
            "pixelwire_display_psnr_db_sum{display=\"d1\"} 90.0\n",
            "pixelwire_display_psnr_db_bucket{le=\"26.0\",display=\"d1\"} 1\n",
            "pixelwire_display_stage_seconds_count{display=\"d1\",stage=\"quality\"} 3\n",
        ] {
            assert!(om.contains(want), "missing {want:?} in\n{om}");
        }
        // Nothing recorded, nothing exposed.
        for absent in ["display_rtt", "display_capacity", "pixelwire_device_fps{"] {
            assert!(!om.contains(absent), "{absent} in\n{om}");
        }
    }
}
