//! The embedded store: one SQLite file (WAL) under the data directory. Each
//! commit is one `BEGIN IMMEDIATE` transaction that checks the order's
//! version and the uniqueness of every record, and writes an outbox row for
//! each cancellation (the local mirror of the DynamoDB stream). Decisions on
//! an order read it inside that transaction, so they never race.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::de::DeserializeOwned;

use domain::{Cancellation, Company, Order, Role};
use service::store::{
    Commit, Decided, IdempotencyRecord, OrderCursor, OrderPage, OrderRecord, StatusFilter, Store,
    StoreError, shop_domain_of,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS companies (
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash   TEXT PRIMARY KEY,
    company_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_company ON api_keys (company_id);
CREATE TABLE IF NOT EXISTS shop_domains (
    shop_domain TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shop_domains_company ON shop_domains (company_id);
CREATE TABLE IF NOT EXISTS orders (
    id         TEXT PRIMARY KEY,
    buyer_id   TEXT NOT NULL,
    seller_id  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    complete   INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    buyer_order_ref  TEXT,
    seller_order_ref TEXT,
    doc        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_buyer_ref ON orders (buyer_id, buyer_order_ref);
CREATE INDEX IF NOT EXISTS orders_seller_ref ON orders (seller_id, seller_order_ref);
CREATE INDEX IF NOT EXISTS orders_buyer ON orders (buyer_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_seller ON orders (seller_id, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS cancellations (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    doc      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cancellations_order ON cancellations (order_id, seq);
CREATE TABLE IF NOT EXISTS fulfillments (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    doc      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    company_id TEXT NOT NULL,
    key        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (company_id, key)
);
CREATE TABLE IF NOT EXISTS deliveries (
    key        TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    cancellation_id TEXT NOT NULL UNIQUE,
    order_id        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    done_at         TEXT,
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE done_at IS NULL;
"#;

/// How one attempt at an outbox entry's notification ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxAttempt {
    /// Every channel is done: the entry is finished.
    Delivered,
    /// To be retried; the error is kept on the entry.
    Failed(String),
}

/// SQLite-backed store. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct EmbeddedStore {
    conn: Arc<Mutex<Connection>>,
}

/// Timestamps are stored fixed-width so that text order is time order.
use service::store::timestamp as ts;

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(StoreError::backend)
}

fn from_json<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(StoreError::backend)
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}

impl EmbeddedStore {
    /// Open (or create) the store file `dir/dropship.sqlite3`.
    pub fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        Self::open(&dir.join("dropship.sqlite3"))
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        Self::init(conn)
    }

    /// A private in-memory store, for tests and benchmarks.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(db)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(EmbeddedStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Run blocking SQLite work off the async executor.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
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

    fn cancellations_of(
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

    fn order_of(conn: &Connection, id: &str) -> Result<Option<Order>, StoreError> {
        conn.prepare_cached("SELECT doc FROM orders WHERE id = ?1")
            .map_err(db)?
            .query_row([id], |r| r.get::<_, String>(0))
            .optional()
            .map_err(db)?
            .map(|d| from_json(&d))
            .transpose()
    }

    /// The JSON document one keyed query selects, if any.
    async fn doc_by_key<T: DeserializeOwned + Send + 'static>(
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

    /// Cancellations committed but not yet notified, oldest first.
    pub async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT o.seq, o.attempts, c.doc FROM outbox o
                     JOIN cancellations c ON c.id = o.cancellation_id
                     WHERE o.done_at IS NULL ORDER BY o.seq LIMIT ?1",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([limit as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(db)?;
            rows.map(|r| {
                let (seq, attempts, doc) = r.map_err(db)?;
                Ok(OutboxEntry {
                    seq,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    cancellation: from_json(&doc)?,
                })
            })
            .collect()
        })
        .await
    }

    /// Mark an outbox entry delivered, or record a failed attempt.
    pub async fn finish_outbox(
        &self,
        seq: i64,
        attempt: OutboxAttempt,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.run(move |c| {
            match attempt {
                OutboxAttempt::Delivered => c.execute(
                    "UPDATE outbox SET done_at = ?2, attempts = attempts + 1 WHERE seq = ?1",
                    params![seq, ts(&now)],
                ),
                OutboxAttempt::Failed(e) => c.execute(
                    "UPDATE outbox SET last_error = ?2, attempts = attempts + 1 WHERE seq = ?1",
                    params![seq, e],
                ),
            }
            .map_err(db)?;
            Ok(())
        })
        .await
    }
}

/// A cancellation waiting for its notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub seq: i64,
    pub attempts: u32,
    pub cancellation: Cancellation,
}

