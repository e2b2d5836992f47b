//! The notification ledger on SQLite: one row per (cancellation,
//! channel), claimed and completed in `BEGIN IMMEDIATE` transactions. The
//! table is created on first use.
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::EmbeddedStore;
use crate::codec::{db, ts};
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

/// The `channel` column holds the key's slot (`LedgerKey::slot`).
fn channel_of(s: &str) -> Result<(Channel, Option<String>), StoreError> {
    Channel::of_slot(s).ok_or_else(|| StoreError::Internal(format!("unknown ledger channel {s:?}")))
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
        let (channel, endpoint_id) = channel_of(&channel)?;
        Ok(LedgerEntry {
            order_id,
            cancellation_id,
            channel,
            endpoint_id,
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
                    params![key.cancellation_id, key.slot()],
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
                    key.slot(),
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
                        key.slot(),
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
                        key.slot(),
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

    async fn entries_since(&self, since: DateTime<Utc>) -> Result<Vec<LedgerEntry>, StoreError> {
        self.run(move |c| {
            ensure(c)?;
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM notify_ledger WHERE updated_at >= ?1
                     ORDER BY updated_at, cancellation_id, channel"
                ))
                .map_err(db)?;
            let rows = stmt.query_map([ts(&since)], entry).map_err(db)?;
            rows.map(|r| r.map_err(db)?).collect()
        })
        .await
    }

    async fn fail_sent(
        &self,
        key: &LedgerKey,
        attempt: u32,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (key, detail) = (key.clone(), detail.to_owned());
        self.run(move |c| {
            ensure(c)?;
            let n = c
                .execute(
                    "UPDATE notify_ledger SET outcome = ?5, detail = ?6, updated_at = ?7
                     WHERE cancellation_id = ?1 AND channel = ?2
                       AND status = ?3 AND outcome = ?4 AND attempts = ?8",
                    params![
                        key.cancellation_id,
                        key.slot(),
                        LedgerStatus::Completed.as_str(),
                        Outcome::Sent.as_str(),
                        Outcome::Failed.as_str(),
                        detail,
                        ts(&now),
                        attempt
                    ],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn reopen_failed(&self, key: &LedgerKey) -> Result<bool, StoreError> {
        let key = key.clone();
        self.run(move |c| {
            ensure(c)?;
            // Claimable at once: in progress, its lock long expired.
            let n = c
                .execute(
                    "UPDATE notify_ledger SET status = ?3, expires_at = 0, token = NULL,
                     outcome = NULL, last_error = detail, detail = NULL
                     WHERE cancellation_id = ?1 AND channel = ?2
                       AND status = ?4 AND outcome = ?5",
                    params![
                        key.cancellation_id,
                        key.slot(),
                        LedgerStatus::InProgress.as_str(),
                        LedgerStatus::Completed.as_str(),
                        Outcome::Failed.as_str()
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
