//! Display settings (`[display_defaults]`, and the same keys in every `[[displays]]` and
//! `[[legacy_displays]]` entry) and `[[displays]]`, the routes of pixelwire devices by the id in
//! their HELLO. A setting left unset falls through the route, then `[display_defaults]`, to
//! pixelwire-core's own default (`SessionConfig`, `SinkConfig`, `RateConfig`, `ColorCorrection`):
//! the config restates none of them. `docs/config.md`, "Display settings", documents the keys.

use super::ranges::{DisplayFps, Gain, Gamma, KeepaliveMs, QualityCap, TileSize, Window};
use super::table::{self, Table};
use pixelwire_core::{
    ColorCorrection, Dither, Filter, Fit, Prefer, QualityLevel, RateConfig, SessionConfig,
    SinkConfig,
};
use pixelwire_proto::{Codec, CodecSet};
use serde::de::{self, MapAccess};
use serde::{Deserialize, Deserializer};
use std::time::Duration;
use toml::Spanned;

/// The keys of [`DisplayTuning`], after `$extra`: one list for the settings and every table that
/// embeds them.
macro_rules! setting_keys {
    ($($extra:literal),*) => {
        &[
            $($extra,)*
            "target_fps", "min_fps", "prefer", "gamma", "white_balance", "dither", "fit", "filter",
            "tile_size", "paint_over_frames", "max_quality_level", "window", "keepalive_ms",
            "codecs",
        ]
    };
}
pub(super) use setting_keys;

/// Processing and rate-control settings; every field optional so that `[display_defaults]`,
/// `[[displays]]` and `[[legacy_displays]]` can override one another. Unset at every level means
/// pixelwire-core's default.
#[derive(Debug, Clone, Default)]
pub struct DisplayTuning {
    /// Frame rate the rate controller aims for (`RateConfig::target_fps`).
    pub target_fps: Option<DisplayFps>,
    /// No frame may occupy the link longer than `1/min_fps` (`RateConfig::min_fps`).
    pub min_fps: Option<DisplayFps>,
    /// "motion" (keep the frame rate, coarsen colour) or "detail" (keep colour, let the frame rate
    /// fall towards `RateConfig::detail_fps`) (`RateConfig::prefer`).
    pub prefer: Option<PreferName>,
    /// Gamma exponent (`ColorCorrection::gamma`; seed 000 used 2.2 or 2.8).
    pub gamma: Option<Gamma>,
    /// Per-channel scale after gamma (`ColorCorrection::white_balance`).
    pub white_balance: Option<[Gain; 3]>,
    /// RGB565 dithering: "none" or "ordered" (`SinkConfig::dither`).
    pub dither: Option<DitherName>,
    /// "contain" (letterbox), "cover" (crop) or "stretch" (`SinkConfig::fit`).
    pub fit: Option<FitName>,
    /// "lanczos3", "catmull_rom", "bilinear" or "nearest" (`SinkConfig::filter`).
    pub filter: Option<FilterName>,
    /// Change-detection tile side in pixels (`SinkConfig::tile_size`).
    pub tile_size: Option<TileSize>,
    /// Static frames before a region is repainted exactly (`SinkConfig::paint_over_frames`).
    pub paint_over_frames: Option<u32>,
    /// Coarsest quality level the controller may use; 0 = always exact (`RateConfig::max_level`).
    pub max_quality_level: Option<QualityCap>,
    /// Frames in flight (`SessionConfig::window`; pixelwire devices only).
    pub window: Option<Window>,
    /// Keepalive interval in ms (`SessionConfig::keepalive`; pixelwire devices only).
    pub keepalive_ms: Option<KeepaliveMs>,
    /// Codecs the server may use (`SessionConfig::codecs`: all).
    pub codecs: Option<Codecs>,
}

/// Rate-control policy names.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PreferName {
    /// Keep the frame rate.
    Motion,
    /// Keep colour precision.
    Detail,
}

impl From<Prefer> for PreferName {
    fn from(p: Prefer) -> Self {
        match p {
            Prefer::Motion => PreferName::Motion,
            Prefer::Detail => PreferName::Detail,
        }
    }
}

