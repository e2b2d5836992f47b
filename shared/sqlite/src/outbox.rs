//! The outbox: one row per cancellation, written in the commit that created
//! it (the local mirror of the DynamoDB stream), drained by the local worker.

use chrono::{DateTime, Utc};
use domain::Cancellation;
use rusqlite::params;
use service::store::StoreError;

use crate::EmbeddedStore;
use crate::codec::{db, from_json, ts};

/// How one attempt at an outbox entry's notification ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxAttempt {
    /// Every channel is done: the entry is finished.
    Delivered,
    /// To be retried; the error is kept on the entry.
    Failed(String),
}

impl EmbeddedStore {
    /// Orders a fulfilment completed whose event is not sent yet.
    pub async fn pending_completions(
        &self,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, order_id FROM completion_outbox WHERE done_at IS NULL
                     ORDER BY seq LIMIT ?1",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(db)?;
            rows.map(|r| r.map_err(db)).collect()
        })
        .await
    }

    pub async fn finish_completion(&self, seq: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.run(move |c| {
            c.execute(
                "UPDATE completion_outbox SET done_at = ?2 WHERE seq = ?1",
                params![seq, ts(&at)],
            )
            .map_err(db)?;
            Ok(())
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
