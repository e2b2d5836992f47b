//! The settings every host reads from its environment, once, at init: what
//! the Lambdas need, the SDK's shortcuts, and the log set-up. The only place
//! that reads the environment; adapters take what they need as arguments.

use thiserror::Error;

/// Why a function cannot start.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InitError {
    #[error("{0} is not set: the function needs it")]
    Missing(&'static str),
}

/// Everything read from the environment. Required values are kept as
/// `Option` and asked for by the host that needs them, so each function
/// fails only on what it uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `TABLE_NAME`.
    pub table_name: Option<String>,
    /// `SENDER_EMAIL`.
    pub sender_email: Option<String>,
    /// `SECRETS_PREFIX` (in the stack `dropship/<stack name>/companies/`).
    pub secrets_prefix: Option<String>,
    /// `WEBHOOK_QUEUE_URL`.
    pub webhook_queue_url: Option<String>,
    /// `WEBHOOK_SIGNING_KEY`.
    pub webhook_signing_key: Option<String>,
    /// `ALLOW_INSECURE_WEBHOOK_URLS` is `true` or `1` (test stacks only).
    pub allow_insecure_webhook_urls: bool,
    /// `EDI_BUCKET`.
    pub edi_bucket: Option<String>,
    /// `DROPSHIP_ISA_ID` (default `DROPSHIP`).
    pub isa_id: String,
    /// `AWS_ENDPOINT_URL`, when set and not empty (a local stand-in).
    pub endpoint_url: Option<String>,
    /// The SDK's environment shortcuts (see `sdk_config`).
    pub credentials_in_env: bool,
    pub region_in_env: bool,
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set: trust the native store too.
    pub native_roots: bool,
    pub log: LogSettings,
}

/// Lambda's advanced logging controls, and `RUST_LOG`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// `AWS_LAMBDA_LOG_FORMAT` is `JSON` (any case).
    pub json: bool,
    /// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, as the default level.
    pub level: Option<String>,
    /// `RUST_LOG` as filter directives.
    pub directives: Option<String>,
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

impl Settings {
    /// Read the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read from `lookup` (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let required = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let set = |name: &str| lookup(name).is_some_and(|v| !v.is_empty());
        let log_level = lookup("AWS_LAMBDA_LOG_LEVEL").or_else(|| lookup("RUST_LOG"));
        Settings {
            table_name: required("TABLE_NAME"),
            sender_email: required("SENDER_EMAIL"),
            secrets_prefix: required("SECRETS_PREFIX"),
            webhook_queue_url: required("WEBHOOK_QUEUE_URL"),
            webhook_signing_key: required("WEBHOOK_SIGNING_KEY"),
            allow_insecure_webhook_urls: lookup("ALLOW_INSECURE_WEBHOOK_URLS")
                .is_some_and(|v| matches!(v.trim(), "true" | "1")),
            edi_bucket: required("EDI_BUCKET"),
            isa_id: lookup("DROPSHIP_ISA_ID").unwrap_or_else(|| "DROPSHIP".to_owned()),
            endpoint_url: lookup("AWS_ENDPOINT_URL").filter(|e| !e.is_empty()),
            credentials_in_env: credentials_in_env(set),
            region_in_env: region_in_env(set),
            native_roots: lookup("SSL_CERT_FILE").is_some() || lookup("SSL_CERT_DIR").is_some(),
            log: LogSettings {
                json: lookup("AWS_LAMBDA_LOG_FORMAT")
                    .is_some_and(|f| f.eq_ignore_ascii_case("json")),
                level: log_level,
                directives: lookup("RUST_LOG"),
            },
        }
    }

    /// The table name (`TABLE_NAME`), or a clear error naming what is missing.
    pub fn table_name(&self) -> Result<String, InitError> {
        need(&self.table_name, "TABLE_NAME")
    }

    /// The name prefix of the companies' secrets (`SECRETS_PREFIX`).
    pub fn secrets_prefix(&self) -> Result<String, InitError> {
        need(&self.secrets_prefix, "SECRETS_PREFIX")
    }

    /// `SENDER_EMAIL`.
    pub fn sender_email(&self) -> Result<String, InitError> {
        need(&self.sender_email, "SENDER_EMAIL")
    }

    /// `EDI_BUCKET`.
    pub fn edi_bucket(&self) -> Result<String, InitError> {
        need(&self.edi_bucket, "EDI_BUCKET")
    }

    pub fn webhook_settings(&self) -> Result<WebhookSettings, InitError> {
        Ok(WebhookSettings {
            queue_url: need(&self.webhook_queue_url, "WEBHOOK_QUEUE_URL")?,
            signing_key: need(&self.webhook_signing_key, "WEBHOOK_SIGNING_KEY")?,
            allow_insecure: self.allow_insecure_webhook_urls,
        })
    }

    /// The log subscriber Lambda's runtime would set up (JSON lines when the
    /// function's log format is JSON), from these settings. `RUST_LOG` takes
    /// `target=level` directives and a bare default level (a `Targets`
    /// filter: no span or field matching, so no regex engine in the
    /// functions); directives it cannot read are ignored whole.
    pub fn init_logging(&self) {
        use tracing_subscriber::prelude::*;
        let filter = self.log_filter();
        let layer = tracing_subscriber::fmt::layer()
            .with_target(false)
            .without_time();
        if self.log.json {
            tracing_subscriber::registry()
                .with(layer.json().with_filter(filter))
                .init()
        } else {
            tracing_subscriber::registry()
                .with(layer.with_filter(filter))
                .init()
        }
    }
}

