//! Marshalling: records to items and back, and the conditional puts that
//! write them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::errors::backend;
use super::keys;
use super::kinds;
use super::schema;
use domain::{Cancellation, Fulfillment, Order};
use service::store::{DeliveryRecord, IdempotencyRecord, OrderRecord, StoreError};

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

/// A new order's item: its fields, keys and type, and no cancellations yet.
pub(super) fn order_item(order: &Order) -> Result<Item, StoreError> {
    item_of(
        order,
        [
            (schema::PK, s(keys::order(&order.id))),
            (schema::SK, s(keys::ORDER_SK)),
            (schema::TYPE_ATTRIBUTE, s(kinds::ORDER)),
            (
                schema::CANCELLATIONS_ATTRIBUTE,
                AttributeValue::L(Vec::new()),
            ),
        ],
    )
}

/// An order as stored: the order and its cancellations, from its item.
pub(super) fn record_of(mut item: Item) -> Result<OrderRecord, StoreError> {
    let cancellations = match item.remove(schema::CANCELLATIONS_ATTRIBUTE) {
        Some(v) => serde_dynamo::from_attribute_value(v).map_err(StoreError::backend)?,
        None => Vec::new(),
    };
    Ok(OrderRecord {
        order: from_item(item)?,
        cancellations,
    })
}

/// An UpdateItem (or transaction Update) of an order item, as its parts.
#[derive(Debug, Default)]
pub(super) struct Update {
    pub(super) expression: String,
    pub(super) condition: Option<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: Item,
}

/// A change to an existing order: every field of the order set, and the
/// change's cancellation, if any, appended to the item's list and named in
/// `new_cancellation` (removed otherwise), so that exactly the writes that
/// created a cancellation reach the notifier; likewise the fulfilment
/// that completed the order is named in `completed_by`. `token` marks the write as
/// this commit's (see `commit`). Refused unless the item is at `expected`.
pub(super) fn order_update(
    order: &Order,
    cancellation: Option<&Cancellation>,
    completed_by: Option<&str>,
    expected: u64,
    token: &str,
) -> Result<Update, StoreError> {
    let fields: Item = serde_dynamo::to_item(order).map_err(StoreError::backend)?;
    // In name order, so the same change always sends the same request.
    let fields: std::collections::BTreeMap<String, AttributeValue> = fields.into_iter().collect();
    let mut u = Update::default();
    let mut set = Vec::with_capacity(fields.len() + 3);
    for (i, (name, value)) in fields.into_iter().enumerate() {
        if reserved(&name) {
            return Err(backend(format!(
                "attribute {name} is both a field and a store attribute"
            )));
        }
        set.push(format!("#f{i} = :f{i}"));
        u.names.insert(format!("#f{i}"), name);
        u.values.insert(format!(":f{i}"), value);
    }
    set.push("#token = :token".into());
    u.names.insert("#token".into(), COMMIT_TOKEN.into());
    u.values.insert(":token".into(), s(token));
    u.names
        .insert("#new".into(), schema::NEW_CANCELLATION_ATTRIBUTE.into());
    u.names
        .insert("#done".into(), schema::COMPLETED_BY_ATTRIBUTE.into());
    let mut removes = Vec::new();
    match completed_by {
        Some(f) => {
            set.push("#done = :done".into());
            u.values.insert(":done".into(), s(f));
        }
        None => removes.push("#done"),
    }
    match cancellation {
        Some(c) => {
            set.push("#cs = list_append(if_not_exists(#cs, :none), :c)".into());
            set.push("#new = :new".into());
            u.names
                .insert("#cs".into(), schema::CANCELLATIONS_ATTRIBUTE.into());
            u.values.insert(":new".into(), s(&c.id));
            let c = serde_dynamo::to_attribute_value(c).map_err(StoreError::backend)?;
            u.values.insert(":c".into(), AttributeValue::L(vec![c]));
            u.values
                .insert(":none".into(), AttributeValue::L(Vec::new()));
        }
        None => removes.push("#new"),
    }
    let remove = if removes.is_empty() {
        String::new()
    } else {
        format!(" REMOVE {}", removes.join(", "))
    };
    u.expression = format!("SET {}{remove}", set.join(", "));
    u.condition = Some("#version = :expected".into());
    u.names.insert("#version".into(), "version".into());
    u.values.insert(":expected".into(), n(expected));
    Ok(u)
}

/// Marks which commit last wrote an order item: a retried UpdateItem whose
/// first attempt did commit finds its own token and succeeds.
pub(super) const COMMIT_TOKEN: &str = "commit_token";

/// Names the store keeps on order items beside the order's fields.
fn reserved(name: &str) -> bool {
    [
        schema::PK,
        schema::SK,
        schema::TYPE_ATTRIBUTE,
        schema::CANCELLATIONS_ATTRIBUTE,
        schema::NEW_CANCELLATION_ATTRIBUTE,
        schema::COMPLETED_BY_ATTRIBUTE,
        COMMIT_TOKEN,
    ]
    .contains(&name)
}

/// The listing items of an order: one per party, in the party's partition.
pub(super) fn listing_items(order: &Order) -> Vec<Item> {
    let mut parties = vec![&order.buyer_id];
    if order.seller_id != order.buyer_id {
        parties.push(&order.seller_id);
    }
    parties
        .into_iter()
        .map(|company| {
            HashMap::from([
                (schema::PK.to_owned(), s(keys::company(company))),
                (
                    schema::SK.to_owned(),
                    s(keys::listing(&order.created_at, &order.id)),
                ),
                (schema::TYPE_ATTRIBUTE.to_owned(), s(kinds::LISTING)),
                ("order_id".to_owned(), s(&order.id)),
                (
                    schema::COMPLETE_ATTRIBUTE.to_owned(),
                    AttributeValue::Bool(order.is_complete()),
                ),
            ])
        })
        .collect()
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

/// A put that succeeds when no unexpired record has this key; refused, it
/// returns the record there.
pub(super) fn put_expiring(table: &str, item: Item, now: i64) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
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
