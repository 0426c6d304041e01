//! The recordings API (`docs/api.md`, "Recordings"; `docs/recording.md`):
//!
//! * `GET /api/streams/{name}/recordings`: the recorded spans and files (JSON);
//! * `GET /api/streams/{name}/recording.mp4?start=RFC3339&duration=SECONDS`: that range as one
//!   MP4 with HTTP Range requests (RFC 9110 §14: `206` with `Content-Range` for one range, `416`
//!   for a range outside the file; several ranges get the whole file, as the RFC allows), so a
//!   browser seeks in it;
//! * `DELETE /api/streams/{name}/recordings?start=&end=`: deletes the closed files wholly inside
//!   the span (the file being written is never deleted);
//! * `POST /api/streams/{name}/recording` with `{"action": "start"}` or `{"action": "stop"}`:
//!   starts or stops an `on_demand` recording.
//!
//! Like the viewers, these take no key; they are served under the same connection limits.

use crate::api_error::ApiError;
use crate::record::{ControlError, RecordContext, StreamRecorder, rfc3339};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// Largest body of a `POST .../recording`.
pub const MAX_BODY_BYTES: usize = 1024;

/// Bytes read from disk per chunk of a response body.
const CHUNK_BYTES: u64 = 1 << 20;

/// Longest range served at once, seconds (the `sidx` limit is 65535 fragments).
const MAX_DURATION_S: f64 = 65_535.0;

fn recorder(ctx: &RecordContext, name: &str) -> Result<Arc<StreamRecorder>, ApiError> {
    ctx.recordings.get(name).ok_or_else(|| {
        if ctx.bus.get(name).is_some() {
            // A stream pushed by a camera: it exists, and it is not recorded.
            ApiError::NotFound(format!(
                "stream {name:?} is not recorded (only [[streams]] entries with record = \"always\" or \"on_demand\" are)"
            ))
        } else {
            ApiError::NotFound(format!("no stream named {name:?}"))
        }
    })
}

fn parse_time(key: &str, v: &str) -> Result<u64, ApiError> {
    let t = chrono::DateTime::parse_from_rfc3339(v).map_err(|e| {
        ApiError::BadRequest(format!(
            "{key}={v:?} is not an RFC 3339 time (2026-12-07T16:40:00Z): {e}"
        ))
    })?;
    u64::try_from(t.timestamp_micros())
        .map_err(|_| ApiError::BadRequest(format!("{key}={v:?} is before 1970")))
}

fn query<T: for<'de> Deserialize<'de>>(raw: Option<String>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("bad query: {e}")))
}

/// `GET /api/streams/{name}/recordings`.
pub async fn list(
    State(ctx): State<RecordContext>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rec = recorder(&ctx, &name)?;
    let spans: Vec<_> = rec
        .spans()
        .into_iter()
        .map(|s| {
            let (start, end) = (rfc3339(s.start_us), rfc3339(s.end_us));
            let duration_s = (s.end_us - s.start_us) as f64 / 1e6;
            serde_json::json!({
                "start": start,
                "end": end,
                "duration_s": duration_s,
                "bytes": s.bytes,
                "frames": s.frames,
                "files": s.files,
                "open": s.open,
                "url": format!(
                    "/api/streams/{name}/recording.mp4?start={}&duration={:.3}",
                    urlencode(&start),
                    duration_s
                ),
            })
        })
        .collect();
    let files: Vec<_> = rec
        .files()
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "name": format!("{}.mp4", f.start_ms),
                "start": rfc3339(f.start_us()),
                "end": rfc3339(f.end_us()),
                "bytes": f.bytes,
                "fragments": f.fragments.len(),
                "frames": f.frames(),
                "width": f.track.width,
                "height": f.track.height,
                "codec": f.track.codec_string(),
                "open": f.open,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "stream": name,
        "mode": rec.mode.name(),
        "pre_roll_s": rec.pre_roll.as_secs(),
        "recording": rec.recording(),
        "spans": spans,
        "files": files,
    })))
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    start: String,
    duration: Option<f64>,
}

