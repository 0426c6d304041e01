//! What a node decides about one remote stream it follows (sans-IO; the task in `remote.rs` does
//! the IO): when to tell the origin what it wants (at once on a change or a keyframe request,
//! else every heartbeat while it wants anything, and once when it stops), and whether an arriving
//! H.264 unit can be used (after a gap in the origin's numbering, nothing until the next
//! keyframe, which is asked for once).

use super::wire::Want;

/// What to do with an arriving unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitVerdict {
    /// Relay it.
    Use,
    /// Drop it (it depends on a unit that never came); `ask` says to ask for a keyframe now.
    Skip {
        /// First unit of this gap: ask the origin for a keyframe.
        ask: bool,
    },
}

/// The follower's state.
#[derive(Debug)]
pub struct Follow {
    heartbeat_ms: u64,
    sent: Option<(Want, u64)>,
    next_seq: Option<u64>,
    skipping: bool,
}

impl Follow {
    /// A follower repeating its interest every `heartbeat_ms`.
    pub fn new(heartbeat_ms: u64) -> Self {
        Self {
            heartbeat_ms,
            sent: None,
            next_seq: None,
            skipping: true,
        }
    }

    /// The interest to send now, if any, for what this node wants now.
    pub fn poll_interest(&mut self, now_ms: u64, want: Want) -> Option<Want> {
        let due = match self.sent {
            None => !want.none(),
            Some((last, at)) => {
                want.keyframe
                    || last.frames != want.frames
                    || last.h264 != want.h264
                    || (!want.none() && now_ms.saturating_sub(at) >= self.heartbeat_ms)
            }
        };
        if !due {
            return None;
        }
        self.sent = (!want.none()).then_some((want, now_ms));
        Some(want)
    }

    /// The H.264 subscription (re)started: the first usable unit is a keyframe.
    pub fn restart_units(&mut self) {
        self.next_seq = None;
        self.skipping = true;
    }

    /// A unit numbered `seq` arrived.
    pub fn handle_unit(&mut self, seq: u64, keyframe: bool) -> UnitVerdict {
        let in_order = self.next_seq.is_none_or(|n| n == seq);
        self.next_seq = Some(seq.wrapping_add(1));
        if keyframe {
            self.skipping = false;
            return UnitVerdict::Use;
        }
        if self.skipping {
            return UnitVerdict::Skip { ask: false };
        }
        if in_order {
            UnitVerdict::Use
        } else {
            self.skipping = true;
            UnitVerdict::Skip { ask: true }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAMES: Want = Want {
        frames: true,
        h264: false,
        keyframe: false,
    };

    #[test]
    fn interest_goes_out_on_change_on_heartbeat_and_once_at_the_end() {
        let mut f = Follow::new(1000);
        assert_eq!(f.poll_interest(0, Want::default()), None);
        assert_eq!(f.poll_interest(0, FRAMES), Some(FRAMES));
        assert_eq!(f.poll_interest(500, FRAMES), None);
        assert_eq!(f.poll_interest(1000, FRAMES), Some(FRAMES));
        let both = Want {
            h264: true,
            ..FRAMES
        };
        assert_eq!(f.poll_interest(1100, both), Some(both));
        let key = Want {
            keyframe: true,
            ..both
        };
        assert_eq!(f.poll_interest(1150, key), Some(key));
        assert_eq!(
            f.poll_interest(1200, Want::default()),
            Some(Want::default())
        );
        assert_eq!(f.poll_interest(5000, Want::default()), None);
    }

    #[test]
    fn a_gap_skips_to_the_next_keyframe_and_asks_once() {
        let mut f = Follow::new(1000);
        // Joined mid-GOP: nothing until a keyframe.
        assert_eq!(f.handle_unit(7, false), UnitVerdict::Skip { ask: false });
        assert_eq!(f.handle_unit(8, true), UnitVerdict::Use);
        assert_eq!(f.handle_unit(9, false), UnitVerdict::Use);
        // 10 was lost (a slow link, a NATS slow-consumer drop).
        assert_eq!(f.handle_unit(11, false), UnitVerdict::Skip { ask: true });
        assert_eq!(f.handle_unit(12, false), UnitVerdict::Skip { ask: false });
        assert_eq!(f.handle_unit(13, true), UnitVerdict::Use);
        assert_eq!(f.handle_unit(14, false), UnitVerdict::Use);
        // A restarted origin numbers from 0 again, starting with a keyframe.
        assert_eq!(f.handle_unit(0, true), UnitVerdict::Use);
        f.restart_units();
        assert_eq!(f.handle_unit(1, false), UnitVerdict::Skip { ask: false });
    }
}
