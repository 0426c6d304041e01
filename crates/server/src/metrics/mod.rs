//! Prometheus metrics, named `pixelwire_<area>_<what>_<unit>` with labels from bounded sets: stream
//! names and display ids come from the configuration and the devices, stages and protocols are
//! fixed lists; never addresses or frame numbers. Served at `/metrics` and listed in `docs/api.md`,
//! in the text format the scraper asks for ([`exposition`]).

pub mod exposition;

pub use exposition::Format;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// `{stream}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabel {
    /// Stream name.
    pub stream: String,
}

/// `{display}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DisplayLabel {
    /// Display id (device id, or `legacy-<ip>-<port>`).
    pub display: String,
}

/// `{protocol}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolLabel {
    /// "pixelwire" or "legacy".
    pub protocol: String,
}

/// `{protocol, kind}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabel {
    /// "pixelwire", "legacy" or "unknown" (before the protocol is known).
    pub protocol: String,
    /// "protocol", "timeout", "write", "read", "peer".
    pub kind: String,
}

/// `{display, stage}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    /// Display id.
    pub display: String,
    /// "resize", "convert", "diff", "encode", "write".
    pub stage: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type Hist<L> = Family<L, Histogram, fn() -> Histogram>;

fn hist<L: Clone + std::hash::Hash + Eq>(f: fn() -> Histogram) -> Hist<L> {
    Family::new_with_constructor(f)
}

fn seconds_histogram() -> Histogram {
    Histogram::new([
        1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
    ])
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0,
    ])
}

fn rects_histogram() -> Histogram {
    Histogram::new([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0])
}

fn bytes_histogram() -> Histogram {
    Histogram::new([
        32.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
    ])
}

struct Inner {
    registry: Registry,
    stream_frames: Family<StreamLabel, Counter>,
    stream_render: Hist<StreamLabel>,
    stream_watchers: Family<StreamLabel, Gauge>,
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
    stage: Hist<StageLabel>,
    device_fps: Family<DisplayLabel, FloatGauge>,
    device_rssi: Family<DisplayLabel, Gauge>,
    device_heap: Family<DisplayLabel, Gauge>,
    device_decode: Family<DisplayLabel, FloatGauge>,
    camera_frames: Family<CameraLabel, Counter>,
    camera_bytes: Family<StreamLabel, Counter>,
    camera_dropped: Family<DropLabel, Counter>,
    encode: Hist<StreamLabel>,
    encode_errors: Family<StreamLabel, Counter>,
    viewers: Family<ViewerLabel, Gauge>,
    dashboard_polls: Family<PollLabel, Counter>,
    dashboard_poll_time: Hist<StreamLabel>,
}

/// `{stream, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollLabel {
    /// Dashboard stream name.
    pub stream: String,
    /// "answered" (Prometheus answered, possibly rejecting a query) or "unreachable".
    pub outcome: String,
}

/// `{stream, codec}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ViewerLabel {
    /// Stream name.
    pub stream: String,
    /// "h264", "jpeg", "mjpeg".
    pub codec: String,
}

/// `{stream, transport}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraLabel {
    /// Stream name.
    pub stream: String,
    /// "websocket", "http", "tcp".
    pub transport: String,
}

/// `{transport, reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabel {
    /// "websocket", "http", "tcp".
    pub transport: String,
    /// "not_jpeg", "truncated", "bad_header", "decode", "too_large", "unauthorized", "unknown_format".
    pub reason: String,
}

