//! The store contract: one suite, run against every `Store` implementation
//! through `store_contract_tests!`, split by role: orders here (their
//! look-ups by reference in `refs`), companies and idempotency records
//! beside. Each test asks only for the roles it uses.

use chrono::{Duration, Utc};

use domain::{CancellationKind, Order};
use service::store::*;

use crate::fixtures::*;

mod companies;
mod idempotency;
mod refs;
mod scorecard;

pub use companies::*;
pub use idempotency::*;
pub use refs::*;
pub use scorecard::*;

pub async fn create_and_read_orders<S: Orders>(s: &S) {
    let o = order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(o.clone())).await.unwrap();
    assert_eq!(s.order("o1").await.unwrap(), Some(o.clone()));
    let rec = s.order_record("o1").await.unwrap().unwrap();
    assert_eq!(rec.order, o);
    assert!(rec.cancellations.is_empty());
    assert_eq!(s.order("o2").await.unwrap(), None);
    assert_eq!(s.order_record("o2").await.unwrap(), None);
    assert!(matches!(
        s.commit(&Commit::create(o.clone())).await,
        Err(StoreError::OrderExists)
    ));

    // The parties' names are kept with the order; one stored without them
    // (as before names were kept) reads back with none.
    assert!(!o.buyer_name.is_empty() && !o.seller_name.is_empty());
    let mut unnamed = order("o3", "b1", "s1", 1);
    unnamed.buyer_name.clear();
    unnamed.seller_name.clear();
    s.commit(&Commit::create(unnamed.clone())).await.unwrap();
    assert_eq!(s.order("o3").await.unwrap(), Some(unnamed));
}

pub async fn updates_check_the_version<S: Orders>(s: &S) {
    let o = order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let (next, can) = cancel_one(&o, "li_1", "can_1");
    let mut c = Commit::update(next.clone());
    c.cancellation = Some(can.clone());
    s.commit(&c).await.unwrap();
    assert_eq!(s.order("o1").await.unwrap(), Some(next.clone()));

    // The same change again was decided on a stale version: refused, nothing written.
    let (stale, can2) = cancel_one(&o, "li_2", "can_2");
    let mut c2 = Commit::update(stale);
    c2.cancellation = Some(can2);
    assert!(matches!(
        s.commit(&c2).await,
        Err(StoreError::VersionConflict)
    ));
    let rec = s.order_record("o1").await.unwrap().unwrap();
    assert_eq!(rec.order, next);
    assert_eq!(rec.cancellations, vec![can]);

    let ghost = order("ghost", "b1", "s1", 0);
    let mut g = ghost.clone();
    g.version = 2;
    assert!(matches!(
        s.commit(&Commit::update(g)).await,
        Err(StoreError::OrderMissing)
    ));
    assert_eq!(s.order("ghost").await.unwrap(), None);
}

pub async fn cancellations_are_listed_oldest_first<S: Orders>(s: &S) {
    let mut o = order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..4 {
        let (next, can) = cancel_one(
            &o,
            if i % 2 == 0 { "li_1" } else { "li_2" },
            &format!("can_{}", 9 - i),
        );
        let mut c = Commit::update(next.clone());
        c.cancellation = Some(can.clone());
        s.commit(&c).await.unwrap();
        expected.push(can);
        o = next;
    }
    let rec = s.order_record("o1").await.unwrap().unwrap();
    assert_eq!(rec.cancellations, expected);
    assert_eq!(rec.order.version, 5);
}

pub async fn deliveries_are_processed_once<S: Orders>(s: &S) {
    let o = order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let now = Utc::now();
    let delivery = DeliveryRecord {
        key: "shopify:evt-1".into(),
        company_id: "s1".into(),
        received_at: now,
        expires_at: now + Duration::days(7),
    };
    let (next, can) = cancel_one(&o, "li_1", "can_1");
    let mut c = Commit::update(next.clone());
    c.cancellation = Some(can);
    c.delivery = Some(delivery.clone());
    s.commit(&c).await.unwrap();

    let (again, can2) = cancel_one(&next, "li_1", "can_2");
    let mut c2 = Commit::update(again);
    c2.cancellation = Some(can2);
    c2.delivery = Some(delivery);
    assert!(matches!(
        s.commit(&c2).await,
        Err(StoreError::DeliveryExists)
    ));
    assert_eq!(s.order("o1").await.unwrap(), Some(next));
}

pub async fn fulfillments_commit_with_the_order<S: Orders>(s: &S) {
    let o = order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let mut next = o.clone();
    next.version = 2;
    next.line_items[0].fulfilled = 3;
    let mut c = Commit::update(next.clone());
    c.fulfillment = Some(domain::Fulfillment {
        id: "ful_1".into(),
        order_id: "o1".into(),
        items: vec![domain::FulfilledItem {
            line_item_id: "li_1".into(),
            quantity: 3,
        }],
        tracking_number: Some("1Z999".into()),
        carrier: Some("UPS".into()),
        created_at: next.updated_at,
    });
    s.commit(&c).await.unwrap();
    assert_eq!(s.order("o1").await.unwrap(), Some(next));
}

