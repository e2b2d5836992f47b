//! Store references belong to the store's owner, through the API handler:
//! a buyer cannot name the seller's store order, each party sets its own
//! with `PUT /v1/orders/{id}/store-refs`, store platforms' refs are their
//! numeric ids, and the notifier then calls exactly that resource of the
//! owner's store (a fake platform on loopback).

use std::time::Duration;

use crate::common::*;
use handlers::api::Api;
use local::worker::{OutboxWorker, local_notifier};
use platforms::client::{PlatformHttp, RetryPolicy};
use serde_json::{Value, json};
use service::ledger::{Channel, Ledger, Outcome};
use service::store::{Companies, Orders, Store};
use sqlite::EmbeddedStore;
use testkit::stores::{
    BcOrder, BcProduct, Decimal, FakeBigCommerce, FakeWooCommerce, WooLine, WooOrder,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SHOPIFY_BUYER: &str = "demo-buyer-shopify-key";
const WOO_SELLER: &str = "demo-seller-woo-key";
const TRAVERSAL: &str = "731/../../../../wp/v2/users/1?force=true&x=";

fn create_body(seller: &str, extra: Value, line_extra: Value) -> String {
    let mut line = json!({"id": "li_1", "sku": "MUG", "quantity": 3});
    let mut body = json!({"seller_id": seller, "buyer_order_ref": "PO-77", "line_items": []});
    for (k, v) in line_extra.as_object().unwrap() {
        line[k] = v.clone();
    }
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body["line_items"] = json!([line, {"id": "li_2", "sku": "PLATE", "quantity": 2}]);
    body.to_string()
}

async fn order_count<S: Store + service::events::WebhookStore>(app: &Api<S>, key: &str) -> usize {
    let r = call(app, "GET", "/v1/orders?limit=100", Some(key), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["orders"].as_array().unwrap().len()
}

/// A new order of the API buyer with `seller`, as the API creates it.
async fn new_order<S: Store + service::events::WebhookStore>(app: &Api<S>, seller: &str) -> String {
    let r = call(
        app,
        "POST",
        "/v1/orders",
        Some(BUYER),
        Some(&create_body(seller, json!({}), json!({}))),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn put_refs<S: Store + service::events::WebhookStore>(
    app: &Api<S>,
    key: &str,
    order: &str,
    body: &str,
) -> Reply {
    let path = format!("/v1/orders/{order}/store-refs");
    call(app, "PUT", &path, Some(key), Some(body)).await
}

#[tokio::test]
async fn a_buyer_cannot_set_the_sellers_refs_at_creation() {
    let app = demo_app().await;
    let before = (
        order_count(&app, BUYER).await,
        order_count(&app, WOO_SELLER).await,
    );
    // The path traversal of the WooCommerce seller's API, and a plain
    // numeric id of some other order in a Shopify seller's shop.
    let cases = [
        (
            "seller-woo",
            json!({"seller_order_ref": TRAVERSAL}),
            json!({}),
            "seller_order_ref",
        ),
        (
            "seller-shopify",
            json!({"seller_order_ref": "9101"}),
            json!({}),
            "seller_order_ref",
        ),
        (
            "seller-woo",
            json!({}),
            json!({"seller_line_ref": "41"}),
            "seller_line_ref",
        ),
        (
            "seller-api",
            json!({"seller_order_ref": "SO-1"}),
            json!({}),
            "seller_order_ref",
        ),
    ];
    for (seller, extra, line, field) in cases {
        let body = create_body(seller, extra, line);
        let r = call(&app, "POST", "/v1/orders", Some(BUYER), Some(&body)).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "not_permitted"),
            "{body}: {}",
            r.body
        );
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains(field) && detail.contains("PUT /v1/orders/{order_id}/store-refs"),
            "{detail}"
        );
    }
    assert_eq!(
        (
            order_count(&app, BUYER).await,
            order_count(&app, WOO_SELLER).await
        ),
        before,
        "nothing stored"
    );
}

#[tokio::test]
async fn refs_of_store_platform_companies_are_their_numeric_ids() {
    let app = demo_app().await;
    // A Shopify buyer's own refs are Shopify ids.
    for bad in [
        "PO-77",
        "0",
        "05001",
        "-5001",
        "gid://shopify/Order/5001",
        "9223372036854775808",
    ] {
        let mut body: Value =
            serde_json::from_str(&create_body("seller-api", json!({}), json!({}))).unwrap();
        body["buyer_order_ref"] = bad.into();
        let r = call(
            &app,
            "POST",
            "/v1/orders",
            Some(SHOPIFY_BUYER),
            Some(&body.to_string()),
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (422, "invalid_store_ref"),
            "{bad}: {}",
            r.body
        );
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("buyer_order_ref")
        );
    }
    let mut body: Value =
        serde_json::from_str(&create_body("seller-api", json!({}), json!({}))).unwrap();
    body["buyer_order_ref"] = "5002".into();
    body["line_items"][0]["buyer_line_ref"] = "li-one".into();
    let r = call(
        &app,
        "POST",
        "/v1/orders",
        Some(SHOPIFY_BUYER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_store_ref"),
        "{}",
        r.body
    );
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("line item li_1: buyer_line_ref")
    );
    body["line_items"][0]["buyer_line_ref"] = "13001".into();
    let r = call(
        &app,
        "POST",
        "/v1/orders",
        Some(SHOPIFY_BUYER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // An API buyer's refs are free text, but visible ASCII.
    let mut body: Value =
        serde_json::from_str(&create_body("seller-api", json!({}), json!({}))).unwrap();
    body["buyer_order_ref"] = "PO 77".into();
    let r = call(
        &app,
        "POST",
        "/v1/orders",
        Some(BUYER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_store_ref"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_seller_sets_its_refs_and_the_buyer_its_own() {
    let app = demo_app().await;
    let id = new_order(&app, "seller-woo").await;
    // The traversal is refused and changes nothing.
    let r = put_refs(
        &app,
        WOO_SELLER,
        &id,
        &json!({"order_ref": TRAVERSAL}).to_string(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_store_ref"),
        "{}",
        r.body
    );
    assert!(r.body["detail"].as_str().unwrap().contains("order_ref"));
    let r = put_refs(
        &app,
        WOO_SELLER,
        &id,
        &json!({"line_items": [{"id": "li_1", "ref": "41/../../users/1"}]}).to_string(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_store_ref"),
        "{}",
        r.body
    );
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("line item li_1: ref")
    );
    let got = call(&app, "GET", &format!("/v1/orders/{id}"), Some(BUYER), None).await;
    assert_eq!(got.body["version"], 1);
    assert_eq!(got.body["seller_order_ref"], Value::Null);

    // The seller's own numeric refs: 200 with the order, version + 1.
    let r = put_refs(
        &app,
        WOO_SELLER,
        &id,
        &json!({"order_ref": "7310", "line_items": [{"id": "li_1", "ref": "4101"}]}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["seller_order_ref"], "7310");
    assert_eq!(r.body["buyer_order_ref"], "PO-77");
    assert_eq!(r.body["line_items"][0]["seller_line_ref"], "4101");
    assert_eq!(r.body["line_items"][1]["seller_line_ref"], Value::Null);
    assert!(r.body["cancellations"].is_array());
    let got = call(&app, "GET", &format!("/v1/orders/{id}"), Some(BUYER), None).await;
    assert_eq!(r.body, got.body, "the same view as GET");

    // The buyer's PUT sets the buyer's refs only; lines left out keep theirs.
    let r = put_refs(
        &app,
        BUYER,
        &id,
        &json!({"order_ref": "PO-78", "line_items": [{"id": "li_2", "ref": "B-2"}]}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["version"], 3);
    assert_eq!(
        (&r.body["buyer_order_ref"], &r.body["seller_order_ref"]),
        (&json!("PO-78"), &json!("7310"))
    );
    let line = |i: usize, f: &str| r.body["line_items"][i][f].clone();
    assert_eq!(line(0, "seller_line_ref"), "4101");
    assert_eq!(line(0, "buyer_line_ref"), Value::Null);
    assert_eq!(line(1, "buyer_line_ref"), "B-2");
    assert_eq!(line(1, "seller_line_ref"), Value::Null);
    // An API buyer's refs are checked as free text, not as WooCommerce ids.
    let r = put_refs(&app, BUYER, &id, &json!({"order_ref": "PO 79"}).to_string()).await;
    assert_eq!((r.status, r.code()), (422, "invalid_store_ref"));
}

#[tokio::test]
async fn store_refs_requests_are_checked() {
    let app = demo_app().await;
    let o = "ord_demo_shopify_woo";
    let cases: &[(&str, &str, u16, &str)] = &[
        (WOO_SELLER, "{}", 400, "invalid_body"),
        (WOO_SELLER, r#"{"line_items": []}"#, 400, "invalid_body"),
        (WOO_SELLER, r#"{"order_ref": null}"#, 400, "invalid_body"),
        (WOO_SELLER, r#"{"order_ref": 731}"#, 400, "invalid_body"),
        (
            WOO_SELLER,
            r#"{"order_ref": "731", "seller_order_ref": "731"}"#,
            400,
            "invalid_body",
        ),
        (
            WOO_SELLER,
            r#"{"line_items": [{"id": "li_1", "ref": "41", "x": 1}]}"#,
            400,
            "invalid_body",
        ),
        (WOO_SELLER, "not json", 400, "invalid_body"),
        (
            WOO_SELLER,
            r#"{"line_items": [{"id": "nope", "ref": "41"}]}"#,
            422,
            "unknown_line_item",
        ),
        (
            WOO_SELLER,
            r#"{"line_items": [{"id": "li_1", "ref": "41"}, {"id": "li_1", "ref": "42"}]}"#,
            422,
            "duplicate_line_item",
        ),
        // Neither buyer nor seller of the order: it does not exist for them.
        (SELLER, r#"{"order_ref": "731"}"#, 404, "order_not_found"),
        (
            "no-such-key",
            r#"{"order_ref": "731"}"#,
            401,
            "unauthorized",
        ),
    ];
    for (key, body, status, code) in cases {
        let r = put_refs(&app, key, o, body).await;
        assert_eq!((r.status, r.code()), (*status, *code), "{body}: {}", r.body);
    }
    let r = put_refs(&app, WOO_SELLER, "ord_nope", r#"{"order_ref": "731"}"#).await;
    assert_eq!((r.status, r.code()), (404, "order_not_found"));
    let r = call(
        &app,
        "GET",
        &format!("/v1/orders/{o}/store-refs"),
        Some(WOO_SELLER),
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (405, "method_not_allowed"));
    assert_eq!(r.headers["allow"], "PUT");
    let r = call(
        &app,
        "POST",
        &format!("/v1/orders/{o}/store-refs"),
        Some(WOO_SELLER),
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, 405);
    // Nothing above changed the order.
    let got = call(
        &app,
        "GET",
        &format!("/v1/orders/{o}"),
        Some(WOO_SELLER),
        None,
    )
    .await;
    assert_eq!(got.body["version"], 1);
}

#[tokio::test]
async fn store_refs_honour_the_idempotency_key() {
    let app = demo_app().await;
    let o = "ord_demo_shopify_woo";
    let path = format!("/v1/orders/{o}/store-refs");
    let body = r#"{"order_ref": "732"}"#;
    let put = |body: &'static str| {
        event(
            "PUT",
            &path,
            Some(WOO_SELLER),
            Some(body),
            &[("Idempotency-Key", "refs-1")],
        )
    };
    let first = send(&app, put(body)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["version"], 2);
    let again = send(&app, put(body)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    let got = call(
        &app,
        "GET",
        &format!("/v1/orders/{o}"),
        Some(WOO_SELLER),
        None,
    )
    .await;
    assert_eq!(got.body["version"], 2, "applied once");
    let other = send(&app, put(r#"{"order_ref": "733"}"#)).await;
    assert_eq!(
        (other.status, other.code()),
        (422, "idempotency_key_reused")
    );
    // A refusal is kept under its key too.
    let bad = || {
        event(
            "PUT",
            &path,
            Some(WOO_SELLER),
            Some(r#"{"order_ref": "x"}"#),
            &[("Idempotency-Key", "refs-2")],
        )
    };
    let r = send(&app, bad()).await;
    assert_eq!(r.code(), "invalid_store_ref");
    let r = send(&app, bad()).await;
    assert_eq!(r.code(), "invalid_store_ref");
    assert_eq!(r.headers["idempotent-replayed"], "true");
}

fn fast_http() -> PlatformHttp {
    PlatformHttp::new(RetryPolicy {
        attempts: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    })
}

/// Point `company`'s store connection at the fake platform.
async fn connect_to(store: &EmbeddedStore, company: &str, platform: &MockServer) {
    let mut c = store.company(company).await.unwrap().unwrap();
    c.connection.as_mut().unwrap().api_base_url = Some(platform.uri());
    store.put_company(&c).await.unwrap();
}

/// The seller sets its refs, the buyer cancels one unit, the notifier runs:
/// the requests the seller's store received.
async fn cancel_after_seller_refs(seller: &str, key: &str) -> (String, Vec<wiremock::Request>) {
    // The seller's store: testkit's fakes, which follow the platforms'
    // documentation and source (named there). A partial update reads the
    // order's line (WooCommerce) or products (BigCommerce) first; then the
    // reason goes in as a note: WooCommerce's order notes (listed first, so
    // a retry adds none twice), BigCommerce's staff notes (read with the
    // order, written with the change).
    let money = |v: &str| v.parse::<Decimal>().unwrap();
    let platform = if seller == "seller-woo" {
        let woo = FakeWooCommerce::default();
        woo.add_order(WooOrder {
            id: 7310,
            status: "processing".into(),
            currency: "USD".into(),
            tax_percent: money("0"),
            lines: vec![WooLine {
                id: 4101,
                quantity: 3,
                subtotal: money("30.00"),
                total: money("30.00"),
            }],
        });
        woo.start().await
    } else {
        let bc = FakeBigCommerce::default();
        bc.add_order(BcOrder {
            id: 7310,
            status_id: 11,
            products: vec![BcProduct {
                id: 4101,
                quantity: 3,
                quantity_refunded: 0,
                base_price_ex: money("10.00"),
                price_ex: money("10.00"),
                price_inc: money("10.00"),
                discounts: vec![],
            }],
        });
        bc.set_staff_notes(7310, "Ship Monday");
        bc.start().await
    };
    let app = demo_app().await;
    connect_to(&app.store, seller, &platform).await;
    let id = new_order(&app, seller).await;
    let r = put_refs(
        &app,
        key,
        &id,
        &json!({"order_ref": "7310", "line_items": [{"id": "li_1", "ref": "4101"}]}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cancel =
        json!({"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "Changed mind"}]});
    let path = format!("/v1/orders/{id}/cancellations");
    let r = call(&app, "POST", &path, Some(BUYER), Some(&cancel.to_string())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let dir = tempfile::tempdir().unwrap();
    let mut worker = OutboxWorker::new(local_notifier(
        app.store.clone(),
        &dir.path().join("outbox"),
        "from@dropship.example",
        fast_http(),
    ));
    let d = worker.drain().await.unwrap();
    assert_eq!((d.notified, d.failed), (1, 0));
    let sync = app
        .store
        .ledger_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.channel == Channel::StoreSync)
        .unwrap();
    assert_eq!(sync.outcome, Some(Outcome::Sent), "{:?}", sync.detail);
    (id, platform.received_requests().await.unwrap())
}

#[tokio::test]
async fn woocommerce_sync_calls_exactly_the_sellers_order() {
    let (_, requests) = cancel_after_seller_refs("seller-woo", WOO_SELLER).await;
    let calls: Vec<(String, String, Option<String>)> = requests
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_owned(),
                r.url.query().map(str::to_owned),
            )
        })
        .collect();
    let order = "/wp-json/wc/v3/orders/7310";
    let notes = format!("{order}/notes");
    assert_eq!(
        calls,
        [
            ("GET".into(), order.into(), None),
            ("PUT".into(), order.into(), None),
            ("GET".into(), notes.clone(), Some("type=internal".into())),
            ("POST".into(), notes, None),
        ]
    );
    let body: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(
        body,
        json!({"line_items": [{"id": 4101, "quantity": 2, "subtotal": "20.00", "total": "20.00"}]})
    );
    let note: Value = serde_json::from_slice(&requests[3].body).unwrap();
    assert_eq!(note["customer_note"], false);
    assert!(
        note["note"].as_str().unwrap().ends_with(": Other (other)"),
        "{note}"
    );
}

#[tokio::test]
async fn bigcommerce_sync_calls_exactly_the_sellers_order() {
    let (_, requests) = cancel_after_seller_refs("seller-bc", BC_SELLER).await;
    let order = "/stores/birch123/v2/orders/7310";
    for r in &requests {
        assert!(r.url.path().starts_with(order), "{}", r.url);
    }
    let products = requests
        .iter()
        .find(|r| r.url.path().ends_with("/products"))
        .expect("the products read");
    assert_eq!(products.url.query(), Some("limit=250&page=1"));
    let puts: Vec<_> = requests
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .collect();
    assert_eq!(puts.len(), 1, "{requests:?}");
    assert_eq!(puts[0].url.path(), order);
    assert_eq!(puts[0].url.query(), None);
    let body: Value = serde_json::from_slice(&puts[0].body).unwrap();
    assert_eq!(body["products"], json!([{"id": 4101, "quantity": 2}]));
    // The merchant's note is kept, ours appended.
    let staff = body["staff_notes"].as_str().unwrap();
    assert!(
        staff.starts_with("Ship Monday\n") && staff.ends_with(": Other (other)"),
        "{staff}"
    );
    assert_eq!(requests.len(), 3, "{requests:?}");
}

/// An order stored before refs were validated: the sync is a permanent
/// failure naming the field, and the store is never called.
#[tokio::test]
async fn a_stored_invalid_ref_makes_no_call() {
    let platform = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&platform)
        .await;
    let app = demo_app().await;
    connect_to(&app.store, "seller-woo", &platform).await;
    let mut legacy = app
        .store
        .order("ord_demo_shopify_woo")
        .await
        .unwrap()
        .unwrap();
    legacy.id = "ord_legacy".into();
    legacy.buyer_id = "buyer-api".into();
    legacy.buyer_order_ref = None;
    legacy.seller_order_ref = Some(TRAVERSAL.into());
    app.store
        .commit(&service::store::Commit::create(legacy))
        .await
        .unwrap();
    let r = call(
        &app,
        "POST",
        "/v1/orders/ord_legacy/cancellations",
        Some(BUYER),
        Some(r#"{"reason": "Changed mind"}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let dir = tempfile::tempdir().unwrap();
    let mut worker = OutboxWorker::new(local_notifier(
        app.store.clone(),
        &dir.path().join("outbox"),
        "from@dropship.example",
        fast_http(),
    ));
    worker.drain().await.unwrap();
    let sync = app
        .store
        .ledger_entries("ord_legacy")
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.channel == Channel::StoreSync)
        .unwrap();
    assert_eq!(sync.outcome, Some(Outcome::Failed));
    assert!(
        sync.detail
            .as_deref()
            .unwrap_or_default()
            .contains("seller_order_ref"),
        "{:?}",
        sync.detail
    );
    assert!(platform.received_requests().await.unwrap().is_empty());
}
