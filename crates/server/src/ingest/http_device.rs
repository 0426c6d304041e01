//! The HTTP device API of seed 002 (`seed-protocols.md` §C), answered exactly as its firmware
//! expects: status `200 OK` with a small JSON body for success (anything else counts as failure on
//! the device), 400/401/403/404/413 with a JSON `{"error": ...}` otherwise.
//!
//! * `POST /api/v1/stream/stream`: a frame, by `Content-Type`: `multipart/form-data` (field
//!   `image`, else the first file part), `image/jpeg` (the raw body), `application/octet-stream`
//!   with `X-Frame-Format: RGB565`, `X-Frame-Width`, `X-Frame-Height` (big-endian RGB565,
//!   `w*h*2` bytes), `application/json` (the firmware's connectivity test: 200).
//! * `GET /api/v1/stream/stream`: the boot connectivity probe (200).
//! * `POST /api/v1/devices/register` and `/heartbeat`: JSON (or form) bodies; a heartbeat from a
//!   device that never registered gets 404, so the firmware registers again at its next tick.
//! * `GET /health`.
//!
//! Every request must carry a configured `X-API-Key` (constant-time check); the key must allow the
//! device. The device is named by `X-Device-Id`, `Device-Id`, a `deviceId` form field, the
//! registered device at the peer's address, else `unknown_device`; its stream is its id, lowercased.

