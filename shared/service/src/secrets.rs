//! Companies' platform secrets, kept apart from their records: the secret
//! store port, and `WithSecrets`, a store that writes a company's record
//! without its secrets and fills them back in when a company is read by id
//! or shop domain (the two look-ups of the hosts that use secrets: webhook
//! intake and the notifier). Companies found by API key carry none: the API
//! never needs them, and its host has no access to the secret store.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use thiserror::Error;

use crate::cache::CacheLimits;
use crate::store::{
    Companies, CompanyWrite, PassEvents, PassIdempotency, PassLedger, PassOrders, PassStore,
    StoreError, Wraps,
};
use domain::{Company, ConnectionSecrets};

#[derive(Debug, Error)]
pub enum SecretError {
    /// The company id cannot name a secret (outside the secret store's
    /// alphabet): refused rather than mangled.
    #[error("company id {0:?} cannot name a secret")]
    InvalidName(String),
    /// The secret exists but is not the JSON of connection secrets.
    #[error("the secret of company {0} is unreadable")]
    Unreadable(String),
    /// The secret store failed; the operation may be retried.
    #[error("secret store failed: {0}")]
    Backend(String),
}

impl From<SecretError> for StoreError {
    fn from(e: SecretError) -> Self {
        match e {
            SecretError::Backend(m) => StoreError::backend(BackendText(m)),
            other => StoreError::Internal(other.to_string()),
        }
    }
}

#[derive(Debug)]
struct BackendText(String);

impl std::fmt::Display for BackendText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackendText {}

/// Whether a put changed what the secret store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Written,
    Unchanged,
}

/// One secret per company, its value the JSON of `ConnectionSecrets`.
pub trait SecretStore: Send + Sync + 'static {
    fn get(
        &self,
        company_id: &str,
    ) -> impl Future<Output = Result<Option<ConnectionSecrets>, SecretError>> + Send;

    /// Store the company's secrets; writes nothing when they are the ones
    /// stored already (so re-seeding changes nothing).
    fn put(
        &self,
        company_id: &str,
        secrets: &ConnectionSecrets,
    ) -> impl Future<Output = Result<Put, SecretError>> + Send;

    /// Forget the company's secrets (its connection is removed). Secrets
    /// Manager schedules the secret for deletion after a recovery window;
    /// none to forget is no error.
    fn delete(&self, company_id: &str)
    -> impl Future<Output = Result<Deleted, SecretError>> + Send;
}

/// What forgetting a company's secrets found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Forgotten now (in Secrets Manager: scheduled for deletion).
    Deleted,
    /// There were none, or they were being deleted already.
    Nothing,
}

/// A store whose company records hold no secrets: they go to `secrets`.
/// Cheap to clone when `S` is (clones share the secret store and cache).
pub struct WithSecrets<S, K> {
    pub inner: S,
    pub secrets: Arc<K>,
    cache: Option<Arc<SecretCache>>,
}

impl<S: Clone, K> Clone for WithSecrets<S, K> {
    fn clone(&self) -> Self {
        WithSecrets {
            inner: self.inner.clone(),
            secrets: Arc::clone(&self.secrets),
            cache: self.cache.clone(),
        }
    }
}

impl<S, K> WithSecrets<S, K> {
    /// Every company read reads its secrets (webhook intake, which keeps
    /// the companies themselves for a while and reads again on a failed
    /// signature check).
    pub fn new(inner: S, secrets: K) -> Self {
        WithSecrets {
            inner,
            secrets: Arc::new(secrets),
            cache: None,
        }
    }

    /// Secrets kept within `limits` (the notifier): a rotated secret is
    /// used at the latest `limits.ttl` later.
    pub fn cached(inner: S, secrets: K, limits: CacheLimits) -> Self {
        WithSecrets {
            inner,
            secrets: Arc::new(secrets),
            cache: Some(Arc::new(SecretCache::new(limits))),
        }
    }
}

