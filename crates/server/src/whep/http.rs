//! The WHEP endpoints (RFC 9725, section 4): `POST /api/streams/{name}/whep` with an SDP offer
//! (`application/sdp`) answers `201 Created` with the SDP answer, the session URL in `Location`
//! and the configured STUN/TURN servers as `Link: <url>; rel="ice-server"` headers (section 4.4);
//! `DELETE` on that URL ends the session. Trickle ICE and ICE restarts (`PATCH`, section 4.3) are
//! not supported: the server is ICE-lite with its host candidates in the answer, and a `PATCH`
//! gets `405`, which the specification allows. `GET /api/webrtc` tells the page whether WHEP is
//! on and which ICE servers to use.

use super::offer::{MAX_OFFER_BYTES, check_offer};
use super::session::{Timeouts, WhepSession};
use super::table::{Full, SessionId};
use super::{Command, WhepContext};
use crate::api_error::ApiError;
use crate::encoded::Start;
use crate::listener::LocalAddr;
use crate::metrics::{ConsumerKind, WhepEnd, WhepRefusal};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// The body limit of the POST route.
pub const MAX_BODY_BYTES: usize = MAX_OFFER_BYTES;

/// `GET /api/webrtc`: `{"enabled", "ice_servers", "server_us"}`.
pub async fn info(State(ctx): State<WhepContext>) -> Json<serde_json::Value> {
    let s = &ctx.whep.settings;
    Json(serde_json::json!({
        "enabled": s.enabled && ctx.whep.bound().is_some(),
        "ice_servers": s.ice_servers,
        // The page estimates the server clock from this (the smallest round trip wins) to turn
        // RTP timestamps back into capture times.
        "server_us": crate::clock::now().as_micros(),
    }))
}

/// `POST /api/streams/{name}/whep`.
pub async fn offer(
    State(ctx): State<WhepContext>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    local: Option<axum::Extension<LocalAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let whep = &ctx.whep;
    if !whep.settings.enabled {
        return Err(ApiError::NotFound(
            "WebRTC (WHEP) is off on this server (webrtc.enabled)".into(),
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
    {
        return Err(ApiError::UnsupportedMediaType(
            "a WHEP offer is sent as Content-Type: application/sdp".into(),
        ));
    }
    let stream = ctx
        .bus
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no stream named {name:?}")))?;
    if whep.bound().is_none() {
        return Err(ApiError::Unavailable(
            "the WebRTC UDP port is not open".into(),
        ));
    }
    let offer = check_offer(&body).map_err(|e| {
        ctx.metrics.whep_refused(WhepRefusal::BadOffer);
        ApiError::BadRequest(e.to_string())
    })?;
    let id = new_id()?;
    whep.table()
        .reserve(id.clone(), &name, peer.ip())
        .map_err(|f| match f {
            Full::All => {
                ctx.metrics.whep_refused(WhepRefusal::Full);
                ApiError::Unavailable(format!(
                    "{} WebRTC sessions are open (webrtc.max_sessions)",
                    whep.settings.max_sessions
                ))
            }
            Full::Peer => {
                ctx.metrics.whep_refused(WhepRefusal::PeerFull);
                ApiError::TooMany(format!(
                    "this address holds {} WebRTC sessions (webrtc.max_sessions_per_peer)",
                    whep.settings.max_sessions_per_peer
                ))
            }
        })?;
    let candidates = whep.candidates(local.map(|l| l.0.0));
    let timeouts = Timeouts {
        connect: whep.settings.connect_timeout(),
        disconnect: whep.settings.disconnect_timeout(),
    };
    let now_us = crate::clock::now().as_micros();
    let (session, answer) =
        match WhepSession::answer(offer, &candidates, Instant::now(), now_us, timeouts) {
            Ok(a) => a,
            Err(e) => {
                whep.table().remove(&id);
                ctx.metrics.whep_refused(WhepRefusal::BadOffer);
                return Err(ApiError::BadRequest(e.to_string()));
            }
        };
    let encoder = ctx.encoders.get(&stream, &ctx.metrics);
    let subscription = encoder.subscribe(ConsumerKind::Whep, Start::Live);
    let added = whep.commands.try_send(Command::Add {
        id: id.clone(),
        stream: name.clone(),
        session: Box::new(session),
        subscription,
        candidates,
    });
    if added.is_err() {
        whep.table().remove(&id);
        return Err(ApiError::Unavailable(
            "the WebRTC task is busy or stopped; try again".into(),
        ));
    }
    let location = format!("/api/streams/{}/whep/{id}", encode_segment(&name));
    let mut response = (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_string()),
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        answer,
    )
        .into_response();
    for link in ice_server_links(&whep.settings.ice_servers) {
        if let Ok(v) = HeaderValue::from_str(&link) {
            response.headers_mut().append(header::LINK, v);
        }
    }
    Ok(response)
}

/// `DELETE /api/streams/{name}/whep/{session}`.
pub async fn delete(
    State(ctx): State<WhepContext>,
    Path((name, session)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let missing = || ApiError::NotFound(format!("no WHEP session {session:?} on {name:?}"));
    let id = SessionId::parse(&session).ok_or_else(missing)?;
    {
        let mut table = ctx.whep.table();
        if table.stream_of(&id) != Some(name.as_str()) {
            return Err(missing());
        }
        table.remove(&id);
    }
    // The UDP task may have ended it at the same moment; then there is nothing left to do.
    let _ = ctx
        .whep
        .commands
        .send(Command::Remove(id, WhepEnd::Deleted))
        .await;
    Ok(StatusCode::OK)
}

fn new_id() -> Result<SessionId, ApiError> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| ApiError::Internal("no randomness for a session id".into()))?;
    Ok(SessionId::from_random(b))
}

/// A stream name as one URL path segment (RFC 3986 unreserved characters kept).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Link` header values for the ICE servers (RFC 9725, section 4.4).
fn ice_server_links(servers: &[crate::config::IceServer]) -> Vec<String> {
    let quote = |s: &str| s.replace(['"', '\\'], "");
    let mut out = Vec::new();
    for s in servers {
        for url in &s.urls {
            let mut v = format!("<{url}>; rel=\"ice-server\"");
            if let (Some(u), Some(c)) = (&s.username, &s.credential) {
                v.push_str(&format!(
                    "; username=\"{}\"; credential=\"{}\"; credential-type=\"password\"",
                    quote(u),
                    quote(c)
                ));
            }
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_links_are_encoded() {
        assert_eq!(encode_segment("cam 1/ä"), "cam%201%2F%C3%A4");
        assert_eq!(encode_segment("bios"), "bios");
        let links = ice_server_links(&[crate::config::IceServer {
            urls: vec!["stun:a:3478".into(), "turn:b".into()],
            username: Some("u".into()),
            credential: Some("p\"w".into()),
        }]);
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[1],
            "<turn:b>; rel=\"ice-server\"; username=\"u\"; credential=\"pw\"; credential-type=\"password\""
        );
    }
}