use super::IngestContext;
use super::{Transport, device_fields, stream_name};
use crate::metrics::DropReason;
use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pixelwire_media::MediaFrame;
use serde_json::{Value, json};
use std::net::SocketAddr;

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn error(status: StatusCode, text: &str) -> Response {
    reply(status, json!({ "error": text }))
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A request refused: status and reason (turned into the JSON error response by [`refused`]).
type Refusal = (StatusCode, String);

fn refused((status, text): Refusal) -> Response {
    error(status, &text)
}

/// The key check.
fn authorise(
    ctx: &IngestContext,
    headers: &HeaderMap,
    device: Option<&str>,
) -> Result<super::auth::Grant, Refusal> {
    let Some(grant) = ctx.api_keys.check(header_str(headers, "x-api-key")) else {
        ctx.cameras
            .dropped(Transport::Http, DropReason::Unauthorized);
        tracing::info!("HTTP device request with a missing or wrong X-API-Key");
        return Err((
            StatusCode::UNAUTHORIZED,
            "invalid or missing X-API-Key".into(),
        ));
    };
    if let Some(d) = device
        && !grant.allows(d)
    {
        ctx.cameras
            .dropped(Transport::Http, DropReason::Unauthorized);
        return Err((
            StatusCode::FORBIDDEN,
            "this API key may not publish as this device".into(),
        ));
    }
    Ok(grant)
}

/// A refused device field: 400 with the rule, and a log line with the value escaped.
fn refuse_field(e: &device_fields::FieldError, raw: &str) -> Refusal {
    let shown: String = raw.chars().take(80).collect();
    tracing::warn!(value = ?shown, len = raw.len(), error = %e, "device field refused");
    (StatusCode::BAD_REQUEST, e.to_string())
}

fn device_id(
    ctx: &IngestContext,
    headers: &HeaderMap,
    form_id: Option<String>,
    peer: SocketAddr,
) -> Result<String, Refusal> {
    let sent = header_str(headers, "x-device-id")
        .or_else(|| header_str(headers, "device-id"))
        .map(str::to_string)
        .or(form_id);
    match sent {
        Some(raw) => device_fields::device_id(&raw)
            .map(str::to_string)
            .map_err(|e| refuse_field(&e, &raw)),
        None => Ok(ctx
            .cameras
            .registry
            .id_by_ip(&peer.ip().to_string())
            .unwrap_or_else(|| "unknown_device".to_string())),
    }
}

fn now_ms() -> u64 {
    crate::clock::now().as_micros() / 1000
}

/// `GET /api/v1/stream/stream` and `GET /health`.
pub async fn probe() -> Response {
    reply(StatusCode::OK, json!({ "status": "healthy" }))
}

/// `POST /api/v1/stream/stream`.
pub async fn stream(
    State(ctx): State<IngestContext>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    // Reject a wrong key before reading a (possibly large) body.
    if let Err(r) = authorise(&ctx, &headers, None) {
        return refused(r);
    }
    let ctype = header_str(&headers, header::CONTENT_TYPE.as_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let too_large = |ctx: &IngestContext| {
        ctx.cameras.dropped(Transport::Http, DropReason::TooLarge);
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "frame exceeds cameras.max_frame_bytes",
        )
    };
    let (data, form_id) = if ctype.starts_with("multipart/form-data") {
        let mut mp = match Multipart::from_request(req, &ctx).await {
            Ok(m) => m,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad multipart body: {e}")),
        };
        let (mut image, mut first_file, mut form_id) = (None, None, None);
        loop {
            match mp.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().map(str::to_string);
                    let is_file = field.file_name().is_some();
                    let bytes = match field.bytes().await {
                        Ok(b) => b,
                        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                            return too_large(&ctx);
                        }
                        Err(e) => {
                            return error(
                                StatusCode::BAD_REQUEST,
                                &format!("bad multipart body: {e}"),
                            );
                        }
                    };
                    match name.as_deref() {
                        Some("image") => image = Some(bytes),
                        Some("deviceId") => {
                            form_id = Some(String::from_utf8_lossy(&bytes).trim().to_string())
                        }
                        _ if is_file && first_file.is_none() => first_file = Some(bytes),
                        _ => {}
                    }
                }
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(&ctx),
                Err(e) => {
                    return error(StatusCode::BAD_REQUEST, &format!("bad multipart body: {e}"));
                }
            }
        }
        (image.or(first_file), form_id)
    } else if ctype.starts_with("application/json") {
        // The firmware's connectivity test (`{"test":"ESP32-camera-connectivity",...}`).
        return reply(
            StatusCode::OK,
            json!({ "status": "ok", "message": "connectivity test received" }),
        );
    } else {
        match Bytes::from_request(req, &ctx).await {
            Ok(b) => (Some(b), None),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(&ctx),
            Err(e) => return error(StatusCode::BAD_REQUEST, &e.body_text()),
        }
    };
    let device = match device_id(&ctx, &headers, form_id, peer) {
        Ok(d) => d,
        Err(r) => return refused(r),
    };
    let grant = match authorise(&ctx, &headers, Some(&device)) {
        Ok(g) => g,
        Err(r) => return refused(r),
    };
    let Some(data) = data.filter(|d| !d.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "No image provided");
    };
    let stream = stream_name(&device);
    let hub = &ctx.cameras;
    let feed = hub
        .feed(&device, &stream, Transport::Http, &peer.to_string())
        .with_owner(Some(grant.key()));
    if ctype.starts_with("application/octet-stream") {
        let format = header_str(&headers, "x-frame-format").unwrap_or("");
        let dim = |n: &str| {
            header_str(&headers, n)
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|v| (1..=8192).contains(v))
        };
        let (Some(w), Some(h)) = (dim("x-frame-width"), dim("x-frame-height")) else {
            return error(
                StatusCode::BAD_REQUEST,
                "X-Frame-Width and X-Frame-Height are required (1..=8192)",
            );
        };
        if !format.eq_ignore_ascii_case("RGB565") {
            return error(StatusCode::BAD_REQUEST, "X-Frame-Format must be RGB565");
        }
        if data.len() != (w * h * 2) as usize {
            hub.dropped(Transport::Http, DropReason::BadLength);
            return error(
                StatusCode::BAD_REQUEST,
                &format!("RGB565 body must be {} bytes for {w}x{h}", w * h * 2),
            );
        }
        let rgba: Vec<u8> = data
            .chunks_exact(2)
            .flat_map(|p| {
                let [r, g, b] = pixelwire_proto::rgb565_to_rgb888(u16::from_be_bytes([p[0], p[1]]));
                [r, g, b, 255]
            })
            .collect();
        // `publish` numbers it.
        let frame = MediaFrame::from_rgba(w, h, rgba, 0, crate::clock::now().as_micros());
        if let Err(e) = hub.publish(&feed, frame, data.len() as u64) {
            return refused_frame(&e);
        }
    } else if let Err(e) = hub.publish_jpeg(&feed, data) {
        return refused_frame(&e);
    }
    reply(
        StatusCode::OK,
        json!({ "message": "Frame received", "deviceId": device, "stream": stream }),
    )
}

