//! What the use-case services share: the core (store, config, metrics, and
//! the idempotency rule), their errors, idempotent replies, ids, hashing,
//! and the orders-and-changes service with authentication. The services
//! live beside it (`orders` and `changes` on `OrdersService`,
//! `intake::IntakeService`, `edi::EdiService`, `events::EventsService`,
//! `admin::AdminService`), all deciding through the loop in `retry`.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::store::{Companies, IdempotencyRecord, IdempotencyRecords, Store, StoreError};
use domain::{Company, DomainError, NotPermitted, Order};

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

/// What every use-case service shares: the store, the configuration and
/// where counts go; on it, the decide-and-commit loop (`retry`) and the
/// idempotency rule. Services hold it behind an `Arc`, so a host's
/// services share one.
pub struct Core<S> {
    pub store: S,
    pub config: Config,
    /// Where counts of what happens go (off unless the host says).
    pub metrics: crate::metrics::Metrics,
}

impl<S> Core<S> {
    pub fn new(store: S) -> Self {
        Self::with_config(store, Config::default())
    }

    pub fn with_config(store: S, config: Config) -> Self {
        Core {
            store,
            config,
            metrics: crate::metrics::Metrics::off(),
        }
    }

    /// Count what happens into `metrics` (the Lambda functions: EMF).
    pub fn with_metrics(self, metrics: crate::metrics::Metrics) -> Self {
        Core { metrics, ..self }
    }

    /// Shared by the services built on it.
    pub fn shared(self) -> Arc<Self> {
        Arc::new(self)
    }
}

/// Orders and their changes, for the API: create, read, cancel, fulfil,
/// set store references; and who a request's API key is.
pub struct OrdersService<S> {
    core: Arc<Core<S>>,
}

impl<S> Deref for OrdersService<S> {
    type Target = Core<S>;

    fn deref(&self) -> &Core<S> {
        &self.core
    }
}

/// The order a request acts on: its id, and the order itself when it was
/// read already (with the caller's credentials, in one round trip).
#[derive(Debug, Clone)]
pub struct Target {
    pub(crate) id: String,
    pub(crate) read: Read,
}

#[derive(Debug, Clone)]
pub(crate) enum Read {
    /// Not read yet.
    No,
    /// Read: there is no such order.
    Missing,
    Found(Box<Order>),
}

impl Target {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn found(order: Order) -> Self {
        Target {
            id: order.id.clone(),
            read: Read::Found(Box::new(order)),
        }
    }
}

impl From<&str> for Target {
    fn from(id: &str) -> Self {
        Target {
            id: id.to_owned(),
            read: Read::No,
        }
    }
}

pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::generate())
}

/// Timestamps are kept to the millisecond: exact round trips through every
/// store and short RFC 3339 strings.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

impl<S> OrdersService<S> {
    pub fn new(store: S) -> Self {
        Self::with_config(store, Config::default())
    }

    pub fn with_config(store: S, config: Config) -> Self {
        Self::on(Core::with_config(store, config).shared())
    }

    /// On a core the host's other services share.
    pub fn on(core: Arc<Core<S>>) -> Self {
        OrdersService { core }
    }

    /// The core, for the host's other services.
    pub fn core(&self) -> Arc<Core<S>> {
        self.core.clone()
    }
}

impl<S: Companies> OrdersService<S> {
    pub async fn authenticate(&self, api_key: &str) -> Result<Company, AppError> {
        if api_key.is_empty() {
            return Err(AppError::Unauthorized);
        }
        self.store
            .company_by_api_key_hash(&hash_api_key(api_key))
            .await?
            .ok_or(AppError::Unauthorized)
    }
}

impl<S: Store> OrdersService<S> {
    /// The company of `api_key` and the order its request acts on, read in
    /// one round trip; whether the company may see the order is decided by
    /// the use case, in memory.
    pub async fn authenticate_on(
        &self,
        api_key: &str,
        order_id: &str,
    ) -> Result<(Company, Target), AppError> {
        if api_key.is_empty() {
            return Err(AppError::Unauthorized);
        }
        let (company, order) = self
            .store
            .company_and_order(&hash_api_key(api_key), order_id)
            .await?;
        let company = company.ok_or(AppError::Unauthorized)?;
        let read = match order {
            Some(o) if o.id == order_id => Read::Found(Box::new(o)),
            _ => Read::Missing,
        };
        Ok((
            company,
            Target {
                id: order_id.to_owned(),
                read,
            },
        ))
    }
}

impl<S: IdempotencyRecords> Core<S> {
    /// The response stored under `idem`, after a write was refused because
    /// the key is taken: the record the refusal carried, else read. A key
    /// taken by another request is refused.
    pub(crate) async fn stored_reply(
        &self,
        company: &Company,
        idem: Option<&Idempotency>,
        stored: Option<Box<IdempotencyRecord>>,
    ) -> Result<IdempotencyRecord, AppError> {
        let Some(idem) = idem else {
            return Err(AppError::Conflict);
        };
        let rec = match stored {
            Some(r) => Some(*r),
            None => {
                self.store
                    .idempotency_record(&company.id, &idem.key)
                    .await?
            }
        };
        match rec {
            Some(rec) if rec.fingerprint == idem.fingerprint => Ok(rec),
            Some(_) => Err(AppError::IdempotencyKeyReused),
            // Expired in between: the caller's retry acts anew.
            None => Err(AppError::Conflict),
        }
    }

    pub(crate) fn record(
        &self,
        company: &Company,
        idem: &Idempotency,
        reply: Reply,
    ) -> IdempotencyRecord {
        idempotency_record(&company.id, idem, reply, self.config.idempotency_ttl)
    }

    /// The answer kept under `idem`, read before acting on a request whose
    /// effect is outside the store (where no commit can check the key);
    /// `IdempotencyKeyReused` when the key was used for another request.
    pub async fn earlier_reply(
        &self,
        company: &Company,
        idem: &Idempotency,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
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

    /// Keep a response that wrote nothing else under its key: a refusal
    /// (the HTTP layer keeps 4xx only), or the answer to a request whose
    /// effect is outside the store. Returns the response to send instead
    /// when the key has one already; `IdempotencyKeyReused` when it was used
    /// for another request (and then nothing is kept).
    pub async fn remember_reply(
        &self,
        company: &Company,
        idem: &Idempotency,
        reply: Reply,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
        let rec = self.record(company, idem, reply);
        match self.store.put_idempotency_record(&rec).await {
            Ok(()) => Ok(None),
            Err(StoreError::IdempotencyKeyExists { stored }) => self
                .stored_reply(company, Some(idem), stored)
                .await
                .map(Some),
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
