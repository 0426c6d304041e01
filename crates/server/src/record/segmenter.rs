//! The recorder's state machine (sans-IO): encoded units go in with their capture times, and out
//! come "open a file with this init segment", "append this fragment" and "close the file". It
//! reads no clock and touches no file; the task in `task.rs` does the IO.
//!
//! Rules:
//! * A file starts at a keyframe; its name is the keyframe's capture time in ms since the epoch,
//!   and its `tfdt`s count 90 kHz ticks from that time.
//! * A new file starts at the first keyframe `segment` after the file's first frame, and at any
//!   keyframe whose size, SPS or PPS differ from the file's (they live in the init segment).
//! * A fragment ends at a keyframe, or before the first frame `fragment` after its first one
//!   (about 1 s), or when no frame came for twice that (a still source): each fragment is
//!   written whole as soon as it ends, so a crash loses at most the one being gathered.
//! * A gap in the units' sequence numbers (the recorder lagged behind the encoder, or the
//!   encoder restarted) ends the fragment and drops everything up to the next keyframe: a P-frame
//!   after a gap would decode to garbage.
//! * Sample durations come from capture times (the next frame's time minus this one's), so a
//!   source's uneven frame rate is kept; the last sample of a fragment ends where the next
//!   fragment starts.

use super::fmp4::{self, SampleInfo, TrackInfo};
use super::scan::Fragment;
use crate::encoded::EncodedUnit;
use std::sync::Arc;

/// Duration given to a last sample when no later frame tells it (1/30 s).
const DEFAULT_SAMPLE_TICKS: u64 = 3000;

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Create the file `<start_ms>.mp4` and write `init`.
    Open {
        /// Capture time of its first frame, ms since the epoch.
        start_ms: u64,
        /// Its track.
        track: TrackInfo,
        /// The init segment.
        init: Vec<u8>,
    },
    /// Append `bytes` (`moof` + `mdat`) to the open file.
    Fragment {
        /// The fragment.
        bytes: Vec<u8>,
        /// Where it lies and what it holds, as a scan of the file would find it.
        index: Fragment,
    },
    /// Close the open file.
    Close,
}

#[derive(Debug)]
struct OpenFile {
    base_us: u64,
    first_us: u64,
    track: TrackInfo,
    sequence: u32,
    written: u64,
    end_ticks: u64,
    last_duration: u64,
}

