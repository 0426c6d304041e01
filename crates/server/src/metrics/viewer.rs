//! Viewer metrics: the H.264 encoder of a stream (`pixelwire_stream_h264_*`, recorded through an
//! [`EncoderMetrics`] made when the encoder starts) and the viewers connected per stream and codec
//! (`pixelwire_stream_viewers`, held up by a [`ViewerGuard`] while a viewer is connected).

use super::label::{Name, label_values};
use super::series::{Hist, Lazy, hist, seconds_histogram};
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
    }
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
}

impl ViewerFamilies {
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

impl Metrics {
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
}
