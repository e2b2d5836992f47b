//! The notification ledger: one idempotency record per (cancellation,
//! channel), Powertools style, so that each notification takes effect once
//! however often a cancellation is delivered to the notifier.
//!
//! A worker *claims* a record before acting: a conditional write of
//! `INPROGRESS` with a lock expiry (`expires_at`, epoch seconds) that
//! succeeds only when there is no record yet, or an `INPROGRESS` one whose
//! lock has expired (its worker crashed or gave up). After acting it
//! *completes* the record (`COMPLETED`, outcome `sent` or `failed` + detail),
//! or, after a failure a later attempt may fix, *releases* it (the lock is
//! expired at once and the error kept), so the next delivery may claim it.
//!
//! Completing and releasing are conditioned on the claim's token: a worker
//! whose lock expired and was taken over cannot overwrite the new holder.
//! Completed records carry no expiry: they are kept, and clients see them as
//! the cancellation's notification summary.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// How a partner hears of a cancellation: the id its ledger records,
/// counts, reports and views are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The partner company's notification email.
    Email,
    /// The partner's store platform (refund, order status, line quantities).
    StoreSync,
    /// An event pushed to one of the partner's webhook endpoints.
    Webhook,
    /// An X12 document (860 to an EDI seller, 865 to an EDI buyer).
    Edi,
}

impl Channel {
    /// The channels a cancellation is notified on directly (its ledger
    /// records, its view), in the order they run; webhook deliveries are
    /// keyed by event and endpoint instead.
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::StoreSync, Channel::Edi];

    /// Every channel, in the order `notify` runs (and reports) them.
    pub const REGISTERED: [Channel; 4] = [
        Channel::Email,
        Channel::StoreSync,
        Channel::Edi,
        Channel::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::StoreSync => "store_sync",
            Channel::Webhook => "webhook",
            Channel::Edi => "edi",
        }
    }
}

impl Channel {
    /// The channel and endpoint of a stored slot (`LedgerKey::slot`).
    pub fn of_slot(slot: &str) -> Option<(Channel, Option<String>)> {
        match slot.split_once(':') {
            Some(("webhook", endpoint)) if !endpoint.is_empty() => {
                Some((Channel::Webhook, Some(endpoint.to_owned())))
            }
            Some(_) => None,
            None => Channel::ALL
                .into_iter()
                .find(|c| c.as_str() == slot)
                .map(|c| (c, None)),
        }
    }
}

/// The record a notification is guarded by: a cancellation on a channel,
/// or an event (its id in `cancellation_id`) to one webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LedgerKey {
    pub order_id: String,
    pub cancellation_id: String,
    pub channel: Channel,
    /// The webhook endpoint (`Channel::Webhook` only).
    pub endpoint_id: Option<String>,
}

impl LedgerKey {
    pub fn new(order_id: &str, cancellation_id: &str, channel: Channel) -> Self {
        LedgerKey {
            order_id: order_id.to_owned(),
            cancellation_id: cancellation_id.to_owned(),
            channel,
            endpoint_id: None,
        }
    }

    /// The delivery of event `event_id` (about order `order_id`) to one
    /// webhook endpoint.
    pub fn webhook(order_id: &str, event_id: &str, endpoint_id: &str) -> Self {
        LedgerKey {
            endpoint_id: Some(endpoint_id.to_owned()),
            ..LedgerKey::new(order_id, event_id, Channel::Webhook)
        }
    }

    /// The channel as stores key it: `email`, `store_sync`, or
    /// `webhook:<endpoint id>`.
    pub fn slot(&self) -> String {
        match (&self.channel, &self.endpoint_id) {
            (Channel::Webhook, Some(e)) => format!("webhook:{e}"),
            (c, _) => c.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerStatus {
    #[serde(rename = "INPROGRESS")]
    InProgress,
    #[serde(rename = "COMPLETED")]
    Completed,
}

impl LedgerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerStatus::InProgress => "INPROGRESS",
            LedgerStatus::Completed => "COMPLETED",
        }
    }
}

/// What a completed notification came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Delivered (email accepted, store updated).
    Sent,
    /// Refused for good (a 4xx that will never succeed, a missing
    /// connection detail, an invalid address): recorded, not retried.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Failed => "failed",
        }
    }
}

