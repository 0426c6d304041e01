//! Viewer metrics: the H.264 encoder of a stream (`pixelwire_stream_h264_*`, recorded through an
//! [`EncoderMetrics`] made when the encoder starts), the viewers connected per stream and codec
//! (`pixelwire_stream_viewers`, held up by a [`ViewerGuard`] while a viewer is connected) and what
//! the viewer pages measured and reported back (`pixelwire_viewer_*`, recorded through a
//! [`ViewerReportMetrics`] made when a viewer socket opens: capture-to-paint latency beside the
//! displays' `pixelwire_display_latency_seconds`, with the same buckets).

use super::label::{Name, label_values};
use super::series::{Hist, Lazy, hist, latency_histogram, seconds_histogram};
use super::stream::StreamLabel;
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

label_values! {
    /// What a viewer receives.
    pub enum ViewerCodec {
        /// H.264 access units for WebCodecs, over WebSocket.
        H264 => "h264",
        /// One JPEG per frame, over WebSocket.
        Jpeg => "jpeg",
        /// MJPEG over HTTP.
        Mjpeg => "mjpeg",
        /// H.264 over RTSP (RTP interleaved on the RTSP connection).
        Rtsp => "rtsp",
    }
}

label_values! {
    /// Why a viewer's report was not recorded.
    pub enum ReportRejection {
        /// Longer than a report may be.
        TooLarge => "too_large",
        /// Not JSON, or not shaped like a report.
        Malformed => "malformed",
        /// More latency samples or frames than one report may carry.
        OutOfRange => "out_of_range",
        /// The report names another codec than the socket carries.
        CodecMismatch => "codec_mismatch",
    }
}

/// `{reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectionLabel {
    reason: ReportRejection,
}

/// `{stream, codec}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViewerLabel {
    stream: Name,
    codec: ViewerCodec,
}

/// The viewer families.
pub(super) struct ViewerFamilies {
    encode: Hist<StreamLabel>,
    encode_errors: Family<StreamLabel, Counter>,
    viewers: Family<ViewerLabel, Gauge>,
    paint_latency: Hist<ViewerLabel>,
    decoded: Family<ViewerLabel, Counter>,
    dropped: Family<ViewerLabel, Counter>,
    rejected: Family<RejectionLabel, Counter>,
    skipped: Family<ViewerLabel, Counter>,
}

impl ViewerFamilies {
    /// Drops the series of a stream that no longer exists.
    pub(super) fn forget(&self, l: &StreamLabel) {
        self.encode.remove(l);
        self.encode_errors.remove(l);
        for &codec in ViewerCodec::ALL {
            let v = ViewerLabel {
                stream: l.stream.clone(),
                codec,
            };
            self.viewers.remove(&v);
            self.paint_latency.remove(&v);
            self.decoded.remove(&v);
            self.dropped.remove(&v);
        }
    }

    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            encode: register(
                r,
                "pixelwire_stream_h264_encode_seconds",
                "Time to encode a frame as H.264",
                hist(seconds_histogram),
            ),
            encode_errors: register(
                r,
                "pixelwire_stream_h264_encode_errors",
                "Frames the H.264 encoder failed on (logged; the frame is skipped)",
                Family::default(),
            ),
            viewers: register(
                r,
                "pixelwire_stream_viewers",
                "Browser and MJPEG viewers connected",
                Family::default(),
            ),
            paint_latency: register(
                r,
                "pixelwire_viewer_paint_latency_seconds",
                "Capture to paint in a viewer page, as the page reported it",
                hist(latency_histogram),
            ),
            decoded: register(
                r,
                "pixelwire_viewer_decoded_frames",
                "Frames a viewer page reported decoded",
                Family::default(),
            ),
            dropped: register(
                r,
                "pixelwire_viewer_dropped_frames",
                "Frames a viewer page reported received and never painted",
                Family::default(),
            ),
            rejected: register(
                r,
                "pixelwire_viewer_reports_rejected",
                "Viewer reports not recorded, by reason",
                Family::default(),
            ),
            skipped: register(
                r,
                "pixelwire_viewer_skipped_frames",
                "Frames a viewer socket never got because its send queue was backed up",
                Family::default(),
            ),
        }
    }
}

/// What the H.264 encoder of one stream records.
#[derive(Debug)]
pub struct EncoderMetrics {
    time: Lazy<StreamLabel, Histogram, fn() -> Histogram>,
    errors: Counter,
}

impl EncoderMetrics {
    /// A frame took `d` to encode.
    pub fn encoded(&self, d: Duration) {
        self.time.get().observe(d.as_secs_f64());
    }

    /// The encoder failed on a frame.
    pub fn failed(&self) {
        self.errors.inc();
    }
}

/// Counts one viewer while it lives.
#[derive(Debug)]
pub struct ViewerGuard {
    viewers: Gauge,
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.viewers.dec();
    }
}

/// What one viewer socket records from its page's reports, resolved once per connection. The
/// series appear with the first report: a client that never reports (seed 001's viewers, tools)
/// adds none.
#[derive(Debug)]
pub struct ViewerReportMetrics {
    latency: Lazy<ViewerLabel, Histogram, fn() -> Histogram>,
    decoded: Lazy<ViewerLabel, Counter>,
    dropped: Lazy<ViewerLabel, Counter>,
    rejected: Family<RejectionLabel, Counter>,
}

