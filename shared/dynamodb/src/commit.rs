//! A commit as one `TransactWriteItems`: the order's put, its look-up items,
//! the records, each member with the `Slot` that reads its refusal back.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::Utc;

use super::DynamoStore;
use super::errors::{Slot, backend, describe_reasons, refusal, sdk};
use super::items::{
    cancellation_item, delivery_item, fulfillment_item, idempotency_item, key, n, order_item,
    put_expiring, put_new, s,
};
use super::keys;
use super::kinds;
use super::schema;
use domain::{Order, Role};
use service::store::{Commit, OrderRefs, StoreError};

impl DynamoStore {
    /// The `TransactWriteItems` members of a commit and what each one is.
    pub(super) fn commit_items(
        &self,
        commit: &Commit,
        now: i64,
    ) -> Result<(Vec<TransactWriteItem>, Vec<Slot>), StoreError> {
        let mut items = Vec::with_capacity(5);
        let mut slots = Vec::with_capacity(5);
        let order = &commit.order;
        let (order_put, slot) = self.order_put(commit)?;
        items.push(TransactWriteItem::builder().put(order_put).build());
        slots.push(slot);
        // Look-up items by platform reference: written with a new order,
        // and swapped (old deleted, new put) by a change that replaces them.
        let previous = match (slot, &commit.replaced_refs) {
            (Slot::OrderCreate, _) => Some(OrderRefs::default()),
            (_, Some(old)) => Some(old.clone()),
            (_, None) => None,
        };
        if let Some(previous) = previous {
            self.push_ref_items(order, &previous, &mut items, &mut slots)?;
        }
        if let Some(c) = &commit.cancellation {
            let put = put_new(&self.table, cancellation_item(order.version, c)?)?;
            items.push(TransactWriteItem::builder().put(put).build());
            slots.push(Slot::Cancellation);
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
        Ok((items, slots))
    }

    /// The order's put: a create refused when the order exists, or an
    /// update refused unless the order is at the version the change read.
    fn order_put(&self, commit: &Commit) -> Result<(Put, Slot), StoreError> {
        let order = &commit.order;
        let order_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(order_item(order)?));
        let (order_put, slot) = match commit.expected_version {
            None => (
                order_put
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", schema::PK),
                Slot::OrderCreate,
            ),
            Some(expected) => (
                order_put
                    .condition_expression("#version = :expected")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":expected", n(expected))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    ),
                Slot::OrderUpdate,
            ),
        };
        Ok((order_put.build().map_err(StoreError::backend)?, slot))
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
        let refs = [
            (
                Role::Buyer,
                &order.buyer_id,
                &previous.buyer,
                &order.buyer_order_ref,
            ),
            (
                Role::Seller,
                &order.seller_id,
                &previous.seller,
                &order.seller_order_ref,
            ),
        ];
        for (party, company, old, new) in refs {
            if old == new {
                continue;
            }
            if let Some(r) = old {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        keys::order_ref(party, company, r),
                        &keys::order(&order.id),
                    )))
                    .build()
                    .map_err(StoreError::backend)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
                slots.push(Slot::OrderRefDelete);
            }
            if let Some(r) = new {
                let item = HashMap::from([
                    (schema::PK.to_owned(), s(keys::order_ref(party, company, r))),
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

    /// One `TransactWriteItems` with this `ClientRequestToken`. The token is
    /// new for every `commit` call and stays the same across the SDK's own
    /// retries of that call: a retry of an attempt that did commit (lost
    /// response, timeout) then replays its success instead of failing the
    /// version check and making the caller decide the same change twice.
    /// A token derived from the commit's content would not be safe: a
    /// deliberate second identical commit within 10 minutes would "succeed"
    /// as a replay instead of being refused (`OrderExists`, ...).
    pub(super) async fn commit_with_token(
        &self,
        commit: &Commit,
        token: &str,
    ) -> Result<(), StoreError> {
        let now = Utc::now().timestamp();
        let (items, slots) = self.commit_items(commit, now)?;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
                    e.as_service_error()
                {
                    let reasons = tce.cancellation_reasons();
                    if let Some(refusal) = refusal(reasons, &slots) {
                        return Err(refusal);
                    }
                    return Err(backend(format!(
                        "DynamoDB TransactWriteItems cancelled: {}",
                        describe_reasons(reasons, &slots)
                    )));
                }
                Err(sdk("TransactWriteItems", e))
            }
        }
    }
}
