//! The server's clock: [`pixelwire_media::clock`], a monotonic clock anchored to the wall time at
//! start-up, in µs since the Unix epoch. Every timestamp in the server (capture times, session
//! timers, PONG answers) comes from here, so timers never jump and capture times compare with device
//! clocks through PING/PONG.

use pixelwire_core::{Stopwatch, Timestamp};

/// Now, on the server clock.
pub fn now() -> Timestamp {
    pixelwire_media::clock::now()
}

/// The tokio instant of a server timestamp (for `sleep_until`).
pub fn to_instant(t: Timestamp) -> tokio::time::Instant {
    tokio::time::Instant::from_std(pixelwire_media::clock::instant_of(t))
}

/// A [`Stopwatch`] on the real monotonic clock, for stage-duration metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealStopwatch;

impl Stopwatch for RealStopwatch {
    fn now_us(&self) -> u64 {
        now().as_micros()
    }
}