pub async fn orders_list_newest_first_with_cursor<S: Orders>(s: &S) {
    for i in 0..7 {
        s.commit(&Commit::create(order(&format!("o{i}"), "b1", "s1", i)))
            .await
            .unwrap();
    }
    // Same created_at: the id breaks the tie, consistently.
    s.commit(&Commit::create(order("o7a", "b1", "s2", 6)))
        .await
        .unwrap();
    // Someone else's order.
    s.commit(&Commit::create(order("x1", "b2", "s2", 3)))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .list_orders("b1", StatusFilter::Any, 3, cursor.as_ref())
            .await
            .unwrap();
        assert!(page.orders.len() <= 3);
        seen.extend(page.orders.iter().map(|r| r.order.id.clone()));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ["o7a", "o6", "o5", "o4", "o3", "o2", "o1", "o0"]);

    let seller = s
        .list_orders("s1", StatusFilter::Any, 100, None)
        .await
        .unwrap();
    assert_eq!(seller.orders.len(), 7);
    assert_eq!(seller.next, None);
    let other = s
        .list_orders("b2", StatusFilter::Any, 100, None)
        .await
        .unwrap();
    assert_eq!(
        other
            .orders
            .iter()
            .map(|r| r.order.id.as_str())
            .collect::<Vec<_>>(),
        ["x1"]
    );
    let none = s
        .list_orders("nobody", StatusFilter::Any, 10, None)
        .await
        .unwrap();
    assert!(none.orders.is_empty() && none.next.is_none());

    // Complete o3 (cancel everything) and filter.
    let o3 = s.order("o3").await.unwrap().unwrap();
    let mut done = o3.clone();
    done.version += 1;
    for l in &mut done.line_items {
        l.cancelled = l.quantity;
    }
    let (_, mut can) = cancel_one(&o3, "li_1", "can_x");
    can.kind = CancellationKind::Order;
    let mut c = Commit::update(done);
    c.cancellation = Some(can.clone());
    s.commit(&c).await.unwrap();
    let complete = s
        .list_orders("b1", StatusFilter::Complete, 10, None)
        .await
        .unwrap();
    assert_eq!(complete.orders.len(), 1);
    assert_eq!(complete.orders[0].order.id, "o3");
    assert_eq!(complete.orders[0].cancellations, vec![can]);
    let open = s
        .list_orders("b1", StatusFilter::Open, 10, None)
        .await
        .unwrap();
    assert_eq!(open.orders.len(), 7);
    assert!(open.orders.iter().all(|r| r.order.id != "o3"));
}

