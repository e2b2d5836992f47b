//! The table's shape, written down once: `ensure_table` creates exactly this,
//! and `template.yaml` must declare the same. There is no secondary index:
//! a company's orders are listed from listing items in its own partition
//! (`keys::listing`), so a change to an order writes one item and no index.

/// Partition key (string) of the table.
pub const PK: &str = "pk";
/// Sort key (string) of the table.
pub const SK: &str = "sk";
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";
/// The stream carries the new image of every written item.
pub const STREAM_VIEW_TYPE: &str = "NEW_IMAGE";
/// TTL attribute: epoch seconds, on idempotency and delivery items only.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Every item says what it is.
pub const TYPE_ATTRIBUTE: &str = "type";
pub const ORDER_TYPE: &str = "order";
/// On an order item written by a change that created a cancellation: that
/// cancellation's id (absent otherwise). The notifier's stream
/// `FilterCriteria` selects exactly these writes: `STREAM_FILTER`.
pub const NEW_CANCELLATION_ATTRIBUTE: &str = "new_cancellation";
/// The order's cancellations, oldest first, on the order item itself: an
/// order with its history is one item, so a page of orders needs no read
/// per order.
pub const CANCELLATIONS_ATTRIBUTE: &str = "cancellations";
/// Boolean on listing items: the order has no open units left.
pub(crate) const COMPLETE_ATTRIBUTE: &str = "complete";
/// On an order item written by the fulfilment that left no unit open: that
/// fulfilment's id (absent otherwise), for the `order.completed` event.
pub const COMPLETED_BY_ATTRIBUTE: &str = "completed_by";
/// The notifier's event filter (the template declares the same).
pub const STREAM_FILTER: &str = r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"type": {"S": ["order"]}, "new_cancellation": {"S": [{"exists": true}]}}}}"#;
/// The second filter: writes of an order a fulfilment completed.
pub const COMPLETION_FILTER: &str = r#"{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"type": {"S": ["order"]}, "completed_by": {"S": [{"exists": true}]}}}}"#;
