//! The cluster's streams as this node knows them (`docs/cluster.md`, "What is cluster-wide"):
//! every node announces the streams it is the origin of each heartbeat; a stream not announced
//! within `offline_after` is offline here (its origin died, or NATS or the link to it is down),
//! and online again when it is announced again. A stream its origin withdrew (missing from an
//! announcement of a node that is not leaving), or offline for `forget_after`, is removed.
//! Sans-IO: announcements and `now` in, changes out.

use super::wire::Announce;
use crate::bus::StreamDescription;
use std::collections::BTreeMap;

/// A change to apply to the local bus.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A remote stream came online (first heard of, or back).
    Online {
        /// Its name.
        stream: String,
        /// The node it comes from.
        origin: String,
        /// What it is.
        description: StreamDescription,
    },
    /// A remote stream went offline.
    Offline {
        /// Its name.
        stream: String,
    },
    /// A remote stream is gone: withdrawn by its origin, or offline for `forget_after`.
    Removed {
        /// Its name.
        stream: String,
    },
}

#[derive(Debug)]
struct Entry {
    origin: String,
    last_heard_ms: u64,
    online: bool,
    /// When it went offline (while offline).
    offline_since_ms: u64,
}

/// Remote streams by name.
#[derive(Debug)]
pub struct Directory {
    me: String,
    offline_after_ms: u64,
    forget_after_ms: u64,
    streams: BTreeMap<String, Entry>,
}

impl Directory {
    /// The directory of node `me`.
    pub fn new(me: &str, offline_after_ms: u64, forget_after_ms: u64) -> Self {
        Self {
            me: me.to_string(),
            offline_after_ms,
            forget_after_ms,
            streams: BTreeMap::new(),
        }
    }

    /// An announcement arrived; `is_local` says whether a stream of that name is this node's own
    /// (a local stream is never replaced by a remote one).
    pub fn handle_announce(
        &mut self,
        now_ms: u64,
        a: Announce,
        is_local: impl Fn(&str) -> bool,
    ) -> Vec<Change> {
        self.handle(now_ms, a, is_local, true)
    }

    /// A node's streams as listed in KV when this node joined: like an announcement, but it
    /// only adds (an entry may be missing for a moment, so nothing is taken as withdrawn).
    pub fn handle_listed(
        &mut self,
        now_ms: u64,
        a: Announce,
        is_local: impl Fn(&str) -> bool,
    ) -> Vec<Change> {
        self.handle(now_ms, a, is_local, false)
    }