/// `GET /api/streams/{name}/recording.mp4?start=&duration=`.
pub async fn media(
    State(ctx): State<RecordContext>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rec = recorder(&ctx, &name)?;
    let q: RangeQuery = query(raw)?;
    let start = parse_time("start", &q.start)?;
    let duration = q.duration.unwrap_or(MAX_DURATION_S);
    if !(duration > 0.0 && duration <= MAX_DURATION_S) {
        return Err(ApiError::BadRequest(format!(
            "duration={duration} must be above 0 and at most {MAX_DURATION_S} seconds"
        )));
    }
    let end = start.saturating_add((duration * 1e6) as u64);
    let plan = rec.playback(start, end).map_err(|e| match e {
        crate::record::playback::PlanError::Empty(..) => ApiError::NotFound(e.to_string()),
        crate::record::playback::PlanError::TooLong(_) => ApiError::BadRequest(e.to_string()),
    })?;
    let len = plan.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(ByteRange::Full, |v| parse_range(v, len));
    let (status, from, to) = match range {
        ByteRange::Full => (StatusCode::OK, 0, len),
        ByteRange::Partial(a, b) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        ByteRange::Unsatisfiable => {
            let mut r = ApiError::RangeNotSatisfiable(format!(
                "the range is outside the {len} bytes of this recording"
            ))
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    let plan = Arc::new(plan);
    let first_frame = rfc3339(plan.start_us);
    let body = futures_util::stream::unfold(from, move |at| {
        let plan = plan.clone();
        async move {
            if at >= to {
                return None;
            }
            let next = (at + CHUNK_BYTES).min(to);
            let r = tokio::task::spawn_blocking(move || plan.read(at, next)).await;
            let chunk = match r {
                Ok(Ok(b)) => Ok(Bytes::from(b)),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            // An error ends the body early (a file deleted while it was served).
            Some((chunk, if next >= to { to } else { next }))
        }
    });
    let mut r = Response::new(Body::from_stream(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&(to - from).to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {from}-{}/{len}", to - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&first_frame) {
        h.insert("x-recording-start", v);
    }
    Ok(r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    start: Option<String>,
    end: Option<String>,
}

/// `DELETE /api/streams/{name}/recordings?start=&end=`.
pub async fn delete(
    State(ctx): State<RecordContext>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rec = recorder(&ctx, &name)?;
    let q: DeleteQuery = query(raw)?;
    let start = q
        .start
        .as_deref()
        .map_or(Ok(0), |v| parse_time("start", v))?;
    let end = q
        .end
        .as_deref()
        .map_or(Ok(u64::MAX), |v| parse_time("end", v))?;
    if end < start {
        return Err(ApiError::BadRequest("end is before start".into()));
    }
    let metrics = ctx.recordings.metrics().clone();
    let r = rec.clone();
    let deleted = tokio::task::spawn_blocking(move || r.delete(start, end, &metrics))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let kept_open = rec.files().iter().any(|f| f.open);
    Ok(Json(serde_json::json!({
        "deleted": deleted.iter().map(|f| format!("{}.mp4", f.start_ms)).collect::<Vec<_>>(),
        "bytes": deleted.iter().map(|f| f.bytes).sum::<u64>(),
        "open_file_kept": kept_open,
    })))
}

/// `POST /api/streams/{name}/recording` with `{"action": "start" | "stop"}`.
pub async fn control(
    State(ctx): State<RecordContext>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rec = recorder(&ctx, &name)?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "the body must be JSON (Content-Type: application/json): {\"action\": \"start\"}"
                .into(),
        ));
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Control {
        action: String,
    }
    let c: Control = serde_json::from_slice(&body).map_err(|_| {
        ApiError::BadRequest(
            "the body must be {\"action\": \"start\"} or {\"action\": \"stop\"}".into(),
        )
    })?;
    let r = match c.action.as_str() {
        "start" => rec.start(),
        "stop" => rec.stop(),
        other => {
            return Err(ApiError::BadRequest(format!(
                "action {other:?}: \"start\" or \"stop\""
            )));
        }
    };
    r.map_err(|e: ControlError| ApiError::Unprocessable(e.to_string()))?;
    Ok(Json(serde_json::json!({
        "stream": name,
        "mode": rec.mode.name(),
        "recording": rec.recording(),
    })))
}

/// What a `Range` header asks of a body of known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// The whole body (no usable range: absent, not bytes, several ranges).
    Full,
    /// Bytes `a..=b`.
    Partial(u64, u64),
    /// Outside the body.
    Unsatisfiable,
}

/// Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range (RFC 9110 §14.1.2) for `len` bytes.
pub fn parse_range(v: &str, len: u64) -> ByteRange {
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, false) => match num(b) {
            Some(0) => ByteRange::Unsatisfiable,
            Some(n) if len > 0 => ByteRange::Partial(len.saturating_sub(n), len - 1),
            Some(_) => ByteRange::Unsatisfiable,
            None => ByteRange::Full,
        },
        (false, _) => {
            let Some(first) = num(a) else {
                return ByteRange::Full;
            };
            let last = if b.is_empty() { Some(u64::MAX) } else { num(b) };
            match last {
                None => ByteRange::Full,
                Some(last) if last < first => ByteRange::Full,
                Some(_) if first >= len => ByteRange::Unsatisfiable,
                Some(last) => ByteRange::Partial(first, last.min(len - 1)),
            }
        }
        (true, true) => ByteRange::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_rfc_9110_says() {
        assert_eq!(parse_range("bytes=0-", 100), ByteRange::Partial(0, 99));
        assert_eq!(parse_range("bytes=10-19", 100), ByteRange::Partial(10, 19));
        assert_eq!(parse_range("bytes=90-500", 100), ByteRange::Partial(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), ByteRange::Partial(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), ByteRange::Partial(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), ByteRange::Full);
        assert_eq!(parse_range("items=0-1", 100), ByteRange::Full);
        assert_eq!(parse_range("bytes=5-1", 100), ByteRange::Full);
        assert_eq!(parse_range("bytes=x-1", 100), ByteRange::Full);
        assert_eq!(parse_range("bytes=-", 100), ByteRange::Full);
    }
}
