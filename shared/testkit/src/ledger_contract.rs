//! The ledger contract, run against every implementation through
//! `ledger_contract_tests!`.
use chrono::{Duration, Utc};
use service::ledger::*;

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
    entries.sort_by(|a, b| (&a.cancellation_id, a.channel).cmp(&(&b.cancellation_id, b.channel)));
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

/// An operator sees failed records (by time) and may reopen one for a
/// retry; a sent record is never reopened.
pub async fn failed_records_are_listed_and_reopened<L: Ledger>(l: &L) {
    let t0 = Utc::now() - Duration::seconds(5);
    let now = Utc::now();
    let failed = key("can_f", Channel::Email);
    let sent = key("can_f", Channel::StoreSync);
    for (k, outcome) in [(&failed, Outcome::Failed), (&sent, Outcome::Sent)] {
        let (token, _) = acquired(l.claim(k, now, Duration::minutes(2)).await.unwrap());
        assert!(
            l.complete(k, &token, outcome, "the reason", now)
                .await
                .unwrap()
        );
    }
    let listed = l.entries_since(t0).await.unwrap();
    let mine: Vec<&LedgerEntry> = listed
        .iter()
        .filter(|e| e.cancellation_id == "can_f")
        .collect();
    assert_eq!(mine.len(), 2, "{listed:?}");
    assert!(
        l.entries_since(now + Duration::seconds(5))
            .await
            .unwrap()
            .iter()
            .all(|e| e.cancellation_id != "can_f")
    );

    assert!(
        !l.reopen_failed(&sent).await.unwrap(),
        "a sent record stays sent"
    );
    assert!(
        !l.fail_sent(&failed, 1, "rejected", now).await.unwrap(),
        "only a sent record is turned failed"
    );
    assert!(l.reopen_failed(&failed).await.unwrap());
    assert!(!l.reopen_failed(&failed).await.unwrap(), "reopened once");
    let (token, _) = acquired(l.claim(&failed, now, Duration::minutes(2)).await.unwrap());
    assert!(
        l.complete(&failed, &token, Outcome::Sent, "sent on retry", now)
            .await
            .unwrap()
    );
    match l.claim(&sent, now, Duration::minutes(2)).await.unwrap() {
        Claim::Completed(e) => assert_eq!(e.outcome, Some(Outcome::Sent)),
        other => panic!("expected completed, got {other:?}"),
    }

    // What the partner rejected after it was sent fails, and is retried;
    // only the attempt that sent it is failed, never a later one.
    let later = now + Duration::seconds(1);
    assert!(
        !l.fail_sent(&sent, 2, "not that attempt", later)
            .await
            .unwrap()
    );
    assert!(
        l.fail_sent(&sent, 1, "the partner rejected it", later)
            .await
            .unwrap()
    );
    assert!(
        !l.fail_sent(&sent, 1, "again", later).await.unwrap(),
        "failed once"
    );
    let entry = l
        .entries_since(later)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.cancellation_id == "can_f" && e.channel == Channel::StoreSync)
        .expect("listed with its new time");
    assert_eq!(
        (entry.outcome, entry.detail.as_deref()),
        (Some(Outcome::Failed), Some("the partner rejected it"))
    );
    assert!(l.reopen_failed(&sent).await.unwrap());
    assert!(matches!(
        l.claim(&sent, later, Duration::minutes(2)).await.unwrap(),
        Claim::Acquired { .. }
    ));
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
            failed_records_are_listed_and_reopened,
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
                    $crate::ledger_contract::$name(&store).await;
                }
            )*
        }
    };
}
