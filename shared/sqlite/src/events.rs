//! Endpoints and the event log in the embedded store, and the local
//! delivery queue (a table the local worker drains when tasks fall due).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use domain::Company;
use domain::events::{
    EndpointChange, EndpointChanged, EndpointRefusal, WebhookEndpoint, change_endpoints,
};
use service::events::{
    DeliveryQueue, DeliveryTask, EventRecord, Pending, QueueError, Recorded, WebhookStore,
};
use service::store::{IdempotencyRecord, StoreError};

use crate::EmbeddedStore;
use crate::codec::{db, from_json, to_json, ts};
use crate::idempotency::{key_unused, put_idempotency};

/// The endpoints stored on a company (none when there is no such company).
pub(crate) fn stored_endpoints(
    tx: &Transaction<'_>,
    company_id: &str,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let doc: Option<String> = tx
        .query_row(
            "SELECT doc FROM companies WHERE id = ?1",
            [company_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    match doc {
        Some(d) => Ok(from_json::<Company>(&d)?.webhook_endpoints),
        None => Ok(Vec::new()),
    }
}

fn epoch(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl EmbeddedStore {
    /// Apply `change` to the company's endpoints and, in the same
    /// transaction, put `record` (a request's idempotency record): both or
    /// neither. A key in use is `IdempotencyKeyExists`, nothing written.
    async fn change_endpoints_with(
        &self,
        company_id: &str,
        change: &EndpointChange,
        record: Option<&IdempotencyRecord>,
    ) -> Result<Result<EndpointChanged, EndpointRefusal>, StoreError> {
        let (company_id, change, record) = (company_id.to_owned(), change.clone(), record.cloned());
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let doc: Option<String> = tx
                .query_row(
                    "SELECT doc FROM companies WHERE id = ?1",
                    [&company_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            let Some(doc) = doc else {
                return Ok(Err(EndpointRefusal::NotFound(company_id)));
            };
            let mut company: Company = from_json(&doc)?;
            let result = change_endpoints(&mut company.webhook_endpoints, &change);
            if matches!(
                result,
                Ok(EndpointChanged::Unchanged | EndpointChanged::Existing(_)) | Err(_)
            ) {
                return Ok(result);
            }
            if let Some(rec) = &record {
                key_unused(&tx, &rec.company_id, &rec.key)?;
                put_idempotency(&tx, rec)?;
            }
            tx.execute(
                "UPDATE companies SET doc = ?2 WHERE id = ?1",
                params![company_id, to_json(&company)?],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(result)
        })
        .await
    }
}

impl WebhookStore for EmbeddedStore {
    async fn change_endpoints(
        &self,
        company_id: &str,
        change: &EndpointChange,
    ) -> Result<Result<EndpointChanged, EndpointRefusal>, StoreError> {
        self.change_endpoints_with(company_id, change, None).await
    }

    async fn add_endpoint(
        &self,
        company_id: &str,
        endpoint: &WebhookEndpoint,
        record: Option<&IdempotencyRecord>,
    ) -> Result<Result<EndpointChanged, EndpointRefusal>, StoreError> {
        let add = EndpointChange::Add(endpoint.clone());
        self.change_endpoints_with(company_id, &add, record).await
    }

    async fn record_event(
        &self,
        event: &EventRecord,
        dedupe: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let (event, dedupe) = (event.clone(), dedupe.to_owned());
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let earlier: Option<String> = tx
                .query_row(
                    "SELECT doc FROM events WHERE company_id = ?1 AND dedupe = ?2",
                    params![event.company_id, dedupe],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if let Some(doc) = earlier {
                return Ok(Recorded::Existing(from_json(&doc)?));
            }
            tx.execute(
                "INSERT INTO events (company_id, id, dedupe, expires_at, doc, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5,
                     (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE company_id = ?1))",
                params![
                    event.company_id,
                    event.id,
                    dedupe,
                    epoch(keep_until),
                    to_json(&event)?
                ],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(Recorded::New(event))
        })
        .await
    }

    async fn event(
        &self,
        company_id: &str,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        let (company_id, event_id) = (company_id.to_owned(), event_id.to_owned());
        self.run(move |c| {
            let doc: Option<String> = c
                .prepare_cached(
                    "SELECT doc FROM events WHERE company_id = ?1 AND id = ?2 AND expires_at > ?3",
                )
                .map_err(db)?
                .query_row(params![company_id, event_id, epoch(Utc::now())], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db)?;
            doc.map(|d| from_json(&d)).transpose()
        })
        .await
    }

    async fn events_after(
        &self,
        company_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Option<(Vec<EventRecord>, bool)>, StoreError> {
        let (company_id, after) = (company_id.to_owned(), after.map(str::to_owned));
        self.run(move |c| {
            // One snapshot: the cursor's place and the page after it.
            let tx = c.transaction().map_err(db)?;
            let from: i64 = match after {
                None => 0,
                Some(id) => {
                    let seq: Option<Option<i64>> = tx
                        .prepare_cached("SELECT seq FROM events WHERE company_id = ?1 AND id = ?2")
                        .map_err(db)?
                        .query_row(params![company_id, id], |r| r.get(0))
                        .optional()
                        .map_err(db)?;
                    match seq {
                        Some(seq) => seq.unwrap_or(0),
                        None => return Ok(None),
                    }
                }
            };
            let mut stmt = tx
                .prepare_cached(
                    "SELECT doc FROM events WHERE company_id = ?1 AND seq > ?2 AND expires_at > ?3
                     ORDER BY seq LIMIT ?4",
                )
                .map_err(db)?;
            let take = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
            let rows = stmt
                .query_map(params![company_id, from, epoch(Utc::now()), take], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(db)?;
            let mut events = rows
                .map(|r| from_json::<EventRecord>(&r.map_err(db)?))
                .collect::<Result<Vec<_>, _>>()?;
            let more = events.len() > limit;
            events.truncate(limit);
            Ok(Some((events, more)))
        })
        .await
    }
}

impl DeliveryQueue for EmbeddedStore {
    fn schedule<'a>(&'a self, task: &'a DeliveryTask) -> Pending<'a, (), QueueError> {
        Box::pin(async move {
            let (due, doc) = (
                ts(&task.due_at),
                to_json(task).map_err(|e| QueueError(e.to_string()))?,
            );
            self.run(move |c| {
                c.execute(
                    "INSERT INTO delivery_queue (due_at, task) VALUES (?1, ?2)",
                    params![due, doc],
                )
                .map_err(db)?;
                Ok(())
            })
            .await
            .map_err(|e| QueueError(e.to_string()))
        })
    }
}

impl EmbeddedStore {
    /// Queued deliveries due at `now`, oldest first, with their sequence
    /// numbers (to `finish_delivery_task` once run).
    pub async fn due_delivery_tasks(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(i64, DeliveryTask)>, StoreError> {
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, task FROM delivery_queue WHERE due_at <= ?1 ORDER BY due_at, seq LIMIT ?2",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(
                    params![ts(&now), i64::try_from(limit).unwrap_or(i64::MAX)],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                )
                .map_err(db)?;
            rows.map(|r| {
                let (seq, doc) = r.map_err(db)?;
                Ok((seq, from_json(&doc)?))
            })
            .collect()
        })
        .await
    }

    /// Remove a task that ran (a retry it needed is queued as a new task).
    pub async fn finish_delivery_task(&self, seq: i64) -> Result<(), StoreError> {
        self.run(move |c| {
            c.execute("DELETE FROM delivery_queue WHERE seq = ?1", [seq])
                .map_err(db)?;
            Ok(())
        })
        .await
    }
}

impl service::edi::ControlNumbers for EmbeddedStore {
    fn next<'a>(&'a self, company_id: &'a str) -> Pending<'a, u32, service::edi::NumberError> {
        let company_id = company_id.to_owned();
        Box::pin(async move {
            self.run(move |c| {
                let n: i64 = c
                    .query_row(
                        "INSERT INTO edi_control (company_id, last) VALUES (?1, 1)
                         ON CONFLICT (company_id) DO UPDATE SET last = last + 1
                         RETURNING last",
                        [&company_id],
                        |r| r.get(0),
                    )
                    .map_err(db)?;
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n <= 999_999_999)
                    .ok_or_else(|| {
                        StoreError::Internal(format!("control numbers of {company_id} are spent"))
                    })
            })
            .await
            .map_err(service::edi::NumberError::from)
        })
    }
}

impl EmbeddedStore {
    /// Make every queued delivery due `by` earlier (an operator's "retry
    /// now", and tests that cannot wait out the backoff).
    pub async fn bring_deliveries_forward(
        &self,
        by: chrono::Duration,
    ) -> Result<usize, StoreError> {
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let rows: Vec<(i64, String)> = {
                let mut stmt = tx
                    .prepare("SELECT seq, task FROM delivery_queue")
                    .map_err(db)?;
                let r = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(db)?;
                r.collect::<Result<_, _>>().map_err(db)?
            };
            for (seq, doc) in &rows {
                let mut task: DeliveryTask = from_json(doc)?;
                task.due_at -= by;
                tx.execute(
                    "UPDATE delivery_queue SET due_at = ?2, task = ?3 WHERE seq = ?1",
                    params![seq, ts(&task.due_at), to_json(&task)?],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(rows.len())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::*;
    use rusqlite::Connection;

    testkit::events_contract_tests!(EmbeddedStore::in_memory().expect("in-memory store"));

    /// Two connections to one file, as two processes have, write while a
    /// third pages through the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_writers_and_a_reader_on_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sqlite3");
        let open = || EmbeddedStore::open(&path).unwrap();
        testkit::events_contract::concurrent_writers_are_read_once(open(), open(), open()).await;
    }

    /// A file written before events had places: they get them in id
    /// order, and the log pages on from an old cursor.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_of_an_older_file_are_placed_in_id_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        let ids = [
            "evt_01KC0000000000000000000001",
            "evt_01KC0000000000000000000002",
        ];
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE events (company_id TEXT NOT NULL, id TEXT NOT NULL,
                    dedupe TEXT NOT NULL, expires_at INTEGER NOT NULL, doc TEXT NOT NULL,
                    PRIMARY KEY (company_id, id), UNIQUE (company_id, dedupe));",
            )
            .unwrap();
            for (i, id) in ids.iter().enumerate().rev() {
                let mut e = testkit::events_contract::event_of_company("c1", "o1");
                e.id = (*id).to_owned();
                c.execute(
                    "INSERT INTO events VALUES ('c1', ?1, ?2, ?3, ?4)",
                    params![id, format!("k{i}"), i64::MAX, to_json(&e).unwrap()],
                )
                .unwrap();
            }
        }
        let s = EmbeddedStore::open(&path).unwrap();
        let keep = Utc::now() + chrono::Duration::days(35);
        let new = testkit::events_contract::event_of_company("c1", "o1");
        s.record_event(&new, "k2", keep).await.unwrap();
        let (page, _) = s
            .events_after("c1", Some(ids[0]), 10)
            .await
            .unwrap()
            .unwrap();
        let got: Vec<&str> = page.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(got, [ids[1], new.id.as_str()]);
    }
}
