//! What a store adapter reports when an operation fails.

use thiserror::Error;

/// Why a store operation failed. Conditional-write outcomes are variants of
/// their own, so callers decide on them without looking at messages.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The order's version is not the one the change was decided on.
    #[error("the order changed since it was read")]
    VersionConflict,
    /// The order a change expects does not exist.
    #[error("no such order")]
    OrderMissing,
    /// An order with this id exists already.
    #[error("an order with this id exists already")]
    OrderExists,
    /// An idempotency record for this company and key exists already;
    /// `stored` is that record when the refused write returned it (saving
    /// the caller a read).
    #[error("the idempotency key has been used already")]
    IdempotencyKeyExists {
        stored: Option<Box<crate::records::IdempotencyRecord>>,
    },
    /// A webhook delivery with this key has been processed already.
    #[error("the delivery has been processed already")]
    DeliveryExists,
    /// One of the company's API keys belongs to another company.
    #[error("an API key of company {company_id} belongs to another company")]
    ApiKeyTaken { company_id: String },
    /// The company's shop domain belongs to another company.
    #[error("the shop domain of company {company_id} belongs to another company")]
    ShopDomainTaken { company_id: String },
    /// The company kept changing while a change to it was decided and
    /// written (each write checks the company is as read): nothing of this
    /// change was written.
    #[error(
        "company {company_id} kept changing while this change was written; nothing was written, try again"
    )]
    CompanyChanged { company_id: String },
    /// More API keys than one atomic write can hold.
    #[error("company {company_id} has too many API keys to store at once")]
    TooManyApiKeys { company_id: String },
    /// A defect on our side (data the store cannot read, a panicked
    /// decision): retrying does not help.
    #[error("internal store error: {0}")]
    Internal(String),
    /// The backend failed; the operation may be retried.
    #[error("store backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}
