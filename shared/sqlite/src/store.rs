//! The store's roles on SQLite.

use chrono::{NaiveDate, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::sync::Arc;

use crate::EmbeddedStore;
use crate::codec::{db, from_json, to_json, ts};
use crate::idempotency::{key_unused, put_idempotency};
use domain::scorecard::{DayCounts, ScoreChange};
use domain::{Company, Order, Role};
use service::store::{
    Commit, Companies, CompanyWrite, Decided, OrderCursor, OrderPage, OrderRecord, Orders,
    StatusFilter, Store, StoreError, shop_domain_of,
};

/// A seller's orders by the buyer's order ref (its PO number).
pub(crate) const SELLER_ORDERS_BY_PO: &str =
    "SELECT doc FROM orders WHERE seller_id = ?1 AND buyer_order_ref = ?2 ORDER BY id";

impl EmbeddedStore {
    /// A company read by id or shop domain, with its secrets (as the
    /// secret-store decorator does on AWS; companies found by API key carry
    /// none).
    fn with_secrets(&self, c: Option<Company>) -> Result<Option<Company>, StoreError> {
        match c {
            Some(c) if c.connection.is_some() => {
                let s = self.secrets.get(&c.id)?;
                Ok(Some(c.with_secrets(s)))
            }
            other => Ok(other),
        }
    }
}

impl Orders for EmbeddedStore {
    async fn cancellations_since(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<domain::Cancellation>, StoreError> {
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT doc FROM cancellations ORDER BY seq")
                .map_err(db)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
            let mut found: Vec<domain::Cancellation> = Vec::new();
            for r in rows {
                let c: domain::Cancellation = from_json(&r.map_err(db)?)?;
                if c.created_at >= since {
                    found.push(c);
                }
            }
            found.sort_by_key(|c| c.created_at);
            Ok(found)
        })
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

    /// On the `orders_seller_po` index.
    async fn seller_orders_by_po(
        &self,
        seller_id: &str,
        po: &str,
    ) -> Result<Vec<Order>, StoreError> {
        let (seller_id, po) = (seller_id.to_owned(), po.to_owned());
        self.run(move |c| {
            let mut stmt = c.prepare_cached(SELLER_ORDERS_BY_PO).map_err(db)?;
            let rows = stmt
                .query_map(params![seller_id, po], |r| r.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|r| from_json(&r.map_err(db)?)).collect()
        })
        .await
    }

    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let id = id.to_owned();
        self.run(move |c| Self::order_of(c, &id)).await
    }

    async fn score_rows(
        &self,
        company_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayCounts>, StoreError> {
        let company_id = company_id.to_owned();
        self.run(move |c| crate::scorecard::rows(c, Some(&company_id), from, to))
            .await
    }

    async fn all_score_rows(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayCounts>, StoreError> {
        self.run(move |c| crate::scorecard::rows(c, None, from, to))
            .await
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

    /// Decided under the lock on a fresh read: an order read before the
    /// lock may be stale, and here reading again costs no round trip.
    async fn decide_and_commit_on<T, E, F>(
        &self,
        read: Order,
        decide: F,
    ) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&Order) -> Result<Decided<T>, E> + Send + 'static,
    {
        self.decide_and_commit(&read.id, decide).await
    }
}

impl Companies for EmbeddedStore {
    /// The record without its secrets; the secrets to their own file, in
    /// the same write transaction.
    async fn put_company(&self, company: &Company) -> Result<(), StoreError> {
        let company = company.clone();
        let secret_file = Arc::clone(&self.secrets);
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            write_company(&tx, &company, &secret_file)?;
            tx.commit().map_err(db)
        })
        .await
    }

    /// Read, decide and write in one `BEGIN IMMEDIATE` transaction: no
    /// other writer (thread or process) can change the company in between,
    /// so `change` runs once.
    async fn change_company<T, E, F>(
        &self,
        id: &str,
        mut change: F,
    ) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(Option<&Company>) -> Result<CompanyWrite<T>, E> + Send + 'static,
    {
        let id = id.to_owned();
        let secret_file = Arc::clone(&self.secrets);
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let stored: Option<Company> = tx
                .query_row("SELECT doc FROM companies WHERE id = ?1", [&id], |r| {
                    r.get::<_, String>(0)
                })
                .optional()
                .map_err(db)?
                .map(|d| from_json(&d))
                .transpose()?;
            let stored = match stored {
                Some(c) if c.connection.is_some() => {
                    let s = secret_file.get(&c.id)?;
                    Some(c.with_secrets(s))
                }
                other => other,
            };
            // A panicking change rolls back and fails this call only.
            let decided =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change(stored.as_ref())))
                    .map_err(|_| {
                        StoreError::Internal("the change to the company panicked".into())
                    })?;
            match decided {
                Err(e) => Ok(Err(e)),
                Ok(CompanyWrite::Unchanged(t)) => Ok(Ok(t)),
                Ok(CompanyWrite::Put(next, t)) => {
                    if next.id != id {
                        return Err(StoreError::Internal(format!(
                            "a change to company {id} wrote company {}",
                            next.id
                        )));
                    }
                    write_company(&tx, &next, &secret_file)?;
                    tx.commit().map_err(db)?;
                    Ok(Ok(t))
                }
            }
        })
        .await
    }

    async fn company(&self, id: &str) -> Result<Option<Company>, StoreError> {
        let found = self
            .doc_by_key("SELECT doc FROM companies WHERE id = ?1", id.to_owned())
            .await?;
        self.with_secrets(found)
    }

    async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        self.run(|c| {
            let mut stmt = c
                .prepare_cached("SELECT doc FROM companies ORDER BY id")
                .map_err(db)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
            rows.map(|r| from_json(&r.map_err(db)?)).collect()
        })
        .await
    }

    async fn company_by_shop_domain(
        &self,
        shop_domain: &str,
    ) -> Result<Option<Company>, StoreError> {
        let found = self
            .doc_by_key(
                "SELECT c.doc FROM shop_domains s JOIN companies c ON c.id = s.company_id
             WHERE s.shop_domain = ?1",
                shop_domain.to_ascii_lowercase(),
            )
            .await?;
        self.with_secrets(found)
    }

    async fn company_by_api_key_hash(&self, key_hash: &str) -> Result<Option<Company>, StoreError> {
        self.doc_by_key(
            "SELECT c.doc FROM api_keys k JOIN companies c ON c.id = k.company_id
             WHERE k.key_hash = ?1",
            key_hash.to_owned(),
        )
        .await
    }
}

