//! JSON and image handlers of the HTTP API (`docs/api.md`).

use super::AppState;
use crate::api_error::ApiError;
use crate::bus::StreamKind;
use crate::display::registry::DisplayCommand;
use crate::display::status::DisplayStatus;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

/// A stream as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamStatus {
    /// Name.
    pub name: String,
    /// Where its frames come from.
    pub kind: StreamKind,
    /// Source name.
    pub source: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Measured frames per second (0 while idle).
    pub fps: f32,
    /// Frames published.
    pub frames: u64,
    /// Consumers watching.
    pub watchers: usize,
    /// True while rendering (someone watches).
    pub active: bool,
    /// Snapshot URL.
    pub snapshot: String,
    /// Viewer page URL.
    pub viewer: String,
    /// The cluster node a relayed stream comes from (`docs/cluster.md`); `null` for this node's.
    pub origin: Option<String>,
    /// False while a relayed stream's node is unreachable ("offline" on the page).
    pub online: bool,
}

/// `GET /api/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Server version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_s: f64,
    /// Streams.
    pub streams: Vec<StreamStatus>,
    /// Connected displays.
    pub displays: Vec<DisplayStatus>,
    /// The device registry.
    pub devices: Vec<crate::ingest::registry::DeviceStatus>,
    /// The HTTPS certificate (fingerprint, SPKI pin), or `null` when `server.https` is off.
    pub https: Option<crate::tls::TlsInfo>,
}

fn streams(state: &AppState) -> Vec<StreamStatus> {
    let now = crate::clock::now().as_micros();
    state
        .bus
        .all()
        .iter()
        .map(|s| {
            let d = s.description();
            StreamStatus {
                name: s.name().to_string(),
                kind: d.kind,
                source: d.source.clone(),
                width: s.latest().map_or(d.width, |f| f.width),
                height: s.latest().map_or(d.height, |f| f.height),
                fps: s.fps(now),
                frames: s.frames(),
                watchers: s.watchers(),
                active: s.watchers() > 0,
                snapshot: format!("/api/streams/{}/snapshot.png", s.name()),
                viewer: format!("/streams/{}", s.name()),
                origin: s.origin().map(str::to_string),
                online: s.online(),
            }
        })
        .collect()
}

/// Every connected display's status, with where its stream comes from.
pub fn display_statuses(state: &AppState, now_us: u64) -> Vec<DisplayStatus> {
    let mut all = state.displays.statuses(now_us);
    for s in &mut all {
        state.routes.annotate(s);
    }
    all
}

/// `GET /api/status`: everything the web page shows.
pub async fn status(State(state): State<AppState>) -> Json<Status> {
    let now = crate::clock::now();
    Json(Status {
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: now.since(state.started).as_secs_f64(),
        streams: streams(&state),
        displays: display_statuses(&state, now.as_micros()),
        devices: state.cameras.registry.list(now.as_micros() / 1000),
        https: state.tls.as_ref().map(|t| (*t.info).clone()),
    })
}

/// `GET /api/streams`.
pub async fn list_streams(State(state): State<AppState>) -> Json<Vec<StreamStatus>> {
    Json(streams(&state))
}

/// `GET /api/displays`.
pub async fn list_displays(State(state): State<AppState>) -> Json<Vec<DisplayStatus>> {
    Json(display_statuses(&state, crate::clock::now().as_micros()))
}

fn png_response(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /api/streams/{name}/snapshot.png`: the newest frame as PNG.
pub async fn stream_snapshot(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let frame = crate::bus::fresh_frame(&state.bus, &name).await?;
    // An undecodable frame is the camera's fault and may pass with its next frame: 503, as
    // `snapshot.jpg` answers; only a failing PNG encoder is a bug (500).
    let png = tokio::task::spawn_blocking(move || match frame.rgba() {
        Some(f) => {
            pixelwire_media::png::frame_png(&f).map_err(|e| ApiError::Internal(e.to_string()))
        }
        None => Err(ApiError::Unavailable(format!(
            "the newest frame of {name:?} does not decode"
        ))),
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(png_response(png))
}

/// `GET /api/devices`: the device registry.
pub async fn list_devices(
    State(state): State<AppState>,
) -> Json<Vec<crate::ingest::registry::DeviceStatus>> {
    Json(
        state
            .cameras
            .registry
            .list(crate::clock::now().as_micros() / 1000),
    )
}

/// seed 001's `GET /status`: `{"camera_clients":N,"viewer_clients":M,"streaming":bool}`.
pub async fn seed_status(State(state): State<AppState>) -> Json<serde_json::Value> {
    let (cameras, viewers) = state.cameras.counts();
    Json(
        serde_json::json!({ "camera_clients": cameras, "viewer_clients": viewers, "streaming": cameras > 0 }),
    )
}

/// `GET /api/displays/{id}/preview.png`: the server's shadow of what the panel shows.
pub async fn display_preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let handle = state
        .displays
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no display {id:?} is connected")))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    handle
        .commands
        .send(DisplayCommand::Preview(tx))
        .await
        .map_err(|_| ApiError::Unavailable(format!("display {id:?} is disconnecting")))?;
    let img = tokio::time::timeout(Duration::from_secs(2), rx)
        .await
        .map_err(|_| ApiError::Unavailable(format!("display {id:?} did not answer")))?
        .map_err(|_| ApiError::Unavailable(format!("display {id:?} has no image yet")))?;
    let png = tokio::task::spawn_blocking(move || {
        pixelwire_media::png::panel_png(&img.image, img.format)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(png_response(png))
}

/// `GET /metrics`: OpenMetrics for scrapers that ask for it (Prometheus does), the Prometheus text
/// format 0.0.4 for everyone else ([`crate::metrics::Format::negotiate`]).
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = crate::metrics::Format::negotiate(accept);
    let body = state.metrics.encode_as(&state.bus.all(), format);
    (
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::VARY, "Accept"),
        ],
        body,
    )
        .into_response()
}