impl OpenFile {
    fn ticks(&self, t_us: u64) -> u64 {
        t_us.saturating_sub(self.base_us) * 9 / 100
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct Segmenter {
    segment_us: u64,
    fragment_us: u64,
    file: Option<OpenFile>,
    pending: Vec<Arc<EncodedUnit>>,
    last_seq: Option<u64>,
    synced: bool,
    dropped: u64,
}

/// The SPS and PPS of a keyframe, if it carries them.
fn parameter_sets(u: &EncodedUnit) -> Option<(bytes::Bytes, bytes::Bytes)> {
    let (mut sps, mut pps) = (None, None);
    for nal in u.nal_units() {
        match nal.first().map(|b| b & 0x1F) {
            Some(7) if sps.is_none() => sps = Some(nal),
            Some(8) if pps.is_none() => pps = Some(nal),
            _ => {}
        }
    }
    Some((sps?, pps?))
}

impl Segmenter {
    /// A segmenter that starts a new file every `segment_us` and a fragment every `fragment_us`.
    pub fn new(segment_us: u64, fragment_us: u64) -> Self {
        Self {
            segment_us: segment_us.max(1),
            fragment_us: fragment_us.max(1),
            file: None,
            pending: Vec::new(),
            last_seq: None,
            synced: false,
            dropped: 0,
        }
    }

    /// Units dropped while waiting for a keyframe (at the start, after a gap).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether a file is open.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// The next unit of the stream.
    pub fn handle_unit(&mut self, u: &Arc<EncodedUnit>, out: &mut Vec<Output>) {
        if self.last_seq.is_some_and(|s| u.seq != s.wrapping_add(1)) {
            self.flush(None, out);
            self.synced = false;
        }
        self.last_seq = Some(u.seq);
        if u.keyframe {
            let track = parameter_sets(u).and_then(|(sps, pps)| {
                TrackInfo::from_parameter_sets(u.width, u.height, &sps, &pps)
            });
            let rotate = match (&self.file, &track) {
                (None, None) => {
                    self.dropped += 1;
                    return;
                }
                (None, Some(_)) => true,
                (Some(f), t) => {
                    t.as_ref().is_some_and(|t| *t != f.track)
                        || u.capture_time_us.saturating_sub(f.first_us) >= self.segment_us
                }
            };
            if rotate {
                let track = match (track, &self.file) {
                    (Some(t), _) => t,
                    (None, Some(f)) => f.track.clone(),
                    // Handled above.
                    (None, None) => return,
                };
                self.close(Some(u.capture_time_us), out);
                self.open(u, track, out);
            } else {
                self.flush(Some(u.capture_time_us), out);
            }
            self.synced = true;
        } else {
            if !self.synced || self.file.is_none() {
                self.dropped += 1;
                return;
            }
            if self.pending.first().is_some_and(|p| {
                u.capture_time_us.saturating_sub(p.capture_time_us) >= self.fragment_us
            }) {
                self.flush(Some(u.capture_time_us), out);
            }
        }
        self.pending.push(u.clone());
    }

    /// Time passed with no unit: a fragment waiting since twice the fragment length is written.
    pub fn handle_timeout(&mut self, now_us: u64, out: &mut Vec<Output>) {
        if self.deadline_us().is_some_and(|d| now_us >= d) {
            self.flush(Some(now_us), out);
        }
    }

    /// When [`Segmenter::handle_timeout`] has something to do.
    pub fn deadline_us(&self) -> Option<u64> {
        self.pending
            .last()
            .map(|u| u.capture_time_us.saturating_add(2 * self.fragment_us))
    }

    /// Writes what is gathered and closes the file (recording stops).
    pub fn finish(&mut self, out: &mut Vec<Output>) {
        self.close(None, out);
        self.synced = false;
        self.last_seq = None;
    }

    /// The driver could not create or write the file: forget it and start again at a keyframe.
    pub fn abandon(&mut self) {
        self.file = None;
        self.pending.clear();
        self.synced = false;
    }

    fn open(&mut self, u: &EncodedUnit, track: TrackInfo, out: &mut Vec<Output>) {
        let start_ms = u.capture_time_us / 1000;
        let init = fmp4::init_segment(&track, 0);
        self.file = Some(OpenFile {
            base_us: start_ms * 1000,
            first_us: u.capture_time_us,
            track: track.clone(),
            sequence: 0,
            written: init.len() as u64,
            end_ticks: 0,
            last_duration: DEFAULT_SAMPLE_TICKS,
        });
        out.push(Output::Open {
            start_ms,
            track,
            init,
        });
    }

    fn close(&mut self, next_us: Option<u64>, out: &mut Vec<Output>) {
        self.flush(next_us, out);
        if self.file.take().is_some() {
            out.push(Output::Close);
        }
    }

    /// Writes the gathered samples as one fragment; the last one ends at `end_us` (the next
    /// frame's capture time) or, unknown, lasts as long as the one before it.
    fn flush(&mut self, end_us: Option<u64>, out: &mut Vec<Output>) {
        let pending = std::mem::take(&mut self.pending);
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if pending.is_empty() {
            return;
        }
        // Start times: from capture times, never before the previous fragment's end and always
        // increasing.
        let mut starts = Vec::with_capacity(pending.len());
        let mut prev: Option<u64> = None;
        for u in &pending {
            let t = file.ticks(u.capture_time_us);
            let t = match prev {
                Some(p) => t.max(p + 1),
                None => t.max(file.end_ticks),
            };
            starts.push(t);
            prev = Some(t);
        }
        let last = prev.unwrap_or(0);
        let guess = match starts.len() {
            n if n >= 2 => starts[n - 1] - starts[n - 2],
            _ => file.last_duration,
        };
        let end = end_us
            .map(|e| file.ticks(e))
            .unwrap_or(last + guess)
            .max(last + 1);
        let mut data = Vec::with_capacity(pending.iter().map(|u| u.annexb.len()).sum());
        let samples: Vec<SampleInfo> = pending
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let next = starts.get(i + 1).copied().unwrap_or(end);
                let nals = fmp4::append_sample(
                    &mut data,
                    crate::encoded::unit::annexb_nal_ranges(&u.annexb)
                        .map(|(s, e)| &u.annexb[s..e]),
                );
                SampleInfo {
                    duration: u32::try_from(next - starts[i]).unwrap_or(u32::MAX),
                    size: nals,
                    sync: u.keyframe,
                }
            })
            .collect();
        file.sequence += 1;
        let decode_time = starts[0];
        let bytes = fmp4::fragment(file.sequence, decode_time, &samples, &data);
        let moof_len = bytes.len() - 8 - data.len();
        let duration: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
        let index = Fragment {
            offset: file.written,
            moof_len: moof_len as u32,
            len: bytes.len() as u64,
            decode_time,
            duration,
            samples: samples.len() as u32,
            keyframe: samples.first().is_some_and(|s| s.sync),
            sequence_at: fmp4::MFHD_SEQUENCE_AT as u16,
            tfdt_at: fmp4::TFDT_TIME_AT as u16,
            tfdt_bytes: 8,
        };
        file.written += bytes.len() as u64;
        file.end_ticks = decode_time + duration;
        file.last_duration = samples
            .last()
            .map_or(DEFAULT_SAMPLE_TICKS, |s| u64::from(s.duration));
        out.push(Output::Fragment { bytes, index });
    }
}