impl Store for EmbeddedStore {
    async fn notification_entries(
        &self,
        order_id: &str,
    ) -> Result<Vec<service::ledger::LedgerEntry>, StoreError> {
        service::ledger::Ledger::ledger_entries(self, order_id).await
    }
}

/// One commit inside an open write transaction: the version and uniqueness
/// checks, then every row.
/// A company's record, its look-up rows and its secrets (removed from the
/// secret file when it has none, as when its connection is removed),
/// inside the caller's write transaction.
fn write_company(
    tx: &rusqlite::Transaction<'_>,
    company: &Company,
    secret_file: &crate::secrets::SecretFile,
) -> Result<(), StoreError> {
    let (company, secrets) = company.split_secrets();
    for hash in company.key_hashes() {
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
    // Endpoints change only through `change_endpoints`: kept.
    let mut company = company;
    company.webhook_endpoints = crate::events::stored_endpoints(tx, &company.id)?;
    tx.execute(
        "INSERT INTO companies (id, doc) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
        params![company.id, to_json(&company)?],
    )
    .map_err(db)?;
    tx.execute("DELETE FROM api_keys WHERE company_id = ?1", [&company.id])
        .map_err(db)?;
    for hash in company.key_hashes() {
        tx.execute(
            "INSERT INTO api_keys (key_hash, company_id) VALUES (?1, ?2)",
            params![hash, company.id],
        )
        .map_err(db)?;
    }
    // Always: a company without a connection keeps no secret.
    secret_file.put(&company.id, &secrets)?;
    Ok(())
}

fn apply(tx: &rusqlite::Transaction<'_>, commit: &Commit) -> Result<(), StoreError> {
    check_unused_keys(tx, commit)?;
    write_order(tx, commit)?;
    if let Some(change) = ScoreChange::of(
        &commit.order,
        commit.expected_version.is_none(),
        commit.cancellation.as_ref(),
    ) {
        crate::scorecard::add(tx, &change)?;
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
        // The fulfilment that completed the order: its event is due (the
        // local mirror of the stream's `completed_by` writes).
        if commit.order.is_complete() {
            tx.execute(
                "INSERT INTO completion_outbox (order_id, fulfillment_id) VALUES (?1, ?2)
                 ON CONFLICT (order_id) DO NOTHING",
                params![f.order_id, f.id],
            )
            .map_err(db)?;
        }
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

/// The commit's idempotency key and delivery key must be new (or expired).
fn check_unused_keys(tx: &rusqlite::Transaction<'_>, commit: &Commit) -> Result<(), StoreError> {
    let now = Utc::now().timestamp();
    if let Some(rec) = &commit.idempotency {
        key_unused(tx, &rec.company_id, &rec.key)?;
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
    Ok(())
}

/// Update the order if it is still at the expected version, or insert it
/// if it is new.
fn write_order(tx: &rusqlite::Transaction<'_>, commit: &Commit) -> Result<(), StoreError> {
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
    Ok(())
}
