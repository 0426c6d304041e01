//! Recordings (`docs/recording.md`): each stream with `record = "always"` or `"on_demand"` is
//! written to fragmented MP4 files from its shared H.264 encoder (no second encode), kept by age,
//! by bytes per stream and above a free-disk floor, and served back as MP4 ranges a browser
//! seeks in.
//!
//! Layout: [`fmp4`] writes boxes, [`scan`] reads them back, [`segmenter`] is the sans-IO state
//! machine that cuts units into files and fragments, [`index`] is what is on disk,
//! [`retention`] says what to delete, [`playback`] plans a served range; `task.rs` runs one
//! recorder per stream and the retention pass, doing the IO. [`Recordings`] holds every stream's
//! [`StreamRecorder`] for the HTTP API (`http/recording.rs`).

pub mod fmp4;
pub mod index;
pub mod playback;
pub mod retention;
pub mod scan;
pub mod segmenter;
mod task;

use crate::bus::Bus;
use crate::config::{Config, RecordMode, RecordingSettings};
use crate::encoded::SharedEncoders;
use crate::metrics::{DeleteReason, Metrics};
use crate::shutdown::ShutdownSignal;
use index::{FileEntry, Span, StreamIndex};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// `µs since the epoch` as RFC 3339 with milliseconds, UTC.
pub fn rfc3339(us: u64) -> String {
    let t = chrono::DateTime::from_timestamp_micros(i64::try_from(us).unwrap_or(i64::MAX))
        .unwrap_or_default();
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What the HTTP handlers of recordings share; cheap to clone.
#[derive(Debug, Clone)]
pub struct RecordContext {
    /// Every stream's recorder.
    pub recordings: Arc<Recordings>,
    /// Streams (a stream with no recorder and no files still exists).
    pub bus: Arc<Bus>,
}

/// Why a start or stop is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    /// `record = "off"`.
    #[error("stream {0:?} is not recorded (record = \"off\" in its [[streams]] entry)")]
    Off(String),
    /// `record = "always"`: it cannot be stopped.
    #[error("stream {0:?} records always (record = \"always\"); it cannot be started or stopped")]
    Always(String),
}

/// One stream's recordings: its settings, what is on disk, and whether it records now.
#[derive(Debug)]
pub struct StreamRecorder {
    /// The stream.
    pub name: String,
    /// `record`.
    pub mode: RecordMode,
    /// `pre_roll_s`.
    pub pre_roll: Duration,
    dir: PathBuf,
    index: Mutex<StreamIndex>,
    want: watch::Sender<bool>,
}

impl StreamRecorder {
    fn index(&self) -> MutexGuard<'_, StreamIndex> {
        // A panic while holding it leaves a consistent index (every update is one insert or push).
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether it is recording (or asked to).
    pub fn recording(&self) -> bool {
        *self.want.borrow()
    }

    /// Starts an `on_demand` recording (again: nothing happens).
    pub fn start(&self) -> Result<(), ControlError> {
        self.control(true)
    }

    /// Stops an `on_demand` recording: the open file gets what is gathered and is closed.
    pub fn stop(&self) -> Result<(), ControlError> {
        self.control(false)
    }

    fn control(&self, on: bool) -> Result<(), ControlError> {
        match self.mode {
            RecordMode::Off => Err(ControlError::Off(self.name.clone())),
            RecordMode::Always => Err(ControlError::Always(self.name.clone())),
            RecordMode::OnDemand => {
                self.want
                    .send_if_modified(|w| std::mem::replace(w, on) != on);
                Ok(())
            }
        }
    }

    /// The recorded spans, oldest first.
    pub fn spans(&self) -> Vec<Span> {
        self.index().spans()
    }

    /// The files, oldest first.
    pub fn files(&self) -> Vec<FileEntry> {
        self.index().files.values().cloned().collect()
    }

    /// Plans the MP4 of `[start_us, end_us)`.
    pub fn playback(
        &self,
        start_us: u64,
        end_us: u64,
    ) -> Result<playback::Playback, playback::PlanError> {
        playback::plan(&self.index(), start_us, end_us)
    }