impl Settings {
    /// What is logged: `RUST_LOG`'s directives over the level setting.
    fn log_filter(&self) -> tracing_subscriber::filter::Targets {
        use std::str::FromStr;
        use tracing_subscriber::filter::{LevelFilter, Targets};
        let level = LevelFilter::from_str(self.log.level.as_deref().unwrap_or("INFO"))
            .unwrap_or(LevelFilter::INFO);
        match self.log.directives.as_deref().map(Targets::from_str) {
            Some(Ok(t)) if t.default_level().is_some() => t,
            Some(Ok(t)) => t.with_default(level),
            Some(Err(_)) | None => Targets::new().with_default(level),
        }
    }
}

fn need(value: &Option<String>, name: &'static str) -> Result<String, InitError> {
    value.clone().ok_or(InitError::Missing(name))
}

/// What the environment credentials provider needs to answer.
fn credentials_in_env(set: impl Fn(&str) -> bool) -> bool {
    set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY")
}

/// What the environment region provider reads.
fn region_in_env(set: impl Fn(&str) -> bool) -> bool {
    set("AWS_REGION") || set("AWS_DEFAULT_REGION")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_directives_over_the_level_setting() {
        use tracing_subscriber::filter::LevelFilter;
        let filter = |pairs: &[(&str, &str)]| from(pairs).log_filter();
        assert_eq!(filter(&[]).default_level(), Some(LevelFilter::INFO));
        let f = filter(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        assert_eq!(f.default_level(), Some(LevelFilter::WARN));
        // Targets named, the rest at the level setting.
        let f = filter(&[("RUST_LOG", "aws_smithy_runtime=debug")]);
        assert_eq!(f.default_level(), Some(LevelFilter::INFO));
        assert!(f.would_enable("aws_smithy_runtime", &tracing::Level::DEBUG));
        assert!(!f.would_enable("hyper", &tracing::Level::DEBUG));
        // A bare level in the directives is the default.
        let f = filter(&[("RUST_LOG", "debug,hyper=off")]);
        assert_eq!(f.default_level(), Some(LevelFilter::DEBUG));
        assert!(!f.would_enable("hyper", &tracing::Level::ERROR));
        // Unreadable directives are ignored whole.
        let f = filter(&[("RUST_LOG", "x[{=?")]);
        assert_eq!(f.default_level(), Some(LevelFilter::INFO));
    }

    fn from(pairs: &[(&str, &str)]) -> Settings {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(move |n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }

    #[test]
    fn missing_or_blank_values_name_the_variable() {
        let s = from(&[("TABLE_NAME", "  "), ("WEBHOOK_QUEUE_URL", "q")]);
        assert_eq!(s.table_name(), Err(InitError::Missing("TABLE_NAME")));
        assert_eq!(
            s.table_name().unwrap_err().to_string(),
            "TABLE_NAME is not set: the function needs it"
        );
        assert_eq!(
            s.webhook_settings(),
            Err(InitError::Missing("WEBHOOK_SIGNING_KEY"))
        );
        assert_eq!(s.isa_id, "DROPSHIP");
        assert!(!s.allow_insecure_webhook_urls);
        assert_eq!(s.endpoint_url, None);
    }

    #[test]
    fn values_are_read_as_the_functions_read_them() {
        let s = from(&[
            ("TABLE_NAME", "t"),
            ("WEBHOOK_QUEUE_URL", "q"),
            ("WEBHOOK_SIGNING_KEY", "k"),
            ("ALLOW_INSECURE_WEBHOOK_URLS", " 1 "),
            ("DROPSHIP_ISA_ID", "ME"),
            ("AWS_ENDPOINT_URL", ""),
            ("AWS_LAMBDA_LOG_FORMAT", "Json"),
            ("RUST_LOG", "debug"),
        ]);
        assert_eq!(s.table_name().unwrap(), "t");
        assert_eq!(
            s.webhook_settings().unwrap(),
            WebhookSettings {
                queue_url: "q".into(),
                signing_key: "k".into(),
                allow_insecure: true
            }
        );
        assert_eq!(s.isa_id, "ME");
        assert_eq!(s.endpoint_url, None);
        assert!(s.log.json);
        assert_eq!(s.log.level.as_deref(), Some("debug"));
    }

    #[test]
    fn the_environment_shortcuts_apply_only_when_the_environment_can_answer() {
        let env = |names: &'static [&'static str]| move |n: &str| names.contains(&n);
        // Lambda sets all of these.
        let lambda = env(&[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ]);
        assert!(credentials_in_env(lambda));
        assert!(region_in_env(lambda));
        // A key id without its secret, or nothing: the SDK's default chains.
        assert!(!credentials_in_env(env(&["AWS_ACCESS_KEY_ID"])));
        assert!(!credentials_in_env(env(&["AWS_SECRET_ACCESS_KEY"])));
        assert!(!credentials_in_env(env(&[])));
        assert!(!region_in_env(env(&[])));
        assert!(region_in_env(env(&["AWS_DEFAULT_REGION"])));
    }
}
