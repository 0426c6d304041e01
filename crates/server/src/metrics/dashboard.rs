//! Dashboard metrics (`pixelwire_dashboard_*`): polls of Prometheus by outcome and the time a poll
//! takes, recorded by a dashboard task through a [`DashboardMetrics`] made when it starts.

use super::label::{Name, label_values};
use super::series::{Hist, Lazy, hist, latency_histogram};
use super::stream::StreamLabel;
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

label_values! {
    /// How a dashboard poll ended.
    pub enum PollOutcome {
        /// Prometheus answered (possibly rejecting a query).
        Answered => "answered",
        /// Prometheus could not be reached or gave no answer in time.
        Unreachable => "unreachable",
    }
}

/// `{stream, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabel {
    stream: Name,
    outcome: PollOutcome,
}

/// The dashboard families.
pub(super) struct DashboardFamilies {
    polls: Family<PollLabel, Counter>,
    poll_time: Hist<StreamLabel>,
}

impl DashboardFamilies {
    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            polls: register(
                r,
                "pixelwire_dashboard_polls",
                "Dashboard polls of Prometheus, by outcome",
                Family::default(),
            ),
            poll_time: register(
                r,
                "pixelwire_dashboard_poll_seconds",
                "Time for all queries of one dashboard poll to be answered",
                hist(latency_histogram),
            ),
        }
    }
}

/// What one dashboard stream records.
#[derive(Debug)]
pub struct DashboardMetrics {
    /// Indexed like [`PollOutcome::ALL`].
    polls: [Lazy<PollLabel, Counter>; 2],
    time: Lazy<StreamLabel, Histogram, fn() -> Histogram>,
}

impl DashboardMetrics {
    /// A poll ended with `outcome` after `d`.
    pub fn polled(&self, outcome: PollOutcome, d: Duration) {
        self.polls[outcome as usize].get().inc();
        self.time.get().observe(d.as_secs_f64());
    }
}

impl Metrics {
    /// The handle the dashboard stream `stream` records through.
    pub fn dashboard(&self, stream: &str) -> DashboardMetrics {
        let f = &self.inner.dashboard;
        let l = StreamLabel::new(stream);
        let poll = |outcome| {
            Lazy::new(
                &f.polls,
                PollLabel {
                    stream: l.stream.clone(),
                    outcome,
                },
            )
        };
        DashboardMetrics {
            polls: [poll(PollOutcome::Answered), poll(PollOutcome::Unreachable)],
            time: Lazy::new(&f.poll_time, l),
        }
    }
}
