//! What the HTTP side of a running server holds: every area's shared parts. Each area gets only its
//! own context ([`DisplayContext`], [`ViewerContext`], [`IngestContext`],
//! [`crate::record::RecordContext`]; axum hands handlers theirs
//! own context ([`DisplayContext`], [`ViewerContext`], [`IngestContext`], [`WhepContext`]; axum hands handlers theirs
//! through `FromRef`), so areas do not reach sideways through one state.

use crate::bus::Bus;
use crate::config::Config;
use crate::display::DisplayContext;
use crate::display::registry::DisplayRegistry;
use crate::display::route_store::RouteStore;
use crate::display::routes::RouteTable;
use crate::ingest::auth::ApiKeys;
use crate::ingest::{CameraHub, IngestContext};
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use crate::viewer::ViewerContext;
use crate::whep::{Whep, WhepContext};
use axum::extract::FromRef;
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
    /// Display routes and their overrides (kept in the registry's database).
    pub routes: Arc<RouteTable>,
    /// When the server started.
    pub started: Timestamp,
    /// Shutdown signal.
    pub shutdown: ShutdownSignal,
    /// Camera ingest and the device registry.
    pub cameras: Arc<CameraHub>,
    /// Keys HTTP devices must present.
    pub api_keys: Arc<ApiKeys>,
    /// The shared H.264 encoders by stream.
    pub encoders: Arc<crate::encoded::SharedEncoders>,
    /// What each dashboard stream shows, for the API.
    pub dashboards: Arc<crate::source::dashboard::DashboardStates>,
    /// The HTTPS certificate and acceptor, when `server.https` is set.
    pub tls: Option<crate::tls::Tls>,
    /// Every stream's recordings.
    pub recordings: Arc<crate::record::Recordings>,
    /// WebRTC out via WHEP: its sessions and the UDP task's commands.
    pub whep: Arc<Whep>,
}

impl AppState {
    /// Builds the shared parts for `cfg` (opens the device registry in `server.data_dir`); no
    /// socket is bound and no task started, so routers can be tested with it.
    pub fn new(cfg: Arc<Config>, shutdown: ShutdownSignal) -> anyhow::Result<AppState> {
        let bus = Arc::new(Bus::default());
        let metrics = Metrics::new();
        let registry = crate::ingest::registry::DeviceRegistry::open(
            &cfg.server.data_dir,
            cfg.cameras.offline_after_s.get() * 1000,
        )
        .map_err(|e| anyhow::anyhow!("{e} (set server.data_dir to a writable directory)"))?;
        let routes =
            RouteTable::open(cfg.clone(), RouteStore::new(registry.database())).map_err(|e| {
                anyhow::anyhow!("display routes in {}: {e}", cfg.server.data_dir.display())
            })?;
        let cameras = Arc::new(CameraHub::new(
            bus.clone(),
            metrics.clone(),
            registry,
            cfg.cameras.clone(),
        ));
        let api_keys = Arc::new(ApiKeys::from_config(&cfg.api_keys));
        // After the registry: `data_dir` exists, and a self-signed certificate goes in it.
        let tls = crate::tls::load(&cfg.server)?;
        let (ring, skip_unchanged) = (cfg.video.ring(), cfg.video.skip_unchanged);
        let recordings = Arc::new(crate::record::Recordings::open(&cfg, &metrics));
        let cfg_webrtc = cfg.webrtc.clone();
        Ok(AppState {
            cfg,
            bus,
            metrics,
            displays: Arc::new(DisplayRegistry::default()),
            routes: Arc::new(routes),
            started: crate::clock::now(),
            shutdown,
            cameras,
            api_keys,
            encoders: Arc::new(crate::encoded::SharedEncoders::new(ring, skip_unchanged)),
            dashboards: Arc::new(crate::source::dashboard::DashboardStates::default()),
            tls,
            recordings,
            whep: Arc::new(Whep::new(cfg_webrtc)),
        })
    }
}

impl FromRef<AppState> for DisplayContext {
    fn from_ref(s: &AppState) -> Self {
        DisplayContext {
            cfg: s.cfg.clone(),
            bus: s.bus.clone(),
            metrics: s.metrics.clone(),
            displays: s.displays.clone(),
            routes: s.routes.clone(),
            shutdown: s.shutdown.clone(),
        }
    }
}

impl FromRef<AppState> for ViewerContext {
    fn from_ref(s: &AppState) -> Self {
        ViewerContext {
            bus: s.bus.clone(),
            metrics: s.metrics.clone(),
            shutdown: s.shutdown.clone(),
            encoders: s.encoders.clone(),
            cameras: s.cameras.clone(),
            stalled_limit: s.cfg.server.stalled_viewer_timeout_ms.duration(),
        }
    }
}

impl FromRef<AppState> for crate::record::RecordContext {
    fn from_ref(s: &AppState) -> Self {
        crate::record::RecordContext {
            recordings: s.recordings.clone(),
            bus: s.bus.clone(),
        }
    }
}

impl FromRef<AppState> for WhepContext {
    fn from_ref(s: &AppState) -> Self {
        WhepContext {
            whep: s.whep.clone(),
            bus: s.bus.clone(),
            encoders: s.encoders.clone(),
            metrics: s.metrics.clone(),
            shutdown: s.shutdown.clone(),
        }
    }
}

impl FromRef<AppState> for IngestContext {
    fn from_ref(s: &AppState) -> Self {
        IngestContext {
            cameras: s.cameras.clone(),
            api_keys: s.api_keys.clone(),
            bus: s.bus.clone(),
            shutdown: s.shutdown.clone(),
        }
    }
}
