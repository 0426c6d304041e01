//! MJPEG over HTTP: `GET /api/streams/{name}/mjpeg` (`multipart/x-mixed-replace`, what `<img>`,
//! VLC, ffmpeg, Home Assistant and Frigate read) and `GET /api/streams/{name}/snapshot.jpg`. Camera
//! JPEGs pass through untouched; rendered frames are encoded once and shared. Each client gets the
//! newest frame whenever it is ready for one: a slow client skips frames. "Ready" is asked of the
//! socket ([`SendQueue`]): while it holds `server.send_queue_bytes` unsent, no part is queued, and
//! once it drains the newest frame goes out, so a reader that stalls resumes at the live edge
//! instead of reading the backlog. Without new frames the newest is repeated every second
//! (browsers display a part only when the next one begins). A stream with no frame yet (a camera
//! declared in the config, right after a restart) keeps the response open until its first frame.

use super::{DRAIN_POLL, ViewerContext};
use crate::api_error::ApiError;
use crate::bus::StreamWatch;
use crate::listener::SendQueue;
use crate::metrics::ViewerCodec;
use axum::Extension;
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
    queue: SendQueue,
    stalled_limit: std::time::Duration,
    skips: super::SkipCounter,
    _counted: crate::metrics::ViewerGuard,
}

/// `GET /api/streams/{name}/mjpeg`.
pub async fn mjpeg(
    State(ctx): State<ViewerContext>,
    Path(name): Path<String>,
    queue: Option<Extension<SendQueue>>,
) -> Result<Response, ApiError> {
    let stream = ctx
        .bus
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no stream named {name:?}")))?;
    let client = Client {
        watch: stream.watch(),
        queue: queue.map(|Extension(q)| q).unwrap_or_default(),
        stalled_limit: ctx.stalled_limit,
        skips: super::SkipCounter::new(ctx.metrics.viewer_skips(stream.name(), ViewerCodec::Mjpeg)),
        _counted: ctx.metrics.viewer(stream.name(), ViewerCodec::Mjpeg),
    };
    // Each part ends with the next boundary, so a browser shows it at once instead of waiting for
    // the next frame (a still image would otherwise never appear).
    let opening = futures_util::stream::once(async {
        Ok::<_, Infallible>(Bytes::from(format!("--{BOUNDARY}\r\n")))
    });
    let parts = futures_util::stream::unfold(client, |mut c| async move {
        loop {
            // Nothing is queued behind a backlog: once the socket drains, the newest frame goes.
            // A reader that never drains it is cut off (the body ends, the socket is shut down).
            if c.queue.drained(DRAIN_POLL, c.stalled_limit).await.is_err() {
                tracing::debug!(
                    stream = c.watch.stream().name(),
                    "mjpeg reader stopped reading; cut off"
                );
                return None;
            }
            // Browsers show a part only when the next one starts, so without new frames the newest
            // is sent again every second (a still image appears, and idle proxies stay open).
            // `next` ends only when the stream is gone; with no frame yet, keep waiting.
            let frame = match tokio::time::timeout(REPEAT_AFTER, c.watch.next()).await {
                Ok(f) => f?,
                Err(_) => match c.watch.stream().latest() {
                    Some(f) => f,
                    None => continue,
                },
            };
            if let Some(jpeg) = frame.jpeg() {
                c.skips.sent(frame.seq);
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
    // A camera's JPEG passes through untouched, but one that does not decode is refused like
    // `snapshot.png` refuses it (503), not served as an image that cannot be shown. The check is
    // the I420 decode (1.5 bytes a pixel, cached in the frame and shared with the H.264 encoder).
    let jpeg = tokio::task::spawn_blocking(move || {
        let decodes = !frame.is_jpeg() || frame.i420().is_some();
        decodes.then(|| frame.jpeg()).flatten()
    })
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
