//! The configuration file: one TOML document deserialised into these structs with
//! `deny_unknown_fields`, documented field by field in `docs/config.md` (whose example is parsed by a
//! test). Every field has a default, so `pixelwire serve` runs with no file at all. Errors name the
//! file, the line and the key.

mod cameras;
pub mod dashboard;
mod error;

pub use cameras::{ApiKey, CameraSettings, DEFAULT_API_KEY};

use anyhow::{Context, bail};
use pixelwire_core::{ColorCorrection, Dither, Filter, Fit, QualityLevel, RateConfig, SinkConfig};
use pixelwire_proto::{Codec, CodecSet};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listening addresses and global settings.
    pub server: ServerConfig,
    /// Processing defaults for every display.
    pub display_defaults: DisplayTuning,
    /// Settings for seed-000 sketches.
    pub legacy: LegacySettings,
    /// Named streams; empty means the built-in set (`bios`, `cpu`, `pattern`, and the dashboards
    /// `system` and `pixelwire`).
    pub streams: Vec<StreamConfig>,
    /// Routes and overrides for pixelwire devices, by device id.
    pub displays: Vec<DisplayRoute>,
    /// Routes and overrides for legacy sketches, by peer address and/or listening port.
    pub legacy_displays: Vec<LegacyRoute>,
    /// Where pushing devices (cameras) connect.
    pub cameras: CameraSettings,
    /// Keys HTTP devices present; empty means only the seed firmware's default key.
    pub api_keys: Vec<ApiKey>,
    /// Where the file came from (for messages).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// HTTP API, web page and metrics.
    pub http: SocketAddr,
    /// Display port: pixelwire devices and legacy sketches alike.
    pub display: SocketAddr,
    /// Stream for displays that no route names.
    pub default_stream: Spanned<String>,
    /// Directory for persistent state (the device registry); relative to the working directory.
    pub data_dir: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([0, 0, 0, 0], 8080)),
            display: SocketAddr::from(([0, 0, 0, 0], 8888)),
            default_stream: Spanned::new(0..0, "bios".to_string()),
            data_dir: PathBuf::from("pixelwire-data"),
        }
    }
}

/// A built-in generated source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// BIOS/POST setup screen with a live clock.
    Bios,
    /// Per-core CPU history graphs.
    Cpu,
    /// Moving test pattern.
    Pattern,
    /// Panels of Prometheus queries (`[streams.dashboard]`).
    Dashboard,
    /// Frames pushed by a camera (WebSocket, HTTP or TCP) that names this stream; declaring it lets
    /// displays be routed to it before the camera connects.
    Camera,
}

impl SourceKind {
    /// Name as in the config.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bios => "bios",
            Self::Cpu => "cpu",
            Self::Pattern => "pattern",
            Self::Dashboard => "dashboard",
            Self::Camera => "camera",
        }
    }

    /// Default frames per second.
    pub fn default_fps(self) -> f32 {
        match self {
            Self::Bios => 1.0,
            Self::Cpu => 2.0,
            Self::Pattern => 30.0,
            Self::Dashboard => 1.0,
            Self::Camera => 30.0,
        }
    }
}

/// `[[streams]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// Unique name: `[a-z0-9_-]`, 1..=32 characters.
    pub name: Spanned<String>,
    /// What generates it.
    pub source: SourceKind,
    /// Width in pixels (default 320).
    #[serde(default = "default_width")]
    pub width: u32,
    /// Height in pixels (default 240).
    #[serde(default = "default_height")]
    pub height: u32,
    /// Frames per second (default: bios 1, cpu 2, pattern 30). Ticks are aligned to the wall clock,
    /// so at 1 fps the bios clock changes exactly on the second.
    pub fps: Option<f32>,
    /// Render one frame and keep it (a still image).
    #[serde(default)]
    pub still: bool,
    /// Panels and Prometheus settings of a `dashboard` stream (default: the "node" preset).
    pub dashboard: Option<dashboard::DashboardConfig>,
}

