//! The store adapters: `embedded` (SQLite, local) and `dynamodb` (AWS).

pub use service::ledger;
pub use service::store::*;

pub mod dynamodb;
pub mod embedded;
