//! The record a keyed request's response is kept in: plain data beneath
//! the store's error (which may carry one) and its roles.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A response stored under an `Idempotency-Key`, replayed on retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub company_id: String,
    pub key: String,
    /// SHA-256 (hex) over method, path and body of the first request.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
