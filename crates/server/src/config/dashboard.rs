//! `[streams.dashboard]`: the panels of a `dashboard` stream (PromQL queries drawn as graphs, big
//! values and gauges in a grid), and the two built-in panel sets: `node` (a machine's health from
//! node_exporter) and `pixelwire` (pixelwire's own metrics). Seed 000's `PROMETHEUS_MONITOR`
//! (`reference/seed-protocols.md` §A.7) is the model; documented in `docs/config.md`.

use anyhow::bail;
use serde::{Deserialize, Deserializer};

use crate::color::Rgb;

/// Default Prometheus server.
pub const DEFAULT_PROMETHEUS: &str = "http://127.0.0.1:9090";
/// Colour of a single-series panel unless configured (seed 000's value colour).
pub const DEFAULT_COLOR: Rgb = Rgb::new(0, 255, 255);
/// Colours of the 2nd, 3rd and 4th series of a multi-series panel unless configured.
pub const SERIES_PALETTE: [Rgb; 4] = [
    DEFAULT_COLOR,
    Rgb::new(255, 170, 40),
    Rgb::new(255, 100, 210),
    Rgb::new(130, 230, 100),
];
/// Most series one panel shows.
pub const MAX_SERIES: usize = 4;
/// Most panels one dashboard shows.
pub const MAX_PANELS: usize = 16;

/// An `"#rrggbb"` or `"#rgb"` colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexColor(pub Rgb);

impl<'de> Deserialize<'de> for HexColor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex_color(&s).map(HexColor).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not a colour like \"#00ffff\""))
        })
    }
}

fn parse_hex_color(s: &str) -> Option<Rgb> {
    let hex = s.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digit = |i: usize| u8::from_str_radix(&hex[i..i + 1], 16).ok();
    match hex.len() {
        6 => {
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
            Some(Rgb::new(byte(0)?, byte(2)?, byte(4)?))
        }
        3 => Some(Rgb::new(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
        _ => None,
    }
}

/// The unit of a panel's values, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A plain number, scaled with k, M, G, T.
    #[default]
    None,
    /// Percent (the value is already 0..100).
    Percent,
    /// A fraction 0..1 shown as percent.
    Ratio,
    /// Bytes, IEC steps.
    Bytes,
    /// Bytes per second, IEC steps.
    BytesPerSecond,
    /// Bits per second, SI steps.
    BitsPerSecond,
    /// Seconds, from ns to days.
    Seconds,
    /// Degrees Celsius.
    Celsius,
    /// Frames per second.
    Fps,
    /// Decibel-milliwatts (Wi-Fi signal).
    Dbm,
}

impl Unit {
    /// Config name.
    pub fn name(self) -> &'static str {
        match self {
            Unit::None => "none",
            Unit::Percent => "percent",
            Unit::Ratio => "ratio",
            Unit::Bytes => "bytes",
            Unit::BytesPerSecond => "bytes_per_second",
            Unit::BitsPerSecond => "bits_per_second",
            Unit::Seconds => "seconds",
            Unit::Celsius => "celsius",
            Unit::Fps => "fps",
            Unit::Dbm => "dbm",
        }
    }
}

/// How a panel draws its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelKind {
    /// Value(s) above a history graph (seed 000's only kind).
    #[default]
    Graph,
    /// A big value over a faint filled history.
    Value,
    /// A 240° arc from the range's bottom to its top, the value in its middle.
    Gauge,
}

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

/// `[streams.dashboard]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Prometheus base URL, `http://` (default `http://127.0.0.1:9090`).
    #[serde(default = "default_prometheus")]
    pub prometheus: String,
    /// Panels to show when `panels` is empty (default "node").
    #[serde(default)]
    pub preset: Preset,
    /// How often the queries run, ms (default 1000).
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Seconds of history in graphs, backfilled from Prometheus at start (default 120).
    #[serde(default = "default_history_s")]
    pub history_s: u32,
    /// Per-request timeout, ms (default 2000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Grid columns (default: chosen from the panel count and the stream's shape).
    pub columns: Option<u32>,
    /// The panels, left to right, top to bottom.
    #[serde(default)]
    pub panels: Vec<PanelConfig>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            prometheus: default_prometheus(),
            preset: Preset::Node,
            interval_ms: default_interval_ms(),
            history_s: default_history_s(),
            timeout_ms: default_timeout_ms(),
            columns: None,
            panels: Vec::new(),
        }
    }
}

fn default_prometheus() -> String {
    DEFAULT_PROMETHEUS.to_owned()
}
fn default_interval_ms() -> u64 {
    1000
}
fn default_history_s() -> u32 {
    120
}
fn default_timeout_ms() -> u64 {
    2000
}

/// `[[streams.dashboard.panels]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelConfig {
    /// Shown at the top of the panel.
    pub title: String,
    /// Unit of the values (default "none").
    #[serde(default)]
    pub unit: Unit,
    /// "graph" (default), "value" or "gauge".
    #[serde(default)]
    pub kind: PanelKind,
    /// Colour of a single-series panel (default "#00ffff").
    pub color: Option<HexColor>,
    /// Fixed range `[bottom, top]`; without it the range is automatic.
    pub range: Option<[f64; 2]>,
    /// Smallest top of an automatic range (default: the unit's smallest round step).
    pub auto_range_min: Option<f64>,
    /// Digits after the point (default: three significant digits).
    pub decimals: Option<u8>,
    /// The query of a single-series panel.
    pub query: Option<String>,
    /// The queries of a multi-series panel (instead of `query`).
    #[serde(default)]
    pub series: Vec<SeriesConfig>,
    /// A query whose value is the top of the range (e.g. total memory); shown as "of <max>".
    pub max_query: Option<String>,
}

