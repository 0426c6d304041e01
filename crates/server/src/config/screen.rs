//! `[streams.screen]`: what a `screen` stream captures (seed 000's `SCREEN_CAPTURE` and
//! `WINDOW_CAPTURE` modes): the whole X screen, one RandR monitor, a region, or a window found by
//! title and followed; and the pointer. Documented in `docs/config.md` and `docs/screen.md`.

use pixelwire_capture::{CaptureSettings, CaptureTarget, CursorMode, MonitorSelector, Region};
use serde::{Deserialize, Deserializer, de};

/// A rectangle of the screen, root-window pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// Left column.
    pub x: i32,
    /// Top row.
    pub y: i32,
    /// Width, pixels (1..=8192).
    pub width: u32,
    /// Height, pixels (1..=8192).
    pub height: u32,
}

/// A monitor by RandR name (`"HDMI-1"`) or by position in RandR's list (`0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorConfig {
    /// By name.
    Name(String),
    /// By position, from 0.
    Index(usize),
}

impl<'de> Deserialize<'de> for MonitorConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Index(i64),
        }
        match Raw::deserialize(d).map_err(|_| {
            de::Error::custom("monitor is a RandR monitor name (\"HDMI-1\") or an index (0)")
        })? {
            Raw::Name(n) if n == "primary" => Ok(Self::Name(n)),
            Raw::Name(n) if !n.is_empty() && n.len() <= 64 => Ok(Self::Name(n)),
            Raw::Index(i) if (0..64).contains(&i) => Ok(Self::Index(i as usize)),
            _ => Err(de::Error::custom(
                "monitor is a RandR monitor name of 1..=64 characters, \"primary\", or an index 0..=63",
            )),
        }
    }
}

/// The pointer in a screen stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CursorConfig {
    /// Not drawn.
    #[default]
    Hidden,
    /// Drawn into the frames.
    Composited,
}

/// `[streams.screen]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScreenConfig {
    /// X display (`":0"`); default `$DISPLAY`.
    pub display: Option<String>,
    /// What to capture (default: the whole screen).
    pub target: ScreenTarget,
    /// The pointer (default hidden).
    pub cursor: CursorConfig,
}

/// What a screen stream captures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ScreenTarget {
    /// The whole screen.
    #[default]
    Screen,
    /// A region.
    Region(RegionConfig),
    /// A monitor.
    Monitor(MonitorConfig),
    /// A window whose title contains this text.
    Window(String),
}

impl<'de> Deserialize<'de> for ScreenConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            display: Option<String>,
            region: Option<RegionConfig>,
            monitor: Option<MonitorConfig>,
            window: Option<String>,
            #[serde(default)]
            cursor: CursorConfig,
        }
        let r = Raw::deserialize(d)?;
        let target = match (r.region, r.monitor, r.window) {
            (None, None, None) => ScreenTarget::Screen,
            (Some(reg), None, None) => {
                if !(1..=8192).contains(&reg.width) || !(1..=8192).contains(&reg.height) {
                    return Err(de::Error::custom(format_args!(
                        "region is {}x{}; width and height must be 1..=8192",
                        reg.width, reg.height
                    )));
                }
                ScreenTarget::Region(reg)
            }
            (None, Some(m), None) => ScreenTarget::Monitor(m),
            (None, None, Some(w)) if !w.is_empty() && w.len() <= 256 => ScreenTarget::Window(w),
            (None, None, Some(_)) => {
                return Err(de::Error::custom(
                    "window is 1..=256 characters of its title",
                ));
            }
            _ => {
                return Err(de::Error::custom(
                    "a screen stream captures one of region, monitor or window (or, with none, the whole screen)",
                ));
            }
        };
        if let Some(d) = &r.display
            && (d.is_empty() || d.len() > 128)
        {
            return Err(de::Error::custom(
                "display is an X display name such as \":0\"",
            ));
        }
        Ok(Self {
            display: r.display,
            target,
            cursor: r.cursor,
        })
    }
}

impl ScreenConfig {
    /// The capture library's settings for this stream at `fps`.
    pub fn capture_settings(&self, fps: f32) -> CaptureSettings {
        CaptureSettings {
            display: self.display.clone(),
            target: match &self.target {
                ScreenTarget::Screen => CaptureTarget::Screen,
                ScreenTarget::Region(r) => CaptureTarget::Region(Region {
                    x: r.x,
                    y: r.y,
                    width: r.width,
                    height: r.height,
                }),
                ScreenTarget::Monitor(MonitorConfig::Name(n)) if n == "primary" => {
                    CaptureTarget::Monitor(MonitorSelector::Primary)
                }
                ScreenTarget::Monitor(MonitorConfig::Name(n)) => {
                    CaptureTarget::Monitor(MonitorSelector::Name(n.clone()))
                }
                ScreenTarget::Monitor(MonitorConfig::Index(i)) => {
                    CaptureTarget::Monitor(MonitorSelector::Index(*i))
                }
                ScreenTarget::Window(t) => CaptureTarget::Window { title: t.clone() },
            },
            target_fps: f64::from(fps),
            cursor: match self.cursor {
                CursorConfig::Hidden => CursorMode::Hidden,
                CursorConfig::Composited => CursorMode::Composited,
            },
            ..CaptureSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(text: &str) -> Result<ScreenConfig, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn each_target_maps_to_the_capture_library() {
        let s = screen("region = { x = 60, y = 170, width = 320, height = 240 }").unwrap();
        assert_eq!(
            s.capture_settings(10.0).target,
            CaptureTarget::Region(Region {
                x: 60,
                y: 170,
                width: 320,
                height: 240
            })
        );
        let s = screen("monitor = \"HDMI-1\"\ncursor = \"composited\"\ndisplay = \":1\"").unwrap();
        let c = s.capture_settings(30.0);
        assert_eq!(
            c.target,
            CaptureTarget::Monitor(MonitorSelector::Name("HDMI-1".into()))
        );
        assert_eq!(
            (c.cursor, c.display.as_deref(), c.target_fps),
            (CursorMode::Composited, Some(":1"), 30.0)
        );
        assert_eq!(
            screen("monitor = 1").unwrap().capture_settings(1.0).target,
            CaptureTarget::Monitor(MonitorSelector::Index(1))
        );
        assert_eq!(
            screen("monitor = \"primary\"")
                .unwrap()
                .capture_settings(1.0)
                .target,
            CaptureTarget::Monitor(MonitorSelector::Primary)
        );
        assert_eq!(
            screen("window = \"Firefox\"")
                .unwrap()
                .capture_settings(1.0)
                .target,
            CaptureTarget::Window {
                title: "Firefox".into()
            }
        );
        assert_eq!(
            screen("").unwrap().capture_settings(1.0).target,
            CaptureTarget::Screen
        );
    }

    #[test]
    fn contradictions_and_nonsense_are_refused_with_what_to_write() {
        let e = screen("window = \"a\"\nmonitor = 0").unwrap_err();
        assert!(e.contains("one of region, monitor or window"), "{e}");
        let e = screen("region = { x = 0, y = 0, width = 0, height = 10 }").unwrap_err();
        assert!(e.contains("1..=8192"), "{e}");
        let e = screen("monitor = -1").unwrap_err();
        assert!(e.contains("index 0..=63"), "{e}");
        let e = screen("cursor = \"blink\"").unwrap_err();
        assert!(e.contains("hidden") && e.contains("composited"), "{e}");
        let e = screen("zoom = 2").unwrap_err();
        assert!(e.contains("unknown field `zoom`"), "{e}");
    }
}