impl StreamConfig {
    /// A built-in stream of `source` at 320×240.
    pub fn builtin(name: &str, source: SourceKind) -> Self {
        Self {
            name: Spanned::new(0..0, name.to_string()),
            source,
            width: default_width(),
            height: default_height(),
            fps: None,
            still: false,
            dashboard: None,
        }
    }

    /// The dashboard settings of a `dashboard` stream.
    pub fn dashboard_config(&self) -> dashboard::DashboardConfig {
        self.dashboard.clone().unwrap_or_default()
    }
}

fn default_width() -> u32 {
    320
}

fn default_height() -> u32 {
    240
}

/// Processing and rate-control settings; every field optional so that `[display_defaults]`,
/// `[[displays]]` and `[[legacy_displays]]` can override one another.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplayTuning {
    /// Frame rate the rate controller aims for (default 30).
    pub target_fps: Option<f32>,
    /// No frame may occupy the link longer than `1/min_fps` (default 10).
    pub min_fps: Option<f32>,
    /// Gamma exponent (default 1.0 = none; seed 000 used 2.2 or 2.8).
    pub gamma: Option<f64>,
    /// Per-channel scale after gamma (default [1, 1, 1]).
    pub white_balance: Option<[f64; 3]>,
    /// RGB565 dithering: "none" (default) or "ordered".
    pub dither: Option<DitherName>,
    /// "contain" (default, letterbox), "cover" (crop) or "stretch".
    pub fit: Option<FitName>,
    /// "lanczos3" (default), "catmull_rom", "bilinear" or "nearest".
    pub filter: Option<FilterName>,
    /// Change-detection tile side in pixels (default 16).
    pub tile_size: Option<u32>,
    /// Static frames before a region is repainted exactly (default 15).
    pub paint_over_frames: Option<u32>,
    /// Coarsest quality level the controller may use, 0..=3 (default 3; 0 = always exact).
    pub max_quality_level: Option<u8>,
    /// Frames in flight, 1..=8 (default 2; pixelwire devices only).
    pub window: Option<u8>,
    /// Keepalive interval in ms (default 2000; pixelwire devices only).
    pub keepalive_ms: Option<u64>,
    /// Codecs the server may use (default all: "raw", "rle", "palette_rle").
    pub codecs: Option<Vec<String>>,
}

/// Dither names.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DitherName {
    /// Truncate.
    None,
    /// Bayer 4x4 in panel coordinates.
    Ordered,
}

/// Fit names.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FitName {
    /// Letterbox.
    Contain,
    /// Crop.
    Cover,
    /// Distort.
    Stretch,
}

/// Filter names.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FilterName {
    /// Lanczos 3.
    Lanczos3,
    /// Catmull-Rom.
    CatmullRom,
    /// Bilinear.
    Bilinear,
    /// Nearest.
    Nearest,
}

/// Resolved settings of one display.
#[derive(Debug, Clone)]
pub struct ResolvedTuning {
    /// Sink processing and rate control.
    pub sink: SinkConfig,
    /// Frames in flight.
    pub window: u8,
    /// Keepalive interval.
    pub keepalive: Duration,
    /// Codecs allowed.
    pub codecs: CodecSet,
}

impl DisplayTuning {
    /// `self` with every field that `over` sets replaced.
    pub fn overlaid(&self, over: &DisplayTuning) -> DisplayTuning {
        DisplayTuning {
            target_fps: over.target_fps.or(self.target_fps),
            min_fps: over.min_fps.or(self.min_fps),
            gamma: over.gamma.or(self.gamma),
            white_balance: over.white_balance.or(self.white_balance),
            dither: over.dither.or(self.dither),
            fit: over.fit.or(self.fit),
            filter: over.filter.or(self.filter),
            tile_size: over.tile_size.or(self.tile_size),
            paint_over_frames: over.paint_over_frames.or(self.paint_over_frames),
            max_quality_level: over.max_quality_level.or(self.max_quality_level),
            window: over.window.or(self.window),
            keepalive_ms: over.keepalive_ms.or(self.keepalive_ms),
            codecs: over.codecs.clone().or_else(|| self.codecs.clone()),
        }
    }

