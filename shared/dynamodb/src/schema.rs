//! The table's shape, written down once: `ensure_table` creates exactly this,
//! and `template.yaml` must declare the same.

/// Partition key (string) of the table.
pub const PK: &str = "pk";
/// Sort key (string) of the table.
pub const SK: &str = "sk";
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";
/// The stream carries the new image of every written item.
pub const STREAM_VIEW_TYPE: &str = "NEW_IMAGE";
/// TTL attribute: epoch seconds, on idempotency and delivery items only.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Every item says what it is; the notifier's stream `FilterCriteria`
/// selects `{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["cancellation"]}}}}`.
pub const TYPE_ATTRIBUTE: &str = "type";
pub const CANCELLATION_TYPE: &str = "cancellation";
/// Boolean on order items: no open units left. Projected into both GSIs
/// so that the open/complete filter is applied on the index.
pub(crate) const COMPLETE_ATTRIBUTE: &str = "complete";

/// A global secondary index: string hash and range keys, `INCLUDE`
/// projection of `non_key_attributes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gsi {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    pub projection: &'static str,
    pub non_key_attributes: &'static [&'static str],
}

/// Orders by buyer: `gsi1pk = COMPANY#<buyer_id>`, `gsi1sk = <created_at>#<order id>`.
pub(crate) const GSI_BUYER: Gsi = Gsi {
    name: "gsi1",
    pk: "gsi1pk",
    sk: "gsi1sk",
    projection: "INCLUDE",
    non_key_attributes: &[COMPLETE_ATTRIBUTE],
};
/// Orders by seller: `gsi2pk = COMPANY#<seller_id>`, `gsi2sk = <created_at>#<order id>`.
pub(crate) const GSI_SELLER: Gsi = Gsi {
    name: "gsi2",
    pk: "gsi2pk",
    sk: "gsi2sk",
    projection: "INCLUDE",
    non_key_attributes: &[COMPLETE_ATTRIBUTE],
};
pub const GSIS: [Gsi; 2] = [GSI_BUYER, GSI_SELLER];
