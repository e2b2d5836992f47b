//! What clients see: the JSON shapes, kept in the service so that the
//! API and the event webhooks render orders and cancellations alike.

pub use service::views::*;
