//! The record of EDI documents sent, on DynamoDB. Two items per document:
//!
//!   `pk = COMPANY#<partner>, sk = EDISENT#<control number>`: the record,
//!   found by the partner's 997 (one GetItem);
//!   `pk = EDIAWAIT, sk = <sent_at>#<len>#<partner>#<control number>`: a
//!   copy while it awaits its acknowledgment, so the overdue ones are one
//!   Query however many documents were ever sent.
//!
//!   `pk = COMPANY#<partner>, sk = EDISENTC#<cancellation id>`: the control
//!   number last sent for a cancellation, for a repeated attempt;
//!   `pk = COMPANY#<partner>, sk = EDIREPLY#<inbound file>`: the control
//!   numbers of our replies to a file, `expires_at` (TTL, 30 days).
//!
//! The first three are written in one transaction (a repeat overwrites
//! them, keeping `sent_at` and so the copy's key), and settling updates
//! the record (conditioned on it still awaiting) and deletes the copy in
//! another.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use service::edi::{AckState, SentDocument, SentDocuments};
use service::events::Pending;
use service::store::StoreError;

use super::DynamoStore;
use super::errors::{CONDITIONAL_CHECK_FAILED, sdk};
use super::items::{Item, from_item, item_of, key, n, s};
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

fn pointer_key(company_id: &str, cancellation_id: &str) -> Item {
    key(
        keys::company(company_id),
        &keys::edi_sent_for(cancellation_id),
    )
}

fn replies_key(company_id: &str, source: &str) -> Item {
    key(keys::company(company_id), &keys::edi_replies(source))
}

/// The numbers of a replies item that has not expired.
fn numbers_of(item: &Item, now: i64) -> Option<Vec<u32>> {
    let live = item
        .get(schema::TTL_ATTRIBUTE)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|t| t > now);
    if !live {
        return None;
    }
    let list = item.get("numbers")?.as_l().ok()?;
    list.iter()
        .map(|v| v.as_n().ok().and_then(|n| n.parse::<u32>().ok()))
        .collect()
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
                .build()
                .map_err(StoreError::backend)?;
            let copy = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(doc, awaiting_key(doc), kinds::EDI_AWAITING)?))
                .build()
                .map_err(StoreError::backend)?;
            let mut pointer = pointer_key(&doc.company_id, &doc.cancellation_id);
            pointer.insert(schema::TYPE_ATTRIBUTE.to_owned(), s(kinds::EDI_SENT_FOR));
            pointer.insert("control_number".to_owned(), n(doc.control_number));
            let pointer = Put::builder()
                .table_name(&self.table)
                .set_item(Some(pointer))
                .build()
                .map_err(StoreError::backend)?;
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(record).build())
                .transact_items(TransactWriteItem::builder().put(copy).build())
                .transact_items(TransactWriteItem::builder().put(pointer).build())
                .send()
                .await
                .map_err(|e| sdk("TransactWriteItems", e))?;
            Ok(())
        })
    }

    fn awaiting_for<'a>(
        &'a self,
        company_id: &'a str,
        cancellation_id: &'a str,
    ) -> Pending<'a, Option<SentDocument>, StoreError> {
        Box::pin(async move {
            let Some(pointer) = self.get(pointer_key(company_id, cancellation_id)).await? else {
                return Ok(None);
            };
            let Some(control) = pointer
                .get("control_number")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u32>().ok())
            else {
                return Ok(None);
            };
            Ok(self
                .sent_document(company_id, control)
                .await?
                .filter(|d| d.state == AckState::Awaiting))
        })
    }

    fn reply_numbers<'a>(
        &'a self,
        company_id: &'a str,
        source: &'a str,
    ) -> Pending<'a, Option<Vec<u32>>, StoreError> {
        Box::pin(async move {
            let now = Utc::now().timestamp();
            Ok(self
                .get(replies_key(company_id, source))
                .await?
                .and_then(|i| numbers_of(&i, now)))
        })
    }

    fn keep_reply_numbers<'a>(
        &'a self,
        company_id: &'a str,
        source: &'a str,
        numbers: &'a [u32],
    ) -> Pending<'a, Vec<u32>, StoreError> {
        Box::pin(async move {
            let now = Utc::now().timestamp();
            let expires = now.saturating_add(service::edi::REPLY_NUMBERS_KEPT.num_seconds());
            let mut item = replies_key(company_id, source);
            item.insert(schema::TYPE_ATTRIBUTE.to_owned(), s(kinds::EDI_REPLIES));
            item.insert(
                "numbers".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::L(numbers.iter().map(n).collect()),
            );
            item.insert(schema::TTL_ATTRIBUTE.to_owned(), n(expires));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                .expression_attribute_names("#pk", schema::PK)
                .expression_attribute_names("#exp", schema::TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now))
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match put {
                Ok(_) => Ok(numbers.to_vec()),
                Err(e) => match e.as_service_error() {
                    // Kept first by another: theirs stand.
                    Some(PutItemError::ConditionalCheckFailedException(c)) => {
                        c.item().and_then(|i| numbers_of(i, now)).ok_or_else(|| {
                            StoreError::Internal("kept reply numbers without numbers".into())
                        })
                    }
                    _ => Err(sdk("PutItem", e)),
                },
            }
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
