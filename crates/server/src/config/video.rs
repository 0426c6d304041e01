//! `[video]`: the shared H.264 encode of each stream (`docs/config.md`, "`[video]`"): how much of
//! its recent past is kept in RAM for late joiners and recording pre-roll.

use crate::encoded::RingLimits;
use serde::Deserialize;
use std::time::Duration;

/// `[video]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VideoSettings {
    /// Seconds of encoded video each running encoder keeps (whole GOPs), 1–300: the longest
    /// pre-roll a recording can have.
    pub ring_seconds: super::ranges::RingSeconds,
    /// Bytes the ring of one stream may hold, at least 1 MiB; the oldest GOPs go first.
    pub ring_max_bytes: super::ranges::RingBytes,
    /// Frames whose picture did not change are neither decoded nor encoded (except once a
    /// second, and when a keyframe is asked for).
    pub skip_unchanged: bool,
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self {
            ring_seconds: super::ranges::RingSeconds::new_const(10),
            ring_max_bytes: super::ranges::RingBytes::new_const(32 << 20),
            skip_unchanged: true,
        }
    }
}

impl VideoSettings {
    /// The encoders' ring limits.
    pub fn ring(&self) -> RingLimits {
        RingLimits {
            keep: Duration::from_secs(u64::from(self.ring_seconds.get())),
            max_bytes: self.ring_max_bytes.get() as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_ranges() {
        let v: VideoSettings = toml::from_str("ring_seconds = 30").unwrap();
        assert_eq!(v.ring().keep, Duration::from_secs(30));
        assert_eq!(v.ring().max_bytes, 32 << 20);
        assert!(toml::from_str::<VideoSettings>("ring_seconds = 0").is_err());
        assert!(toml::from_str::<VideoSettings>("ring_max_bytes = 1000").is_err());
        assert!(toml::from_str::<VideoSettings>("gop = 1").is_err());
    }
}
