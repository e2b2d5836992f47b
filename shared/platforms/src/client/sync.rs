//! The store-sync port over the platforms' APIs.

use domain::Platform;
use domain::sync::{SyncAction, SyncPlan};
use service::sync::{StoreSync, SyncError};

use super::outbound;
use super::{PlatformError, PlatformHttp};

/// Platform failures as the sync port reports them.
impl From<PlatformError> for SyncError {
    fn from(e: PlatformError) -> Self {
        if e.is_transient() {
            SyncError::Unavailable(e.to_string())
        } else {
            SyncError::Rejected(e.to_string())
        }
    }
}

/// The platforms' APIs, through the shared retrying client.
#[derive(Clone, Default)]
pub struct HttpStoreSync {
    http: PlatformHttp,
}

impl HttpStoreSync {
    pub fn new(http: PlatformHttp) -> Self {
        HttpStoreSync { http }
    }
}

impl StoreSync for HttpStoreSync {
    async fn apply(&self, plan: &SyncPlan) -> Result<String, SyncError> {
        let (conn, r) = (&plan.connection, plan.order_ref);
        let mut detail = match &plan.action {
            SyncAction::ShopifyRefund {
                lines,
                note,
                routine,
            } => {
                let refund = outbound::ShopifyRefund {
                    order_ref: r,
                    cancellation_id: &plan.cancellation_id,
                    lines,
                    note,
                    routine: *routine,
                };
                outbound::shopify_refund(&self.http, conn, &refund).await?
            }
            SyncAction::Update(u) => match plan.platform {
                Platform::WooCommerce => {
                    outbound::woocommerce_update(&self.http, conn, r, u).await?
                }
                Platform::BigCommerce => {
                    outbound::bigcommerce_update(&self.http, conn, r, u).await?
                }
                Platform::Shopify => {
                    return Err(SyncError::Rejected(
                        "Shopify orders are refunded, not updated".into(),
                    ));
                }
            },
        };
        if !plan.unmapped_lines.is_empty() {
            detail.push_str(&format!(
                "; lines without a store reference left alone: {}",
                plan.unmapped_lines.join(", ")
            ));
        }
        Ok(detail)
    }
}
