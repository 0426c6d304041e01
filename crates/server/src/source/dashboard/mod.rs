//! The `dashboard` source: Prometheus queries drawn as panels (seed 000's `PROMETHEUS_MONITOR`,
//! `reference/seed-protocols.md` §A.7, done properly).
//!
//! One task per dashboard stream. It sleeps while nobody watches the stream. Once watched it
//! backfills every graph with range queries, then runs instant queries on ticks aligned to
//! `interval_ms` ([`schedule`]), applies the answers to the [`model`], and re-renders the cells
//! whose data changed ([`crate::source::render::dashboard`]); a frame is published only when a
//! pixel changed. When Prometheus is down, slow or answering garbage, polls back off, the screen
//! says why and keeps moving, and the first answer after the outage backfills the gap.

pub mod model;
pub mod prom_api;
pub mod schedule;
pub mod units;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::bus::Stream;
use crate::config::StreamConfig;
use crate::config::dashboard::{DashboardConfig, PanelKind, PanelSpec};
use crate::shutdown::ShutdownSignal;
use crate::source::render::dashboard::DashboardScreen;
use model::{Connection, DashboardModel, PollOutcome, Reading, panel_range};
use pixelwire_media::MediaFrame;
use prom_api::PromClient;
use schedule::{PollKind, PollSchedule};
use units::Unit;

/// One reading as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadingView {
    /// "pending", "value" or "no_data".
    pub state: &'static str,
    /// The number, for "value" (null for ±∞ in JSON).
    pub value: Option<f64>,
    /// What the screen shows ("12.3 MiB/s", "no data", "…").
    pub text: String,
    /// Why there is no data.
    pub reason: Option<String>,
}

/// One series as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesView {
    /// Label ("" for single-series panels).
    pub label: String,
    /// PromQL.
    pub query: String,
    /// Latest reading.
    pub reading: ReadingView,
    /// History on the tick grid, oldest first (null where missing).
    pub history: Vec<Option<f64>>,
}

/// One panel as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelView {
    /// Title.
    pub title: String,
    /// Unit name.
    pub unit: &'static str,
    /// Kind.
    pub kind: PanelKind,
    /// The range drawn now, [bottom, top].
    pub range: [f64; 2],
    /// Series.
    pub series: Vec<SeriesView>,
    /// The max query's reading.
    pub max: Option<ReadingView>,
}

/// A dashboard as `GET /api/streams/{name}/dashboard` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardView {
    /// Prometheus base URL.
    pub prometheus: String,
    /// Query interval.
    pub interval_ms: u64,
    /// "idle" (nobody watches), "connecting", "ok" or "failing".
    pub connection: &'static str,
    /// Why Prometheus is failing.
    pub error: Option<String>,
    /// Consecutive failed polls.
    pub failures: u32,
    /// Unix ms of the tick of the newest data.
    pub tick_ms: Option<u64>,
    /// Frames published.
    pub frames: u64,
    /// Panels.
    pub panels: Vec<PanelView>,
}

fn reading_view(r: &Reading, unit: Unit, decimals: Option<u8>) -> ReadingView {
    match r {
        Reading::Pending => ReadingView {
            state: "pending",
            value: None,
            text: "…".into(),
            reason: None,
        },
        Reading::Value(v) => ReadingView {
            state: "value",
            value: v.is_finite().then_some(*v),
            text: unit.format(*v, decimals).joined(),
            reason: None,
        },
        Reading::NoData(why) => ReadingView {
            state: "no_data",
            value: None,
            text: "no data".into(),
            reason: Some(why.clone()),
        },
    }
}

