//! The record of EDI documents sent, on DynamoDB. Two items per document:
//!
//!   `pk = COMPANY#<partner>, sk = EDISENT#<control number>`: the record,
//!   found by the partner's 997 (one GetItem);
//!   `pk = EDIAWAIT, sk = <sent_at>#<len>#<partner>#<control number>`: a
//!   copy while it awaits its acknowledgment, so the overdue ones are one
//!   Query however many documents were ever sent.
//!
//! Both are written in one transaction, and settling updates the record
//! (conditioned on it still awaiting) and deletes the copy in another.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use service::edi::{AckState, SentDocument, SentDocuments};
use service::store::StoreError;
use service::webhooks::Pending;

use super::DynamoStore;
use super::errors::{CONDITIONAL_CHECK_FAILED, sdk};
use super::items::{Item, from_item, item_of, key, s};
use super::keys;
use super::kinds;
use super::schema;

fn record_key(company_id: &str, control_number: u32) -> Item {
    key(keys::company(company_id), &keys::edi_sent(control_number))
}

fn awaiting_key(doc: &SentDocument) -> Item {
    key(
        keys::EDI_AWAITING_PK.to_owned(),
        &keys::edi_awaiting(&doc.sent_at, &doc.company_id, doc.control_number),
    )
}

fn item(doc: &SentDocument, at: Item, kind: &'static str) -> Result<Item, StoreError> {
    let mut extra = vec![(schema::TYPE_ATTRIBUTE, s(kind))];
    for k in [schema::PK, schema::SK] {
        if let Some(v) = at.get(k) {
            extra.push((k, v.clone()));
        }
    }
    item_of(doc, extra)
}

impl SentDocuments for DynamoStore {
    fn record<'a>(&'a self, doc: &'a SentDocument) -> Pending<'a, (), StoreError> {
        Box::pin(async move {
            let record = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(
                    doc,
                    record_key(&doc.company_id, doc.control_number),
                    kinds::EDI_SENT,
                )?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", schema::PK)
                .build()
                .map_err(StoreError::backend)?;
            let copy = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(doc, awaiting_key(doc), kinds::EDI_AWAITING)?))
                .build()
                .map_err(StoreError::backend)?;
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(record).build())
                .transact_items(TransactWriteItem::builder().put(copy).build())
                .send()
                .await
                .map_err(|e| sdk("TransactWriteItems", e))?;
            Ok(())
        })
    }

    fn sent_document<'a>(
        &'a self,
        company_id: &'a str,
        control_number: u32,
    ) -> Pending<'a, Option<SentDocument>, StoreError> {
        Box::pin(async move {
            self.get(record_key(company_id, control_number))
                .await?
                .map(from_item)
                .transpose()
        })
    }

    fn settle<'a>(
        &'a self,
        company_id: &'a str,
        control_number: u32,
        state: AckState,
        note: &'a str,
        at: DateTime<Utc>,
    ) -> Pending<'a, bool, StoreError> {
        Box::pin(async move {
            let Some(doc) = self.sent_document(company_id, control_number).await? else {
                return Ok(false);
            };
            if doc.state != AckState::Awaiting {
                return Ok(false);
            }
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(record_key(company_id, control_number)))
                .update_expression("SET #state = :state, #at = :at, #note = :note")
                .condition_expression("#state = :awaiting")
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#at", "settled_at")
                .expression_attribute_names("#note", "note")
                .expression_attribute_values(":state", s(state.as_str()))
                .expression_attribute_values(":awaiting", s(AckState::Awaiting.as_str()))
                .expression_attribute_values(":at", s(at.to_rfc3339()))
                .expression_attribute_values(":note", s(note))
                .build()
                .map_err(StoreError::backend)?;
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(awaiting_key(&doc)))
                .build()
                .map_err(StoreError::backend)?;
            let sent = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(update).build())
                .transact_items(TransactWriteItem::builder().delete(delete).build())
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            // Member 0 is the record: refused, someone settled it first.
            if let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
                err.as_service_error()
                && tce.cancellation_reasons().first().and_then(|r| r.code())
                    == Some(CONDITIONAL_CHECK_FAILED)
            {
                return Ok(false);
            }
            Err(sdk("TransactWriteItems", err))
        })
    }

    fn awaiting(
        &self,
        sent_before: DateTime<Utc>,
        limit: usize,
    ) -> Pending<'_, Vec<SentDocument>, StoreError> {
        Box::pin(async move {
            let mut docs = Vec::new();
            let mut start = None;
            let page = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .consistent_read(true)
                    .key_condition_expression("#pk = :pk AND #sk < :before")
                    .expression_attribute_names("#pk", schema::PK)
                    .expression_attribute_names("#sk", schema::SK)
                    .expression_attribute_values(":pk", s(keys::EDI_AWAITING_PK))
                    .expression_attribute_values(
                        ":before",
                        s(service::store::timestamp(&sent_before)),
                    )
                    .limit(page)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| sdk("Query", e))?;
                for i in out.items.unwrap_or_default() {
                    docs.push(from_item::<SentDocument>(i)?);
                }
                start = out.last_evaluated_key;
                if start.is_none() || docs.len() >= limit {
                    break;
                }
            }
            docs.truncate(limit);
            Ok(docs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fresh_store;
    #[allow(unused_imports)]
    use super::*;

    testkit::sent_documents_contract_tests!(fresh_store().await);

    #[test]
    fn awaiting_copies_sort_by_time_then_partner() {
        let t = "2026-12-07T09:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let a = keys::edi_awaiting(&t, "ab", 7);
        let b = keys::edi_awaiting(&(t + chrono::Duration::seconds(1)), "a", 1);
        assert!(a < b);
        assert!(a.starts_with(&service::store::timestamp(&t)));
    }
}