    /// Checks ranges; `what` names the table for messages.
    fn validate(&self, what: &str) -> anyhow::Result<()> {
        let in_range = |v: Option<f32>, lo: f32, hi: f32, key: &str| -> anyhow::Result<()> {
            match v {
                Some(x) if !(lo..=hi).contains(&x) => {
                    bail!("{what}: {key} = {x} is outside {lo}..={hi}")
                }
                _ => Ok(()),
            }
        };
        in_range(self.target_fps, 0.1, 240.0, "target_fps")?;
        in_range(self.min_fps, 0.1, 240.0, "min_fps")?;
        if let Some(g) = self.gamma
            && !(0.1..=5.0).contains(&g)
        {
            bail!("{what}: gamma = {g} is outside 0.1..=5.0");
        }
        if let Some(wb) = self.white_balance
            && wb.iter().any(|c| !(0.0..=4.0).contains(c))
        {
            bail!("{what}: white_balance values must be within 0.0..=4.0");
        }
        if let Some(t) = self.tile_size
            && !(8..=256).contains(&t)
        {
            bail!("{what}: tile_size = {t} is outside 8..=256");
        }
        if let Some(l) = self.max_quality_level
            && l > 3
        {
            bail!("{what}: max_quality_level = {l} is outside 0..=3");
        }
        if let Some(w) = self.window
            && !(1..=8).contains(&w)
        {
            bail!("{what}: window = {w} is outside 1..=8");
        }
        if let Some(k) = self.keepalive_ms
            && !(100..=60_000).contains(&k)
        {
            bail!("{what}: keepalive_ms = {k} is outside 100..=60000");
        }
        if let Some(cs) = &self.codecs {
            for c in cs {
                if Codec::from_name(c).is_none() {
                    bail!("{what}: codecs: unknown codec {c:?} (known: raw, rle, palette_rle)");
                }
            }
        }
        Ok(())
    }

    /// The settings with built-in defaults for unset fields.
    pub fn resolve(&self) -> ResolvedTuning {
        let rate = RateConfig {
            target_fps: self.target_fps.unwrap_or(30.0),
            min_fps: self.min_fps.unwrap_or(10.0),
            max_level: QualityLevel::new(self.max_quality_level.unwrap_or(3)),
            ..RateConfig::default()
        };
        let sink = SinkConfig {
            fit: match self.fit.unwrap_or(FitName::Contain) {
                FitName::Contain => Fit::Contain,
                FitName::Cover => Fit::Cover,
                FitName::Stretch => Fit::Stretch,
            },
            filter: match self.filter.unwrap_or(FilterName::Lanczos3) {
                FilterName::Lanczos3 => Filter::Lanczos3,
                FilterName::CatmullRom => Filter::CatmullRom,
                FilterName::Bilinear => Filter::Bilinear,
                FilterName::Nearest => Filter::Nearest,
            },
            correction: ColorCorrection {
                gamma: self.gamma.unwrap_or(1.0),
                white_balance: self.white_balance.unwrap_or([1.0; 3]),
            },
            dither: match self.dither.unwrap_or(DitherName::None) {
                DitherName::None => Dither::None,
                DitherName::Ordered => Dither::Ordered,
            },
            tile_size: self.tile_size.unwrap_or(16),
            paint_over_frames: self.paint_over_frames.unwrap_or(15),
            rate,
        };
        let codecs = match &self.codecs {
            None => CodecSet::all(),
            Some(names) => names
                .iter()
                .filter_map(|n| Codec::from_name(n))
                .fold(CodecSet::EMPTY.with(Codec::Raw), CodecSet::with),
        };
        ResolvedTuning {
            sink,
            window: self.window.unwrap_or(2),
            keepalive: Duration::from_millis(self.keepalive_ms.unwrap_or(2000)),
            codecs,
        }
    }
}

/// `[legacy]`: seed-000 sketches (they never say who they are or how big their panel is).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LegacySettings {
    /// A peer that sends nothing within this many ms of connecting is served as a sketch.
    pub detect_ms: u64,
    /// Panel width in the sketch's rotation.
    pub width: u32,
    /// Panel height.
    pub height: u32,
    /// Largest pixel payload per packet, ≤ 10240 (the sketch's buffer).
    pub max_payload: u32,
    /// Silence after which the all-zero keepalive header is sent, ms.
    pub keepalive_ms: u64,
    /// Socket send buffer, bytes: what may be queued beyond the frame being written.
    pub send_buffer_bytes: u32,
}

