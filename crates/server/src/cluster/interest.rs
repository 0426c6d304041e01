//! Who watches this node's streams from elsewhere (the origin side of `docs/cluster.md`,
//! "Interest"): each remote node repeats what it wants of a stream every heartbeat; a want not
//! repeated within the expiry lapses, so a node that died or lost NATS stops costing the origin
//! within a few seconds. Sans-IO: interest messages and `now` in, what to publish out.

use super::wire::Want;
use std::collections::HashMap;

/// What one node wants, and until when.
#[derive(Debug, Clone, Copy)]
struct Held {
    want: Want,
    until_ms: u64,
}

/// The interest of remote nodes in this node's streams.
#[derive(Debug)]
pub struct InterestTable {
    expiry_ms: u64,
    /// stream → node → want.
    streams: HashMap<String, HashMap<String, Held>>,
}

impl InterestTable {
    /// A table where a want lapses `expiry_ms` after it was last heard.
    pub fn new(expiry_ms: u64) -> Self {
        Self {
            expiry_ms,
            streams: HashMap::new(),
        }
    }

    /// `node` says it wants `want` of `stream` (all false: it stopped watching).
    pub fn handle_interest(&mut self, now_ms: u64, stream: &str, node: &str, want: Want) {
        let nodes = self.streams.entry(stream.to_string()).or_default();
        if want.none() {
            nodes.remove(node);
        } else {
            nodes.insert(
                node.to_string(),
                Held {
                    want,
                    until_ms: now_ms.saturating_add(self.expiry_ms),
                },
            );
        }
        if nodes.is_empty() {
            self.streams.remove(stream);
        }
    }

    /// Drops wants not repeated in time.
    pub fn expire(&mut self, now_ms: u64) {
        self.streams.retain(|_, nodes| {
            nodes.retain(|_, h| h.until_ms > now_ms);
            !nodes.is_empty()
        });
    }

    /// What the cluster wants of `stream` now: frames if any node wants them, H.264 if any
    /// node does (`keyframe` is never set here; requests are served as they come).
    pub fn wanted(&self, now_ms: u64, stream: &str) -> Want {
        let mut w = Want::default();
        for h in self
            .streams
            .get(stream)
            .into_iter()
            .flat_map(|n| n.values())
        {
            if h.until_ms > now_ms {
                w.frames |= h.want.frames;
                w.h264 |= h.want.h264;
            }
        }
        w
    }

    /// The streams someone wants.
    pub fn streams(&self) -> impl Iterator<Item = &str> {
        self.streams.keys().map(String::as_str)
    }

    /// The nodes watching `stream`.
    pub fn watchers(&self, stream: &str) -> usize {
        self.streams.get(stream).map_or(0, HashMap::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAMES: Want = Want {
        frames: true,
        h264: false,
        keyframe: false,
    };
    const H264: Want = Want {
        frames: false,
        h264: true,
        keyframe: false,
    };

    #[test]
    fn wants_combine_across_nodes_and_lapse_unless_repeated() {
        let mut t = InterestTable::new(3000);
        t.handle_interest(0, "cam", "b", FRAMES);
        t.handle_interest(500, "cam", "c", H264);
        let both = t.wanted(1000, "cam");
        assert!(both.frames && both.h264);
        assert_eq!(t.watchers("cam"), 2);
        // b repeats, c went silent (died, or lost NATS).
        t.handle_interest(2500, "cam", "b", FRAMES);
        t.expire(3600);
        assert_eq!(t.wanted(3600, "cam"), FRAMES);
        assert_eq!(t.watchers("cam"), 1);
        t.expire(5600);
        assert!(t.wanted(5600, "cam").none());
        assert_eq!(t.streams().count(), 0);
    }

    #[test]
    fn a_node_that_stops_watching_says_so_at_once() {
        let mut t = InterestTable::new(3000);
        t.handle_interest(0, "cam", "b", H264);
        t.handle_interest(10, "cam", "b", Want::default());
        assert!(t.wanted(10, "cam").none());
        assert_eq!(t.streams().count(), 0);
        // An unwatched stream a node never watched is not remembered.
        t.handle_interest(20, "other", "b", Want::default());
        assert_eq!(t.streams().count(), 0);
    }
}
