//! Where display route overrides persist: a `display_routes` table in the device registry's redb
//! database (`data_dir/devices.redb`), one JSON record per display id. Each record keeps the
//! stream chosen from the page or the API and the configured route it overrode, so that at
//! start-up a changed configuration can win ([`super::routes`]). A `display_prefer` table keeps
//! the rate-control policy (`prefer`) chosen the same way, with the configured one it overrode. Write failures are logged, never
//! fatal: the override still holds for this run.

use crate::config::PreferName;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

const ROUTES: TableDefinition<&str, &[u8]> = TableDefinition::new("display_routes");
const PREFERS: TableDefinition<&str, &[u8]> = TableDefinition::new("display_prefer");

/// One stored override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRoute {
    /// The stream chosen.
    pub stream: String,
    /// The configured route it overrode, when it was chosen.
    pub configured: String,
}

/// One stored rate-control policy override (`prefer`), chosen from the page or the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPrefer {
    /// The policy chosen.
    pub prefer: PreferName,
    /// The configured policy it overrode, when it was chosen.
    pub configured: PreferName,
}

/// The table; without a database (tests, an in-memory registry) it keeps nothing.
#[derive(Clone, Default)]
pub struct RouteStore {
    db: Option<Arc<Database>>,
}

impl std::fmt::Debug for RouteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteStore")
            .field("persistent", &self.db.is_some())
            .finish()
    }
}

impl RouteStore {
    /// A store in `db`, or one that keeps nothing.
    pub fn new(db: Option<Arc<Database>>) -> Self {
        Self { db }
    }

    /// Every stored stream override; unreadable records are logged and skipped.
    pub fn load(&self) -> Result<BTreeMap<String, StoredRoute>, String> {
        self.load_table(ROUTES)
    }

    /// Stores `route` for `id`, or removes the override with `None`.
    pub fn put(&self, id: &str, route: Option<&StoredRoute>) {
        self.put_table(ROUTES, id, route);
    }

    /// Every stored `prefer` override; unreadable records are logged and skipped.
    pub fn load_prefers(&self) -> Result<BTreeMap<String, StoredPrefer>, String> {
        self.load_table(PREFERS)
    }

    /// Stores `prefer` for `id`, or removes the override with `None`.
    pub fn put_prefer(&self, id: &str, prefer: Option<&StoredPrefer>) {
        self.put_table(PREFERS, id, prefer);
    }

    fn load_table<T: serde::de::DeserializeOwned>(
        &self,
        table_def: TableDefinition<&str, &[u8]>,
    ) -> Result<BTreeMap<String, T>, String> {
        let mut out = BTreeMap::new();
        let Some(db) = &self.db else { return Ok(out) };
        {
            let tx = db.begin_write().map_err(|e| e.to_string())?;
            // Creates the table on first use.
            tx.open_table(table_def).map_err(|e| e.to_string())?;
            tx.commit().map_err(|e| e.to_string())?;
        }
        let tx = db.begin_read().map_err(|e| e.to_string())?;
        let table = tx.open_table(table_def).map_err(|e| e.to_string())?;
        for row in table.iter().map_err(|e| e.to_string())? {
            let (k, v) = row.map_err(|e| e.to_string())?;
            match serde_json::from_slice::<T>(v.value()) {
                Ok(r) => {
                    out.insert(k.value().to_string(), r);
                }
                Err(e) => {
                    tracing::warn!(display = k.value(), error = %e, "skipping an unreadable display override")
                }
            }
        }
        Ok(out)
    }

    fn put_table<T: Serialize>(
        &self,
        table_def: TableDefinition<&str, &[u8]>,
        id: &str,
        value: Option<&T>,
    ) {
        let Some(db) = &self.db else { return };
        let result = (|| -> Result<(), String> {
            let tx = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut t = tx.open_table(table_def).map_err(|e| e.to_string())?;
                match value {
                    Some(r) => {
                        let v = serde_json::to_vec(r).map_err(|e| e.to_string())?;
                        t.insert(id, v.as_slice()).map_err(|e| e.to_string())?;
                    }
                    None => {
                        t.remove(id).map_err(|e| e.to_string())?;
                    }
                }
            }
            tx.commit().map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            tracing::error!(display = id, error = %e, "cannot persist the display override");
        }
    }
}
