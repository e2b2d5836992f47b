//! The store contract: one suite, run against every `Store` implementation
//! through `store_contract_tests!`.

use chrono::{Duration, Utc};

use domain::{CancellationKind, Order, Role};
use service::store::*;

use crate::fixtures::*;

pub async fn companies_and_api_keys<S: Store>(s: &S) {
    let mut c = company("b1", Role::Buyer);
    s.put_company(&c).await.unwrap();
    assert_eq!(s.company("b1").await.unwrap(), Some(c.clone()));
    assert_eq!(
        s.company_by_api_key_hash("hash-of-b1").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(s.company("nope").await.unwrap(), None);
    assert_eq!(s.company_by_api_key_hash("nope").await.unwrap(), None);

    // Replacing a company replaces its keys; putting it again changes nothing.
    c.api_keys = vec![domain::ApiKey::from_hash("rotated", None)];
    s.put_company(&c).await.unwrap();
    s.put_company(&c).await.unwrap();
    assert_eq!(s.company_by_api_key_hash("hash-of-b1").await.unwrap(), None);
    assert_eq!(
        s.company_by_api_key_hash("rotated").await.unwrap(),
        Some(c.clone())
    );

    // A key cannot be taken over by another company.
    let mut thief = company("s1", Role::Seller);
    thief.api_keys = vec![domain::ApiKey::from_hash("rotated", None)];
    assert!(matches!(
        s.put_company(&thief).await,
        Err(StoreError::ApiKeyTaken { company_id }) if company_id == "s1"
    ));
    assert_eq!(s.company_by_api_key_hash("rotated").await.unwrap(), Some(c));
}

pub async fn create_and_read_orders<S: Store>(s: &S) {
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

pub async fn updates_check_the_version<S: Store>(s: &S) {
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

pub async fn cancellations_are_listed_oldest_first<S: Store>(s: &S) {
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

pub async fn idempotency_key_commits_atomically<S: Store>(s: &S) {
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

pub async fn standalone_idempotency_records<S: Store>(s: &S) {
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

pub async fn deliveries_are_processed_once<S: Store>(s: &S) {
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

pub async fn fulfillments_commit_with_the_order<S: Store>(s: &S) {
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

pub async fn orders_list_newest_first_with_cursor<S: Store>(s: &S) {
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

pub async fn platform_lookups<S: Store>(s: &S) {
    let mut shop = company("shop1", Role::Buyer);
    shop.integration = domain::Integration::Shopify;
    shop.connection = Some(domain::Connection {
        shop_domain: Some("Maple.myshopify.com".into()),
        ..Default::default()
    });
    s.put_company(&shop).await.unwrap();
    assert_eq!(
        s.company_by_shop_domain("maple.myshopify.com")
            .await
            .unwrap(),
        Some(shop.clone())
    );
    assert_eq!(
        s.company_by_shop_domain("MAPLE.myshopify.com")
            .await
            .unwrap(),
        Some(shop.clone())
    );
    assert_eq!(
        s.company_by_shop_domain("other.myshopify.com")
            .await
            .unwrap(),
        None
    );
    // A domain cannot be taken over by another company.
    let mut thief = company("shop2", Role::Seller);
    thief.api_keys.clear();
    thief.connection = shop.connection.clone();
    assert!(matches!(
        s.put_company(&thief).await,
        Err(StoreError::ShopDomainTaken { company_id }) if company_id == "shop2"
    ));
    // Moving the shop to another domain frees the old one.
    shop.connection = Some(domain::Connection {
        shop_domain: Some("maple-new.myshopify.com".into()),
        ..Default::default()
    });
    s.put_company(&shop).await.unwrap();
    assert_eq!(
        s.company_by_shop_domain("maple.myshopify.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.company_by_shop_domain("maple-new.myshopify.com")
            .await
            .unwrap(),
        Some(shop)
    );

    // One store order of the buyer spans two of our orders (two sellers).
    let mut a = order("oa", "shop1", "s1", 0);
    a.buyer_order_ref = Some("5001".into());
    a.seller_order_ref = Some("W-1".into());
    let mut b = order("ob", "shop1", "s2", 1);
    b.buyer_order_ref = Some("5001".into());
    let mut c = order("oc", "shop1", "s1", 2);
    c.buyer_order_ref = Some("5002".into());
    for o in [&a, &b, &c] {
        s.commit(&Commit::create(o.clone())).await.unwrap();
    }
    let ids = |v: Vec<Order>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.orders_by_ref("shop1", Role::Buyer, "5001").await.unwrap()),
        ["oa", "ob"]
    );
    assert_eq!(
        ids(s.orders_by_ref("shop1", Role::Buyer, "5002").await.unwrap()),
        ["oc"]
    );
    assert_eq!(
        ids(s.orders_by_ref("s1", Role::Seller, "W-1").await.unwrap()),
        ["oa"]
    );
    assert!(
        s.orders_by_ref("s2", Role::Seller, "W-1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.orders_by_ref("shop1", Role::Seller, "5001")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.orders_by_ref("other", Role::Buyer, "5001")
            .await
            .unwrap()
            .is_empty()
    );
}

/// A change of references moves the order's look-ups: found under the new
/// ones, no longer under the old, the other party's untouched.
pub async fn changed_refs_move_the_lookups<S: Store>(s: &S) {
    let mut o = order("o1", "b1", "s1", 0);
    o.buyer_order_ref = Some("5001".into());
    o.seller_order_ref = Some("731".into());
    s.commit(&Commit::create(o.clone())).await.unwrap();
    let ids = |v: Vec<Order>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();

    // The seller's reference changes; the buyer's stays.
    let mut next = o.clone();
    next.version += 1;
    next.seller_order_ref = Some("732".into());
    s.commit(&Commit::update(next.clone()).replacing_refs_of(&o))
        .await
        .unwrap();
    assert_eq!(
        ids(s.orders_by_ref("s1", Role::Seller, "732").await.unwrap()),
        ["o1"]
    );
    assert!(
        s.orders_by_ref("s1", Role::Seller, "731")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(s.orders_by_ref("b1", Role::Buyer, "5001").await.unwrap()),
        ["o1"]
    );
    assert_eq!(
        s.orders_by_ref("s1", Role::Seller, "732").await.unwrap()[0],
        next,
        "the look-up returns the current state"
    );

    // A first reference appears where there was none (and the same
    // reference set again changes nothing).
    let mut bare = order("o2", "b1", "s1", 1);
    bare.buyer_order_ref = None;
    s.commit(&Commit::create(bare.clone())).await.unwrap();
    let mut with = bare.clone();
    with.version += 1;
    with.buyer_order_ref = Some("6001".into());
    s.commit(&Commit::update(with.clone()).replacing_refs_of(&bare))
        .await
        .unwrap();
    let mut same = with.clone();
    same.version += 1;
    s.commit(&Commit::update(same).replacing_refs_of(&with))
        .await
        .unwrap();
    assert_eq!(
        ids(s.orders_by_ref("b1", Role::Buyer, "6001").await.unwrap()),
        ["o2"]
    );

    // A lost race changes no look-up.
    let mut stale = next.clone();
    stale.seller_order_ref = Some("999".into());
    assert!(matches!(
        s.commit(&Commit::update(stale).replacing_refs_of(&o)).await,
        Err(StoreError::VersionConflict)
    ));
    assert!(
        s.orders_by_ref("s1", Role::Seller, "999")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(s.orders_by_ref("s1", Role::Seller, "732").await.unwrap()),
        ["o1"]
    );
}

/// A seller's orders by the buyer's order ref (the buyer's PO number, as
/// a seller's EDI documents name the order): all of that seller's with
/// that PO, by id, in their current state; never another seller's, never
/// by the seller's own ref; following the buyer's ref as it changes; the
/// buyer's own look-up as before.
pub async fn seller_orders_by_buyer_po<S: Store>(s: &S) {
    let ids = |v: Vec<Order>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
    let mut a = order("oa", "b1", "s1", 0);
    a.buyer_order_ref = Some("PO-1".into());
    a.seller_order_ref = Some("SO-1".into());
    // The same seller, the same PO (another buyer's, or a number reused).
    let mut b = order("ob", "b2", "s1", 1);
    b.buyer_order_ref = Some("PO-1".into());
    // Another seller's part of the buyer's PO.
    let mut c = order("oc", "b1", "s2", 2);
    c.buyer_order_ref = Some("PO-1".into());
    // The seller's order without a buyer's ref.
    let mut d = order("od", "b1", "s1", 3);
    d.buyer_order_ref = None;
    // Keys do not run together: seller `s1#x` with PO `PO-1` is not
    // seller `s1` with PO `x#PO-1`.
    let mut e = order("oe", "b1", "s1#x", 4);
    e.buyer_order_ref = Some("PO-1".into());
    for o in [&b, &a, &c, &d, &e] {
        s.commit(&Commit::create(o.clone())).await.unwrap();
    }

    // Found after creation: every order of the seller with that PO.
    assert_eq!(
        s.seller_orders_by_po("s1", "PO-1").await.unwrap(),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        ids(s.seller_orders_by_po("s2", "PO-1").await.unwrap()),
        ["oc"]
    );
    assert_eq!(
        ids(s.seller_orders_by_po("s1#x", "PO-1").await.unwrap()),
        ["oe"]
    );
    // Not for another seller, nor for the buyer as if it were one.
    for (seller, po) in [("s3", "PO-1"), ("b1", "PO-1"), ("s1", "x#PO-1")] {
        assert!(
            s.seller_orders_by_po(seller, po).await.unwrap().is_empty(),
            "{seller} {po}"
        );
    }
    // Not by the seller's own order ref.
    assert!(
        s.seller_orders_by_po("s1", "SO-1")
            .await
            .unwrap()
            .is_empty()
    );
    // The parties' own look-ups are unchanged.
    assert_eq!(
        ids(s.orders_by_ref("b1", Role::Buyer, "PO-1").await.unwrap()),
        ["oa", "oc", "oe"]
    );
    assert_eq!(
        ids(s.orders_by_ref("s1", Role::Seller, "SO-1").await.unwrap()),
        ["oa"]
    );
    assert!(
        s.orders_by_ref("s1", Role::Seller, "PO-1")
            .await
            .unwrap()
            .is_empty()
    );

    // The buyer's ref changes: found under the new PO, gone from the old.
    let mut next = a.clone();
    next.version += 1;
    next.buyer_order_ref = Some("PO-2".into());
    s.commit(&Commit::update(next.clone()).replacing_refs_of(&a))
        .await
        .unwrap();
    assert_eq!(
        s.seller_orders_by_po("s1", "PO-2").await.unwrap(),
        [next.clone()]
    );
    assert_eq!(
        ids(s.seller_orders_by_po("s1", "PO-1").await.unwrap()),
        ["ob"]
    );
    assert_eq!(
        ids(s.orders_by_ref("b1", Role::Buyer, "PO-2").await.unwrap()),
        ["oa"]
    );
    assert_eq!(
        ids(s.orders_by_ref("b1", Role::Buyer, "PO-1").await.unwrap()),
        ["oc", "oe"]
    );
    assert_eq!(
        ids(s.orders_by_ref("s1", Role::Seller, "SO-1").await.unwrap()),
        ["oa"]
    );

    // A change that leaves the refs alone keeps the order found, as it is now.
    let (cancelled, can) = cancel_one(&next, "li_1", "can_1");
    let mut commit = Commit::update(cancelled.clone());
    commit.cancellation = Some(can);
    s.commit(&commit).await.unwrap();
    assert_eq!(
        s.seller_orders_by_po("s1", "PO-2").await.unwrap(),
        [cancelled]
    );

    // A first buyer's ref where there was none; one taken away.
    let mut with = d.clone();
    with.version += 1;
    with.buyer_order_ref = Some("PO-2".into());
    s.commit(&Commit::update(with.clone()).replacing_refs_of(&d))
        .await
        .unwrap();
    assert_eq!(
        ids(s.seller_orders_by_po("s1", "PO-2").await.unwrap()),
        ["oa", "od"]
    );
    let mut without = with.clone();
    without.version += 1;
    without.buyer_order_ref = None;
    s.commit(&Commit::update(without).replacing_refs_of(&with))
        .await
        .unwrap();
    assert_eq!(
        ids(s.seller_orders_by_po("s1", "PO-2").await.unwrap()),
        ["oa"]
    );

    // A lost race changes no look-up.
    let mut stale = next.clone();
    stale.buyer_order_ref = Some("PO-9".into());
    assert!(matches!(
        s.commit(&Commit::update(stale).replacing_refs_of(&a)).await,
        Err(StoreError::VersionConflict)
    ));
    assert!(
        s.seller_orders_by_po("s1", "PO-9")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(s.seller_orders_by_po("s1", "PO-2").await.unwrap()),
        ["oa"]
    );
}

/// Many writers decide on the same version; exactly one wins.
pub async fn racing_writers_one_wins<S: Store + Clone>(s: &S) {
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
pub async fn decisions_commit_with_the_order<S: Store>(s: &S) {
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
pub async fn deciders_on<S: Store + Clone>(stores: &[S]) -> usize {
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

pub async fn concurrent_deciders_each_commit_once<S: Store + Clone>(s: &S) {
    let lost = deciders_on(std::slice::from_ref(s)).await;
    eprintln!("concurrent deciders: {lost} lost races");
}

/// A company's secrets are kept apart from its record but read back with it
/// by id and by shop domain; a company found by API key carries none.
pub async fn company_secrets_are_kept_apart<S: Store>(s: &S) {
    let mut c = crate::fixtures::company("shop1", Role::Seller);
    c.integration = domain::Integration::Shopify;
    c.connection = Some(domain::Connection {
        shop_domain: Some("shop1.myshopify.com".into()),
        webhook_secret: Some("whsec-1".into()),
        access_token: Some("shpat-1".into()),
        ..domain::Connection::default()
    });
    s.put_company(&c).await.unwrap();
    assert_eq!(s.company("shop1").await.unwrap().as_ref(), Some(&c));
    assert_eq!(
        s.company_by_shop_domain("shop1.myshopify.com")
            .await
            .unwrap()
            .as_ref(),
        Some(&c)
    );
    let by_key = s
        .company_by_api_key_hash("hash-of-shop1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key, c.split_secrets().0);

    // A rotated secret replaces the old one; one removed is gone.
    let mut rotated = c.clone();
    rotated.connection.as_mut().unwrap().webhook_secret = Some("whsec-2".into());
    rotated.connection.as_mut().unwrap().access_token = None;
    s.put_company(&rotated).await.unwrap();
    assert_eq!(s.company("shop1").await.unwrap(), Some(rotated.clone()));

    // The full listing (operator commands) carries no secrets.
    let all = s.companies().await.unwrap();
    let listed = all.iter().find(|x| x.id == "shop1").unwrap();
    assert_eq!(*listed, rotated.split_secrets().0);
    let mut ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "each company once");
}

/// `change_company`: the change sees the stored company (`None` when
/// there is none); its refusal comes back with nothing written;
/// `Unchanged` writes nothing; a company put under another id is refused;
/// changes made at once, each adding a key to what it read, all land.
pub async fn company_changes_decide_on_the_stored_company<S: Store + Clone>(s: &S) {
    use domain::Company;
    let missing = s
        .change_company("cc1", |stored: Option<&Company>| {
            Err::<CompanyWrite<()>, _>(stored.is_none())
        })
        .await
        .unwrap();
    assert_eq!(missing, Err(true));
    assert_eq!(s.company("cc1").await.unwrap(), None);

    let c = company("cc1", Role::Seller);
    let new = c.clone();
    let added = s
        .change_company("cc1", move |stored: Option<&Company>| match stored {
            None => Ok(CompanyWrite::Put(Box::new(new.clone()), "added")),
            Some(_) => Err(()),
        })
        .await
        .unwrap();
    assert_eq!(added, Ok("added"));
    assert_eq!(s.company("cc1").await.unwrap(), Some(c.clone()));
    let unchanged = s
        .change_company("cc1", |stored: Option<&Company>| {
            Ok::<_, ()>(CompanyWrite::Unchanged(stored.map(|c| c.name.clone())))
        })
        .await
        .unwrap();
    assert_eq!(unchanged, Ok(Some(c.name.clone())));
    let elsewhere = s
        .change_company("cc1", |_: Option<&Company>| {
            Ok::<_, ()>(CompanyWrite::Put(
                Box::new(company("cc2", Role::Seller)),
                (),
            ))
        })
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::Internal(_))),
        "{elsewhere:?}"
    );
    assert_eq!(s.company("cc2").await.unwrap(), None);

    const WRITERS: usize = 6;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let s = s.clone();
        let barrier = std::sync::Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.change_company("cc1", move |stored: Option<&Company>| {
                let mut c = stored.cloned().ok_or(())?;
                c.api_keys
                    .push(domain::ApiKey::from_hash(format!("cc1-hash-{i}"), None));
                Ok::<_, ()>(CompanyWrite::Put(Box::new(c), ()))
            })
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Ok(()));
    }
    let stored = s.company("cc1").await.unwrap().unwrap();
    assert_eq!(stored.api_keys.len(), 1 + WRITERS, "{:?}", stored.api_keys);
    for i in 0..WRITERS {
        assert_eq!(
            s.company_by_api_key_hash(&format!("cc1-hash-{i}"))
                .await
                .unwrap()
                .map(|c| c.id),
            Some("cc1".to_owned())
        );
    }
}

/// Key changes on one company at once (creates and a revoke, each a
/// read-modify-write of the key list) and an update of its details, over
/// several rounds: every change lands. Every created key authenticates,
/// the revoked one does not, the stored list holds exactly what the
/// changes left, and the update's details are kept.
pub async fn concurrent_key_changes_lose_nothing<S: Store + Clone>(s: &S) {
    use service::app::App;
    const CREATES: usize = 6;
    const ROUNDS: usize = 3;
    s.put_company(&company("k1", Role::Buyer)).await.unwrap();
    let app = App::new(s.clone());
    let mut doomed = app.create_key("k1").await.unwrap();
    for round in 0..ROUNDS {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CREATES + 2));
        let mut creates = Vec::new();
        for _ in 0..CREATES {
            let app = App::new(s.clone());
            let barrier = std::sync::Arc::clone(&barrier);
            creates.push(tokio::spawn(async move {
                barrier.wait().await;
                app.create_key("k1").await
            }));
        }
        let revoke = {
            let app = App::new(s.clone());
            let id = doomed.key.id.clone();
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                app.revoke_key("k1", &id).await
            })
        };
        let update = {
            let app = App::new(s.clone());
            let mut renamed = company("k1", Role::Buyer);
            renamed.name = format!("Renamed in round {round}");
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                app.update_company(&renamed).await
            })
        };
        let revoked = revoke.await.unwrap().unwrap();
        assert_eq!(revoked.id, doomed.key.id);
        update.await.unwrap().unwrap();
        let mut created = Vec::new();
        for t in creates {
            created.push(t.await.unwrap().unwrap());
        }
        assert!(
            app.authenticate(&doomed.secret).await.is_err(),
            "round {round}: the revoked key still authenticates"
        );
        for k in &created {
            assert!(
                app.authenticate(&k.secret).await.is_ok(),
                "round {round}: created key {} was lost",
                k.key.id
            );
        }
        doomed = created.pop().unwrap();
    }
    let stored = s.company("k1").await.unwrap().unwrap();
    assert_eq!(stored.name, format!("Renamed in round {}", ROUNDS - 1));
    assert_eq!(
        stored.api_keys.len(),
        2 + ROUNDS * CREATES - ROUNDS,
        "{:?}",
        stored.api_keys
    );
}

/// The cancellations made since a time, oldest first (operator sweeps).
pub async fn cancellations_since_a_time<S: Store>(s: &S) {
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