impl Store for EmbeddedStore {
    async fn put_company(&self, company: &Company) -> Result<(), StoreError> {
        let company = company.clone();
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            for hash in &company.api_key_hashes {
                let owner: Option<String> = tx
                    .query_row(
                        "SELECT company_id FROM api_keys WHERE key_hash = ?1",
                        [hash],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db)?;
                if owner.is_some_and(|o| o != company.id) {
                    return Err(StoreError::ApiKeyTaken {
                        company_id: company.id.clone(),
                    });
                }
            }
            let domain = shop_domain_of(&company);
            if let Some(d) = &domain {
                let owner: Option<String> = tx
                    .query_row(
                        "SELECT company_id FROM shop_domains WHERE shop_domain = ?1",
                        [d],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db)?;
                if owner.is_some_and(|o| o != company.id) {
                    return Err(StoreError::ShopDomainTaken {
                        company_id: company.id.clone(),
                    });
                }
            }
            tx.execute(
                "DELETE FROM shop_domains WHERE company_id = ?1",
                [&company.id],
            )
            .map_err(db)?;
            if let Some(d) = &domain {
                tx.execute(
                    "INSERT INTO shop_domains (shop_domain, company_id) VALUES (?1, ?2)",
                    params![d, company.id],
                )
                .map_err(db)?;
            }
            tx.execute(
                "INSERT INTO companies (id, doc) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                params![company.id, to_json(&company)?],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM api_keys WHERE company_id = ?1", [&company.id])
                .map_err(db)?;
            for hash in &company.api_key_hashes {
                tx.execute(
                    "INSERT INTO api_keys (key_hash, company_id) VALUES (?1, ?2)",
                    params![hash, company.id],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn company(&self, id: &str) -> Result<Option<Company>, StoreError> {
        self.doc_by_key("SELECT doc FROM companies WHERE id = ?1", id.to_owned())
            .await
    }

    async fn company_by_shop_domain(
        &self,
        shop_domain: &str,
    ) -> Result<Option<Company>, StoreError> {
        self.doc_by_key(
            "SELECT c.doc FROM shop_domains s JOIN companies c ON c.id = s.company_id
             WHERE s.shop_domain = ?1",
            shop_domain.to_ascii_lowercase(),
        )
        .await
    }

    async fn orders_by_ref(
        &self,
        company_id: &str,
        party: Role,
        order_ref: &str,
    ) -> Result<Vec<Order>, StoreError> {
        let (company_id, order_ref) = (company_id.to_owned(), order_ref.to_owned());
        self.run(move |c| {
            let sql = match party {
                Role::Buyer => "SELECT doc FROM orders WHERE buyer_id = ?1 AND buyer_order_ref = ?2 ORDER BY id",
                Role::Seller => "SELECT doc FROM orders WHERE seller_id = ?1 AND seller_order_ref = ?2 ORDER BY id",
            };
            let mut stmt = c.prepare_cached(sql).map_err(db)?;
            let rows = stmt
                .query_map(params![company_id, order_ref], |r| r.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|r| from_json(&r.map_err(db)?)).collect()
        })
        .await
    }

    async fn company_by_api_key_hash(&self, key_hash: &str) -> Result<Option<Company>, StoreError> {
        self.doc_by_key(
            "SELECT c.doc FROM api_keys k JOIN companies c ON c.id = k.company_id
             WHERE k.key_hash = ?1",
            key_hash.to_owned(),
        )
        .await
    }

    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let id = id.to_owned();
        self.run(move |c| Self::order_of(c, &id)).await
    }

    async fn order_record(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let id = id.to_owned();
        self.run(move |c| {
            let tx = c.transaction().map_err(db)?;
            let Some(order) = Self::order_of(&tx, &id)? else {
                return Ok(None);
            };
            let cancellations = Self::cancellations_of(&tx, &id)?;
            Ok(Some(OrderRecord {
                order,
                cancellations,
            }))
        })
        .await
    }

    async fn list_orders(
        &self,
        company_id: &str,
        filter: StatusFilter,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> Result<OrderPage, StoreError> {
        let company_id = company_id.to_owned();
        // Past the cursor: a created_at/id pair below it. Without one, above
        // every real key.
        let (after_ts, after_id) = match after {
            Some(c) => (ts(&c.created_at), c.id.clone()),
            None => ("~".to_owned(), String::new()),
        };
        let complete: Option<bool> = match filter {
            StatusFilter::Any => None,
            StatusFilter::Open => Some(false),
            StatusFilter::Complete => Some(true),
        };
        self.run(move |c| {
            let tx = c.transaction().map_err(db)?;
            let docs: Vec<String> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT doc FROM (
                           SELECT created_at, id, doc FROM orders
                           WHERE buyer_id = ?1 AND (?2 IS NULL OR complete = ?2)
                             AND (?3 = '~' OR (created_at, id) < (?3, ?4))
                           UNION ALL
                           SELECT created_at, id, doc FROM orders
                           WHERE seller_id = ?1 AND (?2 IS NULL OR complete = ?2)
                             AND (?3 = '~' OR (created_at, id) < (?3, ?4))
                         ) ORDER BY created_at DESC, id DESC LIMIT ?5",
                    )
                    .map_err(db)?;
                let rows = stmt
                    .query_map(
                        params![company_id, complete, after_ts, after_id, (limit + 1) as i64],
                        |r| r.get::<_, String>(0),
                    )
                    .map_err(db)?;
                rows.collect::<Result<_, _>>().map_err(db)?
            };
            let mut orders = Vec::with_capacity(docs.len().min(limit));
            for doc in docs.iter().take(limit) {
                let order: Order = from_json(doc)?;
                let cancellations = Self::cancellations_of(&tx, &order.id)?;
                orders.push(OrderRecord {
                    order,
                    cancellations,
                });
            }
            Ok(OrderPage::new(orders, docs.len() > limit))
        })
        .await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let commit = commit.clone();
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            apply(&tx, &commit)?;
            tx.commit().map_err(db)
        })
        .await
    }

    /// Read, decide and commit in one `BEGIN IMMEDIATE` transaction: no
    /// other writer (thread or process) can change the order in between,
    /// so this never answers `VersionConflict`.
    async fn decide_and_commit<T, E, F>(
        &self,
        order_id: &str,
        decide: F,
    ) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&Order) -> Result<Decided<T>, E> + Send + 'static,
    {
        let id = order_id.to_owned();
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let order = Self::order_of(&tx, &id)?.ok_or(StoreError::OrderMissing)?;
            // A panicking decision rolls back (the transaction drops) and
            // fails this call only, instead of poisoning the connection.
            let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decide(&order)))
                .map_err(|_| StoreError::Internal("the decision on the order panicked".into()))?;
            match decided {
                Err(e) => Ok(Err(e)),
                Ok(Decided::Unchanged(t)) => Ok(Ok(t)),
                Ok(Decided::Commit(commit, t)) => {
                    apply(&tx, &commit)?;
                    tx.commit().map_err(db)?;
                    Ok(Ok(t))
                }
            }
        })
        .await
    }

    async fn idempotency_record(
        &self,
        company_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let (company_id, key) = (company_id.to_owned(), key.to_owned());
        self.run(move |c| {
            c.prepare_cached(
                "SELECT doc FROM idempotency WHERE company_id = ?1 AND key = ?2 AND expires_at > ?3",
            )
            .map_err(db)?
            .query_row(params![company_id, key, Utc::now().timestamp()], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(db)?
            .map(|d| from_json(&d))
            .transpose()
        })
        .await
    }

    async fn put_idempotency_record(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM idempotency WHERE company_id = ?1 AND key = ?2 AND expires_at > ?3",
                    params![record.company_id, record.key, Utc::now().timestamp()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if exists.is_some() {
                return Err(StoreError::IdempotencyKeyExists);
            }
            put_idempotency(&tx, &record)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn notification_entries(
        &self,
        order_id: &str,
    ) -> Result<Vec<service::ledger::LedgerEntry>, StoreError> {
        service::ledger::Ledger::ledger_entries(self, order_id).await
    }
}

/// One commit inside an open write transaction: the version and uniqueness
/// checks, then every row.
fn apply(tx: &rusqlite::Transaction<'_>, commit: &Commit) -> Result<(), StoreError> {
    let now = Utc::now().timestamp();
    if let Some(rec) = &commit.idempotency {
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM idempotency WHERE company_id = ?1 AND key = ?2 AND expires_at > ?3",
                params![rec.company_id, rec.key, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if exists.is_some() {
            return Err(StoreError::IdempotencyKeyExists);
        }
    }
    if let Some(d) = &commit.delivery {
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM deliveries WHERE key = ?1 AND expires_at > ?2",
                params![d.key, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if exists.is_some() {
            return Err(StoreError::DeliveryExists);
        }
    }
    let o = &commit.order;
    let doc = to_json(o)?;
    match commit.expected_version {
        Some(expected) => {
            let n = tx
                .execute(
                    // The look-up columns follow the document on every change.
                    "UPDATE orders SET doc = ?2, version = ?3, complete = ?4,
                                       buyer_order_ref = ?6, seller_order_ref = ?7
                     WHERE id = ?1 AND version = ?5",
                    params![
                        o.id,
                        doc,
                        o.version as i64,
                        o.is_complete(),
                        expected as i64,
                        o.buyer_order_ref,
                        o.seller_order_ref
                    ],
                )
                .map_err(db)?;
            if n == 0 {
                let exists: Option<i64> = tx
                    .query_row("SELECT 1 FROM orders WHERE id = ?1", [&o.id], |r| r.get(0))
                    .optional()
                    .map_err(db)?;
                return Err(if exists.is_some() {
                    StoreError::VersionConflict
                } else {
                    StoreError::OrderMissing
                });
            }
        }
        None => {
            let n = tx
                .execute(
                    "INSERT INTO orders (id, buyer_id, seller_id, created_at, complete, version,
                                         buyer_order_ref, seller_order_ref, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
                    params![
                        o.id,
                        o.buyer_id,
                        o.seller_id,
                        ts(&o.created_at),
                        o.is_complete(),
                        o.version as i64,
                        o.buyer_order_ref,
                        o.seller_order_ref,
                        doc
                    ],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::OrderExists);
            }
        }
    }
    if let Some(can) = &commit.cancellation {
        tx.execute(
            "INSERT INTO cancellations (id, order_id, doc) VALUES (?1, ?2, ?3)",
            params![can.id, can.order_id, to_json(can)?],
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO outbox (cancellation_id, order_id, created_at) VALUES (?1, ?2, ?3)",
            params![can.id, can.order_id, ts(&can.created_at)],
        )
        .map_err(db)?;
    }
    if let Some(f) = &commit.fulfillment {
        tx.execute(
            "INSERT INTO fulfillments (id, order_id, doc) VALUES (?1, ?2, ?3)",
            params![f.id, f.order_id, to_json(f)?],
        )
        .map_err(db)?;
    }
    if let Some(rec) = &commit.idempotency {
        put_idempotency(tx, rec)?;
    }
    if let Some(d) = &commit.delivery {
        tx.execute(
            "INSERT OR REPLACE INTO deliveries (key, company_id, expires_at) VALUES (?1, ?2, ?3)",
            params![d.key, d.company_id, d.expires_at.timestamp()],
        )
        .map_err(db)?;
    }
    Ok(())
}

fn put_idempotency(
    tx: &rusqlite::Transaction<'_>,
    rec: &IdempotencyRecord,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO idempotency (company_id, key, expires_at, doc) VALUES (?1, ?2, ?3, ?4)",
        params![rec.company_id, rec.key, rec.expires_at.timestamp(), to_json(rec)?],
    )
    .map_err(db)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    testkit::store_contract_tests!(EmbeddedStore::in_memory().expect("in-memory store"));

    /// Deciding under the write transaction: 32 deciders on one order
    /// never lose a race, on one handle or on two handles of one file (as
    /// two processes would be).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn deciders_never_lose_a_race() {
        let s = EmbeddedStore::in_memory().unwrap();
        assert_eq!(testkit::store_contract::deciders_on(&[s]).await, 0);
        let dir = tempfile::tempdir().unwrap();
        let a = EmbeddedStore::open_dir(dir.path()).unwrap();
        let b = EmbeddedStore::open_dir(dir.path()).unwrap();
        assert_eq!(testkit::store_contract::deciders_on(&[a, b]).await, 0);
    }

    /// A decision that panics fails its call only: the connection is not
    /// poisoned and nothing of it is written.
    #[tokio::test]
    async fn a_panicking_decision_leaves_the_store_usable() {
        use testkit::fixtures;
        let s = EmbeddedStore::in_memory().unwrap();
        let order = fixtures::order("o1", "b1", "s1", 0);
        s.commit(&Commit::create(order.clone())).await.unwrap();
        let r = s
            .decide_and_commit("o1", |_: &Order| -> Result<Decided<()>, ()> {
                panic!("a bug in a decision")
            })
            .await;
        assert!(matches!(r, Err(StoreError::Internal(_))), "{r:?}");
        assert_eq!(s.order("o1").await.unwrap(), Some(order));
    }

    #[tokio::test]
    async fn data_persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let c = testkit::fixtures::company("b1", domain::Role::Buyer);
        {
            let s = EmbeddedStore::open_dir(dir.path()).unwrap();
            s.put_company(&c).await.unwrap();
        }
        let s = EmbeddedStore::open_dir(dir.path()).unwrap();
        assert_eq!(s.company("b1").await.unwrap(), Some(c));
    }

    #[tokio::test]
    async fn every_cancellation_gets_one_outbox_entry() {
        use testkit::fixtures;
        let s = EmbeddedStore::in_memory().unwrap();
        let order = fixtures::order("o1", "b1", "s1", 0);
        s.commit(&Commit::create(order.clone())).await.unwrap();
        let (next, can) = fixtures::cancel_one(&order, "li_1", "can_1");
        let mut commit = Commit::update(next);
        commit.cancellation = Some(can.clone());
        s.commit(&commit).await.unwrap();
        let pending = s.pending_outbox(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].cancellation, can);
        s.finish_outbox(
            pending[0].seq,
            OutboxAttempt::Failed("smtp down".into()),
            Utc::now(),
        )
        .await
        .unwrap();
        let again = s.pending_outbox(10).await.unwrap();
        assert_eq!(again[0].attempts, 1, "a failed attempt stays pending");
        s.finish_outbox(pending[0].seq, OutboxAttempt::Delivered, Utc::now())
            .await
            .unwrap();
        assert!(s.pending_outbox(10).await.unwrap().is_empty());
    }
}

