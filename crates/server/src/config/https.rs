//! The HTTPS keys of `[server]` (`docs/config.md`, "`[server]`"; `docs/security.md`, "HTTPS"):
//! where the certificate comes from. Either both `tls_cert` and `tls_key` name PEM files, or
//! neither does and the server makes a self-signed certificate for `localhost`, its host name,
//! the loopback addresses and `tls_names` (`crate::tls`). The files are read at start-up, not
//! here, so a config is checked without touching the disk.

use super::ServerConfig;
use super::error::KeyError;
use std::path::PathBuf;

/// Longest name in `tls_names` (a DNS name is at most 253 characters).
const MAX_NAME_LEN: usize = 253;

/// Where the HTTPS listener's certificate and key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// PEM files from the config: the certificate chain (leaf first) and its private key.
    Files {
        /// `server.tls_cert`.
        cert: PathBuf,
        /// `server.tls_key`.
        key: PathBuf,
    },
    /// A self-signed certificate kept in `data_dir/tls/`, made on first start; `names` are the
    /// extra subject alternative names (`server.tls_names`).
    SelfSigned {
        /// `server.tls_names`.
        names: Vec<String>,
    },
}

impl ServerConfig {
    /// Where the certificate comes from (meaningful when `https` is set; [`check`] has
    /// ensured that `tls_cert` and `tls_key` come together).
    pub fn cert_source(&self) -> CertSource {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => CertSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => CertSource::SelfSigned {
                names: self.tls_names.clone(),
            },
        }
    }
}

/// The rules between the HTTPS keys.
pub(super) fn check(s: &ServerConfig) -> Result<(), KeyError> {
    match (&s.tls_cert, &s.tls_key) {
        (Some(_), None) => {
            return Err(KeyError::new(
                "server.tls_cert",
                "server.tls_cert is set without server.tls_key: give both, or neither for a self-signed certificate",
            ));
        }
        (None, Some(_)) => {
            return Err(KeyError::new(
                "server.tls_key",
                "server.tls_key is set without server.tls_cert: give both, or neither for a self-signed certificate",
            ));
        }
        (Some(_), Some(_)) if !s.tls_names.is_empty() => {
            return Err(KeyError::new(
                "server.tls_names",
                "server.tls_names names the self-signed certificate's hosts, but server.tls_cert and server.tls_key are set: the names come from that certificate",
            ));
        }
        _ => {}
    }
    if s.https.is_none() {
        let set = [
            ("tls_cert", s.tls_cert.is_some()),
            ("tls_key", s.tls_key.is_some()),
            ("tls_names", !s.tls_names.is_empty()),
        ];
        if let Some((key, _)) = set.into_iter().find(|&(_, on)| on) {
            return Err(KeyError::new(
                format!("server.{key}"),
                format!(
                    "server.{key} is set but server.https is not: set server.https (e.g. \"0.0.0.0:8443\") to serve HTTPS"
                ),
            ));
        }
    }
    for (i, name) in s.tls_names.iter().enumerate() {
        if !valid_name(name) {
            return Err(KeyError::new(
                format!("server.tls_names[{i}]"),
                format!(
                    "server.tls_names[{i}] = {name:?} is neither a DNS name (letters, digits, '-' and '.', at most {MAX_NAME_LEN} characters, \"*.\" allowed in front) nor an IP address"
                ),
            ));
        }
    }
    Ok(())
}

/// A DNS name (optionally a `*.` wildcard) or an IP address.
fn valid_name(name: &str) -> bool {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let host = name.strip_prefix("*.").unwrap_or(name);
    !host.is_empty()
        && name.len() <= MAX_NAME_LEN
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn err(text: &str) -> String {
        format!("{:#}", Config::parse(text, None).unwrap_err())
    }

    #[test]
    fn https_is_off_unless_configured() {
        let c = Config::parse("", None).unwrap();
        assert_eq!(c.server.https, None);
        assert_eq!(
            c.server.cert_source(),
            CertSource::SelfSigned { names: vec![] }
        );
    }

    #[test]
    fn https_with_files_or_self_signed_names() {
        let c = Config::parse(
            "[server]\nhttps = \"0.0.0.0:8443\"\ntls_cert = \"/etc/pw/cert.pem\"\ntls_key = \"/etc/pw/key.pem\"\n",
            None,
        )
        .unwrap();
        assert_eq!(c.server.https, Some("0.0.0.0:8443".parse().unwrap()));
        assert_eq!(
            c.server.cert_source(),
            CertSource::Files {
                cert: "/etc/pw/cert.pem".into(),
                key: "/etc/pw/key.pem".into()
            }
        );
        let c = Config::parse(
            "[server]\nhttps = \"[::]:8443\"\ntls_names = [\"pixelwire.lan\", \"*.home.arpa\", \"192.168.1.10\", \"fd00::1\"]\n",
            None,
        )
        .unwrap();
        assert_eq!(
            c.server.cert_source(),
            CertSource::SelfSigned {
                names: vec![
                    "pixelwire.lan".into(),
                    "*.home.arpa".into(),
                    "192.168.1.10".into(),
                    "fd00::1".into()
                ]
            }
        );
    }

    #[test]
    fn cert_and_key_come_together() {
        let m = err("[server]\nhttps = \"0.0.0.0:8443\"\ntls_cert = \"c.pem\"\n");
        assert!(
            m.contains("line 3") && m.contains("server.tls_cert is set without server.tls_key"),
            "{m}"
        );
        let m = err("[server]\nhttps = \"0.0.0.0:8443\"\ntls_key = \"k.pem\"\n");
        assert!(
            m.contains("server.tls_key is set without server.tls_cert"),
            "{m}"
        );
        let m = err(
            "[server]\nhttps = \"0.0.0.0:8443\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\ntls_names = [\"a.lan\"]\n",
        );
        assert!(
            m.contains("line 5") && m.contains("server.tls_names"),
            "{m}"
        );
    }

    #[test]
    fn tls_keys_without_https_are_refused() {
        let m = err("[server]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n");
        assert!(m.contains("server.https is not"), "{m}");
        let m = err("[server]\ntls_names = [\"a.lan\"]\n");
        assert!(
            m.contains("server.tls_names is set but server.https is not"),
            "{m}"
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", "a..b", "-a.lan", "a_b.lan", "a b", "*.", "http://x"] {
            let m = err(&format!(
                "[server]\nhttps = \"0.0.0.0:8443\"\ntls_names = [\"ok.lan\", {bad:?}]\n"
            ));
            assert!(m.contains("server.tls_names[1]"), "{bad:?}: {m}");
        }
        let m = err("[server]\nhttps = \"not an address\"\n");
        assert!(m.contains("https"), "{m}");
    }
}