/// Many writers decide on the same version; exactly one wins.
pub async fn racing_writers_one_wins<S: Orders + Clone>(s: &S) {
    let o = order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        let o = o.clone();
        tasks.push(tokio::spawn(async move {
            let (next, can) = cancel_one(&o, "li_1", &format!("can_{i}"));
            let mut c = Commit::update(next);
            c.cancellation = Some(can);
            s.commit(&c).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::VersionConflict) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(wins, 1);
    let rec = s.order_record("o1").await.unwrap().unwrap();
    assert_eq!(rec.cancellations.len(), 1);
    assert_eq!(rec.order.line_items[0].cancelled, 1);
}

/// `decide_and_commit`: the decision sees the current order; a commit is
/// written whole with the caller's value, a refusal or "unchanged" writes
/// nothing, a missing order never reaches the decision.
pub async fn decisions_commit_with_the_order<S: Orders + IdempotencyRecords>(s: &S) {
    let o = order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let decided = s
        .decide_and_commit("o1", |cur: &Order| {
            let (next, can) = cancel_one(cur, "li_1", "can_1");
            let mut c = Commit::update(next);
            c.cancellation = Some(can);
            c.idempotency = Some(idem("b1", "k1", Duration::hours(1)));
            Ok::<_, ()>(Decided::Commit(
                Box::new(c),
                format!("decided on v{}", cur.version),
            ))
        })
        .await
        .unwrap();
    assert_eq!(decided, Ok("decided on v1".to_owned()));
    let rec = s.order_record("o1").await.unwrap().unwrap();
    assert_eq!(rec.order.version, 2);
    assert_eq!(rec.order.line_items[0].cancelled, 1);
    assert_eq!(rec.cancellations.len(), 1);
    assert!(s.idempotency_record("b1", "k1").await.unwrap().is_some());

    // The caller's refusal comes back as it is; nothing is written.
    let refused = s
        .decide_and_commit("o1", |cur: &Order| {
            Err::<Decided<()>, _>(format!("refused on v{}", cur.version))
        })
        .await
        .unwrap();
    assert_eq!(refused, Err("refused on v2".to_owned()));
    let unchanged = s
        .decide_and_commit("o1", |cur: &Order| {
            Ok::<_, ()>(Decided::Unchanged(cur.version))
        })
        .await
        .unwrap();
    assert_eq!(unchanged, Ok(2));
    assert_eq!(s.order_record("o1").await.unwrap().unwrap(), rec);

    // A decision carrying a used key is refused whole.
    let reused = s
        .decide_and_commit("o1", |cur: &Order| {
            let (next, can) = cancel_one(cur, "li_2", "can_2");
            let mut c = Commit::update(next);
            c.cancellation = Some(can);
            c.idempotency = Some(idem("b1", "k1", Duration::hours(1)));
            Ok::<_, ()>(Decided::Commit(Box::new(c), ()))
        })
        .await;
    assert!(
        matches!(reused, Err(StoreError::IdempotencyKeyExists { .. })),
        "{reused:?}"
    );
    assert_eq!(s.order_record("o1").await.unwrap().unwrap(), rec);

    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&ran);
    let ghost = s
        .decide_and_commit("ghost", move |_: &Order| {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(Decided::Unchanged(()))
        })
        .await;
    assert!(matches!(ghost, Err(StoreError::OrderMissing)), "{ghost:?}");
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
}

/// Deciders on one order at once, each trying again at once whenever it
/// loses a race (`VersionConflict`), spread over `stores` (handles on the
/// same data): every one commits exactly once. Returns how many races were
/// lost in all.
pub async fn deciders_on<S: Orders + Clone>(stores: &[S]) -> usize {
    const DECIDERS: usize = 32;
    let Some(first) = stores.first() else {
        return 0;
    };
    let mut o = order("o1", "b1", "s1", 0);
    o.line_items[0].quantity = 100;
    first.commit(&Commit::create(o)).await.unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(DECIDERS));
    let mut tasks = Vec::new();
    for i in 0..DECIDERS {
        let s = stores[i % stores.len()].clone();
        let barrier = std::sync::Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            for lost in 0..1000 {
                let decided = s
                    .decide_and_commit("o1", move |cur: &Order| {
                        let (next, can) = cancel_one(cur, "li_1", &format!("can_{i}"));
                        let mut c = Commit::update(next);
                        c.cancellation = Some(can);
                        Ok::<_, ()>(Decided::Commit(Box::new(c), ()))
                    })
                    .await;
                match decided {
                    Ok(Ok(())) => return lost,
                    Err(StoreError::VersionConflict) => tokio::task::yield_now().await,
                    other => panic!("decider {i}: {other:?}"),
                }
            }
            panic!("decider {i} lost 1000 races");
        }));
    }
    let mut lost = 0;
    for t in tasks {
        lost += t.await.unwrap();
    }
    let rec = first.order_record("o1").await.unwrap().unwrap();
    assert_eq!(rec.order.version, 1 + DECIDERS as u64);
    assert_eq!(rec.order.line_items[0].cancelled, DECIDERS as u32);
    let mut ids: Vec<String> = rec.cancellations.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), DECIDERS, "one cancellation per decider");
    lost
}

pub async fn concurrent_deciders_each_commit_once<S: Orders + Clone>(s: &S) {
    let lost = deciders_on(std::slice::from_ref(s)).await;
    eprintln!("concurrent deciders: {lost} lost races");
}

/// The cancellations made since a time, oldest first (operator sweeps).
pub async fn cancellations_since_a_time<S: Orders>(s: &S) {
    let o = crate::fixtures::order("o-since", "b1", "s1", 0);
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let (next, first) = cancel_one(&o, "li_1", "can-s1");
    let mut c = Commit::update(next.clone());
    c.cancellation = Some(first.clone());
    s.commit(&c).await.unwrap();
    let (_, mut second) = cancel_one(&next, "li_2", "can-s2");
    second.created_at = first.created_at + Duration::minutes(10);
    let mut later = next.clone();
    later.version += 1;
    later.line_items[1].cancelled += 1;
    let mut c = Commit::update(later);
    c.cancellation = Some(second.clone());
    s.commit(&c).await.unwrap();

    let all = s.cancellations_since(first.created_at).await.unwrap();
    let mine: Vec<&str> = all
        .iter()
        .filter(|c| c.order_id == "o-since")
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(mine, ["can-s1", "can-s2"]);
    let recent = s
        .cancellations_since(first.created_at + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        recent
            .iter()
            .filter(|c| c.order_id == "o-since")
            .collect::<Vec<_>>(),
        [&second]
    );
}

/// Generates the contract suite for a store built by `$make` (an expression,
/// evaluated once per test inside a multi-threaded Tokio runtime).
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_tests!(@tests $make;
            companies_and_api_keys,
            company_secrets_are_kept_apart,
            company_changes_decide_on_the_stored_company,
            concurrent_key_changes_lose_nothing,
            cancellations_since_a_time,
            create_and_read_orders,
            updates_check_the_version,
            cancellations_are_listed_oldest_first,
            idempotency_key_commits_atomically,
            standalone_idempotency_records,
            deliveries_are_processed_once,
            fulfillments_commit_with_the_order,
            orders_list_newest_first_with_cursor,
            platform_lookups,
            changed_refs_move_the_lookups,
            seller_orders_by_buyer_po,
            racing_writers_one_wins,
            decisions_commit_with_the_order,
            concurrent_deciders_each_commit_once,
            scorecard_counts_match_a_recount,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        mod store_contract {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let store = $make;
                    $crate::store_contract::$name(&store).await;
                }
            )*
        }
    };
}