impl ViewerReportMetrics {
    /// A report: frames painted `latencies` after capture, `decoded` and `dropped` frames since
    /// the page's previous report.
    pub fn report(&self, latencies: &[Duration], decoded: u64, dropped: u64) {
        let h = self.latency.get();
        for l in latencies {
            h.observe(l.as_secs_f64());
        }
        self.decoded.get().inc_by(decoded);
        self.dropped.get().inc_by(dropped);
    }

    /// A report was not recorded.
    pub fn rejected(&self, reason: ReportRejection) {
        self.rejected
            .get_or_create(&RejectionLabel { reason })
            .inc();
    }
}

/// Counts the frames one viewer socket skipped because its send queue was backed up. Exported
/// from 0 while a viewer of the stream and codec is connected, so `rate()` sees the series.
#[derive(Debug)]
pub struct ViewerSkips(Counter);

impl ViewerSkips {
    /// One frame skipped.
    pub fn skipped(&self) {
        self.0.inc();
    }

    /// `n` frames skipped.
    pub fn skipped_n(&self, n: u64) {
        self.0.inc_by(n);
    }
}

impl Metrics {
    /// The handle a viewer socket of `stream` carrying `codec` counts its skipped frames through.
    pub fn viewer_skips(&self, stream: &str, codec: ViewerCodec) -> ViewerSkips {
        ViewerSkips(self.inner.viewer.skipped.get_or_create_owned(&ViewerLabel {
            stream: stream.into(),
            codec,
        }))
    }

    /// The handle the H.264 encoder of `stream` records through.
    pub fn encoder(&self, stream: &str) -> EncoderMetrics {
        let f = &self.inner.viewer;
        let l = StreamLabel::new(stream);
        EncoderMetrics {
            time: Lazy::new(&f.encode, l.clone()),
            // Exported from 0 while an encoder runs, so `rate()` and alerts see the series.
            errors: f.encode_errors.get_or_create_owned(&l),
        }
    }

    /// A viewer of `stream` connected; it is counted until the guard drops.
    pub fn viewer(&self, stream: &str, codec: ViewerCodec) -> ViewerGuard {
        let viewers = self.inner.viewer.viewers.get_or_create_owned(&ViewerLabel {
            stream: stream.into(),
            codec,
        });
        viewers.inc();
        ViewerGuard { viewers }
    }

    /// The handle a viewer socket of `stream` carrying `codec` records its page's reports
    /// through. `stream` is the stream the server serves that socket, never a name the client sent.
    pub fn viewer_reports(&self, stream: &str, codec: ViewerCodec) -> ViewerReportMetrics {
        let f = &self.inner.viewer;
        let l = ViewerLabel {
            stream: stream.into(),
            codec,
        };
        ViewerReportMetrics {
            latency: Lazy::new(&f.paint_latency, l.clone()),
            decoded: Lazy::new(&f.decoded, l.clone()),
            dropped: Lazy::new(&f.dropped, l),
            rejected: f.rejected.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_appear_under_the_sockets_stream_and_codec() {
        let m = Metrics::new();
        let h264 = m.viewer_reports("cam", ViewerCodec::H264);
        let jpeg = m.viewer_reports("cam", ViewerCodec::Jpeg);
        // A socket whose page never reports adds no series.
        assert!(!m.encode(&[]).contains("pixelwire_viewer_"));
        h264.report(
            &[Duration::from_millis(3), Duration::from_millis(40)],
            30,
            2,
        );
        h264.report(&[Duration::from_secs(7)], 1, 0);
        jpeg.report(&[], 0, 5);
        h264.rejected(ReportRejection::Malformed);
        let om = m.encode(&[]);
        for want in [
            "pixelwire_viewer_paint_latency_seconds_count{stream=\"cam\",codec=\"h264\"} 3\n",
            "pixelwire_viewer_paint_latency_seconds_bucket{le=\"0.005\",stream=\"cam\",codec=\"h264\"} 1\n",
            "pixelwire_viewer_paint_latency_seconds_bucket{le=\"0.05\",stream=\"cam\",codec=\"h264\"} 2\n",
            "pixelwire_viewer_paint_latency_seconds_bucket{le=\"5.0\",stream=\"cam\",codec=\"h264\"} 2\n",
            "pixelwire_viewer_paint_latency_seconds_count{stream=\"cam\",codec=\"jpeg\"} 0\n",
            "pixelwire_viewer_decoded_frames_total{stream=\"cam\",codec=\"h264\"} 31\n",
            "pixelwire_viewer_dropped_frames_total{stream=\"cam\",codec=\"h264\"} 2\n",
            "pixelwire_viewer_dropped_frames_total{stream=\"cam\",codec=\"jpeg\"} 5\n",
            "pixelwire_viewer_reports_rejected_total{reason=\"malformed\"} 1\n",
        ] {
            assert!(om.contains(want), "missing {want:?} in\n{om}");
        }
    }
}
