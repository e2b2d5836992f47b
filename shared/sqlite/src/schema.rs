//! The embedded store's tables. Run on every open: a table or index added
//! here is created in an existing file too (`IF NOT EXISTS`).

use rusqlite::{Connection, Transaction, TransactionBehavior};

use service::store::StoreError;

use crate::codec::db;

pub(crate) const SCHEMA: &str = r#"
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
CREATE INDEX IF NOT EXISTS orders_seller_po ON orders (seller_id, buyer_order_ref);
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
CREATE TABLE IF NOT EXISTS events (
    company_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    dedupe     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    seq        INTEGER,
    PRIMARY KEY (company_id, id),
    UNIQUE (company_id, dedupe)
);
CREATE TABLE IF NOT EXISTS delivery_queue (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    due_at TEXT NOT NULL,
    task   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_queue_due ON delivery_queue (due_at);
CREATE TABLE IF NOT EXISTS completion_outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       TEXT NOT NULL UNIQUE,
    fulfillment_id TEXT NOT NULL,
    done_at        TEXT
);
CREATE TABLE IF NOT EXISTS edi_control (
    company_id TEXT PRIMARY KEY,
    last       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS edi_sent (
    company_id      TEXT NOT NULL,
    control_number  INTEGER NOT NULL,
    cancellation_id TEXT NOT NULL,
    state           TEXT NOT NULL,
    sent_at         TEXT NOT NULL,
    doc             TEXT NOT NULL,
    PRIMARY KEY (company_id, control_number)
);
CREATE INDEX IF NOT EXISTS edi_sent_awaiting ON edi_sent (state, sent_at);
CREATE INDEX IF NOT EXISTS edi_sent_cancellation ON edi_sent (company_id, cancellation_id);
CREATE TABLE IF NOT EXISTS edi_replies (
    company_id TEXT NOT NULL,
    source     TEXT NOT NULL,
    numbers    TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (company_id, source)
);
"#;

/// Create what is missing: the tables and indexes, then the event log's
/// places and the scorecard's counts in a file made before either.
pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(SCHEMA).map_err(db)?;
    place_events(conn)?;
    crate::scorecard::migrate(conn)
}

/// Gives each event its place in its company's log (`seq`): taken under
/// the write lock, so places follow the order events are committed in and
/// a reader paging by place never passes over a later commit. Files
/// written before events had places get them here, in id order (the
/// order they were listed in).
pub(crate) fn place_events(conn: &Connection) -> Result<(), StoreError> {
    // Under the write lock: two processes may open an older file at once.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(db)?;
    let placed: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'seq'",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if placed == 0 {
        tx.execute_batch(
            "ALTER TABLE events ADD COLUMN seq INTEGER;
             UPDATE events SET seq = (SELECT COUNT(*) FROM events e
                 WHERE e.company_id = events.company_id AND e.id <= events.id);",
        )
        .map_err(db)?;
    }
    tx.execute_batch("CREATE UNIQUE INDEX IF NOT EXISTS events_seq ON events (company_id, seq);")
        .map_err(db)?;
    tx.commit().map_err(db)
}