impl Default for LegacySettings {
    fn default() -> Self {
        Self {
            detect_ms: 500,
            width: 320,
            height: 240,
            max_payload: 8192,
            keepalive_ms: 1000,
            send_buffer_bytes: 16384,
        }
    }
}

/// `[[displays]]`: a pixelwire device's stream and overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayRoute {
    /// The device id from its HELLO.
    pub id: String,
    /// Stream to show (default: `server.default_stream`).
    pub stream: Option<Spanned<String>>,
    /// Overrides.
    #[serde(flatten)]
    pub tuning: DisplayTuning,
}

/// `[[legacy_displays]]`: a sketch matched by peer address and/or listening port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyRoute {
    /// Peer IP address to match.
    pub address: Option<IpAddr>,
    /// Listening port to match; the server listens on it too (same host as `server.display`).
    pub port: Option<u16>,
    /// Stream to show.
    pub stream: Option<Spanned<String>>,
    /// Panel width (default `legacy.width`).
    pub width: Option<u32>,
    /// Panel height (default `legacy.height`).
    pub height: Option<u32>,
    /// Overrides.
    #[serde(flatten)]
    pub tuning: DisplayTuning,
}

impl LegacyRoute {
    /// Whether this route applies to a peer at `peer` that connected on `port`.
    pub fn matches(&self, peer: IpAddr, port: u16) -> bool {
        self.address.is_none_or(|a| a == peer) && self.port.is_none_or(|p| p == port)
    }
}

