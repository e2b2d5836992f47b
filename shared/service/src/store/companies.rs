//! The companies role: companies, found by id, API key or shop domain.

use std::future::Future;

use domain::Company;

use crate::error::StoreError;

/// What a change to a company decided on the stored company.
#[derive(Debug)]
pub enum CompanyWrite<T> {
    /// Write this company (under the id changed) and answer `T`.
    Put(Box<Company>, T),
    /// Nothing to write; answer `T`.
    Unchanged(T),
}

/// Companies as stored.
pub trait Companies: Send + Sync + 'static {
    /// Create or replace a company and its API-key hashes.
    fn put_company(&self, company: &Company)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    fn company(&self, id: &str)
    -> impl Future<Output = Result<Option<Company>, StoreError>> + Send;

    /// Read the company (with its secrets, as `company` reads it), run
    /// `change` on it (`None`: there is none) and write what it decided,
    /// only if the company is still as read. A concurrent change makes the
    /// store read again and run `change` again (so it must be pure), a
    /// bounded number of times, then `CompanyChanged`: a read-modify-write
    /// that loses nothing (`put_company` after `company` can). `Ok(Err(e))`
    /// is the change's own refusal, with nothing written. Webhook endpoints
    /// are kept as stored. The default refuses: a store must check what it
    /// read to offer this.
    fn change_company<T, E, F>(
        &self,
        id: &str,
        change: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(Option<&Company>) -> Result<CompanyWrite<T>, E> + Send + 'static,
    {
        let _ = (id, change);
        async {
            Err(StoreError::Internal(
                "this store cannot change a company conditionally".into(),
            ))
        }
    }

    /// Every company, by id, without secrets (operator commands: a full
    /// read of the companies, never on a request's path).
    fn companies(&self) -> impl Future<Output = Result<Vec<Company>, StoreError>> + Send;

    /// The Shopify company whose connection has this shop domain (lower case).
    fn company_by_shop_domain(
        &self,
        shop_domain: &str,
    ) -> impl Future<Output = Result<Option<Company>, StoreError>> + Send;

    fn company_by_api_key_hash(
        &self,
        key_hash: &str,
    ) -> impl Future<Output = Result<Option<Company>, StoreError>> + Send;
}
