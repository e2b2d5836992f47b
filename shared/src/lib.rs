//! The order-cancellation service: the pure domain and its adapters.

pub mod domain;
pub mod store;
