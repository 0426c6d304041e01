//! `GET`, `PUT` and `PATCH /api/displays/{id}`: which stream a display shows and its rate-control
//! policy (`prefer`), and switching either live (issue 15, parts 3 and 4; `docs/api.md`). A switch is stored with the device registry and reaches
//! a connected display through its route ([`crate::display::routes`]) on its next frame. The body
//! must be JSON (`Content-Type: application/json`), so an HTML form on another site cannot send
//! it, and a browser asks before sending it cross-origin (CORS preflight; none is granted).
//! Every refusal leaves the routes as they were.

use super::AppState;
use crate::api_error::ApiError;
use crate::config::PreferName;
use crate::display::registry::DisplayCommand;
use crate::display::routes::Route;
use crate::display::status::DisplayStatus;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use serde::Serialize;
use std::time::Duration;

/// Largest body accepted: `{"stream": "<32 characters>"}` with room for whitespace.
pub const MAX_BODY_BYTES: usize = 4096;

/// A display's route and, when it is connected, its status.
#[derive(Debug, Clone, Serialize)]
pub struct DisplayRouteStatus {
    /// Display id (`legacy-<ip>-<port>` for sketches).
    pub id: String,
    /// The stream it shows, where that comes from, and the configured one.
    #[serde(flatten)]
    pub route: Route,
    /// True while connected.
    pub connected: bool,
    /// Its status (as in `GET /api/displays`) while connected, else `null`.
    pub status: Option<DisplayStatus>,
}

/// What a `PUT`/`PATCH` asks for: each key present is changed, each absent one left alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteRequest {
    /// The stream to show (`Some(None)`: back to the configured route).
    pub stream: Option<Option<String>>,
    /// The rate-control policy (`Some(None)`: back to the configured one).
    pub prefer: Option<Option<PreferName>>,
}

/// The shape every refusal of a body names.
const BODY_SHAPE: &str = "the body must be an object with \"stream\" (a stream name or null) and/or \"prefer\" (\"motion\", \"detail\" or null)";

impl RouteRequest {
    /// Parses `{"stream": "name" | null, "prefer": "motion" | "detail" | null}` (either key or
    /// both); nothing else is accepted.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be JSON (Content-Type: application/json): {\"stream\": \"name\"}"
                    .into(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
        let shape = || ApiError::BadRequest(BODY_SHAPE.into());
        let obj = value.as_object().ok_or_else(shape)?;
        if obj.is_empty() || obj.keys().any(|k| k != "stream" && k != "prefer") {
            return Err(shape());
        }
        let mut req = Self::default();
        if let Some(v) = obj.get("stream") {
            req.stream = Some(match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                _ => return Err(shape()),
            });
        }
        if let Some(v) = obj.get("prefer") {
            req.prefer = Some(match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) if s == "motion" => Some(PreferName::Motion),
                serde_json::Value::String(s) if s == "detail" => Some(PreferName::Detail),
                _ => return Err(shape()),
            });
        }
        Ok(req)
    }
}

/// True when `id` names a display: connected, connected earlier in this run, configured, or
/// holding a stored override.
fn known(state: &AppState, id: &str) -> bool {
    state.displays.get(id).is_some()
        || state.displays.was_seen(id)
        || state.routes.is_configured(id)
        || state.routes.has_override(id)
        || state.routes.has_prefer_override(id)
}

fn route_status(state: &AppState, id: &str) -> DisplayRouteStatus {
    let route = state.routes.route(id);
    let now_us = crate::clock::now().as_micros();
    let status = state.displays.get(id).map(|h| {
        let mut s = h.live.status(now_us);
        // The connection switches on its next turn; the answer already says where it goes.
        s.stream.clone_from(&route.stream);
        s.stream_origin = Some(route.origin);
        s.configured_stream = Some(route.configured_stream.clone());
        s.prefer = Some(route.prefer);
        s.prefer_origin = Some(route.prefer_origin);
        s
    });
    DisplayRouteStatus {
        id: id.to_string(),
        route,
        connected: status.is_some(),
        status,
    }
}

