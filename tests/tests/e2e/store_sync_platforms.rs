//! Store sync against fakes that behave as the platforms document
//! (`testkit::stores` names each source): Shopify's versions and
//! idempotent refunds, the buyer's and the seller's routines, WooCommerce's
//! line totals and BigCommerce's discounts on a partial cancellation.

use std::time::Duration;

use domain::sync::{OrderUpdate, RefundLine, ShopifyRoutine, SyncAction, SyncPlan};
use domain::{Connection, Platform, PlatformId, Role};
use platforms::client::{HttpStoreSync, PlatformHttp, RetryPolicy};
use serde_json::{Value, json};
use service::sync::{StoreSync, SyncError};
use testkit::stores::{
    BcOrder, BcProduct, Decimal, FakeBigCommerce, FakeShopify, FakeWooCommerce, ShopLine,
    ShopOrder, WooLine, WooOrder,
};

fn fast_http() -> PlatformHttp {
    PlatformHttp::new(RetryPolicy {
        attempts: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    })
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn conn(base: &str) -> Connection {
    Connection {
        api_base_url: Some(base.to_owned()),
        access_token: Some("token".into()),
        consumer_key: Some("ck".into()),
        consumer_secret: Some("cs".into()),
        store_hash: Some("birch123".into()),
        ..Connection::default()
    }
}

fn plan(base: &str, order_ref: &str, (platform, action): (Platform, SyncAction)) -> SyncPlan {
    SyncPlan {
        order_id: "ord_1".into(),
        cancellation_id: "can_1".into(),
        company_id: "partner".into(),
        platform,
        connection: conn(base),
        order_ref: PlatformId::parse(order_ref).unwrap(),
        action,
        unmapped_lines: vec![],
        note: String::new(),
    }
}

fn shop() -> (FakeShopify, ShopOrder) {
    let order = ShopOrder {
        id: 5001,
        closed: false,
        cancelled_at: None,
        currency: "USD".into(),
        lines: vec![
            ShopLine {
                id: 13001,
                quantity: 2,
                current: 2,
                price: d("34.00"),
            },
            ShopLine {
                id: 13002,
                quantity: 3,
                current: 3,
                price: d("11.00"),
            },
        ],
    };
    (FakeShopify::today(), order)
}

fn refund(party: Role, lines: &[(&str, u32, u32)]) -> (Platform, SyncAction) {
    let action = SyncAction::ShopifyRefund {
        lines: lines
            .iter()
            .map(|(r, cancelled, target)| RefundLine {
                line_ref: PlatformId::parse(r).unwrap(),
                cancelled: *cancelled,
                target: *target,
            })
            .collect(),
        note: "Dropship order ord_1 cancellation can_1".into(),
        routine: ShopifyRoutine::for_party(party),
    };
    (Platform::Shopify, action)
}

#[tokio::test]
async fn shopify_refunds_carry_an_idempotency_key_at_the_pinned_version() {
    // From 2027-01-01 Shopify serves 2026-04 as the oldest version, and
    // 2026-04 requires @idempotent on refundCreate.
    let shopify = FakeShopify::new(&["2026-04", "2026-07", "2026-10", "2027-01"]);
    let (_, order) = shop();
    shopify.add_order(order);
    let server = shopify.start().await;
    let sync = HttpStoreSync::new(fast_http());
    let all = refund(Role::Buyer, &[("13001", 2, 0), ("13002", 3, 0)]);
    let detail = sync.apply(&plan(&server.uri(), "5001", all)).await.unwrap();
    assert!(detail.contains("refunded 5 unit(s)"), "{detail}");
    let refunds = shopify.refunds();
    assert_eq!(refunds.len(), 1);
    let key = refunds[0].idempotency_key.clone().unwrap();
    assert_eq!(key.len(), 36, "{key}");
    assert!(
        shopify
            .versions_served()
            .iter()
            .all(|v| v == platforms::SHOPIFY_API_VERSION),
        "asked for and served as {}",
        platforms::SHOPIFY_API_VERSION
    );

    // What the code did before: 2025-10, served as 2026-04, no key.
    let old = reqwest_post(
        &format!("{}/admin/api/2025-10/graphql.json", server.uri()),
        json!({"query": "mutation R($input: RefundInput!) { refundCreate(input: $input) { refund { id } userErrors { field message } } }",
               "variables": {"input": {"orderId": "gid://shopify/Order/5001"}}}),
    )
    .await;
    assert!(
        old["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("@idempotent")
    );
    assert_eq!(shopify.refunds().len(), 1, "no refund without a key");
}

async fn reqwest_post(url: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_replays_the_refund() {
    let (shopify, order) = shop();
    shopify.add_order(order);
    let server = shopify.start().await;
    // The refund goes through but its answer is lost, and the next read
    // still shows the old quantities (a lagging read).
    shopify.lose_next_refund_answer();
    shopify.freeze_reads();
    let sync = HttpStoreSync::new(fast_http());
    let p = plan(
        &server.uri(),
        "5001",
        refund(Role::Buyer, &[("13002", 1, 2)]),
    );
    let first = sync.apply(&p).await;
    assert!(matches!(first, Err(SyncError::Unavailable(_))), "{first:?}");
    let second = sync.apply(&p).await.unwrap();
    assert!(second.contains("refunded 1 unit(s)"), "{second}");
    assert_eq!(
        shopify.refunds().len(),
        1,
        "the retry replays the first refund under its key"
    );
    let o = shopify.order(5001).unwrap();
    assert_eq!(o.lines[1].current, 2, "one unit refunded, once");
}

#[tokio::test]
async fn buyer_and_seller_stores_get_their_own_routines() {
    for (party, notify, shipping, closed) in [
        (Role::Buyer, true, true, true),
        (Role::Seller, false, false, false),
    ] {
        let (shopify, order) = shop();
        shopify.add_order(order);
        let server = shopify.start().await;
        let sync = HttpStoreSync::new(fast_http());
        let whole = refund(party, &[("13001", 2, 0), ("13002", 3, 0)]);
        sync.apply(&plan(&server.uri(), "5001", whole))
            .await
            .unwrap();
        let r = &shopify.refunds()[0];
        assert_eq!(r.input["notify"], json!(notify), "{party:?}");
        assert_eq!(
            r.input["shipping"]["fullRefund"] == json!(true),
            shipping,
            "{party:?}"
        );
        assert_eq!(shopify.order(5001).unwrap().closed, closed, "{party:?}");
    }
}

#[tokio::test]
async fn version_drift_and_deprecations_are_logged_counted_and_kept() {
    // A year on: 2026-10 is retired and served as 2027-01.
    let shopify = FakeShopify::new(&["2027-01", "2027-04"]);
    let (_, order) = shop();
    shopify.add_order(order);
    shopify.set_deprecated_reason("Order.closed");
    let server = shopify.start().await;
    let (metrics, seen) = aws::emf::capture();
    let http = fast_http().with_metrics(metrics);
    let sync = HttpStoreSync::new(http.clone());
    sync.apply(&plan(
        &server.uri(),
        "5001",
        refund(Role::Seller, &[("13002", 1, 2)]),
    ))
    .await
    .unwrap();
    let drift = http.api_drift().expect("the drift is kept");
    assert_eq!(drift.requested, platforms::SHOPIFY_API_VERSION);
    assert_eq!(drift.served.as_deref(), Some("2027-01"));
    assert_eq!(drift.deprecated_reason.as_deref(), Some("Order.closed"));
    let docs = seen.documents();
    assert!(!docs.is_empty());
    assert!(docs.iter().all(|d| d["PlatformApiDrift"] == 1
        && d["Platform"] == "shopify"
        && d["Kind"] == "version"));

    // The version asked for and served: nothing to report.
    let (shopify, order) = shop();
    shopify.add_order(order);
    let server = shopify.start().await;
    let (metrics, seen) = aws::emf::capture();
    let http = fast_http().with_metrics(metrics);
    HttpStoreSync::new(http.clone())
        .apply(&plan(
            &server.uri(),
            "5001",
            refund(Role::Seller, &[("13002", 1, 2)]),
        ))
        .await
        .unwrap();
    assert_eq!(http.api_drift(), None);
    assert!(seen.documents().is_empty());
}

#[tokio::test]
async fn woocommerce_partial_cancellation_lowers_the_order_total() {
    let woo = FakeWooCommerce::default();
    woo.add_order(WooOrder {
        id: 731,
        status: "processing".into(),
        currency: "USD".into(),
        tax_percent: d("10"),
        lines: vec![
            // 3 at 10.00 with 3.00 off the line.
            WooLine {
                id: 41,
                quantity: 3,
                subtotal: d("30.00"),
                total: d("27.00"),
            },
            WooLine {
                id: 42,
                quantity: 2,
                subtotal: d("10.00"),
                total: d("10.00"),
            },
        ],
    });
    assert_eq!(woo.order(731).unwrap().total(), d("40.70"));
    let server = woo.start().await;
    let sync = HttpStoreSync::new(fast_http());
    let p = plan(
        &server.uri(),
        "731",
        (
            Platform::WooCommerce,
            SyncAction::Update(OrderUpdate::SetQuantities(vec![(41, 2)])),
        ),
    );
    sync.apply(&p).await.unwrap();
    let o = woo.order(731).unwrap();
    assert_eq!(
        (o.lines[0].quantity, o.lines[0].subtotal, o.lines[0].total),
        (2, d("20.00"), d("18.00")),
        "the remaining units keep their price and discount"
    );
    assert_eq!(o.total(), d("30.80"), "the total drops by one unit's share");
    // Repeating the sync (a notifier cut after the store call, before the
    // ledger recorded it) reads the order, finds it at the target and
    // sends nothing.
    sync.apply(&p).await.unwrap();
    assert_eq!(woo.order(731).unwrap().total(), d("30.80"));
    assert_eq!(puts(&server).await, 1, "the update was sent again");
    // Quantity 0 still removes the line; the whole order is a status.
    let zero = plan(
        &server.uri(),
        "731",
        (
            Platform::WooCommerce,
            SyncAction::Update(OrderUpdate::SetQuantities(vec![(42, 0)])),
        ),
    );
    sync.apply(&zero).await.unwrap();
    assert_eq!(woo.order(731).unwrap().lines.len(), 1);
    let whole = plan(
        &server.uri(),
        "731",
        (
            Platform::WooCommerce,
            SyncAction::Update(OrderUpdate::CancelOrder),
        ),
    );
    sync.apply(&whole).await.unwrap();
    assert_eq!(woo.order(731).unwrap().status, "cancelled");
}

#[tokio::test]
async fn bigcommerce_partial_cancellation_keeps_the_discount_paid() {
    let bc = FakeBigCommerce::default();
    // BigCommerce's example product, twice: 65.23 each inc tax, 3.18 off.
    bc.add_order(BcOrder {
        id: 120,
        status_id: 11,
        products: vec![BcProduct {
            id: 65,
            quantity: 2,
            quantity_refunded: 0,
            base_price_ex: d("55.99"),
            price_ex: d("55.99"),
            price_inc: d("65.23"),
            discounts: vec![d("3.18")],
        }],
    });
    assert_eq!(bc.order(120).unwrap().total_inc_tax(), d("127.28"));
    let server = bc.start().await;
    let sync = HttpStoreSync::new(fast_http());
    let p = plan(
        &server.uri(),
        "120",
        (
            Platform::BigCommerce,
            SyncAction::Update(OrderUpdate::SetQuantities(vec![(65, 1)])),
        ),
    );
    sync.apply(&p).await.unwrap();
    assert_eq!(
        bc.order(120).unwrap().total_inc_tax(),
        d("63.64"),
        "the remaining unit costs what it was sold for, discount included"
    );
    // The merchant then discounts the remaining unit; a repeat of our
    // update (a cut attempt retried) must not clear that discount, as a
    // PUT of the order's products would.
    bc.edit(120, |o| o.products[0].discounts = vec![d("5.00")]);
    sync.apply(&p).await.unwrap();
    assert_eq!(bc.order(120).unwrap().total_inc_tax(), d("58.64"));
    assert_eq!(puts(&server).await, 1, "the update was sent again");
}

/// How many PUTs a fake store received.
async fn puts(server: &wiremock::MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .count()
}

/// The line a cancellation's store note is, as the plan would word it.
fn note_line() -> String {
    let code = domain::ReasonCode::OutOfStock;
    format!(
        "Dropship cancellation can_1: 2 units, {} ({code}): supplier ran out",
        code.label()
    )
}

#[tokio::test]
async fn woocommerce_gets_the_reason_as_a_private_order_note_once() {
    let woo = FakeWooCommerce::default();
    woo.add_order(WooOrder {
        id: 731,
        status: "processing".into(),
        currency: "USD".into(),
        tax_percent: d("10"),
        lines: vec![WooLine {
            id: 41,
            quantity: 2,
            subtotal: d("20.00"),
            total: d("20.00"),
        }],
    });
    let server = woo.start().await;
    let sync = HttpStoreSync::new(fast_http());
    let whole = plan(
        &server.uri(),
        "731",
        (
            Platform::WooCommerce,
            SyncAction::Update(OrderUpdate::CancelOrder),
        ),
    );
    // A newline in the canceller's note does not split the store's note.
    let given = note_line().replace(": supplier", ":\nsupplier");
    let detail = sync.apply_with_note(&whole, Some(&given)).await.unwrap();
    assert!(detail.contains("order note added"), "{detail}");
    assert_eq!(woo.order(731).unwrap().status, "cancelled");
    let notes = woo.notes(731);
    assert_eq!(notes, vec![(note_line(), false)], "admin-only, one line");
    assert!(notes[0].0.contains("Out of stock (out_of_stock)"));
    // A retried sync finds the note and does not add it again.
    let again = sync.apply_with_note(&whole, Some(&given)).await.unwrap();
    assert!(again.contains("order note already there"), "{again}");
    assert_eq!(woo.notes(731).len(), 1);
    let posts = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn bigcommerce_gets_the_reason_appended_to_staff_notes_once() {
    let bc = FakeBigCommerce::default();
    bc.add_order(BcOrder {
        id: 120,
        status_id: 11,
        products: vec![BcProduct {
            id: 65,
            quantity: 2,
            quantity_refunded: 0,
            base_price_ex: d("10.00"),
            price_ex: d("10.00"),
            price_inc: d("11.00"),
            discounts: vec![],
        }],
    });
    bc.set_staff_notes(120, "Send Saturday");
    let server = bc.start().await;
    let sync = HttpStoreSync::new(fast_http());
    let whole = plan(
        &server.uri(),
        "120",
        (
            Platform::BigCommerce,
            SyncAction::Update(OrderUpdate::CancelOrder),
        ),
    );
    let detail = sync
        .apply_with_note(&whole, Some(&note_line()))
        .await
        .unwrap();
    assert!(detail.contains("staff note added"), "{detail}");
    assert_eq!(bc.order(120).unwrap().status_id, 5);
    let want = format!("Send Saturday\n{}", note_line());
    assert_eq!(bc.staff_notes(120), want, "the merchant's notes are kept");
    assert!(want.contains("Out of stock (out_of_stock)"));
    // The retry rewrites the status and leaves the notes as they are.
    let again = sync
        .apply_with_note(&whole, Some(&note_line()))
        .await
        .unwrap();
    assert!(again.contains("staff note already there"), "{again}");
    assert_eq!(bc.staff_notes(120), want);
    // A partial cancellation with nothing left to change still writes its note.
    let part = plan(
        &server.uri(),
        "120",
        (
            Platform::BigCommerce,
            SyncAction::Update(OrderUpdate::SetQuantities(vec![(65, 2)])),
        ),
    );
    let other = "Dropship cancellation can_2: 1 unit, Delayed (delayed)";
    sync.apply_with_note(&part, Some(other)).await.unwrap();
    assert_eq!(bc.staff_notes(120), format!("{want}\n{other}"));
}
