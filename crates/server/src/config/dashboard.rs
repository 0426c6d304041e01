//! `[streams.dashboard]`: the panels of a `dashboard` stream (PromQL queries drawn as graphs, big
//! values and gauges in a grid, `panel.rs`), where Prometheus is and how often it is asked, and the
//! two built-in panel sets: `node` (a machine's health from node_exporter) and `pixelwire`
//! (pixelwire's own metrics). Seed 000's `PROMETHEUS_MONITOR` (`reference/seed-protocols.md` §A.7)
//! is the model; documented in `docs/config.md`.

use super::error::KeyError;
use super::ranges::{Columns, IntervalMs, TimeoutMs};
use serde::{Deserialize, Deserializer, de};
use std::fmt;

pub use super::panel::{
    DEFAULT_COLOR, HexColor, Label, MAX_SERIES, PanelConfig, PanelKind, PanelSpec, Query,
    RangeFloor, SERIES_PALETTE, SeriesConfig, SeriesSpec, Title, Unit, ValueRange, parse_hex_color,
};
#[cfg(test)]
use crate::color::Rgb;

/// Default Prometheus server.
pub const DEFAULT_PROMETHEUS: &str = "http://127.0.0.1:9090";
/// `interval_ms` unless configured.
pub const DEFAULT_INTERVAL_MS: IntervalMs = IntervalMs::new_const(1000);
/// `history_s` unless configured.
pub const DEFAULT_HISTORY_S: u32 = 120;
/// `timeout_ms` unless configured.
pub const DEFAULT_TIMEOUT_MS: TimeoutMs = TimeoutMs::new_const(2000);
/// Most panels one dashboard shows.
pub const MAX_PANELS: usize = 16;

/// A built-in panel set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// CPU, memory, disk and network throughput, load and temperature from node_exporter.
    #[default]
    Node,
    /// pixelwire's own display, camera and viewer metrics.
    Pixelwire,
}

/// The base URL of a Prometheus HTTP API: `http://` and a host (a path prefix is allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusUrl(String);

impl PrometheusUrl {
    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Why `url` is not one, if it is not.
    fn refusal(url: &str) -> Option<String> {
        let url = url.trim();
        if url.starts_with("https://") {
            return Some(format!(
                "{url:?}: https is not supported; reach Prometheus over http (e.g. on loopback or through a local proxy)"
            ));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Some(format!("{url:?} must start with http://"));
        };
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            return Some(format!(
                "{url:?} must name a host, like http://127.0.0.1:9090"
            ));
        }
        None
    }
}

impl Default for PrometheusUrl {
    fn default() -> Self {
        Self(DEFAULT_PROMETHEUS.to_owned())
    }
}

impl<'de> Deserialize<'de> for PrometheusUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let url = String::deserialize(d)?;
        match Self::refusal(&url) {
            Some(why) => Err(de::Error::custom(why)),
            None => Ok(Self(url)),
        }
    }
}

impl fmt::Display for PrometheusUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[streams.dashboard]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// Prometheus base URL (default [`DEFAULT_PROMETHEUS`]).
    pub prometheus: PrometheusUrl,
    /// Panels to show when `panels` is empty.
    pub preset: Preset,
    /// How often the queries run, ms (default [`DEFAULT_INTERVAL_MS`]).
    pub interval_ms: IntervalMs,
    /// Seconds of history in graphs, backfilled from Prometheus at start (default
    /// [`DEFAULT_HISTORY_S`]).
    pub history_s: u32,
    /// Per-request timeout, ms (default [`DEFAULT_TIMEOUT_MS`]).
    pub timeout_ms: TimeoutMs,
    /// Grid columns (default: chosen from the panel count and the stream's shape).
    pub columns: Option<Columns>,
    /// The panels, left to right, top to bottom; at most [`MAX_PANELS`].
    #[serde(deserialize_with = "at_most_max_panels")]
    pub panels: Vec<PanelConfig>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            prometheus: PrometheusUrl::default(),
            preset: Preset::default(),
            interval_ms: DEFAULT_INTERVAL_MS,
            history_s: DEFAULT_HISTORY_S,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            columns: None,
            panels: Vec::new(),
        }
    }
}

fn at_most_max_panels<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PanelConfig>, D::Error> {
    let panels = Vec::<PanelConfig>::deserialize(d)?;
    if panels.len() > MAX_PANELS {
        return Err(de::Error::custom(format_args!(
            "{} panels; a dashboard shows at most {MAX_PANELS}",
            panels.len()
        )));
    }
    Ok(panels)
}

