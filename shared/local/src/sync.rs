//! Store sync in local runs: the company's `api_base_url` when set (a fake
//! or staging store), else a request record in the outbox. The plan is
//! `domain::sync`, the port `service::sync`, the platforms' client
//! `platforms::client::HttpStoreSync`.

use domain::sync::SyncPlan;
use platforms::client::HttpStoreSync;
use service::sync::{StoreSync, SyncError};

/// Local runs: the company's `api_base_url` when set (a fake or staging
/// store), else a request record in the outbox.
#[derive(Clone)]
pub struct LocalStoreSync {
    pub(crate) http: HttpStoreSync,
    pub(crate) record: super::outbox::RecordingStoreSync,
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
