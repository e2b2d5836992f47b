//! `dropship`: the local stand-in for the AWS deployment. It hosts the same
//! handler functions as the Lambdas over an embedded store.

pub mod connect;
pub mod ops;
pub mod server;

/// The demo seed loaded into an empty data directory.
pub const DEMO_SEED: &str = include_str!("../../../events/demo-seed.json");
