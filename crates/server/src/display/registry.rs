//! Connected displays by id. A new connection with the id of a connected display replaces it at
//! once (the old session is told `Replaced` and closes) if it comes from the same address: a
//! device reconnecting after a Wi-Fi drop takes over from its half-open predecessor, while a peer
//! elsewhere cannot kick a device off by claiming its id (`docs/security.md`, "Displays"). The
//! registry also holds the displays' memory budget, and answers preview requests by asking the
//! owning session task for its shadow of the panel.

use super::budget::MemoryBudget;
use super::live::LiveDisplay;
use super::status::DisplayStatus;
use pixelwire_core::{PixelFormat, Rgb565Image};
use pixelwire_proto::ErrorCode;
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Requests to a session task.
#[derive(Debug)]
pub enum DisplayCommand {
    /// Send a copy of the shadow (what the panel shows).
    Preview(oneshot::Sender<PanelImage>),
    /// Close with this reason.
    Close(ErrorCode, String),
    /// Switch the rate-control policy from the next frame.
    SetPrefer(pixelwire_core::Prefer),
}

/// What a panel shows, as the server knows it, in the panel's pixel format.
#[derive(Debug, Clone)]
pub struct PanelImage {
    /// RGB565 values, or grey levels for a grey `format`.
    pub image: Rgb565Image,
    /// The panel's pixel format (from its HELLO; RGB565 for seed-000 sketches).
    pub format: PixelFormat,
}

/// A registered session.
#[derive(Debug, Clone)]
pub struct DisplayHandle {
    /// Connection number (unique per server run).
    pub conn: u64,
    /// Who it is and its figures, recorded by the session task.
    pub live: Arc<LiveDisplay>,
    /// Commands to the session task.
    pub commands: mpsc::Sender<DisplayCommand>,
}

/// All connected displays.
#[derive(Debug, Default)]
pub struct DisplayRegistry {
    map: Mutex<BTreeMap<String, DisplayHandle>>,
    seen: Mutex<HashSet<String>>,
    next_conn: AtomicU64,
    /// Memory reserved by display sessions (`limits.display_memory_bytes`).
    pub memory: Arc<MemoryBudget>,
}

/// A registration refused: the id is connected from another address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldElsewhere(pub SocketAddr);

impl DisplayRegistry {
    /// A fresh connection number.
    pub fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Registers `handle` under `id`, unless a connection from another IP address holds the id.
    /// Returns whether the id was seen before in this run, and the handle it replaced (which the
    /// caller tells to close).
    pub fn register(
        &self,
        id: &str,
        handle: DisplayHandle,
    ) -> Result<(bool, Option<DisplayHandle>), HeldElsewhere> {
        let peer = handle.live.identity().address;
        let old = {
            let Ok(mut m) = self.map.lock() else {
                return Ok((false, None));
            };
            if let Some(holder) = Self::held_elsewhere(&m, id, peer.ip()) {
                return Err(holder);
            }
            m.insert(id.to_string(), handle)
        };
        let seen = self
            .seen
            .lock()
            .map(|mut s| !s.insert(id.to_string()))
            .unwrap_or(false);
        Ok((seen, old))
    }

    /// The connection holding `id`, if it comes from an address other than `ip`: a new connection
    /// from `ip` may not take the id over.
    pub fn holder_elsewhere(&self, id: &str, ip: IpAddr) -> Option<HeldElsewhere> {
        Self::held_elsewhere(&*self.map.lock().ok()?, id, ip)
    }

    fn held_elsewhere(
        m: &BTreeMap<String, DisplayHandle>,
        id: &str,
        ip: IpAddr,
    ) -> Option<HeldElsewhere> {
        let holder = m.get(id)?.live.identity().address;
        (holder.ip() != ip).then_some(HeldElsewhere(holder))
    }

    /// Removes `id` if it is still connection `conn` (a replaced session must not remove its
    /// replacement).
    pub fn unregister(&self, id: &str, conn: u64) {
        if let Ok(mut m) = self.map.lock()
            && m.get(id).is_some_and(|h| h.conn == conn)
        {
            m.remove(id);
        }
    }

    /// True when a display called `id` connected in this run.
    pub fn was_seen(&self, id: &str) -> bool {
        self.seen.lock().is_ok_and(|s| s.contains(id))
    }

    /// The display called `id`.
    pub fn get(&self, id: &str) -> Option<DisplayHandle> {
        self.map.lock().ok()?.get(id).cloned()
    }

    /// Status of every display at `now_us`.
    pub fn statuses(&self, now_us: u64) -> Vec<DisplayStatus> {
        let Ok(m) = self.map.lock() else {
            return Vec::new();
        };
        m.values().map(|h| h.live.status(now_us)).collect()
    }

    /// Asks every session to close (shutdown is also signalled directly; this is for tests).
    pub fn close_all(&self, code: ErrorCode, text: &str) {
        if let Ok(m) = self.map.lock() {
            for h in m.values() {
                let _ = h
                    .commands
                    .try_send(DisplayCommand::Close(code, text.to_string()));
            }
        }
    }

    /// Number of connected displays.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when no display is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::live::Identity;
    use crate::metrics::{Metrics, Protocol};

    fn handle(reg: &DisplayRegistry, id: &str, addr: &str) -> DisplayHandle {
        let (commands, _) = mpsc::channel(1);
        let identity = Identity {
            id: id.to_string(),
            protocol: Protocol::Pixelwire,
            address: addr.parse().unwrap(),
            stream: "s".into(),
            size: (8, 8),
            firmware: None,
            pixel_format: PixelFormat::default(),
        };
        DisplayHandle {
            conn: reg.next_conn(),
            live: Arc::new(LiveDisplay::new(identity, 0, Metrics::new().display(id))),
            commands,
        }
    }

    /// Issue 13, defect 7: a HELLO with another device's id kicked the real device off.
    #[test]
    fn display_takeover_needs_the_same_address() {
        let reg = DisplayRegistry::default();
        let real = handle(&reg, "desk-1", "10.0.0.5:40000");
        let real_conn = real.conn;
        assert!(matches!(reg.register("desk-1", real), Ok((false, None))));
        // Another address: refused, the real device stays registered.
        let ip = "10.0.0.9".parse().unwrap();
        assert_eq!(
            reg.holder_elsewhere("desk-1", ip),
            Some(HeldElsewhere("10.0.0.5:40000".parse().unwrap()))
        );
        let impostor = handle(&reg, "desk-1", "10.0.0.9:40000");
        assert!(reg.register("desk-1", impostor).is_err());
        assert_eq!(reg.get("desk-1").map(|h| h.conn), Some(real_conn));
        // The same address, another port (the device reconnected): it takes over.
        assert_eq!(
            reg.holder_elsewhere("desk-1", "10.0.0.5".parse().unwrap()),
            None
        );
        let back = handle(&reg, "desk-1", "10.0.0.5:40001");
        let back_conn = back.conn;
        let (seen, old) = reg.register("desk-1", back).unwrap();
        assert!(seen);
        assert_eq!(old.map(|h| h.conn), Some(real_conn));
        assert_eq!(reg.get("desk-1").map(|h| h.conn), Some(back_conn));
        // Once it is gone, anyone may use the id.
        reg.unregister("desk-1", back_conn);
        assert_eq!(reg.holder_elsewhere("desk-1", ip), None);
    }
}
