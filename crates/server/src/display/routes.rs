//! Which stream each display shows: the configured route (`[[displays]]` by id,
//! `[[legacy_displays]]` by address and port, else `server.default_stream`) unless the page or the
//! API chose another (issue 15, part 4). Overrides persist in the [`RouteStore`]; at start-up an
//! override is dropped when the configuration's route for that display is no longer the one it
//! overrode ("the config wins": [`config_still_overridden`]). A connected display task holds a
//! [`tokio::sync::watch`] receiver of its stream name and switches on the next frame when it
//! changes, without reconnecting.

use super::legacy_conn::ID_PREFIX;
use super::route_store::{RouteStore, StoredPrefer, StoredRoute};
use crate::config::{Config, PreferName};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Where a display's stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteOrigin {
    /// The configuration (or `server.default_stream`).
    Config,
    /// Chosen from the page or the API.
    Override,
}

/// A display's route as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The stream it shows.
    pub stream: String,
    /// Where that comes from.
    pub origin: RouteOrigin,
    /// The configuration's route for it.
    pub configured_stream: String,
    /// Its rate-control policy (`prefer`).
    pub prefer: PreferName,
    /// Where that comes from.
    pub prefer_origin: RouteOrigin,
    /// The configuration's policy for it.
    pub configured_prefer: PreferName,
}

/// True when a stored override still applies: the configuration routes the display as it did
/// when the override was chosen. A changed route means someone edited the configuration since,
/// and the newer decision wins.
pub fn config_still_overridden(stored: &StoredRoute, configured_now: &str) -> bool {
    stored.configured == configured_now
}

/// A legacy sketch's id, `legacy-<ip>-<port>`, as its address and listening port.
pub fn parse_legacy_id(id: &str) -> Option<(IpAddr, u16)> {
    let rest = id.strip_prefix(ID_PREFIX)?;
    let (ip, port) = rest.rsplit_once('-')?;
    Some((ip.parse().ok()?, port.parse().ok()?))
}

#[derive(Debug, Default)]
struct Inner {
    overrides: BTreeMap<String, StoredRoute>,
    prefers: BTreeMap<String, StoredPrefer>,
    watchers: HashMap<String, watch::Sender<String>>,
}

/// Routes of all displays; see the module docs.
#[derive(Debug)]
pub struct RouteTable {
    cfg: Arc<Config>,
    store: RouteStore,
    inner: Mutex<Inner>,
}

impl RouteTable {
    /// The table for `cfg`, with the overrides in `store` that the configuration has not
    /// superseded (the others are removed from the store and logged).
    pub fn open(cfg: Arc<Config>, store: RouteStore) -> Result<Self, String> {
        let table = Self {
            cfg,
            store,
            inner: Mutex::new(Inner::default()),
        };
        let mut kept = BTreeMap::new();
        for (id, stored) in table.store.load()? {
            let configured = table.configured(&id);
            if config_still_overridden(&stored, &configured) {
                kept.insert(id, stored);
            } else {
                tracing::info!(display = %id, chosen = %stored.stream, was = %stored.configured, now = %configured,
                    "display route override dropped: the configuration's route changed since");
                table.store.put(&id, None);
            }
        }
        let mut prefers = BTreeMap::new();
        for (id, stored) in table.store.load_prefers()? {
            let configured = table.configured_prefer(&id);
            if stored.configured == configured {
                prefers.insert(id, stored);
            } else {
                tracing::info!(display = %id, chosen = ?stored.prefer, was = ?stored.configured, now = ?configured,
                    "display prefer override dropped: the configuration's policy changed since");
                table.store.put_prefer(&id, None);
            }
        }
        if let Ok(mut i) = table.inner.lock() {
            i.overrides = kept;
            i.prefers = prefers;
        }
        Ok(table)
    }

