//! `[legacy]` and `[[legacy_displays]]`: seed-000 sketches (`reference/seed-protocols.md` §A),
//! which never say who they are or how big their panel is. `[legacy]` holds what every sketch
//! shares (its panel size, packet size and keepalive default to pixelwire-core's `LegacyConfig`);
//! a `[[legacy_displays]]` entry matches sketches by peer address and/or listening port.

use super::display::{DisplayTuning, setting_keys};
use super::ranges::{DetectMs, MaxPayload, Side};
use super::table::{self, Table};
use pixelwire_core::LegacyConfig;
use serde::de::{self, MapAccess};
use serde::{Deserialize, Deserializer};
use std::net::IpAddr;
use toml::Spanned;

/// `legacy.detect_ms` unless configured: how long a peer may stay silent before it is a sketch.
pub const DEFAULT_DETECT_MS: DetectMs = DetectMs::new_const(500);
/// `legacy.send_buffer_bytes` unless configured.
pub const DEFAULT_SEND_BUFFER_BYTES: u32 = 16 * 1024;

/// `[legacy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LegacySettings {
    /// A peer that sends nothing within this many ms of connecting is served as a sketch.
    pub detect_ms: DetectMs,
    /// Panel width in the sketch's rotation.
    pub width: Side,
    /// Panel height.
    pub height: Side,
    /// Largest pixel payload per packet, ≤ 10240 (the sketch's buffer).
    pub max_payload: MaxPayload,
    /// Silence after which the all-zero keepalive header is sent, ms.
    pub keepalive_ms: u64,
    /// Socket send buffer, bytes: what may be queued beyond the frame being written.
    pub send_buffer_bytes: u32,
}

impl Default for LegacySettings {
    fn default() -> Self {
        let core = LegacyConfig::default();
        // Holds: core's defaults are a 320x240 panel and 8192-byte packets, inside the ranges
        // (`tests::defaults_come_from_core` builds this).
        let side = |v| Side::new(v).expect("core's default panel side is within 1..=4096");
        Self {
            detect_ms: DEFAULT_DETECT_MS,
            width: side(core.width),
            height: side(core.height),
            max_payload: MaxPayload::new(core.max_payload)
                .expect("core's default payload fits the sketch's buffer"),
            keepalive_ms: u64::try_from(core.keepalive.as_millis()).unwrap_or(u64::MAX),
            send_buffer_bytes: DEFAULT_SEND_BUFFER_BYTES,
        }
    }
}

/// `[[legacy_displays]]`: a sketch matched by peer address and/or listening port.
#[derive(Debug, Clone, Default)]
pub struct LegacyRoute {
    /// Peer IP address to match.
    pub address: Option<IpAddr>,
    /// Listening port to match; the server listens on it too (same host as `server.display`).
    pub port: Option<u16>,
    /// Stream to show.
    pub stream: Option<Spanned<String>>,
    /// Panel width (default `legacy.width`).
    pub width: Option<Side>,
    /// Panel height (default `legacy.height`).
    pub height: Option<Side>,
    /// Overrides (the display-setting keys of the same table).
    pub tuning: DisplayTuning,
}

impl LegacyRoute {
    /// Whether this route applies to a peer at `peer` that connected on `port`.
    pub fn matches(&self, peer: IpAddr, port: u16) -> bool {
        self.address.is_none_or(|a| a == peer) && self.port.is_none_or(|p| p == port)
    }
}

impl Table for LegacyRoute {
    const EXPECTING: &'static str = "a [[legacy_displays]] entry";
    const KEYS: &'static [&'static str] =
        setting_keys!("address", "port", "stream", "width", "height");
    type Partial = Self;

    fn read<'de, A: MapAccess<'de>>(
        r: &mut Self,
        key: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "address" => r.address = Some(map.next_value()?),
            "port" => r.port = Some(map.next_value()?),
            "stream" => r.stream = Some(map.next_value()?),
            "width" => r.width = Some(map.next_value()?),
            "height" => r.height = Some(map.next_value()?),
            setting => DisplayTuning::read(&mut r.tuning, setting, map)?,
        }
        Ok(())
    }

    fn finish<E: de::Error>(r: Self) -> Result<Self, E> {
        Ok(r)
    }
}

impl<'de> Deserialize<'de> for LegacyRoute {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        table::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_core() {
        let (ours, core) = (LegacySettings::default(), LegacyConfig::default());
        assert_eq!(
            (ours.width.get(), ours.height.get()),
            (core.width, core.height)
        );
        assert_eq!(ours.max_payload.get(), core.max_payload);
        assert_eq!(u128::from(ours.keepalive_ms), core.keepalive.as_millis());
    }
}