#[cfg(test)]
mod tests {
    use super::super::scan;
    use super::*;

    const SPS: [u8; 5] = [0x67, 0x42, 0xC0, 0x1E, 0xDA];

    /// Unit `seq` at `t_ms`: an IDR (with SPS, PPS) or a P-frame.
    fn unit(seq: u64, t_ms: u64, key: bool) -> Arc<EncodedUnit> {
        let mut b = Vec::new();
        if key {
            b.extend([0, 0, 0, 1]);
            b.extend(SPS);
            b.extend([0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65, 1, 2, 3]);
        } else {
            b.extend([0, 0, 0, 1, 0x41, 9, 9]);
        }
        Arc::new(EncodedUnit::new(seq, key, 64, 48, t_ms * 1000, &b))
    }

    /// Feeds 30 fps units, a keyframe every `gop`, from `from` for `n` frames; returns the files
    /// written, each as its bytes.
    fn run(
        seg: &mut Segmenter,
        units: impl Iterator<Item = Arc<EncodedUnit>>,
    ) -> Vec<(u64, Vec<u8>, Vec<Fragment>)> {
        let mut out = Vec::new();
        for u in units {
            seg.handle_unit(&u, &mut out);
        }
        seg.finish(&mut out);
        let mut files: Vec<(u64, Vec<u8>, Vec<Fragment>)> = Vec::new();
        for o in out {
            match o {
                Output::Open { start_ms, init, .. } => files.push((start_ms, init, Vec::new())),
                Output::Fragment { bytes, index } => {
                    let f = files.last_mut().expect("a fragment goes into an open file");
                    assert_eq!(index.offset, f.1.len() as u64);
                    f.1.extend(bytes);
                    f.2.push(index);
                }
                Output::Close => {}
            }
        }
        files
    }

    fn at30(from: u64, n: u64, gop: u64) -> impl Iterator<Item = Arc<EncodedUnit>> {
        (from..from + n).map(move |i| unit(i, 1_000_000 + i * 100 / 3, i % gop == 0))
    }

