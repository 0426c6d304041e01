//! The RAM ring of a stream's last groups of pictures (GOPs): a late joiner (RTSP, WHEP) starts
//! at once from the newest keyframe, and a recording starts with its pre-roll. Sans-IO: units go
//! in, slices of whole GOPs come out; time is the units' capture time.
//!
//! It keeps whole GOPs only (a GOP is useless without its keyframe): the oldest GOP is dropped
//! once the GOPs after it still cover `keep` (or once the ring holds more than `max_bytes`). The
//! current GOP is kept even past `keep`; if it alone exceeds `max_bytes` it is dropped and units
//! are ignored until the next keyframe, so the bound always holds.

use super::EncodedUnit;
use std::collections::VecDeque;
use std::sync::Arc;

/// See the module docs.
#[derive(Debug)]
pub struct GopRing {
    keep_us: u64,
    max_bytes: usize,
    /// Whole GOPs, oldest first; each starts with a keyframe.
    gops: VecDeque<Vec<Arc<EncodedUnit>>>,
    bytes: usize,
}

impl GopRing {
    /// A ring that keeps at least `keep_us` of units (when `max_bytes` allows).
    pub fn new(keep_us: u64, max_bytes: usize) -> Self {
        Self {
            keep_us,
            max_bytes,
            gops: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Adds the encoder's next unit.
    pub fn push(&mut self, unit: Arc<EncodedUnit>) {
        let n = unit.held_bytes();
        if unit.keyframe {
            self.gops.push_back(Vec::new());
        }
        let Some(current) = self.gops.back_mut() else {
            // No keyframe yet: nothing to start from.
            return;
        };
        if current
            .last()
            .is_some_and(|last| (last.width, last.height) != (unit.width, unit.height))
        {
            // A size change always comes with a keyframe; a stray unit of another size is dropped.
            return;
        }
        current.push(unit);
        self.bytes += n;
        let newest = self.newest_time_us();
        while self.gops.len() > 1 {
            let covered_without_oldest = self.gops[1]
                .first()
                .is_some_and(|k| newest.saturating_sub(k.capture_time_us) >= self.keep_us);
            if covered_without_oldest || self.bytes > self.max_bytes {
                self.drop_oldest();
            } else {
                break;
            }
        }
        if self.bytes > self.max_bytes {
            // The current GOP alone is too big: keep nothing until the next keyframe.
            self.gops.clear();
            self.bytes = 0;
        }
    }

    /// Forgets everything (the encoder restarted).
    pub fn clear(&mut self) {
        self.gops.clear();
        self.bytes = 0;
    }

    fn drop_oldest(&mut self) {
        if let Some(g) = self.gops.pop_front() {
            self.bytes -= g.iter().map(|u| u.held_bytes()).sum::<usize>();
        }
    }

    fn newest_time_us(&self) -> u64 {
        self.gops
            .back()
            .and_then(|g| g.last())
            .map_or(0, |u| u.capture_time_us)
    }

    /// The newest GOP so far: a joiner decodes from its keyframe up to now.
    pub fn from_last_keyframe(&self) -> Vec<Arc<EncodedUnit>> {
        self.gops.back().cloned().unwrap_or_default()
    }

    /// The newest unit held.
    pub fn newest(&self) -> Option<Arc<EncodedUnit>> {
        self.gops.back().and_then(|g| g.last()).cloned()
    }

    /// Units from the newest keyframe captured at or before `since_us` (or the oldest one held,
    /// if all are later) up to now: a recording's pre-roll.
    pub fn since(&self, since_us: u64) -> Vec<Arc<EncodedUnit>> {
        let start = self
            .gops
            .iter()
            .rposition(|g| g.first().is_some_and(|k| k.capture_time_us <= since_us))
            .unwrap_or(0);
        self.gops.iter().skip(start).flatten().cloned().collect()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Capture time of the oldest unit held.
    pub fn oldest_time_us(&self) -> Option<u64> {
        self.gops
            .front()
            .and_then(|g| g.first())
            .map(|u| u.capture_time_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit of `bytes` payload captured at `t_ms`.
    fn unit(seq: u64, keyframe: bool, t_ms: u64, bytes: usize) -> Arc<EncodedUnit> {
        Arc::new(EncodedUnit::new(
            seq,
            keyframe,
            64,
            48,
            t_ms * 1000,
            &vec![7u8; bytes],
        ))
    }

    /// 30 fps, a keyframe every `gop` frames, for `frames` frames.
    fn fill(ring: &mut GopRing, frames: u64, gop: u64, bytes: usize) {
        for i in 0..frames {
            ring.push(unit(i, i % gop == 0, i * 1000 / 30, bytes));
        }
    }

    #[test]
    fn keeps_whole_gops_covering_the_window() {
        let mut ring = GopRing::new(3_000_000, usize::MAX);
        // 10 s of 30 fps, a keyframe every second.
        fill(&mut ring, 300, 30, 100);
        let oldest = ring.oldest_time_us().unwrap();
        let newest = 299 * 1_000_000 / 30;
        // At least 3 s back, and not more than 3 s plus one GOP.
        assert!(newest - oldest >= 3_000_000, "{oldest}..{newest}");
        assert!(newest - oldest < 4_000_000, "{oldest}..{newest}");
        let all = ring.since(0);
        assert!(all[0].keyframe);
        assert_eq!(all.iter().filter(|u| u.keyframe).count(), 4);
        // Consecutive: nothing is missing inside what is kept.
        assert!(all.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    }

    #[test]
    fn a_joiner_starts_at_the_newest_keyframe() {
        let mut ring = GopRing::new(5_000_000, usize::MAX);
        fill(&mut ring, 75, 30, 10);
        let from = ring.from_last_keyframe();
        assert!(from[0].keyframe);
        assert_eq!(from[0].seq, 60);
        assert_eq!(from.last().unwrap().seq, 74);
    }

    #[test]
    fn pre_roll_starts_at_the_keyframe_before_the_asked_time() {
        let mut ring = GopRing::new(5_000_000, usize::MAX);
        fill(&mut ring, 150, 30, 10);
        // 2.5 s before the newest frame (frame 149 at 4.967 s): t = 2.467 s lies in the GOP of
        // frame 60 (2.0 s).
        let pre = ring.since(2_467_000);
        assert_eq!(pre[0].seq, 60);
        assert!(pre[0].keyframe);
        assert_eq!(pre.last().unwrap().seq, 149);
        // Before everything held: from the oldest keyframe.
        assert_eq!(ring.since(0)[0].seq, 0);
    }

    #[test]
    fn the_byte_bound_holds_and_drops_a_gop_too_big_alone() {
        let mut ring = GopRing::new(60_000_000, 10_000);
        fill(&mut ring, 300, 30, 100);
        assert!(ring.bytes() <= 10_000, "{}", ring.bytes());
        assert!(ring.since(0)[0].keyframe);
        // A GOP bigger than the bound alone: nothing kept until the next keyframe.
        let mut ring = GopRing::new(60_000_000, 1_000);
        fill(&mut ring, 20, 30, 100);
        assert!(ring.bytes() <= 1_000);
        assert!(ring.from_last_keyframe().is_empty());
        ring.push(unit(30, true, 1000, 10));
        assert_eq!(ring.from_last_keyframe().len(), 1);
    }

    #[test]
    fn units_before_the_first_keyframe_are_not_kept() {
        let mut ring = GopRing::new(1_000_000, usize::MAX);
        ring.push(unit(0, false, 0, 10));
        assert!(ring.since(0).is_empty());
        assert_eq!(ring.bytes(), 0);
    }
}