impl From<PreferName> for Prefer {
    fn from(n: PreferName) -> Self {
        match n {
            PreferName::Motion => Prefer::Motion,
            PreferName::Detail => Prefer::Detail,
        }
    }
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

impl From<DitherName> for Dither {
    fn from(n: DitherName) -> Self {
        match n {
            DitherName::None => Dither::None,
            DitherName::Ordered => Dither::Ordered,
        }
    }
}

impl From<FitName> for Fit {
    fn from(n: FitName) -> Self {
        match n {
            FitName::Contain => Fit::Contain,
            FitName::Cover => Fit::Cover,
            FitName::Stretch => Fit::Stretch,
        }
    }
}

impl From<FilterName> for Filter {
    fn from(n: FilterName) -> Self {
        match n {
            FilterName::Lanczos3 => Filter::Lanczos3,
            FilterName::CatmullRom => Filter::CatmullRom,
            FilterName::Bilinear => Filter::Bilinear,
            FilterName::Nearest => Filter::Nearest,
        }
    }
}

/// `codecs`: the codecs a list names. RAW is always allowed besides (a device must decode it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codecs(CodecSet);

impl Codecs {
    /// The codecs the server may use: those listed, and RAW.
    pub fn allowed(self) -> CodecSet {
        self.0.with(Codec::Raw)
    }
}

impl<'de> Deserialize<'de> for Codecs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// One name, refused where it stands if unknown.
        struct Name(Codec);
        impl<'de> Deserialize<'de> for Name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                Codec::ALL
                    .into_iter()
                    .find(|c| c.name() == name)
                    .map(Name)
                    .ok_or_else(|| {
                        let known: Vec<&str> = Codec::ALL.iter().map(|c| c.name()).collect();
                        de::Error::custom(format_args!(
                            "unknown codec {name:?} (known: {})",
                            known.join(", ")
                        ))
                    })
            }
        }
        let names = Vec::<Name>::deserialize(d)?;
        Ok(Codecs(
            names.into_iter().fold(CodecSet::EMPTY, |s, n| s.with(n.0)),
        ))
    }
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
            prefer: over.prefer.or(self.prefer),
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
            codecs: over.codecs.or(self.codecs),
        }
    }

    /// The settings, with pixelwire-core's defaults for unset fields.
    pub fn resolve(&self) -> ResolvedTuning {
        let session = SessionConfig::default();
        let core = session.sink;
        let rate = RateConfig {
            target_fps: self
                .target_fps
                .map_or(core.rate.target_fps, DisplayFps::get),
            min_fps: self.min_fps.map_or(core.rate.min_fps, DisplayFps::get),
            prefer: self.prefer.map_or(core.rate.prefer, Prefer::from),
            max_level: self
                .max_quality_level
                .map_or(core.rate.max_level, |l| QualityLevel::new(l.get())),
            ..core.rate
        };
        let sink = SinkConfig {
            fit: self.fit.map_or(core.fit, Fit::from),
            filter: self.filter.map_or(core.filter, Filter::from),
            correction: ColorCorrection {
                gamma: self.gamma.map_or(core.correction.gamma, Gamma::get),
                white_balance: self
                    .white_balance
                    .map_or(core.correction.white_balance, |wb| wb.map(Gain::get)),
            },
            dither: self.dither.map_or(core.dither, Dither::from),
            tile_size: self.tile_size.map_or(core.tile_size, TileSize::get),
            paint_over_frames: self.paint_over_frames.unwrap_or(core.paint_over_frames),
            rate,
        };
        ResolvedTuning {
            sink,
            window: self.window.map_or(session.window, Window::get),
            keepalive: self
                .keepalive_ms
                .map_or(session.keepalive, KeepaliveMs::duration),
            codecs: self.codecs.map_or(session.codecs, Codecs::allowed),
        }
    }
}

