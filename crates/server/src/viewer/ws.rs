//! The browser viewer WebSocket (`docs/api.md`): `GET /api/streams/{name}/ws?codec=h264|jpeg`, and
//! seed 001's `/ws/viewer` (and any path on the viewer ports), which shows the most recently
//! active camera. The first message is a JSON hello; then one binary message per frame
//! ([`super::message`]). The client sends `{"type":"ping","id":n}` (answered with the server clock,
//! for its clock-offset estimate), `{"type":"keyframe"}` and `{"type":"report",…}` ([`report`]:
//! what the page measured, recorded under the stream and codec this socket serves).
//!
//! H.264 viewers start at a keyframe (one is requested when they join) and, when they fall behind,
//! skip to the next keyframe instead of buffering: always at the live edge. "Behind" is asked of
//! the socket too ([`SendQueue`]): while it holds `server.send_queue_bytes` unsent, frames are not
//! written but skipped (counted in `pixelwire_viewer_skipped_frames_total`); once it drains, a JPEG
//! viewer gets the newest frame and an H.264 viewer asks for a keyframe (rate-limited by the hub)
//! and resumes there. An H.264 viewer of a stream the encoder refuses (its size) is told so in a
//! text message `{"type":"error","error":…,"fallback":"jpeg"}`, and the page switches to JPEG.

use super::ViewerContext;
use super::report;
use crate::api_error::ApiError;
use crate::bus::Stream;
use crate::encoded::Start;
use crate::listener::SendQueue;
use crate::metrics::ConsumerKind;
use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Which encoding a viewer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerCodec {
    /// H.264 access units for WebCodecs.
    H264,
    /// One JPEG per frame.
    Jpeg,
}

impl ViewerCodec {
    /// What the viewer metrics count it as.
    fn label(self) -> crate::metrics::ViewerCodec {
        match self {
            Self::H264 => crate::metrics::ViewerCodec::H264,
            Self::Jpeg => crate::metrics::ViewerCodec::Jpeg,
        }
    }
}

/// Query of the viewer endpoint.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ViewerQuery {
    /// "h264" (default) or "jpeg".
    pub codec: Option<String>,
}

/// `GET /api/streams/{name}/ws`.
pub async fn stream(
    State(ctx): State<ViewerContext>,
    Path(name): Path<String>,
    Query(q): Query<ViewerQuery>,
    queue: Option<Extension<SendQueue>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // The stream first, so an unknown name is 404 whether or not the request is an upgrade.
    let stream = ctx
        .bus
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no stream named {name:?}")))?;
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let codec = if q.codec.as_deref() == Some("jpeg") {
        ViewerCodec::Jpeg
    } else {
        ViewerCodec::H264
    };
    let queue = queue.map(|Extension(q)| q).unwrap_or_default();
    Ok(small_reads(ws).on_upgrade(move |socket| run(socket, ctx, stream, codec, queue)))
}

/// Viewers only send small JSON (pings, keyframe requests, reports of at most 8 KiB): a 4 KiB read buffer instead of
/// tungstenite's 128 KiB, which it keeps zero-filled and resident for every socket, and a 64 KiB
/// message cap.
fn small_reads(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(4096)
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
}

/// seed 001's `/ws/viewer`: H.264 of the most recently active camera (waits for one).
pub async fn compat(
    State(ctx): State<ViewerContext>,
    queue: Option<Extension<SendQueue>>,
    ws: WebSocketUpgrade,
) -> Response {
    let queue = queue.map(|Extension(q)| q).unwrap_or_default();
    small_reads(ws).on_upgrade(move |socket| async move {
        let mut sd = ctx.shutdown.clone();
        let stream = loop {
            if let Some(s) = ctx.cameras.last_active() {
                break s;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = sd.wait() => return,
            }
        };
        run(socket, ctx, stream, ViewerCodec::H264, queue).await;
    })
}

