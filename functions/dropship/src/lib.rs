//! `dropship`: the local stand-in for the AWS deployment. It hosts the same
//! handler functions as the Lambdas over an embedded store.

pub mod connect;
pub mod ops;
pub mod server;

/// The secrets' name prefix on a local endpoint when none is given (a
/// stack's is its `SecretsPrefix` output).
pub const LOCAL_SECRETS_PREFIX: &str = "dropship/local/companies/";

/// The demo seed loaded into an empty data directory.
pub const DEMO_SEED: &str = include_str!("../../../events/demo-seed.json");

/// The AWS settings of the environment (endpoint, credentials, TLS), read
/// once; the CLI's flags carry the rest.
pub fn settings() -> &'static aws::Settings {
    static SETTINGS: std::sync::OnceLock<aws::Settings> = std::sync::OnceLock::new();
    SETTINGS.get_or_init(aws::Settings::from_env)
}