fn unknown_display(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no display {id:?}: none is connected or was connected since the server started, and the configuration names none"
    ))
}

/// `GET /api/displays/{id}`: its route and status.
pub async fn get_display(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DisplayRouteStatus>, ApiError> {
    if !known(&state, &id) {
        return Err(unknown_display(&id));
    }
    Ok(Json(route_status(&state, &id)))
}

/// `PUT` or `PATCH /api/displays/{id}` with `{"stream": "name"}` (or `null`) and/or
/// `{"prefer": "motion" | "detail"}` (or `null`): switches the stream and/or the rate-control
/// policy. Everything is checked before anything changes.
pub async fn put_display(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DisplayRouteStatus>, ApiError> {
    let req = RouteRequest::parse(&headers, &body)?;
    if !known(&state, &id) {
        return Err(unknown_display(&id));
    }
    if let Some(Some(name)) = &req.stream
        && state.bus.get(name).is_none()
    {
        let names: Vec<String> = state
            .bus
            .all()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        return Err(ApiError::Unprocessable(format!(
            "no stream {name:?} (streams: {})",
            names.join(", ")
        )));
    }
    if let Some(stream) = &req.stream {
        let route = state.routes.set(&id, stream.as_deref());
        tracing::info!(display = %id, stream = %route.stream, origin = ?route.origin, "display route set through the API");
    }
    if let Some(prefer) = req.prefer {
        let route = state.routes.set_prefer(&id, prefer);
        if let Some(h) = state.displays.get(&id) {
            // A connected display switches on its next frame. Its task reads commands between
            // frames, so the queue (shared with preview requests) drains quickly; one that stays
            // full for a second is a task that is ending, and the stored choice applies when the
            // display reconnects.
            let cmd = DisplayCommand::SetPrefer(route.prefer.into());
            if tokio::time::timeout(Duration::from_secs(1), h.commands.send(cmd))
                .await
                .is_err()
            {
                tracing::warn!(display = %id, "display busy: its new prefer applies when it reconnects");
            }
        }
        tracing::info!(display = %id, prefer = ?route.prefer, origin = ?route.prefer_origin, "display prefer set through the API");
    }
    Ok(Json(route_status(&state, &id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        h
    }

    #[test]
    fn route_requests_parse_strictly() {
        let h = json_headers();
        assert_eq!(
            RouteRequest::parse(&h, br#"{"stream":"cpu"}"#).unwrap(),
            RouteRequest {
                stream: Some(Some("cpu".into())),
                prefer: None
            }
        );
        assert_eq!(
            RouteRequest::parse(&h, br#" {"stream": null} "#).unwrap(),
            RouteRequest {
                stream: Some(None),
                prefer: None
            }
        );
        assert_eq!(
            RouteRequest::parse(&h, br#"{"prefer": "detail"}"#).unwrap(),
            RouteRequest {
                stream: None,
                prefer: Some(Some(PreferName::Detail))
            }
        );
        assert_eq!(
            RouteRequest::parse(&h, br#"{"stream": "cpu", "prefer": null}"#).unwrap(),
            RouteRequest {
                stream: Some(Some("cpu".into())),
                prefer: Some(None)
            }
        );
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"\"cpu\"",
            b"{}",
            br#"{"stream": 3}"#,
            br#"{"stream": "cpu", "other": 1}"#,
            br#"{"name": "cpu"}"#,
            br#"{"prefer": "fast"}"#,
            br#"{"prefer": 1}"#,
            b"\xff\xfe",
        ] {
            assert!(
                matches!(RouteRequest::parse(&h, bad), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
        let mut form = HeaderMap::new();
        form.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert!(matches!(
            RouteRequest::parse(&form, br#"{"stream":"cpu"}"#),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            RouteRequest::parse(&HeaderMap::new(), br#"{"stream":"cpu"}"#),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}