impl<S: Companies, K: SecretStore> WithSecrets<S, K> {
    async fn hydrate(&self, company: Option<Company>) -> Result<Option<Company>, StoreError> {
        let Some(c) = company else { return Ok(None) };
        if c.connection.is_none() {
            return Ok(Some(c));
        }
        if let Some(s) = self.cache.as_ref().and_then(|k| k.get(&c.id)) {
            return Ok(Some(c.with_secrets(s)));
        }
        let s = Box::pin(self.secrets.get(&c.id)).await?.unwrap_or_default();
        if let Some(k) = &self.cache {
            k.put(&c.id, &s);
        }
        Ok(Some(c.with_secrets(s)))
    }
}

/// Secrets by company id with when they were read, and the ids in the
/// order they came in.
type Entries = (
    HashMap<String, (ConnectionSecrets, Instant)>,
    VecDeque<String>,
);

/// Secrets by company id, bounded in age and size (oldest out first).
struct SecretCache {
    limits: CacheLimits,
    entries: Mutex<Entries>,
}

impl SecretCache {
    fn new(limits: CacheLimits) -> Self {
        SecretCache {
            limits,
            entries: Mutex::default(),
        }
    }

    fn get(&self, id: &str) -> Option<ConnectionSecrets> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.0.get(id)
            .filter(|(_, at)| at.elapsed() < self.limits.ttl)
            .map(|(s, _)| s.clone())
    }

    fn remove(&self, id: &str) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.0.remove(id);
    }

    fn put(&self, id: &str, s: &ConnectionSecrets) {
        if self.limits.capacity == 0 || self.limits.ttl.is_zero() {
            return;
        }
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *e;
        if map
            .insert(id.to_owned(), (s.clone(), Instant::now()))
            .is_none()
        {
            order.push_back(id.to_owned());
        }
        while map.len() > self.limits.capacity {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            map.remove(&oldest);
        }
    }
}

/// One round of `WithSecrets::change_company`: what the change needs
/// from the secret store before its record can be written, or the answer.
enum Round<T> {
    /// The stored company has a connection whose secrets were not read.
    ReadSecrets,
    /// The change sets these secrets.
    PutSecrets(ConnectionSecrets),
    /// The change removes the company's connection.
    ForgetSecrets,
    Done(T),
}

/// Rounds of `WithSecrets::change_company`: reading the secrets, writing or
/// forgetting them, writing the record, and two more for changes made
/// meanwhile.
const SECRET_ROUNDS: usize = 5;

impl<S: Companies, K: SecretStore> WithSecrets<S, K> {
    fn forget_cached(&self, company_id: &str) {
        if let Some(k) = &self.cache {
            k.remove(company_id);
        }
    }
}

impl<S: Send + Sync + 'static, K: SecretStore> Wraps for WithSecrets<S, K> {
    type Inner = S;
    fn inner(&self) -> &S {
        &self.inner
    }
}

// Only companies carry secrets: every other role is the inner store's.
impl<S: Send + Sync + 'static, K: SecretStore> PassOrders for WithSecrets<S, K> {}
impl<S: Send + Sync + 'static, K: SecretStore> PassIdempotency for WithSecrets<S, K> {}
impl<S: Send + Sync + 'static, K: SecretStore> PassLedger for WithSecrets<S, K> {}
impl<S: Send + Sync + 'static, K: SecretStore> PassStore for WithSecrets<S, K> {}
impl<S: Send + Sync + 'static, K: SecretStore> PassEvents for WithSecrets<S, K> {}

// The calls this decorator wraps (store and secret store, SDK calls on AWS)
// are boxed: nested in place, their futures made every use case reading a
// company too deep a type for the compiler's default layout limits.
impl<S: Companies, K: SecretStore> Companies for WithSecrets<S, K> {
    /// Through `change_company`: the secrets first, then the record.
    async fn put_company(&self, company: &Company) -> Result<(), StoreError> {
        let new = company.clone();
        let written = self
            .change_company(&company.id, move |_| {
                Ok::<_, std::convert::Infallible>(CompanyWrite::Put(Box::new(new.clone()), ()))
            })
            .await?;
        match written {
            Ok(()) => Ok(()),
            Err(never) => match never {},
        }
    }

