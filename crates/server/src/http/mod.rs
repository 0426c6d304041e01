//! The HTTP side: the web page, the JSON API, images and `/metrics`. [`app`] builds the router so
//! handlers are tested without sockets; [`serve`] runs it with graceful shutdown, on the `http`
//! listener and, over TLS, on the `https` one.

pub mod api;
pub mod dashboard;
pub mod display_route;
pub mod recording;
pub mod serve;
pub mod state;

#[cfg(test)]
mod router_tests;

use crate::viewer;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
pub use serve::{HttpLimits, serve_router};
pub use state::AppState;

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("../../../../web/index.html"),
    )
}

async fn app_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../../../web/app.js"),
    )
}

async fn style_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../../../web/style.css"),
    )
}

async fn viewer_page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("../../../../web/viewer.html"),
    )
}

async fn viewer_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../../../web/viewer.js"),
    )
}

async fn not_found() -> crate::api_error::ApiError {
    crate::api_error::ApiError::NotFound("no such endpoint".into())
}

/// The seed 002 HTTP device API (`crate::ingest::http_device`), with the frame size cap.
fn device_api(state: &AppState) -> Router<AppState> {
    use crate::ingest::http_device as dev;
    Router::new()
        .route("/api/v1/stream/stream", get(dev::probe).post(dev::stream))
        .route("/api/v1/devices/register", post(dev::register))
        .route("/api/v1/devices/heartbeat", post(dev::heartbeat))
        .route("/health", get(dev::probe))
        .layer(DefaultBodyLimit::max(
            state.cameras.settings.max_frame_bytes.get(),
        ))
}

/// seed 001's single-camera MJPEG page: the viewer of the most recently active camera.
async fn seed_mjpeg_page(State(state): State<AppState>) -> Response {
    match state.cameras.last_active() {
        Some(s) => {
            Redirect::temporary(&format!("/streams/{}?codec=mjpeg", s.name())).into_response()
        }
        None => crate::api_error::ApiError::Unavailable("no camera is connected yet".into())
            .into_response(),
    }
}

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/viewer.js", get(viewer_js))
        .route("/streams/{name}", get(viewer_page))
        .route("/metrics", get(api::metrics))
        .route("/api/status", get(api::status))
        .route("/api/streams", get(api::list_streams))
        .route("/api/displays", get(api::list_displays))
        .route("/api/devices", get(api::list_devices))
        .route(
            "/api/streams/{name}/snapshot.png",
            get(api::stream_snapshot),
        )
        .route(
            "/api/streams/{name}/snapshot.jpg",
            get(viewer::mjpeg::snapshot),
        )
        .route("/api/streams/{name}/mjpeg", get(viewer::mjpeg::mjpeg))
        .route("/api/streams/{name}/dashboard", get(dashboard::dashboard))
        .route("/api/streams/{name}/ws", get(viewer::ws::stream))
        .route(
            "/api/streams/{name}/whep",
            post(crate::whep::http::offer)
                .layer(DefaultBodyLimit::max(crate::whep::http::MAX_BODY_BYTES)),
        )
        .route(
            "/api/streams/{name}/whep/{session}",
            axum::routing::delete(crate::whep::http::delete),
        )
        .route("/api/webrtc", get(crate::whep::http::info))
        .route(
            "/api/displays/{id}",
            get(display_route::get_display)
                .put(display_route::put_display)
                .patch(display_route::put_display)
                .layer(DefaultBodyLimit::max(display_route::MAX_BODY_BYTES)),
        )
        .route("/api/displays/{id}/preview.png", get(api::display_preview))
        .route(
            "/api/streams/{name}/recordings",
            get(recording::list).delete(recording::delete),
        )
        .route("/api/streams/{name}/recording.mp4", get(recording::media))
        .route(
            "/api/streams/{name}/recording",
            post(recording::control).layer(DefaultBodyLimit::max(recording::MAX_BODY_BYTES)),
        )
        .route("/ws/camera", get(crate::ingest::ws::camera))
        .route("/ws/camera/{name}", get(crate::ingest::ws::camera))
        .route("/ws/viewer", get(viewer::ws::compat))
        .route("/status", get(api::seed_status))
        .route("/mjpeg", get(seed_mjpeg_page))
        .merge(device_api(&state))
        .fallback(not_found)
        .with_state(state)
}

/// An extra WebSocket camera port: any path is a camera connection (seed 001's port 8765).
pub fn camera_port(state: AppState) -> Router {
    Router::new()
        .fallback(get(crate::ingest::ws::camera))
        .with_state(state)
}

/// An extra seed 001 viewer port: any path is a viewer connection (port 8766).
pub fn viewer_port(state: AppState) -> Router {
    Router::new()
        .fallback(get(viewer::ws::compat))
        .with_state(state)
}

/// An extra port for the HTTP device API (seed 002 devices have 9005 baked in).
pub fn device_port(state: AppState) -> Router {
    device_api(&state).fallback(not_found).with_state(state)
}

/// Serves `app` on `listener` until shutdown, with the `[server]` limits; over TLS with the
/// server's certificate when `https` (`server.https`, `crate::tls`).
pub async fn serve(listener: tokio::net::TcpListener, state: AppState, https: bool) {
    let shutdown = state.shutdown.clone();
    let limits = HttpLimits::from(&state.cfg.server);
    let metrics = state.metrics.clone();
    let (what, tls) = match (https, &state.tls) {
        (true, Some(t)) => ("https", Some(t.acceptor.clone())),
        _ => ("http", None),
    };
    serve_router(listener, app(state), limits, metrics, shutdown, what, tls).await;
}
