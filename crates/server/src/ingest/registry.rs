//! The device registry: every camera that registered (seed 002 HTTP devices) or pushed a frame,
//! with what it reported (uptime, heap, RSSI) and what was measured (fps, bytes/s, last seen).
//! Records persist in an embedded database (`redb`, pure Rust) under the data directory, so the
//! registry survives restarts; registrations and heartbeats are written at once, frame-driven
//! changes every few seconds by [`DeviceRegistry::flush`].
//!
//! In a cluster (`docs/cluster.md`, "The device registry") the records are also kept in NATS KV,
//! one key per device: this node hands its changes to the cluster task
//! ([`DeviceRegistry::take_cluster_changes`]: registrations and heartbeats at once, frame-driven
//! changes each heartbeat) and takes the other nodes' ([`DeviceRegistry::merge_remote`]). The
//! newest KV revision of a device is its record; a record changed here since it was last put
//! keeps its local value until it is put (it then becomes the newest revision), so every node
//! ends with the last one written.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");

/// Most expired devices kept for deletion from the cluster's KV while it cannot be reached.
const MAX_UNSENT_DELETES: usize = 4096;

/// What is stored per device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Device id (seed 002's `deviceId`, or a name derived from the connection).
    pub id: String,
    /// Human name (`deviceName`).
    pub name: String,
    /// Device type (`deviceType`, e.g. "camera").
    #[serde(rename = "type")]
    pub kind: String,
    /// What it says it can do.
    pub capabilities: Vec<String>,
    /// Last peer address.
    pub address: String,
    /// How it sends frames: "http", "websocket", "tcp" (empty until it sends one).
    pub transport: String,
    /// Stream its frames go to.
    pub stream: String,
    /// First seen, ms since the Unix epoch.
    pub first_seen_ms: u64,
    /// Last seen (frame, registration or heartbeat), ms since the Unix epoch.
    pub last_seen_ms: u64,
    /// Device-reported uptime, ms.
    pub uptime_ms: Option<u64>,
    /// Device-reported free heap, bytes.
    pub free_heap_bytes: Option<u64>,
    /// Device-reported WiFi signal, dBm.
    pub rssi_dbm: Option<i64>,
    /// True once it registered through the device API.
    pub registered: bool,
    /// Frames received, in total.
    pub frames: u64,
    /// In a cluster, the node the device last talked to (absent on a single node).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
}

/// A device as `GET /api/devices` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceStatus {
    /// The stored record.
    #[serde(flatten)]
    pub record: DeviceRecord,
    /// Seen within the offline limit.
    pub online: bool,
    /// Seconds since last seen.
    pub last_seen_s: f64,
    /// Frames per second over the last 2 s.
    pub fps: f64,
    /// Kilobytes per second over the last 2 s.
    pub kbytes_per_s: f64,
}

/// Whether a record changed here still has to go to the cluster's KV.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unsent {
    /// Nothing new.
    #[default]
    No,
    /// Frame-driven changes: with the next heartbeat.
    Soon,
    /// A registration or heartbeat: at once.
    Now,
}

#[derive(Debug, Default)]
struct Entry {
    record: DeviceRecord,
    recent: VecDeque<(u64, u64)>, // (ms, bytes) of recent frames
    dirty: bool,
    unsent: Unsent,
    /// The KV revision this record is (0: none known since this node joined).
    revision: u64,
}

/// A change of this node's registry for the cluster's KV.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterChange {
    /// Put this record.
    Put(Box<DeviceRecord>),
    /// Delete this device (an unregistered one expired here).
    Delete(String),
}

/// The registry; see the module docs.
pub struct DeviceRegistry {
    db: Option<Arc<Database>>,
    map: Mutex<BTreeMap<String, Entry>>,
    offline_after_ms: u64,
    /// In a cluster, this node's name; unset, nothing is kept for the cluster.
    node: OnceLock<String>,
    /// Devices expired here, to delete from the cluster's KV.
    deleted: Mutex<Vec<String>>,
}

impl std::fmt::Debug for DeviceRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRegistry")
            .field("persistent", &self.db.is_some())
            .finish()
    }
}

/// Registry errors (only opening can fail loudly; later write failures are logged).
#[derive(Debug, thiserror::Error)]
#[error("device registry at {path}: {reason}")]
pub struct RegistryError {
    path: String,
    reason: String,
}

