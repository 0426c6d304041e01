//! `[[streams.dashboard.panels]]`: one panel of a dashboard (a title, one to four PromQL series, a
//! unit, and a graph, a big value or a gauge), as written in the config and as the dashboard runs
//! it ([`PanelSpec`], defaults applied). Single values are checked while parsing (their types
//! below); [`PanelConfig::check`] keeps the rules between keys. `docs/config.md`, "Panel keys".

use super::error::KeyError;
use super::ranges::Decimals;
use crate::color::Rgb;
use serde::{Deserialize, Deserializer, de};
use std::fmt;

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

/// An `"#rrggbb"` or `"#rgb"` colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexColor(pub Rgb);

impl<'de> Deserialize<'de> for HexColor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex_color(&s)
            .map(HexColor)
            .ok_or_else(|| de::Error::custom(format!("{s:?} is not a colour like \"#00ffff\"")))
    }
}

/// The colour `"#rrggbb"` or `"#rgb"` names.
pub fn parse_hex_color(s: &str) -> Option<Rgb> {
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

/// The unit of a panel's values, as written in the config. How each unit writes a value is in
/// `source::dashboard::units`.
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

    /// The smallest top of an automatic range unless `auto_range_min` says otherwise: the unit's
    /// smallest round step.
    pub fn default_range_min(self) -> f64 {
        match self {
            Unit::Percent => 100.0,
            Unit::Bytes | Unit::BytesPerSecond => 1024.0,
            _ => 1.0,
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

/// Declares a string newtype whose `Deserialize` refuses what `$ok` rejects, with `$why`.
macro_rules! checked_text {
    ($(#[$doc:meta])* $name:ident: $ok:expr, $why:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name(String);

        impl $name {
            /// The text as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let ok: fn(&str) -> bool = $ok;
                if ok(&s) {
                    Ok(Self(s))
                } else {
                    Err(de::Error::custom(format_args!("{s:?} {}", $why)))
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_text! {
    /// A panel title: 1..=40 characters besides surrounding spaces.
    Title: |s| (1..=40).contains(&s.trim().chars().count()), "must be 1..=40 characters"
}
checked_text! {
    /// A series label: at most 8 characters.
    Label: |s| s.chars().count() <= 8, "is longer than 8 characters"
}
checked_text! {
    /// A PromQL query: not empty.
    Query: |s| !s.trim().is_empty(), "is empty; write a PromQL query"
}

/// A fixed range `[bottom, top]`: finite, bottom below top.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueRange(pub [f64; 2]);

impl<'de> Deserialize<'de> for ValueRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let [lo, hi] = <[f64; 2]>::deserialize(d)?;
        if lo.is_finite() && hi.is_finite() && lo < hi {
            Ok(Self([lo, hi]))
        } else {
            Err(de::Error::custom(format_args!(
                "[{lo}, {hi}] must be finite with bottom < top"
            )))
        }
    }
}

/// `auto_range_min`: a positive, finite number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeFloor(pub f64);

impl<'de> Deserialize<'de> for RangeFloor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = f64::deserialize(d)?;
        if m.is_finite() && m > 0.0 {
            Ok(Self(m))
        } else {
            Err(de::Error::custom(format_args!(
                "{m} must be a positive number"
            )))
        }
    }
}

/// `[[streams.dashboard.panels]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelConfig {
    /// Shown at the top of the panel.
    pub title: Title,
    /// Unit of the values.
    #[serde(default)]
    pub unit: Unit,
    /// "graph", "value" or "gauge".
    #[serde(default)]
    pub kind: PanelKind,
    /// Colour of a single-series panel (default [`DEFAULT_COLOR`]).
    pub color: Option<HexColor>,
    /// Fixed range `[bottom, top]`; without it the range is automatic.
    pub range: Option<ValueRange>,
    /// Smallest top of an automatic range (default: [`Unit::default_range_min`]).
    pub auto_range_min: Option<RangeFloor>,
    /// Digits after the point (default: three significant digits).
    pub decimals: Option<Decimals>,
    /// The query of a single-series panel.
    pub query: Option<Query>,
    /// The queries of a multi-series panel (instead of `query`).
    #[serde(default)]
    pub series: Vec<SeriesConfig>,
    /// A query whose value is the top of the range (e.g. total memory); shown as "of <max>".
    pub max_query: Option<Query>,
}

/// One series of a multi-series panel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesConfig {
    /// PromQL returning one series.
    pub query: Query,
    /// Short label shown before its value ("R", "W", "in").
    #[serde(default)]
    pub label: Label,
    /// Line and text colour (default: [`SERIES_PALETTE`] by position).
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
    /// The panel with its defaults applied.
    pub fn spec(&self) -> PanelSpec {
        let series = match &self.query {
            Some(q) => vec![SeriesSpec {
                label: String::new(),
                query: q.to_string(),
                color: self.color.map_or(DEFAULT_COLOR, |c| c.0),
            }],
            None => self
                .series
                .iter()
                .enumerate()
                .map(|(i, s)| SeriesSpec {
                    label: s.label.to_string(),
                    query: s.query.to_string(),
                    color: s
                        .color
                        .map_or(SERIES_PALETTE[i % SERIES_PALETTE.len()], |c| c.0),
                })
                .collect(),
        };
        PanelSpec {
            title: self.title.to_string(),
            unit: self.unit,
            kind: self.kind,
            range: self.range.map(|r| r.0),
            auto_range_min: self
                .auto_range_min
                .map_or(self.unit.default_range_min(), |m| m.0),
            decimals: self.decimals.map(Decimals::get),
            series,
            max_query: self.max_query.as_ref().map(Query::to_string),
        }
    }

    /// The rules between keys, for the panel at key path `at`.
    pub(super) fn check(&self, at: &str) -> Result<(), KeyError> {
        let fail = |key: &str, message: String| Err(KeyError::new(format!("{at}{key}"), message));
        match (&self.query, self.series.len()) {
            (Some(_), 0) | (None, 1..=MAX_SERIES) => {}
            (Some(_), _) => return fail("", format!("{at}: set either query or series, not both")),
            (None, 0) => {
                return fail(
                    "",
                    format!("{at}: set query (one series) or series (several)"),
                );
            }
            (None, n) => {
                return fail(
                    ".series",
                    format!("{at}: {n} series; a panel shows at most {MAX_SERIES}"),
                );
            }
        }
        if self.kind == PanelKind::Gauge {
            if self.series.len() > 1 {
                return fail(".kind", format!("{at}: a gauge shows one series"));
            }
            if self.range.is_none() && self.max_query.is_none() {
                return fail(
                    ".kind",
                    format!("{at}: a gauge needs range = [bottom, top] or max_query"),
                );
            }
        }
        Ok(())
    }

    /// The rules between keys, as an error that names the panel `what`.
    pub fn validate(&self, what: &str) -> anyhow::Result<()> {
        self.check(what).map_err(|e| anyhow::anyhow!(e.message))
    }
}
