//! What a dashboard knows, as plain data: per series its latest reading and a history on the poll
//! tick grid, per panel its range, and whether Prometheus answers. Poll answers go in with the tick
//! they belong to; nothing here reads a clock or a socket, so every state (pending, values, NaN,
//! empty results, rejected queries, an outage and its recovery) is reached in unit tests.
//!
//! Unlike seed 000, which stored missing samples as 0 (a dead exporter looked like an idle
//! machine), a missing sample stays missing: graphs show a gap and the value says why.

use std::collections::VecDeque;

use super::prom_api::{InstantSeries, QueryError, RangeSeries};
use super::units::nice_ceil;
use crate::config::dashboard::PanelSpec;

/// The latest state of one query.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Not asked yet.
    Pending,
    /// A number (possibly ±∞).
    Value(f64),
    /// No number, and why ("empty result", "NaN", Prometheus's error ...).
    NoData(String),
}

impl Reading {
    /// The value, if there is one.
    pub fn value(&self) -> Option<f64> {
        match self {
            Reading::Value(v) => Some(*v),
            _ => None,
        }
    }
}

/// Samples on the tick grid, oldest first, a fixed number of slots ending at the newest tick.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    newest_tick: Option<i64>,
    slots: VecDeque<Option<f64>>,
}

impl History {
    /// `len` empty slots.
    pub fn new(len: usize) -> Self {
        Self {
            newest_tick: None,
            slots: std::iter::repeat_n(None, len.max(2)).collect(),
        }
    }

    /// Slots, oldest first (missing samples are `None`).
    pub fn slots(&self) -> impl ExactSizeIterator<Item = Option<f64>> + '_ {
        self.slots.iter().copied()
    }

    /// The newest tick, once anything was recorded.
    pub fn newest_tick(&self) -> Option<i64> {
        self.newest_tick
    }

    /// Moves the window so that it ends at `tick` (older ticks are ignored).
    pub fn advance_to(&mut self, tick: i64) {
        let Some(newest) = self.newest_tick else {
            self.newest_tick = Some(tick);
            return;
        };
        if tick <= newest {
            return;
        }
        let shift = (tick - newest).min(self.slots.len() as i64) as usize;
        for _ in 0..shift {
            self.slots.pop_front();
            self.slots.push_back(None);
        }
        self.newest_tick = Some(tick);
    }

    /// Records `value` at `tick`; a tick past the window moves it, one before it is dropped.
    pub fn set(&mut self, tick: i64, value: Option<f64>) {
        self.advance_to(tick);
        let newest = self.newest_tick.unwrap_or(tick);
        let back = newest - tick;
        if (0..self.slots.len() as i64).contains(&back) {
            let i = self.slots.len() - 1 - back as usize;
            self.slots[i] = value.filter(|v| v.is_finite());
        }
    }

    /// Finite values in the window.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.slots.iter().filter_map(|v| *v)
    }
}

/// One series of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesState {
    /// Latest reading.
    pub reading: Reading,
    /// Past values.
    pub history: History,
}

/// One panel.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelState {
    /// Its series, as configured.
    pub series: Vec<SeriesState>,
    /// The reading of `max_query`, if the panel has one.
    pub max: Option<Reading>,
    /// The last value `max_query` had: the range keeps it while the query has no data, so a
    /// graph does not jump during an outage.
    pub last_max: Option<f64>,
}

/// Whether Prometheus answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Nobody watches; nothing is asked.
    Idle,
    /// Watched; the first answer has not come yet.
    Connecting,
    /// The last poll was answered.
    Ok,
    /// The last `failures` polls were not answered; `error` says why.
    Failing {
        /// The latest reason.
        error: String,
        /// Consecutive failed polls.
        failures: u32,
    },
}

/// Which reading of which panel a query feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryTarget {
    /// `panels[panel].series[series]`.
    Series {
        /// Panel index.
        panel: usize,
        /// Series index.
        series: usize,
    },
    /// `panels[panel].max`.
    Max {
        /// Panel index.
        panel: usize,
    },
}

