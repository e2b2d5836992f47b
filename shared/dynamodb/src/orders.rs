//! Reading orders: an order with its cancellations, and a company's order
//! listing from the two GSIs.

use std::collections::VecDeque;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::errors::{backend, sdk};
use super::items::{Item, from_item, s};
use super::keys;
use super::kinds;
use super::schema::{self, Gsi};
use domain::Order;
use service::store::{OrderRecord, StatusFilter, StoreError};

/// An order and its cancellations: one Query over the order's partition,
/// `sk` beginning with `ORDER` (the order item sorts first, then its
/// cancellations in commit order).
pub(super) async fn read_order_record(
    client: &Client,
    table: &str,
    id: &str,
) -> Result<Option<OrderRecord>, StoreError> {
    let mut start = None;
    let mut order: Option<Order> = None;
    let mut cancellations = Vec::new();
    loop {
        let out = client
            .query()
            .table_name(table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", schema::PK)
            .expression_attribute_names("#sk", schema::SK)
            .expression_attribute_values(":pk", s(keys::order(id)))
            .expression_attribute_values(":prefix", s(keys::ORDER_PREFIX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk("Query", e))?;
        for item in out.items.unwrap_or_default() {
            let kind = item
                .get(schema::TYPE_ATTRIBUTE)
                .and_then(|v| v.as_s().ok())
                .cloned();
            match kind.as_deref() {
                Some(kinds::ORDER) => order = Some(from_item(item)?),
                Some(kinds::CANCELLATION) => cancellations.push(from_item(item)?),
                _ => {}
            }
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    Ok(order.map(|order| OrderRecord {
        order,
        cancellations,
    }))
}

/// One side (buyer or seller GSI) of a company's order listing: index
/// entries newest first, fetched a query page at a time.
pub(super) struct Side {
    gsi: Gsi,
    /// (index sort key, order id), newest first.
    pub(super) buffer: VecDeque<(String, String)>,
    start: Option<Item>,
    done: bool,
    page: i32,
}

impl Side {
    pub(super) fn new(gsi: Gsi, page: i32) -> Self {
        Side {
            gsi,
            buffer: VecDeque::new(),
            start: None,
            done: false,
            page,
        }
    }
}

impl DynamoStore {
    /// Read `limit + 1` index entries newest first from one side, below
    /// `after` (an index sort key), refilling from DynamoDB as needed.
    pub(super) async fn fill(
        &self,
        side: &mut Side,
        company_pk: &str,
        filter: StatusFilter,
        after: Option<&str>,
    ) -> Result<(), StoreError> {
        while side.buffer.is_empty() && !side.done {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(side.gsi.name)
                .scan_index_forward(false)
                .limit(side.page)
                .expression_attribute_names("#pk", side.gsi.pk)
                .expression_attribute_values(":pk", s(company_pk))
                .set_exclusive_start_key(side.start.take());
            q = match after {
                Some(a) => q
                    .key_condition_expression("#pk = :pk AND #sk < :after")
                    .expression_attribute_names("#sk", side.gsi.sk)
                    .expression_attribute_values(":after", s(a)),
                None => q.key_condition_expression("#pk = :pk"),
            };
            let complete = match filter {
                StatusFilter::Any => None,
                StatusFilter::Open => Some(false),
                StatusFilter::Complete => Some(true),
            };
            if let Some(c) = complete {
                q = q
                    .filter_expression("#complete = :complete")
                    .expression_attribute_names("#complete", schema::COMPLETE_ATTRIBUTE)
                    .expression_attribute_values(":complete", AttributeValue::Bool(c));
            }
            let out = q.send().await.map_err(|e| sdk("Query", e))?;
            for item in out.items() {
                let sk = item.get(side.gsi.sk).and_then(|v| v.as_s().ok());
                let id = item
                    .get(schema::PK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("ORDER#"));
                match (sk, id) {
                    (Some(sk), Some(id)) => side.buffer.push_back((sk.clone(), id.to_owned())),
                    _ => return Err(backend("an index entry without its keys")),
                }
            }
            side.start = out.last_evaluated_key;
            side.done = side.start.is_none();
            // A selective filter leaves pages mostly empty: read more per
            // query the longer it goes on.
            if complete.is_some() {
                side.page = side.page.saturating_mul(2).min(1000);
            }
        }
        Ok(())
    }
}
