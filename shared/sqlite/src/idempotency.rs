//! The idempotency records role on SQLite, and the key checks every write
//! carrying a record makes (an order's commit, an endpoint's addition).

use chrono::Utc;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::EmbeddedStore;
use crate::codec::{db, from_json, to_json};
use service::store::{IdempotencyRecord, IdempotencyRecords, StoreError};

impl IdempotencyRecords for EmbeddedStore {
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
            key_unused(&tx, &record.company_id, &record.key)?;
            put_idempotency(&tx, &record)?;
            tx.commit().map_err(db)
        })
        .await
    }
}

/// `IdempotencyKeyExists`, with the record, when the company has an
/// unexpired one under `key`.
pub(crate) fn key_unused(
    tx: &rusqlite::Transaction<'_>,
    company_id: &str,
    key: &str,
) -> Result<(), StoreError> {
    let stored: Option<String> = tx
        .query_row(
            "SELECT doc FROM idempotency WHERE company_id = ?1 AND key = ?2 AND expires_at > ?3",
            params![company_id, key, Utc::now().timestamp()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    match stored {
        None => Ok(()),
        Some(doc) => Err(StoreError::IdempotencyKeyExists {
            stored: Some(Box::new(from_json(&doc)?)),
        }),
    }
}

pub(crate) fn put_idempotency(
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
