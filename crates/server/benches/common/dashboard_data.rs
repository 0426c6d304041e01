//! Synthetic Prometheus answers for the "node" dashboard preset, shared by
//! `benches/dashboard_render.rs` and `examples/dashboard_report.rs`: per tick, CPU a noisy wave,
//! memory drifting around 5.2 of 15.6 GiB, load a slow wave, disk read/write bursts, network
//! in/out ramps and a temperature that follows the CPU. Deterministic (a fixed xorshift), so every
//! run renders the same frames.

use pixelwire_server::config::dashboard::{DashboardConfig, PanelSpec};
use pixelwire_server::source::dashboard::model::{DashboardModel, QueryTarget};
use pixelwire_server::source::dashboard::prom_api::{InstantSeries, QueryError};

/// The node preset's panels and an empty model with `history` slots.
pub fn node_dashboard(history: usize) -> (Vec<PanelSpec>, DashboardModel) {
    let specs = DashboardConfig::default().panel_specs();
    let model = DashboardModel::new(&specs, history);
    (specs, model)
}

/// Deterministic noise in 0..1.
pub struct Noise(u64);

impl Noise {
    /// A fixed seed.
    pub fn new() -> Self {
        Self(0x9E37_79B9_7F4A_7C15)
    }

    /// The next value in 0..1.
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One poll's answers at `tick`.
pub fn answers(
    specs: &[PanelSpec],
    tick: i64,
    noise: &mut Noise,
) -> Vec<(QueryTarget, Result<Vec<InstantSeries>, QueryError>)> {
    let t = tick as f64;
    let gib = 1024f64.powi(3);
    let mib = 1024f64.powi(2);
    let cpu = (35.0 + 25.0 * (t / 17.0).sin() + 15.0 * noise.next()).clamp(0.0, 100.0);
    DashboardModel::queries(specs)
        .into_iter()
        .map(|(target, _)| {
            let v = match target {
                QueryTarget::Series { panel: 0, .. } => cpu,
                QueryTarget::Series { panel: 1, .. } => 5.2 * gib + 0.2 * gib * noise.next(),
                QueryTarget::Max { .. } => 15.6 * gib,
                QueryTarget::Series { panel: 2, .. } => 1.0 + 0.8 * (t / 40.0).sin().abs(),
                QueryTarget::Series {
                    panel: 3,
                    series: 0,
                } => {
                    if tick % 23 < 4 {
                        40.0 * mib * noise.next()
                    } else {
                        0.2 * mib * noise.next()
                    }
                }
                QueryTarget::Series { panel: 3, .. } => 2.0 * mib * noise.next(),
                QueryTarget::Series {
                    panel: 4,
                    series: 0,
                } => 300.0 * 1024.0 * (1.0 + noise.next()),
                QueryTarget::Series { panel: 4, .. } => 40.0 * 1024.0 * (1.0 + noise.next()),
                QueryTarget::Series { .. } => 45.0 + cpu / 5.0,
            };
            let series = vec![InstantSeries {
                labels: Default::default(),
                value: v,
            }];
            (target, Ok(series))
        })
        .collect()
}
