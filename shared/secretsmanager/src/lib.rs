//! The secret store port over AWS Secrets Manager: one secret per company,
//! named `<prefix><company id>` (the stack's prefix is
//! `dropship/<stack name>/companies/`), its value the JSON of the company's
//! `ConnectionSecrets`. The client is built with the first read, so a
//! process that never needs a secret never pays for it.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::delete_secret::DeleteSecretError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use domain::ConnectionSecrets;
use service::events::KeyError;
use service::secrets::{Deleted, Put, SecretError, SecretStore};

#[derive(Clone, Debug)]
pub struct SecretsManager {
    client: aws::OnFirstUse<Client>,
    prefix: String,
}

impl SecretsManager {
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        SecretsManager {
            client: aws::OnFirstUse::built(client),
            prefix: prefix.into(),
        }
    }

    /// A store whose client is built from `sdk` on first use.
    pub fn on_first_use(sdk: &SdkConfig, prefix: impl Into<String>) -> Self {
        SecretsManager {
            client: aws::OnFirstUse::new(sdk, Client::new),
            prefix: prefix.into(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get()
    }

    /// The secret's name. Secrets Manager names allow ASCII letters,
    /// digits and `/_+=.@-`; any other id is refused, not mangled (two ids
    /// must never share a secret).
    pub fn name(&self, company_id: &str) -> Result<String, SecretError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b);
        if company_id.is_empty()
            || company_id.len() > 256
            || company_id.contains('/')
            || !company_id.bytes().all(allowed)
        {
            return Err(SecretError::InvalidName(company_id.to_owned()));
        }
        Ok(format!("{}{company_id}", self.prefix))
    }
}

fn backend<E, R>(op: &str, e: SdkError<E, R>) -> SecretError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        // The code and the service's message only: they never hold a value.
        Some(se) => SecretError::Backend(format!(
            "Secrets Manager {op}: {}: {}",
            se.code().unwrap_or("unknown error"),
            se.message().unwrap_or("")
        )),
        None => SecretError::Backend(format!("Secrets Manager {op}: {}", DisplayErrorContext(&e))),
    }
}

/// Days Secrets Manager keeps a company's deleted secret, restorable
/// (`aws secretsmanager restore-secret`), before it is gone: its default
/// and longest recovery window.
pub const RECOVERY_WINDOW_DAYS: i64 = 30;

/// A secret as `DescribeSecret` shows it.
enum State {
    Absent,
    Live,
    /// Scheduled for deletion: its `DeletedDate`, in epoch seconds.
    Scheduled(i64),
}

/// A secret's value, as far as reading and writing it need.
enum Current {
    Value(ConnectionSecrets),
    Absent,
    Scheduled,
}

impl SecretsManager {
    async fn state(&self, name: &str) -> Result<State, SecretError> {
        match self.client().describe_secret().secret_id(name).send().await {
            Ok(out) => Ok(match out.deleted_date() {
                Some(d) => State::Scheduled(d.secs()),
                None => State::Live,
            }),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DescribeSecretError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(State::Absent)
            }
            Err(e) => Err(backend("DescribeSecret", e)),
        }
    }

    /// The `DeletedDate` (epoch seconds) of the company's secret when it is
    /// scheduled for deletion; `None` when it is not, or there is none.
    pub async fn scheduled_deletion(&self, company_id: &str) -> Result<Option<i64>, SecretError> {
        match self.state(&self.name(company_id)?).await? {
            State::Scheduled(at) => Ok(Some(at)),
            State::Absent | State::Live => Ok(None),
        }
    }

    /// A secret scheduled for deletion cannot be read: Secrets Manager
    /// answers `InvalidRequestException`, which says why only in its
    /// message, so `DescribeSecret` tells it apart.
    async fn current(&self, company_id: &str, name: &str) -> Result<Current, SecretError> {
        let e = match self
            .client()
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
        {
            Ok(out) => {
                return match out.secret_string() {
                    Some(text) => serde_json::from_str(text)
                        .map(Current::Value)
                        .map_err(|_| SecretError::Unreadable(company_id.to_owned())),
                    None => Err(SecretError::Unreadable(company_id.to_owned())),
                };
            }
            Err(e) => e,
        };
        match e.as_service_error() {
            Some(GetSecretValueError::ResourceNotFoundException(_)) => Ok(Current::Absent),
            Some(GetSecretValueError::InvalidRequestException(_))
                if matches!(self.state(name).await, Ok(State::Scheduled(_))) =>
            {
                Ok(Current::Scheduled)
            }
            _ => Err(backend("GetSecretValue", e)),
        }
    }

    async fn put_value(&self, name: &str, value: &str) -> Result<Put, SecretError> {
        self.client()
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| backend("PutSecretValue", e))?;
        Ok(Put::Written)
    }
}

