//! Notification adapters: the local outbox (email files and store-sync
//! request records), the in-process worker, and the store-sync clients.
//! The notifier itself is `service::notify`.

pub use service::email;
pub use service::notify::*;

pub mod local;
pub mod outbox;
#[cfg(test)]
mod proptests;
pub mod sync;