/// The API's view of `model`.
pub fn view(
    cfg: &DashboardConfig,
    specs: &[PanelSpec],
    model: &DashboardModel,
    frames: u64,
) -> DashboardView {
    let (connection, error, failures) = match &model.connection {
        Connection::Idle => ("idle", None, 0),
        Connection::Connecting => ("connecting", None, 0),
        Connection::Ok => ("ok", None, 0),
        Connection::Failing { error, failures } => ("failing", Some(error.clone()), *failures),
    };
    let panels = specs
        .iter()
        .zip(&model.panels)
        .map(|(spec, state)| {
            let (lo, hi) = panel_range(spec, state);
            PanelView {
                title: spec.title.clone(),
                unit: spec.unit.name(),
                kind: spec.kind,
                range: [lo, hi],
                series: spec
                    .series
                    .iter()
                    .zip(&state.series)
                    .map(|(s, st)| SeriesView {
                        label: s.label.clone(),
                        query: s.query.clone(),
                        reading: reading_view(&st.reading, spec.unit, spec.decimals),
                        history: st.history.slots().collect(),
                    })
                    .collect(),
                max: state
                    .max
                    .as_ref()
                    .map(|m| reading_view(m, spec.unit, spec.decimals)),
            }
        })
        .collect();
    DashboardView {
        prometheus: cfg.prometheus.to_string(),
        interval_ms: cfg.interval_ms.get(),
        connection,
        error,
        failures,
        tick_ms: model.tick.map(|t| t.max(0) as u64 * cfg.interval_ms.get()),
        frames,
        panels,
    }
}

/// The latest view of every dashboard stream, for the API.
#[derive(Debug, Default)]
pub struct DashboardStates {
    views: Mutex<BTreeMap<String, DashboardView>>,
}

impl DashboardStates {
    /// The view of `stream`, if it is a dashboard.
    pub fn get(&self, stream: &str) -> Option<DashboardView> {
        self.views.lock().ok()?.get(stream).cloned()
    }

    fn set(&self, stream: &str, view: DashboardView) {
        if let Ok(mut m) = self.views.lock() {
            m.insert(stream.to_owned(), view);
        }
    }
}

/// Everything a running dashboard owns.
struct Dashboard {
    stream: Arc<Stream>,
    cfg: DashboardConfig,
    specs: Vec<PanelSpec>,
    model: DashboardModel,
    screen: DashboardScreen,
    states: Arc<DashboardStates>,
    render: crate::metrics::StreamMetrics,
    polls: crate::metrics::DashboardMetrics,
    frames: u64,
    /// Last reason logged per query, so a broken query is logged once, not every second.
    logged: Vec<Option<String>>,
}

impl Dashboard {
    /// Re-renders what changed and publishes a frame if a pixel did (or if `force`).
    fn publish(&mut self, force: bool) {
        let t0 = std::time::Instant::now();
        let changed = self.screen.update(&self.specs, &self.model);
        if changed > 0 || force {
            let (w, h) = self.screen.size();
            let mut rgba = vec![0u8; w as usize * h as usize * 4];
            self.screen.copy_to(&mut rgba);
            self.render.rendered(t0.elapsed());
            let now = crate::clock::now();
            self.stream.publish(MediaFrame::from_rgba(
                w,
                h,
                rgba,
                self.frames,
                now.as_micros(),
            ));
            self.frames += 1;
        }
        self.publish_view();
    }

    /// Updates what the API shows, without rendering.
    fn publish_view(&self) {
        self.states.set(
            self.stream.name(),
            view(&self.cfg, &self.specs, &self.model, self.frames),
        );
    }

    /// Logs each query's reason for having no data when it changes.
    fn log_query_problems(&mut self) {
        let targets = DashboardModel::queries(&self.specs);
        for (i, (target, query)) in targets.iter().enumerate() {
            let reading = match *target {
                model::QueryTarget::Series { panel, series } => {
                    &self.model.panels[panel].series[series].reading
                }
                model::QueryTarget::Max { panel } => match &self.model.panels[panel].max {
                    Some(r) => r,
                    None => continue,
                },
            };
            let why = match reading {
                Reading::NoData(why) => Some(why.clone()),
                _ => None,
            };
            if why != self.logged[i] {
                if let Some(w) = &why {
                    warn!(stream = self.stream.name(), query = %query, reason = %w, "dashboard query has no data");
                }
                self.logged[i] = why;
            }
        }
    }
}

/// Runs the dashboard stream `cfg` until shutdown.
///
/// The dashboard's view is registered before this returns, so the API knows the stream is a
/// dashboard from the moment the server starts; the returned future does the rest.
pub fn run_dashboard(
    stream: Arc<Stream>,
    cfg: StreamConfig,
    states: Arc<DashboardStates>,
    shutdown: ShutdownSignal,
    metrics: crate::metrics::Metrics,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let dash = cfg.dashboard_config();
    let client = PromClient::new(dash.prometheus.as_str(), dash.timeout_ms.duration());
    let specs = dash.panel_specs();
    let queries = DashboardModel::queries(&specs);
    let d = Dashboard {
        model: DashboardModel::new(&specs, dash.history_samples()),
        screen: DashboardScreen::new(
            cfg.width.get(),
            cfg.height.get(),
            specs.len(),
            dash.columns.map(|c| c.get()),
        ),
        logged: vec![None; queries.len()],
        specs,
        render: metrics.stream(stream.name()),
        polls: metrics.dashboard(stream.name()),
        stream,
        states,
        frames: 0,
        cfg: dash,
    };
    d.publish_view();
    run(d, client, queries, shutdown)
}

