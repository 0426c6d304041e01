//! Helpers shared by the simulation tests.

use std::collections::VecDeque;

/// Byte chunks that become available at given virtual times (µs), in order.
#[derive(Default)]
pub struct Timed {
    queue: VecDeque<(u64, Vec<u8>)>,
}

impl Timed {
    /// `bytes` become available at `at` (not before anything pushed earlier).
    pub fn push(&mut self, at: u64, bytes: Vec<u8>) {
        self.queue.push_back((at, bytes));
    }

    /// When the next chunk becomes available.
    pub fn next(&self) -> Option<u64> {
        self.queue.front().map(|(t, _)| *t)
    }

    /// Everything available at `now`, concatenated.
    pub fn take_due(&mut self, now: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|(t, _)| *t <= now) {
            out.extend(self.queue.pop_front().map(|(_, b)| b).unwrap_or_default());
        }
        out
    }
}

/// One direction of a link: FIFO, fixed rate, fixed propagation delay, delivered in 1460-byte
/// segments (as TCP would).
pub struct Pipe {
    bytes_per_s: f64,
    delay_us: u64,
    busy_until: u64,
    delivered: Timed,
}

impl Pipe {
    pub fn new(bytes_per_s: f64, delay_us: u64) -> Self {
        Self {
            bytes_per_s,
            delay_us,
            busy_until: 0,
            delivered: Timed::default(),
        }
    }

    pub fn send(&mut self, now: u64, bytes: &[u8]) {
        for seg in bytes.chunks(1460) {
            let start = self.busy_until.max(now);
            self.busy_until = start + (seg.len() as f64 / self.bytes_per_s * 1e6) as u64;
            self.delivered
                .push(self.busy_until + self.delay_us, seg.to_vec());
        }
    }

    pub fn next(&self) -> Option<u64> {
        self.delivered.next()
    }

    pub fn take_due(&mut self, now: u64) -> Vec<u8> {
        self.delivered.take_due(now)
    }
}
