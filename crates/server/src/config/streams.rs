//! `[[streams]]`: named streams and the source that fills each, as one enum by `source` whose
//! variants hold the options only that source takes (`fps` and `still` for generated screens,
//! `[streams.dashboard]` for dashboards), so a new source is one variant here plus its task.
//!
//! The entry is read key by key (`table.rs`) rather than as a serde internally tagged enum: `name`
//! is a `toml::Spanned`, which serde's buffering of tagged enums cannot carry, and the keys that
//! depend on `source` are refused with a message that says what to write instead.

use super::dashboard::DashboardConfig;
use super::ranges::{PreRollS, Side, StreamFps};
use super::recording::{RecordMode, StreamRecording};
use super::screen::{ScreenConfig, ScreenTarget};
use super::table::{self, Table};
use serde::de::{self, MapAccess};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// Width of a stream unless configured, pixels.
pub const DEFAULT_WIDTH: Side = Side::new_const(320);
/// Height of a stream unless configured, pixels.
pub const DEFAULT_HEIGHT: Side = Side::new_const(240);

/// What fills a stream, without its options (for callers that need the kind alone).
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
    /// The X screen, a monitor, a region or a window (`[streams.screen]`).
    Screen,
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
            Self::Screen => "screen",
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
            Self::Screen => 30.0,
        }
    }
}

/// A source with its own options.
#[derive(Debug, Clone)]
pub enum Source {
    /// BIOS/POST setup screen with a live clock.
    Bios(Ticks),
    /// Per-core CPU history graphs.
    Cpu(Ticks),
    /// Moving test pattern.
    Pattern(Ticks),
    /// Panels of Prometheus queries; it draws when its data changes, so it has no `fps`.
    Dashboard(DashboardConfig),
    /// Frames pushed by a camera that names this stream.
    Camera {
        /// Nominal frames per second, shown by the API (default [`SourceKind::default_fps`]).
        /// `still` is accepted in a camera's table, as it always was, and means nothing.
        fps: Option<StreamFps>,
    },
    /// A screen capture; captures only while watched, and only when pixels change.
    Screen {
        /// Frames per second at most (default [`SourceKind::default_fps`]).
        fps: Option<StreamFps>,
        /// What it captures.
        screen: ScreenConfig,
    },
}

/// When a generated screen renders.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ticks {
    /// Frames per second (default [`SourceKind::default_fps`]). Ticks are aligned to the wall
    /// clock, so at 1 fps the bios clock changes exactly on the second.
    pub fps: Option<StreamFps>,
    /// Render one frame and keep it (a still image).
    pub still: bool,
}

impl Source {
    /// The source of `kind` with every option at its default.
    pub fn of_kind(kind: SourceKind) -> Self {
        match kind {
            SourceKind::Bios => Self::Bios(Ticks::default()),
            SourceKind::Cpu => Self::Cpu(Ticks::default()),
            SourceKind::Pattern => Self::Pattern(Ticks::default()),
            SourceKind::Dashboard => Self::Dashboard(DashboardConfig::default()),
            SourceKind::Camera => Self::Camera { fps: None },
            SourceKind::Screen => Self::Screen {
                fps: None,
                screen: ScreenConfig::default(),
            },
        }
    }

    /// The kind alone.
    pub fn kind(&self) -> SourceKind {
        match self {
            Self::Bios(_) => SourceKind::Bios,
            Self::Cpu(_) => SourceKind::Cpu,
            Self::Pattern(_) => SourceKind::Pattern,
            Self::Dashboard(_) => SourceKind::Dashboard,
            Self::Camera { .. } => SourceKind::Camera,
            Self::Screen { .. } => SourceKind::Screen,
        }
    }
}

/// `[[streams]]`.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Unique name: `[a-z0-9_-]`, 1..=32 characters.
    pub name: Spanned<String>,
    /// Width in pixels (default [`DEFAULT_WIDTH`]).
    pub width: Side,
    /// Height in pixels (default [`DEFAULT_HEIGHT`]).
    pub height: Side,
    /// What fills it, with that source's options.
    pub source: Source,
    /// Whether and how it is recorded (`record`, `pre_roll_s`).
    pub recording: StreamRecording,
}

impl StreamConfig {
    /// A built-in stream of `source` at the default size.
    pub fn builtin(name: &str, source: SourceKind) -> Self {
        Self {
            name: Spanned::new(0..0, name.to_string()),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            source: Source::of_kind(source),
            recording: StreamRecording::default(),
        }
    }

    /// What fills it, without the options.
    pub fn kind(&self) -> SourceKind {
        self.source.kind()
    }