/// One series of a multi-series panel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesConfig {
    /// PromQL returning one series.
    pub query: String,
    /// Short label shown before its value ("R", "W", "in").
    #[serde(default)]
    pub label: String,
    /// Line and text colour.
    pub color: Option<HexColor>,
}

/// A panel as the dashboard runs it: defaults applied, single and multi-series alike.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelSpec {
    /// Title.
    pub title: String,
    /// Unit.
    pub unit: Unit,
    /// Kind.
    pub kind: PanelKind,
    /// Fixed range, or automatic.
    pub range: Option<[f64; 2]>,
    /// Smallest top of an automatic range.
    pub auto_range_min: f64,
    /// Fixed decimals.
    pub decimals: Option<u8>,
    /// One or more series.
    pub series: Vec<SeriesSpec>,
    /// The range-top query.
    pub max_query: Option<String>,
}

/// A series as the dashboard runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpec {
    /// Label ("" for single-series panels).
    pub label: String,
    /// PromQL.
    pub query: String,
    /// Colour.
    pub color: Rgb,
}

impl PanelConfig {
    fn spec(&self) -> PanelSpec {
        let series = match &self.query {
            Some(q) => vec![SeriesSpec {
                label: String::new(),
                query: q.clone(),
                color: self.color.map_or(DEFAULT_COLOR, |c| c.0),
            }],
            None => self
                .series
                .iter()
                .enumerate()
                .map(|(i, s)| SeriesSpec {
                    label: s.label.clone(),
                    query: s.query.clone(),
                    color: s
                        .color
                        .map_or(SERIES_PALETTE[i % SERIES_PALETTE.len()], |c| c.0),
                })
                .collect(),
        };
        PanelSpec {
            title: self.title.clone(),
            unit: self.unit,
            kind: self.kind,
            range: self.range,
            auto_range_min: self.auto_range_min.unwrap_or(match self.unit {
                Unit::Percent => 100.0,
                Unit::Ratio => 1.0,
                Unit::Bytes | Unit::BytesPerSecond => 1024.0,
                _ => 1.0,
            }),
            decimals: self.decimals,
            series,
            max_query: self.max_query.clone(),
        }
    }

    fn validate(&self, what: &str) -> anyhow::Result<()> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 40 {
            bail!("{what}.title must be 1..=40 characters");
        }
        match (&self.query, self.series.len()) {
            (Some(_), 0) => {}
            (None, 1..=MAX_SERIES) => {}
            (Some(_), _) => bail!("{what}: set either query or series, not both"),
            (None, 0) => bail!("{what}: set query (one series) or series (several)"),
            (None, n) => bail!("{what}: {n} series; a panel shows at most {MAX_SERIES}"),
        }
        let queries = self
            .query
            .iter()
            .chain(self.series.iter().map(|s| &s.query))
            .chain(&self.max_query);
        if queries.into_iter().any(|q| q.trim().is_empty()) {
            bail!("{what}: queries must not be empty");
        }
        if self.series.iter().any(|s| s.label.chars().count() > 8) {
            bail!("{what}: series labels are at most 8 characters");
        }
        if let Some([lo, hi]) = self.range
            && !(lo.is_finite() && hi.is_finite() && lo < hi)
        {
            bail!("{what}.range = [{lo}, {hi}] must be finite with bottom < top");
        }
        if let Some(m) = self.auto_range_min
            && !(m.is_finite() && m > 0.0)
        {
            bail!("{what}.auto_range_min = {m} must be a positive number");
        }
        if self.decimals.is_some_and(|d| d > 6) {
            bail!("{what}.decimals must be within 0..=6");
        }
        if self.kind == PanelKind::Gauge {
            if self.series.len() > 1 {
                bail!("{what}: a gauge shows one series");
            }
            if self.range.is_none() && self.max_query.is_none() {
                bail!("{what}: a gauge needs range = [bottom, top] or max_query");
            }
        }
        Ok(())
    }
}

impl DashboardConfig {
    /// Checks every field; `what` names the stream for messages.
    pub fn validate(&self, what: &str) -> anyhow::Result<()> {
        let url = self.prometheus.trim();
        if url.starts_with("https://") {
            bail!(
                "{what}.prometheus = {url:?}: https is not supported; reach Prometheus over http (e.g. on loopback or through a local proxy)"
            );
        }
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("{what}.prometheus = {url:?} must start with http://");
        };
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            bail!("{what}.prometheus = {url:?} must name a host, like http://127.0.0.1:9090");
        }
        if !(100..=3_600_000).contains(&self.interval_ms) {
            bail!(
                "{what}.interval_ms = {} is outside 100..=3600000",
                self.interval_ms
            );
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            bail!(
                "{what}.timeout_ms = {} is outside 100..=60000",
                self.timeout_ms
            );
        }
        let samples = u64::from(self.history_s) * 1000 / self.interval_ms;
        if !(2..=3600).contains(&samples) {
            bail!(
                "{what}.history_s = {} holds {samples} samples at interval_ms = {}; it must hold 2..=3600",
                self.history_s,
                self.interval_ms
            );
        }
        if self.columns.is_some_and(|c| !(1..=8).contains(&c)) {
            bail!("{what}.columns must be within 1..=8");
        }
        if self.panels.len() > MAX_PANELS {
            bail!(
                "{what}: {} panels; a dashboard shows at most {MAX_PANELS}",
                self.panels.len()
            );
        }
        for (i, p) in self.panels.iter().enumerate() {
            p.validate(&format!("{what}.panels[{i}]"))?;
        }
        Ok(())
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
        (u64::from(self.history_s) * 1000 / self.interval_ms.max(1)) as usize
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
