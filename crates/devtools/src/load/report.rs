//! The generator's figures: each interval's counters and latency percentiles per kind of client,
//! accumulated into totals for the summary. Pure data in, JSON out.
//!
//! A viewer's **shortfall** is the frames its camera sent in a window minus the units it received
//! in that window, less [`EDGE_FRAMES`]: a frame on its way when the window opens or closes lands
//! on one side of the edge for the camera and on the other for the viewer, so only a difference
//! beyond that is a frame lost.

use super::histogram::Histogram;
use super::tally::{Counted, Tally};
use crate::emu::Report;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One tally per kind of client.
#[derive(Debug, Default)]
pub struct Kinds {
    /// Cameras: frames sent, missed ticks.
    pub camera: Arc<Tally>,
    /// H.264 viewers: units, keyframes, frames missing, latency.
    pub h264: Arc<Tally>,
    /// MJPEG readers: parts.
    pub mjpeg: Arc<Tally>,
    /// Snapshot pollers: good answers, failures, time.
    pub snapshot: Arc<Tally>,
}

/// Frames a viewer may differ from its camera at each window's edges without having lost any.
pub const EDGE_FRAMES: u64 = 2;

/// One interval, read out of the tallies.
#[derive(Debug, Default)]
pub struct IntervalData {
    kinds: [(Counted, Histogram); 4],
    /// Frames each camera sent.
    per_camera: Vec<u64>,
    /// Units each viewer received.
    per_viewer: Vec<u64>,
}

impl Kinds {
    /// Reads and resets every tally and every camera's and viewer's count.
    pub fn take_interval(&self, sent: &[Arc<AtomicU64>], units: &[Arc<AtomicU64>]) -> IntervalData {
        IntervalData {
            kinds: [
                self.camera.take(),
                self.h264.take(),
                self.mjpeg.take(),
                self.snapshot.take(),
            ],
            per_camera: sent.iter().map(|u| u.swap(0, Ordering::Relaxed)).collect(),
            per_viewer: units.iter().map(|u| u.swap(0, Ordering::Relaxed)).collect(),
        }
    }
}

const NAMES: [&str; 4] = ["camera", "h264", "mjpeg", "snapshot"];

/// Totals since counting started.
#[derive(Debug)]
pub struct Window {
    fps: f64,
    cameras: u32,
    /// The camera each viewer watches.
    watches: Vec<usize>,
    totals: [(Counted, Histogram); 4],
    per_camera: Vec<u64>,
    per_viewer: Vec<u64>,
    slowest_viewer_fps: Option<f64>,
    shortfall_in_intervals: u64,
}

/// Frames the viewers received fewer than their cameras sent, beyond the edge allowance.
fn shortfall(watches: &[usize], per_camera: &[u64], per_viewer: &[u64]) -> u64 {
    watches
        .iter()
        .zip(per_viewer)
        .map(|(c, got)| {
            per_camera
                .get(*c)
                .map_or(0, |sent| sent.saturating_sub(*got + EDGE_FRAMES))
        })
        .sum()
}

fn kind_json(name: &str, c: &Counted, h: &Histogram, secs: f64) -> Value {
    let mut v = json!({
        "frames": c.frames,
        "per_s": c.frames as f64 / secs.max(1e-9),
        "kbytes_per_s": c.bytes as f64 / secs.max(1e-9) / 1000.0,
        "missing": c.missing,
        "errors": c.errors,
    });
    let other = match name {
        "h264" => Some("keyframes"),
        "snapshot" => Some("failed"),
        _ => None,
    };
    if let Some(o) = other {
        v[o] = json!(c.other);
    }
    if h.count() > 0 {
        v["latency_ms"] = json!({
            "p50": h.percentile_ms(50.0),
            "p95": h.percentile_ms(95.0),
            "p99": h.percentile_ms(99.0),
            "max": h.max_ms(),
            "mean": h.mean_ms(),
            "samples": h.count(),
        });
    }
    v
}

impl Window {
    /// A window for `cameras` at `fps` and viewers watching the cameras `watches` names.
    pub fn new(fps: f64, cameras: u32, watches: Vec<usize>) -> Self {
        Self {
            fps,
            cameras,
            per_viewer: vec![0; watches.len()],
            per_camera: vec![0; cameras as usize],
            watches,
            totals: Default::default(),
            slowest_viewer_fps: None,
            shortfall_in_intervals: 0,
        }
    }

