//! The store-sync port: carries out a plan (`domain::sync`) in the partner's
//! store platform.

use std::future::Future;

use domain::sync::{PlanError, SyncPlan};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SyncError {
    /// Will never succeed as it stands (4xx, missing connection details or
    /// references): recorded as a failed sync, not retried.
    #[error("{0}")]
    Rejected(String),
    /// A later attempt may succeed (5xx, 429 beyond the retries, network).
    #[error("{0}")]
    Unavailable(String),
}

impl From<PlanError> for SyncError {
    fn from(e: PlanError) -> Self {
        SyncError::Rejected(e.to_string())
    }
}

/// The sync port.
pub trait StoreSync: Send + Sync + 'static {
    /// Carry `plan` out; returns what was done, in words.
    fn apply(&self, plan: &SyncPlan) -> impl Future<Output = Result<String, SyncError>> + Send;
}
