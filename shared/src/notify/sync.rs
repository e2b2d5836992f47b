//! Store sync adapters: `HttpStoreSync` (the platforms' APIs),
//! `outbox::RecordingStoreSync` (request records, local runs),
//! `LocalStoreSync` (the API when the company has an `api_base_url`, else
//! the record). The plan is `domain::sync`; the port `service::sync`.

pub use domain::sync::{OrderUpdate, PlanError, RefundLine, SyncAction, SyncPlan, plan, syncs};
pub use service::sync::{StoreSync, SyncError};

use crate::domain::PlatformId;
use crate::platforms::outbound;
use crate::platforms::{PlatformError, PlatformHttp};

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
            SyncAction::ShopifyRefund { lines, note } => {
                outbound::shopify_refund(&self.http, conn, r, lines, note).await?
            }
            SyncAction::WooCommerce(u) => {
                outbound::woocommerce_update(&self.http, conn, r, u).await?;
                describe_update("WooCommerce", r, u)
            }
            SyncAction::BigCommerce(u) => {
                outbound::bigcommerce_update(&self.http, conn, r, u).await?;
                describe_update("BigCommerce", r, u)
            }
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

pub(crate) fn describe_update(platform: &str, order_ref: PlatformId, u: &OrderUpdate) -> String {
    match u {
        OrderUpdate::CancelOrder => format!("{platform} order {order_ref} set to cancelled"),
        OrderUpdate::SetQuantities(lines) => format!(
            "{platform} order {order_ref}: quantities set ({})",
            lines
                .iter()
                .map(|(id, q)| format!("line {id} -> {q}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Local runs: the company's `api_base_url` when set (a fake or staging
/// store), else a request record in the outbox.
#[derive(Clone)]
pub struct LocalStoreSync {
    pub http: HttpStoreSync,
    pub record: super::outbox::RecordingStoreSync,
}

impl StoreSync for LocalStoreSync {
    async fn apply(&self, plan: &SyncPlan) -> Result<String, SyncError> {
        let has_base = plan
            .connection
            .api_base_url
            .as_deref()
            .is_some_and(|b| !b.trim().is_empty());
        if has_base {
            self.http.apply(plan).await
        } else {
            self.record.apply(plan).await
        }
    }
}
