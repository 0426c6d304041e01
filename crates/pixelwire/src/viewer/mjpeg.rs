//! MJPEG over HTTP: `GET /api/streams/{name}/mjpeg` (`multipart/x-mixed-replace`, what `<img>`,
//! VLC, ffmpeg, Home Assistant and Frigate read) and `GET /api/streams/{name}/snapshot.jpg`. Camera
//! JPEGs pass through untouched; rendered frames are encoded once and shared. Each client gets the
//! newest frame whenever it is ready for one: a slow client skips frames.

use crate::bus::StreamWatch;
use crate::http::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use std::convert::Infallible;

/// The multipart boundary.
pub const BOUNDARY: &str = "pixelwireframe";

struct Client {
    watch: StreamWatch,
    metrics: crate::metrics::Metrics,
    stream: String,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.metrics.viewer(&self.stream, "mjpeg", -1);
    }
}

/// `GET /api/streams/{name}/mjpeg`.
pub async fn mjpeg(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let stream = state
        .bus
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no stream named {name:?}")))?;
    state.metrics.viewer(stream.name(), "mjpeg", 1);
    let client = Client {
        watch: stream.watch(),
        metrics: state.metrics.clone(),
        stream: stream.name().to_string(),
    };
    let parts = futures_util::stream::unfold(client, |mut c| async move {
        loop {
            let frame = c.watch.next().await?;
            if let Some(jpeg) = frame.jpeg() {
                let head = format!(
                    "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    jpeg.len()
                );
                let chunks = [Bytes::from(head), jpeg, Bytes::from_static(b"\r\n")];
                return Some((
                    futures_util::stream::iter(chunks.map(Ok::<_, Infallible>)),
                    c,
                ));
            }
        }
    })
    .flatten();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                format!("multipart/x-mixed-replace; boundary={BOUNDARY}"),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(parts),
    )
        .into_response())
}

/// `GET /api/streams/{name}/snapshot.jpg`.
pub async fn snapshot(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let frame = crate::http::api::fresh_frame(&state, &name).await?;
    let jpeg = tokio::task::spawn_blocking(move || frame.jpeg())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| {
            ApiError::Unavailable(format!("the newest frame of {name:?} does not decode"))
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        jpeg,
    )
        .into_response())
}
