//! Look-ups of orders by the parties' own references.

use domain::{Order, Role};
use service::store::*;

use crate::fixtures::*;

pub async fn platform_lookups<S: Orders + Companies>(s: &S) {
    let mut shop = company("shop1", Role::Buyer);
    shop.integration = domain::Integration::Store(domain::Platform::Shopify);
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
pub async fn changed_refs_move_the_lookups<S: Orders>(s: &S) {
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
pub async fn seller_orders_by_buyer_po<S: Orders>(s: &S) {
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