/// The server's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn display(d: &str) -> DisplayLabel {
    DisplayLabel {
        display: d.to_string(),
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut r = Registry::default();
        macro_rules! reg {
            ($name:expr, $help:expr, $m:expr) => {{
                let m = $m;
                r.register($name, $help, m.clone());
                m
            }};
        }
        let inner = Inner {
            stream_frames: reg!(
                "pixelwire_stream_frames",
                "Frames published per stream",
                Family::default()
            ),
            stream_render: reg!(
                "pixelwire_stream_render_seconds",
                "Time to render a generated frame",
                hist(seconds_histogram)
            ),
            stream_watchers: reg!(
                "pixelwire_stream_watchers",
                "Consumers watching a stream",
                Family::default()
            ),
            connections: reg!(
                "pixelwire_display_connections",
                "Display connections accepted, by protocol",
                Family::default()
            ),
            reconnections: reg!(
                "pixelwire_display_reconnections",
                "Connections of a display id seen before",
                Family::default()
            ),
            connected: reg!(
                "pixelwire_display_connected",
                "1 while the display is connected",
                Family::default()
            ),
            errors: reg!(
                "pixelwire_display_errors",
                "Display sessions ended by an error, by kind",
                Family::default()
            ),
            frames_sent: reg!(
                "pixelwire_display_frames_sent",
                "Frames sent to a display",
                Family::default()
            ),
            frames_presented: reg!(
                "pixelwire_display_frames_delivered",
                "Frames a display acknowledged (legacy: fully written)",
                Family::default()
            ),
            frames_skipped: reg!(
                "pixelwire_display_frames_skipped",
                "Source frames a display never got because a newer one replaced them",
                Family::default()
            ),
            bytes_sent: reg!(
                "pixelwire_display_sent_bytes",
                "Bytes sent to a display",
                Family::default()
            ),
            packets_sent: reg!(
                "pixelwire_display_packets_sent",
                "RECT messages or legacy packets sent",
                Family::default()
            ),
            rects_per_frame: reg!(
                "pixelwire_display_rects_per_frame",
                "Rectangle messages per frame",
                hist(rects_histogram)
            ),
            frame_bytes: reg!(
                "pixelwire_display_frame_bytes",
                "Bytes per frame on the wire",
                hist(bytes_histogram)
            ),
            frames_in_flight: reg!(
                "pixelwire_display_frames_in_flight",
                "Frames sent and not yet acknowledged",
                Family::default()
            ),
            quality_level: reg!(
                "pixelwire_display_quality_level",
                "Rate controller level: 0 exact .. 3 coarsest",
                Family::default()
            ),
            capacity: reg!(
                "pixelwire_display_capacity_bytes_per_second",
                "Measured link and device capacity (0 until known)",
                Family::default()
            ),
            rtt: reg!(
                "pixelwire_display_rtt_seconds",
                "Smallest round trip seen (PING/PONG)",
                Family::default()
            ),
            latency: reg!(
                "pixelwire_display_latency_seconds",
                "Capture to presentation, estimated from acknowledgements",
                hist(latency_histogram)
            ),
            stage: reg!(
                "pixelwire_display_stage_seconds",
                "Time per processing stage per frame",
                hist(seconds_histogram)
            ),
            device_fps: reg!(
                "pixelwire_device_fps",
                "Frames per second reported by the device",
                Family::default()
            ),
            device_rssi: reg!(
                "pixelwire_device_rssi_dbm",
                "WiFi signal reported by the device",
                Family::default()
            ),
            device_heap: reg!(
                "pixelwire_device_free_heap_bytes",
                "Free heap reported by the device",
                Family::default()
            ),
            device_decode: reg!(
                "pixelwire_device_decode_seconds",
                "Mean decode time per frame reported by the device",
                Family::default()
            ),
            camera_frames: reg!(
                "pixelwire_camera_frames",
                "Frames received from cameras",
                Family::default()
            ),
            camera_bytes: reg!(
                "pixelwire_camera_received_bytes",
                "Bytes of frames received from cameras",
                Family::default()
            ),
            camera_dropped: reg!(
                "pixelwire_camera_dropped_frames",
                "Camera frames dropped, by transport and reason",
                Family::default()
            ),
            encode: reg!(
                "pixelwire_stream_h264_encode_seconds",
                "Time to encode a frame as H.264",
                hist(seconds_histogram)
            ),
            encode_errors: reg!(
                "pixelwire_stream_h264_encode_errors",
                "Frames the H.264 encoder failed on (logged; the frame is skipped)",
                Family::default()
            ),
            viewers: reg!(
                "pixelwire_stream_viewers",
                "Browser and MJPEG viewers connected",
                Family::default()
            ),
            dashboard_polls: reg!(
                "pixelwire_dashboard_polls",
                "Dashboard polls of Prometheus, by outcome",
                Family::default()
            ),
            dashboard_poll_time: reg!(
                "pixelwire_dashboard_poll_seconds",
                "Time for all queries of one dashboard poll to be answered",
                hist(latency_histogram)
            ),
            registry: Registry::default(),
        };
        let inner = Inner {
            registry: r,
            ..inner
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The exposition in `format`; see [`Metrics::encode`].
    pub fn encode_as(&self, streams: &[Arc<crate::bus::Stream>], format: Format) -> String {
        let om = self.encode(streams);
        match format {
            Format::OpenMetrics => om,
            Format::Text => exposition::openmetrics_to_text(&om),
        }
    }

    /// The OpenMetrics text exposition, after updating the per-stream figures from `streams`.
    pub fn encode(&self, streams: &[Arc<crate::bus::Stream>]) -> String {
        for s in streams {
            let l = StreamLabel {
                stream: s.name().to_string(),
            };
            self.inner
                .stream_watchers
                .get_or_create(&l)
                .set(s.watchers() as i64);
            let c = self.inner.stream_frames.get_or_create(&l);
            let have = c.get();
            let now = s.frames();
            if now > have {
                c.inc_by(now - have);
            }
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    /// A generated frame took `d` to render.
    pub fn observe_render(&self, stream: &str, d: Duration) {
        self.inner
            .stream_render
            .get_or_create(&StreamLabel {
                stream: stream.to_string(),
            })
            .observe(d.as_secs_f64());
    }

    /// A display connection was accepted.
    pub fn connection(&self, protocol: &str) {
        self.inner
            .connections
            .get_or_create(&ProtocolLabel {
                protocol: protocol.to_string(),
            })
            .inc();
    }

    /// A display id was seen before.
    pub fn reconnection(&self, id: &str) {
        self.inner.reconnections.get_or_create(&display(id)).inc();
    }

    /// Whether a display is connected.
    pub fn set_connected(&self, id: &str, yes: bool) {
        self.inner
            .connected
            .get_or_create(&display(id))
            .set(i64::from(yes));
        if !yes {
            self.inner
                .frames_in_flight
                .get_or_create(&display(id))
                .set(0);
        }
    }

    /// A session ended by an error.
    pub fn error(&self, protocol: &str, kind: &str) {
        self.inner
            .errors
            .get_or_create(&ErrorLabel {
                protocol: protocol.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    /// A frame was sent.
    pub fn frame_sent(&self, id: &str, sent: &pixelwire_core::FrameSent, skipped: u64) {
        let l = display(id);
        self.inner.frames_sent.get_or_create(&l).inc();
        self.inner.frames_skipped.get_or_create(&l).inc_by(skipped);
        self.inner.bytes_sent.get_or_create(&l).inc_by(sent.bytes);
        self.inner
            .packets_sent
            .get_or_create(&l)
            .inc_by(u64::from(sent.rects));
        self.inner
            .rects_per_frame
            .get_or_create(&l)
            .observe(f64::from(sent.rects));
        self.inner
            .frame_bytes
            .get_or_create(&l)
            .observe(sent.bytes as f64);
        self.inner
            .quality_level
            .get_or_create(&l)
            .set(i64::from(sent.level));
        let st = &sent.stages;
        for (stage, us) in [
            ("resize", st.resize_us),
            ("convert", st.convert_us),
            ("diff", st.diff_us),
            ("encode", st.encode_us),
        ] {
            self.stage(id, stage, Duration::from_micros(us));
        }
    }

    /// Time spent in a stage.
    pub fn stage(&self, id: &str, stage: &str, d: Duration) {
        self.inner
            .stage
            .get_or_create(&StageLabel {
                display: id.to_string(),
                stage: stage.to_string(),
            })
            .observe(d.as_secs_f64());
    }

    /// A frame was presented `latency` after capture.
    pub fn frame_presented(&self, id: &str, latency: Duration) {
        let l = display(id);
        self.inner.frames_presented.get_or_create(&l).inc();
        self.inner
            .latency
            .get_or_create(&l)
            .observe(latency.as_secs_f64());
    }

    /// Link state after an event.
    pub fn link(&self, id: &str, in_flight: usize, capacity: Option<f64>, rtt: Option<Duration>) {
        let l = display(id);
        self.inner
            .frames_in_flight
            .get_or_create(&l)
            .set(in_flight as i64);
        self.inner
            .capacity
            .get_or_create(&l)
            .set(capacity.unwrap_or(0.0));
        if let Some(r) = rtt {
            self.inner.rtt.get_or_create(&l).set(r.as_secs_f64());
        }
    }

    /// A camera frame arrived.
    pub fn camera_frame(&self, stream: &str, transport: &str, bytes: u64) {
        self.inner
            .camera_frames
            .get_or_create(&CameraLabel {
                stream: stream.to_string(),
                transport: transport.to_string(),
            })
            .inc();
        self.inner
            .camera_bytes
            .get_or_create(&StreamLabel {
                stream: stream.to_string(),
            })
            .inc_by(bytes);
    }

    /// A dashboard poll ended after `d`; `answered` unless Prometheus was unreachable.
    pub fn dashboard_poll(&self, stream: &str, answered: bool, d: Duration) {
        let outcome = if answered { "answered" } else { "unreachable" };
        self.inner
            .dashboard_polls
            .get_or_create(&PollLabel {
                stream: stream.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.inner
            .dashboard_poll_time
            .get_or_create(&StreamLabel {
                stream: stream.to_string(),
            })
            .observe(d.as_secs_f64());
    }

    /// A frame took `d` to encode as H.264.
    pub fn observe_encode(&self, stream: &str, d: Duration) {
        self.inner
            .encode
            .get_or_create(&StreamLabel {
                stream: stream.to_string(),
            })
            .observe(d.as_secs_f64());
    }

    /// The H.264 encoder failed on a frame.
    pub fn encoder_error(&self, stream: &str) {
        self.inner
            .encode_errors
            .get_or_create(&StreamLabel {
                stream: stream.to_string(),
            })
            .inc();
    }

    /// A viewer connected (`+1`) or left (`-1`).
    pub fn viewer(&self, stream: &str, codec: &str, delta: i64) {
        self.inner
            .viewers
            .get_or_create(&ViewerLabel {
                stream: stream.to_string(),
                codec: codec.to_string(),
            })
            .inc_by(delta);
    }

    /// A camera frame was dropped.
    pub fn camera_dropped(&self, transport: &str, reason: &str) {
        self.inner
            .camera_dropped
            .get_or_create(&DropLabel {
                transport: transport.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Figures a device reported.
    pub fn device_stats(&self, id: &str, s: &pixelwire_proto::Stats) {
        let l = display(id);
        self.inner
            .device_fps
            .get_or_create(&l)
            .set(f64::from(s.fps_centi) / 100.0);
        self.inner
            .device_rssi
            .get_or_create(&l)
            .set(i64::from(s.rssi_dbm));
        self.inner
            .device_heap
            .get_or_create(&l)
            .set(i64::from(s.free_heap_bytes));
        self.inner
            .device_decode
            .get_or_create(&l)
            .set(f64::from(s.decode_us) / 1e6);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_converts_without_openmetrics_leftovers() {
        let m = Metrics::new();
        m.connection("pixelwire");
        m.error("legacy", "write");
        m.observe_render("bios", Duration::from_millis(3));
        m.set_connected("d1", true);
        m.camera_frame("cam", "http", 1000);
        let om = m.encode(&[]);
        assert!(om.ends_with("# EOF\n"), "{om}");
        let text = exposition::openmetrics_to_text(&om);
        for want in [
            "# HELP pixelwire_display_connections_total Display connections accepted, by protocol.\n",
            "# TYPE pixelwire_display_connections_total counter\npixelwire_display_connections_total{protocol=\"pixelwire\"} 1\n",
            "# TYPE pixelwire_display_errors_total counter\npixelwire_display_errors_total{protocol=\"legacy\",kind=\"write\"} 1\n",
            "# TYPE pixelwire_camera_received_bytes_total counter\npixelwire_camera_received_bytes_total{stream=\"cam\"} 1000\n",
            "# TYPE pixelwire_stream_render_seconds histogram\n",
            "pixelwire_stream_render_seconds_bucket{le=\"0.005\",stream=\"bios\"} 1\n",
            "pixelwire_stream_render_seconds_bucket{le=\"+Inf\",stream=\"bios\"} 1\n",
            "# TYPE pixelwire_display_connected gauge\npixelwire_display_connected{display=\"d1\"} 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        // Every TYPE names a family whose samples follow it under that name.
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = line.split(' ').nth(2).unwrap_or_default();
            assert!(
                text.lines()
                    .any(|l| !l.starts_with('#') && l.starts_with(name)),
                "no samples for {line}"
            );
        }
    }
}
