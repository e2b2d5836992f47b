//! Item keys. Every user-supplied part that is not the last part of a key
//! is length-prefixed, so that no two (company, key) pairs share a key.

use chrono::{DateTime, Utc};

pub(super) const COMPANY_SK: &str = "COMPANY";
pub(super) const API_KEY_SK: &str = "APIKEY";
/// The order item's sort key. Its notification ledger items sort just
/// before it (`NOTIFY#...`), its fulfillments before those (`FULFIL#...`):
/// one Query `sk BETWEEN "NOTIFY#" AND "ORDER"` reads the order with its
/// notifications.
pub(super) const ORDER_SK: &str = "ORDER";
pub(super) const NOTIFY_PREFIX: &str = "NOTIFY#";
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
pub(super) fn fulfillment(version: u64, id: &str) -> String {
    format!("FULFIL#{version:020}#{id}")
}
pub(super) fn idempotency(company_id: &str, key: &str) -> String {
    format!("IDEM#{}#{company_id}#{key}", company_id.len())
}
pub(super) fn delivery(key: &str) -> String {
    format!("DELIVERY#{key}")
}
/// What a look-up item by reference finds an order by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefKind {
    /// `B`: the buyer's order ref, under the buyer.
    Buyer,
    /// `S`: the seller's order ref, under the seller.
    Seller,
    /// `P`: the buyer's order ref (its PO number), under the seller: how
    /// a seller's EDI documents name the order.
    SellerPo,
}

impl From<domain::Role> for RefKind {
    /// A party's own order ref.
    fn from(party: domain::Role) -> Self {
        match party {
            domain::Role::Buyer => RefKind::Buyer,
            domain::Role::Seller => RefKind::Seller,
        }
    }
}

/// Look-up items of an order by a reference: one item per (kind,
/// company, ref) and order, sk = the order's pk.
pub(super) fn order_ref(kind: RefKind, company_id: &str, order_ref: &str) -> String {
    let p = match kind {
        RefKind::Buyer => 'B',
        RefKind::Seller => 'S',
        RefKind::SellerPo => 'P',
    };
    format!("REF#{p}#{}#{company_id}#{order_ref}", company_id.len())
}
pub(super) const SHOP_SK: &str = "SHOP";
pub(super) fn shop(domain: &str) -> String {
    format!("SHOP#{domain}")
}

/// Timestamps in keys are fixed-width, so that text order is time order.
use service::store::timestamp as ts;

/// A company's listing items live in its own partition (`company(id)`),
/// one per order it is party to, newest last in key order.
pub(super) const LISTING_PREFIX: &str = "LISTING#";
pub(super) fn listing(created_at: &DateTime<Utc>, id: &str) -> String {
    format!("{LISTING_PREFIX}{}#{id}", ts(created_at))
}

/// A company's events live in its partition. An event's id item holds its
/// place in the log.
pub(super) fn event(id: &str) -> String {
    format!("EVENT#{id}")
}
/// The company's log: a counter (the last place taken) and one record per
/// place, in the order events were recorded.
pub(super) const EVENT_SEQ_SK: &str = "EVSEQ";
pub(super) fn event_place(seq: u64) -> String {
    format!("EVSEQ#{seq:020}")
}
/// The item that makes an event's recording happen once per subject.
pub(super) fn event_key(dedupe: &str) -> String {
    format!("EVENTKEY#{dedupe}")
}
/// A partner's EDI interchange control number counter.
pub(super) const EDI_CONTROL_SK: &str = "EDICTL";
/// The partition of documents awaiting their partner's acknowledgment.
pub(super) const EDI_AWAITING_PK: &str = "EDIAWAIT";
/// A document sent to a partner, under the partner's item.
pub(super) fn edi_sent(control_number: u32) -> String {
    format!("EDISENT#{control_number:09}")
}
/// The control number last sent to a partner for a cancellation.
pub(super) fn edi_sent_for(cancellation_id: &str) -> String {
    format!("EDISENTC#{cancellation_id}")
}
/// The control numbers of our replies to an inbound file.
pub(super) fn edi_replies(source: &str) -> String {
    format!("EDIREPLY#{source}")
}
/// A document awaiting acknowledgment: by time sent, then partner.
pub(super) fn edi_awaiting(
    sent_at: &DateTime<Utc>,
    company_id: &str,
    control_number: u32,
) -> String {
    format!(
        "{}#{}#{company_id}#{control_number:09}",
        service::store::timestamp(sent_at),
        company_id.len()
    )
}
