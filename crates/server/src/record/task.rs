//! The IO around the sans-IO parts: one task per recorded stream that feeds the shared encoder's
//! units to its [`Segmenter`] and writes what comes out, and the retention task.
//!
//! A recorder holds a subscription to the encoder only while it records, except an `on_demand`
//! stream with a pre-roll: that one holds a (never read) subscription all the time, so the
//! encoder runs and its ring always holds the last `pre_roll_s` seconds. That costs one running
//! H.264 encode of the stream while nobody watches (the price of a pre-roll); without a pre-roll
//! an idle `on_demand` stream costs nothing.
//!
//! Writes: each fragment with one `write` and then `fdatasync`, on the blocking pool (the async
//! workers never wait for the disk). A `kill -9` or power loss loses at most the fragment being
//! gathered (about 1 s); players stop at the last complete fragment of such a file.

use super::segmenter::{Output, Segmenter};
use super::{Recordings, StreamRecorder, retention};
use crate::bus::Stream;
use crate::encoded::{SharedEncoders, Start, Subscription};
use crate::metrics::{ConsumerKind, DeleteReason, RecordingMetrics};
use crate::shutdown::ShutdownSignal;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often retention runs besides after every closed file.
const RETENTION_INTERVAL: Duration = Duration::from_secs(10);

/// The open file of a recorder, moved to the blocking pool for each write.
struct Disk {
    rec: Arc<StreamRecorder>,
    metrics: RecordingMetrics,
    file: Option<(u64, std::fs::File)>,
}

impl Disk {
    /// Carries out `outs`; on an error the file is dropped (the segmenter must be abandoned).
    fn apply(&mut self, outs: Vec<Output>) -> std::io::Result<bool> {
        let mut closed = false;
        for o in outs {
            match o {
                Output::Open {
                    start_ms,
                    track,
                    init,
                } => {
                    std::fs::create_dir_all(&self.rec.dir)?;
                    let path = self.rec.dir.join(format!("{start_ms}.mp4"));
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&path)?;
                    f.write_all(&init)?;
                    self.metrics.written(init.len(), false);
                    self.rec.index().files.insert(
                        start_ms,
                        super::index::FileEntry {
                            start_ms,
                            path,
                            track,
                            init_len: init.len() as u64,
                            fragments: Vec::new(),
                            bytes: init.len() as u64,
                            open: true,
                        },
                    );
                    self.file = Some((start_ms, f));
                }
                Output::Fragment { bytes, index } => {
                    let Some((start_ms, f)) = self.file.as_mut() else {
                        continue;
                    };
                    f.write_all(&bytes)?;
                    f.sync_data()?;
                    self.metrics.written(bytes.len(), true);
                    if let Some(e) = self.rec.index().files.get_mut(start_ms) {
                        e.fragments.push(index);
                        e.bytes += bytes.len() as u64;
                    }
                }
                Output::Close => self.close(),
            }
            closed |= self.file.is_none();
        }
        Ok(closed)
    }

    fn close(&mut self) {
        if let Some((start_ms, f)) = self.file.take() {
            let _ = f.sync_all();
            if let Some(e) = self.rec.index().files.get_mut(&start_ms) {
                e.open = false;
            }
        }
    }
}

/// Runs `outs` on the blocking pool; false if the file failed (then it is closed and the
/// segmenter abandoned).
async fn write(
    disk: &mut Option<Disk>,
    seg: &mut Segmenter,
    outs: Vec<Output>,
    recordings: &Recordings,
) -> bool {
    if outs.is_empty() {
        return true;
    }
    let Some(mut d) = disk.take() else {
        return false;
    };
    let r = tokio::task::spawn_blocking(move || {
        let r = d.apply(outs);
        (d, r)
    })
    .await;
    match r {
        Ok((d, Ok(closed))) => {
            *disk = Some(d);
            if closed {
                recordings.closed.notify_one();
            }
            true
        }
        Ok((mut d, Err(e))) => {
            tracing::warn!(stream = %d.rec.name, error = %e, "recording file failed; starting a new one at the next keyframe");
            d.metrics.error();
            d.close();
            *disk = Some(d);
            seg.abandon();
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "recording write panicked");
            false
        }
    }
}