    fn handle(
        &mut self,
        now_ms: u64,
        a: Announce,
        is_local: impl Fn(&str) -> bool,
        complete: bool,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        if a.node == self.me {
            return out;
        }
        // Streams this node no longer announces: offline at once if it stops (it may come
        // back), else withdrawn (a camera gone, a stream removed) and removed.
        let dropped: Vec<String> = self
            .streams
            .iter()
            .filter(|(name, e)| {
                complete && e.origin == a.node && !a.streams.iter().any(|s| &&s.name == name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in dropped {
            if a.leaving {
                if let Some(e) = self.streams.get_mut(&name).filter(|e| e.online) {
                    e.online = false;
                    e.offline_since_ms = now_ms;
                    out.push(Change::Offline { stream: name });
                }
            } else {
                self.streams.remove(&name);
                out.push(Change::Removed { stream: name });
            }
        }
        for s in a.streams {
            if is_local(&s.name) {
                continue;
            }
            let e = self.streams.entry(s.name.clone()).or_insert(Entry {
                origin: a.node.clone(),
                last_heard_ms: now_ms,
                online: false,
                offline_since_ms: now_ms,
            });
            if e.origin != a.node && e.online {
                // Two origins for one name: the first one heard keeps it while it lives.
                continue;
            }
            e.origin = a.node.clone();
            e.last_heard_ms = now_ms;
            if !e.online {
                e.online = true;
                out.push(Change::Online {
                    stream: s.name,
                    origin: a.node.clone(),
                    description: s.description,
                });
            }
        }
        out
    }

    /// Streams whose origin went quiet, and offline ones to forget.
    pub fn poll(&mut self, now_ms: u64) -> Vec<Change> {
        let mut out = Vec::new();
        for (name, e) in &mut self.streams {
            if e.online && now_ms.saturating_sub(e.last_heard_ms) >= self.offline_after_ms {
                e.online = false;
                e.offline_since_ms = now_ms;
                out.push(Change::Offline {
                    stream: name.clone(),
                });
            }
        }
        let forget_after = self.forget_after_ms;
        self.streams.retain(|name, e| {
            let keep = e.online || now_ms.saturating_sub(e.offline_since_ms) < forget_after;
            if !keep {
                out.push(Change::Removed {
                    stream: name.clone(),
                });
            }
            keep
        });
        out
    }

    /// The origin of a remote stream.
    pub fn origin(&self, stream: &str) -> Option<&str> {
        self.streams.get(stream).map(|e| e.origin.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::StreamKind;
    use crate::cluster::wire::AnnouncedStream;

    fn leaving(node: &str) -> Announce {
        Announce {
            leaving: true,
            ..announce(node, &[])
        }
    }

    fn announce(node: &str, names: &[&str]) -> Announce {
        Announce {
            node: node.into(),
            leaving: false,
            streams: names
                .iter()
                .map(|n| AnnouncedStream {
                    name: n.to_string(),
                    description: StreamDescription {
                        kind: StreamKind::Camera,
                        source: "camera".into(),
                        width: 64,
                        height: 48,
                        nominal_fps: 10.0,
                    },
                })
                .collect(),
        }
    }

    fn names(c: &[Change]) -> Vec<String> {
        c.iter()
            .map(|c| match c {
                Change::Online { stream, .. } => format!("+{stream}"),
                Change::Offline { stream } => format!("-{stream}"),
                Change::Removed { stream } => format!("x{stream}"),
            })
            .collect()
    }

    #[test]
    fn streams_go_offline_when_their_origin_is_quiet_and_come_back() {
        let mut d = Directory::new("b", 3000, 60_000);
        let no = |_: &str| false;
        assert_eq!(
            names(&d.handle_announce(0, announce("a", &["cam", "pat"]), no)),
            ["+cam", "+pat"]
        );
        assert!(
            d.handle_announce(1000, announce("a", &["cam", "pat"]), no)
                .is_empty()
        );
        assert!(d.poll(3999).is_empty());
        assert_eq!(names(&d.poll(4000)), ["-cam", "-pat"]);
        assert!(d.poll(9000).is_empty());
        assert_eq!(
            names(&d.handle_announce(9000, announce("a", &["cam"]), no)),
            ["xpat", "+cam"]
        );
        // A node that stops says so: offline at once.
        assert_eq!(names(&d.handle_announce(9500, leaving("a"), no)), ["-cam"]);
        assert_eq!(d.origin("cam"), Some("a"));
    }

    #[test]
    fn withdrawn_streams_go_at_once_and_offline_ones_after_forget_after() {
        let mut d = Directory::new("b", 3000, 10_000);
        let no = |_: &str| false;
        d.handle_announce(0, announce("a", &["cam", "pat", "gate"]), no);
        // a's camera went away while a lives: withdrawn.
        assert_eq!(
            names(&d.handle_announce(1000, announce("a", &["pat", "gate"]), no)),
            ["xcam"]
        );
        assert_eq!(d.origin("cam"), None);
        // A KV listing only adds.
        assert!(
            d.handle_listed(1000, announce("a", &["pat"]), no)
                .is_empty()
        );
        assert_eq!(d.origin("gate"), Some("a"));
        // a falls silent: offline at 4000, forgotten 10 s later.
        assert_eq!(names(&d.poll(4000)), ["-gate", "-pat"]);
        assert!(d.poll(13_999).is_empty());
        assert_eq!(names(&d.poll(14_000)), ["xgate", "xpat"]);
        assert!(d.poll(20_000).is_empty());
        // Back before forget_after: kept, and its offline time starts again next time.
        d.handle_announce(20_000, announce("a", &["pat"]), no);
        assert_eq!(names(&d.poll(23_000)), ["-pat"]);
        assert_eq!(
            names(&d.handle_announce(30_000, announce("a", &["pat"]), no)),
            ["+pat"]
        );
        assert!(d.poll(32_999).is_empty());
        assert_eq!(names(&d.poll(33_000)), ["-pat"]);
        assert!(d.poll(42_999).is_empty());
        assert_eq!(names(&d.poll(43_000)), ["xpat"]);
    }

    #[test]
    fn own_and_local_names_are_never_taken_and_the_first_origin_keeps_a_name() {
        let mut d = Directory::new("b", 3000, 60_000);
        assert!(
            d.handle_announce(0, announce("b", &["x"]), |_| false)
                .is_empty()
        );
        assert!(
            d.handle_announce(0, announce("a", &["bios"]), |n| n == "bios")
                .is_empty()
        );
        assert_eq!(
            names(&d.handle_announce(0, announce("a", &["cam"]), |_| false)),
            ["+cam"]
        );
        assert!(
            d.handle_announce(10, announce("c", &["cam"]), |_| false)
                .is_empty()
        );
        assert_eq!(d.origin("cam"), Some("a"));
    }
}
