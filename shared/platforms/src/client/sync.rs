//! The store-sync port over the platforms' APIs.

use domain::sync::SyncPlan;
use service::sync::{StoreSync, SyncError};

use crate::PlatformError;
use crate::http::PlatformHttp;
use crate::registry;

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
        let mut detail = registry::get(plan.platform).apply(&self.http, plan).await?;
        if !plan.unmapped_lines.is_empty() {
            detail.push_str(&format!(
                "; lines without a store reference left alone: {}",
                plan.unmapped_lines.join(", ")
            ));
        }
        Ok(detail)
    }
}
