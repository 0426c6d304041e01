//! The `--to` URL: `ws://HOST[:PORT][/PATH]`, `http://HOST[:PORT][/PREFIX]` or
//! `tcp://HOST[:PORT]`. Default ports: 80 for ws and http (as `esp_websocket_client` and Arduino
//! `HTTPClient` assume), 1308 for tcp (seed 004's `client.py`). IPv6 hosts go in brackets.

use anyhow::{Context, bail};

/// Host and port to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address, without IPv6 brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// The host as it appears in a URL or `Host` header (IPv6 in brackets).
    pub fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// A parsed `--to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Seed 001 WebSocket camera: endpoint and request path (with query), `/` when absent.
    Ws(Endpoint, String),
    /// Seed 002 HTTP camera: endpoint and a path prefix put before the sketch's fixed paths
    /// (empty when absent).
    Http(Endpoint, String),
    /// Seed 004 Picamera client.
    Tcp(Endpoint),
}

impl Target {
    /// Parses a `--to` URL.
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let (scheme, rest) = url
            .split_once("://")
            .with_context(|| format!("{url:?}: expected ws://, http:// or tcp://"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let default_port = match scheme {
            "ws" | "http" => 80,
            "tcp" => 1308,
            "wss" | "https" => {
                bail!("{url:?}: TLS is not supported (the seed devices use plain TCP)")
            }
            _ => bail!("{url:?}: unknown scheme {scheme:?} (expected ws, http or tcp)"),
        };
        let endpoint = parse_authority(authority, default_port)
            .with_context(|| format!("{url:?}: bad host or port"))?;
        Ok(match scheme {
            "ws" => {
                let path = match path {
                    "" => "/".to_string(),
                    p if p.starts_with('?') => format!("/{p}"),
                    p => p.to_string(),
                };
                Target::Ws(endpoint, path)
            }
            "http" => Target::Http(endpoint, path.trim_end_matches('/').to_string()),
            _ => {
                if !path.is_empty() && path != "/" {
                    bail!("{url:?}: tcp:// takes no path");
                }
                Target::Tcp(endpoint)
            }
        })
    }

    /// `ws`, `http` or `tcp`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Target::Ws(..) => "ws",
            Target::Http(..) => "http",
            Target::Tcp(_) => "tcp",
        }
    }
}

fn parse_authority(authority: &str, default_port: u16) -> Option<Endpoint> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok().filter(|p| *p != 0)?,
        None => default_port,
    };
    Some(Endpoint {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_each_scheme() {
        assert_eq!(
            Target::parse("ws://10.0.0.2:8080/ws/camera").unwrap(),
            Target::Ws(ep("10.0.0.2", 8080), "/ws/camera".into())
        );
        assert_eq!(
            Target::parse("ws://cam.local").unwrap(),
            Target::Ws(ep("cam.local", 80), "/".into())
        );
        assert_eq!(
            Target::parse("ws://h:8765?x=1").unwrap(),
            Target::Ws(ep("h", 8765), "/?x=1".into())
        );
        assert_eq!(
            Target::parse("http://203.175.11.145:9005").unwrap(),
            Target::Http(ep("203.175.11.145", 9005), String::new())
        );
        assert_eq!(
            Target::parse("http://h:9005/iot/").unwrap(),
            Target::Http(ep("h", 9005), "/iot".into())
        );
        assert_eq!(
            Target::parse("tcp://pi").unwrap(),
            Target::Tcp(ep("pi", 1308))
        );
        assert_eq!(
            Target::parse("tcp://[::1]:8000").unwrap(),
            Target::Tcp(ep("::1", 8000))
        );
        assert_eq!(ep("::1", 1).url_host(), "[::1]");
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "localhost:80",
            "wss://h/ws",
            "ftp://h",
            "ws://:80/",
            "http://h:0",
            "http://h:99999",
            "tcp://h:1/x",
            "tcp://[::1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
