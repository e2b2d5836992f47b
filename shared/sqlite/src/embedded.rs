//! The store's one connection (WAL, shared by every clone) and the reads
//! the other modules share.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};
use serde::de::DeserializeOwned;

use domain::{Cancellation, Order};
use service::store::StoreError;

use crate::codec::{db, from_json};
use crate::{schema, secrets};

/// SQLite-backed store. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct EmbeddedStore {
    pub(crate) conn: Arc<Mutex<Connection>>,
    /// Platform secrets, apart from the database (`secrets`).
    pub(crate) secrets: Arc<secrets::SecretFile>,
}

impl EmbeddedStore {
    /// Open (or create) the store file `dir/dropship.sqlite3`.
    pub fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        Self::open(&dir.join("dropship.sqlite3"))
    }

    /// The database at `path`; its secrets in `<path stem>.secrets.json`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        Self::init(conn, secrets::SecretFile::beside(path))
    }

    /// A private in-memory store, for tests and benchmarks.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(
            Connection::open_in_memory().map_err(db)?,
            secrets::SecretFile::memory(),
        )
    }

    fn init(conn: Connection, secrets: secrets::SecretFile) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        schema::migrate(&conn)?;
        Ok(EmbeddedStore {
            conn: Arc::new(Mutex::new(conn)),
            secrets: Arc::new(secrets),
        })
    }

    /// Run blocking SQLite work off the async executor.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Internal("store lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(StoreError::backend)?
    }

    pub(crate) fn cancellations_of(
        conn: &Connection,
        order_id: &str,
    ) -> Result<Vec<Cancellation>, StoreError> {
        let mut stmt = conn
            .prepare_cached("SELECT doc FROM cancellations WHERE order_id = ?1 ORDER BY seq")
            .map_err(db)?;
        let rows = stmt
            .query_map([order_id], |r| r.get::<_, String>(0))
            .map_err(db)?;
        rows.map(|r| from_json(&r.map_err(db)?)).collect()
    }

    pub(crate) fn order_of(conn: &Connection, id: &str) -> Result<Option<Order>, StoreError> {
        conn.prepare_cached("SELECT doc FROM orders WHERE id = ?1")
            .map_err(db)?
            .query_row([id], |r| r.get::<_, String>(0))
            .optional()
            .map_err(db)?
            .map(|d| from_json(&d))
            .transpose()
    }

    /// The JSON document one keyed query selects, if any.
    pub(crate) async fn doc_by_key<T: DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
        key: String,
    ) -> Result<Option<T>, StoreError> {
        self.run(move |c| {
            c.prepare_cached(sql)
                .map_err(db)?
                .query_row([key], |r| r.get::<_, String>(0))
                .optional()
                .map_err(db)?
                .map(|d| from_json(&d))
                .transpose()
        })
        .await
    }
}
