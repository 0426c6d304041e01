//! What the areas build their families from: float gauges, histogram families with fixed bucket
//! layouts, and [`Lazy`], one series of a family resolved once and then kept, so recording into it
//! touches only the metric (no label set built, hashed or looked up).

use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use std::hash::Hash;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

/// A gauge of `f64`.
pub type FloatGauge = Gauge<f64, AtomicU64>;

/// A histogram family whose buckets come from a constructor function.
pub type Hist<L> = Family<L, Histogram, fn() -> Histogram>;

/// A histogram family with the buckets of `buckets`.
pub fn hist<L: Clone + Hash + Eq>(buckets: fn() -> Histogram) -> Hist<L> {
    Family::new_with_constructor(buckets)
}

/// Durations from 10 µs to 250 ms: processing stages, rendering, encoding.
pub fn seconds_histogram() -> Histogram {
    Histogram::new([
        1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
    ])
}

/// Durations from 5 ms to 5 s: latency to a display, answers from Prometheus.
pub fn latency_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0,
    ])
}

/// PSNR of a panel against its source, dB: 10 (unreadable) to 50 (beyond RGB565's 39–42); a panel
/// equal to its source (capped at 100 dB) lands in `+Inf`.
pub fn psnr_histogram() -> Histogram {
    Histogram::new([
        10.0, 15.0, 20.0, 22.0, 24.0, 26.0, 28.0, 30.0, 32.0, 34.0, 36.0, 38.0, 40.0, 42.0, 45.0,
        50.0,
    ])
}

/// Rectangles per frame.
pub fn rects_histogram() -> Histogram {
    Histogram::new([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0])
}

/// Bytes per frame.
pub fn bytes_histogram() -> Histogram {
    Histogram::new([
        32.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
    ])
}

/// One series of a family, created the first time something is recorded and kept from then on.
///
/// Not at construction: a family with no series is not exposed, and a series appears in
/// `/metrics` from the moment it exists, so a handle made when a connection opens must not add
/// series for things that have not happened (a legacy sketch never reports device figures).
pub struct Lazy<L, M, C = fn() -> M> {
    family: Family<L, M, C>,
    labels: L,
    metric: OnceLock<M>,
}

impl<L, M, C> Lazy<L, M, C>
where
    L: Clone + Hash + Eq,
    M: Clone,
    C: MetricConstructor<M> + Clone,
{
    /// The series of `family` labelled `labels`, not created yet.
    pub fn new(family: &Family<L, M, C>, labels: L) -> Self {
        Self {
            family: family.clone(),
            labels,
            metric: OnceLock::new(),
        }
    }

    /// The series, created on the first call.
    pub fn get(&self) -> &M {
        self.metric
            .get_or_init(|| self.family.get_or_create_owned(&self.labels))
    }

    /// The series if something was recorded through this handle.
    pub fn recorded(&self) -> Option<&M> {
        self.metric.get()
    }
}

impl<L: std::fmt::Debug, M, C> std::fmt::Debug for Lazy<L, M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy")
            .field("labels", &self.labels)
            .field("created", &self.metric.get().is_some())
            .finish()
    }
}
