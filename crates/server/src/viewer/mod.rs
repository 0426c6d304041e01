//! Browser and video-tool viewers: H.264 for WebCodecs over WebSocket, JPEG over WebSocket, MJPEG
//! over HTTP, the viewer page, the reports the page sends back, and seed 001's compatibility
//! endpoints.

pub mod h264;
pub mod mjpeg;
pub mod report;
pub mod ws;

use crate::bus::Bus;
use crate::ingest::CameraHub;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use std::sync::Arc;

/// What viewer handlers share; cheap to clone.
#[derive(Debug, Clone)]
pub struct ViewerContext {
    /// Streams to watch.
    pub bus: Arc<Bus>,
    /// Metrics.
    pub metrics: Metrics,
    /// Shutdown signal.
    pub shutdown: ShutdownSignal,
    /// H.264 encoders by stream, shared by viewers.
    pub h264: Arc<h264::H264Hubs>,
    /// The camera hub: seed 001's single-camera endpoints show its most recently active stream,
    /// and its `/status` counts viewers.
    pub cameras: Arc<CameraHub>,
}