// ---------------------------------------------------------------------------
// The notification ledger (`store::ledger`) on SQLite: one row per
// (cancellation, channel), claimed and completed in `BEGIN IMMEDIATE`
// transactions. The table is created on first use.

mod ledger_impl {
    use chrono::{DateTime, Duration, Utc};
    use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

    use super::{EmbeddedStore, db, ts};
    use service::ledger::{
        Channel, Claim, Ledger, LedgerEntry, LedgerKey, LedgerStatus, Outcome, lock_expired,
        lock_expiry, new_token,
    };
    use service::store::StoreError;

    const LEDGER_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS notify_ledger (
    cancellation_id TEXT NOT NULL,
    channel         TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    expires_at      INTEGER,
    token           TEXT,
    attempts        INTEGER NOT NULL,
    outcome         TEXT,
    detail          TEXT,
    last_error      TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (cancellation_id, channel)
);
CREATE INDEX IF NOT EXISTS notify_ledger_order ON notify_ledger (order_id);
"#;

    const COLUMNS: &str = "order_id, cancellation_id, channel, status, outcome, detail, \
                           last_error, attempts, expires_at, updated_at";

    fn channel_of(s: &str) -> Result<Channel, StoreError> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| StoreError::Internal(format!("unknown ledger channel {s:?}")))
    }

    fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<LedgerEntry, StoreError>> {
        let channel: String = r.get(2)?;
        let status: String = r.get(3)?;
        let outcome: Option<String> = r.get(4)?;
        let attempts: i64 = r.get(7)?;
        let updated: String = r.get(9)?;
        let (order_id, cancellation_id) = (r.get(0)?, r.get(1)?);
        let (detail, last_error, expires_at) = (r.get(5)?, r.get(6)?, r.get(8)?);
        Ok((|| {
            Ok(LedgerEntry {
                order_id,
                cancellation_id,
                channel: channel_of(&channel)?,
                status: if status == LedgerStatus::Completed.as_str() {
                    LedgerStatus::Completed
                } else {
                    LedgerStatus::InProgress
                },
                outcome: match outcome.as_deref() {
                    Some("sent") => Some(Outcome::Sent),
                    Some("failed") => Some(Outcome::Failed),
                    _ => None,
                },
                detail,
                last_error,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                expires_at,
                updated_at: DateTime::parse_from_rfc3339(&updated)
                    .map_err(StoreError::backend)?
                    .with_timezone(&Utc),
            })
        })())
    }

    fn ensure(c: &Connection) -> Result<(), StoreError> {
        c.execute_batch(LEDGER_SCHEMA).map_err(db)
    }

    impl Ledger for EmbeddedStore {
        async fn claim(
            &self,
            key: &LedgerKey,
            now: DateTime<Utc>,
            lock_for: Duration,
        ) -> Result<Claim, StoreError> {
            let key = key.clone();
            self.run(move |c| {
                ensure(c)?;
                let tx = c
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(db)?;
                let current = tx
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM notify_ledger
                             WHERE cancellation_id = ?1 AND channel = ?2"
                        ),
                        params![key.cancellation_id, key.channel.as_str()],
                        entry,
                    )
                    .optional()
                    .map_err(db)?
                    .transpose()?;
                let attempt = match &current {
                    None => 1,
                    Some(e) if e.status == LedgerStatus::Completed => {
                        return Ok(Claim::Completed(e.clone()));
                    }
                    Some(e) if !lock_expired(e.expires_at, now) => {
                        return Ok(Claim::Busy {
                            expires_at: e.expires_at.unwrap_or_default(),
                        });
                    }
                    Some(e) => e.attempts.saturating_add(1),
                };
                let token = new_token();
                tx.execute(
                    "INSERT INTO notify_ledger (cancellation_id, channel, order_id, status,
                         expires_at, token, attempts, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (cancellation_id, channel) DO UPDATE SET
                         status = excluded.status, expires_at = excluded.expires_at,
                         token = excluded.token, attempts = excluded.attempts,
                         updated_at = excluded.updated_at",
                    params![
                        key.cancellation_id,
                        key.channel.as_str(),
                        key.order_id,
                        LedgerStatus::InProgress.as_str(),
                        lock_expiry(now, lock_for),
                        token,
                        i64::from(attempt),
                        ts(&now)
                    ],
                )
                .map_err(db)?;
                tx.commit().map_err(db)?;
                Ok(Claim::Acquired { token, attempt })
            })
            .await
        }

        async fn complete(
            &self,
            key: &LedgerKey,
            token: &str,
            outcome: Outcome,
            detail: &str,
            now: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            let (key, token, detail) = (key.clone(), token.to_owned(), detail.to_owned());
            self.run(move |c| {
                ensure(c)?;
                let n = c
                    .execute(
                        "UPDATE notify_ledger SET status = ?4, outcome = ?5, detail = ?6,
                             expires_at = NULL, token = NULL, updated_at = ?7
                         WHERE cancellation_id = ?1 AND channel = ?2 AND token = ?3",
                        params![
                            key.cancellation_id,
                            key.channel.as_str(),
                            token,
                            LedgerStatus::Completed.as_str(),
                            outcome.as_str(),
                            detail,
                            ts(&now)
                        ],
                    )
                    .map_err(db)?;
                Ok(n == 1)
            })
            .await
        }

        async fn release(
            &self,
            key: &LedgerKey,
            token: &str,
            error: &str,
            now: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            let (key, token, error) = (key.clone(), token.to_owned(), error.to_owned());
            self.run(move |c| {
                ensure(c)?;
                let n = c
                    .execute(
                        "UPDATE notify_ledger SET expires_at = ?4, token = NULL,
                             last_error = ?5, updated_at = ?6
                         WHERE cancellation_id = ?1 AND channel = ?2 AND token = ?3
                           AND status = 'INPROGRESS'",
                        params![
                            key.cancellation_id,
                            key.channel.as_str(),
                            token,
                            now.timestamp() - 1,
                            error,
                            ts(&now)
                        ],
                    )
                    .map_err(db)?;
                Ok(n == 1)
            })
            .await
        }

        async fn ledger_entries(&self, order_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
            let order_id = order_id.to_owned();
            self.run(move |c| {
                ensure(c)?;
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM notify_ledger WHERE order_id = ?1
                         ORDER BY cancellation_id, channel"
                    ))
                    .map_err(db)?;
                let rows = stmt.query_map([order_id], entry).map_err(db)?;
                rows.map(|r| r.map_err(db)?).collect()
            })
            .await
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        testkit::ledger_contract_tests!(EmbeddedStore::in_memory().expect("in-memory store"));
    }
}
