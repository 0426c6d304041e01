//! Frames a viewer never received, from the capture times of the units it did: with a camera at a
//! steady `fps`, two consecutive units more than 1.5 frame periods apart have
//! `round(gap / period) - 1` frames missing between them. Jitter below half a period is not a
//! loss; a pause of the camera itself shows up here too, which is why the generator also counts
//! the frames its cameras failed to send.

/// Tracks one viewer's last capture time.
#[derive(Debug, Clone)]
pub struct GapCounter {
    period_us: f64,
    last_us: Option<u64>,
}

impl GapCounter {
    /// A counter for a camera at `fps`.
    pub fn new(fps: f64) -> Self {
        Self {
            period_us: 1e6 / fps.max(0.1),
            last_us: None,
        }
    }

    /// The next unit's capture time; returns the frames missing before it.
    pub fn unit(&mut self, capture_us: u64) -> u64 {
        let missing = match self.last_us {
            Some(last) if capture_us > last => {
                let periods = (capture_us - last) as f64 / self.period_us;
                if periods > 1.5 {
                    periods.round() as u64 - 1
                } else {
                    0
                }
            }
            _ => 0,
        };
        self.last_us = Some(self.last_us.map_or(capture_us, |l| l.max(capture_us)));
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_no_loss_and_holes_count_their_frames() {
        let mut g = GapCounter::new(30.0);
        let p = 33_333u64;
        assert_eq!(g.unit(1_000_000), 0);
        assert_eq!(g.unit(1_000_000 + p + 10_000), 0);
        assert_eq!(g.unit(1_000_000 + 2 * p), 0);
        // Frames 3 and 4 never came.
        assert_eq!(g.unit(1_000_000 + 5 * p), 2);
        // A repeat or an older unit is not a gap.
        assert_eq!(g.unit(1_000_000 + 5 * p), 0);
        assert_eq!(g.unit(1_000_000), 0);
        assert_eq!(g.unit(1_000_000 + 6 * p), 0);
    }
}
