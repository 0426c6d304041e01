//! Frame pacing without accumulated lag. Frames are due on a fixed grid (`1/fps` apart) while the
//! sender keeps up; when a send overruns, the missed ticks are dropped and the grid restarts one
//! interval after the late frame, so a slow server sees back-to-back frames at its own pace rather
//! than a burst of catch-up frames. (Seed 002's sketch behaves alike: `loop()` sends when
//! `millis() - lastFrameTime >= FRAME_INTERVAL_MS`, then sets `lastFrameTime` to the send time.)
//! Pure: time comes in as a value.

use std::time::Duration;
use tokio::time::Instant;

/// When the next frame is due.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Duration,
    next: Instant,
}

impl Pacer {
    /// Frames at `fps` (clamped to 0.001..=1000), the first due at `start`.
    pub fn new(fps: f64, start: Instant) -> Self {
        let fps = if fps.is_finite() {
            fps.clamp(0.001, 1000.0)
        } else {
            1.0
        };
        Self {
            interval: Duration::from_secs_f64(1.0 / fps),
            next: start,
        }
    }

    /// The frame interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the next frame is due.
    pub fn next_at(&self) -> Instant {
        self.next
    }

    /// Takes the due frame at `now` and schedules the next one. Returns how many grid ticks were
    /// skipped because `now` was already past them.
    pub fn take(&mut self, now: Instant) -> u64 {
        self.next += self.interval;
        if self.next > now {
            return 0;
        }
        let late = now - self.next;
        self.next = now + self.interval;
        1 + (late.as_nanos() / self.interval.as_nanos().max(1)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn keeps_the_grid_when_on_time() {
        let t0 = Instant::now();
        let mut p = Pacer::new(10.0, t0);
        assert_eq!(p.next_at(), t0);
        assert_eq!(p.take(t0 + MS), 0);
        assert_eq!(p.next_at(), t0 + 100 * MS);
        // A frame taken a little late does not shift the grid.
        assert_eq!(p.take(t0 + 130 * MS), 0);
        assert_eq!(p.next_at(), t0 + 200 * MS);
    }

    #[test]
    fn skips_ahead_after_an_overrun() {
        let t0 = Instant::now();
        let mut p = Pacer::new(10.0, t0);
        p.take(t0);
        // The send of frame 0 took 350 ms: frame 1 goes at once, ticks 200 and 300 are dropped
        // and the next frame is due 100 ms later, not immediately.
        assert_eq!(p.take(t0 + 350 * MS), 2);
        assert_eq!(p.next_at(), t0 + 450 * MS);
    }

    #[test]
    fn a_slow_sender_runs_back_to_back_without_bursts() {
        let t0 = Instant::now();
        let mut p = Pacer::new(10.0, t0);
        let mut now = t0;
        for _ in 0..20 {
            now = now.max(p.next_at());
            p.take(now);
            now += 150 * MS; // every send takes 1.5 intervals
        }
        // 20 frames at one per 150 ms, never more than one frame due at a time.
        assert_eq!(now - t0, 3000 * MS);
        assert!(p.next_at() <= now + 100 * MS);
    }
}
