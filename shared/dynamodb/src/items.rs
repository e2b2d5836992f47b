//! Marshalling: records to items and back, and the conditional puts that
//! write them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::errors::backend;
use super::keys::{self, listing_sk};
use super::kinds;
use super::schema::{self, GSI_BUYER, GSI_SELLER};
use domain::{Cancellation, Fulfillment, Order};
use service::store::{DeliveryRecord, IdempotencyRecord, StoreError};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// `value`'s fields as attributes, plus `extra` (keys and index attributes).
/// Refuses a field whose name collides with one of ours.
pub(super) fn item_of<T: Serialize>(
    value: &T,
    extra: impl IntoIterator<Item = (&'static str, AttributeValue)>,
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(StoreError::backend)?;
    for (name, v) in extra {
        if item.insert(name.to_owned(), v).is_some() {
            return Err(backend(format!(
                "attribute {name} is both a field and a store attribute"
            )));
        }
    }
    Ok(item)
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(StoreError::backend)
}

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (schema::PK.to_owned(), s(pk)),
        (schema::SK.to_owned(), s(sk)),
    ])
}

pub(super) fn order_item(order: &Order) -> Result<Item, StoreError> {
    let created = listing_sk(&order.created_at, &order.id);
    item_of(
        order,
        [
            (schema::PK, s(keys::order(&order.id))),
            (schema::SK, s(keys::ORDER_SK)),
            (schema::TYPE_ATTRIBUTE, s(kinds::ORDER)),
            (
                schema::COMPLETE_ATTRIBUTE,
                AttributeValue::Bool(order.is_complete()),
            ),
            (GSI_BUYER.pk, s(keys::company(&order.buyer_id))),
            (GSI_BUYER.sk, s(created.clone())),
            (GSI_SELLER.pk, s(keys::company(&order.seller_id))),
            (GSI_SELLER.sk, s(created)),
        ],
    )
}

pub(super) fn cancellation_item(version: u64, c: &Cancellation) -> Result<Item, StoreError> {
    item_of(
        c,
        [
            (schema::PK, s(keys::order(&c.order_id))),
            (schema::SK, s(keys::cancellation(version, &c.id))),
            (schema::TYPE_ATTRIBUTE, s(kinds::CANCELLATION)),
        ],
    )
}

pub(super) fn fulfillment_item(version: u64, f: &Fulfillment) -> Result<Item, StoreError> {
    item_of(
        f,
        [
            (schema::PK, s(keys::order(&f.order_id))),
            (schema::SK, s(keys::fulfillment(version, &f.id))),
            (schema::TYPE_ATTRIBUTE, s(kinds::FULFILLMENT)),
        ],
    )
}

/// The record itself is kept whole under `record` (its `expires_at` is a
/// timestamp with sub-second precision); the top-level `expires_at` is the
/// TTL number, epoch seconds.
fn expiring_item<T: Serialize>(
    pk: String,
    sk: &'static str,
    kind: &'static str,
    record: &T,
    expires_at: &DateTime<Utc>,
) -> Result<Item, StoreError> {
    let record: AttributeValue =
        serde_dynamo::to_attribute_value(record).map_err(StoreError::backend)?;
    Ok(HashMap::from([
        (schema::PK.to_owned(), s(pk)),
        (schema::SK.to_owned(), s(sk)),
        (schema::TYPE_ATTRIBUTE.to_owned(), s(kind)),
        (schema::TTL_ATTRIBUTE.to_owned(), n(expires_at.timestamp())),
        ("record".to_owned(), record),
    ]))
}

pub(super) fn idempotency_item(r: &IdempotencyRecord) -> Result<Item, StoreError> {
    expiring_item(
        keys::idempotency(&r.company_id, &r.key),
        keys::IDEM_SK,
        kinds::IDEMPOTENCY,
        r,
        &r.expires_at,
    )
}

pub(super) fn delivery_item(d: &DeliveryRecord) -> Result<Item, StoreError> {
    expiring_item(
        keys::delivery(&d.key),
        keys::DELIVERY_SK,
        kinds::DELIVERY,
        d,
        &d.expires_at,
    )
}

/// An expiring record that is still there: TTL deletes lazily (up to days
/// late), so a record whose `expires_at` has passed counts as absent.
pub(super) fn unexpired(item: &Item, now: i64) -> bool {
    match item.get(schema::TTL_ATTRIBUTE) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().is_ok_and(|e| e > now),
        _ => false,
    }
}

/// A put that succeeds when no unexpired record has this key.
pub(super) fn put_expiring(table: &str, item: Item, now: i64) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
        .expression_attribute_names("#pk", schema::PK)
        .expression_attribute_names("#exp", schema::TTL_ATTRIBUTE)
        .expression_attribute_values(":now", n(now))
        .build()
        .map_err(StoreError::backend)
}

pub(super) fn put_new(table: &str, item: Item) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", schema::PK)
        .build()
        .map_err(StoreError::backend)
}
