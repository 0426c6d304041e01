//! `[cameras]` and `[[api_keys]]`: where pushing devices connect (seed 001 WebSocket cameras and
//! viewers, seed 002 HTTP devices, seed 004 Picamera TCP clients) and which keys they present.

use super::ranges::{ExpiryS, FrameBytes, FramePixels, OfflineAfterS, PushedCount, RawSide};
use serde::{Deserialize, Deserializer, de};
use std::net::SocketAddr;

/// `[cameras]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraSettings {
    /// Extra ports for WebSocket cameras, any path (seed 001's Python server used 8765).
    /// `/ws/camera` on the HTTP port always works too. Empty disables.
    pub websocket_listen: Vec<SocketAddr>,
    /// Extra ports for seed 001 viewers, any path (`ws://host:8766/ws/viewer`). Empty disables.
    pub viewer_listen: Vec<SocketAddr>,
    /// Extra ports for the seed 002 HTTP device API (devices have 9005 baked in); it is always
    /// served on the HTTP port too. Empty disables.
    pub http_listen: Vec<SocketAddr>,
    /// Ports for Picamera-style raw TCP clients (seed 004 used 1308). Empty disables.
    pub tcp_listen: Vec<SocketAddr>,
    /// Width of raw `yuv`/`rgb` frames on the TCP port (they carry no size).
    pub tcp_raw_width: RawSide,
    /// Height of raw frames on the TCP port.
    pub tcp_raw_height: RawSide,
    /// Largest frame accepted: WebSocket message, HTTP body or TCP frame, bytes.
    pub max_frame_bytes: FrameBytes,
    /// A device with neither frames nor heartbeats for this long is shown offline.
    pub offline_after_s: OfflineAfterS,
    /// Largest frame accepted, pixels (width × height as its header says), before anything
    /// decodes it.
    pub max_frame_pixels: FramePixels,
    /// Most streams that camera pushes may create (streams declared in `[[streams]]` do not
    /// count). A frame for a new stream beyond it is refused.
    pub max_pushed_streams: PushedCount,
    /// Most devices the registry keeps that never registered (registered devices do not count).
    pub max_unregistered_devices: PushedCount,
    /// A stream created by a push that has had no frame for this long (and no watcher) is removed,
    /// with its metric series; so is an unregistered device silent this long.
    pub pushed_expiry_s: ExpiryS,
    /// WebSocket cameras must present a key of `[[api_keys]]` (`?key=` or `X-API-Key`). Off by
    /// default so that seed 001's cameras, which send none, work unchanged.
    pub require_keys: bool,
    /// Addresses allowed to publish on the Picamera TCP port (the protocol has no room for a
    /// key): networks (`"192.168.1.0/24"`) or single addresses. Empty: any address.
    pub tcp_allow: Vec<AllowedNet>,
    /// Connections each Picamera TCP port holds at once.
    pub tcp_max_connections: usize,
    /// Connections one address holds on a Picamera TCP port.
    pub tcp_max_connections_per_peer: usize,
}

/// A network (`"10.0.0.0/8"`, `"fd00::/8"`) or a single address (`"10.0.0.5"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedNet(pub ipnet::IpNet);

impl AllowedNet {
    /// Whether `ip` is inside.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

impl<'de> Deserialize<'de> for AllowedNet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map(AllowedNet)
            .map_err(|_| {
                de::Error::custom(format_args!(
                    "{text:?} is not an address or a network such as \"192.168.1.0/24\""
                ))
            })
    }
}

impl Default for CameraSettings {
    fn default() -> Self {
        Self {
            websocket_listen: vec![SocketAddr::from(([0, 0, 0, 0], 8765))],
            viewer_listen: vec![SocketAddr::from(([0, 0, 0, 0], 8766))],
            http_listen: vec![SocketAddr::from(([0, 0, 0, 0], 9005))],
            tcp_listen: vec![SocketAddr::from(([0, 0, 0, 0], 1308))],
            tcp_raw_width: RawSide::new_const(320),
            tcp_raw_height: RawSide::new_const(240),
            max_frame_bytes: FrameBytes::new_const(16 << 20),
            offline_after_s: OfflineAfterS::new_const(60),
            max_frame_pixels: FramePixels::new_const(4096 * 4096),
            max_pushed_streams: PushedCount::new_const(64),
            max_unregistered_devices: PushedCount::new_const(256),
            pushed_expiry_s: ExpiryS::new_const(3600),
            require_keys: false,
            tcp_allow: Vec::new(),
            tcp_max_connections: 64,
            tcp_max_connections_per_peer: 4,
        }
    }
}

/// `[[api_keys]]`: a key devices send as `X-API-Key`, and what it may publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The secret, at least 8 characters.
    #[serde(deserialize_with = "secret")]
    pub key: String,
    /// Device ids this key may publish as; `"*"` for any. Default: any.
    #[serde(default = "any")]
    pub devices: Vec<String>,
}

/// A key of at least 8 characters, refused while parsing otherwise.
fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let key = String::deserialize(d)?;
    if key.len() < 8 {
        return Err(de::Error::custom("must be at least 8 characters"));
    }
    Ok(key)
}

fn any() -> Vec<String> {
    vec!["*".to_string()]
}

/// The key seed 002's firmware ships with; accepted for any device when no `[[api_keys]]` is
/// configured, so existing devices work out of the box (a warning says so at start-up).
pub const DEFAULT_API_KEY: &str = "dev-api-key-change-in-production";
