//! Bounded numbers of the config file, as types: each one's `Deserialize` refuses a value outside
//! its range, so an out-of-range key fails while the file is parsed, with toml's line and column
//! of the value, and a parsed `Config` cannot hold one. The ranges are the ones `docs/config.md`
//! documents; the defaults are not here (they are core's or their table's).

use pixelwire_core::QualityLevel;
use serde::{Deserialize, Deserializer, de};
use std::fmt;
use std::time::Duration;

/// Declares `$name($t)` accepting `$lo..=$hi`, with an optional note appended to the error.
macro_rules! ranged {
    ($(#[$doc:meta])* $name:ident($t:ty) in $lo:expr, $hi:expr $(, $note:literal)?;) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
        pub struct $name($t);

        impl $name {
            /// Smallest accepted value.
            pub const MIN: $t = $lo;
            /// Largest accepted value.
            pub const MAX: $t = $hi;

            /// `v`, if it is within `MIN..=MAX`.
            pub fn new(v: $t) -> Option<Self> {
                (Self::MIN..=Self::MAX).contains(&v).then_some(Self(v))
            }

            /// `v` for a constant known to be in range: a value outside fails to compile when
            /// used in a `const`.
            pub const fn new_const(v: $t) -> Self {
                assert!(v >= Self::MIN && v <= Self::MAX, "constant outside its range");
                Self(v)
            }

            /// The number.
            pub const fn get(self) -> $t {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <$t>::deserialize(d)?;
                Self::new(v).ok_or_else(|| {
                    de::Error::custom(format_args!(
                        "{v} is outside {}..={}{}",
                        Self::MIN,
                        Self::MAX,
                        concat!($(" (", $note, ")")?)
                    ))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

/// Adds `duration()` to millisecond types.
macro_rules! millis {
    ($($name:ident),*) => {$(
        impl $name {
            /// The interval as a `Duration`.
            pub const fn duration(self) -> Duration {
                Duration::from_millis(self.0)
            }
        }
    )*};
}

// Streams and panels.
ranged! {
    /// Width or height of a rendered stream or of a sketch's panel, pixels.
    Side(u32) in 1, 4096;
}
ranged! {
    /// Frames per second of a generated stream (a camera's nominal rate).
    StreamFps(f32) in 0.1, 120.0;
}

// Display settings.
ranged! {
    /// `target_fps` and `min_fps` of the rate controller.
    DisplayFps(f32) in 0.1, 240.0;
}
ranged! {
    /// Colour-correction exponent.
    Gamma(f64) in 0.1, 5.0;
}
ranged! {
    /// One channel's scale after gamma (`white_balance`).
    Gain(f64) in 0.0, 4.0;
}
ranged! {
    /// Change-detection tile side, pixels.
    TileSize(u32) in 8, 256;
}
ranged! {
    /// Coarsest quality level the rate controller may choose (`max_quality_level`).
    QualityCap(u8) in QualityLevel::EXACT.get(), QualityLevel::MAX.get();
}
ranged! {
    /// Frames in flight to a pixelwire device.
    Window(u8) in 1, 8;
}
ranged! {
    /// PING interval of a pixelwire device, ms.
    KeepaliveMs(u64) in 100, 60_000;
}

// Seed-000 sketches.
ranged! {
    /// Silence after connecting that marks a peer as a sketch, ms.
    DetectMs(u64) in 50, 10_000;
}
ranged! {
    /// Pixel bytes per legacy packet.
    MaxPayload(u32) in 1024, pixelwire_proto::legacy::SKETCH_BUFFER_BYTES,
        "the sketch disconnects above 10240";
}

// Cameras.
ranged! {
    /// Width or height of raw frames on the Picamera TCP port, pixels.
    RawSide(u32) in 1, 8192;
}
ranged! {
    /// Largest WebSocket message, HTTP body or TCP frame, bytes.
    FrameBytes(usize) in 1024, 256 << 20;
}
ranged! {
    /// Silence after which a device shows as offline, seconds.
    OfflineAfterS(u64) in 10, 86_400;
}
ranged! {
    /// Largest camera frame accepted, pixels (width × height).
    FramePixels(u64) in 4096, 268_435_456;
}
ranged! {
    /// Most streams (or unregistered devices) that pushes may create.
    PushedCount(usize) in 1, 100_000;
}
ranged! {
    /// Silence after which a stream or unregistered device created by a push is removed, seconds.
    ExpiryS(u64) in 60, 2_592_000;
}

// Dashboards.
ranged! {
    /// Query interval of a dashboard, ms.
    IntervalMs(u64) in 100, 3_600_000;
}
ranged! {
    /// Timeout of one Prometheus request, ms.
    TimeoutMs(u64) in 100, 60_000;
}
ranged! {
    /// Grid columns of a dashboard.
    Columns(u32) in 1, 8;
}
ranged! {
    /// Fixed digits after the point of a panel's values.
    Decimals(u8) in 0, 6;
}

// HTTP listeners (`docs/security.md`).
ranged! {
    /// Connections one HTTP listener holds at once.
    MaxConnections(usize) in 1, 1_000_000;
}
ranged! {
    /// Connections one peer address holds on one HTTP listener.
    MaxConnectionsPerPeer(usize) in 1, 1_000_000;
}
ranged! {
    /// Time a client has to send a complete request head, ms.
    HeaderTimeoutMs(u64) in 100, 3_600_000;
}
ranged! {
    /// Time a viewer's socket may stay backed up before the viewer is cut off, ms.
    StalledViewerMs(u64) in 1000, 3_600_000;
}
ranged! {
    /// Unsent bytes an HTTP connection's kernel send queue may hold (`TCP_NOTSENT_LOWAT`).
    SendQueueBytes(u32) in 4096, 16 << 20;
}

ranged! {
    /// `video.ring_seconds`.
    RingSeconds(u32) in 1, 300;
}

ranged! {
    /// `video.ring_max_bytes`.
    RingBytes(u64) in 1 << 20, 4 << 30;
}

// Recordings (`[recording]`, `record.rs`).
ranged! {
    /// `recording.segment_seconds`: length of one recording file.
    SegmentSeconds(u32) in 1, 86_400;
}
ranged! {
    /// `recording.fragment_ms`: length of one fragment of a recording file.
    FragmentMs(u64) in 100, 10_000;
}
ranged! {
    /// `recording.max_age_s`: a recording file ending longer ago than this is deleted.
    RecordMaxAgeS(u64) in 1, 3_153_600_000;
}
ranged! {
    /// `recording.max_bytes`: what one stream's recordings may hold.
    RecordMaxBytes(u64) in 1, 1 << 60;
}
ranged! {
    /// `pre_roll_s` of a `[[streams]]` entry.
    PreRollS(u32) in 0, 300;
}

millis!(
    KeepaliveMs,
    DetectMs,
    IntervalMs,
    TimeoutMs,
    HeaderTimeoutMs,
    StalledViewerMs,
    FragmentMs
);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: for<'de> Deserialize<'de>>(v: &str) -> Result<T, String> {
        #[derive(Deserialize)]
        struct W<T> {
            v: T,
        }
        toml::from_str::<W<T>>(&format!("v = {v}"))
            .map(|w| w.v)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn bounds_are_inclusive_and_checked_while_parsing() {
        assert_eq!(parse::<Window>("1").unwrap().get(), 1);
        assert_eq!(parse::<Window>("8").unwrap().get(), 8);
        assert_eq!(parse::<Window>("0").unwrap_err(), "0 is outside 1..=8");
        assert_eq!(parse::<Gamma>("2").unwrap().get(), 2.0);
        assert_eq!(parse::<Gamma>("9.5").unwrap_err(), "9.5 is outside 0.1..=5");
        assert!(parse::<Gamma>("nan").is_err());
        assert_eq!(
            parse::<MaxPayload>("20000").unwrap_err(),
            "20000 is outside 1024..=10240 (the sketch disconnects above 10240)"
        );
        assert!(parse::<Side>("-1").is_err());
        assert_eq!(QualityCap::MAX, QualityLevel::MAX.get());
        assert_eq!(
            KeepaliveMs::new_const(2000).duration(),
            Duration::from_secs(2)
        );
    }
}