/// Whether a poll reached Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// At least one query was answered (possibly with an error about that query).
    Answered,
    /// No query was answered; the first reason.
    Unreachable(String),
}

/// The whole dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardModel {
    /// Panels, as configured.
    pub panels: Vec<PanelState>,
    /// Whether Prometheus answers.
    pub connection: Connection,
    /// The tick of the newest poll applied.
    pub tick: Option<i64>,
}

impl DashboardModel {
    /// Every reading pending, `history_len` empty slots per series.
    pub fn new(specs: &[PanelSpec], history_len: usize) -> Self {
        let panels = specs
            .iter()
            .map(|p| PanelState {
                series: p
                    .series
                    .iter()
                    .map(|_| SeriesState {
                        reading: Reading::Pending,
                        history: History::new(history_len),
                    })
                    .collect(),
                max: p.max_query.as_ref().map(|_| Reading::Pending),
                last_max: None,
            })
            .collect();
        Self {
            panels,
            connection: Connection::Idle,
            tick: None,
        }
    }

    /// Every query and what it feeds, in a fixed order.
    pub fn queries(specs: &[PanelSpec]) -> Vec<(QueryTarget, String)> {
        let mut out = Vec::new();
        for (panel, p) in specs.iter().enumerate() {
            for (series, s) in p.series.iter().enumerate() {
                out.push((QueryTarget::Series { panel, series }, s.query.clone()));
            }
            if let Some(q) = &p.max_query {
                out.push((QueryTarget::Max { panel }, q.clone()));
            }
        }
        out
    }

    /// Back to idle (nobody watches): readings pending, history kept for the next backfill to
    /// overwrite.
    pub fn pause(&mut self) {
        self.connection = Connection::Idle;
        for p in &mut self.panels {
            for s in &mut p.series {
                s.reading = Reading::Pending;
            }
            if let Some(m) = &mut p.max {
                *m = Reading::Pending;
            }
        }
    }

    /// Watched again: waiting for the first answer.
    pub fn connecting(&mut self) {
        if self.connection == Connection::Idle {
            self.connection = Connection::Connecting;
        }
    }

    fn reading_mut(&mut self, target: QueryTarget) -> Option<(&mut Reading, Option<&mut History>)> {
        match target {
            QueryTarget::Series { panel, series } => {
                let s = self.panels.get_mut(panel)?.series.get_mut(series)?;
                Some((&mut s.reading, Some(&mut s.history)))
            }
            QueryTarget::Max { panel } => Some((self.panels.get_mut(panel)?.max.as_mut()?, None)),
        }
    }

    fn remember_max(&mut self) {
        for p in &mut self.panels {
            if let Some(v) = p.max.as_ref().and_then(Reading::value)
                && v.is_finite()
                && v > 0.0
            {
                p.last_max = Some(v);
            }
        }
    }

    fn advance_all(&mut self, tick: i64) {
        self.tick = Some(self.tick.map_or(tick, |t| t.max(tick)));
        for p in &mut self.panels {
            for s in &mut p.series {
                s.history.advance_to(tick);
            }
        }
    }

    /// Starts applying a poll at `tick`: false (and the unreachable state recorded) if Prometheus
    /// could not be reached, else every history advanced to `tick` and the connection marked ok.
    fn begin_poll(&mut self, tick: i64, outcome: &PollOutcome) -> bool {
        if let PollOutcome::Unreachable(e) = outcome {
            self.apply_unreachable(tick, e.clone());
            return false;
        }
        self.advance_all(tick);
        self.connection = Connection::Ok;
        true
    }

