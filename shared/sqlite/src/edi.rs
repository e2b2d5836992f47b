//! The record of EDI documents sent and their partners' acknowledgments.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use service::edi::{AckState, SentDocument, SentDocuments};
use service::events::Pending;
use service::store::StoreError;

use crate::EmbeddedStore;
use crate::codec::{db, from_json, to_json, ts};

impl SentDocuments for EmbeddedStore {
    fn record<'a>(&'a self, doc: &'a SentDocument) -> Pending<'a, (), StoreError> {
        let doc = doc.clone();
        Box::pin(self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO edi_sent
                 (company_id, control_number, cancellation_id, state, sent_at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    doc.company_id,
                    doc.control_number,
                    doc.cancellation_id,
                    doc.state.as_str(),
                    ts(&doc.sent_at),
                    to_json(&doc)?
                ],
            )
            .map_err(db)?;
            Ok(())
        }))
    }

    fn awaiting_for<'a>(
        &'a self,
        company_id: &'a str,
        cancellation_id: &'a str,
    ) -> Pending<'a, Option<SentDocument>, StoreError> {
        let (company_id, cancellation_id) = (company_id.to_owned(), cancellation_id.to_owned());
        Box::pin(self.run(move |c| {
            let doc: Option<String> = c
                .query_row(
                    "SELECT doc FROM edi_sent
                     WHERE company_id = ?1 AND cancellation_id = ?2 AND state = ?3
                     ORDER BY control_number DESC LIMIT 1",
                    params![company_id, cancellation_id, AckState::Awaiting.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            doc.as_deref().map(from_json).transpose()
        }))
    }

    fn reply_numbers<'a>(
        &'a self,
        company_id: &'a str,
        source: &'a str,
    ) -> Pending<'a, Option<Vec<u32>>, StoreError> {
        let (company_id, source) = (company_id.to_owned(), source.to_owned());
        Box::pin(self.run(move |c| {
            let now = chrono::Utc::now().timestamp();
            let numbers: Option<String> = c
                .query_row(
                    "SELECT numbers FROM edi_replies
                     WHERE company_id = ?1 AND source = ?2 AND expires_at > ?3",
                    params![company_id, source, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            numbers.as_deref().map(from_json).transpose()
        }))
    }

    fn keep_reply_numbers<'a>(
        &'a self,
        company_id: &'a str,
        source: &'a str,
        numbers: &'a [u32],
    ) -> Pending<'a, Vec<u32>, StoreError> {
        let (company_id, source, numbers) =
            (company_id.to_owned(), source.to_owned(), numbers.to_vec());
        Box::pin(self.run(move |c| {
            let now = chrono::Utc::now().timestamp();
            let expires = now.saturating_add(service::edi::REPLY_NUMBERS_KEPT.num_seconds());
            let tx = c.transaction().map_err(db)?;
            let kept: Option<String> = tx
                .query_row(
                    "SELECT numbers FROM edi_replies
                     WHERE company_id = ?1 AND source = ?2 AND expires_at > ?3",
                    params![company_id, source, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if let Some(kept) = kept {
                return from_json(&kept);
            }
            tx.execute(
                "INSERT OR REPLACE INTO edi_replies (company_id, source, numbers, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![company_id, source, to_json(&numbers)?, expires],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(numbers)
        }))
    }

    fn sent_document<'a>(
        &'a self,
        company_id: &'a str,
        control_number: u32,
    ) -> Pending<'a, Option<SentDocument>, StoreError> {
        let company_id = company_id.to_owned();
        Box::pin(self.run(move |c| {
            let doc: Option<String> = c
                .query_row(
                    "SELECT doc FROM edi_sent WHERE company_id = ?1 AND control_number = ?2",
                    params![company_id, control_number],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            doc.as_deref().map(from_json).transpose()
        }))
    }

    fn settle<'a>(
        &'a self,
        company_id: &'a str,
        control_number: u32,
        state: AckState,
        note: &'a str,
        at: DateTime<Utc>,
    ) -> Pending<'a, bool, StoreError> {
        let (company_id, note) = (company_id.to_owned(), note.to_owned());
        Box::pin(self.run(move |c| {
            let tx = c.transaction().map_err(db)?;
            let doc: Option<String> = tx
                .query_row(
                    "SELECT doc FROM edi_sent
                     WHERE company_id = ?1 AND control_number = ?2 AND state = ?3",
                    params![company_id, control_number, AckState::Awaiting.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            let Some(doc) = doc else {
                return Ok(false);
            };
            let mut doc: SentDocument = from_json(&doc)?;
            doc.state = state;
            doc.settled_at = Some(at);
            doc.note = Some(note);
            tx.execute(
                "UPDATE edi_sent SET state = ?3, doc = ?4
                 WHERE company_id = ?1 AND control_number = ?2",
                params![company_id, control_number, state.as_str(), to_json(&doc)?],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(true)
        }))
    }

    fn awaiting(
        &self,
        sent_before: DateTime<Utc>,
        limit: usize,
    ) -> Pending<'_, Vec<SentDocument>, StoreError> {
        Box::pin(self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc FROM edi_sent WHERE state = ?1 AND sent_at < ?2
                     ORDER BY sent_at, company_id, control_number LIMIT ?3",
                )
                .map_err(db)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(
                    params![AckState::Awaiting.as_str(), ts(&sent_before), limit],
                    |r| r.get::<_, String>(0),
                )
                .map_err(db)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(from_json(&row.map_err(db)?)?);
            }
            Ok(out)
        }))
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::*;

    testkit::sent_documents_contract_tests!(EmbeddedStore::in_memory().expect("in-memory store"));
}
