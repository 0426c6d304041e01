//! The server's clock: a monotonic clock anchored to the wall time at start-up, in µs since the
//! Unix epoch. Every timestamp in the server (capture times, session timers, PONG answers) comes from
//! here, so timers never jump and capture times compare with device clocks through PING/PONG.

use pixelwire_core::{Stopwatch, Timestamp};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    instant: Instant,
    wall_us: u64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        instant: Instant::now(),
        wall_us: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64),
    })
}

/// Now, on the server clock.
pub fn now() -> Timestamp {
    let a = anchor();
    Timestamp::from_micros(a.wall_us + a.instant.elapsed().as_micros() as u64)
}

/// The tokio instant of a server timestamp (for `sleep_until`).
pub fn to_instant(t: Timestamp) -> tokio::time::Instant {
    let a = anchor();
    let offset = t.as_micros().saturating_sub(a.wall_us);
    tokio::time::Instant::from_std(a.instant + std::time::Duration::from_micros(offset))
}

/// Local wall-clock fields of a server timestamp, for on-screen clocks.
pub fn local_fields(t: Timestamp) -> crate::source::generator::ClockTime {
    use chrono::{Datelike, Local, TimeZone, Timelike};
    let secs = (t.as_micros() / 1_000_000) as i64;
    let nanos = ((t.as_micros() % 1_000_000) * 1000) as u32;
    match Local.timestamp_opt(secs, nanos).single() {
        Some(dt) => crate::source::generator::ClockTime {
            year: dt.year(),
            month: dt.month() as u8,
            day: dt.day() as u8,
            hour: dt.hour() as u8,
            minute: dt.minute() as u8,
            second: dt.second() as u8,
            millis: (dt.nanosecond() / 1_000_000).min(999) as u16,
        },
        None => crate::source::generator::ClockTime::default(),
    }
}

/// A [`Stopwatch`] on the real monotonic clock, for stage-duration metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealStopwatch;

impl Stopwatch for RealStopwatch {
    fn now_us(&self) -> u64 {
        anchor().instant.elapsed().as_micros() as u64
    }
}
