//! What every Lambda function reads at init besides the SDK configuration.

use thiserror::Error;

/// Why a function cannot start.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InitError {
    #[error("{0} is not set: the function needs it")]
    Missing(&'static str),
}

/// The table name (`TABLE_NAME`), or a clear error naming what is missing.
pub fn table_name() -> Result<String, InitError> {
    std::env::var("TABLE_NAME")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or(InitError::Missing("TABLE_NAME"))
}

/// The name prefix of the companies' secrets (`SECRETS_PREFIX`, in the
/// stack `dropship/<stack name>/companies/`).
pub fn secrets_prefix() -> Result<String, InitError> {
    std::env::var("SECRETS_PREFIX")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or(InitError::Missing("SECRETS_PREFIX"))
}
