//! The load generator's safety rule: it only ever talks to the machine it runs on. A target must
//! resolve to loopback addresses only (127.0.0.0/8, ::1); anything else is refused before a single
//! connection opens.

use std::net::{SocketAddr, ToSocketAddrs};

/// Why a target was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// It did not resolve.
    #[error("cannot resolve {0:?}")]
    Unresolved(String),
    /// It resolves to an address off this machine.
    #[error(
        "{target:?} resolves to {addr}, which is not loopback: the load generator only runs against this machine"
    )]
    NotLoopback {
        /// What was asked for.
        target: String,
        /// The first non-loopback address.
        addr: SocketAddr,
    },
}

/// Checks resolved addresses: all of them loopback, and at least one.
pub fn check(target: &str, addrs: &[SocketAddr]) -> Result<SocketAddr, TargetError> {
    if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(TargetError::NotLoopback {
            target: target.to_string(),
            addr: *bad,
        });
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| TargetError::Unresolved(target.to_string()))
}

/// Resolves `HOST:PORT` and checks it with [`check`].
pub fn resolve(target: &str) -> Result<SocketAddr, TargetError> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|_| TargetError::Unresolved(target.to_string()))?
        .collect();
    check(target, &addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_pass() {
        assert!(resolve("127.0.0.1:8080").is_ok());
        assert!(resolve("[::1]:8080").is_ok());
        assert!(resolve("localhost:8080").is_ok());
        assert!(matches!(
            resolve("192.0.2.1:8080"),
            Err(TargetError::NotLoopback { .. })
        ));
        assert!(matches!(
            resolve("0.0.0.0:8080"),
            Err(TargetError::NotLoopback { .. })
        ));
        let mixed = [
            "127.0.0.1:1".parse().unwrap(),
            "10.0.0.1:1".parse().unwrap(),
        ];
        assert!(check("x", &mixed).is_err());
        assert_eq!(check("x", &[]), Err(TargetError::Unresolved("x".into())));
    }
}
