//! A commit as the fewest writes that keep it atomic. A change to an order
//! that carries nothing else (the common case: a cancellation or a
//! fulfillment without an idempotency key, a reconciliation) is one
//! conditional `UpdateItem` of the order item, which holds its
//! cancellations: one write unit for an item under 1 KB. Anything more (a
//! new order and its listing items, a used-key or delivery check, look-up
//! items by reference, a fulfillment record, the listing items of an order
//! that became complete) is one `TransactWriteItems`, each member with the
//! `Slot` that reads its refusal back. A commit that changes the
//! scorecard's counts (a new order, a cancellation) adds to them in the
//! same transaction, so they count each change exactly once.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update as TxUpdate,
};

use super::DynamoStore;
use super::errors::{Slot, backend, describe_reasons, only_counters_conflicted, refusal, sdk};
use super::items::{
    COMMIT_TOKEN, Item, Update, delivery_item, fulfillment_item, idempotency_item, key,
    listing_items, order_item, order_update, put_expiring, put_new, s,
};
use super::keys::{self, RefKind};
use super::kinds;
use super::schema;
use domain::Order;
use domain::scorecard::ScoreChange;
use service::store::{Commit, OrderRefs, StoreError};

impl DynamoStore {
    /// The previous refs whose look-up items this commit writes: all of a
    /// new order's, or the ones a change replaces.
    fn previous_refs(commit: &Commit) -> Option<OrderRefs> {
        match (commit.expected_version, &commit.replaced_refs) {
            (None, _) => Some(OrderRefs::default()),
            (Some(_), Some(old)) => Some(old.clone()),
            (Some(_), None) => None,
        }
    }

    /// Whether the commit is one order update and nothing else (no
    /// look-up item changes: the `P` item follows the buyer's ref; no
    /// counts changed).
    fn is_single_update(commit: &Commit) -> bool {
        commit.expected_version.is_some()
            && score_change(commit).is_none()
            && commit.fulfillment.is_none()
            && commit.idempotency.is_none()
            && commit.delivery.is_none()
            && !commit.order.is_complete()
            && Self::previous_refs(commit).is_none_or(|old| {
                old.buyer == commit.order.buyer_order_ref
                    && old.seller == commit.order.seller_order_ref
            })
    }

