//! DynamoDB failures as `StoreError`: SDK errors flattened into backend
//! errors, and a cancelled `TransactWriteItems` read by position into the
//! refusal it stands for.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};

use service::store::{IdempotencyRecord, StoreError};

/// A backend failure described in words (the SDK's error chain flattened).
#[derive(Debug)]
struct DynamoError(String);

impl fmt::Display for DynamoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for DynamoError {}

pub(super) fn backend(what: impl Into<String>) -> StoreError {
    StoreError::backend(DynamoError(what.into()))
}

/// An SDK failure as a backend error: the service's error code and message,
/// or the whole chain for a failure that never got an answer (timeouts, ...).
pub(super) fn sdk<E, R>(op: &str, e: SdkError<E, R>) -> StoreError
where
    E: StdError + ProvideErrorMetadata + 'static,
    R: fmt::Debug,
{
    match e.as_service_error() {
        Some(se) => backend(format!(
            "DynamoDB {op}: {}: {}",
            se.code().unwrap_or("unknown error"),
            se.message().unwrap_or("")
        )),
        None => backend(format!("DynamoDB {op}: {}", DisplayErrorContext(&e))),
    }
}

/// What sits at each index of a commit's `TransactWriteItems`, so that
/// `CancellationReasons[i]` can be read by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    OrderCreate,
    /// A look-up item by reference put (`REF#B`, `REF#S` or `REF#P`).
    OrderRef,
    /// One deleted (its reference replaced).
    OrderRefDelete,
    OrderUpdate,
    Listing,
    Fulfillment,
    Idempotency,
    Delivery,
    /// A scorecard counter added to.
    Score,
}

pub(super) const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";
pub(super) const TRANSACTION_CONFLICT: &str = "TransactionConflict";

/// The refusal a cancelled commit stands for, from its reasons read by
/// index. Several may fail at once; the caller hears, in this order: a used
/// idempotency key (replay the stored response), a processed delivery, then
/// what happened to the order. `None` when the reasons name no refusal we
/// know (throttling, validation, ...): that is a backend failure.
pub(super) fn refusal(reasons: &[CancellationReason], slots: &[Slot]) -> Option<StoreError> {
    let failed = |wanted: Slot, code: &str| {
        slots
            .iter()
            .zip(reasons)
            .find(|(slot, r)| **slot == wanted && r.code() == Some(code))
            .map(|(_, r)| r)
    };
    if let Some(r) = failed(Slot::Idempotency, CONDITIONAL_CHECK_FAILED) {
        // ALL_OLD: the stored record comes back with the refusal.
        return Some(StoreError::IdempotencyKeyExists {
            stored: r.item().and_then(stored_record).map(Box::new),
        });
    }
    if failed(Slot::Delivery, CONDITIONAL_CHECK_FAILED).is_some() {
        return Some(StoreError::DeliveryExists);
    }
    if failed(Slot::OrderCreate, CONDITIONAL_CHECK_FAILED).is_some() {
        return Some(StoreError::OrderExists);
    }
    if let Some(r) = failed(Slot::OrderUpdate, CONDITIONAL_CHECK_FAILED) {
        // ALL_OLD: the item is returned when it exists, at another version.
        return Some(match r.item() {
            Some(item) if !item.is_empty() => StoreError::VersionConflict,
            _ => StoreError::OrderMissing,
        });
    }
    // Another transaction was writing the order at the same moment: the
    // order is changing under us, so re-read and re-decide, as for a version
    // conflict (the version check keeps that safe).
    if failed(Slot::OrderUpdate, TRANSACTION_CONFLICT).is_some() {
        return Some(StoreError::VersionConflict);
    }
    None
}

/// Whether the commit was cancelled only because another transaction was
/// adding to the same scorecard counter: nothing was written, and the same
/// change may be sent again at once.
pub(super) fn only_counters_conflicted(reasons: &[CancellationReason], slots: &[Slot]) -> bool {
    let mut conflicted = false;
    for (slot, r) in slots.iter().zip(reasons) {
        match r.code() {
            None | Some("None") => {}
            Some(TRANSACTION_CONFLICT) if *slot == Slot::Score => conflicted = true,
            Some(_) => return false,
        }
    }
    conflicted
}

pub(super) fn describe_reasons(reasons: &[CancellationReason], slots: &[Slot]) -> String {
    slots
        .iter()
        .zip(reasons)
        .map(|(slot, r)| format!("{slot:?}={}", r.code().unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The record an idempotency item holds (as a refused write returns it).
pub(super) fn stored_record(item: &HashMap<String, AttributeValue>) -> Option<IdempotencyRecord> {
    item.get("record")
        .and_then(|r| serde_dynamo::from_attribute_value(r.clone()).ok())
}
