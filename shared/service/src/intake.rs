//! Webhook intake's use cases: who a delivery claims to come from, and an
//! order's state read from its platform when the delivery only names it.

use std::ops::Deref;
use std::sync::Arc;

use domain::inbound::{LineChange, Platform, PlatformOrder};
use domain::{Company, Order, PlatformId};

use crate::app::{AppError, Core};
use crate::cache::{CompanyCache, CompanyKey};
use crate::platform::{PlatformReader, ReadError};
use crate::store::Store;

/// Store-platform deliveries: who one claims to come from (companies
/// kept for a while, see `cache`), an order read from its platform when
/// the delivery only names it, and reconciling our orders to it (on
/// `Core`).
pub struct IntakeService<S> {
    core: Arc<Core<S>>,
    reader: Box<dyn PlatformReader>,
    companies: CompanyCache,
}

impl<S> IntakeService<S> {
    pub fn new(core: Arc<Core<S>>, reader: impl PlatformReader) -> Self {
        IntakeService {
            companies: CompanyCache::new(core.config.company_cache),
            core,
            reader: Box::new(reader),
        }
    }
}

impl<S> Deref for IntakeService<S> {
    type Target = Core<S>;

    fn deref(&self) -> &Core<S> {
        &self.core
    }
}

/// What reading a named order from its platform came to.
#[derive(Debug)]
pub enum Fetched {
    /// None of the company's orders carries this reference: nothing was read.
    UnknownOrder,
    /// The platform has no such order.
    NotInStore,
    /// The platform's state, and our orders that carry its reference.
    Order(PlatformOrder, Ours),
    Failed(ReadError),
}

/// Our orders carrying a platform reference, as read before the platform
/// was asked (reconciling decides on them first, then on fresh reads).
#[derive(Debug)]
pub struct Ours(pub(crate) Vec<Order>);

/// Whether a company look-up may be answered from the in-process cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Cached,
    /// From the store (after a cached company failed a signature check).
    Fresh,
}

/// A company a delivery claims to come from.
#[derive(Debug)]
pub struct Found {
    pub company: Option<Company>,
    /// Served from the cache, so possibly up to its TTL old.
    pub cached: bool,
}

impl<S: Store> IntakeService<S> {
    /// The company a delivery names by its id.
    pub async fn company(&self, id: &str, lookup: Lookup) -> Result<Found, AppError> {
        self.cached_company(CompanyKey::Id(id.to_owned()), lookup)
            .await
    }

    /// The company connected to the Shopify store `domain`.
    pub async fn company_by_shop_domain(
        &self,
        domain: &str,
        lookup: Lookup,
    ) -> Result<Found, AppError> {
        self.cached_company(CompanyKey::ShopDomain(domain.to_owned()), lookup)
            .await
    }

    /// Unknown companies are not cached: a flood of made-up shops costs a
    /// read each, as without a cache, and a new company is found at once.
    async fn cached_company(&self, key: CompanyKey, lookup: Lookup) -> Result<Found, AppError> {
        if lookup == Lookup::Cached
            && let Some(company) = self.companies.get(&key)
        {
            return Ok(Found {
                company: Some(company),
                cached: true,
            });
        }
        let company = match &key {
            CompanyKey::Id(id) => self.store.company(id).await?,
            CompanyKey::ShopDomain(d) => self.store.company_by_shop_domain(d).await?,
        };
        if let Some(c) = &company {
            self.companies.put(key, c);
        }
        Ok(Found {
            company,
            cached: false,
        })
    }

    /// The platform's current state of `order_ref`, read with the company's
    /// own connection, and only for a reference one of its orders carries.
    pub async fn fetch_platform_order(
        &self,
        company: &Company,
        platform: Platform,
        order_ref: PlatformId,
        change: &LineChange,
    ) -> Result<Fetched, AppError> {
        let known = self
            .store
            .orders_by_ref(&company.id, company.role, &order_ref.to_string())
            .await?;
        if known.is_empty() {
            return Ok(Fetched::UnknownOrder);
        }
        let conn = company.connection.clone().unwrap_or_default();
        Ok(
            match self.reader.order(platform, &conn, order_ref, change).await {
                Ok(Some(po)) => Fetched::Order(po, Ours(known)),
                Ok(None) => Fetched::NotInStore,
                Err(e) => Fetched::Failed(e),
            },
        )
    }
}
