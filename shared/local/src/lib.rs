//! Local runs of `dropship serve`: the outbox (email files and store-sync
//! request records in a folder), the in-process worker that drains the
//! embedded store's outbox through the notifier, the store sync that calls
//! a fake or staging store when one is configured, and seed files.

pub mod edi;
pub mod events;
pub mod outbox;
#[cfg(test)]
mod proptests;
pub mod seed;
pub mod sync;
pub mod worker;
