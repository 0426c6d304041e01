//! `[cameras]` and `[[api_keys]]`: where pushing devices connect (seed 001 WebSocket cameras and
//! viewers, seed 002 HTTP devices, seed 004 Picamera TCP clients) and which keys they present.

use serde::Deserialize;
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
    pub tcp_raw_width: u32,
    /// Height of raw frames on the TCP port.
    pub tcp_raw_height: u32,
    /// Largest frame accepted: WebSocket message, HTTP body or TCP frame, bytes.
    pub max_frame_bytes: usize,
    /// A device with neither frames nor heartbeats for this long is shown offline.
    pub offline_after_s: u64,
}

impl Default for CameraSettings {
    fn default() -> Self {
        Self {
            websocket_listen: vec![SocketAddr::from(([0, 0, 0, 0], 8765))],
            viewer_listen: vec![SocketAddr::from(([0, 0, 0, 0], 8766))],
            http_listen: vec![SocketAddr::from(([0, 0, 0, 0], 9005))],
            tcp_listen: vec![SocketAddr::from(([0, 0, 0, 0], 1308))],
            tcp_raw_width: 320,
            tcp_raw_height: 240,
            max_frame_bytes: 16 << 20,
            offline_after_s: 60,
        }
    }
}

impl CameraSettings {
    /// Checks ranges.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=8192).contains(&self.tcp_raw_width) || !(1..=8192).contains(&self.tcp_raw_height) {
            anyhow::bail!("cameras.tcp_raw_width and tcp_raw_height must be within 1..=8192");
        }
        if !(1024..=(256 << 20)).contains(&self.max_frame_bytes) {
            anyhow::bail!(
                "cameras.max_frame_bytes = {} is outside 1024..=268435456",
                self.max_frame_bytes
            );
        }
        if !(10..=86_400).contains(&self.offline_after_s) {
            anyhow::bail!(
                "cameras.offline_after_s = {} is outside 10..=86400",
                self.offline_after_s
            );
        }
        Ok(())
    }
}

/// `[[api_keys]]`: a key devices send as `X-API-Key`, and what it may publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The secret.
    pub key: String,
    /// Device ids this key may publish as; `"*"` for any. Default: any.
    #[serde(default = "any")]
    pub devices: Vec<String>,
}

fn any() -> Vec<String> {
    vec!["*".to_string()]
}

/// The key seed 002's firmware ships with; accepted for any device when no `[[api_keys]]` is
/// configured, so existing devices work out of the box (a warning says so at start-up).
pub const DEFAULT_API_KEY: &str = "dev-api-key-change-in-production";