/// Line number (1-based) of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::parse(&text, Some(path))
    }

    /// Parses and validates config text; `path` only labels messages.
    pub fn parse(text: &str, path: Option<&Path>) -> anyhow::Result<Config> {
        let file = path.map_or_else(|| "<config>".to_string(), |p| p.display().to_string());
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "config file {file}: {}",
                error::Document::new(text).toml_error(&e)
            )
        })?;
        cfg.source = path.map(Path::to_path_buf);
        cfg.validate(text)
            .map_err(|e| anyhow::anyhow!("config file {file}: {e}"))?;
        Ok(cfg)
    }

    /// The streams to run: configured ones, or the built-in three.
    pub fn effective_streams(&self) -> Vec<StreamConfig> {
        if !self.streams.is_empty() {
            return self.streams.clone();
        }
        let mut out: Vec<StreamConfig> = [SourceKind::Bios, SourceKind::Cpu, SourceKind::Pattern]
            .into_iter()
            .map(|k| StreamConfig::builtin(k.name(), k))
            .collect();
        out.push(StreamConfig::builtin("system", SourceKind::Dashboard));
        let mut own = StreamConfig::builtin("pixelwire", SourceKind::Dashboard);
        own.dashboard = Some(dashboard::DashboardConfig {
            preset: dashboard::Preset::Pixelwire,
            ..dashboard::DashboardConfig::default()
        });
        out.push(own);
        out
    }

    fn validate(&self, text: &str) -> anyhow::Result<()> {
        let streams = self.effective_streams();
        let mut names = std::collections::HashSet::new();
        for s in &streams {
            let name = s.name.get_ref();
            let at = line_of(text, s.name.span().start);
            if name.is_empty()
                || name.len() > 32
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                bail!("line {at}: streams.name = {name:?} must be 1..=32 characters of [a-z0-9_-]");
            }
            if !names.insert(name.clone()) {
                bail!("line {at}: streams.name = {name:?} is defined twice");
            }
            if !(1..=4096).contains(&s.width) || !(1..=4096).contains(&s.height) {
                bail!("line {at}: stream {name:?}: width and height must be within 1..=4096");
            }
            if let Some(fps) = s.fps
                && !(0.1..=120.0).contains(&fps)
            {
                bail!("line {at}: stream {name:?}: fps = {fps} is outside 0.1..=120");
            }
            match (&s.dashboard, s.source) {
                (Some(d), SourceKind::Dashboard) => {
                    d.validate(&format!("line {at}: stream {name:?}: dashboard"))?;
                }
                (Some(_), other) => bail!(
                    "line {at}: stream {name:?}: a dashboard table needs source = \"dashboard\" (not {:?})",
                    other.name()
                ),
                (None, _) => {}
            }
            if s.source == SourceKind::Dashboard && (s.fps.is_some() || s.still) {
                bail!(
                    "line {at}: stream {name:?}: a dashboard renders when its data changes; set dashboard.interval_ms instead of fps or still"
                );
            }
        }
        let check_ref = |r: &Spanned<String>, key: &str| -> anyhow::Result<()> {
            if !names.contains(r.get_ref()) {
                if r.span().is_empty() {
                    bail!(
                        "{key} is not set and its default {:?} names no stream (defined: {}); set {key}",
                        r.get_ref(),
                        sorted(&names)
                    );
                }
                let at = line_of(text, r.span().start);
                bail!(
                    "line {at}: {key} = {:?} names no stream (defined: {})",
                    r.get_ref(),
                    sorted(&names)
                );
            }
            Ok(())
        };
        check_ref(&self.server.default_stream, "server.default_stream")?;
        self.display_defaults.validate("display_defaults")?;
        for (i, d) in self.displays.iter().enumerate() {
            if let Some(s) = &d.stream {
                check_ref(s, &format!("displays[{i}].stream"))?;
            }
            d.tuning
                .validate(&format!("displays[{i}] (id {:?})", d.id))?;
        }
        for (i, l) in self.legacy_displays.iter().enumerate() {
            if let Some(s) = &l.stream {
                check_ref(s, &format!("legacy_displays[{i}].stream"))?;
            }
            l.tuning.validate(&format!("legacy_displays[{i}]"))?;
            if l.width.is_some_and(|w| !(1..=4096).contains(&w))
                || l.height.is_some_and(|h| !(1..=4096).contains(&h))
            {
                bail!("legacy_displays[{i}]: width and height must be within 1..=4096");
            }
        }
        self.cameras.validate()?;
        for (i, k) in self.api_keys.iter().enumerate() {
            if k.key.len() < 8 {
                bail!("api_keys[{i}].key must be at least 8 characters");
            }
        }
        let lg = &self.legacy;
        if !(1024..=pixelwire_proto::legacy::SKETCH_BUFFER_BYTES).contains(&lg.max_payload) {
            bail!(
                "legacy.max_payload = {} is outside 1024..=10240 (the sketch disconnects above 10240)",
                lg.max_payload
            );
        }
        if !(1..=4096).contains(&lg.width) || !(1..=4096).contains(&lg.height) {
            bail!("legacy.width and legacy.height must be within 1..=4096");
        }
        if !(50..=10_000).contains(&lg.detect_ms) {
            bail!("legacy.detect_ms = {} is outside 50..=10000", lg.detect_ms);
        }
        Ok(())
    }

    /// Settings for a pixelwire device: (stream, tuning).
    pub fn route_display(&self, id: &str) -> (String, ResolvedTuning) {
        let route = self.displays.iter().find(|d| d.id == id);
        let stream = route
            .and_then(|r| r.stream.as_ref())
            .unwrap_or(&self.server.default_stream)
            .get_ref()
            .clone();
        let tuning = match route {
            Some(r) => self.display_defaults.overlaid(&r.tuning),
            None => self.display_defaults.clone(),
        };
        (stream, tuning.resolve())
    }

    /// Settings for a legacy peer: (stream, width, height, tuning).
    pub fn route_legacy(&self, peer: IpAddr, port: u16) -> (String, u32, u32, ResolvedTuning) {
        let route = self.legacy_displays.iter().find(|r| r.matches(peer, port));
        let stream = route
            .and_then(|r| r.stream.as_ref())
            .unwrap_or(&self.server.default_stream)
            .get_ref()
            .clone();
        let width = route.and_then(|r| r.width).unwrap_or(self.legacy.width);
        let height = route.and_then(|r| r.height).unwrap_or(self.legacy.height);
        let tuning = match route {
            Some(r) => self.display_defaults.overlaid(&r.tuning),
            None => self.display_defaults.clone(),
        };
        (stream, width, height, tuning.resolve())
    }

    /// Every display listening address: `server.display` plus each legacy route's port.
    pub fn display_listeners(&self) -> Vec<SocketAddr> {
        let mut out = vec![self.server.display];
        for p in self.legacy_displays.iter().filter_map(|r| r.port) {
            let a = SocketAddr::new(self.server.display.ip(), p);
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }
}

