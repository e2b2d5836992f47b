//! The store-sync port over the platforms' APIs.

use domain::sync::SyncPlan;
use service::sync::{StoreSync, SyncError};

use crate::PlatformError;
use crate::http::PlatformHttp;
use crate::outbound::store_note;
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

    /// Carry `plan` out, writing `note` (made one bounded line,
    /// `outbound::store_note`) where the platform keeps staff notes: a
    /// WooCommerce order note, BigCommerce's `staff_notes`.
    pub async fn apply_with_note(
        &self,
        plan: &SyncPlan,
        note: Option<&str>,
    ) -> Result<String, SyncError> {
        let note = note.and_then(store_note);
        let mut detail = registry::get(plan.platform)
            .apply(&self.http, plan, note.as_deref())
            .await?;
        if !plan.unmapped_lines.is_empty() {
            detail.push_str(&format!(
                "; lines without a store reference left alone: {}",
                plan.unmapped_lines.join(", ")
            ));
        }
        Ok(detail)
    }
}

impl StoreSync for HttpStoreSync {
    async fn apply(&self, plan: &SyncPlan) -> Result<String, SyncError> {
        self.apply_with_note(plan, Some(&plan.note)).await
    }
}
