//! The order-cancellation service: the pure domain, the application service,
//! the HTTP handlers and the adapters they run on.

pub mod api;
pub use domain;
pub use service::app;
pub mod http;
pub mod lambda;
pub mod notify;
pub use platforms;
pub mod seed;
pub mod store;
pub mod views;
pub mod webhooks;