    /// The `TransactWriteItems` members of a commit and what each one is.
    pub(super) fn commit_items(
        &self,
        commit: &Commit,
        now: i64,
        token: &str,
    ) -> Result<(Vec<TransactWriteItem>, Vec<Slot>), StoreError> {
        let mut items = Vec::with_capacity(8);
        let mut slots = Vec::with_capacity(8);
        let order = &commit.order;
        match commit.expected_version {
            None => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(order_item(order)?))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", schema::PK)
                    .build()
                    .map_err(StoreError::backend)?;
                items.push(TransactWriteItem::builder().put(put).build());
                slots.push(Slot::OrderCreate);
                for listing in listing_items(order) {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(listing))
                        .build()
                        .map_err(StoreError::backend)?;
                    items.push(TransactWriteItem::builder().put(put).build());
                    slots.push(Slot::Listing);
                }
            }
            Some(expected) => {
                let u = order_update(
                    order,
                    commit.cancellation.as_ref(),
                    completed_by(commit),
                    expected,
                    token,
                )?;
                items.push(
                    TransactWriteItem::builder()
                        .update(self.tx_update(u, order)?)
                        .build(),
                );
                slots.push(Slot::OrderUpdate);
                // `complete` only ever turns true (nothing reopens units).
                if order.is_complete() {
                    for listing in listing_items(order) {
                        items.push(
                            TransactWriteItem::builder()
                                .update(self.mark_complete(listing)?)
                                .build(),
                        );
                        slots.push(Slot::Listing);
                    }
                }
            }
        }
        if let Some(previous) = Self::previous_refs(commit) {
            self.push_ref_items(order, &previous, &mut items, &mut slots)?;
        }
        if let Some(f) = &commit.fulfillment {
            let put = put_new(&self.table, fulfillment_item(order.version, f)?)?;
            items.push(TransactWriteItem::builder().put(put).build());
            slots.push(Slot::Fulfillment);
        }
        if let Some(r) = &commit.idempotency {
            let put = put_expiring(&self.table, idempotency_item(r)?, now)?;
            items.push(TransactWriteItem::builder().put(put).build());
            slots.push(Slot::Idempotency);
        }
        if let Some(d) = &commit.delivery {
            let put = put_expiring(&self.table, delivery_item(d)?, now)?;
            items.push(TransactWriteItem::builder().put(put).build());
            slots.push(Slot::Delivery);
        }
        if let Some(change) = score_change(commit) {
            for update in self.score_updates(&change, &order.id)? {
                items.push(TransactWriteItem::builder().update(update).build());
                slots.push(Slot::Score);
            }
        }
        Ok((items, slots))
    }

    fn tx_update(&self, u: Update, order: &Order) -> Result<TxUpdate, StoreError> {
        TxUpdate::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::order(&order.id), keys::ORDER_SK)))
            .update_expression(u.expression)
            .set_condition_expression(u.condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)
    }

    fn mark_complete(&self, listing: Item) -> Result<TxUpdate, StoreError> {
        let key = listing
            .into_iter()
            .filter(|(k, _)| k == schema::PK || k == schema::SK)
            .collect();
        TxUpdate::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #complete = :true")
            .expression_attribute_names("#complete", schema::COMPLETE_ATTRIBUTE)
            .expression_attribute_values(
                ":true",
                aws_sdk_dynamodb::types::AttributeValue::Bool(true),
            )
            .build()
            .map_err(StoreError::backend)
    }

    /// The look-up items by platform reference whose reference changed:
    /// the old one deleted, the new one put.
    fn push_ref_items(
        &self,
        order: &Order,
        previous: &OrderRefs,
        items: &mut Vec<TransactWriteItem>,
        slots: &mut Vec<Slot>,
    ) -> Result<(), StoreError> {
        // The buyer's order ref is looked up twice: by the buyer (`B`) and,
        // as its PO number, by the seller (`P`); both follow its changes.
        let refs = [
            (
                RefKind::Buyer,
                &order.buyer_id,
                &previous.buyer,
                &order.buyer_order_ref,
            ),
            (
                RefKind::Seller,
                &order.seller_id,
                &previous.seller,
                &order.seller_order_ref,
            ),
            (
                RefKind::SellerPo,
                &order.seller_id,
                &previous.buyer,
                &order.buyer_order_ref,
            ),
        ];
        for (kind, company, old, new) in refs {
            if old == new {
                continue;
            }
            if let Some(r) = old {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        keys::order_ref(kind, company, r),
                        &keys::order(&order.id),
                    )))
                    .build()
                    .map_err(StoreError::backend)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
                slots.push(Slot::OrderRefDelete);
            }
            if let Some(r) = new {
                let item = HashMap::from([
                    (schema::PK.to_owned(), s(keys::order_ref(kind, company, r))),
                    (schema::SK.to_owned(), s(keys::order(&order.id))),
                    (schema::TYPE_ATTRIBUTE.to_owned(), s(kinds::ORDER_REF)),
                    ("order_id".to_owned(), s(&order.id)),
                ]);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .build()
                    .map_err(StoreError::backend)?;
                items.push(TransactWriteItem::builder().put(put).build());
                slots.push(Slot::OrderRef);
            }
        }
        Ok(())
    }

    /// Commit with this token, new for every `commit` call and the same
    /// across the SDK's own retries of it: a retry of an attempt that did
    /// commit (lost response, timeout) then reports its success instead of
    /// failing the version check and making the caller decide the same
    /// change twice. A transaction carries it as its `ClientRequestToken`;
    /// a single update writes it on the item and, refused, finds it there.
    /// A token derived from the commit's content would not be safe: a
    /// deliberate second identical commit would "succeed" as a replay
    /// instead of being refused (`OrderExists`, ...).
    /// `now` (epoch seconds) decides which expiring records count as gone.
    pub(super) async fn commit_with_token(
        &self,
        commit: &Commit,
        token: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        if Self::is_single_update(commit) {
            return self.update_order(commit, token).await;
        }
        let (items, slots) = self.commit_items(commit, now, token)?;
        let mut token = token.to_owned();
        let mut attempt = 0u32;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(&token)
                .send()
                .await;
            let Err(e) = sent else { return Ok(()) };
            if let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
                e.as_service_error()
            {
                let reasons = tce.cancellation_reasons();
                // A cancelled transaction wrote nothing: sent again under a
                // new token, it is a new attempt, not a replay.
                if only_counters_conflicted(reasons, &slots) && attempt < COUNTER_RETRIES {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 10))
                        .await;
                    token = ulid::Ulid::generate().to_string();
                    continue;
                }
            }
            return Err(self.commit_refused(e, &slots));
        }
    }

    /// A `TransactWriteItems` failure as the refusal it stands for, read by
    /// position, or a backend error.
    fn commit_refused(
        &self,
        e: aws_sdk_dynamodb::error::SdkError<
            TransactWriteItemsError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
        slots: &[Slot],
    ) -> StoreError {
        if let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
            e.as_service_error()
        {
            let reasons = tce.cancellation_reasons();
            if let Some(refusal) = refusal(reasons, slots) {
                return refusal;
            }
            return backend(format!(
                "DynamoDB TransactWriteItems cancelled: {}",
                describe_reasons(reasons, slots)
            ));
        }
        sdk("TransactWriteItems", e)
    }

    /// One conditional UpdateItem of the order item.
    async fn update_order(&self, commit: &Commit, token: &str) -> Result<(), StoreError> {
        let order = &commit.order;
        let expected = commit.expected_version.unwrap_or_default();
        let u = order_update(
            order,
            commit.cancellation.as_ref(),
            completed_by(commit),
            expected,
            token,
        )?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::order(&order.id), keys::ORDER_SK)))
            .update_expression(u.expression)
            .set_condition_expression(u.condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    match c.item().filter(|i| !i.is_empty()) {
                        None => Err(StoreError::OrderMissing),
                        // Our own write, applied by an attempt whose answer was lost.
                        Some(old)
                            if old.get(COMMIT_TOKEN).and_then(|t| t.as_s().ok())
                                == Some(&token.to_owned()) =>
                        {
                            Ok(())
                        }
                        Some(_) => Err(StoreError::VersionConflict),
                    }
                }
                // A transaction on the same item at the same moment: the
                // order is changing under us, as for a version conflict.
                Some(UpdateItemError::TransactionConflictException(_)) => {
                    Err(StoreError::VersionConflict)
                }
                _ => Err(sdk("UpdateItem", e)),
            },
        }
    }
}

/// Times a commit is sent again when only scorecard counters conflicted.
const COUNTER_RETRIES: u32 = 3;

/// What the commit adds to the scorecard's counts, if anything.
fn score_change(commit: &Commit) -> Option<ScoreChange> {
    ScoreChange::of(
        &commit.order,
        commit.expected_version.is_none(),
        commit.cancellation.as_ref(),
    )
}

/// The fulfilment that left no unit open, if this commit is it.
fn completed_by(commit: &Commit) -> Option<&str> {
    commit
        .fulfillment
        .as_ref()
        .filter(|_| commit.order.is_complete())
        .map(|f| f.id.as_str())
}
