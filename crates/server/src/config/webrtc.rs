//! `[webrtc]`: WebRTC out via WHEP (`docs/config.md`, "`[webrtc]`"; `crate::whep`): the one UDP
//! port every session shares, the addresses advertised to browsers (for NAT), the STUN/TURN
//! servers handed to the page, and what sessions may cost (caps and ICE timeouts).

use serde::{Deserialize, Deserializer, de};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// `[webrtc]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebrtcSettings {
    /// WHEP is served (`POST /api/streams/{name}/whep`); off: 404, and no UDP port is bound.
    pub enabled: bool,
    /// The UDP address every WebRTC session uses (one socket, demultiplexed by ICE).
    pub listen: SocketAddr,
    /// Addresses put in the SDP answer as host candidates, with the port of `listen` (or their
    /// own port, for a NAT that maps another one). Empty: `listen`'s address if it is specific,
    /// else every address of the machine's interfaces.
    pub advertise: Vec<Advertised>,
    /// STUN/TURN servers the page gives its `RTCPeerConnection` (`GET /api/webrtc`); the server
    /// itself is ICE-lite and needs none.
    pub ice_servers: Vec<IceServer>,
    /// WHEP sessions at once, 1–4096; one more is refused with 503.
    #[serde(deserialize_with = "sessions")]
    pub max_sessions: usize,
    /// WHEP sessions one address (an IPv4 address or an IPv6 /64) holds, 1–4096; 429 beyond.
    #[serde(deserialize_with = "sessions")]
    pub max_sessions_per_peer: usize,
    /// A session whose ICE has not connected this long after the answer is ended, 1000–120000.
    #[serde(deserialize_with = "timeout_ms")]
    pub connect_timeout_ms: u64,
    /// A session whose ICE stays disconnected this long (the browser went away without a DELETE)
    /// is ended, 1000–120000.
    #[serde(deserialize_with = "timeout_ms")]
    pub disconnect_timeout_ms: u64,
}

impl Default for WebrtcSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([0, 0, 0, 0], 8555)),
            advertise: Vec::new(),
            ice_servers: Vec::new(),
            max_sessions: 64,
            max_sessions_per_peer: 8,
            connect_timeout_ms: 10_000,
            disconnect_timeout_ms: 5_000,
        }
    }
}

impl WebrtcSettings {
    /// `connect_timeout_ms` as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// `disconnect_timeout_ms` as a duration.
    pub fn disconnect_timeout(&self) -> Duration {
        Duration::from_millis(self.disconnect_timeout_ms)
    }
}

/// One `webrtc.advertise` entry: an address (`"203.0.113.7"`, the port is the one bound) or an
/// address with a port (`"203.0.113.7:40000"`, a NAT that maps the port to another one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advertised {
    /// The address, with the bound port.
    Ip(IpAddr),
    /// The address and port as given.
    Addr(SocketAddr),
}

impl Advertised {
    /// The candidate address when the socket is bound to `port`.
    pub fn with_port(self, port: u16) -> SocketAddr {
        match self {
            Advertised::Ip(ip) => SocketAddr::new(ip, port),
            Advertised::Addr(a) => a,
        }
    }
}

impl<'de> Deserialize<'de> for Advertised {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(Advertised::Addr(a));
        }
        s.parse::<IpAddr>().map(Advertised::Ip).map_err(|_| {
            de::Error::custom(format_args!(
                "{s:?} is not an IP address or an address:port (host names are not candidates)"
            ))
        })
    }
}

/// One `[[webrtc.ice_servers]]` entry, as the page's `RTCIceServer`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    #[serde(deserialize_with = "ice_urls")]
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

fn ice_urls<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let urls = Vec::<String>::deserialize(d)?;
    if urls.is_empty() {
        return Err(de::Error::custom("an ICE server needs at least one URL"));
    }
    for u in &urls {
        if !["stun:", "turn:", "turns:"]
            .iter()
            .any(|p| u.starts_with(p))
        {
            return Err(de::Error::custom(format_args!(
                "{u:?} is not a stun:, turn: or turns: URL"
            )));
        }
    }
    Ok(urls)
}

fn in_range<'de, D: Deserializer<'de>>(d: D, lo: u64, hi: u64) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(de::Error::custom(format_args!(
            "{v} is outside {lo}..={hi}"
        )))
    }
}

fn sessions<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    // 4096 fits in usize everywhere.
    in_range(d, 1, 4096).map(|v| v as usize)
}

fn timeout_ms<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    in_range(d, 1000, 120_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_what_it_cannot_use() {
        let w: WebrtcSettings = toml::from_str(
            "listen = \"0.0.0.0:9000\"\nadvertise = [\"203.0.113.7\", \"198.51.100.1:40000\"]\nmax_sessions = 2\n[[ice_servers]]\nurls = [\"stun:stun.example.net:3478\"]\n",
        )
        .unwrap();
        assert_eq!(w.listen.port(), 9000);
        assert_eq!(
            w.advertise[0].with_port(9000),
            "203.0.113.7:9000".parse().unwrap()
        );
        assert_eq!(
            w.advertise[1].with_port(9000),
            "198.51.100.1:40000".parse().unwrap()
        );
        assert_eq!(w.max_sessions, 2);
        assert_eq!(w.ice_servers[0].username, None);
        assert_eq!(
            toml::from_str::<WebrtcSettings>("").unwrap(),
            WebrtcSettings::default()
        );
        for bad in [
            "max_sessions = 0",
            "connect_timeout_ms = 10",
            "advertise = [\"example.com\"]",
            "[[ice_servers]]\nurls = [\"http://x\"]",
            "[[ice_servers]]\nurls = []",
            "udp = 3",
        ] {
            assert!(toml::from_str::<WebrtcSettings>(bad).is_err(), "{bad}");
        }
    }
}