    /// Deletes the closed files lying wholly inside `[start_us, end_us]`; the file being written
    /// is never deleted. Returns what was deleted (blocking: call off the async workers).
    pub fn delete(&self, start_us: u64, end_us: u64, metrics: &Metrics) -> Vec<FileEntry> {
        let victims: Vec<u64> = self
            .index()
            .files
            .values()
            .filter(|f| !f.open && f.start_us() >= start_us && f.end_us() <= end_us)
            .map(|f| f.start_ms)
            .collect();
        self.remove(&victims, DeleteReason::Api, metrics)
    }

    /// Removes the files named by their start times (never an open one).
    fn remove(&self, starts: &[u64], reason: DeleteReason, metrics: &Metrics) -> Vec<FileEntry> {
        let mut out = Vec::new();
        for start in starts {
            let entry = {
                let mut ix = self.index();
                match ix.files.get(start) {
                    Some(f) if !f.open => ix.files.remove(start),
                    _ => None,
                }
            };
            let Some(entry) = entry else { continue };
            match std::fs::remove_file(&entry.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(stream = %self.name, file = %entry.path.display(), error = %e, "cannot delete a recording");
                    self.index().files.insert(entry.start_ms, entry);
                    continue;
                }
            }
            metrics.recording_deleted(&self.name, reason);
            tracing::debug!(stream = %self.name, file = %entry.path.display(), reason = reason.as_str(), "recording deleted");
            out.push(entry);
        }
        out
    }
}

/// Every stream's recorder; see the module docs.
#[derive(Debug)]
pub struct Recordings {
    root: PathBuf,
    settings: RecordingSettings,
    streams: BTreeMap<String, Arc<StreamRecorder>>,
    metrics: Metrics,
    /// Woken when a file closes, so retention runs at once.
    closed: Notify,
}

impl Recordings {
    /// Indexes the recordings on disk (`recording.dir`) for the configured streams and any other
    /// stream that has a directory there; starts nothing.
    pub fn open(cfg: &Config, metrics: &Metrics) -> Self {
        let root = cfg.recording.dir(&cfg.server.data_dir);
        let mut streams = BTreeMap::new();
        let add = |name: &str, mode: RecordMode, pre_roll_s: u32| {
            let dir = root.join(name);
            let (index, skipped) = StreamIndex::load(&dir);
            for s in skipped {
                tracing::warn!(stream = name, file = %s, "not a recording; left alone");
            }
            let rec = StreamRecorder {
                name: name.to_string(),
                mode,
                pre_roll: Duration::from_secs(u64::from(pre_roll_s)),
                dir,
                index: Mutex::new(index),
                want: watch::Sender::new(mode == RecordMode::Always),
            };
            (name.to_string(), Arc::new(rec))
        };
        for s in cfg.effective_streams() {
            let (k, v) = add(
                s.name.get_ref(),
                s.recording.mode,
                s.recording.pre_roll_s.get(),
            );
            streams.insert(k, v);
        }
        if let Ok(dirs) = std::fs::read_dir(&root) {
            for d in dirs.flatten() {
                let name = d.file_name().to_string_lossy().to_string();
                let valid = (1..=32).contains(&name.len())
                    && name.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    });
                if valid && !streams.contains_key(&name) && d.path().is_dir() {
                    let (k, v) = add(&name, RecordMode::Off, 0);
                    streams.insert(k, v);
                }
            }
        }
        Self {
            root,
            settings: cfg.recording.clone(),
            streams,
            metrics: metrics.clone(),
            closed: Notify::new(),
        }
    }

    /// The recorder of `stream` (configured, or with recordings on disk).
    pub fn get(&self, stream: &str) -> Option<Arc<StreamRecorder>> {
        self.streams.get(stream).cloned()
    }

    /// Every recorder.
    pub fn all(&self) -> impl Iterator<Item = &Arc<StreamRecorder>> {
        self.streams.values()
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Where the recordings are.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a recorder task for every recorded stream and the retention task.
    pub fn spawn(
        self: &Arc<Self>,
        tasks: &mut tokio::task::JoinSet<()>,
        bus: &Bus,
        encoders: &Arc<SharedEncoders>,
        shutdown: &ShutdownSignal,
    ) {
        for rec in self.streams.values() {
            if rec.mode == RecordMode::Off {
                continue;
            }
            let Some(stream) = bus.get(&rec.name) else {
                continue;
            };
            tasks.spawn(task::record(
                self.clone(),
                rec.clone(),
                stream,
                encoders.clone(),
                shutdown.clone(),
            ));
        }
        tasks.spawn(task::retain(self.clone(), shutdown.clone()));
    }
}