async fn run(
    socket: WebSocket,
    ctx: ViewerContext,
    stream: Arc<Stream>,
    codec: ViewerCodec,
    queue: SendQueue,
) {
    let (mut tx, mut rx) = socket.split();
    let _guard = ctx.cameras.viewer_connected();
    let _counted = ctx.metrics.viewer(stream.name(), codec.label());
    let mut skips = super::SkipCounter::new(ctx.metrics.viewer_skips(stream.name(), codec.label()));
    let limit = ctx.stalled_limit;
    let mut reports = Reports {
        metrics: ctx.metrics.viewer_reports(stream.name(), codec.label()),
        codec: codec.label(),
        rejected: 0,
    };
    let (w, h) = stream.latest().map_or((0, 0), |f| (f.width, f.height));
    let hello = json!({
        "type": "hello", "stream": stream.name(), "codec": codec.label().as_str(),
        "width": w, "height": h, "codec_string": "avc1.42E01E",
    });
    let mut sd = ctx.shutdown.clone();
    if send(
        &mut tx,
        Message::Text(hello.to_string().into()),
        limit,
        &queue,
    )
    .await
    {
        // A browser wants the live edge: it starts at a fresh keyframe (which subscribing asks
        // for), not at the ring's, which could be up to a GOP old.
        let mut sub = (codec == ViewerCodec::H264).then(|| {
            ctx.encoders
                .get(&stream, &ctx.metrics)
                .subscribe(ConsumerKind::WebCodecs, Start::Live)
        });
        let hub = sub.as_ref().map(|s| s.encoder.clone());
        let backlog = sub
            .as_mut()
            .map(|s| std::mem::take(&mut s.backlog))
            .unwrap_or_default();
        let mut units = sub.as_mut().map(|s| &mut s.units);
        let mut failure = hub.as_ref().map(|h| {
            let mut f = h.failure();
            // A failure known before this viewer came is news to it.
            f.mark_changed();
            f
        });
        let mut frames = (codec == ViewerCodec::Jpeg).then(|| stream.watch());
        // A fresh keyframe from the ring (at most KEYFRAME_REQUEST_INTERVAL old) and what
        // followed it: the picture at once, without waiting for a forced IDR.
        let mut need_keyframe = backlog.is_empty();
        for u in &backlog {
            if !send(&mut tx, Message::Binary(u.message.clone()), limit, &queue).await {
                return;
            }
        }
        // H.264: units were skipped; a keyframe is asked for once the socket drains.
        let mut behind = false;
        // JPEG: the newest message, held back while the socket drains.
        let mut held: Option<(u64, bytes::Bytes)> = None;
        // Since when the socket has been backed up, checked on each drain check.
        let mut backed_up_since: Option<tokio::time::Instant> = None;
        let mut drain_check = tokio::time::interval(super::DRAIN_POLL);
        drain_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let out = tokio::select! {
                u = async { match units.as_mut() { Some(u) => u.recv().await, None => std::future::pending().await } } => match u {
                    Ok(u) if need_keyframe && !u.keyframe => None,
                    Ok(_) if queue.backed_up() => {
                        // Written now, it would wait behind the backlog: skip it, and since the
                        // next units depend on it, resume at a keyframe.
                        skips.metrics.skipped();
                        need_keyframe = true;
                        behind = true;
                        None
                    }
                    Ok(u) => {
                        need_keyframe = false;
                        Some(u.message.clone())
                    }
                    Err(RecvError::Lagged(n)) => {
                        // Fell behind: skip to the next keyframe rather than decode with gaps.
                        skips.metrics.skipped_n(n);
                        need_keyframe = true;
                        behind = true;
                        None
                    }
                    Err(RecvError::Closed) => break,
                },
                f = async { match frames.as_mut() { Some(w) => w.next().await, None => std::future::pending().await } } => match f {
                    Some(f) => match f.viewer_jpeg_message() {
                        Some(m) if queue.backed_up() => {
                            held = Some((f.seq, m));
                            None
                        }
                        Some(m) => {
                            held = None;
                            skips.sent(f.seq);
                            Some(m)
                        }
                        None => None,
                    },
                    None => break,
                },
                _ = drain_check.tick(), if behind || held.is_some() => {
                    if queue.backed_up() {
                        let since = *backed_up_since.get_or_insert_with(tokio::time::Instant::now);
                        if since.elapsed() >= limit {
                            tracing::debug!(stream = stream.name(), "viewer stopped reading; cut off");
                            queue.cut_off();
                            break;
                        }
                        None
                    } else {
                        backed_up_since = None;
                        if std::mem::take(&mut behind) && let Some(h) = &hub {
                            h.request_keyframe();
                        }
                        held.take().map(|(seq, m)| { skips.sent(seq); m })
                    }
                },
                r = async { match failure.as_mut() { Some(f) => f.changed().await, None => std::future::pending().await } } => {
                    let why = match (r, failure.as_mut()) {
                        (Ok(()), Some(f)) => f.borrow_and_update().clone(),
                        // The hub lives as long as this viewer holds it.
                        _ => { failure = None; None }
                    };
                    if let Some(why) = why {
                        // The encoder logs its failures (rate-limited); this is per viewer.
                        tracing::debug!(stream = stream.name(), reason = %why, "h264 viewer told the stream cannot be encoded");
                        let msg = json!({ "type": "error", "error": &*why, "fallback": "jpeg" });
                        if !send(&mut tx, Message::Text(msg.to_string().into()), limit, &queue).await { break; }
                    }
                    None
                },
                m = rx.next() => match m {
                    Some(Ok(Message::Text(t))) => {
                        let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                        match v.get("type").and_then(|t| t.as_str()) {
                            Some("ping") => {
                                let pong = json!({ "type": "pong", "id": v.get("id"), "server_us": crate::clock::now().as_micros() });
                                if !send(&mut tx, Message::Text(pong.to_string().into()), limit, &queue).await { break; }
                            }
                            Some("keyframe") => if let Some(h) = &hub { h.request_keyframe(); },
                            Some("report") => reports.handle(&t, stream.name()),
                            _ => {}
                        }
                        None
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => None,
                },
                _ = sd.wait() => {
                    let _ = tx.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server shutting down".into() }))).await;
                    break;
                }
            };
            if let Some(msg) = out
                && !send(&mut tx, Message::Binary(msg), limit, &queue).await
            {
                break;
            }
        }
    }
}

