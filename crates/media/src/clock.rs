//! Capture timestamps: a monotonic clock anchored to the wall time when first read, in µs since
//! the Unix epoch. Timestamps never jump (NTP steps do not move them) and still compare with other
//! machines' wall clocks, which is what capture-to-display latency figures need.

use pixelwire_core::Timestamp;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Now.
pub fn now() -> Timestamp {
    let a = anchor();
    Timestamp::from_micros(a.wall_us + a.instant.elapsed().as_micros() as u64)
}

/// The monotonic instant of a timestamp (for sleeping until it); times before the anchor map to
/// the anchor.
pub fn instant_of(t: Timestamp) -> Instant {
    let a = anchor();
    a.instant + Duration::from_micros(t.as_micros().saturating_sub(a.wall_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_monotonic_and_map_back_to_instants() {
        let a = now();
        let b = now();
        assert!(b >= a);
        let later = Timestamp::from_micros(a.as_micros() + 5_000);
        let d = instant_of(later).duration_since(instant_of(a));
        assert_eq!(d, Duration::from_millis(5));
    }
}
