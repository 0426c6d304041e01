//! The HTTP side: the web page, the JSON API, images and `/metrics`. [`app`] builds the router so
//! handlers are tested without sockets; [`serve`] runs it with graceful shutdown.

pub mod api;
pub mod error;
pub mod images;

use crate::state::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

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

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound("no such endpoint".into())
}

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/metrics", get(api::metrics))
        .route("/api/status", get(api::status))
        .route("/api/streams", get(api::list_streams))
        .route("/api/displays", get(api::list_displays))
        .route(
            "/api/streams/{name}/snapshot.png",
            get(api::stream_snapshot),
        )
        .route("/api/displays/{id}/preview.png", get(api::display_preview))
        .fallback(not_found)
        .with_state(state)
}

/// Serves `app` on `listener` until shutdown.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let mut shutdown = state.shutdown.clone();
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
}
