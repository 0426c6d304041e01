//! WebSocket cameras (seed 001, `seed-protocols.md` §B): one JPEG per binary message (fragmented
//! messages are reassembled by the WebSocket layer), pings answered, text ignored, no Origin
//! required. Served at `/ws/camera` and `/ws/camera/{name}` on the HTTP port, and at any path on
//! the extra camera ports (seed 001's Python server listened on 8765).
//!
//! **Stream name:** the `stream` query parameter, else the path after `/ws/camera` (or the whole
//! path on an extra port), else `ws-<ip>`: stable across reconnects of the same device.
//!
//! **Browsers on the camera endpoint:** seed 001's `client_mjpeg.html` connects to `/ws/camera`
//! and expects JPEGs. A peer whose `Origin` is `http(s)://…` that has sent no binary message is
//! therefore served as a viewer: it receives the newest JPEG of the most recently active camera,
//! one per message. Its first binary message makes it a camera.

use super::IngestContext;
use super::{Transport, name_for_address, stream_name};
use crate::metrics::DropReason;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;

/// Query parameters of the camera endpoint.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CameraQuery {
    /// Stream to publish into.
    pub stream: Option<String>,
    /// A publishing key of `[[api_keys]]` (or the `X-API-Key` header).
    pub key: Option<String>,
}

/// The stream a camera connection publishes into; see the module docs.
pub fn choose_stream(query: &CameraQuery, uri: &Uri, peer: SocketAddr) -> String {
    if let Some(s) = query.stream.as_deref().filter(|s| !s.trim().is_empty()) {
        return stream_name(s);
    }
    let path = uri.path();
    let rest = path
        .strip_prefix("/ws/camera")
        .unwrap_or(path)
        .trim_matches('/');
    if rest.is_empty() {
        name_for_address("ws", peer.ip())
    } else {
        stream_name(rest)
    }
}

fn is_browser(headers: &HeaderMap) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| o.starts_with("http://") || o.starts_with("https://"))
}

/// `GET /ws/camera[/{name}]` (and any path on the extra ports): upgrade to a camera connection.
pub async fn camera(
    State(ctx): State<IngestContext>,
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<CameraQuery>,
) -> Response {
    let stream = choose_stream(&query, &uri, peer);
    let browser = is_browser(&headers);
    let presented = query.key.as_deref().or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    });
    // A wrong key, a key for other streams, a stream owned by another key, or no key where
    // keys are required: refused before the upgrade, with the reason.
    let owner = match presented.map(|k| ctx.api_keys.check(Some(k))) {
        Some(None) => return refuse(&ctx, peer, StatusCode::UNAUTHORIZED, "invalid key"),
        Some(Some(g)) if !g.allows(&stream) => {
            return refuse(
                &ctx,
                peer,
                StatusCode::FORBIDDEN,
                "this key may not publish to this stream",
            );
        }
        Some(Some(g)) => Some(g.key()),
        None if ctx.cameras.settings.require_keys && !browser => {
            return refuse(
                &ctx,
                peer,
                StatusCode::UNAUTHORIZED,
                "publishing needs a key (?key= or X-API-Key): cameras.require_keys is on",
            );
        }
        None => None,
    };
    if let Err(e) = ctx.cameras.claim_check(&stream, owner) {
        return refuse(&ctx, peer, StatusCode::FORBIDDEN, &e.to_string());
    }
    let limit = ctx.cameras.settings.max_frame_bytes.get();
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| run(socket, ctx, peer, stream, browser, owner))
}

fn refuse(ctx: &IngestContext, peer: SocketAddr, status: StatusCode, why: &str) -> Response {
    ctx.cameras
        .dropped(Transport::WebSocket, DropReason::Unauthorized);
    tracing::info!(%peer, reason = why, "websocket camera refused");
    (status, format!("{why}\n")).into_response()
}