    /// Adds an interval of `secs` ending `t_s` after counting started; returns its JSON line.
    pub fn interval(&mut self, d: &IntervalData, t_s: f64, secs: f64) -> Value {
        let mut line = json!({ "t_s": t_s, "interval_s": secs });
        for (i, (c, h)) in d.kinds.iter().enumerate() {
            self.totals[i].0 += *c;
            self.totals[i].1.merge(h);
            line[NAMES[i]] = kind_json(NAMES[i], c, h, secs);
        }
        for (t, n) in self.per_viewer.iter_mut().zip(&d.per_viewer) {
            *t += n;
        }
        for (t, n) in self.per_camera.iter_mut().zip(&d.per_camera) {
            *t += n;
        }
        let short = shortfall(&self.watches, &d.per_camera, &d.per_viewer);
        self.shortfall_in_intervals += short;
        line["h264"]["shortfall"] = json!(short);
        if let Some(min) = d.per_viewer.iter().min() {
            let fps = *min as f64 / secs.max(1e-9);
            line["h264"]["slowest_viewer_fps"] = json!(fps);
            self.slowest_viewer_fps =
                Some(self.slowest_viewer_fps.map_or(fps, |s: f64| s.min(fps)));
        }
        line
    }

    /// The summary over `secs` counted, with the displays' own reports.
    pub fn summary(&self, secs: f64, clock_offset_us: i64, displays: &[Report]) -> Value {
        let mut s = json!({
            "seconds": secs,
            "cameras": self.cameras,
            "fps": self.fps,
            "viewers": self.watches.len(),
            "clock_offset_ms": clock_offset_us as f64 / 1000.0,
        });
        for (i, (c, h)) in self.totals.iter().enumerate() {
            s[NAMES[i]] = kind_json(NAMES[i], c, h, secs);
        }
        if let Some(min) = self.per_viewer.iter().min() {
            s["h264"]["viewer_fps_min"] = json!(*min as f64 / secs.max(1e-9));
            s["h264"]["slowest_interval_viewer_fps"] = json!(self.slowest_viewer_fps);
            s["h264"]["shortfall"] =
                json!(shortfall(&self.watches, &self.per_camera, &self.per_viewer));
            s["h264"]["shortfall_in_intervals"] = json!(self.shortfall_in_intervals);
        }
        if !displays.is_empty() {
            let n = displays.len() as f64;
            let worst_p95 = displays
                .iter()
                .filter_map(|r| r.latency_p95_ms)
                .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
            s["displays"] = json!({
                "count": displays.len(),
                "fps_mean": displays.iter().map(|r| r.fps).sum::<f64>() / n,
                "fps_min": displays.iter().map(|r| r.fps).fold(f64::INFINITY, f64::min),
                "kbytes_per_s_mean": displays.iter().map(|r| r.bytes_per_s).sum::<f64>() / n / 1000.0,
                "latency_p50_ms_mean": displays.iter().filter_map(|r| r.latency_p50_ms).sum::<f64>() / n,
                "latency_p95_ms_worst": worst_p95,
                "reconnects": displays.iter().map(|r| r.reconnects).sum::<u64>(),
            });
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_add_up_to_the_summary() {
        let kinds = Kinds::default();
        let sent = vec![Arc::new(AtomicU64::new(0))];
        let units = vec![Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
        let mut w = Window::new(30.0, 1, vec![0, 0]);
        for round in 0..2 {
            for _ in 0..30 {
                kinds.camera.counters.frame(1000);
                kinds.h264.counters.frame(100);
                kinds.h264.latency_us(20_000);
            }
            sent[0].fetch_add(30, Ordering::Relaxed);
            units[0].fetch_add(29, Ordering::Relaxed);
            units[1].fetch_add(15 + round * 15, Ordering::Relaxed);
            let line = w.interval(&kinds.take_interval(&sent, &units), (round + 1) as f64, 1.0);
            assert_eq!(line["camera"]["frames"], 30);
            // Viewer 0 is one frame short (within the edge allowance); viewer 1 got 15 then 30.
            assert_eq!(line["h264"]["shortfall"], if round == 0 { 13 } else { 0 });
            assert_eq!(line["h264"]["latency_ms"]["p95"], 20.0);
        }
        let s = w.summary(2.0, 0, &[]);
        assert_eq!(s["camera"]["frames"], 60);
        assert_eq!(s["camera"]["per_s"], 30.0);
        assert_eq!(s["h264"]["latency_ms"]["samples"], 60);
        assert_eq!(s["h264"]["viewer_fps_min"], 22.5);
        assert_eq!(s["h264"]["shortfall"], 13);
        assert_eq!(s["h264"]["shortfall_in_intervals"], 13);
        assert_eq!(s["h264"]["slowest_interval_viewer_fps"], 15.0);
    }
}
