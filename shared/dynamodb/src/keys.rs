//! Item keys. Every user-supplied part that is not the last part of a key
//! is length-prefixed, so that no two (company, key) pairs share a key.

use chrono::{DateTime, Utc};

pub(super) const COMPANY_SK: &str = "COMPANY";
pub(super) const API_KEY_SK: &str = "APIKEY";
pub(super) const ORDER_SK: &str = "ORDER";
/// Prefix of the order item and its cancellations: one Query
/// (`begins_with(sk, "ORDER")`) reads an order with its history.
pub(super) const ORDER_PREFIX: &str = "ORDER";
pub(super) const IDEM_SK: &str = "IDEM";
pub(super) const DELIVERY_SK: &str = "DELIVERY";

pub(super) fn company(id: &str) -> String {
    format!("COMPANY#{id}")
}
pub(super) fn api_key(hash: &str) -> String {
    format!("APIKEY#{hash}")
}
pub(super) fn order(id: &str) -> String {
    format!("ORDER#{id}")
}
/// Cancellations sort by the order version they created, i.e. in commit
/// order (the embedded store's `seq`), whatever the clocks said.
pub(super) fn cancellation(version: u64, id: &str) -> String {
    format!("ORDER#CANCEL#{version:020}#{id}")
}
pub(super) fn fulfillment(version: u64, id: &str) -> String {
    format!("FULFIL#{version:020}#{id}")
}
pub(super) fn idempotency(company_id: &str, key: &str) -> String {
    format!("IDEM#{}#{company_id}#{key}", company_id.len())
}
pub(super) fn delivery(key: &str) -> String {
    format!("DELIVERY#{key}")
}
/// Look-up items of an order by the company's platform order id: one
/// item per (party, company, ref) and order, sk = the order's pk.
pub(super) fn order_ref(party: domain::Role, company_id: &str, order_ref: &str) -> String {
    let p = match party {
        domain::Role::Buyer => 'B',
        domain::Role::Seller => 'S',
    };
    format!("REF#{p}#{}#{company_id}#{order_ref}", company_id.len())
}
pub(super) const SHOP_SK: &str = "SHOP";
pub(super) fn shop(domain: &str) -> String {
    format!("SHOP#{domain}")
}

/// Timestamps in keys are fixed-width, so that text order is time order.
use service::store::timestamp as ts;

/// The sort key of an order's entry in both listing GSIs.
pub(super) fn listing_sk(created_at: &DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", ts(created_at))
}