    /// Applies the answers of an instant poll at `tick`.
    pub fn apply_instant(
        &mut self,
        tick: i64,
        answers: Vec<(QueryTarget, Result<Vec<InstantSeries>, QueryError>)>,
    ) -> PollOutcome {
        let outcome = outcome_of(answers.iter().map(|(_, r)| r.as_ref().err()));
        if !self.begin_poll(tick, &outcome) {
            return outcome;
        }
        for (target, answer) in answers {
            let reading = match answer {
                Ok(series) => match series.as_slice() {
                    [] => Reading::NoData("empty result".into()),
                    [one] if one.value.is_nan() => Reading::NoData("NaN".into()),
                    [one] => Reading::Value(one.value),
                    many => Reading::NoData(too_many(many.len())),
                },
                Err(e) => Reading::NoData(e.to_string()),
            };
            if let Some((r, history)) = self.reading_mut(target) {
                if let Some(h) = history {
                    h.set(tick, reading.value());
                }
                *r = reading;
            }
        }
        self.remember_max();
        outcome
    }

    /// Applies the answers of a backfill ending at `tick`, whose points are `interval_ms` apart.
    pub fn apply_backfill(
        &mut self,
        tick: i64,
        interval_ms: u64,
        answers: Vec<(QueryTarget, Result<Vec<RangeSeries>, QueryError>)>,
    ) -> PollOutcome {
        let outcome = outcome_of(answers.iter().map(|(_, r)| r.as_ref().err()));
        if !self.begin_poll(tick, &outcome) {
            return outcome;
        }
        let to_tick = |t_s: f64| (t_s * 1000.0 / interval_ms.max(1) as f64).round() as i64;
        for (target, answer) in answers {
            let Some((reading, history)) = self.reading_mut(target) else {
                continue;
            };
            *reading = match answer {
                Ok(series) => match series.as_slice() {
                    [] => Reading::NoData("empty result".into()),
                    [one] => {
                        if let Some(h) = history {
                            for &(t, v) in &one.points {
                                h.set(to_tick(t), Some(v));
                            }
                        }
                        match one.points.last() {
                            Some(&(t, v)) if to_tick(t) == tick && !v.is_nan() => Reading::Value(v),
                            Some(&(t, _)) if to_tick(t) == tick => Reading::NoData("NaN".into()),
                            _ => Reading::NoData("empty result".into()),
                        }
                    }
                    many => Reading::NoData(too_many(many.len())),
                },
                Err(e) => Reading::NoData(e.to_string()),
            };
        }
        self.remember_max();
        outcome
    }

    /// Prometheus did not answer the poll at `tick`: every reading says why, graphs move on with
    /// a gap.
    pub fn apply_unreachable(&mut self, tick: i64, error: String) {
        self.advance_all(tick);
        let failures = match &self.connection {
            Connection::Failing { failures, .. } => failures + 1,
            _ => 1,
        };
        for p in &mut self.panels {
            for s in &mut p.series {
                s.reading = Reading::NoData(error.clone());
            }
            if let Some(m) = &mut p.max {
                *m = Reading::NoData(error.clone());
            }
        }
        self.connection = Connection::Failing { error, failures };
    }

    /// Moves every graph to `tick` without new data (used while Prometheus is down, so the screen
    /// keeps time).
    pub fn advance_to(&mut self, tick: i64) {
        self.advance_all(tick);
    }
}

fn too_many(n: usize) -> String {
    format!("{n} series; aggregate it, e.g. sum(...)")
}

fn outcome_of<'a>(errors: impl Iterator<Item = Option<&'a QueryError>>) -> PollOutcome {
    let mut first = None;
    for e in errors {
        match e {
            Some(QueryError::Unreachable(why)) => {
                first.get_or_insert_with(|| why.clone());
            }
            _ => return PollOutcome::Answered,
        }
    }
    PollOutcome::Unreachable(first.unwrap_or_else(|| "no queries".into()))
}