/// A frame the hub refused: 413 over the pixel limit, 429 beyond the stream or device limits
/// (try later, when pushed streams have expired), 400 for a broken JPEG.
fn refused_frame(e: &super::Refused) -> Response {
    use super::Refused;
    match e {
        Refused::TooManyPixels { .. } => error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
        Refused::StreamLimit { .. } | Refused::DeviceLimit { .. } => {
            error(StatusCode::TOO_MANY_REQUESTS, &e.to_string())
        }
        Refused::NotOwner { .. } => error(StatusCode::FORBIDDEN, &e.to_string()),
        Refused::Jpeg(_) => error(
            StatusCode::BAD_REQUEST,
            &format!("not a complete JPEG: {e}"),
        ),
    }
}

/// A JSON or form-urlencoded body as a JSON object.
async fn body_fields(ctx: &IngestContext, req: Request) -> Result<Value, Refusal> {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let bytes = Bytes::from_request(req, ctx)
        .await
        .map_err(|e| (e.status(), e.body_text()))?;
    if form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad form body: {e}")))?;
        Ok(Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ))
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// What register and heartbeat share: a valid key before the body is read, the body, its
/// `deviceId` (`missing` is the firmware's expected message when it is absent), and a key that
/// covers that device.
async fn device_request(
    ctx: &IngestContext,
    req: Request,
    missing: &str,
) -> Result<(Value, String), Response> {
    let headers = req.headers().clone();
    authorise(ctx, &headers, None).map_err(refused)?;
    let body = body_fields(ctx, req).await.map_err(refused)?;
    let raw = text(&body, "deviceId").ok_or_else(|| error(StatusCode::BAD_REQUEST, missing))?;
    let id = device_fields::device_id(&raw)
        .map_err(|e| refused(refuse_field(&e, &raw)))?
        .to_string();
    authorise(ctx, &headers, Some(&id)).map_err(refused)?;
    Ok((body, id))
}

/// `POST /api/v1/devices/register`.
pub async fn register(
    State(ctx): State<IngestContext>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (body, id) = match device_request(&ctx, req, "Missing required fields").await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let fields = (|| {
        let listed = body.get("capabilities").and_then(Value::as_array);
        if listed.is_some_and(|a| a.len() > device_fields::MAX_CAPABILITIES) {
            return Err(device_fields::FieldError::TooManyCapabilities);
        }
        let capabilities = listed
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|c| device_fields::text("a capability", c).map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        let name = match text(&body, "deviceName") {
            Some(n) => device_fields::text("deviceName", &n)?.to_string(),
            None => id.clone(),
        };
        let kind = match text(&body, "deviceType") {
            Some(k) => device_fields::text("deviceType", &k)?.to_string(),
            None => "camera".to_string(),
        };
        Ok((capabilities, name, kind))
    })();
    let (capabilities, name, kind) = match fields {
        Ok(f) => f,
        Err(e) => return refused(refuse_field(&e, &id)),
    };
    ctx.cameras.registry.register(
        &id,
        &name,
        &kind,
        &peer.ip().to_string(),
        capabilities,
        now_ms(),
    );
    tracing::info!(device = ?id, %peer, "device registered");
    // The answer is what the registry holds.
    let stream = ctx
        .cameras
        .registry
        .stream_of(&id)
        .unwrap_or_else(|| stream_name(&id));
    reply(
        StatusCode::OK,
        json!({ "success": true, "deviceId": id, "stream": stream }),
    )
}

/// `POST /api/v1/devices/heartbeat`.
pub async fn heartbeat(State(ctx): State<IngestContext>, req: Request) -> Response {
    let (body, id) = match device_request(&ctx, req, "Device ID required").await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let num = |k: &str| body.get(k).and_then(Value::as_i64);
    let known = ctx.cameras.registry.heartbeat(
        &id,
        num("uptime").and_then(|v| u64::try_from(v).ok()),
        num("freeHeap").and_then(|v| u64::try_from(v).ok()),
        num("wifiRssi"),
        now_ms(),
    );
    if !known {
        return error(StatusCode::NOT_FOUND, "Device not registered");
    }
    reply(
        StatusCode::OK,
        json!({ "message": "Heartbeat received", "status": "success" }),
    )
}
