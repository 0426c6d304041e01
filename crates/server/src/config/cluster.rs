//! `[cluster]`: several `pixelwire serve` nodes joined through a NATS server (`docs/cluster.md`;
//! `docs/config.md`, "`[cluster]`"). Without this table nothing changes: one process, the
//! in-process bus.

use serde::Deserialize;
use std::time::Duration;

/// `[cluster]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// The NATS server (`nats://host:port`; several separated by commas).
    pub nats_url: String,
    /// This node's name, unique in the cluster; empty means the host name.
    pub node_name: String,
    /// The first token of every subject, so several clusters can share one NATS server.
    pub subject_prefix: String,
    /// How often a node announces its streams and its interest in others'.
    pub heartbeat_ms: u64,
    /// A remote stream whose origin was not heard from for this long is offline.
    pub offline_after_ms: u64,
    /// A remote stream offline for this long is removed from this node's list.
    pub forget_after_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            nats_url: "nats://127.0.0.1:4222".into(),
            node_name: String::new(),
            subject_prefix: "pixelwire".into(),
            heartbeat_ms: 1000,
            offline_after_ms: 3000,
            forget_after_ms: 300_000,
        }
    }
}

impl ClusterSettings {
    /// [`ClusterSettings::heartbeat_ms`] as a duration (at least 50 ms).
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.max(50))
    }

    /// [`ClusterSettings::offline_after_ms`], at least two heartbeats.
    pub fn offline_after(&self) -> Duration {
        Duration::from_millis(self.offline_after_ms).max(self.heartbeat() * 2)
    }

    /// [`ClusterSettings::forget_after_ms`], at least [`ClusterSettings::offline_after`].
    pub fn forget_after(&self) -> Duration {
        Duration::from_millis(self.forget_after_ms).max(self.offline_after())
    }

    /// The node's name: the configured one, else the host name.
    pub fn node(&self) -> String {
        if !self.node_name.is_empty() {
            return self.node_name.clone();
        }
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        if host.is_empty() { "node".into() } else { host }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults_and_refuses_unknown_keys() {
        let c: ClusterSettings = toml::from_str("node_name = \"a\"").unwrap();
        assert_eq!(c.node(), "a");
        assert_eq!(c.nats_url, "nats://127.0.0.1:4222");
        assert!(!ClusterSettings::default().node().is_empty());
        assert!(toml::from_str::<ClusterSettings>("url = \"x\"").is_err());
        let fast: ClusterSettings =
            toml::from_str("heartbeat_ms = 1\noffline_after_ms = 1").unwrap();
        assert_eq!(fast.heartbeat(), Duration::from_millis(50));
        assert_eq!(fast.offline_after(), Duration::from_millis(100));
    }
}
