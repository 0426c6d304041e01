//! Time as a value. The core never reads a clock: callers pass a [`Timestamp`], microseconds on one
//! monotonic clock anchored to the Unix epoch (the server's edge derives it from a monotonic clock
//! plus the wall time at start-up, so it never jumps and still compares with capture times).

use std::time::Duration;

/// Microseconds since the Unix epoch on a monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// From microseconds.
    pub const fn from_micros(us: u64) -> Self {
        Self(us)
    }

    /// As microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(d.as_micros().min(u128::from(u64::MAX)) as u64),
        )
    }
}

/// A measuring stick for stage durations (metrics only: no decision depends on it). The server
/// passes a real clock; tests pass [`NoClock`].
pub trait Stopwatch: Send {
    /// Current time in microseconds, any epoch.
    fn now_us(&self) -> u64;
}

/// A stopwatch that always reads zero.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClock;

impl Stopwatch for NoClock {
    fn now_us(&self) -> u64 {
        0
    }
}