impl SecretStore for SecretsManager {
    /// A secret scheduled for deletion belongs to a removed connection:
    /// none.
    async fn get(&self, company_id: &str) -> Result<Option<ConnectionSecrets>, SecretError> {
        let name = self.name(company_id)?;
        match self.current(company_id, &name).await? {
            Current::Value(s) => Ok(Some(s)),
            Current::Absent | Current::Scheduled => Ok(None),
        }
    }

    /// Read first, write only a change: re-seeding the same companies
    /// creates no new secret version. A secret scheduled for deletion (the
    /// connection was removed, and is now set again) is restored first.
    async fn put(&self, company_id: &str, secrets: &ConnectionSecrets) -> Result<Put, SecretError> {
        let name = self.name(company_id)?;
        let value = serde_json::to_string(secrets)
            .map_err(|_| SecretError::Unreadable(company_id.to_owned()))?;
        match self.current(company_id, &name).await? {
            Current::Value(s) if s == *secrets => return Ok(Put::Unchanged),
            Current::Value(_) => return self.put_value(&name, &value).await,
            Current::Scheduled => {
                self.client()
                    .restore_secret()
                    .secret_id(&name)
                    .send()
                    .await
                    .map_err(|e| backend("RestoreSecret", e))?;
                return self.put_value(&name, &value).await;
            }
            Current::Absent => {}
        }
        let created = self
            .client()
            .create_secret()
            .name(&name)
            .description("Dropship: a company's store-platform secrets")
            .secret_string(&value)
            .send()
            .await;
        match created {
            Ok(_) => Ok(Put::Written),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateSecretError::ResourceExistsException(_))
                ) =>
            {
                self.put_value(&name, &value).await
            }
            Err(e) => Err(backend("CreateSecret", e)),
        }
    }

    /// `DeleteSecret` with a recovery window of `RECOVERY_WINDOW_DAYS`;
    /// a secret absent or scheduled already is left as it is.
    async fn delete(&self, company_id: &str) -> Result<Deleted, SecretError> {
        let name = self.name(company_id)?;
        match self.state(&name).await? {
            State::Absent | State::Scheduled(_) => return Ok(Deleted::Nothing),
            State::Live => {}
        }
        match self
            .client()
            .delete_secret()
            .secret_id(&name)
            .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
            .send()
            .await
        {
            Ok(_) => Ok(Deleted::Deleted),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DeleteSecretError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(Deleted::Nothing)
            }
            Err(e) => Err(backend("DeleteSecret", e)),
        }
    }
}

/// The stack's webhook signing key (`service::events::SigningKeys`):
/// one secret, generated by the stack, read on first use and kept for
/// `KEY_TTL`, so a replaced key is used within minutes.
pub struct SigningKeySecret {
    store: SecretsManager,
    secret_id: String,
    cached: std::sync::Mutex<Option<(Arc<[u8]>, std::time::Instant)>>,
}

/// How long the signing key is kept between reads.
pub const KEY_TTL: std::time::Duration = std::time::Duration::from_secs(600);

impl SigningKeySecret {
    pub fn on_first_use(sdk: &SdkConfig, secret_id: impl Into<String>) -> Self {
        SigningKeySecret {
            store: SecretsManager::on_first_use(sdk, ""),
            secret_id: secret_id.into(),
            cached: std::sync::Mutex::new(None),
        }
    }

    async fn read(&self) -> Result<Arc<[u8]>, KeyError> {
        if let Ok(guard) = self.cached.lock()
            && let Some((k, at)) = guard.as_ref()
            && at.elapsed() < KEY_TTL
        {
            return Ok(Arc::clone(k));
        }
        let out = self
            .store
            .client()
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| KeyError::Unavailable(backend("GetSecretValue", e)))?;
        let key = service::events::checked_signing_key(out.secret_string().unwrap_or("")).map_err(
            |source| KeyError::Unusable {
                secret: self.secret_id.clone(),
                source,
            },
        )?;
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((Arc::clone(&key), std::time::Instant::now()));
        }
        Ok(key)
    }
}

