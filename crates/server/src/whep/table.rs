//! The table of WHEP sessions the HTTP side answers for: which ids exist, on which stream, from
//! which peer, and the caps `webrtc.max_sessions` and `webrtc.max_sessions_per_peer` ("limits and
//! keys as for viewers", `docs/security.md`). Sans-IO: the HTTP handlers reserve and remove, the
//! UDP task removes what ended; the session ids come from the caller (random, see `mod.rs`).

use crate::listener::peer_key;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

/// A session's id: 32 lowercase hex digits (128 random bits), the last segment of its URL. The
/// URL is the only thing a DELETE needs, so it must not be guessable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// The id of 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        use fmt::Write;
        let mut s = String::with_capacity(32);
        for b in bytes {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
        }
        Self(s)
    }

    /// An id from a URL segment, if it has the form of one.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(s.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a session cannot be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// `webrtc.max_sessions` are open.
    All,
    /// The peer holds `webrtc.max_sessions_per_peer`.
    Peer,
}

#[derive(Debug)]
struct Entry {
    stream: String,
    peer: IpAddr,
}

/// See the module docs.
#[derive(Debug)]
pub struct SessionTable {
    max: usize,
    max_per_peer: usize,
    sessions: HashMap<SessionId, Entry>,
}

impl SessionTable {
    /// An empty table with these caps.
    pub fn new(max: usize, max_per_peer: usize) -> Self {
        Self {
            max,
            max_per_peer,
            sessions: HashMap::new(),
        }
    }

    /// Adds session `id` on `stream` for a client at `peer`, within the caps.
    pub fn reserve(&mut self, id: SessionId, stream: &str, peer: IpAddr) -> Result<(), Full> {
        if self.sessions.len() >= self.max {
            return Err(Full::All);
        }
        let key = peer_key(peer);
        let of_peer = self.sessions.values().filter(|e| e.peer == key).count();
        if of_peer >= self.max_per_peer {
            return Err(Full::Peer);
        }
        self.sessions.insert(
            id,
            Entry {
                stream: stream.to_string(),
                peer: key,
            },
        );
        Ok(())
    }

    /// Removes `id`; true if it was there.
    pub fn remove(&mut self, id: &SessionId) -> bool {
        self.sessions.remove(id).is_some()
    }

    /// The stream of session `id`, if it is open.
    pub fn stream_of(&self, id: &SessionId) -> Option<&str> {
        self.sessions.get(id).map(|e| e.stream.as_str())
    }

    /// Sessions open.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when no session is open.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> SessionId {
        SessionId::from_random([n; 16])
    }

    #[test]
    fn caps_hold_overall_and_per_peer() {
        let mut t = SessionTable::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        t.reserve(id(1), "cam", a).unwrap();
        t.reserve(id(2), "cam", a).unwrap();
        assert_eq!(t.reserve(id(3), "cam", a), Err(Full::Peer));
        t.reserve(id(3), "bios", b).unwrap();
        assert_eq!(
            t.reserve(id(4), "bios", "192.0.2.3".parse().unwrap()),
            Err(Full::All)
        );
        assert_eq!(t.stream_of(&id(3)), Some("bios"));
        assert!(t.remove(&id(1)));
        assert!(!t.remove(&id(1)));
        t.reserve(id(5), "cam", a).unwrap();
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn one_ipv6_64_is_one_peer() {
        let mut t = SessionTable::new(10, 1);
        t.reserve(id(1), "s", "2001:db8::1".parse().unwrap())
            .unwrap();
        assert_eq!(
            t.reserve(id(2), "s", "2001:db8::2".parse().unwrap()),
            Err(Full::Peer)
        );
        t.reserve(id(2), "s", "2001:db8:0:1::1".parse().unwrap())
            .unwrap();
    }

    #[test]
    fn ids_are_hex_and_parse_back() {
        let i = SessionId::from_random([0xab; 16]);
        assert_eq!(i.as_str().len(), 32);
        assert_eq!(SessionId::parse(i.as_str()), Some(i));
        for bad in ["", "abc", &"g".repeat(32), &"A".repeat(32), &"a".repeat(33)] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
    }
}