/// Sends `msg`; false when the viewer is done: the socket failed, or did not take the message
/// within `limit` (the peer stopped reading mid-message; its socket is then shut down).
async fn send(
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    msg: Message,
    limit: Duration,
    queue: &SendQueue,
) -> bool {
    match tokio::time::timeout(limit, tx.send(msg)).await {
        Ok(r) => r.is_ok(),
        Err(_) => {
            tracing::debug!("viewer stopped reading; cut off");
            queue.cut_off();
            false
        }
    }
}

/// Records one socket's reports ([`report`]) and logs the ones refused: the 1st, 2nd, 4th, 8th, …
/// of a connection at warn, the others at debug, so a page that sends garbage every second does
/// not flood the log.
struct Reports {
    metrics: crate::metrics::ViewerReportMetrics,
    codec: crate::metrics::ViewerCodec,
    rejected: u64,
}

impl Reports {
    fn handle(&mut self, text: &str, stream: &str) {
        match report::parse(text, self.codec) {
            Ok(r) => {
                if r.discarded_samples > 0 {
                    tracing::debug!(
                        stream,
                        discarded = r.discarded_samples,
                        "viewer report: latency samples over the limit left out"
                    );
                }
                self.metrics.report(&r.latencies, r.decoded, r.dropped);
            }
            Err(e) => {
                self.metrics.rejected(e.reason());
                self.rejected += 1;
                if self.rejected.is_power_of_two() {
                    tracing::warn!(stream, error = %e, rejected = self.rejected, "viewer report refused");
                } else {
                    tracing::debug!(stream, error = %e, rejected = self.rejected, "viewer report refused");
                }
            }
        }
    }
}
