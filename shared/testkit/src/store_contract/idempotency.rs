//! Idempotency records: committed with an order's change, or on their own.

use chrono::Duration;

use service::store::*;

use crate::fixtures::*;

pub async fn idempotency_key_commits_atomically<S: Orders + IdempotencyRecords>(s: &S) {
    let o = order("o1", "b1", "s1", 0);
    let mut create = Commit::create(o.clone());
    create.idempotency = Some(idem("b1", "k1", Duration::hours(24)));
    s.commit(&create).await.unwrap();
    assert_eq!(
        s.idempotency_record("b1", "k1").await.unwrap(),
        create.idempotency.clone()
    );
    // Keys are scoped per company.
    assert_eq!(s.idempotency_record("s1", "k1").await.unwrap(), None);

    // A change carrying a used key is refused whole: no order change, no cancellation.
    let (next, can) = cancel_one(&o, "li_1", "can_1");
    let mut c = Commit::update(next);
    c.cancellation = Some(can);
    c.idempotency = Some(idem("b1", "k1", Duration::hours(24)));
    // The refusal hands back the stored record, for the replay.
    match s.commit(&c).await {
        Err(StoreError::IdempotencyKeyExists { stored: Some(r) }) => {
            assert_eq!(Some(*r), create.idempotency)
        }
        other => panic!("a used key must be refused with its record: {other:?}"),
    }
    let rec = s.order_record("o1").await.unwrap().unwrap();
    assert_eq!(rec.order, o);
    assert!(rec.cancellations.is_empty());

    // Another company may use the same key.
    c.idempotency = Some(idem("s1", "k1", Duration::hours(24)));
    s.commit(&c).await.unwrap();
    assert_eq!(
        s.order_record("o1")
            .await
            .unwrap()
            .unwrap()
            .cancellations
            .len(),
        1
    );
}

pub async fn standalone_idempotency_records<S: IdempotencyRecords>(s: &S) {
    let r = idem("b1", "k2", Duration::hours(24));
    s.put_idempotency_record(&r).await.unwrap();
    let mut again = r.clone();
    again.body = "another answer".into();
    match s.put_idempotency_record(&again).await {
        Err(StoreError::IdempotencyKeyExists {
            stored: Some(stored),
        }) => assert_eq!(*stored, r),
        other => panic!("a used key must be refused with its record: {other:?}"),
    }
    assert_eq!(s.idempotency_record("b1", "k2").await.unwrap(), Some(r));

    // An expired record is gone: not returned, and the key may be used again.
    let old = idem("b1", "k3", Duration::seconds(-5));
    s.put_idempotency_record(&old).await.unwrap();
    assert_eq!(s.idempotency_record("b1", "k3").await.unwrap(), None);
    let fresh = idem("b1", "k3", Duration::hours(1));
    s.put_idempotency_record(&fresh).await.unwrap();
    assert_eq!(s.idempotency_record("b1", "k3").await.unwrap(), Some(fresh));
}
