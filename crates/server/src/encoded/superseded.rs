//! How many frames the shared encoder never took: a stream numbers its frames (`MediaFrame::seq`)
//! and holds only the newest, so when the encoder takes frame 12 after frame 9, frames 10 and 11
//! were replaced before it got to them (newest frame wins). Counting them closes the books on a
//! stream: every published frame is encoded, found unchanged, failed, or superseded here.
//! Sans-IO: sequence numbers in, counts out.

/// The last sequence number the encoder took.
#[derive(Debug, Default, Clone)]
pub struct SupersededCounter {
    last: Option<u64>,
}

impl SupersededCounter {
    /// The encoder took frame `seq`; returns how many frames were skipped since the previous one.
    /// The first frame, the same frame again (a still stream's repeat) and a lower number (a source
    /// that restarted its numbering) count none.
    pub fn took(&mut self, seq: u64) -> u64 {
        let skipped = match self.last {
            Some(last) if seq > last => seq - last - 1,
            _ => 0,
        };
        self.last = Some(seq);
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_in_the_sequence_are_the_frames_superseded() {
        let mut c = SupersededCounter::default();
        assert_eq!(c.took(100), 0);
        assert_eq!(c.took(101), 0);
        assert_eq!(c.took(104), 2);
        assert_eq!(c.took(104), 0);
        assert_eq!(c.took(3), 0);
        assert_eq!(c.took(5), 1);
    }
}
