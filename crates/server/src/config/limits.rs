//! `[limits]`: what peers of the display port may cost the server, whoever they are
//! (`docs/security.md`, "Displays"; `docs/config.md`, "`[limits]`"): their memory and connections.

use serde::Deserialize;

/// `limits.display_memory_bytes` unless configured: 512 MiB, room for one panel of the largest
/// size the protocol allows (4096x4096, about 259 MiB at the default settings) or hundreds of
/// 320x240 ones (about 1.2 MiB each), and far below what ten 4096x4096 HELLOs used to take (2.4 GiB).
pub const DEFAULT_DISPLAY_MEMORY_BYTES: u64 = 512 * 1024 * 1024;

/// `[limits]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Memory all display sessions together may hold, bytes, as `pixelwire-core` estimates it for
    /// each panel at HELLO (`display_memory_bytes`); a HELLO that would go past it is refused with
    /// ERROR `refused`, and a sketch beyond it is disconnected. `0` refuses every display.
    pub display_memory_bytes: u64,
    /// Connections the display port holds at once (pixelwire devices and sketches).
    pub display_connections: usize,
    /// Connections one address holds on the display port (an IPv4 address or an IPv6 /64).
    pub display_connections_per_peer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            display_memory_bytes: DEFAULT_DISPLAY_MEMORY_BYTES,
            display_connections: 256,
            display_connections_per_peer: 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_unknown_keys() {
        let l: Limits = toml::from_str("display_memory_bytes = 1048576").unwrap();
        assert_eq!(l.display_memory_bytes, 1 << 20);
        assert_eq!(toml::from_str::<Limits>("").unwrap(), Limits::default());
        assert!(toml::from_str::<Limits>("http_connections = 3").is_err());
    }
}
