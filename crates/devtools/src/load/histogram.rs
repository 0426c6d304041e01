//! A fixed-size latency histogram: 0.1 ms buckets up to 2 s plus an overflow count and the largest
//! value, so a load generator records millions of samples in constant memory and reads nearest-rank
//! percentiles exact to 0.1 ms (anything over 2 s reads as the largest value seen).

/// Bucket width, µs.
const BUCKET_US: u64 = 100;
/// Buckets: 0 .. 2 s.
const BUCKETS: usize = 20_000;

/// Latency samples in µs.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u32>,
    over: u64,
    count: u64,
    sum_us: u64,
    max_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            over: 0,
            count: 0,
            sum_us: 0,
            max_us: 0,
        }
    }
}

impl Histogram {
    /// Records one sample; a negative one (clock error) counts as 0.
    pub fn record(&mut self, us: i64) {
        let us = u64::try_from(us).unwrap_or(0);
        match usize::try_from(us / BUCKET_US) {
            Ok(i) if i < BUCKETS => self.counts[i] = self.counts[i].saturating_add(1),
            _ => self.over += 1,
        }
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.max_us = self.max_us.max(us);
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.over += other.over;
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.max_us = self.max_us.max(other.max_us);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean, ms.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_us as f64 / self.count as f64 / 1000.0)
    }

    /// Largest sample, ms.
    pub fn max_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.max_us as f64 / 1000.0)
    }

    /// Nearest-rank percentile `p` (0..=100), ms: the upper edge of the bucket holding that rank.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                let edge = (i as u64 + 1) * BUCKET_US;
                return Some(edge.min(self.max_us) as f64 / 1000.0);
            }
        }
        Some(self.max_us as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_to_a_tenth_of_a_millisecond() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(ms * 1000);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.percentile_ms(50.0), Some(50.1));
        assert_eq!(h.percentile_ms(95.0), Some(95.1));
        assert_eq!(h.percentile_ms(100.0), Some(100.0));
        assert_eq!(h.max_ms(), Some(100.0));
        assert_eq!(h.mean_ms(), Some(50.5));
    }

    #[test]
    fn overflow_and_negative_samples_are_kept_not_lost() {
        let mut h = Histogram::default();
        h.record(-5);
        h.record(5_000_000);
        assert_eq!(h.count(), 2);
        assert_eq!(h.percentile_ms(50.0), Some(0.1));
        assert_eq!(h.percentile_ms(99.0), Some(5000.0));
        let mut m = Histogram::default();
        m.record(1_000);
        m.merge(&h);
        assert_eq!(m.count(), 3);
        assert_eq!(m.max_ms(), Some(5000.0));
        assert_eq!(Histogram::default().percentile_ms(50.0), None);
    }
}
