//! The operator's use cases on companies and their API keys (`dropship
//! companies`, `dropship keys`; `dropship report` is in `scorecard`).
//! Never on a request's path.

use rand::RngExt;
use thiserror::Error;

use crate::app::{hash_api_key, now};
use crate::store::{Companies, CompanyWrite, StoreError};
use domain::{ApiKey, Company};

/// What new API keys start with, so that one found in a log, a ticket or a
/// repository is recognised (and can be revoked) at a glance.
pub const KEY_PREFIX: &str = "dsk_";
/// Random bytes in a new key: 160 bits.
const KEY_BYTES: usize = 20;

#[derive(Debug, Error)]
pub enum AdminError {
    #[error("company {0} exists already")]
    CompanyExists(String),
    #[error("no company {0}")]
    NoCompany(String),
    #[error("company {company_id} has no key {key_id}")]
    NoKey { company_id: String, key_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A key made by `create_key`: shown once, never stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

/// `stored` with the details of `update`: its keys kept, the update's
/// added; a secret the update leaves out keeps its stored value.
fn updated(stored: &Company, update: &Company) -> Company {
    let mut next = update.clone();
    if let (Some(new), Some(old)) = (next.connection.as_mut(), stored.connection.as_ref()) {
        let keep = |n: &mut Option<String>, o: &Option<String>| {
            if n.is_none() {
                n.clone_from(o);
            }
        };
        keep(&mut new.webhook_secret, &old.webhook_secret);
        keep(&mut new.access_token, &old.access_token);
        keep(&mut new.consumer_key, &old.consumer_key);
        keep(&mut new.consumer_secret, &old.consumer_secret);
    }
    next.api_keys = stored.api_keys.clone();
    for k in &update.api_keys {
        if !next.api_keys.iter().any(|e| e.hash == k.hash) {
            next.api_keys.push(k.clone());
        }
    }
    next
}

/// The operator's service: companies and their keys, over the store's
/// companies alone.
pub struct AdminService<S> {
    store: S,
}

impl<S> AdminService<S> {
    pub fn new(store: S) -> Self {
        AdminService { store }
    }

    pub(crate) fn store(&self) -> &S {
        &self.store
    }
}

// Each change below is decided on the stored company inside
// `Companies::change_company`, which writes it only if the company is still as
// read: concurrent commands lose nothing (a revoked key is never written
// back, a printed key never dropped).
impl<S: Companies> AdminService<S> {
    /// A new company; refused when one has its id.
    pub async fn add_company(&self, company: &Company) -> Result<(), AdminError> {
        let new = company.clone();
        self.store
            .change_company(&company.id, move |stored| match stored {
                Some(c) => Err(AdminError::CompanyExists(c.id.clone())),
                None => Ok(CompanyWrite::Put(Box::new(new.clone()), ())),
            })
            .await?
    }

    /// A company's new details. Its keys are kept (revoke one with
    /// `revoke_key`); keys the update lists are added. A secret the update
    /// leaves out keeps its stored value, so a file without secrets can
    /// change the rest. Without a connection, the company's secrets are
    /// forgotten (the store schedules their deletion).
    pub async fn update_company(&self, company: &Company) -> Result<(), AdminError> {
        let update = company.clone();
        self.store
            .change_company(&company.id, move |stored| {
                let stored = stored.ok_or_else(|| AdminError::NoCompany(update.id.clone()))?;
                Ok(CompanyWrite::Put(Box::new(updated(stored, &update)), ()))
            })
            .await?
    }

    pub async fn companies(&self) -> Result<Vec<Company>, AdminError> {
        Ok(self.store.companies().await?)
    }

    pub async fn company_record(&self, id: &str) -> Result<Company, AdminError> {
        self.store
            .company(id)
            .await?
            .ok_or_else(|| AdminError::NoCompany(id.to_owned()))
    }

    /// A new key for the company: `dsk_` and 160 random bits, stored as its
    /// SHA-256 only. Returned only once it is stored.
    pub async fn create_key(&self, company_id: &str) -> Result<NewKey, AdminError> {
        let bytes: [u8; KEY_BYTES] = rand::rng().random();
        let secret = format!("{KEY_PREFIX}{}", hex::encode(bytes));
        let key = ApiKey::from_hash(hash_api_key(&secret), Some(now()));
        let (new, id) = (key.clone(), company_id.to_owned());
        self.store
            .change_company(company_id, move |stored| {
                let mut c = stored
                    .cloned()
                    .ok_or_else(|| AdminError::NoCompany(id.clone()))?;
                c.api_keys.push(new.clone());
                Ok::<_, AdminError>(CompanyWrite::Put(Box::new(c), ()))
            })
            .await??;
        Ok(NewKey { key, secret })
    }

    /// Remove a key: requests with it are refused from the next one on (the
    /// store deletes its look-up item in the same write).
    pub async fn revoke_key(&self, company_id: &str, key_id: &str) -> Result<ApiKey, AdminError> {
        let (id, kid) = (company_id.to_owned(), key_id.to_owned());
        self.store
            .change_company(company_id, move |stored| {
                let mut c = stored
                    .cloned()
                    .ok_or_else(|| AdminError::NoCompany(id.clone()))?;
                let Some(at) = c.api_keys.iter().position(|k| k.id == kid) else {
                    return Err(AdminError::NoKey {
                        company_id: id.clone(),
                        key_id: kid.clone(),
                    });
                };
                let key = c.api_keys.remove(at);
                Ok(CompanyWrite::Put(Box::new(c), key))
            })
            .await?
    }
}
