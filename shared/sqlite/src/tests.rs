use super::*;
use chrono::Utc;
use domain::Order;
use service::store::{Commit, Decided, Store};

testkit::store_contract_tests!(EmbeddedStore::in_memory().expect("in-memory store"));

/// Deciding under the write transaction: 32 deciders on one order
/// never lose a race, on one handle or on two handles of one file (as
/// two processes would be).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deciders_never_lose_a_race() {
    let s = EmbeddedStore::in_memory().unwrap();
    assert_eq!(testkit::store_contract::deciders_on(&[s]).await, 0);
    let dir = tempfile::tempdir().unwrap();
    let a = EmbeddedStore::open_dir(dir.path()).unwrap();
    let b = EmbeddedStore::open_dir(dir.path()).unwrap();
    assert_eq!(testkit::store_contract::deciders_on(&[a, b]).await, 0);
}

/// A decision that panics fails its call only: the connection is not
/// poisoned and nothing of it is written.
#[tokio::test]
async fn a_panicking_decision_leaves_the_store_usable() {
    use testkit::fixtures;
    let s = EmbeddedStore::in_memory().unwrap();
    let order = fixtures::order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(order.clone())).await.unwrap();
    let r = s
        .decide_and_commit("o1", |_: &Order| -> Result<Decided<()>, ()> {
            panic!("a bug in a decision")
        })
        .await;
    assert!(matches!(r, Err(StoreError::Internal(_))), "{r:?}");
    assert_eq!(s.order("o1").await.unwrap(), Some(order));
}

#[tokio::test]
async fn data_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = testkit::fixtures::company("b1", domain::Role::Buyer);
    {
        let s = EmbeddedStore::open_dir(dir.path()).unwrap();
        s.put_company(&c).await.unwrap();
    }
    let s = EmbeddedStore::open_dir(dir.path()).unwrap();
    assert_eq!(s.company("b1").await.unwrap(), Some(c));
}

#[tokio::test]
async fn every_cancellation_gets_one_outbox_entry() {
    use testkit::fixtures;
    let s = EmbeddedStore::in_memory().unwrap();
    let order = fixtures::order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(order.clone())).await.unwrap();
    let (next, can) = fixtures::cancel_one(&order, "li_1", "can_1");
    let mut commit = Commit::update(next);
    commit.cancellation = Some(can.clone());
    s.commit(&commit).await.unwrap();
    let pending = s.pending_outbox(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].cancellation, can);
    s.finish_outbox(
        pending[0].seq,
        OutboxAttempt::Failed("smtp down".into()),
        Utc::now(),
    )
    .await
    .unwrap();
    let again = s.pending_outbox(10).await.unwrap();
    assert_eq!(again[0].attempts, 1, "a failed attempt stays pending");
    s.finish_outbox(pending[0].seq, OutboxAttempt::Delivered, Utc::now())
        .await
        .unwrap();
    assert!(s.pending_outbox(10).await.unwrap().is_empty());
}