async fn newest_camera_jpeg(
    ctx: &IngestContext,
    watch: &mut Option<crate::bus::StreamWatch>,
) -> Bytes {
    loop {
        if watch.is_none() {
            match ctx.cameras.last_active() {
                Some(s) => *watch = Some(s.watch()),
                None => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        if let Some(w) = watch.as_mut() {
            match w.next().await {
                Some(f) => {
                    if let Some(j) = f.jpeg() {
                        return j;
                    }
                }
                None => *watch = None,
            }
        }
    }
}

async fn run(
    socket: WebSocket,
    ctx: IngestContext,
    peer: SocketAddr,
    stream: String,
    browser: bool,
    owner: Option<usize>,
) {
    let (mut tx, mut rx) = socket.split();
    let hub = ctx.cameras.clone();
    let mut viewer_guard = browser.then(|| hub.viewer_connected());
    let mut camera_guard = (!browser).then(|| hub.camera_connected());
    let mut source: Option<crate::bus::StreamWatch> = None;
    let mut shutdown = ctx.shutdown.clone();
    let feed = hub
        .feed(&stream, &stream, Transport::WebSocket, &peer.to_string())
        .with_owner(owner);
    if !browser {
        tracing::info!(%peer, %stream, "websocket camera connected");
    }
    loop {
        let viewing = viewer_guard.is_some();
        tokio::select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    if owner.is_none() && hub.settings.require_keys {
                        // A browser on the camera endpoint that starts publishing without a key.
                        let reason = "publishing needs a key: cameras.require_keys is on";
                        let _ = tx.send(Message::Close(Some(CloseFrame { code: 1008, reason: reason.into() }))).await;
                        hub.dropped(Transport::WebSocket, DropReason::Unauthorized);
                        break;
                    }
                    if viewer_guard.take().is_some() {
                        camera_guard = Some(hub.camera_connected());
                        source = None;
                        tracing::info!(%peer, %stream, "websocket peer started sending frames: now a camera");
                    }
                    // An invalid JPEG is counted and dropped; the connection goes on. Any other
                    // refusal ends it with the reason (every later frame would be refused too).
                    if let Err(e) = hub.publish_jpeg(&feed, data)
                        && e.ends_connection()
                    {
                        let code = e.close_code();
                        let reason: String = e.to_string().chars().take(120).collect();
                        let _ = tx.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                        tracing::warn!(%peer, %stream, error = %e, "closing websocket camera");
                        break;
                    }
                }
                Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    let text = e.to_string();
                    let too_big = text.contains("too long") || text.contains("too big") || text.contains("Capacity");
                    if too_big {
                        hub.dropped(Transport::WebSocket, DropReason::TooLarge);
                    }
                    let reason = if too_big { "message exceeds cameras.max_frame_bytes" } else { "protocol error" };
                    let code = if too_big { 1009 } else { 1002 };
                    let _ = tx.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    tracing::warn!(%peer, %stream, error = %text, "closing websocket camera");
                    break;
                }
            },
            jpeg = newest_camera_jpeg(&ctx, &mut source), if viewing => {
                if tx.send(Message::Binary(jpeg)).await.is_err() {
                    break;
                }
            }
            _ = shutdown.wait() => {
                let _ = tx.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server shutting down".into() }))).await;
                break;
            }
        }
    }
    if camera_guard.take().is_some() {
        tracing::info!(%peer, %stream, "websocket camera disconnected");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_name_rules() {
        let peer: SocketAddr = "192.168.1.20:5000".parse().unwrap();
        let q = |s: Option<&str>| CameraQuery {
            stream: s.map(str::to_string),
            key: None,
        };
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(
            choose_stream(&q(Some("Porch Cam")), &uri("/ws/camera"), peer),
            "porch-cam"
        );
        assert_eq!(
            choose_stream(&q(None), &uri("/ws/camera/garage"), peer),
            "garage"
        );
        assert_eq!(
            choose_stream(&q(None), &uri("/ws/camera"), peer),
            "ws-192-168-1-20"
        );
        assert_eq!(choose_stream(&q(None), &uri("/"), peer), "ws-192-168-1-20");
        assert_eq!(choose_stream(&q(None), &uri("/kitchen"), peer), "kitchen");
    }
}
