//! Where display route overrides persist: a `display_routes` table in the device registry's redb
//! database (`data_dir/devices.redb`), one JSON record per display id. Each record keeps the
//! stream chosen from the page or the API and the configured route it overrode, so that at
//! start-up a changed configuration can win ([`super::routes`]). Write failures are logged, never
//! fatal: the override still holds for this run.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

const ROUTES: TableDefinition<&str, &[u8]> = TableDefinition::new("display_routes");

/// One stored override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRoute {
    /// The stream chosen.
    pub stream: String,
    /// The configured route it overrode, when it was chosen.
    pub configured: String,
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

    /// Every stored override; unreadable records are logged and skipped.
    pub fn load(&self) -> Result<BTreeMap<String, StoredRoute>, String> {
        let mut out = BTreeMap::new();
        let Some(db) = &self.db else { return Ok(out) };
        {
            let tx = db.begin_write().map_err(|e| e.to_string())?;
            // Creates the table on first use.
            tx.open_table(ROUTES).map_err(|e| e.to_string())?;
            tx.commit().map_err(|e| e.to_string())?;
        }
        let tx = db.begin_read().map_err(|e| e.to_string())?;
        let table = tx.open_table(ROUTES).map_err(|e| e.to_string())?;
        for row in table.iter().map_err(|e| e.to_string())? {
            let (k, v) = row.map_err(|e| e.to_string())?;
            match serde_json::from_slice::<StoredRoute>(v.value()) {
                Ok(r) => {
                    out.insert(k.value().to_string(), r);
                }
                Err(e) => {
                    tracing::warn!(display = k.value(), error = %e, "skipping unreadable display route")
                }
            }
        }
        Ok(out)
    }

    /// Stores `route` for `id`, or removes the override with `None`.
    pub fn put(&self, id: &str, route: Option<&StoredRoute>) {
        let Some(db) = &self.db else { return };
        let result = (|| -> Result<(), String> {
            let tx = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut t = tx.open_table(ROUTES).map_err(|e| e.to_string())?;
                match route {
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
            tracing::error!(display = id, error = %e, "cannot persist the display route");
        }
    }
}
