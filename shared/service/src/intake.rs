//! Webhook intake's use cases: who a delivery claims to come from, and an
//! order's state read from its platform when the delivery only names it.

use domain::inbound::{LineChange, Platform, PlatformOrder};
use domain::{Company, PlatformId};

use crate::app::{App, AppError};
use crate::platform::ReadError;
use crate::store::Store;

/// What reading a named order from its platform came to.
#[derive(Debug)]
pub enum Fetched {
    /// None of the company's orders carries this reference: nothing was read.
    UnknownOrder,
    /// The platform has no such order.
    NotInStore,
    Order(PlatformOrder),
    Failed(ReadError),
}

impl<S: Store> App<S> {
    /// The company a delivery names by its id.
    pub async fn company(&self, id: &str) -> Result<Option<Company>, AppError> {
        Ok(self.store.company(id).await?)
    }

    /// The company connected to the Shopify store `domain`.
    pub async fn company_by_shop_domain(&self, domain: &str) -> Result<Option<Company>, AppError> {
        Ok(self.store.company_by_shop_domain(domain).await?)
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
        let Some(reader) = self.platforms.as_deref() else {
            return Ok(Fetched::Failed(ReadError::Permanent(
                "this host reads no store platform".into(),
            )));
        };
        let conn = company.connection.clone().unwrap_or_default();
        Ok(
            match reader.order(platform, &conn, order_ref, change).await {
                Ok(Some(po)) => Fetched::Order(po),
                Ok(None) => Fetched::NotInStore,
                Err(e) => Fetched::Failed(e),
            },
        )
    }
}
