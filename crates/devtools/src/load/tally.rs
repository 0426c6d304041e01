//! What every client of the load generator counts, shared between its tasks and the reporter: an
//! interval's counters and latency histograms, swapped out every report, and the totals since the
//! measuring window opened.

use super::histogram::Histogram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one kind of client.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames (camera: sent; viewer: units; MJPEG: parts; snapshot: good answers).
    pub frames: AtomicU64,
    /// Bytes moved.
    pub bytes: AtomicU64,
    /// Viewer units that were keyframes; snapshots that failed.
    pub other: AtomicU64,
    /// Frames missing: camera ticks skipped because the previous send had not finished (a frame
    /// never sent); for a viewer, frames missing between two units by their capture times.
    pub missing: AtomicU64,
    /// Connections that failed or ended before the run did.
    pub errors: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counted {
    /// See [`Counters::frames`].
    pub frames: u64,
    /// See [`Counters::bytes`].
    pub bytes: u64,
    /// See [`Counters::other`].
    pub other: u64,
    /// See [`Counters::missing`].
    pub missing: u64,
    /// See [`Counters::errors`].
    pub errors: u64,
}

impl Counters {
    /// Adds one frame of `bytes`.
    pub fn frame(&self, bytes: usize) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Adds `n` to [`Counters::other`].
    pub fn other(&self, n: u64) {
        self.other.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds `n` to [`Counters::missing`].
    pub fn missing(&self, n: u64) {
        self.missing.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a failed or early-ended connection.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads and zeroes the counters.
    pub fn take(&self) -> Counted {
        Counted {
            frames: self.frames.swap(0, Ordering::Relaxed),
            bytes: self.bytes.swap(0, Ordering::Relaxed),
            other: self.other.swap(0, Ordering::Relaxed),
            missing: self.missing.swap(0, Ordering::Relaxed),
            errors: self.errors.swap(0, Ordering::Relaxed),
        }
    }
}

impl std::ops::AddAssign for Counted {
    fn add_assign(&mut self, o: Self) {
        self.frames += o.frames;
        self.bytes += o.bytes;
        self.other += o.other;
        self.missing += o.missing;
        self.errors += o.errors;
    }
}

/// Counters and a latency histogram of one kind of client.
#[derive(Debug, Default)]
pub struct Tally {
    /// The interval's counters.
    pub counters: Counters,
    latency: Mutex<Histogram>,
}

impl Tally {
    /// Records a latency sample, µs.
    pub fn latency_us(&self, us: i64) {
        if let Ok(mut h) = self.latency.lock() {
            h.record(us);
        }
    }

    /// Reads and resets the interval: counters and histogram.
    pub fn take(&self) -> (Counted, Histogram) {
        let h = self
            .latency
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default();
        (self.counters.take(), h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_the_interval_and_starts_a_new_one() {
        let t = Tally::default();
        t.counters.frame(10);
        t.counters.frame(5);
        t.counters.other(2);
        t.counters.missing(3);
        t.latency_us(1_500);
        let (c, h) = t.take();
        assert_eq!(
            (c.frames, c.bytes, c.other, c.missing, c.errors),
            (2, 15, 2, 3, 0)
        );
        assert_eq!(h.count(), 1);
        let (c, h) = t.take();
        assert_eq!((c.frames, h.count()), (0, 0));
    }
}
