//! Browser and video-tool viewers: H.264 for WebCodecs over WebSocket, JPEG over WebSocket, MJPEG
//! over HTTP, the viewer page, the reports the page sends back, and seed 001's compatibility
//! endpoints.

pub mod mjpeg;
pub mod report;
pub mod ws;

use crate::bus::Bus;
use crate::ingest::CameraHub;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use std::sync::Arc;
use std::time::Duration;

/// How often a viewer whose socket is backed up ([`crate::listener::SendQueue`]) asks it again
/// whether it drained.
pub const DRAIN_POLL: Duration = Duration::from_millis(20);

/// What viewer handlers share; cheap to clone.
#[derive(Debug, Clone)]
pub struct ViewerContext {
    /// Streams to watch.
    pub bus: Arc<Bus>,
    /// Metrics.
    pub metrics: Metrics,
    /// Shutdown signal.
    pub shutdown: ShutdownSignal,
    /// The shared H.264 encoders by stream (also read by RTSP, WHEP and the recorder).
    pub encoders: Arc<crate::encoded::SharedEncoders>,
    /// The camera hub: seed 001's single-camera endpoints show its most recently active stream,
    /// and its `/status` counts viewers.
    pub cameras: Arc<CameraHub>,
    /// A viewer whose socket stays backed up this long is cut off (`server.stalled_viewer_timeout_ms`).
    pub stalled_limit: Duration,
}

/// Counts the frames of a stream a viewer never got: the gaps in the sequence numbers of the frames
/// it was sent (a newer frame replaced them while it waited for its socket).
#[derive(Debug)]
pub struct SkipCounter {
    pub(crate) metrics: crate::metrics::ViewerSkips,
    last_seq: Option<u64>,
}

impl SkipCounter {
    /// A counter recording into `metrics`.
    pub fn new(metrics: crate::metrics::ViewerSkips) -> Self {
        Self {
            metrics,
            last_seq: None,
        }
    }

    /// The frame numbered `seq` is being sent.
    pub fn sent(&mut self, seq: u64) {
        if let Some(last) = self.last_seq
            && seq > last + 1
        {
            self.metrics.skipped_n(seq - last - 1);
        }
        self.last_seq = Some(seq);
    }
}