async fn run(
    mut d: Dashboard,
    client: PromClient,
    queries: Vec<(model::QueryTarget, String)>,
    mut shutdown: ShutdownSignal,
) {
    let mut schedule = PollSchedule::new(d.cfg.interval_ms.get());
    let interval_s = d.cfg.interval_ms.get() as f64 / 1000.0;
    let history_len = d.cfg.history_samples();
    loop {
        tokio::select! {
            _ = d.stream.watched() => {}
            _ = shutdown.wait() => return,
        }
        d.model.connecting();
        let mut first_after_watch = true;
        while d.stream.watchers() > 0 {
            let now_ms = crate::clock::now().as_micros() / 1000;
            let due = schedule.due_ms(now_ms);
            if due > now_ms {
                // While Prometheus fails, wake on every tick too, so graphs keep moving.
                let failing = matches!(d.model.connection, Connection::Failing { .. });
                let next_tick = schedule.tick_start_ms(schedule.tick_at(now_ms) + 1);
                let wake = if failing { due.min(next_tick) } else { due };
                let at = pixelwire_core::Timestamp::from_micros(wake * 1000);
                tokio::select! {
                    _ = tokio::time::sleep_until(crate::clock::to_instant(at)) => {}
                    _ = shutdown.wait() => return,
                }
                if failing && wake < due {
                    let now_ms = crate::clock::now().as_micros() / 1000;
                    d.model.advance_to(schedule.tick_at(now_ms));
                    d.publish(false);
                }
                continue;
            }
            let poll = schedule.start(now_ms);
            let at_s = schedule.tick_start_ms(poll.tick) as f64 / 1000.0;
            let t0 = std::time::Instant::now();
            let answered = async {
                match poll.kind {
                    PollKind::Backfill => {
                        let start_s = at_s - (history_len.saturating_sub(1)) as f64 * interval_s;
                        let answers =
                            join_all(queries.iter().map(|(target, q)| {
                                let client = &client;
                                async move {
                                    (*target, client.range(q, start_s, at_s, interval_s).await)
                                }
                            }))
                            .await;
                        d.model
                            .apply_backfill(poll.tick, d.cfg.interval_ms.get(), answers)
                    }
                    PollKind::Instant => {
                        let answers = join_all(queries.iter().map(|(target, q)| {
                            let client = &client;
                            async move { (*target, client.instant(q, at_s).await) }
                        }))
                        .await;
                        d.model.apply_instant(poll.tick, answers)
                    }
                }
            };
            let outcome = tokio::select! {
                o = answered => o,
                _ = shutdown.wait() => return,
            };
            let polled = match outcome {
                PollOutcome::Answered => crate::metrics::PollOutcome::Answered,
                PollOutcome::Unreachable(_) => crate::metrics::PollOutcome::Unreachable,
            };
            d.polls.polled(polled, t0.elapsed());
            let done_ms = crate::clock::now().as_micros() / 1000;
            match outcome {
                PollOutcome::Answered => {
                    if schedule.failures() > 0 {
                        info!(
                            stream = d.stream.name(),
                            failures = schedule.failures(),
                            "dashboard: Prometheus answers again"
                        );
                    }
                    schedule.succeeded(done_ms);
                }
                PollOutcome::Unreachable(why) => {
                    let wait_ms = schedule.failed(done_ms);
                    if schedule.failures() == 1 {
                        warn!(stream = d.stream.name(), prometheus = %d.cfg.prometheus, reason = %why, "dashboard: Prometheus does not answer; retrying with backoff");
                    } else {
                        debug!(stream = d.stream.name(), reason = %why, wait_ms, "dashboard: Prometheus still does not answer");
                    }
                }
            }
            d.log_query_problems();
            d.publish(first_after_watch);
            first_after_watch = false;
        }
        schedule.pause();
        d.model.pause();
        d.publish_view();
    }
}