    /// The change decided on the company with its secrets. The secret
    /// store comes first, a round each: the secrets are read when the
    /// stored company has a connection, written when the change sets
    /// others, forgotten when it removes the connection; then the record is
    /// written, if still as read. So a record never names secrets that are
    /// not stored, and a command cut short is finished by running it again.
    /// Secrets Manager has no conditional write: of two changes setting
    /// different secrets at once, the later write's stay.
    async fn change_company<T, E, F>(&self, id: &str, change: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(Option<&Company>) -> Result<CompanyWrite<T>, E> + Send + 'static,
    {
        let change = Arc::new(Mutex::new(change));
        let mut known: Option<ConnectionSecrets> = None;
        let mut forgotten = false;
        for _ in 0..SECRET_ROUNDS {
            let f = Arc::clone(&change);
            let seen = known.clone();
            let round = self
                .inner
                .change_company(id, move |stored: Option<&Company>| {
                    let had = stored.is_some_and(|c| c.connection.is_some());
                    let full = match (stored, &seen) {
                        (Some(_), None) if had => {
                            return Ok(CompanyWrite::Unchanged(Round::ReadSecrets));
                        }
                        (Some(c), Some(s)) if had => Some(c.clone().with_secrets(s.clone())),
                        (c, _) => c.cloned(),
                    };
                    let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
                    let (next, answer) = match f(full.as_ref())? {
                        CompanyWrite::Unchanged(t) => {
                            return Ok(CompanyWrite::Unchanged(Round::Done(t)));
                        }
                        CompanyWrite::Put(next, t) => (next, t),
                    };
                    let (public, secrets) = next.split_secrets();
                    if next.connection.is_some() && seen.as_ref() != Some(&secrets) {
                        return Ok(CompanyWrite::Unchanged(Round::PutSecrets(secrets)));
                    }
                    if next.connection.is_none() && had && !forgotten {
                        return Ok(CompanyWrite::Unchanged(Round::ForgetSecrets));
                    }
                    Ok(CompanyWrite::Put(Box::new(public), Round::Done(answer)))
                })
                .await?;
            match round {
                Err(e) => return Ok(Err(e)),
                Ok(Round::Done(answer)) => return Ok(Ok(answer)),
                Ok(Round::ReadSecrets) => {
                    known = Some(Box::pin(self.secrets.get(id)).await?.unwrap_or_default());
                }
                Ok(Round::PutSecrets(s)) => {
                    Box::pin(self.secrets.put(id, &s)).await?;
                    self.forget_cached(id);
                    known = Some(s);
                }
                Ok(Round::ForgetSecrets) => {
                    Box::pin(self.secrets.delete(id)).await?;
                    self.forget_cached(id);
                    forgotten = true;
                    known = Some(ConnectionSecrets::default());
                }
            }
        }
        Err(StoreError::CompanyChanged {
            company_id: id.to_owned(),
        })
    }

    async fn company(&self, id: &str) -> Result<Option<Company>, StoreError> {
        let c = Box::pin(self.inner.company(id)).await?;
        Box::pin(self.hydrate(c)).await
    }

    async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        Box::pin(self.inner.companies()).await
    }

    async fn company_by_shop_domain(&self, d: &str) -> Result<Option<Company>, StoreError> {
        let c = Box::pin(self.inner.company_by_shop_domain(d)).await?;
        Box::pin(self.hydrate(c)).await
    }

    async fn company_by_api_key_hash(&self, h: &str) -> Result<Option<Company>, StoreError> {
        Box::pin(self.inner.company_by_api_key_hash(h)).await
    }
}

/// Secrets in memory, for tests and hosts without a secret store.
#[derive(Debug, Default)]
pub struct MemorySecrets(Mutex<HashMap<String, ConnectionSecrets>>);

impl MemorySecrets {
    /// How many companies have secrets here.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SecretStore for MemorySecrets {
    async fn get(&self, company_id: &str) -> Result<Option<ConnectionSecrets>, SecretError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(company_id)
            .cloned())
    }

    async fn put(&self, company_id: &str, secrets: &ConnectionSecrets) -> Result<Put, SecretError> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.get(company_id) == Some(secrets) {
            return Ok(Put::Unchanged);
        }
        m.insert(company_id.to_owned(), secrets.clone());
        Ok(Put::Written)
    }

    async fn delete(&self, company_id: &str) -> Result<Deleted, SecretError> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match m.remove(company_id) {
            Some(_) => Deleted::Deleted,
            None => Deleted::Nothing,
        })
    }
}
