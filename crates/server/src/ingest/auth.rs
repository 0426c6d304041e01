//! Publishing keys: `X-API-Key` for the HTTP device API (seed 002 devices send it on every
//! request), and `?key=` or `X-API-Key` for WebSocket cameras. Keys are compared in constant time
//! against every configured key (no early exit), and each key names the devices (or streams) it
//! may publish as.

use crate::config::{ApiKey, DEFAULT_API_KEY};
use subtle::ConstantTimeEq;

/// The configured keys.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

/// What a valid key allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    devices: Vec<String>,
    key: usize,
}

impl Grant {
    /// Which configured key it is (streams are owned by the key that first published to them).
    pub fn key(&self) -> usize {
        self.key
    }

    /// Whether the key may publish as `device`.
    pub fn allows(&self, device: &str) -> bool {
        self.devices.iter().any(|d| d == "*" || d == device)
    }
}

impl ApiKeys {
    /// From `[[api_keys]]`; with none configured, seed 002's default key for any device.
    pub fn from_config(keys: &[ApiKey]) -> Self {
        if keys.is_empty() {
            Self {
                keys: vec![ApiKey {
                    key: DEFAULT_API_KEY.to_string(),
                    devices: vec!["*".into()],
                }],
            }
        } else {
            Self {
                keys: keys.to_vec(),
            }
        }
    }

    /// True if only the built-in default key is accepted.
    pub fn is_default(&self) -> bool {
        self.keys.len() == 1 && self.keys[0].key == DEFAULT_API_KEY
    }

    /// The grant of `presented`, if it is a configured key.
    pub fn check(&self, presented: Option<&str>) -> Option<Grant> {
        let p = presented?.as_bytes();
        let mut found = None;
        for (i, k) in self.keys.iter().enumerate() {
            // Every key is compared, whatever matched before.
            if bool::from(k.key.as_bytes().ct_eq(p)) {
                found = Some(Grant {
                    devices: k.devices.clone(),
                    key: i,
                });
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_configured_keys() {
        let d = ApiKeys::from_config(&[]);
        assert!(d.is_default());
        assert!(d.check(Some(DEFAULT_API_KEY)).unwrap().allows("anything"));
        assert_eq!(d.check(Some("wrong")), None);
        assert_eq!(d.check(None), None);
        let k = ApiKeys::from_config(&[
            ApiKey {
                key: "secret-one".into(),
                devices: vec!["cam-a".into()],
            },
            ApiKey {
                key: "secret-two".into(),
                devices: vec!["*".into()],
            },
        ]);
        assert!(!k.is_default());
        assert_eq!(k.check(Some(DEFAULT_API_KEY)), None);
        let g = k.check(Some("secret-one")).unwrap();
        assert!(g.allows("cam-a") && !g.allows("cam-b"));
        assert!(k.check(Some("secret-two")).unwrap().allows("cam-b"));
    }
}
