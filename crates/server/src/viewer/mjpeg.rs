//! MJPEG over HTTP: `GET /api/streams/{name}/mjpeg` (`multipart/x-mixed-replace`, what `<img>`,
//! VLC, ffmpeg, Home Assistant and Frigate read) and `GET /api/streams/{name}/snapshot.jpg`. Camera
//! JPEGs pass through untouched; rendered frames are encoded once and shared. Each client gets the
//! newest frame whenever it is ready for one: a slow client skips frames. Without new frames the
//! newest is repeated every second (browsers display a part only when the next one begins).

use super::ViewerContext;
use crate::api_error::ApiError;
use crate::bus::StreamWatch;
use crate::metrics::ViewerCodec;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use std::convert::Infallible;

/// The multipart boundary.
pub const BOUNDARY: &str = "pixelwireframe";

/// Without a new frame for this long, the newest is sent again.
const REPEAT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

struct Client {
    watch: StreamWatch,
    _counted: crate::metrics::ViewerGuard,
}

/// `GET /api/streams/{name}/mjpeg`.
pub async fn mjpeg(
    State(ctx): State<ViewerContext>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let stream = ctx
        .bus
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no stream named {name:?}")))?;
    let client = Client {
        watch: stream.watch(),
        _counted: ctx.metrics.viewer(stream.name(), ViewerCodec::Mjpeg),
    };
    // Each part ends with the next boundary, so a browser shows it at once instead of waiting for
    // the next frame (a still image would otherwise never appear).
    let opening = futures_util::stream::once(async {
        Ok::<_, Infallible>(Bytes::from(format!("--{BOUNDARY}\r\n")))
    });
    let parts = futures_util::stream::unfold(client, |mut c| async move {
        loop {
            // Browsers show a part only when the next one starts, so without new frames the newest
            // is sent again every second (a still image appears, and idle proxies stay open).
            let frame = match tokio::time::timeout(REPEAT_AFTER, c.watch.next()).await {
                Ok(f) => f?,
                Err(_) => c.watch.stream().latest()?,
            };
            if let Some(jpeg) = frame.jpeg() {
                let head = format!(
                    "Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    jpeg.len()
                );
                let tail = format!("\r\n--{BOUNDARY}\r\n");
                let chunks = [Bytes::from(head), jpeg, Bytes::from(tail)];
                return Some((
                    futures_util::stream::iter(chunks.map(Ok::<_, Infallible>)),
                    c,
                ));
            }
        }
    })
    .flatten();
    let parts = opening.chain(parts);
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
    State(ctx): State<ViewerContext>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let frame = crate::bus::fresh_frame(&ctx.bus, &name).await?;
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
