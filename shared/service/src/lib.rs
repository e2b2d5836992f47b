//! The application service: the use cases and the ports they run on (store
//! and ledger, mailer, store sync, platform reader). It orchestrates the
//! pure domain; adapters implement the ports, the HTTP layer calls the use
//! cases.

pub mod admin;
pub mod app;
mod cache;
mod changes;
mod config;
pub mod edi;
pub mod email;
mod error;
pub mod events;
pub mod intake;
pub mod ledger;
pub mod metrics;
pub mod notify;
mod orders;
pub mod platform;
pub mod ports;
mod reconcile;
mod records;
mod retry;
pub mod scorecard;
pub mod secrets;
pub mod store;
pub mod sync;
pub mod views;

pub use app::{Core, OrdersService, Target, now};
pub use cache::CacheLimits;
pub use config::{Config, RaceRetry};
pub use edi::EdiService;
pub use intake::IntakeService;
pub use reconcile::{ReconcileOutcome, ReconcileResult};
