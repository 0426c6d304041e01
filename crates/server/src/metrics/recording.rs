//! Recordings (`crates/server/src/record/`): bytes and fragments written, files deleted by
//! retention (and why), write errors, and whether each stream is being recorded. Its reads of the
//! encoder are counted by the encoder's consumer gauge (`kind="recorder"`).

use super::label::{Name, label_values};
use super::stream::StreamLabel;
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

label_values! {
    /// Why a recording file was deleted.
    pub enum DeleteReason {
        /// Older than `recording.max_age_s`.
        Age => "age",
        /// The stream's files were over `recording.max_bytes`.
        Size => "size",
        /// The disk was under `recording.min_free_bytes`.
        Disk => "disk",
        /// Deleted through the API or the page.
        Api => "api",
    }
}

/// `{stream, reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeleteLabel {
    stream: Name,
    reason: DeleteReason,
}

/// The recording families.
pub(super) struct RecordingFamilies {
    bytes: Family<StreamLabel, Counter>,
    fragments: Family<StreamLabel, Counter>,
    deleted: Family<DeleteLabel, Counter>,
    errors: Family<StreamLabel, Counter>,
    dropped: Family<StreamLabel, Counter>,
    active: Family<StreamLabel, Gauge>,
}

impl RecordingFamilies {
    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            bytes: register(
                r,
                "pixelwire_recording_bytes_written",
                "Bytes written to the stream's recording files",
                Family::default(),
            ),
            fragments: register(
                r,
                "pixelwire_recording_fragments_written",
                "Fragments (about 1 s each) written to the stream's recording files",
                Family::default(),
            ),
            deleted: register(
                r,
                "pixelwire_recording_files_deleted",
                "Recording files deleted, by reason",
                Family::default(),
            ),
            errors: register(
                r,
                "pixelwire_recording_write_errors",
                "Recording files that could not be created or written",
                Family::default(),
            ),
            dropped: register(
                r,
                "pixelwire_recording_dropped_frames",
                "Encoded frames not recorded: P-frames after a gap (the recorder lagged) until the next keyframe",
                Family::default(),
            ),
            active: register(
                r,
                "pixelwire_recording_active",
                "1 while the stream is being recorded",
                Family::default(),
            ),
        }
    }
}

/// What one stream's recorder records; resolved once per stream.
#[derive(Debug, Clone)]
pub struct RecordingMetrics {
    bytes: Counter,
    fragments: Counter,
    errors: Counter,
    dropped: Counter,
    active: Gauge,
}

impl RecordingMetrics {
    /// A fragment (or an init segment, `fragment = false`) of `bytes` was written.
    pub fn written(&self, bytes: usize, fragment: bool) {
        self.bytes.inc_by(bytes as u64);
        if fragment {
            self.fragments.inc();
        }
    }

    /// A file could not be created or written.
    pub fn error(&self) {
        self.errors.inc();
    }

    /// `n` more frames were dropped waiting for a keyframe.
    pub fn dropped(&self, n: u64) {
        self.dropped.inc_by(n);
    }

    /// Whether the stream is being recorded now.
    pub fn set_active(&self, on: bool) {
        self.active.set(i64::from(on));
    }
}

impl Metrics {
    /// The recording handles of `stream`.
    pub fn recording(&self, stream: &str) -> RecordingMetrics {
        let f = &self.inner.recording;
        let l = StreamLabel::new(stream);
        RecordingMetrics {
            bytes: f.bytes.get_or_create_owned(&l),
            fragments: f.fragments.get_or_create_owned(&l),
            errors: f.errors.get_or_create_owned(&l),
            dropped: f.dropped.get_or_create_owned(&l),
            active: f.active.get_or_create_owned(&l),
        }
    }

    /// A recording file of `stream` was deleted.
    pub fn recording_deleted(&self, stream: &str, reason: DeleteReason) {
        self.inner
            .recording
            .deleted
            .get_or_create(&DeleteLabel {
                stream: stream.into(),
                reason,
            })
            .inc();
    }
}