impl DashboardConfig {
    /// The rules between keys, for the dashboard table at key path `at`.
    pub(super) fn check(&self, at: &str) -> Result<(), KeyError> {
        let samples = u64::from(self.history_s) * 1000 / self.interval_ms.get();
        if !(2..=3600).contains(&samples) {
            return Err(KeyError::new(
                format!("{at}.history_s"),
                format!(
                    "{at}.history_s = {} holds {samples} samples at interval_ms = {}; it must hold 2..=3600",
                    self.history_s, self.interval_ms
                ),
            ));
        }
        for (i, p) in self.panels.iter().enumerate() {
            p.check(&format!("{at}.panels[{i}]"))?;
        }
        Ok(())
    }

    /// The rules between keys, as an error that names the dashboard `what`.
    pub fn validate(&self, what: &str) -> anyhow::Result<()> {
        self.check(what).map_err(|e| anyhow::anyhow!(e.message))
    }

    /// The panels to show: the configured ones, or the preset's.
    pub fn panel_specs(&self) -> Vec<PanelSpec> {
        if self.panels.is_empty() {
            preset_panels(self.preset)
                .iter()
                .map(PanelConfig::spec)
                .collect()
        } else {
            self.panels.iter().map(PanelConfig::spec).collect()
        }
    }

    /// Samples of history per series.
    pub fn history_samples(&self) -> usize {
        (u64::from(self.history_s) * 1000 / self.interval_ms.get()) as usize
    }
}

/// The panels of a built-in set, exactly as if written in the config.
pub fn preset_panels(preset: Preset) -> Vec<PanelConfig> {
    let text = match preset {
        Preset::Node => include_str!("presets/node.toml"),
        Preset::Pixelwire => include_str!("presets/pixelwire.toml"),
    };
    #[derive(Deserialize)]
    struct File {
        panels: Vec<PanelConfig>,
    }
    // The presets are compiled in and parsed by a unit test, so this cannot fail at run time.
    toml::from_str::<File>(text)
        .expect("built-in dashboard presets parse")
        .panels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_validate() {
        for p in [Preset::Node, Preset::Pixelwire] {
            let cfg = DashboardConfig {
                preset: p,
                ..DashboardConfig::default()
            };
            cfg.validate("t").unwrap();
            let panels = cfg.panel_specs();
            assert_eq!(panels.len(), 6, "{p:?}");
            for panel in preset_panels(p) {
                panel.validate("preset").unwrap();
            }
        }
        assert_eq!(DashboardConfig::default().history_samples(), 120);
    }

    #[test]
    fn colours() {
        assert_eq!(parse_hex_color("#00ffff"), Some(Rgb::new(0, 255, 255)));
        assert_eq!(parse_hex_color("#F80"), Some(Rgb::new(255, 136, 0)));
        for bad in ["00ffff", "#00fff", "#gg0000", "#", "#ééé", "#+1+1+1"] {
            assert_eq!(parse_hex_color(bad), None, "{bad}");
        }
    }

    #[test]
    fn panel_rules() {
        let panel = |extra: &str| -> anyhow::Result<()> {
            let p: PanelConfig = toml::from_str(&format!("title = \"x\"\n{extra}"))?;
            p.validate("p")
        };
        assert!(panel("query = \"up\"").is_ok());
        assert!(panel("").is_err());
        assert!(panel("query = \"up\"\nseries = [{ query = \"up\" }]").is_err());
        assert!(panel("query = \"  \"").is_err());
        assert!(panel("query = \"up\"\nrange = [5, 5]").is_err());
        assert!(panel("query = \"up\"\nkind = \"gauge\"").is_err());
        assert!(panel("query = \"up\"\nkind = \"gauge\"\nrange = [0, 1]").is_ok());
        assert!(panel("query = \"up\"\ncolor = \"red\"").is_err());
        assert!(panel("query = \"up\"\nunit = \"furlongs\"").is_err());
        let five =
            "series = [{query=\"a\"},{query=\"b\"},{query=\"c\"},{query=\"d\"},{query=\"e\"}]";
        assert!(panel(five).is_err());
        let p: PanelConfig =
            toml::from_str("title = \"d\"\nseries = [{ query = \"a\", label = \"R\" }, { query = \"b\", color = \"#fff\" }]")
                .unwrap();
        let s = p.spec();
        assert_eq!(s.series[0].color, DEFAULT_COLOR);
        assert_eq!(s.series[1].color, Rgb::WHITE);
    }

    #[test]
    fn dashboard_rules() {
        let check = |text: &str| -> anyhow::Result<()> {
            let c: DashboardConfig = toml::from_str(text)?;
            c.validate("d")
        };
        assert!(check("").is_ok());
        assert!(check("prometheus = \"https://x\"").is_err());
        assert!(check("prometheus = \"localhost:9090\"").is_err());
        assert!(check("prometheus = \"http://\"").is_err());
        assert!(check("prometheus = \"http://prom.lan/prometheus\"").is_ok());
        assert!(check("interval_ms = 10").is_err());
        assert!(check("history_s = 1").is_err());
        assert!(check("interval_ms = 100\nhistory_s = 1000").is_err());
        assert!(check("columns = 0").is_err());
    }
}