impl DeviceRegistry {
    /// Opens (or creates) the registry in `dir/devices.redb` and loads every record.
    pub fn open(dir: &Path, offline_after_ms: u64) -> Result<Self, RegistryError> {
        let path = dir.join("devices.redb");
        let err = |reason: String| RegistryError {
            path: path.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        let db = Database::create(&path).map_err(|e| err(e.to_string()))?;
        let mut map = BTreeMap::new();
        {
            let tx = db.begin_write().map_err(|e| err(e.to_string()))?;
            // Creates the table on first use.
            tx.open_table(DEVICES).map_err(|e| err(e.to_string()))?;
            tx.commit().map_err(|e| err(e.to_string()))?;
        }
        let tx = db.begin_read().map_err(|e| err(e.to_string()))?;
        let table = tx.open_table(DEVICES).map_err(|e| err(e.to_string()))?;
        for row in table.iter().map_err(|e| err(e.to_string()))? {
            let (k, v) = row.map_err(|e| err(e.to_string()))?;
            match serde_json::from_slice::<DeviceRecord>(v.value()) {
                Ok(record) => {
                    map.insert(
                        k.value().to_string(),
                        Entry {
                            record,
                            ..Entry::default()
                        },
                    );
                }
                Err(e) => {
                    tracing::warn!(device = k.value(), error = %e, "skipping unreadable device record")
                }
            }
        }
        drop(table);
        drop(tx);
        Ok(Self {
            db: Some(Arc::new(db)),
            map: Mutex::new(map),
            offline_after_ms,
            node: OnceLock::new(),
            deleted: Mutex::new(Vec::new()),
        })
    }

    /// A registry that keeps nothing on disk (tests, or when the data directory is unusable).
    pub fn in_memory(offline_after_ms: u64) -> Self {
        Self {
            db: None,
            map: Mutex::new(BTreeMap::new()),
            offline_after_ms,
            node: OnceLock::new(),
            deleted: Mutex::new(Vec::new()),
        }
    }

    /// The open database, for other state kept beside the devices (the display routes,
    /// `crate::display::route_store`); `None` for an in-memory registry.
    pub fn database(&self) -> Option<Arc<Database>> {
        self.db.clone()
    }

    fn persist(&self, records: &[DeviceRecord]) {
        let Some(db) = &self.db else { return };
        let result = (|| -> Result<(), String> {
            let tx = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut t = tx.open_table(DEVICES).map_err(|e| e.to_string())?;
                for r in records {
                    let v = serde_json::to_vec(r).map_err(|e| e.to_string())?;
                    t.insert(r.id.as_str(), v.as_slice())
                        .map_err(|e| e.to_string())?;
                }
            }
            tx.commit().map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot persist device records");
        }
    }

    fn update(&self, id: &str, now_ms: u64, persist_now: bool, f: impl FnOnce(&mut Entry)) {
        let snapshot = {
            let Ok(mut m) = self.map.lock() else { return };
            let e = m.entry(id.to_string()).or_default();
            if e.record.id.is_empty() {
                e.record.id = id.to_string();
                e.record.first_seen_ms = now_ms;
            }
            e.record.last_seen_ms = now_ms;
            if let Some(node) = self.node.get() {
                e.record.node.clone_from(node);
                e.unsent = e.unsent.max(if persist_now {
                    Unsent::Now
                } else {
                    Unsent::Soon
                });
            }
            f(e);
            e.dirty = !persist_now;
            persist_now.then(|| e.record.clone())
        };
        if let Some(r) = snapshot {
            self.persist(&[r]);
        }
    }

    /// A device registered (seed 002 `POST /api/v1/devices/register`).
    pub fn register(
        &self,
        id: &str,
        name: &str,
        kind: &str,
        address: &str,
        capabilities: Vec<String>,
        now_ms: u64,
    ) {
        self.update(id, now_ms, true, |e| {
            e.record.name = name.to_string();
            e.record.kind = kind.to_string();
            e.record.address = address.to_string();
            e.record.capabilities = capabilities;
            e.record.registered = true;
            // Its frames will go to the stream named after it; say so from the start (a
            // device that already sent frames keeps the stream they went to).
            if e.record.stream.is_empty() {
                e.record.stream = super::stream_name(id);
            }
        });
    }

    /// Whether a frame from `id` may be recorded: a known device, or a new one while fewer than
    /// `max_unregistered` unregistered devices are kept.
    pub fn admits(&self, id: &str, max_unregistered: usize) -> bool {
        let Ok(m) = self.map.lock() else { return true };
        m.contains_key(id) || m.values().filter(|e| !e.record.registered).count() < max_unregistered
    }

    /// Forgets unregistered devices silent for `expiry_ms` (in memory and on disk); returns how
    /// many.
    pub fn expire_unregistered(&self, now_ms: u64, expiry_ms: u64) -> usize {
        let gone: Vec<String> = {
            let Ok(mut m) = self.map.lock() else { return 0 };
            let ids: Vec<String> = m
                .values()
                .filter(|e| {
                    !e.record.registered
                        && now_ms.saturating_sub(e.record.last_seen_ms) >= expiry_ms
                })
                .map(|e| e.record.id.clone())
                .collect();
            for id in &ids {
                m.remove(id);
            }
            // Bounded: without a usable KV nobody drains it (the other nodes then expire the
            // devices themselves).
            if self.node.get().is_some()
                && let Ok(mut d) = self.deleted.lock()
            {
                let room = MAX_UNSENT_DELETES.saturating_sub(d.len());
                d.extend(ids.iter().take(room).cloned());
            }
            ids
        };
        self.unpersist(&gone);
        gone.len()
    }

    fn unpersist(&self, gone: &[String]) {
        let Some(db) = self.db.as_ref().filter(|_| !gone.is_empty()) else {
            return;
        };
        let result = (|| -> Result<(), String> {
            let tx = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut t = tx.open_table(DEVICES).map_err(|e| e.to_string())?;
                for id in gone {
                    t.remove(id.as_str()).map_err(|e| e.to_string())?;
                }
            }
            tx.commit().map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot remove expired device records");
        }
    }

    /// Joins a cluster as `node`: from now on changes are kept for the cluster's KV.
    pub fn set_node(&self, node: &str) {
        let _ = self.node.set(node.to_string());
    }

    /// The changes to put into the cluster's KV: registrations and heartbeats always, frame-driven
    /// changes too when `all` (each heartbeat). Taken changes are not given again unless
    /// [`DeviceRegistry::cluster_unsent`] says the put failed.
    pub fn take_cluster_changes(&self, all: bool) -> Vec<ClusterChange> {
        let want = if all { Unsent::Soon } else { Unsent::Now };
        let mut out: Vec<ClusterChange> = self
            .deleted
            .lock()
            .map(|mut d| d.drain(..).map(ClusterChange::Delete).collect())
            .unwrap_or_default();
        if let Ok(mut m) = self.map.lock() {
            for e in m.values_mut().filter(|e| e.unsent >= want) {
                e.unsent = Unsent::No;
                out.push(ClusterChange::Put(Box::new(e.record.clone())));
            }
        }
        out
    }

    /// A put of `id` failed: give it again with the next heartbeat.
    pub fn cluster_unsent(&self, id: &str) {
        if let Ok(mut m) = self.map.lock()
            && let Some(e) = m.get_mut(id)
        {
            e.unsent = e.unsent.max(Unsent::Soon);
        }
    }

    /// This node's put of `id` is KV revision `revision`.
    pub fn cluster_sent(&self, id: &str, revision: u64) {
        if let Ok(mut m) = self.map.lock()
            && let Some(e) = m.get_mut(id)
        {
            e.revision = e.revision.max(revision);
        }
    }

    /// This node (re)joined the cluster's KV: the revisions it knew may be from a KV since
    /// lost, so all are forgotten (the watch gives every key's newest again). Returns the records
    /// with nothing unsent, to create in KV where no node has put them yet; unsent ones are put
    /// as ever.
    pub fn cluster_rejoined(&self) -> Vec<DeviceRecord> {
        let Ok(mut m) = self.map.lock() else {
            return Vec::new();
        };
        let mut clean = Vec::new();
        for e in m.values_mut() {
            e.revision = 0;
            if e.unsent == Unsent::No {
                clean.push(e.record.clone());
            }
        }
        clean
    }

    /// Revision `revision` of a device's record came from the cluster's KV; true if it is now the
    /// record here (not when it is older than the one here, or the device changed here since
    /// its last put: that change is put next and becomes the newest revision).
    pub fn merge_remote(&self, record: DeviceRecord, revision: u64) -> bool {
        if record.id.is_empty() {
            return false;
        }
        let applied = {
            let Ok(mut m) = self.map.lock() else {
                return false;
            };
            let e = m.entry(record.id.clone()).or_default();
            if e.unsent != Unsent::No || (revision <= e.revision && !e.record.id.is_empty()) {
                false
            } else {
                e.revision = revision;
                e.dirty = false;
                e.record = record.clone();
                true
            }
        };
        if applied {
            self.persist(&[record]);
        }
        applied
    }

    /// Revision `revision` of the cluster's KV deleted device `id` (another node expired it);
    /// true if it is gone here too (by the rule of [`DeviceRegistry::merge_remote`]).
    pub fn remove_remote(&self, id: &str, revision: u64) -> bool {
        let removed = {
            let Ok(mut m) = self.map.lock() else {
                return false;
            };
            match m.get(id) {
                Some(e) if e.unsent == Unsent::No && revision > e.revision => {
                    m.remove(id);
                    true
                }
                _ => false,
            }
        };
        if removed {
            self.unpersist(&[id.to_string()]);
        }
        removed
    }

    /// The stream a device's frames go to, as stored.
    pub fn stream_of(&self, id: &str) -> Option<String> {
        let m = self.map.lock().ok()?;
        m.get(id)
            .map(|e| e.record.stream.clone())
            .filter(|s| !s.is_empty())
    }

    /// A heartbeat; false if the device never registered (the caller answers 404 so the device
    /// registers again, seed-protocols.md §C.3).
    pub fn heartbeat(
        &self,
        id: &str,
        uptime_ms: Option<u64>,
        heap: Option<u64>,
        rssi: Option<i64>,
        now_ms: u64,
    ) -> bool {
        let known = self
            .map
            .lock()
            .map(|m| m.get(id).is_some_and(|e| e.record.registered))
            .unwrap_or(false);
        if known {
            self.update(id, now_ms, true, |e| {
                e.record.uptime_ms = uptime_ms;
                e.record.free_heap_bytes = heap;
                e.record.rssi_dbm = rssi;
            });
        }
        known
    }

    /// A frame of `bytes` arrived from `id` over `transport` into `stream`.
    pub fn frame(
        &self,
        id: &str,
        transport: &str,
        stream: &str,
        address: &str,
        bytes: u64,
        now_ms: u64,
    ) {
        self.update(id, now_ms, false, |e| {
            if e.record.kind.is_empty() {
                e.record.kind = "camera".into();
            }
            e.record.transport = transport.to_string();
            e.record.stream = stream.to_string();
            e.record.address = address.to_string();
            e.record.frames += 1;
            e.recent.push_back((now_ms, bytes));
            while e.recent.front().is_some_and(|(t, _)| now_ms - t > 2000) {
                e.recent.pop_front();
            }
        });
    }

    /// The registered device whose address is `ip` (seed 002 devices send no id with frames).
    pub fn id_by_ip(&self, ip: &str) -> Option<String> {
        let m = self.map.lock().ok()?;
        m.values()
            .filter(|e| e.record.registered && e.record.address.split(':').next() == Some(ip))
            .max_by_key(|e| e.record.last_seen_ms)
            .map(|e| e.record.id.clone())
    }

    /// Writes every record changed since the last flush.
    pub fn flush(&self) {
        let dirty: Vec<DeviceRecord> = match self.map.lock() {
            Ok(mut m) => m
                .values_mut()
                .filter(|e| e.dirty)
                .map(|e| {
                    e.dirty = false;
                    e.record.clone()
                })
                .collect(),
            Err(_) => return,
        };
        if !dirty.is_empty() {
            self.persist(&dirty);
        }
    }

    /// Every device, at `now_ms`.
    pub fn list(&self, now_ms: u64) -> Vec<DeviceStatus> {
        let Ok(m) = self.map.lock() else {
            return Vec::new();
        };
        m.values()
            .map(|e| {
                let recent: Vec<_> = e
                    .recent
                    .iter()
                    .filter(|(t, _)| now_ms.saturating_sub(*t) <= 2000)
                    .collect();
                DeviceStatus {
                    record: e.record.clone(),
                    online: now_ms.saturating_sub(e.record.last_seen_ms) <= self.offline_after_ms,
                    last_seen_s: now_ms.saturating_sub(e.record.last_seen_ms) as f64 / 1000.0,
                    fps: recent.len() as f64 / 2.0,
                    kbytes_per_s: recent.iter().map(|(_, b)| *b).sum::<u64>() as f64 / 2000.0,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("pixelwire-registry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let r = DeviceRegistry::open(&dir, 60_000).unwrap();
            r.register(
                "ESP32-CAM-001",
                "Camera #1",
                "camera",
                "10.0.0.5",
                vec!["streaming".into()],
                1000,
            );
            assert!(r.heartbeat("ESP32-CAM-001", Some(5000), Some(40000), Some(-60), 2000));
            assert!(!r.heartbeat("stranger", None, None, None, 2000));
            r.frame(
                "ESP32-CAM-001",
                "http",
                "esp32-cam-001",
                "10.0.0.5:1234",
                1000,
                2500,
            );
            r.flush();
        }
        let r = DeviceRegistry::open(&dir, 60_000).unwrap();
        let l = r.list(3000);
        assert_eq!(l.len(), 1);
        let d = &l[0].record;
        assert_eq!(
            (d.name.as_str(), d.rssi_dbm, d.frames, d.first_seen_ms),
            ("Camera #1", Some(-60), 1, 1000)
        );
        assert!(l[0].online);
        assert_eq!(r.id_by_ip("10.0.0.5").as_deref(), Some("ESP32-CAM-001"));
        assert!(!r.list(3000 + 61_000)[0].online);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn record(id: &str, name: &str, node: &str) -> DeviceRecord {
        DeviceRecord {
            id: id.into(),
            name: name.into(),
            node: node.into(),
            registered: true,
            ..DeviceRecord::default()
        }
    }

    fn names(r: &DeviceRegistry) -> Vec<String> {
        r.list(0)
            .into_iter()
            .map(|d| format!("{}={}@{}", d.record.id, d.record.name, d.record.node))
            .collect()
    }

    #[test]
    fn cluster_changes_go_out_once_and_failed_puts_again() {
        let r = DeviceRegistry::in_memory(60_000);
        // Not in a cluster: nothing is kept for one.
        r.register("cam", "Cam", "camera", "10.0.0.5", vec![], 1000);
        assert!(r.take_cluster_changes(true).is_empty());
        r.set_node("a");
        r.frame("cam", "http", "cam", "10.0.0.5:1", 100, 1100);
        // Frame-driven changes wait for the heartbeat...
        assert!(r.take_cluster_changes(false).is_empty());
        let c = r.take_cluster_changes(true);
        assert!(matches!(&c[..], [ClusterChange::Put(d)] if d.node == "a" && d.frames == 1));
        // ...a heartbeat goes at once, and only once.
        assert!(r.heartbeat("cam", Some(1), None, None, 1200));
        assert_eq!(r.take_cluster_changes(false).len(), 1);
        assert!(r.take_cluster_changes(true).is_empty());
        r.cluster_unsent("cam");
        assert_eq!(r.take_cluster_changes(true).len(), 1);
        r.expire_unregistered(10_000_000, 1);
        assert!(r.take_cluster_changes(true).is_empty(), "registered: kept");
        r.frame("stray", "tcp", "stray", "10.0.0.9:2", 1, 1300);
        r.expire_unregistered(10_000_000, 1);
        let c = r.take_cluster_changes(true);
        assert!(c.contains(&ClusterChange::Delete("stray".into())), "{c:?}");
    }

    #[test]
    fn the_newest_revision_wins_unless_the_device_changed_here_since() {
        let r = DeviceRegistry::in_memory(60_000);
        r.set_node("b");
        // Another node's device: known here, so its heartbeat here is accepted.
        assert!(r.merge_remote(record("cam", "one", "a"), 5));
        assert!(r.heartbeat("cam", None, None, None, 10));
        assert_eq!(names(&r), ["cam=one@b"]);
        // Unsent here: a newer revision from elsewhere does not overwrite it...
        assert!(!r.merge_remote(record("cam", "two", "c"), 6));
        let c = r.take_cluster_changes(false);
        assert!(matches!(&c[..], [ClusterChange::Put(d)] if d.name == "one"));
        r.cluster_sent("cam", 7);
        // ...its own put echoed back, and anything older, change nothing...
        assert!(!r.merge_remote(record("cam", "one", "b"), 7));
        assert!(!r.merge_remote(record("cam", "two", "c"), 6));
        // ...and a later one is taken as it is.
        assert!(r.merge_remote(record("cam", "three", "c"), 8));
        assert_eq!(names(&r), ["cam=three@c"]);
        // A delete: the same rule.
        assert!(!r.remove_remote("cam", 8));
        assert!(r.remove_remote("cam", 9));
        assert!(names(&r).is_empty());
        // Rejoining forgets revisions (the KV may be new) and offers clean records for create.
        assert!(r.merge_remote(record("cam", "four", "c"), 20));
        assert_eq!(r.cluster_rejoined().len(), 1);
        assert!(r.merge_remote(record("cam", "five", "c"), 1));
        assert_eq!(names(&r), ["cam=five@c"]);
        assert!(!r.merge_remote(record("", "nameless", "c"), 2));
    }
}
