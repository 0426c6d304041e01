//! When the dashboard asks Prometheus, as a sans-IO state machine: the caller passes the time in
//! and gets back when the next poll is due and what it is. Polls run on ticks aligned to the
//! interval on the wall clock (so every sample of every series sits on the same time grid as the
//! backfill's range query). The first poll after start, and the first after an outage, is a
//! backfill (a range query over the whole history window), so graphs start full and outages that
//! Prometheus itself recorded fill in. Failures back off exponentially, from 1 s up to 30 s.

/// Longest wait between retries while Prometheus fails.
pub const MAX_BACKOFF_MS: u64 = 30_000;
/// First wait after a failure.
pub const FIRST_BACKOFF_MS: u64 = 1_000;

/// What a poll asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollKind {
    /// Range queries over the history window ending at the tick.
    Backfill,
    /// Instant queries at the tick.
    Instant,
}

/// One poll to run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// What to ask.
    pub kind: PollKind,
    /// The tick (Unix ms / interval) the answers belong to.
    pub tick: i64,
}

/// The schedule of one dashboard.
#[derive(Debug, Clone)]
pub struct PollSchedule {
    interval_ms: u64,
    next_due_ms: Option<u64>,
    need_backfill: bool,
    failures: u32,
    in_flight: Option<Poll>,
}

impl PollSchedule {
    /// A schedule whose first poll (a backfill) is due at once.
    pub fn new(interval_ms: u64) -> Self {
        Self {
            interval_ms: interval_ms.max(1),
            next_due_ms: None,
            need_backfill: true,
            failures: 0,
            in_flight: None,
        }
    }

    /// The query interval.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms
    }

    /// The tick that `now_ms` falls in.
    pub fn tick_at(&self, now_ms: u64) -> i64 {
        (now_ms / self.interval_ms) as i64
    }

    /// Start of `tick` in Unix ms.
    pub fn tick_start_ms(&self, tick: i64) -> u64 {
        tick.max(0) as u64 * self.interval_ms
    }

    /// When the next poll is due (at or before `now_ms` means now).
    pub fn due_ms(&self, now_ms: u64) -> u64 {
        self.next_due_ms.unwrap_or(now_ms)
    }

    /// Consecutive failed polls.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts the poll due at `now_ms`.
    pub fn start(&mut self, now_ms: u64) -> Poll {
        let poll = Poll {
            kind: if self.need_backfill {
                PollKind::Backfill
            } else {
                PollKind::Instant
            },
            tick: self.tick_at(now_ms),
        };
        self.in_flight = Some(poll);
        poll
    }

    /// The poll started last was answered (by at least one query); the next is due at the next
    /// tick after `now_ms`.
    pub fn succeeded(&mut self, now_ms: u64) {
        if self
            .in_flight
            .take()
            .is_some_and(|p| p.kind == PollKind::Backfill)
        {
            self.need_backfill = false;
        }
        self.failures = 0;
        self.next_due_ms = Some(self.tick_start_ms(self.tick_at(now_ms) + 1));
    }

    /// The poll started last failed as a whole (Prometheus unreachable or not answering like
    /// Prometheus). Returns the wait before the retry, which will be a backfill.
    pub fn failed(&mut self, now_ms: u64) -> u64 {
        self.in_flight = None;
        self.failures = self.failures.saturating_add(1);
        self.need_backfill = true;
        let doubling = FIRST_BACKOFF_MS.saturating_mul(1 << (self.failures - 1).min(16));
        let wait = doubling.min(MAX_BACKOFF_MS).max(self.interval_ms);
        self.next_due_ms = Some(now_ms + wait);
        wait
    }

    /// Nobody watches any more: the next poll, whenever it comes, is a fresh backfill.
    pub fn pause(&mut self) {
        *self = Self::new(self.interval_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_first_then_aligned_instants() {
        let mut s = PollSchedule::new(1000);
        let t0 = 1_700_000_000_250;
        assert_eq!(s.due_ms(t0), t0);
        let p = s.start(t0);
        assert_eq!(
            p,
            Poll {
                kind: PollKind::Backfill,
                tick: 1_700_000_000
            }
        );
        s.succeeded(t0 + 30);
        assert_eq!(s.due_ms(t0 + 30), 1_700_000_001_000);
        let p = s.start(1_700_000_001_002);
        assert_eq!(
            p,
            Poll {
                kind: PollKind::Instant,
                tick: 1_700_000_001
            }
        );
        // A slow answer that lands past the next tick skips to the one after.
        s.succeeded(1_700_000_002_100);
        assert_eq!(s.due_ms(0), 1_700_000_003_000);
    }

    #[test]
    fn failures_back_off_and_recover_with_a_backfill() {
        let mut s = PollSchedule::new(1000);
        let mut now = 10_000;
        s.start(now);
        s.succeeded(now);
        let waits: Vec<u64> = (0..8)
            .map(|_| {
                now = s.due_ms(now);
                s.start(now);
                s.failed(now)
            })
            .collect();
        assert_eq!(waits, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        assert_eq!(s.failures(), 8);
        now = s.due_ms(now);
        assert_eq!(s.start(now).kind, PollKind::Backfill);
        s.succeeded(now);
        assert_eq!(s.failures(), 0);
        assert_eq!(s.start(s.due_ms(now)).kind, PollKind::Instant);
    }

    #[test]
    fn long_intervals_never_retry_faster_than_the_interval() {
        let mut s = PollSchedule::new(5000);
        s.start(0);
        assert_eq!(s.failed(0), 5000);
        s.pause();
        assert_eq!(s.start(7).kind, PollKind::Backfill);
    }
}