/// Records `stream` while its recorder wants it, until shutdown.
pub(super) async fn record(
    recordings: Arc<Recordings>,
    rec: Arc<StreamRecorder>,
    stream: Arc<Stream>,
    encoders: Arc<SharedEncoders>,
    mut shutdown: ShutdownSignal,
) {
    let s = &recordings.settings;
    let mut seg = Segmenter::new(
        u64::from(s.segment_seconds.get()) * 1_000_000,
        s.fragment_ms.get() * 1000,
    );
    let mut want = rec.want.subscribe();
    // Only recorded streams get these series (a stream that is never recorded shows none).
    let metrics = recordings.metrics.recording(&rec.name);
    let mut disk = Some(Disk {
        rec: rec.clone(),
        metrics: metrics.clone(),
        file: None,
    });
    let pre_roll_us = u64::try_from(rec.pre_roll.as_micros()).unwrap_or(u64::MAX);
    let mut holder: Option<Subscription> = None;
    // Frames the segmenter dropped so far (counted into the metric as they grow).
    let mut dropped = 0;
    tracing::info!(stream = %rec.name, mode = rec.mode.name(), pre_roll_s = rec.pre_roll.as_secs(), dir = %rec.dir.display(), "recorder ready");
    loop {
        if !*want.borrow_and_update() {
            metrics.set_active(false);
            if pre_roll_us > 0 && holder.is_none() {
                // Keeps the encoder and its ring running for the pre-roll (see the module docs).
                let enc = encoders.get(&stream, &recordings.metrics);
                holder = Some(enc.subscribe(ConsumerKind::Recorder, Start::Live));
            }
            tokio::select! {
                r = want.changed() => if r.is_err() { return },
                _ = shutdown.wait() => return,
            }
            continue;
        }
        metrics.set_active(true);
        let now = crate::clock::now().as_micros();
        let start = if pre_roll_us > 0 {
            Start::Since(now.saturating_sub(pre_roll_us))
        } else {
            Start::Live
        };
        let enc = encoders.get(&stream, &recordings.metrics);
        let mut sub = enc.subscribe(ConsumerKind::Recorder, start);
        holder = None;
        tracing::info!(stream = %rec.name, pre_roll_units = sub.backlog.len(), "recording started");
        let mut outs = Vec::new();
        for u in std::mem::take(&mut sub.backlog) {
            seg.handle_unit(&u, &mut outs);
        }
        write(&mut disk, &mut seg, std::mem::take(&mut outs), &recordings).await;
        let stop = loop {
            let deadline = seg.deadline_us();
            let sleep = deadline.map_or(Duration::from_secs(3600), |d| {
                Duration::from_micros(d.saturating_sub(crate::clock::now().as_micros()))
            });
            tokio::select! {
                r = sub.units.recv() => match r {
                    Ok(u) => seg.handle_unit(&u, &mut outs),
                    // The next unit shows the gap in its sequence number: the segmenter waits
                    // for a keyframe.
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(stream = %rec.name, skipped = n, "recorder lagged behind the encoder");
                        sub.encoder.request_keyframe();
                    }
                    Err(RecvError::Closed) => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break false;
                    }
                },
                _ = tokio::time::sleep(sleep) => seg.handle_timeout(crate::clock::now().as_micros(), &mut outs),
                r = want.changed() => if r.is_err() || !*want.borrow() { break false },
                _ = shutdown.wait() => break true,
            }
            if seg.dropped() > dropped {
                metrics.dropped(seg.dropped() - dropped);
                dropped = seg.dropped();
            }
            write(&mut disk, &mut seg, std::mem::take(&mut outs), &recordings).await;
        };
        seg.finish(&mut outs);
        write(&mut disk, &mut seg, outs, &recordings).await;
        drop(sub);
        tracing::info!(stream = %rec.name, "recording stopped");
        if stop {
            metrics.set_active(false);
            return;
        }
    }
}

/// Deletes recordings by age, size and free disk: every [`RETENTION_INTERVAL`] and whenever a
/// file closes.
pub(super) async fn retain(recordings: Arc<Recordings>, mut shutdown: ShutdownSignal) {
    loop {
        let r = recordings.clone();
        let _ = tokio::task::spawn_blocking(move || retain_once(&r)).await;
        tokio::select! {
            _ = tokio::time::sleep(RETENTION_INTERVAL) => {}
            _ = recordings.closed.notified() => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// One retention pass (blocking).
pub(super) fn retain_once(recordings: &Recordings) {
    let s = &recordings.settings;
    let limits = retention::Limits {
        max_age_us: s.max_age_s.get().saturating_mul(1_000_000),
        max_bytes: s.max_bytes.get(),
        min_free_bytes: s.min_free_bytes,
    };
    let now = crate::clock::now().as_micros();
    let recs: Vec<_> = recordings.all().cloned().collect();
    for rec in &recs {
        let (keys, facts): (Vec<u64>, Vec<retention::FileFacts>) = rec
            .index()
            .files
            .values()
            .map(|f| (f.start_ms, f.facts()))
            .unzip();
        for reason in [retention::Reason::Age, retention::Reason::Size] {
            let victims: Vec<u64> = retention::per_stream(&facts, now, &limits)
                .into_iter()
                .filter(|(_, r)| *r == reason)
                .map(|(i, _)| keys[i])
                .collect();
            let label = match reason {
                retention::Reason::Age => DeleteReason::Age,
                _ => DeleteReason::Size,
            };
            rec.remove(&victims, label, &recordings.metrics);
        }
    }
    if limits.min_free_bytes == 0 {
        return;
    }
    let Some(free) = free_bytes(recordings.root()) else {
        return;
    };
    let mut all = Vec::new();
    let mut keys = Vec::new();
    for (n, rec) in recs.iter().enumerate() {
        for f in rec.index().files.values() {
            all.push((n, f.facts()));
            keys.push((n, f.start_ms));
        }
    }
    for i in retention::for_disk(&all, free, &limits) {
        let (n, start) = keys[i];
        recs[n].remove(&[start], DeleteReason::Disk, &recordings.metrics);
    }
}

/// Free bytes for an unprivileged user on the file system of `dir` (or the nearest existing
/// parent).
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let s = rustix::fs::statvfs(existing).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}
