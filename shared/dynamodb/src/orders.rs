//! Reading orders: items by key in batches, an order with its
//! notifications in one Query, and a company's order listing from its
//! listing items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::DynamoStore;
use super::errors::{backend, sdk};
use super::items::{Item, key, record_of, s};
use super::keys;
use super::kinds;
use super::ledger::entry_of;
use super::schema;
use service::ledger::LedgerEntry;
use service::store::{OrderCursor, OrderRecord, StatusFilter, StoreError};

/// BatchGetItem's limit of keys per request.
const BATCH: usize = 100;

impl DynamoStore {
    /// Items by key, read consistently, in one BatchGetItem per 100 keys
    /// (keys DynamoDB leaves unprocessed under load are asked for again).
    /// Missing items are absent from the answer, which is in no order.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(StoreError::backend)?,
            );
            let mut round = 0u32;
            while let Some(request) = pending.take() {
                if round > 0 {
                    // Unprocessed keys: DynamoDB asks the caller to back off.
                    let ms = 10u64.saturating_mul(1 << round.min(6));
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                round = round.saturating_add(1);
                if round > 10 {
                    return Err(backend("DynamoDB BatchGetItem: keys left unprocessed"));
                }
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| sdk("BatchGetItem", e))?;
                if let Some(mut r) = out.responses {
                    found.extend(r.remove(&self.table).unwrap_or_default());
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
            }
        }
        Ok(found)
    }

    /// Orders by id, as stored (with their cancellations), in the order of
    /// `ids`; ids without an order are left out.
    pub(super) async fn records(&self, ids: &[String]) -> Result<Vec<OrderRecord>, StoreError> {
        let keys = ids
            .iter()
            .map(|id| key(keys::order(id), keys::ORDER_SK))
            .collect();
        let mut by_id: HashMap<String, OrderRecord> = HashMap::with_capacity(ids.len());
        for item in self.batch_get(keys).await? {
            let r = record_of(item)?;
            by_id.insert(r.order.id.clone(), r);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// An order with its notification ledger items: one Query over the
    /// order's partition from `NOTIFY#` to `ORDER` (fulfillment records
    /// sort before, so they are not read).
    pub(super) async fn order_and_notifications(
        &self,
        id: &str,
    ) -> Result<Option<(OrderRecord, Vec<LedgerEntry>)>, StoreError> {
        let mut start = None;
        let mut record = None;
        let mut entries = Vec::new();
        loop {
            let out = self
                .key_range(keys::order(id), keys::NOTIFY_PREFIX, keys::ORDER_SK)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("Query", e))?;
            for item in out.items.unwrap_or_default() {
                let kind = item.get(schema::TYPE_ATTRIBUTE).and_then(|v| v.as_s().ok());
                match kind.map(String::as_str) {
                    Some(kinds::ORDER) => record = Some(record_of(item)?),
                    Some(super::ledger::NOTIFICATION_TYPE) => entries.push(entry_of(item)?),
                    _ => {}
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(record.map(|r| (r, entries)))
    }

    /// Up to `want` order ids from a company's listing items, newest first,
    /// below `after`, filtered on `complete` in the query. Unfiltered, one
    /// Query; a selective filter reads more per query the longer it goes.
    pub(super) async fn listed(
        &self,
        company_id: &str,
        filter: StatusFilter,
        want: usize,
        after: Option<&OrderCursor>,
    ) -> Result<Vec<String>, StoreError> {
        let after = after.map(|c| keys::listing(&c.created_at, &c.id));
        let complete = match filter {
            StatusFilter::Any => None,
            StatusFilter::Open => Some(false),
            StatusFilter::Complete => Some(true),
        };
        // `BETWEEN` includes the cursor's own item: one more to skip.
        let mut page = i32::try_from(want.saturating_add(usize::from(after.is_some())))
            .unwrap_or(i32::MAX)
            .min(1000);
        let mut ids = Vec::with_capacity(want.min(1000));
        let mut start = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .scan_index_forward(false)
                .limit(page)
                .expression_attribute_names("#pk", schema::PK)
                .expression_attribute_names("#sk", schema::SK)
                .expression_attribute_values(":pk", s(keys::company(company_id)))
                .set_exclusive_start_key(start.take());
            q = match &after {
                Some(a) => q
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :prefix AND :after")
                    .expression_attribute_values(":prefix", s(keys::LISTING_PREFIX))
                    .expression_attribute_values(":after", s(a)),
                None => q
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_values(":prefix", s(keys::LISTING_PREFIX)),
            };
            if let Some(c) = complete {
                q = q
                    .filter_expression("#complete = :complete")
                    .expression_attribute_names("#complete", schema::COMPLETE_ATTRIBUTE)
                    .expression_attribute_values(":complete", AttributeValue::Bool(c));
            }
            let out = q.send().await.map_err(|e| sdk("Query", e))?;
            for item in out.items() {
                let sk = item.get(schema::SK).and_then(|v| v.as_s().ok());
                if sk.is_some() && sk == after.as_ref() {
                    continue;
                }
                let id = item
                    .get("order_id")
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| backend("a listing item without its order id"))?;
                ids.push(id.clone());
                if ids.len() == want {
                    return Ok(ids);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(ids);
            }
            if complete.is_some() {
                page = page.saturating_mul(2).min(1000);
            }
        }
    }
}
