//! Item type names (`type` attribute).

pub(super) const COMPANY: &str = "company";
pub(super) const API_KEY: &str = "api_key";
pub(super) const ORDER: &str = super::schema::ORDER_TYPE;
pub(super) const LISTING: &str = "listing";
pub(super) const FULFILLMENT: &str = "fulfillment";
pub(super) const IDEMPOTENCY: &str = "idempotency";
pub(super) const DELIVERY: &str = "delivery";
pub(super) const ORDER_REF: &str = "order_ref";
pub(super) const SHOP: &str = "shop";
pub(super) const EVENT: &str = "event";
pub(super) const EVENT_KEY: &str = "event_key";
pub(super) const EDI_CONTROL: &str = "edi_control";
pub(super) const EDI_SENT: &str = "edi_sent";
pub(super) const EDI_AWAITING: &str = "edi_awaiting";
pub(super) const EDI_SENT_FOR: &str = "edi_sent_for";
pub(super) const EDI_REPLIES: &str = "edi_replies";
