//! `[rtsp]`: RTSP out for NVRs and players (`docs/config.md`, "`[rtsp]`"; `docs/rtsp.md`).

use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// `[rtsp]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RtspSettings {
    /// Where RTSP listens; empty disables it. `rtsp://HOST:8554/NAME` is the port go2rtc and
    /// MediaMTX use, so NVR configurations carry over.
    pub listen: Vec<SocketAddr>,
    /// Connections each RTSP port holds at once.
    pub max_connections: usize,
    /// Connections one address (IPv4, or IPv6 /64) holds on each RTSP port.
    pub max_connections_per_peer: usize,
    /// A session with no request (keep-alive) for this long is closed; said in `Session:`.
    pub session_timeout_s: u64,
}

impl Default for RtspSettings {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 8554))],
            max_connections: 64,
            max_connections_per_peer: 8,
            session_timeout_s: 60,
        }
    }
}

impl RtspSettings {
    /// [`RtspSettings::session_timeout_s`] as a duration (at least one second).
    pub fn session_timeout(&self) -> Duration {
        Duration::from_secs(self.session_timeout_s.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_can_be_disabled() {
        let r: RtspSettings = toml::from_str("listen = []").unwrap();
        assert!(r.listen.is_empty());
        assert_eq!(
            toml::from_str::<RtspSettings>("").unwrap(),
            RtspSettings::default()
        );
        assert!(toml::from_str::<RtspSettings>("port = 1").is_err());
    }
}