/// One ledger record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub order_id: String,
    /// The cancellation, or for a webhook delivery the event.
    pub cancellation_id: String,
    pub channel: Channel,
    /// The webhook endpoint (`Channel::Webhook` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    pub status: LedgerStatus,
    /// Set once completed.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// What was done or why it failed for good (completed records).
    #[serde(default)]
    pub detail: Option<String>,
    /// The error of the last attempt that failed in a way a retry may fix.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Claims so far (1 on the first).
    pub attempts: u32,
    /// Lock expiry of an `INPROGRESS` record, epoch seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to act on; pass `token` to `complete` or `release`.
    Acquired { token: String, attempt: u32 },
    /// Another worker holds an unexpired lock; try again after `expires_at`.
    Busy { expires_at: i64 },
    /// Done already: nothing to do.
    Completed(LedgerEntry),
}

/// The ledger port. Both stores implement it (`embedded.rs`, `dynamodb.rs`);
/// the suite in `ledger::contract` runs against each.
pub trait Ledger: Send + Sync + 'static {
    /// Claim the record for `lock_for` from `now`.
    fn claim(
        &self,
        key: &LedgerKey,
        now: DateTime<Utc>,
        lock_for: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Record the outcome. `false` when the claim was lost (the lock
    /// expired and someone else claimed or completed the record).
    fn complete(
        &self,
        key: &LedgerKey,
        token: &str,
        outcome: Outcome,
        detail: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Give the claim up after a failure a retry may fix: the record may be
    /// claimed again at once. `false` when the claim was lost.
    fn release(
        &self,
        key: &LedgerKey,
        token: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every record of an order's cancellations.
    fn ledger_entries(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send;

    /// Every record updated at or after `since` (operator commands: a full
    /// read, never on a request's path).
    fn entries_since(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send;

    /// Turn a record that completed as sent on claim `attempt` into one
    /// that failed, with `detail` (a partner rejected what was sent, or
    /// never acknowledged it): then listed as failed and retried like one.
    /// `false` when it is not such a record (a later attempt sent it again).
    fn fail_sent(
        &self,
        key: &LedgerKey,
        attempt: u32,
        detail: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Make a record that completed as failed claimable again, for an
    /// operator's retry; `false` when it is not such a record (a sent one
    /// is never sent again).
    fn reopen_failed(
        &self,
        key: &LedgerKey,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A new claim token.
pub fn new_token() -> String {
    ulid::Ulid::generate().to_string()
}

/// Lock expiry in epoch seconds (rounded up: a lock never ends early).
pub fn lock_expiry(now: DateTime<Utc>, lock_for: Duration) -> i64 {
    let end = now + lock_for;
    end.timestamp() + i64::from(end.timestamp_subsec_nanos() > 0)
}

/// A lock is expired when its expiry lies strictly before `now` (seconds).
pub fn lock_expired(expires_at: Option<i64>, now: DateTime<Utc>) -> bool {
    expires_at.is_none_or(|e| e < now.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_name_channels_and_endpoints() {
        let k = LedgerKey::webhook("o1", "evt_1", "we_1");
        assert_eq!(k.slot(), "webhook:we_1");
        assert_eq!(
            Channel::of_slot(&k.slot()),
            Some((Channel::Webhook, Some("we_1".into())))
        );
        assert_eq!(
            LedgerKey::new("o1", "c1", Channel::StoreSync).slot(),
            "store_sync"
        );
        assert_eq!(Channel::of_slot("email"), Some((Channel::Email, None)));
        for bad in ["webhook", "webhook:", "sms", "email:x"] {
            assert_eq!(Channel::of_slot(bad), None, "{bad}");
        }
    }

    #[test]
    fn lock_expiry_rounds_up_and_expires_strictly_after() {
        let t = DateTime::from_timestamp(100, 500_000_000).unwrap();
        assert_eq!(lock_expiry(t, Duration::seconds(10)), 111);
        let whole = DateTime::from_timestamp(100, 0).unwrap();
        assert_eq!(lock_expiry(whole, Duration::seconds(10)), 110);
        assert!(!lock_expired(
            Some(110),
            DateTime::from_timestamp(110, 0).unwrap()
        ));
        assert!(lock_expired(
            Some(110),
            DateTime::from_timestamp(111, 0).unwrap()
        ));
        assert!(lock_expired(None, whole));
    }
}
