//! Stream metrics: frames published and consumers watching (read from the bus at each scrape) and
//! the time to render a generated frame (recorded by the source task through [`StreamMetrics`]).

use super::label::Name;
use super::series::{Hist, Lazy, hist, seconds_histogram};
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// `{stream}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabel {
    /// Stream name.
    pub stream: Name,
}

impl StreamLabel {
    /// The label of the stream called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            stream: name.into(),
        }
    }
}

/// The stream families.
pub(super) struct StreamFamilies {
    frames: Family<StreamLabel, Counter>,
    render: Hist<StreamLabel>,
    watchers: Family<StreamLabel, Gauge>,
}

impl StreamFamilies {
    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            frames: register(
                r,
                "pixelwire_stream_frames",
                "Frames published per stream",
                Family::default(),
            ),
            render: register(
                r,
                "pixelwire_stream_render_seconds",
                "Time to render a generated frame",
                hist(seconds_histogram),
            ),
            watchers: register(
                r,
                "pixelwire_stream_watchers",
                "Consumers watching a stream",
                Family::default(),
            ),
        }
    }

    /// Drops the series of a stream that no longer exists.
    pub(super) fn forget(&self, l: &StreamLabel) {
        self.frames.remove(l);
        self.render.remove(l);
        self.watchers.remove(l);
    }

    /// Brings frames and watchers up to what the bus says (before each scrape).
    pub(super) fn update(&self, streams: &[Arc<crate::bus::Stream>]) {
        for s in streams {
            let l = StreamLabel::new(s.name());
            self.watchers.get_or_create(&l).set(s.watchers() as i64);
            let c = self.frames.get_or_create(&l);
            let have = c.get();
            let now = s.frames();
            if now > have {
                c.inc_by(now - have);
            }
        }
    }
}

/// What a stream's source task records; made once per stream.
#[derive(Debug)]
pub struct StreamMetrics {
    render: Lazy<StreamLabel, Histogram, fn() -> Histogram>,
}

impl StreamMetrics {
    /// A frame took `d` to render.
    pub fn rendered(&self, d: Duration) {
        self.render.get().observe(d.as_secs_f64());
    }
}

impl Metrics {
    /// The handle a source task records the stream `name` through.
    pub fn stream(&self, name: &str) -> StreamMetrics {
        StreamMetrics {
            render: Lazy::new(&self.inner.stream.render, StreamLabel::new(name)),
        }
    }
}
