//! The store-sync plan from an order's state.
use domain::sync::{OrderUpdate, PlanError, RefundLine, ShopifyRoutine, SyncAction, plan};
use domain::{
    Cancellation, CancellationKind, CancelledItem, Company, Connection, Integration, Order,
    Platform, PlatformId, Role, Source,
};
use testkit::fixtures;

fn order() -> Order {
    let mut o = fixtures::order("o1", "b1", "s1", 0);
    o.buyer_order_ref = Some("5001".into());
    o.seller_order_ref = Some("731".into());
    o.line_items[0].buyer_line_ref = Some("13001".into());
    o.line_items[0].seller_line_ref = Some("41".into());
    o.line_items[1].seller_line_ref = Some("42".into());
    o
}

fn cancellation(kind: CancellationKind, items: &[(&str, u32)]) -> Cancellation {
    Cancellation {
        id: "can_1".into(),
        order_id: "o1".into(),
        initiated_by: Role::Buyer,
        source: Source::Api,
        kind,
        items: items
            .iter()
            .map(|(l, q)| CancelledItem {
                line_item_id: (*l).into(),
                quantity: *q,
                reason_code: domain::ReasonCode::Other,
                reason: Some("r".into()),
            })
            .collect(),
        created_at: chrono::Utc::now(),
    }
}

fn company(integration: Integration, role: Role) -> Company {
    let mut c = fixtures::company(if role == Role::Buyer { "b1" } else { "s1" }, role);
    c.integration = integration;
    c.connection = Some(Connection::default());
    c
}

#[test]
fn partial_sets_new_quantities_from_the_order_state() {
    let mut o = order();
    o.line_items[0].cancelled = 2; // of 3: one left
    let can = cancellation(CancellationKind::Items, &[("li_1", 2)]);
    let woo = company(Integration::Store(Platform::WooCommerce), Role::Seller);
    let p = plan(&woo, Role::Seller, &o, &can).unwrap().unwrap();
    assert_eq!(p.order_ref.to_string(), "731");
    assert_eq!(
        (p.platform, p.action),
        (
            Platform::WooCommerce,
            SyncAction::Update(OrderUpdate::SetQuantities(vec![(41, 1)]))
        )
    );
    let bc = company(Integration::Store(Platform::BigCommerce), Role::Seller);
    let mut coded = can.clone();
    coded.items[0].reason_code = domain::ReasonCode::OutOfStock;
    let p = plan(&bc, Role::Seller, &o, &coded).unwrap().unwrap();
    // The store's staff note names the code with its label.
    assert_eq!(
        p.note,
        "Dropship order o1 cancellation can_1: Out of stock (out_of_stock)"
    );
    assert_eq!(
        (p.platform, p.action),
        (
            Platform::BigCommerce,
            SyncAction::Update(OrderUpdate::SetQuantities(vec![(41, 1)]))
        )
    );
}

#[test]
fn whole_order_sets_the_status() {
    let can = cancellation(CancellationKind::Order, &[("li_1", 3), ("li_2", 2)]);
    let woo = company(Integration::Store(Platform::WooCommerce), Role::Seller);
    let p = plan(&woo, Role::Seller, &order(), &can).unwrap().unwrap();
    assert_eq!(
        (p.platform, p.action),
        (
            Platform::WooCommerce,
            SyncAction::Update(OrderUpdate::CancelOrder)
        )
    );
}

#[test]
fn shopify_buyer_refunds_mapped_lines_and_notes_the_rest() {
    let mut o = order();
    o.line_items[0].cancelled = 1;
    o.line_items[1].cancelled = 1;
    let can = cancellation(CancellationKind::Items, &[("li_1", 1), ("li_2", 1)]);
    let shop = company(Integration::Store(Platform::Shopify), Role::Buyer);
    let p = plan(&shop, Role::Buyer, &o, &can).unwrap().unwrap();
    assert_eq!(p.order_ref.to_string(), "5001");
    let SyncAction::ShopifyRefund { lines, routine, .. } = &p.action else {
        panic!()
    };
    assert_eq!(
        lines,
        &[RefundLine {
            line_ref: PlatformId::parse("13001").unwrap(),
            cancelled: 1,
            target: 2
        }]
    );
    assert_eq!(p.unmapped_lines, ["li_2"]);
    assert_eq!(
        *routine,
        ShopifyRoutine {
            notify_customer: true,
            refund_shipping: true,
            archive: true
        },
        "a buyer's store: the product page's routine"
    );
}

#[test]
fn shopify_seller_refunds_without_the_buyers_routine() {
    let mut o = order();
    o.line_items[0].cancelled = 3;
    o.line_items[0].seller_line_ref = Some("13001".into());
    o.seller_order_ref = Some("7001".into());
    let can = cancellation(CancellationKind::Order, &[("li_1", 3)]);
    let shop = company(Integration::Store(Platform::Shopify), Role::Seller);
    let p = plan(&shop, Role::Seller, &o, &can).unwrap().unwrap();
    let SyncAction::ShopifyRefund { routine, .. } = &p.action else {
        panic!()
    };
    assert_eq!(
        *routine,
        ShopifyRoutine {
            notify_customer: false,
            refund_shipping: false,
            archive: false
        },
        "a seller's store holds the dropship copy: no email to its customer, \
         no shipping refund, no archive"
    );
}

#[test]
fn no_sync_for_email_only_partners_and_refusals_for_missing_data() {
    let can = cancellation(CancellationKind::Items, &[("li_1", 1)]);
    for (i, r) in [
        (Integration::Api, Role::Seller),
        (Integration::Edi, Role::Buyer),
        (Integration::Store(Platform::WooCommerce), Role::Buyer),
    ] {
        assert_eq!(plan(&company(i, r), r, &order(), &can).unwrap(), None);
    }
    let mut o = order();
    o.seller_order_ref = None;
    let woo = company(Integration::Store(Platform::WooCommerce), Role::Seller);
    assert!(matches!(
        plan(&woo, Role::Seller, &o, &can),
        Err(PlanError::NoOrderRef { .. })
    ));
    let mut bare = woo.clone();
    bare.connection = None;
    assert!(matches!(
        plan(&bare, Role::Seller, &order(), &can),
        Err(PlanError::NoConnection { .. })
    ));
    let mut o = order();
    o.line_items[0].seller_line_ref = Some("not-a-number".into());
    assert!(matches!(
        plan(&woo, Role::Seller, &o, &can),
        Err(PlanError::InvalidRef { .. })
    ));
}
