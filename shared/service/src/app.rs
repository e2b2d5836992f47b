//! Application service: the use cases, orchestrating the pure domain and the
//! store. Here: the service itself, its errors, idempotent replies, ids,
//! hashing and authentication; the use cases live beside it (`orders`,
//! `changes`, `reconcile`), all deciding through the loop in `retry`.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::platform::PlatformReader;
use crate::store::{IdempotencyRecord, Store, StoreError};
use domain::{Company, DomainError, NotPermitted};

use crate::config::Config;

/// Why a use case did not complete. The HTTP layer maps each to a status and
/// a contract code.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("missing, malformed or unknown API key")]
    Unauthorized,
    #[error("order {0} not found")]
    OrderNotFound(String),
    #[error("seller {0} is not a seller company on this marketplace")]
    UnknownSeller(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("the order is being changed by someone else; retry")]
    Conflict,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Store(StoreError),
}

impl From<NotPermitted> for AppError {
    fn from(e: NotPermitted) -> Self {
        AppError::Domain(e.into())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Store(e)
    }
}

/// A result, or the stored response of an earlier request with the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Done(T),
    Replayed(IdempotencyRecord),
}

/// The response a result is answered with. Kept under the request's
/// idempotency key in the same commit as the change, so a replay answers
/// exactly the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// A keyed request: its key, and how its result of type `T` is answered
/// (the HTTP layer's rendering; the service never renders responses).
pub struct Idempotent<'a, T> {
    pub key: &'a Idempotency,
    pub reply: fn(&T) -> Reply,
}

impl<T> Clone for Idempotent<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Idempotent<'_, T> {}

/// The key of a keyed request, if any.
pub(crate) fn key_of<T>(idem: Option<Idempotent<'_, T>>) -> Option<&Idempotency> {
    idem.map(|i| i.key)
}

/// A client's `Idempotency-Key` and the fingerprint of its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub(crate) key: String,
    /// SHA-256 hex of method, path and body.
    pub(crate) fingerprint: String,
}

impl Idempotency {
    pub fn new(key: &str, method: &str, path: &str, body: &[u8]) -> Self {
        let mut h = Sha256::new();
        for part in [method.as_bytes(), path.as_bytes(), body] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        Idempotency {
            key: key.to_owned(),
            fingerprint: hex::encode(h.finalize()),
        }
    }
}

/// The lowercase hex SHA-256 digest of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The SHA-256 hex digest under which an API key is stored.
pub fn hash_api_key(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

pub struct App<S> {
    pub store: S,
    pub config: Config,
    /// Reads orders from store platforms for webhook deliveries that name
    /// an order without its state; hosts without webhooks have none.
    pub(crate) platforms: Option<Box<dyn PlatformReader>>,
}

pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::generate())
}

/// Timestamps are kept to the millisecond: exact round trips through every
/// store and short RFC 3339 strings.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

impl<S: Store> App<S> {
    pub fn new(store: S) -> Self {
        App {
            store,
            config: Config::default(),
            platforms: None,
        }
    }

    /// Read platform orders through `reader` (webhook hosts).
    pub fn with_platform_reader(self, reader: impl PlatformReader) -> Self {
        App {
            platforms: Some(Box::new(reader)),
            ..self
        }
    }

    pub async fn authenticate(&self, api_key: &str) -> Result<Company, AppError> {
        if api_key.is_empty() {
            return Err(AppError::Unauthorized);
        }
        self.store
            .company_by_api_key_hash(&hash_api_key(api_key))
            .await?
            .ok_or(AppError::Unauthorized)
    }

    /// A stored response for this key, if any; a key reused with another
    /// request is refused.
    pub(crate) async fn replay(
        &self,
        company: &Company,
        idem: Option<&Idempotency>,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
        let Some(idem) = idem else { return Ok(None) };
        match self
            .store
            .idempotency_record(&company.id, &idem.key)
            .await?
        {
            Some(rec) if rec.fingerprint == idem.fingerprint => Ok(Some(rec)),
            Some(_) => Err(AppError::IdempotencyKeyReused),
            None => Ok(None),
        }
    }

    /// After a commit lost to the same key: the winner's response.
    pub(crate) async fn replay_after_race(
        &self,
        company: &Company,
        idem: Option<&Idempotency>,
    ) -> Result<IdempotencyRecord, AppError> {
        self.replay(company, idem).await?.ok_or(AppError::Conflict)
    }

    pub(crate) fn record(
        &self,
        company: &Company,
        idem: &Idempotency,
        reply: Reply,
    ) -> IdempotencyRecord {
        idempotency_record(&company.id, idem, reply, self.config.idempotency_ttl)
    }

    /// Remember an error response for a key (4xx only; 5xx are not kept).
    /// Returns the response to send: this one, or one stored meanwhile.
    pub async fn remember_error(
        &self,
        company: &Company,
        idem: &Idempotency,
        reply: Reply,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
        let rec = self.record(company, idem, reply);
        match self.store.put_idempotency_record(&rec).await {
            Ok(()) => Ok(None),
            Err(StoreError::IdempotencyKeyExists) => self.replay(company, Some(idem)).await,
            Err(e) => Err(e.into()),
        }
    }
}

/// An idempotency record of `company_id` for the response `status`, `body`.
pub(crate) fn idempotency_record(
    company_id: &str,
    idem: &Idempotency,
    reply: Reply,
    ttl: Duration,
) -> IdempotencyRecord {
    let created_at = now();
    IdempotencyRecord {
        company_id: company_id.to_owned(),
        key: idem.key.clone(),
        fingerprint: idem.fingerprint.clone(),
        status: reply.status,
        body: reply.body,
        created_at,
        expires_at: created_at + ttl,
    }
}
