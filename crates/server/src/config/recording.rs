//! `[recording]` and the recording keys of a `[[streams]]` entry (`docs/config.md`,
//! "`[recording]`"; `docs/recording.md`): where recordings go, how files are cut, and how long
//! they are kept (by age, by bytes per stream, and a free-disk floor).

use super::ranges::{FragmentMs, PreRollS, RecordMaxAgeS, RecordMaxBytes, SegmentSeconds};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `record` of a `[[streams]]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordMode {
    /// Never recorded (the default).
    #[default]
    Off,
    /// Recorded from start-up to shutdown.
    Always,
    /// Recorded between a start and a stop from the API or the page.
    OnDemand,
}

impl RecordMode {
    /// The name as in the config and the API.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Always => "always",
            Self::OnDemand => "on_demand",
        }
    }
}

/// The recording keys of one stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamRecording {
    /// `record`.
    pub mode: RecordMode,
    /// `pre_roll_s`: seconds before a start (from the API or the page) that the recording holds;
    /// at most `video.ring_seconds`.
    pub pre_roll_s: PreRollS,
}

impl Default for StreamRecording {
    fn default() -> Self {
        Self {
            mode: RecordMode::Off,
            pre_roll_s: PreRollS::new_const(0),
        }
    }
}

/// `[recording]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingSettings {
    /// Directory of the recordings, one subdirectory per stream (default `<data_dir>/recordings`).
    pub dir: Option<PathBuf>,
    /// A new file starts at the first keyframe this long after the current file's start.
    pub segment_seconds: SegmentSeconds,
    /// A fragment (the unit a crash can lose) lasts about this long.
    pub fragment_ms: FragmentMs,
    /// Files that ended longer ago than this are deleted.
    pub max_age_s: RecordMaxAgeS,
    /// Bytes one stream's recordings may hold; the oldest files go first.
    pub max_bytes: RecordMaxBytes,
    /// Free bytes the recordings' file system keeps; below it the oldest files of any stream go.
    /// 0: no floor.
    pub min_free_bytes: u64,
}

impl Default for RecordingSettings {
    fn default() -> Self {
        Self {
            dir: None,
            segment_seconds: SegmentSeconds::new_const(60),
            fragment_ms: FragmentMs::new_const(1000),
            max_age_s: RecordMaxAgeS::new_const(7 * 86_400),
            max_bytes: RecordMaxBytes::new_const(10 << 30),
            min_free_bytes: 1 << 30,
        }
    }
}

impl RecordingSettings {
    /// The directory of the recordings, given `[server] data_dir`.
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| data_dir.join("recordings"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_ranges() {
        let r: RecordingSettings =
            toml::from_str("segment_seconds = 10\nmax_bytes = 1000\ndir = \"/rec\"").unwrap();
        assert_eq!(r.segment_seconds.get(), 10);
        assert_eq!(r.dir(Path::new("d")), PathBuf::from("/rec"));
        assert_eq!(
            RecordingSettings::default().dir(Path::new("d")),
            PathBuf::from("d/recordings")
        );
        assert!(toml::from_str::<RecordingSettings>("fragment_ms = 50").is_err());
        assert!(toml::from_str::<RecordingSettings>("segment_seconds = 0").is_err());
        assert!(toml::from_str::<RecordingSettings>("max_age = 3").is_err());
    }

    #[test]
    fn a_pre_roll_longer_than_the_ring_is_refused_with_its_key() {
        let stream = "[[streams]]\nname = \"bios\"\nsource = \"camera\"\nrecord = \"on_demand\"\npre_roll_s = 20\n";
        let e = super::super::Config::parse(stream, None).unwrap_err();
        let m = format!("{e:#}");
        assert!(
            m.contains("line 5")
                && m.contains("pre_roll_s = 20")
                && m.contains("video.ring_seconds = 10"),
            "{m}"
        );
        let ok = format!("[video]\nring_seconds = 20\n{stream}");
        let c = super::super::Config::parse(&ok, None).unwrap();
        assert_eq!(c.streams[0].recording.pre_roll_s.get(), 20);
    }
}