    /// Frames per second: configured, or the source's default (a dashboard's nominal 1).
    pub fn fps(&self) -> f32 {
        let configured = match &self.source {
            Source::Bios(t) | Source::Cpu(t) | Source::Pattern(t) => t.fps,
            Source::Camera { fps } | Source::Screen { fps, .. } => *fps,
            Source::Dashboard(_) => None,
        };
        configured.map_or_else(|| self.kind().default_fps(), StreamFps::get)
    }

    /// Whether a generated screen renders one frame and keeps it.
    pub fn still(&self) -> bool {
        match &self.source {
            Source::Bios(t) | Source::Cpu(t) | Source::Pattern(t) => t.still,
            Source::Dashboard(_) | Source::Camera { .. } | Source::Screen { .. } => false,
        }
    }

    /// What a `screen` stream captures (`None` for other sources).
    pub fn screen_config(&self) -> Option<&ScreenConfig> {
        match &self.source {
            Source::Screen { screen, .. } => Some(screen),
            _ => None,
        }
    }

    /// The dashboard settings of a `dashboard` stream (the defaults for any other stream).
    pub fn dashboard_config(&self) -> DashboardConfig {
        match &self.source {
            Source::Dashboard(d) => d.clone(),
            _ => DashboardConfig::default(),
        }
    }
}

/// A stream name, refused while parsing unless it is 1..=32 characters of `[a-z0-9_-]` (it is used
/// in URLs and metric labels).
struct StreamName(String);

impl<'de> Deserialize<'de> for StreamName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        let ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err(de::Error::custom(format_args!(
                "{name:?} must be 1..=32 characters of [a-z0-9_-]"
            )));
        }
        Ok(Self(name))
    }
}

/// The keys of a `[[streams]]` entry read so far.
#[derive(Default)]
pub(super) struct PartialStream {
    name: Option<Spanned<String>>,
    source: Option<SourceKind>,
    width: Option<Side>,
    height: Option<Side>,
    fps: Option<StreamFps>,
    still: Option<bool>,
    dashboard: Option<DashboardConfig>,
    screen: Option<ScreenConfig>,
    record: Option<RecordMode>,
    pre_roll_s: Option<PreRollS>,
}

impl Table for StreamConfig {
    const EXPECTING: &'static str = "a [[streams]] entry";
    const KEYS: &'static [&'static str] = &[
        "name",
        "source",
        "width",
        "height",
        "fps",
        "still",
        "dashboard",
        "screen",
        "record",
        "pre_roll_s",
    ];
    type Partial = PartialStream;

    fn read<'de, A: MapAccess<'de>>(
        p: &mut PartialStream,
        key: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "name" => {
                let name: Spanned<StreamName> = map.next_value()?;
                let span = name.span();
                p.name = Some(Spanned::new(span, name.into_inner().0));
            }
            "source" => p.source = Some(map.next_value()?),
            "width" => p.width = Some(map.next_value()?),
            "height" => p.height = Some(map.next_value()?),
            "fps" => p.fps = Some(map.next_value()?),
            "still" => p.still = Some(map.next_value()?),
            "dashboard" => p.dashboard = Some(map.next_value()?),
            "screen" => p.screen = Some(map.next_value()?),
            "record" => p.record = Some(map.next_value()?),
            "pre_roll_s" => p.pre_roll_s = Some(map.next_value()?),
            other => return Err(table::unhandled(other, Self::KEYS)),
        }
        Ok(())
    }

    fn finish<E: de::Error>(p: PartialStream) -> Result<Self, E> {
        let name = p.name.ok_or_else(|| E::missing_field("name"))?;
        let kind = p.source.ok_or_else(|| E::missing_field("source"))?;
        let ticks = Ticks {
            fps: p.fps,
            still: p.still.unwrap_or(false),
        };
        let recording = StreamRecording {
            mode: p.record.unwrap_or_default(),
            pre_roll_s: p
                .pre_roll_s
                .unwrap_or(StreamRecording::default().pre_roll_s),
        };
        if let Some(screen) = p.screen {
            if kind != SourceKind::Screen {
                return Err(E::custom(format_args!(
                    "stream {:?}: a screen table needs source = \"screen\" (not {:?})",
                    name.get_ref(),
                    kind.name()
                )));
            }
            if p.dashboard.is_some() {
                return Err(E::custom(
                    "a dashboard table needs source = \"dashboard\" (not \"screen\")",
                ));
            }
            return finish_screen(name, ticks, p.width.or(p.height), screen, recording);
        }
        let source = match (kind, p.dashboard) {
            (SourceKind::Screen, None) => {
                return finish_screen(
                    name,
                    ticks,
                    p.width.or(p.height),
                    ScreenConfig::default(),
                    recording,
                );
            }
            (SourceKind::Dashboard, dashboard) => {
                if ticks.fps.is_some() || ticks.still {
                    return Err(E::custom(format_args!(
                        "stream {:?}: a dashboard renders when its data changes; set dashboard.interval_ms instead of fps or still",
                        name.get_ref()
                    )));
                }
                Source::Dashboard(dashboard.unwrap_or_default())
            }
            (other, Some(_)) => {
                return Err(E::custom(format_args!(
                    "stream {:?}: a dashboard table needs source = \"dashboard\" (not {:?})",
                    name.get_ref(),
                    other.name()
                )));
            }
            (SourceKind::Bios, None) => Source::Bios(ticks),
            (SourceKind::Cpu, None) => Source::Cpu(ticks),
            (SourceKind::Pattern, None) => Source::Pattern(ticks),
            (SourceKind::Camera, None) => Source::Camera { fps: ticks.fps },
        };
        Ok(StreamConfig {
            name,
            width: p.width.unwrap_or(DEFAULT_WIDTH),
            height: p.height.unwrap_or(DEFAULT_HEIGHT),
            source,
            recording,
        })
    }
}

