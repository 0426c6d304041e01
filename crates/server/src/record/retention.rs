//! Which recording files to delete (sans-IO: the files, the time and the free space go in, a list
//! of deletions comes out). Three limits, each deleting whole files, oldest first:
//!
//! * **age**: a file whose last frame is older than `max_age`;
//! * **size**: while a stream's files hold more than `max_bytes`;
//! * **disk**: while the file system has less than `min_free_bytes` free, across all streams.
//!
//! The file being written is never deleted, whatever the limits say: a recording that alone
//! outgrows a limit keeps going until its file closes (at the next segment boundary), and then
//! goes.

/// Why a file was deleted (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Older than `max_age_s`.
    Age,
    /// The stream's files were over `max_bytes`.
    Size,
    /// The disk was under `min_free_bytes`.
    Disk,
}

/// What retention needs to know of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    /// Capture time of its first frame, µs since the epoch.
    pub start_us: u64,
    /// End of its last complete fragment, µs since the epoch.
    pub end_us: u64,
    /// Size on disk.
    pub bytes: u64,
    /// Being written.
    pub open: bool,
}

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Files ending longer ago than this go.
    pub max_age_us: u64,
    /// A stream's files may hold this many bytes.
    pub max_bytes: u64,
    /// The file system keeps this much free.
    pub min_free_bytes: u64,
}

/// The files of one stream (oldest first) to delete by age and by size, with the reason: indexes
/// into `files`.
pub fn per_stream(files: &[FileFacts], now_us: u64, limits: &Limits) -> Vec<(usize, Reason)> {
    let mut out = Vec::new();
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    for (i, f) in files.iter().enumerate() {
        if f.open {
            continue;
        }
        let reason = if now_us.saturating_sub(f.end_us) > limits.max_age_us {
            Reason::Age
        } else if total > limits.max_bytes {
            Reason::Size
        } else {
            continue;
        };
        total -= f.bytes;
        out.push((i, reason));
    }
    out
}

/// Across streams (`files` is every stream's remaining files: (stream index, facts)): the oldest
/// closed files to delete until `free_bytes` reaches the floor.
pub fn for_disk(files: &[(usize, FileFacts)], free_bytes: u64, limits: &Limits) -> Vec<usize> {
    if free_bytes >= limits.min_free_bytes {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..files.len()).filter(|&i| !files[i].1.open).collect();
    order.sort_by_key(|&i| files[i].1.start_us);
    let mut free = free_bytes;
    let mut out = Vec::new();
    for i in order {
        if free >= limits.min_free_bytes {
            break;
        }
        free = free.saturating_add(files[i].1.bytes);
        out.push(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    /// Ten 60-s files of 100 bytes from t = 0, the last one open.
    fn files() -> Vec<FileFacts> {
        (0..10)
            .map(|i| FileFacts {
                start_us: i * 60 * S,
                end_us: (i + 1) * 60 * S,
                bytes: 100,
                open: i == 9,
            })
            .collect()
    }

    fn limits(max_age_s: u64, max_bytes: u64) -> Limits {
        Limits {
            max_age_us: max_age_s * S,
            max_bytes,
            min_free_bytes: 0,
        }
    }

    #[test]
    fn age_deletes_files_whose_end_is_too_old() {
        // At 600 s with a 300 s limit: files ending before 300 s (0..=3) go.
        let d = per_stream(&files(), 600 * S, &limits(300, u64::MAX));
        assert_eq!(
            d,
            [
                (0, Reason::Age),
                (1, Reason::Age),
                (2, Reason::Age),
                (3, Reason::Age)
            ]
        );
    }

    #[test]
    fn size_deletes_the_oldest_until_under_the_limit() {
        let d = per_stream(&files(), 600 * S, &limits(u64::MAX / S, 350));
        let idx: Vec<usize> = d.iter().map(|x| x.0).collect();
        assert_eq!(idx, (0..7).collect::<Vec<_>>());
        assert!(d.iter().all(|x| x.1 == Reason::Size));
    }

    #[test]
    fn the_open_file_is_never_deleted() {
        let mut f = files();
        // Everything is too old and too big, and the open file alone is over the limit.
        f[9].bytes = 1_000_000;
        let d = per_stream(&f, 100_000 * S, &limits(1, 1));
        assert_eq!(d.len(), 9);
        assert!(d.iter().all(|x| x.0 != 9));
        let only_open = [FileFacts {
            start_us: 0,
            end_us: 0,
            bytes: u64::MAX / 2,
            open: true,
        }];
        assert!(per_stream(&only_open, u64::MAX, &limits(0, 0)).is_empty());
        assert!(
            for_disk(
                &[(0, only_open[0])],
                0,
                &Limits {
                    min_free_bytes: 1,
                    ..limits(0, 0)
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn the_disk_floor_takes_the_oldest_across_streams() {
        let a = files();
        let all: Vec<(usize, FileFacts)> = a
            .iter()
            .map(|&f| (0, f))
            .chain(a.iter().map(|&f| {
                (
                    1,
                    FileFacts {
                        start_us: f.start_us + 30 * S,
                        ..f
                    },
                )
            }))
            .collect();
        let l = Limits {
            min_free_bytes: 1000,
            ..limits(u64::MAX / S, u64::MAX)
        };
        assert!(for_disk(&all, 1000, &l).is_empty());
        // 250 bytes short: three files, alternating streams from the oldest.
        let d = for_disk(&all, 750, &l);
        assert_eq!(d, [0, 10, 1]);
    }
}
