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

use super::StoreError;

/// How a partner hears of a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The partner company's notification email.
    Email,
    /// The partner's store platform (refund, order status, line quantities).
    StoreSync,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::StoreSync];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::StoreSync => "store_sync",
        }
    }
}

/// The record a notification is guarded by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LedgerKey {
    pub order_id: String,
    pub cancellation_id: String,
    pub channel: Channel,
}

impl LedgerKey {
    pub fn new(order_id: &str, cancellation_id: &str, channel: Channel) -> Self {
        LedgerKey {
            order_id: order_id.to_owned(),
            cancellation_id: cancellation_id.to_owned(),
            channel,
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
    pub cancellation_id: String,
    pub channel: Channel,
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

/// The ledger contract, run against every implementation through
/// `ledger_contract_tests!`.
#[cfg(test)]
pub mod contract {
    use super::*;

    fn key(c: &str, channel: Channel) -> LedgerKey {
        LedgerKey::new("o1", c, channel)
    }

    fn acquired(c: Claim) -> (String, u32) {
        match c {
            Claim::Acquired { token, attempt } => (token, attempt),
            other => panic!("expected the claim to be acquired, got {other:?}"),
        }
    }

    pub async fn claim_then_complete<L: Ledger>(l: &L) {
        let now = Utc::now();
        let k = key("can_1", Channel::Email);
        let (token, attempt) = acquired(l.claim(&k, now, Duration::minutes(2)).await.unwrap());
        assert_eq!(attempt, 1);
        // Redelivery while the first worker is at it: busy, not ours.
        match l.claim(&k, now, Duration::minutes(2)).await.unwrap() {
            Claim::Busy { expires_at } => {
                assert!(expires_at >= (now + Duration::minutes(2)).timestamp())
            }
            other => panic!("expected busy, got {other:?}"),
        }
        assert!(
            l.complete(&k, &token, Outcome::Sent, "ses message m-1", now)
                .await
                .unwrap()
        );
        // Every later delivery, however late, finds it done.
        for later in [now, now + Duration::days(2)] {
            match l.claim(&k, later, Duration::minutes(2)).await.unwrap() {
                Claim::Completed(e) => {
                    assert_eq!(e.status, LedgerStatus::Completed);
                    assert_eq!(e.outcome, Some(Outcome::Sent));
                    assert_eq!(e.detail.as_deref(), Some("ses message m-1"));
                    assert_eq!(e.attempts, 1);
                    assert_eq!(e.expires_at, None);
                }
                other => panic!("expected completed, got {other:?}"),
            }
        }
        // A completed record cannot be released or completed again.
        assert!(!l.release(&k, &token, "late", now).await.unwrap());
        assert!(
            !l.complete(&k, &token, Outcome::Failed, "late", now)
                .await
                .unwrap()
        );
    }

    pub async fn expired_lock_is_taken_over<L: Ledger>(l: &L) {
        let now = Utc::now();
        let k = key("can_2", Channel::StoreSync);
        let (first, _) = acquired(l.claim(&k, now, Duration::seconds(30)).await.unwrap());
        // Still locked just before the expiry.
        assert!(matches!(
            l.claim(&k, now + Duration::seconds(29), Duration::seconds(30))
                .await
                .unwrap(),
            Claim::Busy { .. }
        ));
        // The first worker crashed; after the expiry the next one takes over.
        let later = now + Duration::seconds(32);
        let (second, attempt) = acquired(l.claim(&k, later, Duration::seconds(30)).await.unwrap());
        assert_eq!(attempt, 2);
        assert_ne!(first, second);
        // The first worker wakes up: its claim is gone.
        assert!(
            !l.complete(&k, &first, Outcome::Sent, "late", later)
                .await
                .unwrap()
        );
        assert!(!l.release(&k, &first, "late", later).await.unwrap());
        assert!(
            l.complete(
                &k,
                &second,
                Outcome::Failed,
                "HTTP 404: no such order",
                later
            )
            .await
            .unwrap()
        );
        let Claim::Completed(e) = l.claim(&k, later, Duration::seconds(30)).await.unwrap() else {
            panic!("expected completed")
        };
        assert_eq!(e.outcome, Some(Outcome::Failed));
        assert_eq!(e.detail.as_deref(), Some("HTTP 404: no such order"));
    }

    pub async fn released_claim_is_retried_at_once<L: Ledger>(l: &L) {
        let now = Utc::now();
        let k = key("can_3", Channel::Email);
        let (t1, _) = acquired(l.claim(&k, now, Duration::minutes(5)).await.unwrap());
        assert!(l.release(&k, &t1, "SES: Throttling", now).await.unwrap());
        assert!(!l.release(&k, &t1, "twice", now).await.unwrap());
        let entries = l.ledger_entries("o1").await.unwrap();
        let e = entries
            .iter()
            .find(|e| e.cancellation_id == "can_3")
            .unwrap();
        assert_eq!(e.status, LedgerStatus::InProgress);
        assert_eq!(e.last_error.as_deref(), Some("SES: Throttling"));
        // Claimable again in the same second.
        let (t2, attempt) = acquired(l.claim(&k, now, Duration::minutes(5)).await.unwrap());
        assert_eq!(attempt, 2);
        assert!(
            l.complete(&k, &t2, Outcome::Sent, "m-2", now)
                .await
                .unwrap()
        );
    }

    pub async fn channels_and_cancellations_are_independent<L: Ledger>(l: &L) {
        let now = Utc::now();
        let lock = Duration::minutes(1);
        let email = key("can_4", Channel::Email);
        let sync = key("can_4", Channel::StoreSync);
        let other = key("can_5", Channel::Email);
        let elsewhere = LedgerKey::new("o2", "can_6", Channel::Email);
        let (t, _) = acquired(l.claim(&email, now, lock).await.unwrap());
        assert!(
            l.complete(&email, &t, Outcome::Sent, "m", now)
                .await
                .unwrap()
        );
        acquired(l.claim(&sync, now, lock).await.unwrap());
        acquired(l.claim(&other, now, lock).await.unwrap());
        acquired(l.claim(&elsewhere, now, lock).await.unwrap());
        let mut entries = l.ledger_entries("o1").await.unwrap();
        entries
            .sort_by(|a, b| (&a.cancellation_id, a.channel).cmp(&(&b.cancellation_id, b.channel)));
        let summary: Vec<_> = entries
            .iter()
            .map(|e| (e.cancellation_id.as_str(), e.channel, e.status))
            .collect();
        assert_eq!(
            summary,
            [
                ("can_4", Channel::Email, LedgerStatus::Completed),
                ("can_4", Channel::StoreSync, LedgerStatus::InProgress),
                ("can_5", Channel::Email, LedgerStatus::InProgress),
            ]
        );
        assert!(entries.iter().all(|e| e.order_id == "o1"));
        assert!(l.ledger_entries("nothing").await.unwrap().is_empty());
    }

    /// Many workers claim the same record at once: exactly one gets it.
    pub async fn racing_claims_one_wins<L: Ledger + Clone>(l: &L) {
        let now = Utc::now();
        let k = key("can_7", Channel::Email);
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let l = l.clone();
            let k = k.clone();
            tasks.push(tokio::spawn(async move {
                l.claim(&k, now, Duration::minutes(1)).await
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap().unwrap() {
                Claim::Acquired { .. } => won += 1,
                Claim::Busy { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(won, 1);
    }
}

/// Generates the ledger contract suite for a store built by `$make`.
#[macro_export]
macro_rules! ledger_contract_tests {
    ($make:expr) => {
        $crate::ledger_contract_tests!(@tests $make;
            claim_then_complete,
            expired_lock_is_taken_over,
            released_claim_is_retried_at_once,
            channels_and_cancellations_are_independent,
            racing_claims_one_wins,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        mod ledger_contract {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let store = $make;
                    $crate::store::ledger::contract::$name(&store).await;
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

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
