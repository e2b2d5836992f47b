//! What the tests of every crate share: fixtures, and the contract suites
//! each store and ledger implementation runs (`store_contract_tests!`,
//! `ledger_contract_tests!`, `events_contract_tests!`). A dev-dependency only.

pub mod events_contract;
pub mod fixtures;
pub mod ledger_contract;
pub mod sent_documents_contract;
pub mod store_contract;
pub mod stores;
pub mod webhook_ports;