    /// A table without persistence (tests).
    pub fn in_memory(cfg: Arc<Config>) -> Self {
        Self {
            cfg,
            store: RouteStore::default(),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The configuration's stream for display `id` (a sketch's id names its address and port).
    pub fn configured(&self, id: &str) -> String {
        match parse_legacy_id(id) {
            Some((ip, port)) => self.cfg.route_legacy(ip, port).0,
            None => self.cfg.route_display(id).0,
        }
    }

    /// The configuration's rate-control policy for display `id`.
    pub fn configured_prefer(&self, id: &str) -> PreferName {
        let tuning = match parse_legacy_id(id) {
            Some((ip, port)) => self.cfg.route_legacy(ip, port).3,
            None => self.cfg.route_display(id).1,
        };
        tuning.sink.rate.prefer.into()
    }

    /// True when the configuration names `id`: a `[[displays]]` id, or a sketch id that a
    /// `[[legacy_displays]]` entry matches.
    pub fn is_configured(&self, id: &str) -> bool {
        match parse_legacy_id(id) {
            Some((ip, port)) => self.cfg.legacy_displays.iter().any(|r| r.matches(ip, port)),
            None => self.cfg.displays.iter().any(|d| d.id == id),
        }
    }

    /// True when an override is held for `id`.
    pub fn has_override(&self, id: &str) -> bool {
        self.inner
            .lock()
            .is_ok_and(|i| i.overrides.contains_key(id))
    }

    fn route_in(&self, i: &Inner, id: &str) -> Route {
        let configured_stream = self.configured(id);
        let configured_prefer = self.configured_prefer(id);
        let (stream, origin) = match i.overrides.get(id) {
            Some(o) => (o.stream.clone(), RouteOrigin::Override),
            None => (configured_stream.clone(), RouteOrigin::Config),
        };
        let (prefer, prefer_origin) = match i.prefers.get(id) {
            Some(p) => (p.prefer, RouteOrigin::Override),
            None => (configured_prefer, RouteOrigin::Config),
        };
        Route {
            stream,
            origin,
            configured_stream,
            prefer,
            prefer_origin,
            configured_prefer,
        }
    }

    /// Sets display `id`'s rate-control policy (`None`: back to the configured one) and persists
    /// the choice; a connected display is told by its caller (the command channel), and a display
    /// that connects later starts with it.
    pub fn set_prefer(&self, id: &str, prefer: Option<PreferName>) -> Route {
        let stored = prefer.map(|prefer| StoredPrefer {
            prefer,
            configured: self.configured_prefer(id),
        });
        if let Ok(mut i) = self.inner.lock() {
            match &stored {
                Some(p) => i.prefers.insert(id.to_string(), p.clone()),
                None => i.prefers.remove(id),
            };
        }
        self.store.put_prefer(id, stored.as_ref());
        self.route(id)
    }

    /// True when a `prefer` override is held for `id`.
    pub fn has_prefer_override(&self, id: &str) -> bool {
        self.inner.lock().is_ok_and(|i| i.prefers.contains_key(id))
    }

    /// Fills in where `s`'s stream comes from and the configured one.
    pub fn annotate(&self, s: &mut super::status::DisplayStatus) {
        let route = self.route(&s.id);
        s.stream_origin = Some(route.origin);
        s.configured_stream = Some(route.configured_stream);
        s.prefer = Some(route.prefer);
        s.prefer_origin = Some(route.prefer_origin);
    }

    /// Display `id`'s route now.
    pub fn route(&self, id: &str) -> Route {
        match self.inner.lock() {
            Ok(i) => self.route_in(&i, id),
            Err(_) => self.route_in(&Inner::default(), id),
        }
    }

    /// The stream `id` shows, and from now on every change of it (a connection task holds this).
    pub fn subscribe(&self, id: &str) -> watch::Receiver<String> {
        let Ok(mut i) = self.inner.lock() else {
            return watch::channel(self.configured(id)).1;
        };
        // Forget channels whose displays are gone, so ids that came and went do not pile up.
        i.watchers.retain(|_, tx| tx.receiver_count() > 0);
        let stream = self.route_in(&i, id).stream;
        let (tx, rx) = watch::channel(stream);
        // A second connection with the same id (a takeover) gets its own; the old one still ends.
        match i.watchers.get(id) {
            Some(old) => {
                let rx = old.subscribe();
                drop(tx);
                rx
            }
            None => {
                i.watchers.insert(id.to_string(), tx);
                rx
            }
        }
    }

    /// Shows `stream` on `id` (`None`: back to the configured route), persists the choice and
    /// tells a connected display. The caller checked that both exist.
    pub fn set(&self, id: &str, stream: Option<&str>) -> Route {
        let configured = self.configured(id);
        let stored = stream.map(|s| StoredRoute {
            stream: s.to_string(),
            configured,
        });
        let Ok(mut i) = self.inner.lock() else {
            return self.route(id);
        };
        match &stored {
            Some(s) => i.overrides.insert(id.to_string(), s.clone()),
            None => i.overrides.remove(id),
        };
        self.store.put(id, stored.as_ref());
        let route = self.route_in(&i, id);
        if let Some(tx) = i.watchers.get(id) {
            // Always a change, even to the same name: a display that fell back to its configured
            // route because the chosen stream did not exist yet looks for it again.
            tx.send_replace(route.stream.clone());
        }
        route
    }
}

/// The stream the display was switched to (the receiver is the display's route, once it is
/// identified).
pub async fn next_route(route: &mut Option<watch::Receiver<String>>) -> String {
    if let Some(r) = route.as_mut()
        && r.changed().await.is_ok()
    {
        return r.borrow_and_update().clone();
    }
    // The table keeps the sender while a receiver lives; without one nothing can switch.
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(toml: &str) -> Arc<Config> {
        Arc::new(Config::parse(toml, None).unwrap())
    }

    const BASE: &str = r#"
[[displays]]
id = "desk-1"
stream = "cpu"

[[legacy_displays]]
address = "192.168.1.50"
stream = "pattern"
"#;

    #[test]
    fn legacy_ids_parse_for_both_address_families() {
        assert_eq!(
            parse_legacy_id("legacy-192.168.1.50-8888"),
            Some(("192.168.1.50".parse().unwrap(), 8888))
        );
        assert_eq!(
            parse_legacy_id("legacy-::1-8889"),
            Some(("::1".parse().unwrap(), 8889))
        );
        for bad in [
            "desk-1",
            "legacy-",
            "legacy-1.2.3.4",
            "legacy-x-1",
            "legacy-1.2.3.4-99999",
        ] {
            assert_eq!(parse_legacy_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn configured_routes_by_id_and_by_sketch_address() {
        let t = RouteTable::in_memory(cfg(BASE));
        assert_eq!(t.configured("desk-1"), "cpu");
        assert_eq!(t.configured("other"), "bios");
        assert_eq!(t.configured("legacy-192.168.1.50-8888"), "pattern");
        assert_eq!(t.configured("legacy-10.0.0.1-8888"), "bios");
        assert!(t.is_configured("desk-1") && t.is_configured("legacy-192.168.1.50-8888"));
        assert!(!t.is_configured("other") && !t.is_configured("legacy-10.0.0.1-8888"));
    }

    #[test]
    fn prefer_is_chosen_apart_from_the_stream_and_null_returns_to_the_config() {
        let t = RouteTable::in_memory(cfg(BASE));
        let r = t.set_prefer("desk-1", Some(PreferName::Detail));
        assert_eq!(
            (r.prefer, r.prefer_origin, r.configured_prefer),
            (
                PreferName::Detail,
                RouteOrigin::Override,
                PreferName::Motion
            )
        );
        // the stream is untouched
        assert_eq!((r.stream.as_str(), r.origin), ("cpu", RouteOrigin::Config));
        assert!(t.has_prefer_override("desk-1") && !t.has_override("desk-1"));
        let r = t.set_prefer("desk-1", None);
        assert_eq!(
            (r.prefer, r.prefer_origin),
            (PreferName::Motion, RouteOrigin::Config)
        );
        assert!(!t.has_prefer_override("desk-1"));
    }

    #[test]
    fn a_switch_reaches_the_subscriber_and_null_returns_to_the_config() {
        let t = RouteTable::in_memory(cfg(BASE));
        let mut rx = t.subscribe("desk-1");
        assert_eq!(*rx.borrow_and_update(), "cpu");
        let r = t.set("desk-1", Some("pattern"));
        assert_eq!(
            r,
            Route {
                stream: "pattern".into(),
                origin: RouteOrigin::Override,
                configured_stream: "cpu".into(),
                prefer: PreferName::Motion,
                prefer_origin: RouteOrigin::Config,
                configured_prefer: PreferName::Motion,
            }
        );
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), "pattern");
        // The same stream again is told too (a display that fell back looks for it again).
        t.set("desk-1", Some("pattern"));
        assert_eq!(*rx.borrow_and_update(), "pattern");
        let r = t.set("desk-1", None);
        assert_eq!((r.stream.as_str(), r.origin), ("cpu", RouteOrigin::Config));
        assert_eq!(*rx.borrow_and_update(), "cpu");
        // A later subscriber starts at the current route.
        t.set("desk-1", Some("bios"));
        assert_eq!(*t.subscribe("desk-1").borrow(), "bios");
    }

    #[test]
    fn the_config_wins_once_its_route_changed() {
        let stored = StoredRoute {
            stream: "pattern".into(),
            configured: "cpu".into(),
        };
        assert!(config_still_overridden(&stored, "cpu"));
        assert!(!config_still_overridden(&stored, "bios"));
    }

    #[test]
    fn overrides_survive_a_restart_until_the_config_changes() {
        let dir = std::env::temp_dir().join(format!("pixelwire-routes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("devices.redb");
        {
            let db = Arc::new(redb::Database::create(&path).unwrap());
            let t = RouteTable::open(cfg(BASE), RouteStore::new(Some(db))).unwrap();
            t.set("desk-1", Some("pattern"));
            t.set("legacy-192.168.1.50-8888", Some("cpu"));
        }
        {
            let db = Arc::new(redb::Database::create(&path).unwrap());
            let t = RouteTable::open(cfg(BASE), RouteStore::new(Some(db))).unwrap();
            assert_eq!(t.route("desk-1").stream, "pattern");
            assert_eq!(t.route("legacy-192.168.1.50-8888").stream, "cpu");
        }
        // desk-1's configured route changed: the override is gone, and stays gone.
        let edited = BASE.replace("stream = \"cpu\"", "stream = \"bios\"");
        for _ in 0..2 {
            let db = Arc::new(redb::Database::create(&path).unwrap());
            let t = RouteTable::open(cfg(&edited), RouteStore::new(Some(db))).unwrap();
            assert_eq!(t.route("desk-1").origin, RouteOrigin::Config);
            assert_eq!(t.route("desk-1").stream, "bios");
            assert_eq!(t.route("legacy-192.168.1.50-8888").stream, "cpu");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn prefer_overrides_survive_a_restart_until_the_config_changes() {
        let dir = std::env::temp_dir().join(format!("pixelwire-prefer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("devices.redb");
        {
            let db = Arc::new(redb::Database::create(&path).unwrap());
            let t = RouteTable::open(cfg(BASE), RouteStore::new(Some(db))).unwrap();
            t.set_prefer("desk-1", Some(PreferName::Detail));
            t.set_prefer("legacy-192.168.1.50-8888", Some(PreferName::Detail));
        }
        {
            let db = Arc::new(redb::Database::create(&path).unwrap());
            let t = RouteTable::open(cfg(BASE), RouteStore::new(Some(db))).unwrap();
            let r = t.route("desk-1");
            assert_eq!(
                (r.prefer, r.prefer_origin),
                (PreferName::Detail, RouteOrigin::Override)
            );
            assert_eq!(
                t.route("legacy-192.168.1.50-8888").prefer,
                PreferName::Detail
            );
            // the stream was never chosen
            assert_eq!(r.origin, RouteOrigin::Config);
        }
        // desk-1's configured policy changed: its override is gone, and stays gone.
        let edited = BASE.replace("stream = \"cpu\"", "stream = \"cpu\"\nprefer = \"detail\"");
        for _ in 0..2 {
            let db = Arc::new(redb::Database::create(&path).unwrap());
            let t = RouteTable::open(cfg(&edited), RouteStore::new(Some(db))).unwrap();
            let r = t.route("desk-1");
            assert_eq!(
                (r.prefer, r.prefer_origin),
                (PreferName::Detail, RouteOrigin::Config)
            );
            assert!(!t.has_prefer_override("desk-1"));
            assert!(t.has_prefer_override("legacy-192.168.1.50-8888"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