    #[test]
    fn files_rotate_at_the_first_keyframe_after_the_segment_length() {
        let mut seg = Segmenter::new(5_000_000, 1_000_000);
        // 12 s at 30 fps, an IDR every 2 s: files start at 0, 6 and 12 s (the first keyframe at
        // or after 5 s past each file's start).
        let files = run(&mut seg, at30(0, 361, 60));
        let starts: Vec<u64> = files.iter().map(|f| f.0 - 1_000_000).collect();
        assert_eq!(starts, [0, 6000, 12000]);
        for (start, bytes, index) in &files {
            // What the scan of the bytes finds is what the segmenter said it wrote.
            let s = scan::scan(&mut std::io::Cursor::new(bytes), bytes.len() as u64).unwrap();
            assert_eq!(&s.fragments, index, "file {start}");
            assert!(s.fragments[0].keyframe);
            assert_eq!(s.fragments[0].decode_time, 0);
        }
        let frames: Vec<u32> = files
            .iter()
            .map(|f| f.2.iter().map(|g| g.samples).sum())
            .collect();
        assert_eq!(frames, [180, 180, 1]);
        // About one second per fragment, contiguous, and 6 s per file.
        let f = &files[0].2;
        assert_eq!(f.len(), 6);
        for w in f.windows(2) {
            assert_eq!(w[0].decode_time + w[0].duration, w[1].decode_time);
            assert!((89_000..=91_000).contains(&w[0].duration), "{w:?}");
        }
        let total: u64 = f.iter().map(|g| g.duration).sum();
        assert_eq!(total, 540_000);
    }

    #[test]
    fn a_gap_drops_p_frames_until_the_next_keyframe() {
        let mut seg = Segmenter::new(60_000_000, 1_000_000);
        // Frames 0..=20, then 25..=70 (lagged over 21..=24): 25..=59 are P-frames after the gap.
        let units = at30(0, 21, 60).chain(at30(25, 46, 60));
        let files = run(&mut seg, units);
        assert_eq!(files.len(), 1);
        let frames: u32 = files[0].2.iter().map(|g| g.samples).sum();
        assert_eq!(frames, 21 + 11);
        assert_eq!(seg.dropped(), 35);
        let after = files[0]
            .2
            .iter()
            .find(|g| g.decode_time >= 90_000 * 19 / 10)
            .unwrap();
        assert!(after.keyframe, "{after:?}");
    }

    #[test]
    fn nothing_is_written_before_a_keyframe_and_a_still_source_is_flushed_by_time() {
        let mut seg = Segmenter::new(60_000_000, 1_000_000);
        let mut out = Vec::new();
        seg.handle_unit(&unit(0, 1000, false), &mut out);
        assert!(out.is_empty() && !seg.is_open());
        seg.handle_unit(&unit(1, 1040, true), &mut out);
        assert!(matches!(out[0], Output::Open { start_ms: 1040, .. }));
        assert_eq!(seg.deadline_us(), Some(3_040_000));
        seg.handle_timeout(2_000_000, &mut out);
        assert_eq!(out.len(), 1);
        seg.handle_timeout(3_040_000, &mut out);
        let Output::Fragment { index, .. } = &out[1] else {
            panic!("{out:?}")
        };
        // The single frame lasts until the flush.
        assert_eq!((index.samples, index.duration), (1, 180_000));
        // The next frame continues after it.
        seg.handle_unit(&unit(2, 3100, false), &mut out);
        seg.finish(&mut out);
        let Output::Fragment { index, .. } = &out[2] else {
            panic!("{out:?}")
        };
        assert_eq!(index.decode_time, 185_400);
        assert_eq!(out[3], Output::Close);
    }

    #[test]
    fn a_new_size_starts_a_new_file() {
        let mut seg = Segmenter::new(60_000_000, 1_000_000);
        let mut out = Vec::new();
        seg.handle_unit(&unit(0, 1000, true), &mut out);
        let mut b = vec![0, 0, 0, 1];
        b.extend(SPS);
        b.extend([0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65, 1]);
        let big = Arc::new(EncodedUnit::new(1, true, 128, 96, 1_100_000, &b));
        seg.handle_unit(&big, &mut out);
        let opens = out
            .iter()
            .filter(|o| matches!(o, Output::Open { .. }))
            .count();
        assert_eq!(opens, 2);
        assert!(out.contains(&Output::Close));
    }
}
