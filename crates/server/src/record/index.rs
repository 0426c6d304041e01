//! The index of one stream's recordings: each file with its complete fragments, derived from the
//! files themselves ([`super::scan`]) at start-up and kept up to date by the recorder as it
//! writes, so it never disagrees with the disk after a crash. From it come the recorded time
//! spans (`GET /api/streams/{name}/recordings`), what retention weighs, and the fragments a
//! served range is made of.

use super::fmp4::TrackInfo;
use super::retention::FileFacts;
use super::scan::{self, Fragment};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Files whose times are this close are one span.
pub const SPAN_GAP_US: u64 = 3_000_000;

/// µs of `ticks` at 90 kHz.
pub fn ticks_to_us(ticks: u64) -> u64 {
    ticks.saturating_mul(100) / 9
}

/// One recording file.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Capture time of its first frame, ms since the epoch (its name).
    pub start_ms: u64,
    /// Where it is.
    pub path: PathBuf,
    /// Its track.
    pub track: TrackInfo,
    /// Bytes of its init segment.
    pub init_len: u64,
    /// Its complete fragments.
    pub fragments: Vec<Fragment>,
    /// Its size on disk.
    pub bytes: u64,
    /// Being written.
    pub open: bool,
}

impl FileEntry {
    /// Start of `f`, µs since the epoch.
    pub fn fragment_start_us(&self, f: &Fragment) -> u64 {
        self.start_ms * 1000 + ticks_to_us(f.decode_time)
    }

    /// Capture time of its first frame, µs since the epoch.
    pub fn start_us(&self) -> u64 {
        self.fragments
            .first()
            .map_or(self.start_ms * 1000, |f| self.fragment_start_us(f))
    }

    /// End of its last complete fragment, µs since the epoch.
    pub fn end_us(&self) -> u64 {
        self.fragments.last().map_or(self.start_ms * 1000, |f| {
            self.start_ms * 1000 + ticks_to_us(f.decode_time + f.duration)
        })
    }

    /// Frames in its complete fragments.
    pub fn frames(&self) -> u64 {
        self.fragments.iter().map(|f| u64::from(f.samples)).sum()
    }

    /// What retention needs.
    pub fn facts(&self) -> FileFacts {
        FileFacts {
            start_us: self.start_us(),
            end_us: self.end_us(),
            bytes: self.bytes,
            open: self.open,
        }
    }
}

/// A recorded time span: files that follow each other without a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    /// µs since the epoch.
    pub start_us: u64,
    /// µs since the epoch.
    pub end_us: u64,
    /// Bytes of its files.
    pub bytes: u64,
    /// Frames.
    pub frames: u64,
    /// Files it is made of.
    pub files: usize,
    /// Its last file is being written.
    pub open: bool,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct StreamIndex {
    /// By start time (ms, the file name).
    pub files: BTreeMap<u64, FileEntry>,
}

impl StreamIndex {
    /// Indexes the `*.mp4` files of `dir` (missing: empty). Files that are not recordings are left
    /// alone and named in the second value, with why.
    pub fn load(dir: &Path) -> (Self, Vec<String>) {
        let mut index = Self::default();
        let mut skipped = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return (index, skipped);
        };
        for e in entries.flatten() {
            let path = e.path();
            let Some(start_ms) = file_start_ms(&path) else {
                continue;
            };
            match scan_file(&path) {
                Ok((s, bytes)) => {
                    index.files.insert(
                        start_ms,
                        FileEntry {
                            start_ms,
                            path,
                            track: s.track,
                            init_len: s.init_len,
                            fragments: s.fragments,
                            bytes,
                            open: false,
                        },
                    );
                }
                Err(why) => skipped.push(format!("{}: {why}", path.display())),
            }
        }
        (index, skipped)
    }

    /// The recorded spans, oldest first.
    pub fn spans(&self) -> Vec<Span> {
        let mut out: Vec<Span> = Vec::new();
        for f in self.files.values().filter(|f| !f.fragments.is_empty()) {
            let (start, end) = (f.start_us(), f.end_us());
            match out.last_mut() {
                Some(s) if start <= s.end_us + SPAN_GAP_US => {
                    s.end_us = s.end_us.max(end);
                    s.bytes += f.bytes;
                    s.frames += f.frames();
                    s.files += 1;
                    s.open |= f.open;
                }
                _ => out.push(Span {
                    start_us: start,
                    end_us: end,
                    bytes: f.bytes,
                    frames: f.frames(),
                    files: 1,
                    open: f.open,
                }),
            }
        }
        out
    }

    /// Bytes of all files.
    pub fn bytes(&self) -> u64 {
        self.files.values().map(|f| f.bytes).sum()
    }
}

/// The start time in a file name `<ms>.mp4`.
pub fn file_start_ms(path: &Path) -> Option<u64> {
    if path.extension()? != "mp4" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

fn scan_file(path: &Path) -> Result<(scan::Scan, u64), String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    let mut r = std::io::BufReader::with_capacity(16 << 10, &mut f);
    scan::scan(&mut r, len)
        .map(|s| (s, len))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn entry(start_ms: u64, secs: u64, open: bool) -> FileEntry {
        FileEntry {
            start_ms,
            path: PathBuf::from(format!("{start_ms}.mp4")),
            track: TrackInfo {
                width: 1,
                height: 1,
                avcc: Bytes::new(),
            },
            init_len: 10,
            fragments: (0..secs)
                .map(|i| Fragment {
                    offset: 10 + i * 100,
                    moof_len: 50,
                    len: 100,
                    decode_time: i * 90_000,
                    duration: 90_000,
                    samples: 30,
                    keyframe: i % 2 == 0,
                    sequence_at: 20,
                    tfdt_at: 60,
                    tfdt_bytes: 8,
                })
                .collect(),
            bytes: 10 + secs * 100,
            open,
        }
    }

    #[test]
    fn files_without_gaps_are_one_span() {
        let mut ix = StreamIndex::default();
        for e in [
            entry(1_000_000, 60, false),
            entry(1_060_000, 60, false),
            entry(2_000_000, 10, true),
        ] {
            ix.files.insert(e.start_ms, e);
        }
        let s = ix.spans();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].start_us, s[0].end_us), (1_000_000_000, 1_120_000_000));
        assert_eq!((s[0].files, s[0].frames, s[0].open), (2, 3600, false));
        assert!(s[1].open);
        assert_eq!(ix.bytes(), 6010 + 6010 + 1010);
    }

    #[test]
    fn only_digit_names_are_recordings() {
        assert_eq!(file_start_ms(Path::new("/r/123.mp4")), Some(123));
        assert_eq!(file_start_ms(Path::new("/r/12a.mp4")), None);
        assert_eq!(file_start_ms(Path::new("/r/123.mp4.tmp")), None);
        assert_eq!(file_start_ms(Path::new("/r/.mp4")), None);
    }
}
