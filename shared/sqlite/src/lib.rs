//! The embedded store: one SQLite file (WAL) under the data directory. Each
//! commit is one `BEGIN IMMEDIATE` transaction that checks the order's
//! version and the uniqueness of every record, and writes an outbox row for
//! each cancellation (the local mirror of the DynamoDB stream). Decisions on
//! an order read it inside that transaction, so they never race.

mod codec;
mod edi;
mod embedded;
mod events;
mod idempotency;
mod ledger;
mod outbox;
mod schema;
mod scorecard;
mod secrets;
mod store;
#[cfg(test)]
mod tests;

pub use embedded::EmbeddedStore;
pub use outbox::{OutboxAttempt, OutboxEntry};
