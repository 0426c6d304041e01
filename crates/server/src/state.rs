//! What every task and handler of a running server shares.

use crate::bus::Bus;
use crate::config::Config;
use crate::display::registry::DisplayRegistry;
use crate::ingest::CameraHub;
use crate::ingest::auth::ApiKeys;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use pixelwire_core::Timestamp;
use std::sync::Arc;

/// Shared server state; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configuration.
    pub cfg: Arc<Config>,
    /// Streams.
    pub bus: Arc<Bus>,
    /// Metrics.
    pub metrics: Metrics,
    /// Connected displays.
    pub displays: Arc<DisplayRegistry>,
    /// When the server started.
    pub started: Timestamp,
    /// Shutdown signal.
    pub shutdown: ShutdownSignal,
    /// Camera ingest and the device registry.
    pub cameras: Arc<CameraHub>,
    /// Keys HTTP devices must present.
    pub api_keys: Arc<ApiKeys>,
    /// H.264 encoders by stream, shared by viewers.
    pub h264: Arc<crate::viewer::h264::H264Hubs>,
    /// What each dashboard stream shows, for the API.
    pub dashboards: Arc<crate::source::dashboard::DashboardStates>,
}
