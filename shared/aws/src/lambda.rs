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

/// Where webhook deliveries wait (`WEBHOOK_QUEUE_URL`), the secret holding
/// the signing key endpoint secrets derive from (`WEBHOOK_SIGNING_KEY`), and
/// whether endpoints may be `http` or loopback (`ALLOW_INSECURE_WEBHOOK_URLS`,
/// `true` only in test stacks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub queue_url: String,
    pub signing_key: String,
    pub allow_insecure: bool,
}

pub fn webhook_settings() -> Result<WebhookSettings, InitError> {
    let var = |name: &'static str| {
        std::env::var(name)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or(InitError::Missing(name))
    };
    Ok(WebhookSettings {
        queue_url: var("WEBHOOK_QUEUE_URL")?,
        signing_key: var("WEBHOOK_SIGNING_KEY")?,
        allow_insecure: std::env::var("ALLOW_INSECURE_WEBHOOK_URLS")
            .is_ok_and(|v| matches!(v.trim(), "true" | "1")),
    })
}
