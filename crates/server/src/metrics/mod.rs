//! Prometheus metrics, named `pixelwire_<area>_<what>_<unit>` with labels from bounded sets: stream
//! names and display ids come from the configuration and the devices, and every other label is an
//! enum ([`label`]); never addresses or frame numbers. Served at `/metrics` and listed in
//! `docs/api.md`, in the text format the scraper asks for ([`exposition`]).
//!
//! One file per area registers that area's families and hands out the handles its code records
//! into: [`stream`], [`display`] and the device-reported [`device`] figures, [`camera`] ingest,
//! [`viewer`]s, the shared H.264 [`encoder`]s, [`dashboard`] polls, [`http`] listeners, [`recording`]s, [`whep`] sessions, the [`cluster`] bus. A connection or a stream resolves its
//! series once ([`series::Lazy`]), so recording a frame builds no label set and hashes nothing.
//! This file holds the registry and the [`Metrics`] handle; the order the areas register in is
//! the order of the families in the exposition.

#[cfg(test)]
// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#[allow(unsafe_code)]
mod alloc_tests;
pub mod camera;
pub mod cluster;
pub mod dashboard;
pub mod device;
pub mod display;
pub mod encoder;
pub mod exposition;
pub mod http;
pub mod label;
pub mod recording;
pub mod series;
pub mod stream;
pub mod viewer;
pub mod whep;

pub use camera::{CameraMetrics, DropReason, Transport};
pub use cluster::{ClusterDrop, ClusterKind, ClusterStreamMetrics, KvBucket};
pub use dashboard::{DashboardMetrics, PollOutcome};
pub use display::{DisplayMetrics, ErrorKind, Protocol};
pub use encoder::{ConsumerGuard, ConsumerKind, EncoderUse};
pub use exposition::Format;
pub use http::{HttpConnectionGuard, HttpRefusal};
pub use label::Name;
pub use recording::{DeleteReason, RecordingMetrics};
pub use stream::StreamMetrics;
pub use viewer::{
    EncoderMetrics, ReportRejection, ViewerCodec, ViewerGuard, ViewerReportMetrics, ViewerSkips,
};
pub use whep::{WhepEnd, WhepRefusal, WhepSessionMetrics, WhepUdpMetrics};

use prometheus_client::registry::{Metric, Registry};
use std::sync::Arc;

/// Registers `metric` as `name` with `help` and returns it, to be kept by its area.
fn register<M: Metric + Clone>(r: &mut Registry, name: &str, help: &str, metric: M) -> M {
    r.register(name, help, metric.clone());
    metric
}

struct Inner {
    registry: Registry,
    stream: stream::StreamFamilies,
    display: display::DisplayFamilies,
    device: device::DeviceFamilies,
    camera: camera::CameraFamilies,
    viewer: viewer::ViewerFamilies,
    encoder: encoder::EncoderFamilies,
    dashboard: dashboard::DashboardFamilies,
    http: http::HttpFamilies,
    recording: recording::RecordingFamilies,
    whep: whep::WhepFamilies,
    cluster: cluster::ClusterFamilies,
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

impl Metrics {
    /// Drops every series labelled with `stream` (a stream created by a push that expired), so
    /// label sets stay bounded by configuration.
    pub fn forget_stream(&self, stream: &str) {
        let l = stream::StreamLabel::new(stream);
        self.inner.stream.forget(&l);
        self.inner.camera.forget(&l);
        self.inner.viewer.forget(&l);
        self.inner.encoder.forget(&l);
        self.inner.whep.forget(&l);
        self.inner.cluster.forget(&l);
    }

    /// Registers every metric.
    pub fn new() -> Self {
        let mut r = Registry::default();
        let inner = Inner {
            stream: stream::StreamFamilies::register(&mut r),
            display: display::DisplayFamilies::register(&mut r),
            device: device::DeviceFamilies::register(&mut r),
            camera: camera::CameraFamilies::register(&mut r),
            viewer: viewer::ViewerFamilies::register(&mut r),
            encoder: encoder::EncoderFamilies::register(&mut r),
            dashboard: dashboard::DashboardFamilies::register(&mut r),
            http: http::HttpFamilies::register(&mut r),
            recording: recording::RecordingFamilies::register(&mut r),
            whep: whep::WhepFamilies::register(&mut r),
            cluster: cluster::ClusterFamilies::register(&mut r),
            registry: r,
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
        self.inner.stream.update(streams);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_registry_converts_without_openmetrics_leftovers() {
        let m = Metrics::new();
        m.display_connection(Protocol::Pixelwire);
        m.display_error(Protocol::Legacy, ErrorKind::Write);
        m.stream("bios").rendered(Duration::from_millis(3));
        m.display("d1").connected();
        m.camera("cam", Transport::Http).frame(1000);
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