/// A `screen` stream: fps and `[streams.screen]` only; its size is what it captures.
fn finish_screen<E: de::Error>(
    name: Spanned<String>,
    ticks: Ticks,
    size_key: Option<Side>,
    screen: ScreenConfig,
    recording: StreamRecording,
) -> Result<StreamConfig, E> {
    if ticks.still || size_key.is_some() {
        return Err(E::custom(format_args!(
            "stream {:?}: a screen stream takes fps and a [streams.screen] table; its size is what it captures (set [streams.screen] region), and each display scales it to its panel",
            name.get_ref()
        )));
    }
    let (width, height) = match &screen.target {
        ScreenTarget::Region(r) => (
            Side::new(r.width).unwrap_or(DEFAULT_WIDTH),
            Side::new(r.height).unwrap_or(DEFAULT_HEIGHT),
        ),
        _ => (DEFAULT_WIDTH, DEFAULT_HEIGHT),
    };
    Ok(StreamConfig {
        name,
        width,
        height,
        source: Source::Screen {
            fps: ticks.fps,
            screen,
        },
        recording,
    })
}

impl<'de> Deserialize<'de> for StreamConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        table::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(text: &str) -> Result<StreamConfig, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn each_source_takes_its_own_options() {
        let s = stream("name = \"p\"\nsource = \"pattern\"\nfps = 5\nstill = true").unwrap();
        assert!(matches!(
            s.source,
            Source::Pattern(Ticks { still: true, .. })
        ));
        assert_eq!((s.fps(), s.still()), (5.0, true));
        let s = stream("name = \"c\"\nsource = \"camera\"\nfps = 12\nstill = true").unwrap();
        assert_eq!(
            (s.kind(), s.fps(), s.still()),
            (SourceKind::Camera, 12.0, false)
        );
        let s =
            stream("name = \"d\"\nsource = \"dashboard\"\n[dashboard]\ninterval_ms = 500").unwrap();
        assert_eq!(s.dashboard_config().interval_ms.get(), 500);
        assert_eq!(s.fps(), SourceKind::Dashboard.default_fps());
        let s = stream("name = \"b\"\nsource = \"bios\"").unwrap();
        assert_eq!(
            (s.width, s.height, s.fps()),
            (DEFAULT_WIDTH, DEFAULT_HEIGHT, 1.0)
        );
    }

    #[test]
    fn options_of_another_source_are_refused() {
        let e = stream("name = \"d\"\nsource = \"dashboard\"\nfps = 2").unwrap_err();
        assert!(e.contains("set dashboard.interval_ms instead"), "{e}");
        let e = stream("name = \"c\"\nsource = \"cpu\"\n[dashboard]").unwrap_err();
        assert!(
            e.contains("needs source = \"dashboard\" (not \"cpu\")"),
            "{e}"
        );
        let s = stream("name = \"c\"\nsource = \"camera\"\nrecord = \"on_demand\"\npre_roll_s = 5")
            .unwrap();
        assert_eq!(s.recording.mode, RecordMode::OnDemand);
        assert_eq!(s.recording.pre_roll_s.get(), 5);
        let e = stream("name = \"c\"\nsource = \"camera\"\nrecord = \"sometimes\"").unwrap_err();
        assert!(e.contains("on_demand"), "{e}");
        let e = stream("name = \"x\"").unwrap_err();
        assert!(e.contains("missing field `source`"), "{e}");
        let e = stream("name = \"Bad\"\nsource = \"cpu\"").unwrap_err();
        assert!(e.contains("[a-z0-9_-]"), "{e}");
    }
}
