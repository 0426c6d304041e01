//! The server's clock: a monotonic clock anchored to the wall time at start-up, in µs since the
//! Unix epoch. Every timestamp in the server (capture times, session timers, PONG answers) comes from
//! here, so timers never jump and capture times compare with device clocks through PING/PONG.
//!
//! It runs on tokio's clock, so a test on a paused runtime (`#[tokio::test(start_paused = true)]`)
//! drives every edge task in virtual time: timestamps, `sleep_until(to_instant(..))` and the
//! sessions' deadlines all advance together, deterministically. Outside a paused runtime, tokio's
//! clock is the real monotonic clock.

use pixelwire_core::{Stopwatch, Timestamp};
use std::sync::OnceLock;
use tokio::time::Instant;

struct Anchor {
    at: Instant,
    wall_us: u64,
}

/// Anchored once to the capture clock of `pixelwire-media`, so both tell the same time.
fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        at: Instant::now(),
        wall_us: pixelwire_media::clock::now().as_micros(),
    })
}

/// Now, on the server clock.
pub fn now() -> Timestamp {
    let a = anchor();
    Timestamp::from_micros(
        a.wall_us + Instant::now().saturating_duration_since(a.at).as_micros() as u64,
    )
}

/// The tokio instant of a server timestamp (for `sleep_until`); times before start-up map to it.
pub fn to_instant(t: Timestamp) -> Instant {
    let a = anchor();
    a.at + std::time::Duration::from_micros(t.as_micros().saturating_sub(a.wall_us))
}

/// A [`Stopwatch`] on the real monotonic clock, for stage-duration metrics (work takes real
/// time even in a virtual-time test).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealStopwatch;

impl Stopwatch for RealStopwatch {
    fn now_us(&self) -> u64 {
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_micros() as u64
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// A current-thread runtime on a paused clock that starts after the anchor (a paused clock
    /// that started earlier would read times before start-up until it caught up).
    pub(crate) fn paused_runtime() -> tokio::runtime::Runtime {
        let _ = now();
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime builds")
    }

    #[test]
    fn follows_tokio_time_so_tests_can_run_edges_in_virtual_time() {
        paused_runtime().block_on(async {
            let t0 = now();
            tokio::time::sleep(Duration::from_secs(3600)).await;
            let t1 = now();
            assert_eq!(t1.as_micros() - t0.as_micros(), 3_600_000_000);
            assert_eq!(
                to_instant(t1).duration_since(to_instant(t0)),
                Duration::from_secs(3600)
            );
        });
    }
}