impl Table for DisplayTuning {
    const EXPECTING: &'static str = "a table of display settings";
    const KEYS: &'static [&'static str] = setting_keys!();
    type Partial = Self;

    fn read<'de, A: MapAccess<'de>>(
        t: &mut Self,
        key: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "target_fps" => t.target_fps = Some(map.next_value()?),
            "min_fps" => t.min_fps = Some(map.next_value()?),
            "prefer" => t.prefer = Some(map.next_value()?),
            "gamma" => t.gamma = Some(map.next_value()?),
            "white_balance" => t.white_balance = Some(map.next_value()?),
            "dither" => t.dither = Some(map.next_value()?),
            "fit" => t.fit = Some(map.next_value()?),
            "filter" => t.filter = Some(map.next_value()?),
            "tile_size" => t.tile_size = Some(map.next_value()?),
            "paint_over_frames" => t.paint_over_frames = Some(map.next_value()?),
            "max_quality_level" => t.max_quality_level = Some(map.next_value()?),
            "window" => t.window = Some(map.next_value()?),
            "keepalive_ms" => t.keepalive_ms = Some(map.next_value()?),
            "codecs" => t.codecs = Some(map.next_value()?),
            other => return Err(table::unhandled(other, Self::KEYS)),
        }
        Ok(())
    }

    fn finish<E: de::Error>(t: Self) -> Result<Self, E> {
        Ok(t)
    }
}

impl<'de> Deserialize<'de> for DisplayTuning {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        table::deserialize(d)
    }
}

/// `[[displays]]`: a pixelwire device's stream and overrides.
#[derive(Debug, Clone)]
pub struct DisplayRoute {
    /// The device id from its HELLO.
    pub id: String,
    /// Stream to show (default: `server.default_stream`).
    pub stream: Option<Spanned<String>>,
    /// Overrides (the display-setting keys of the same table).
    pub tuning: DisplayTuning,
}

/// The keys of a `[[displays]]` entry read so far.
#[derive(Default)]
pub(super) struct PartialDisplayRoute {
    id: Option<String>,
    stream: Option<Spanned<String>>,
    tuning: DisplayTuning,
}

impl Table for DisplayRoute {
    const EXPECTING: &'static str = "a [[displays]] entry";
    const KEYS: &'static [&'static str] = setting_keys!("id", "stream");
    type Partial = PartialDisplayRoute;

    fn read<'de, A: MapAccess<'de>>(
        p: &mut PartialDisplayRoute,
        key: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "id" => p.id = Some(map.next_value()?),
            "stream" => p.stream = Some(map.next_value()?),
            setting => DisplayTuning::read(&mut p.tuning, setting, map)?,
        }
        Ok(())
    }

    fn finish<E: de::Error>(p: PartialDisplayRoute) -> Result<Self, E> {
        Ok(DisplayRoute {
            id: p.id.ok_or_else(|| E::missing_field("id"))?,
            stream: p.stream,
            tuning: p.tuning,
        })
    }
}

impl<'de> Deserialize<'de> for DisplayRoute {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        table::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_are_cores_defaults() {
        let t = DisplayTuning::default().resolve();
        let core = SessionConfig::default();
        assert_eq!(t.sink, core.sink);
        assert_eq!(t.window, core.window);
        assert_eq!(t.keepalive, core.keepalive);
        assert_eq!(t.codecs, core.codecs);
    }

    #[test]
    fn settings_parse_into_core_values() {
        let t: DisplayTuning = toml::from_str(
            "gamma = 2.2\nwhite_balance = [1, 0.5, 1]\ndither = \"ordered\"\nfit = \"cover\"\nfilter = \"nearest\"\nmax_quality_level = 0\nprefer = \"detail\"\nwindow = 1\nkeepalive_ms = 500\ncodecs = [\"rle\"]",
        )
        .unwrap();
        let r = t.resolve();
        assert_eq!(r.sink.correction.white_balance, [1.0, 0.5, 1.0]);
        assert_eq!(
            (r.sink.dither, r.sink.fit, r.sink.filter),
            (Dither::Ordered, Fit::Cover, Filter::Nearest)
        );
        assert_eq!(r.sink.rate.max_level, QualityLevel::EXACT);
        assert_eq!(r.sink.rate.prefer, Prefer::Detail);
        assert_eq!((r.window, r.keepalive), (1, Duration::from_millis(500)));
        assert_eq!(r.codecs, CodecSet::EMPTY.with(Codec::Raw).with(Codec::Rle));
        let err = toml::from_str::<DisplayTuning>("codecs = [\"raw\", \"h264\"]").unwrap_err();
        assert!(err.message().contains("unknown codec \"h264\""), "{err}");
    }
}