/// The range a panel draws: fixed, up to its `max_query`'s (last) value, or automatic (0, or a round
/// number below the smallest value when negative, up to a round number above the largest value
/// in the window and at least `auto_range_min`).
pub fn panel_range(spec: &PanelSpec, state: &PanelState) -> (f64, f64) {
    if let Some([lo, hi]) = spec.range {
        return (lo, hi);
    }
    if let Some(max) = state.last_max {
        return (0.0, max);
    }
    let values = || {
        state
            .series
            .iter()
            .flat_map(|s| s.history.values().chain(s.reading.value()))
            .filter(|v| v.is_finite())
    };
    let top = values().fold(spec.auto_range_min, f64::max);
    let bottom = values().fold(0.0, f64::min);
    let base = spec.unit.base();
    let bottom = if bottom < 0.0 {
        -nice_ceil(-bottom, base)
    } else {
        0.0
    };
    (bottom, nice_ceil(top, base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::dashboard::{DashboardConfig, PanelConfig};
    use std::collections::BTreeMap;

    fn specs(panels: &str) -> Vec<PanelSpec> {
        let cfg: DashboardConfig = toml::from_str(panels).unwrap();
        cfg.panel_specs()
    }

    fn one(v: f64) -> Result<Vec<InstantSeries>, QueryError> {
        Ok(vec![InstantSeries {
            labels: BTreeMap::new(),
            value: v,
        }])
    }

    const TWO: &str = r#"
        [[panels]]
        title = "a"
        query = "a"
        [[panels]]
        title = "disk"
        unit = "bytes_per_second"
        max_query = "m"
        series = [{ query = "r" }, { query = "w" }]
    "#;

    #[test]
    fn queries_are_listed_in_panel_order() {
        let q = DashboardModel::queries(&specs(TWO));
        let names: Vec<&str> = q.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(names, ["a", "r", "w", "m"]);
        assert_eq!(q[3].0, QueryTarget::Max { panel: 1 });
    }

    #[test]
    fn readings_cover_values_nan_empty_many_and_rejections() {
        let s = specs(TWO);
        let mut m = DashboardModel::new(&s, 4);
        let t = |panel, series| QueryTarget::Series { panel, series };
        let outcome = m.apply_instant(
            10,
            vec![
                (t(0, 0), one(42.0)),
                (t(1, 0), one(f64::NAN)),
                (t(1, 1), Ok(vec![])),
                (
                    QueryTarget::Max { panel: 1 },
                    Err(QueryError::Rejected {
                        kind: "bad_data".into(),
                        message: "parse error".into(),
                    }),
                ),
            ],
        );
        assert_eq!(outcome, PollOutcome::Answered);
        assert_eq!(m.connection, Connection::Ok);
        assert_eq!(m.panels[0].series[0].reading, Reading::Value(42.0));
        assert_eq!(m.panels[1].series[0].reading, Reading::NoData("NaN".into()));
        assert_eq!(
            m.panels[1].series[1].reading,
            Reading::NoData("empty result".into())
        );
        assert_eq!(
            m.panels[1].max,
            Some(Reading::NoData("bad_data: parse error".into()))
        );
        let h: Vec<_> = m.panels[0].series[0].history.slots().collect();
        assert_eq!(h, [None, None, None, Some(42.0)]);

        let two = Ok(vec![
            InstantSeries {
                labels: BTreeMap::new(),
                value: 1.0,
            },
            InstantSeries {
                labels: BTreeMap::new(),
                value: 2.0,
            },
        ]);
        m.apply_instant(12, vec![(t(0, 0), two)]);
        assert!(
            matches!(&m.panels[0].series[0].reading, Reading::NoData(r) if r.starts_with("2 series"))
        );
        let h: Vec<_> = m.panels[0].series[0].history.slots().collect();
        assert_eq!(h, [None, Some(42.0), None, None], "a gap, not a zero");
    }

    #[test]
    fn outage_marks_everything_and_recovery_backfills() {
        let s = specs(TWO);
        let mut m = DashboardModel::new(&s, 5);
        let t00 = QueryTarget::Series {
            panel: 0,
            series: 0,
        };
        m.apply_instant(100, vec![(t00, one(1.0))]);
        let down = || Err(QueryError::Unreachable("connection refused".into()));
        let outcome = m.apply_instant(101, vec![(t00, down())]);
        assert_eq!(
            outcome,
            PollOutcome::Unreachable("connection refused".into())
        );
        m.apply_unreachable(102, "connection refused".into());
        assert_eq!(
            m.connection,
            Connection::Failing {
                error: "connection refused".into(),
                failures: 2
            }
        );
        assert_eq!(
            m.panels[1].series[1].reading,
            Reading::NoData("connection refused".into())
        );
        m.advance_to(103);
        // Back: the backfill fills what Prometheus has (here 101 and 103; 102 stays a gap).
        let range = Ok(vec![RangeSeries {
            labels: BTreeMap::new(),
            points: vec![(100.0, 1.0), (101.0, 2.0), (103.0, 4.0)],
        }]);
        assert_eq!(
            m.apply_backfill(103, 1000, vec![(t00, range)]),
            PollOutcome::Answered
        );
        assert_eq!(m.connection, Connection::Ok);
        assert_eq!(m.panels[0].series[0].reading, Reading::Value(4.0));
        let h: Vec<_> = m.panels[0].series[0].history.slots().collect();
        assert_eq!(h, [None, Some(1.0), Some(2.0), None, Some(4.0)]);
        // A range that ends before the tick has no current value.
        let stale = Ok(vec![RangeSeries {
            labels: BTreeMap::new(),
            points: vec![(101.0, 2.0)],
        }]);
        m.apply_backfill(104, 1000, vec![(t00, stale)]);
        assert_eq!(
            m.panels[0].series[0].reading,
            Reading::NoData("empty result".into())
        );
    }

    #[test]
    fn history_window_moves_and_ignores_old_ticks() {
        let mut h = History::new(3);
        h.set(10, Some(1.0));
        h.set(11, Some(f64::INFINITY));
        h.set(20, Some(3.0));
        h.set(5, Some(9.0));
        assert_eq!(h.slots().collect::<Vec<_>>(), [None, None, Some(3.0)]);
        h.set(19, Some(2.0));
        assert_eq!(h.slots().collect::<Vec<_>>(), [None, Some(2.0), Some(3.0)]);
        assert_eq!(h.newest_tick(), Some(20));
    }

    #[test]
    fn ranges_fixed_max_and_automatic() {
        let s = specs(TWO);
        let mut m = DashboardModel::new(&s, 4);
        let (r, w) = (
            QueryTarget::Series {
                panel: 1,
                series: 0,
            },
            QueryTarget::Series {
                panel: 1,
                series: 1,
            },
        );
        m.apply_instant(1, vec![(r, one(3.3 * 1048576.0)), (w, one(100.0))]);
        // Automatic: a round IEC top above the largest value.
        assert_eq!(panel_range(&s[1], &m.panels[1]), (0.0, 5.0 * 1048576.0));
        m.apply_instant(
            2,
            vec![(QueryTarget::Max { panel: 1 }, one(64.0 * 1048576.0))],
        );
        assert_eq!(panel_range(&s[1], &m.panels[1]), (0.0, 64.0 * 1048576.0));
        m.apply_unreachable(3, "down".into());
        assert_eq!(
            panel_range(&s[1], &m.panels[1]),
            (0.0, 64.0 * 1048576.0),
            "kept"
        );
        // Nothing yet: the unit's floor.
        let fresh = DashboardModel::new(&s, 4);
        assert_eq!(panel_range(&s[0], &fresh.panels[0]), (0.0, 1.0));
        let mut neg = DashboardModel::new(&s, 4);
        neg.apply_instant(
            1,
            vec![(
                QueryTarget::Series {
                    panel: 0,
                    series: 0,
                },
                one(-3.0),
            )],
        );
        assert_eq!(panel_range(&s[0], &neg.panels[0]), (-5.0, 1.0));
        let fixed: PanelConfig =
            toml::from_str("title = \"x\"\nquery = \"q\"\nrange = [20, 100]").unwrap();
        let fixed = DashboardConfig {
            panels: vec![fixed],
            ..DashboardConfig::default()
        }
        .panel_specs();
        assert_eq!(
            panel_range(&fixed[0], &DashboardModel::new(&fixed, 2).panels[0]),
            (20.0, 100.0)
        );
    }
}