impl service::events::SigningKeys for SigningKeySecret {
    fn key(&self) -> service::events::Pending<'_, Arc<[u8]>, KeyError> {
        Box::pin(self.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Option<String> {
        std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|e| e.starts_with("http://127.0.0.1:") || e.starts_with("http://localhost:"))
    }

    #[test]
    fn names_are_the_prefix_and_a_plain_id() {
        let sm = SecretsManager::new(
            Client::from_conf(
                aws_sdk_secretsmanager::Config::builder()
                    .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
                    .build(),
            ),
            "dropship/prod/companies/",
        );
        assert_eq!(
            sm.name("seller-woo").unwrap(),
            "dropship/prod/companies/seller-woo"
        );
        for bad in ["", "a/b", "a b", "é", "x\n"] {
            assert!(
                matches!(sm.name(bad), Err(SecretError::InvalidName(_))),
                "{bad:?}"
            );
        }
    }

    /// Against ministack's Secrets Manager: absent, created, unchanged on
    /// the same value, a new version on a change.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn put_is_idempotent_and_get_reads_it_back() {
        let Some(endpoint) = local() else {
            panic!(
                "AWS_ENDPOINT_URL must point at ministack: run through scripts/ministack.sh test"
            );
        };
        let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
        let prefix = format!("dropship/t-{}/companies/", ulid::Ulid::generate());
        let sm = SecretsManager::on_first_use(&sdk, prefix);
        assert_eq!(sm.get("c1").await.unwrap(), None, "{endpoint}");
        let s = ConnectionSecrets {
            webhook_secret: Some("whsec".into()),
            ..ConnectionSecrets::default()
        };
        assert_eq!(sm.put("c1", &s).await.unwrap(), Put::Written);
        assert_eq!(sm.put("c1", &s).await.unwrap(), Put::Unchanged);
        assert_eq!(sm.get("c1").await.unwrap(), Some(s.clone()));
        let rotated = ConnectionSecrets {
            webhook_secret: Some("whsec-2".into()),
            ..s
        };
        assert_eq!(sm.put("c1", &rotated).await.unwrap(), Put::Written);
        assert_eq!(sm.get("c1").await.unwrap(), Some(rotated));
    }

    /// Against ministack's Secrets Manager: forgetting a company's secrets
    /// schedules the secret for deletion with the recovery window; it then
    /// reads as none, forgetting it again or one that never was is nothing,
    /// and secrets set again restore it with the new value.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delete_schedules_the_secret_and_put_restores_it() {
        let Some(endpoint) = local() else {
            panic!(
                "AWS_ENDPOINT_URL must point at ministack: run through scripts/ministack.sh test"
            );
        };
        let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
        let prefix = format!("dropship/t-{}/companies/", ulid::Ulid::generate());
        let sm = SecretsManager::on_first_use(&sdk, prefix);
        let s = ConnectionSecrets {
            webhook_secret: Some("whsec".into()),
            ..ConnectionSecrets::default()
        };
        assert_eq!(sm.put("c1", &s).await.unwrap(), Put::Written);
        assert_eq!(
            sm.scheduled_deletion("c1").await.unwrap(),
            None,
            "{endpoint}"
        );

        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert_eq!(sm.delete("c1").await.unwrap(), Deleted::Deleted);
        let at = sm
            .scheduled_deletion("c1")
            .await
            .unwrap()
            .expect("scheduled");
        // ministack reports the day the secret goes: the window was asked for.
        let window = RECOVERY_WINDOW_DAYS * 86_400;
        assert!(
            (before + window - 60..=before + window + 3_600).contains(&at),
            "deleted date {at}, expected about {}",
            before + window
        );
        assert_eq!(sm.get("c1").await.unwrap(), None);
        assert_eq!(sm.delete("c1").await.unwrap(), Deleted::Nothing);
        assert_eq!(sm.delete("never").await.unwrap(), Deleted::Nothing);

        let again = ConnectionSecrets {
            webhook_secret: Some("whsec-again".into()),
            ..ConnectionSecrets::default()
        };
        assert_eq!(sm.put("c1", &again).await.unwrap(), Put::Written);
        assert_eq!(sm.scheduled_deletion("c1").await.unwrap(), None);
        assert_eq!(sm.get("c1").await.unwrap(), Some(again));
    }
}
