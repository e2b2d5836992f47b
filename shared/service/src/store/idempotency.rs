//! The idempotency records role: responses kept under `Idempotency-Key`s
//! outside an order's commit (a refusal, a change of something else).

use std::future::Future;

use crate::error::StoreError;
use crate::records::IdempotencyRecord;

/// Idempotency records as stored.
pub trait IdempotencyRecords: Send + Sync + 'static {
    /// An unexpired idempotency record.
    fn idempotency_record(
        &self,
        company_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, StoreError>> + Send;

    /// Store a record for a response that changed nothing (an error);
    /// `IdempotencyKeyExists` (with the stored record, where the store can)
    /// when an unexpired one is there already.
    fn put_idempotency_record(
        &self,
        record: &IdempotencyRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