fn sorted(names: &std::collections::HashSet<String>) -> String {
    let mut v: Vec<&str> = names.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", None).unwrap();
        assert_eq!(c.server.http.port(), 8080);
        assert_eq!(c.server.display.port(), 8888);
        let names: Vec<String> = c
            .effective_streams()
            .iter()
            .map(|s| s.name.get_ref().clone())
            .collect();
        assert_eq!(names, ["bios", "cpu", "pattern", "system", "pixelwire"]);
        let (stream, t) = c.route_display("anything");
        assert_eq!(stream, "bios");
        assert_eq!(t.window, 2);
        assert_eq!(t.codecs, CodecSet::all());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let err = Config::parse(
            "[server]\nhttp = \"0.0.0.0:1\"\nbogus = 3\n",
            Some(Path::new("my.toml")),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("my.toml"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");

        let err = Config::parse(
            "[[displays]]\nid = \"a\"\nstream = \"nope\"\n",
            Some(Path::new("x.toml")),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("x.toml") && msg.contains("line 3") && msg.contains("displays[0].stream"),
            "{msg}"
        );

        // Inside a table with flattened display settings, the line is the table's header.
        let err =
            Config::parse("[server]\n[[displays]]\nid = \"a\"\ngama = 2.2\n", None).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("line 2") && msg.contains("unknown field `gama`"),
            "{msg}"
        );

        let err = Config::parse("[legacy]\nmax_payload = 20000\n", None).unwrap_err();
        assert!(format!("{err:#}").contains("legacy.max_payload"));

        let err = Config::parse("[display_defaults]\ndither = \"fancy\"\n", None).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("line 2") && msg.contains("dither"), "{msg}");
    }

    #[test]
    fn overrides_layer() {
        let c = Config::parse(
            "[display_defaults]\ngamma = 2.2\ntarget_fps = 20\n[[displays]]\nid = \"desk\"\nstream = \"cpu\"\ntarget_fps = 10\ncodecs = [\"rle\"]\n",
            None,
        )
        .unwrap();
        let (stream, t) = c.route_display("desk");
        assert_eq!(stream, "cpu");
        assert_eq!(t.sink.rate.target_fps, 10.0);
        assert_eq!(t.sink.correction.gamma, 2.2);
        assert!(
            t.codecs.contains(Codec::Rle)
                && t.codecs.contains(Codec::Raw)
                && !t.codecs.contains(Codec::PaletteRle)
        );
        let (_, t) = c.route_display("other");
        assert_eq!(t.sink.rate.target_fps, 20.0);
    }

    #[test]
    fn legacy_routes_by_address_and_port() {
        let c = Config::parse(
            "[[legacy_displays]]\naddress = \"10.0.0.5\"\nstream = \"cpu\"\nwidth = 240\n[[legacy_displays]]\nport = 8889\nstream = \"pattern\"\n",
            None,
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(c.route_legacy(ip("10.0.0.5"), 8888).0, "cpu");
        assert_eq!(c.route_legacy(ip("10.0.0.5"), 8888).1, 240);
        assert_eq!(c.route_legacy(ip("10.0.0.6"), 8889).0, "pattern");
        assert_eq!(c.route_legacy(ip("10.0.0.6"), 8888).0, "bios");
        assert_eq!(c.display_listeners().len(), 2);
    }

    #[test]
    fn docs_example_parses() {
        let doc = include_str!("../../../../docs/config.md");
        let start = doc
            .find("```toml\n")
            .expect("docs/config.md has a toml example")
            + 8;
        let end = start + doc[start..].find("```").expect("closed block");
        let c = Config::parse(&doc[start..end], Some(Path::new("docs/config.md"))).unwrap();
        assert!(!c.streams.is_empty());
    }
}
