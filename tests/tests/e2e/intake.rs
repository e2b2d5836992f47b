//! Webhook intake end to end through the handler: every platform and topic,
//! both Shopify roles, a multi-seller Shopify order, duplicates, stale and
//! out-of-order deliveries, the echo of our own change, increases,
//! shortfalls, and every way a delivery can be refused. Platform APIs are
//! fakes on loopback.

use std::time::Duration;

use crate::common::*;
use handlers::intake;
use local::seed::{self, SeedFile};
use platforms::client::{HttpPlatformReader, PlatformHttp, RetryPolicy};
use platforms::{sign_hmac_sha256_base64, verify_hmac_sha256_base64};
use serde_json::{Value, json};
use service::app::OrdersService;
use service::store::{Companies, Orders};
use sqlite::EmbeddedStore;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

type TestApp = Services<EmbeddedStore>;

fn dir() -> std::path::PathBuf {
    events_dir().join("webhooks")
}

/// The demo seed with every store connection pointed at `base`.
async fn app_with(base: Option<&str>) -> TestApp {
    let text = std::fs::read_to_string(events_dir().join("demo-seed.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    if let Some(base) = base {
        for c in v["companies"].as_array_mut().unwrap() {
            if let Some(conn) = c.get_mut("connection") {
                conn["api_base_url"] = base.into();
            }
        }
    }
    let seed = SeedFile::parse(&v.to_string()).unwrap();
    let store = EmbeddedStore::in_memory().unwrap();
    seed::apply(&store, &seed).await.unwrap();
    let reader = HttpPlatformReader::new(PlatformHttp::new(RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
    }));
    services(OrdersService::new(store), reader)
}

/// A sample delivery: (path, headers, body).
fn sample(name: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let d = dir();
    let body = std::fs::read(d.join(format!("{name}.body"))).unwrap();
    let headers = std::fs::read_to_string(d.join(format!("{name}.headers")))
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join(format!("{name}.json"))).unwrap())
            .unwrap();
    (ev["rawPath"].as_str().unwrap().to_owned(), headers, body)
}

/// A BigCommerce body as sent now: its `created_at` (when BigCommerce sent
/// it; the fixtures keep the day they were written) set to the present, as
/// a live delivery's is. BigCommerce signs nothing, so nothing is re-signed.
fn sent_now(path: &str, body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) if path.contains("bigcommerce") && v.get("created_at").is_some() => {
            v["created_at"] = chrono::Utc::now().timestamp().into();
            serde_json::to_vec(&v).unwrap()
        }
        _ => body.to_vec(),
    }
}

/// A platform's delivery as API Gateway hands it to webhook-intake.
fn delivery_request(path: &str, headers: &[(String, String)], body: &[u8]) -> lambda_http::Request {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    event(
        "POST",
        path,
        None,
        Some(std::str::from_utf8(body).unwrap()),
        &h,
    )
}

async fn deliver(app: &TestApp, path: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
    deliver_as_sent(app, path, headers, &sent_now(path, body)).await
}

async fn deliver_as_sent(
    app: &TestApp,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    let req = delivery_request(path, headers, body);
    let r = intake::handle(&app.intake, req).await;
    let status = r.status().as_u16();
    let body = match r.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Reply {
        status,
        headers: r.headers().clone(),
        body,
    }
}

async fn deliver_sample(app: &TestApp, name: &str) -> Reply {
    let (p, h, b) = sample(name);
    deliver(app, &p, &h, &b).await
}

/// Re-sign a Shopify or WooCommerce delivery with a new body.
fn resigned(name: &str, body: &Value) -> (String, Vec<(String, String)>, Vec<u8>) {
    let (p, mut h, _) = sample(name);
    let body = serde_json::to_vec(body).unwrap();
    let secret = if p.contains("woocommerce") {
        "demo-woo-secret"
    } else if h.iter().any(|(_, v)| v == "maple-co.myshopify.com") {
        "demo-shopify-buyer-secret"
    } else {
        "demo-shopify-seller-secret"
    };
    for (k, v) in &mut h {
        if k.ends_with("Hmac-Sha256") || k == "X-WC-Webhook-Signature" {
            *v = sign_hmac_sha256_base64(secret, &body);
        }
        if k == "X-Shopify-Event-Id" {
            *v = format!("{v}-{}", body.len());
        }
    }
    (p, h, body)
}

async fn order(app: &TestApp, id: &str) -> service::store::OrderRecord {
    app.store.order_record(id).await.unwrap().unwrap()
}

fn lines(rec: &service::store::OrderRecord) -> Vec<(u32, u32, u32)> {
    rec.order
        .line_items
        .iter()
        .map(|l| (l.quantity, l.fulfilled, l.cancelled))
        .collect()
}

#[tokio::test]
async fn samples_are_signed_and_consistent() {
    let secrets = [
        ("maple-co.myshopify.com", "demo-shopify-buyer-secret"),
        ("pine-goods.myshopify.com", "demo-shopify-seller-secret"),
    ];
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        n += 1;
        let name = p.file_stem().unwrap().to_str().unwrap();
        let (path, headers, body) = sample(name);
        let ev: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(
            ev["body"].as_str().unwrap().as_bytes(),
            body.as_slice(),
            "{name}: body differs"
        );
        for (k, v) in &headers {
            assert_eq!(
                ev["headers"][k.to_lowercase()],
                v.as_str(),
                "{name}: header {k}"
            );
        }
        let get = |k: &str| {
            headers
                .iter()
                .find(|(h, _)| h == k)
                .map(|(_, v)| v.as_str())
        };
        if path == "/webhooks/shopify" {
            let domain = get("X-Shopify-Shop-Domain").unwrap();
            let secret = secrets.iter().find(|(d, _)| *d == domain).unwrap().1;
            assert!(
                verify_hmac_sha256_base64(secret, &body, get("X-Shopify-Hmac-Sha256").unwrap()),
                "{name}"
            );
        } else if path.contains("woocommerce") && name != "woocommerce-ping" {
            assert!(
                verify_hmac_sha256_base64(
                    "demo-woo-secret",
                    &body,
                    get("X-WC-Webhook-Signature").unwrap()
                ),
                "{name}"
            );
        } else if path.contains("bigcommerce") {
            assert_eq!(get("X-Webhook-Token"), Some("demo-bc-secret"));
        }
    }
    assert_eq!(n, 12);
}

#[tokio::test]
async fn shopify_buyer_update_reaches_the_right_seller_order() {
    let app = app_with(None).await;
    let r = deliver_sample(&app, "shopify-buyer-orders-updated").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "processed");
    // Line 13002 (spoons) went from 3 to 1: our order with seller-woo loses 2.
    let woo = order(&app, "ord_demo_shopify_woo").await;
    assert_eq!(lines(&woo), vec![(2, 0, 0), (3, 0, 2)]);
    let c = &woo.cancellations[0];
    assert_eq!(
        (c.initiated_by.as_str(), c.source.as_str()),
        ("buyer", "shopify")
    );
    assert_eq!(c.kind, domain::CancellationKind::Items);
    assert_eq!(
        c.items[0].reason.as_deref(),
        Some("Order updated in Shopify")
    );
    // The other seller's order of the same Shopify order is untouched.
    let other = order(&app, "ord_demo_shopify_shopify").await;
    assert!(other.cancellations.is_empty());
    assert_eq!(other.order.version, 1);
}

#[tokio::test]
async fn shopify_buyer_cancellation_cancels_every_seller_order_once() {
    let app = app_with(None).await;
    let r = deliver_sample(&app, "shopify-buyer-orders-cancelled").await;
    assert_eq!(r.status, 200, "{}", r.body);
    for id in ["ord_demo_shopify_woo", "ord_demo_shopify_shopify"] {
        let rec = order(&app, id).await;
        assert!(rec.order.is_complete());
        assert_eq!(rec.cancellations.len(), 1);
        assert_eq!(rec.cancellations[0].kind, domain::CancellationKind::Order);
        assert_eq!(
            rec.cancellations[0].items[0].reason.as_deref(),
            Some("Order cancelled in Shopify (the customer cancelled)")
        );
        // Shopify's cancel_reason `customer`, coded.
        assert_eq!(
            rec.cancellations[0].items[0].reason_code,
            domain::ReasonCode::CustomerRequest
        );
    }
    // Redelivered, and the orders/updated Shopify sends with it: nothing new.
    let again = deliver_sample(&app, "shopify-buyer-orders-cancelled").await;
    assert_eq!(again.status, 200);
    let stale = deliver_sample(&app, "shopify-buyer-orders-updated").await;
    assert_eq!(stale.status, 200);
    for id in ["ord_demo_shopify_woo", "ord_demo_shopify_shopify"] {
        assert_eq!(order(&app, id).await.cancellations.len(), 1, "{id}");
    }
}

#[tokio::test]
async fn shopify_seller_role() {
    let app = app_with(None).await;
    let r = deliver_sample(&app, "shopify-seller-orders-updated").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_shopify_shopify").await;
    assert_eq!(lines(&rec), vec![(5, 0, 2)]);
    assert_eq!(rec.cancellations[0].initiated_by, domain::Role::Seller);
    let r = deliver_sample(&app, "shopify-seller-orders-cancelled").await;
    assert_eq!(r.status, 200);
    let rec = order(&app, "ord_demo_shopify_shopify").await;
    assert_eq!(lines(&rec), vec![(5, 0, 5)]);
    assert_eq!(rec.cancellations[1].kind, domain::CancellationKind::Order);
    assert_eq!(
        rec.cancellations[1].items[0].reason.as_deref(),
        Some("Order cancelled in Shopify (items unavailable)")
    );
    // Shopify's cancel_reason `inventory` arrives as out of stock.
    assert_eq!(
        rec.cancellations[1].items[0].reason_code,
        domain::ReasonCode::OutOfStock
    );
}

fn gql_order(cancelled: bool, lines: &[(&str, i64)]) -> Value {
    json!({"data": {"order": {
        "cancelledAt": if cancelled { json!("2026-11-26T09:00:00Z") } else { Value::Null },
        "cancelReason": if cancelled { json!("CUSTOMER") } else { Value::Null },
        "lineItems": {
            "nodes": lines.iter().map(|(id, q)| json!({"id": format!("gid://shopify/LineItem/{id}"), "currentQuantity": q})).collect::<Vec<_>>(),
            "pageInfo": {"hasNextPage": false, "endCursor": null}
        }
    }}})
}

#[tokio::test]
async fn shopify_edit_and_refund_fetch_the_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/admin/api/2026-10/graphql.json"))
        .and(header("X-Shopify-Access-Token", "shpat_demo_buyer"))
        .respond_with(ResponseTemplate::new(200).set_body_json(gql_order(
            false,
            &[("13001", 2), ("13002", 3), ("13003", 3)],
        )))
        .expect(2)
        .mount(&server)
        .await;
    let app = app_with(Some(&server.uri())).await;
    let r = deliver_sample(&app, "shopify-buyer-orders-edited").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_shopify_shopify").await;
    assert_eq!(lines(&rec), vec![(5, 0, 2)]);
    assert_eq!(
        rec.cancellations[0].items[0].reason.as_deref(),
        Some("Order edited in Shopify")
    );
    // An edit is the customer's request.
    assert_eq!(
        rec.cancellations[0].items[0].reason_code,
        domain::ReasonCode::CustomerRequest
    );
    let req = &server.received_requests().await.unwrap()[0];
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(sent["variables"]["id"], "gid://shopify/Order/5001");
    assert!(sent["query"].as_str().unwrap().contains("currentQuantity"));
    // The refund webhook reads the same state: nothing more to do.
    let r = deliver_sample(&app, "shopify-buyer-refunds-create").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        order(&app, "ord_demo_shopify_shopify")
            .await
            .cancellations
            .len(),
        1
    );
}

#[tokio::test]
async fn shopify_refund_uses_the_refund_note() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(gql_order(
            false,
            &[("13001", 1), ("13002", 3), ("13003", 5)],
        )))
        .mount(&server)
        .await;
    let app = app_with(Some(&server.uri())).await;
    let r = deliver_sample(&app, "shopify-buyer-refunds-create").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_shopify_woo").await;
    assert_eq!(lines(&rec), vec![(2, 0, 1), (3, 0, 0)]);
    assert_eq!(
        rec.cancellations[0].items[0].reason.as_deref(),
        Some("Refunded in Shopify: Damaged in transit")
    );
    // So is a refund.
    assert_eq!(
        rec.cancellations[0].items[0].reason_code,
        domain::ReasonCode::CustomerRequest
    );
}

#[tokio::test]
async fn platform_outages_ask_for_a_retry_and_429_is_waited_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .mount(&server)
        .await;
    let app = app_with(Some(&server.uri())).await;
    let r = deliver_sample(&app, "shopify-buyer-orders-edited").await;
    assert_eq!((r.status, r.code()), (503, "unavailable"), "{}", r.body);
    assert!(
        order(&app, "ord_demo_shopify_shopify")
            .await
            .cancellations
            .is_empty()
    );
    // Shopify retries: the store now rate-limits once, then answers.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0.05"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(gql_order(false, &[("13003", 4)])))
        .mount(&server)
        .await;
    let r = deliver_sample(&app, "shopify-buyer-orders-edited").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        lines(&order(&app, "ord_demo_shopify_shopify").await),
        vec![(5, 0, 1)]
    );
    // A permanent refusal (revoked token) is logged and answered 200, so the
    // platform keeps the webhook; nothing is written.
    let server2 = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server2)
        .await;
    let app2 = app_with(Some(&server2.uri())).await;
    let r = deliver_sample(&app2, "shopify-buyer-orders-edited").await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("failed")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn woocommerce_quantities_cancellation_ping_and_echo() {
    let app = app_with(None).await;
    let r = deliver_sample(&app, "woocommerce-ping").await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("ignored"))
    );
    let r = deliver_sample(&app, "woocommerce-order-updated").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_shopify_woo").await;
    assert_eq!(lines(&rec), vec![(2, 0, 1), (3, 0, 0)]);
    assert_eq!(
        (
            rec.cancellations[0].initiated_by.as_str(),
            rec.cancellations[0].source.as_str()
        ),
        ("seller", "woocommerce")
    );
    assert_eq!(
        rec.cancellations[0].items[0].reason.as_deref(),
        Some("Quantity updated in WooCommerce")
    );

    // The buyer cancels a spoon through the API; our outbound change sets
    // WooCommerce's line 42 to 2, and WooCommerce echoes it back: a no-op.
    let buyer = app.authenticate("demo-buyer-shopify-key").await.unwrap();
    let req = domain::CancelRequest::Items(vec![domain::ItemRequest {
        line_item_id: "li_2".into(),
        quantity: 1,
        reason_code: None,
        reason: Some("Customer changed their mind".into()),
    }]);
    app.cancel(
        &buyer,
        "ord_demo_shopify_woo",
        &req,
        domain::Source::Api,
        None,
    )
    .await
    .unwrap();
    let (p, h, b) = resigned(
        "woocommerce-order-updated",
        &json!({"id": 731, "status": "processing",
        "line_items": [{"id": 41, "quantity": 1}, {"id": 42, "quantity": 2}]}),
    );
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["orders"][0]["result"], "unchanged");
    assert_eq!(
        order(&app, "ord_demo_shopify_woo")
            .await
            .cancellations
            .len(),
        2
    );

    // A stale snapshot (older, higher quantities) changes nothing.
    let r = deliver_sample(&app, "woocommerce-order-updated").await;
    assert_eq!(r.body["orders"][0]["result"], "unchanged");
    // An increase is not a cancellation.
    let (p, h, b) = resigned(
        "woocommerce-order-updated",
        &json!({"id": 731, "status": "processing",
        "line_items": [{"id": 41, "quantity": 5}, {"id": 42, "quantity": 2}]}),
    );
    assert_eq!(
        deliver(&app, &p, &h, &b).await.body["orders"][0]["result"],
        "unchanged"
    );
    // Cancelled in WooCommerce: the rest goes, as a whole-order cancellation.
    let r = deliver_sample(&app, "woocommerce-order-cancelled").await;
    assert_eq!(r.status, 200);
    let rec = order(&app, "ord_demo_shopify_woo").await;
    assert!(rec.order.is_complete());
    assert_eq!(
        rec.cancellations.last().unwrap().kind,
        domain::CancellationKind::Order
    );
    assert_eq!(
        rec.cancellations.last().unwrap().items[0].reason.as_deref(),
        Some("Order cancelled in WooCommerce")
    );
}

#[tokio::test]
async fn a_removed_woocommerce_line_is_cancelled() {
    let app = app_with(None).await;
    let (p, h, b) = resigned(
        "woocommerce-order-updated",
        &json!({"id": 731, "status": "processing",
        "line_items": [{"id": 41, "quantity": 2}]}),
    );
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        lines(&order(&app, "ord_demo_shopify_woo").await),
        vec![(2, 0, 0), (3, 0, 3)]
    );
}

#[tokio::test]
async fn cancelling_shipped_units_records_a_shortfall() {
    let app = app_with(None).await;
    let seller = app.authenticate("demo-seller-woo-key").await.unwrap();
    let shipped = domain::FulfillRequest {
        items: vec![("li_1".into(), 2)],
        tracking_number: None,
        carrier: None,
    };
    app.fulfill(&seller, "ord_demo_shopify_woo", &shipped, None)
        .await
        .unwrap();
    let r = deliver_sample(&app, "woocommerce-order-cancelled").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["orders"][0]["result"], "cancelled");
    assert_eq!(
        r.body["orders"][0]["shortfalls"],
        json!([{"line_item_id": "li_1", "units": 2}])
    );
    let rec = order(&app, "ord_demo_shopify_woo").await;
    assert_eq!(lines(&rec), vec![(2, 2, 0), (3, 0, 3)]);
    assert_eq!(rec.order.line_items[0].platform_shortfall, 2);
    // Visible on the order through the API.
    let view = call(
        &app,
        "GET",
        "/v1/orders/ord_demo_shopify_woo",
        Some("demo-seller-woo-key"),
        None,
    )
    .await;
    assert_eq!(view.body["line_items"][0]["platform_shortfall"], 2);
    // Redelivered: no error loop, nothing new.
    let again = deliver_sample(&app, "woocommerce-order-cancelled").await;
    assert_eq!(
        (again.status, &again.body["orders"][0]["result"]),
        (200, &json!("unchanged"))
    );
}

#[tokio::test]
async fn concurrent_duplicates_cancel_once() {
    let app = std::sync::Arc::new(app_with(None).await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            deliver_sample(&app, "woocommerce-order-updated").await
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        results.push(r.body["orders"][0]["result"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        results.iter().filter(|r| *r == "cancelled").count(),
        1,
        "{results:?}"
    );
    let rec = order(&app, "ord_demo_shopify_woo").await;
    assert_eq!(rec.cancellations.len(), 1);
    assert_eq!(lines(&rec), vec![(2, 0, 1), (3, 0, 0)]);
}

async fn bc_server(status_id: u32, products: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/stores/birch123/v2/orders/120"))
        .and(header("X-Auth-Token", "bc_demo_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": 120, "status_id": status_id})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/stores/birch123/v2/orders/120/products"))
        .and(query_param("page", "1"))
        .and(header("X-Auth-Token", "bc_demo_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(products))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn bigcommerce_status_and_refunds() {
    let server = bc_server(
        5,
        json!([
            {"id": 501, "quantity": 2, "quantity_shipped": 0, "quantity_refunded": 0},
            {"id": 502, "quantity": 1, "quantity_shipped": 0, "quantity_refunded": 0}
        ]),
    )
    .await;
    let app = app_with(Some(&server.uri())).await;
    let r = deliver_sample(&app, "bigcommerce-order-status-updated").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_api_bc").await;
    assert!(rec.order.is_complete());
    let c = &rec.cancellations[0];
    assert_eq!(
        (c.initiated_by.as_str(), c.source.as_str()),
        ("seller", "bigcommerce")
    );
    assert_eq!(c.kind, domain::CancellationKind::Order);
    assert_eq!(
        c.items[0].reason.as_deref(),
        Some("Order cancelled in BigCommerce")
    );
    // Redelivery (same hash): reconciles to the same state, nothing new.
    let again = deliver_sample(&app, "bigcommerce-order-status-updated").await;
    assert_eq!(again.status, 200);
    assert_eq!(order(&app, "ord_demo_api_bc").await.cancellations.len(), 1);

    // Sent longer ago than BigCommerce retries (about 48 h): a replay of a
    // captured delivery, answered and ignored, whatever the order says now.
    let app = app_with(Some(&server.uri())).await;
    let (p, h, b) = sample("bigcommerce-order-status-updated");
    let mut old: Value = serde_json::from_slice(&b).unwrap();
    old["created_at"] = (chrono::Utc::now() - chrono::Duration::hours(73))
        .timestamp()
        .into();
    let r = deliver_as_sent(&app, &p, &h, &serde_json::to_vec(&old).unwrap()).await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("ignored")),
        "{}",
        r.body
    );
    assert!(
        order(&app, "ord_demo_api_bc")
            .await
            .cancellations
            .is_empty()
    );
    let r = deliver_sample(&app, "bigcommerce-order-status-updated").await;
    assert_eq!(r.body["status"], "processed", "{}", r.body);

    let server = bc_server(
        14,
        json!([
            {"id": 501, "quantity": 2, "quantity_shipped": 0, "quantity_refunded": 1},
            {"id": 502, "quantity": 1, "quantity_shipped": 0, "quantity_refunded": 0}
        ]),
    )
    .await;
    let app = app_with(Some(&server.uri())).await;
    let r = deliver_sample(&app, "bigcommerce-order-refund-created").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_api_bc").await;
    assert_eq!(lines(&rec), vec![(2, 0, 1), (1, 0, 0)]);
    assert_eq!(
        rec.cancellations[0].items[0].reason.as_deref(),
        Some("Quantity updated in BigCommerce")
    );
    let r = deliver_sample(&app, "bigcommerce-order-updated").await;
    assert_eq!(r.status, 200);
    assert_eq!(order(&app, "ord_demo_api_bc").await.cancellations.len(), 1);
}

async fn snapshot(app: &TestApp) -> Vec<service::store::OrderRecord> {
    let mut v = Vec::new();
    for id in [
        "ord_demo_shopify_woo",
        "ord_demo_shopify_shopify",
        "ord_demo_api_bc",
    ] {
        v.push(order(app, id).await);
    }
    v
}

#[tokio::test]
async fn refusals_touch_nothing() {
    let server = MockServer::start().await;
    let app = app_with(Some(&server.uri())).await;
    let before = snapshot(&app).await;
    let (p, mut h, b) = sample("shopify-buyer-orders-cancelled");
    // Forged signature.
    for (k, v) in &mut h {
        if k == "X-Shopify-Hmac-Sha256" {
            *v = sign_hmac_sha256_base64("wrong-secret", &b);
        }
    }
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    // Missing signature.
    let (p, h, b) = sample("shopify-buyer-orders-cancelled");
    let unsigned: Vec<_> = h
        .iter()
        .filter(|(k, _)| k != "X-Shopify-Hmac-Sha256")
        .cloned()
        .collect();
    assert_eq!(deliver(&app, &p, &unsigned, &b).await.status, 401);
    // Tampered body, original signature.
    let tampered = String::from_utf8(b.clone())
        .unwrap()
        .replace("customer", "fraud");
    assert_eq!(deliver(&app, &p, &h, tampered.as_bytes()).await.status, 401);
    // Unknown shop.
    let other: Vec<_> = h
        .iter()
        .map(|(k, v)| {
            if k == "X-Shopify-Shop-Domain" {
                (k.clone(), "unknown.myshopify.com".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert_eq!(deliver(&app, &p, &other, &b).await.status, 401);
    // Unknown company, and a company of another platform, on the WooCommerce path.
    let (_, wh, wb) = sample("woocommerce-order-cancelled");
    assert_eq!(
        deliver(&app, "/webhooks/woocommerce/nobody", &wh, &wb)
            .await
            .status,
        401
    );
    assert_eq!(
        deliver(&app, "/webhooks/woocommerce/seller-bc", &wh, &wb)
            .await
            .status,
        401
    );
    assert_eq!(
        deliver(&app, "/webhooks/woocommerce/seller-api", &wh, &wb)
            .await
            .status,
        401
    );
    // BigCommerce with a wrong or missing token: nothing fetched either.
    let (bp, bh, bb) = sample("bigcommerce-order-status-updated");
    let wrong: Vec<_> = bh
        .iter()
        .map(|(k, v)| {
            if k == "X-Webhook-Token" {
                (k.clone(), "guess".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert_eq!(deliver(&app, &bp, &wrong, &bb).await.status, 401);
    let none: Vec<_> = bh
        .iter()
        .filter(|(k, _)| k != "X-Webhook-Token")
        .cloned()
        .collect();
    assert_eq!(deliver(&app, &bp, &none, &bb).await.status, 401);
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "no platform call for a refused delivery"
    );
    // Signed but unreadable: 400.
    let (p, h, b) = resigned(
        "shopify-buyer-orders-updated",
        &json!({"line_items": "nope"}),
    );
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!((r.status, r.code()), (400, "invalid_body"));
    let (p, h, b) = resigned("woocommerce-order-updated", &json!([1, 2]));
    assert_eq!(deliver(&app, &p, &h, &b).await.status, 400);
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn ignored_deliveries_answer_200() {
    let app = app_with(None).await;
    // A topic we do not act on.
    let (p, h, b) = sample("shopify-seller-orders-updated");
    let h: Vec<_> = h
        .into_iter()
        .map(|(k, v)| {
            if k == "X-Shopify-Topic" {
                (k, "products/update".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("ignored"))
    );
    // An order we do not know.
    let (p, h, b) = resigned(
        "shopify-seller-orders-updated",
        &json!({"id": 123456, "cancelled_at": null, "line_items": []}),
    );
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("ignored"))
    );
    // Unknown routes and methods.
    let r = intake::handle(
        &app.intake,
        event("GET", "/webhooks/shopify", None, None, &[]),
    )
    .await;
    assert_eq!(r.status(), 405);
    let r = intake::handle(
        &app.intake,
        event("POST", "/webhooks/magento/x", None, Some("{}"), &[]),
    )
    .await;
    assert_eq!(r.status(), 404);
}

/// A delivery: (path, headers, body).
type Delivery = (String, Vec<(String, String)>, Vec<u8>);
/// A whole answer: status, headers and body bytes.
type RawAnswer = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

/// `sample` with some headers replaced (or removed, for `None`).
fn with_headers(name: &str, changes: &[(&str, Option<&str>)]) -> Delivery {
    let (p, h, b) = sample(name);
    let mut h: Vec<_> = h
        .into_iter()
        .filter_map(|(k, v)| match changes.iter().find(|(c, _)| *c == k) {
            Some((_, Some(new))) => Some((k, (*new).to_owned())),
            Some((_, None)) => None,
            None => Some((k, v)),
        })
        .collect();
    for (k, v) in changes {
        if let Some(v) = v
            && !h.iter().any(|(hk, _)| hk == k)
        {
            h.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    (p, h, b)
}

#[tokio::test]
async fn an_unsigned_event_id_cannot_claim_a_later_delivery() {
    // A captured orders/updated body, re-sent under the event id and topic
    // of a cancellation still to come, must not use up that cancellation's
    // key: deliveries are keyed by the signed body, not the header.
    let app = app_with(None).await;
    let (p, h, b) = with_headers(
        "shopify-buyer-orders-updated",
        &[
            ("X-Shopify-Topic", Some("orders/cancelled")),
            ("X-Shopify-Event-Id", Some("evt-1002")),
            ("X-Shopify-Webhook-Id", Some("wh-1002")),
        ],
    );
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = deliver_sample(&app, "shopify-buyer-orders-cancelled").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "processed", "{}", r.body);
    // Both sellers' orders of that Shopify order are cancelled whole.
    for id in ["ord_demo_shopify_woo", "ord_demo_shopify_shopify"] {
        assert_eq!(
            order(&app, id).await.order.cancellation_status(),
            domain::CancellationStatus::Cancelled,
            "{id}: the real cancellation was taken for a duplicate"
        );
    }

    // The same body again, under any event id, changes nothing.
    let before = snapshot(&app).await;
    let (p, h, b) = with_headers(
        "shopify-buyer-orders-cancelled",
        &[("X-Shopify-Event-Id", Some("evt-other"))],
    );
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn the_unsigned_topic_cannot_cancel_an_order() {
    // Shopify signs the body, not X-Shopify-Topic: a signed orders/updated
    // body (cancelled_at null) re-sent as orders/cancelled, with a fresh
    // event id, is still only that update.
    let replay = [
        ("X-Shopify-Topic", Some("orders/cancelled")),
        ("X-Shopify-Event-Id", Some("evt-replayed")),
        ("X-Shopify-Webhook-Id", Some("wh-replayed")),
    ];
    let app = app_with(None).await;
    let r = deliver_sample(&app, "shopify-buyer-orders-updated").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let before = snapshot(&app).await;
    let (p, h, b) = with_headers("shopify-buyer-orders-updated", &replay);
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        snapshot(&app).await,
        before,
        "the replay cancelled something"
    );

    // Sent first, the relabelled delivery does what the body says: two
    // spoons, as items, and nothing on the other seller's order.
    let app = app_with(None).await;
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let woo = order(&app, "ord_demo_shopify_woo").await;
    assert_eq!(lines(&woo), vec![(2, 0, 0), (3, 0, 2)]);
    assert_eq!(woo.cancellations.len(), 1);
    assert_eq!(woo.cancellations[0].kind, domain::CancellationKind::Items);
    assert_eq!(
        woo.cancellations[0].items[0].reason.as_deref(),
        Some("Order updated in Shopify")
    );
    let other = order(&app, "ord_demo_shopify_shopify").await;
    assert!(other.cancellations.is_empty());

    // And the other way round: a cancelled body is a cancellation whatever
    // the topic, since the body is what Shopify signed.
    let app = app_with(None).await;
    let (p, h, b) = with_headers(
        "shopify-seller-orders-cancelled",
        &[("X-Shopify-Topic", Some("orders/updated"))],
    );
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_shopify_shopify").await;
    assert_eq!(rec.cancellations[0].kind, domain::CancellationKind::Order);
    assert_eq!(
        rec.cancellations[0].items[0].reason.as_deref(),
        Some("Order cancelled in Shopify (items unavailable)")
    );
}

#[tokio::test]
async fn an_invisible_refund_note_is_no_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(gql_order(
            false,
            &[("13001", 1), ("13002", 3), ("13003", 5)],
        )))
        .mount(&server)
        .await;
    let app = app_with(Some(&server.uri())).await;
    let (p, h, b) = resigned(
        "shopify-buyer-refunds-create",
        &json!({"id": 77002, "order_id": 5001, "note": "\u{200b}\u{feff} \u{2060}",
                "refund_line_items": [{"id": 2, "line_item_id": 13001, "quantity": 1}]}),
    );
    let r = deliver(&app, &p, &h, &b).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_shopify_woo").await;
    assert_eq!(lines(&rec), vec![(2, 0, 1), (3, 0, 0)]);
    assert_eq!(
        rec.cancellations[0].items[0].reason.as_deref(),
        Some("Refunded in Shopify")
    );
}

/// A delivery's whole answer: status, headers and body bytes.
async fn deliver_raw(
    app: &TestApp,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> RawAnswer {
    let req = delivery_request(path, headers, body);
    let r = intake::handle(&app.intake, req).await;
    let mut hs: Vec<_> = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    hs.sort();
    let bytes = match r.body() {
        lambda_http::Body::Text(t) => t.as_bytes().to_vec(),
        lambda_http::Body::Binary(b) => b.clone(),
        _ => vec![],
    };
    (r.status().as_u16(), hs, bytes)
}

#[tokio::test]
async fn every_refusal_reads_the_same() {
    let server = MockServer::start().await;
    let app = app_with(Some(&server.uri())).await;
    // Connected companies without a webhook secret, one per platform.
    for (id, integration, conn) in [
        (
            "bare-shopify",
            domain::Integration::Store(domain::Platform::Shopify),
            domain::Connection {
                shop_domain: Some("bare.myshopify.com".into()),
                ..Default::default()
            },
        ),
        (
            "bare-woo",
            domain::Integration::Store(domain::Platform::WooCommerce),
            domain::Connection {
                site_url: Some("https://bare.example".into()),
                ..Default::default()
            },
        ),
        (
            "bare-bc",
            domain::Integration::Store(domain::Platform::BigCommerce),
            domain::Connection {
                store_hash: Some("bare".into()),
                ..Default::default()
            },
        ),
    ] {
        app.store
            .put_company(&domain::Company {
                id: id.into(),
                name: id.into(),
                role: domain::Role::Seller,
                integration,
                email: format!("{id}@example.com"),
                api_keys: vec![],
                connection: Some(conn),
                webhook_endpoints: Vec::new(),
                edi: None,
            })
            .await
            .unwrap();
    }
    let before = snapshot(&app).await;
    let shop = "shopify-seller-orders-cancelled";
    let woo = "woocommerce-order-cancelled";
    let bc = "bigcommerce-order-status-updated";
    let bad_sig = sign_hmac_sha256_base64("wrong-secret", b"{}");
    let mut cases: Vec<(String, Delivery)> = vec![
        (
            "shopify: unknown shop".into(),
            with_headers(
                shop,
                &[("X-Shopify-Shop-Domain", Some("nobody.myshopify.com"))],
            ),
        ),
        (
            "shopify: no shop header".into(),
            with_headers(shop, &[("X-Shopify-Shop-Domain", None)]),
        ),
        (
            "shopify: shop without a secret".into(),
            with_headers(
                shop,
                &[("X-Shopify-Shop-Domain", Some("bare.myshopify.com"))],
            ),
        ),
        (
            "shopify: missing signature".into(),
            with_headers(shop, &[("X-Shopify-Hmac-Sha256", None)]),
        ),
        (
            "shopify: wrong signature".into(),
            with_headers(shop, &[("X-Shopify-Hmac-Sha256", Some(&bad_sig))]),
        ),
        (
            "shopify: malformed signature".into(),
            with_headers(shop, &[("X-Shopify-Hmac-Sha256", Some("not base64!"))]),
        ),
        (
            "shopify: the other shop's signature".into(),
            with_headers(
                "shopify-buyer-orders-cancelled",
                &[("X-Shopify-Shop-Domain", Some("pine-goods.myshopify.com"))],
            ),
        ),
        (
            "woocommerce: missing signature".into(),
            with_headers(woo, &[("X-WC-Webhook-Signature", None)]),
        ),
        (
            "woocommerce: wrong signature".into(),
            with_headers(woo, &[("X-WC-Webhook-Signature", Some(&bad_sig))]),
        ),
        (
            "bigcommerce: missing token".into(),
            with_headers(bc, &[("X-Webhook-Token", None)]),
        ),
        (
            "bigcommerce: wrong token".into(),
            with_headers(bc, &[("X-Webhook-Token", Some("demo-bc-secreT"))]),
        ),
        (
            "bigcommerce: empty token".into(),
            with_headers(bc, &[("X-Webhook-Token", Some(""))]),
        ),
    ];
    // The right signature or token, on the path of a company that is
    // unknown, on another platform, or without a secret.
    for (platform, name, ids) in [
        (
            "woocommerce",
            woo,
            ["nobody", "seller-api", "seller-bc", "bare-woo"],
        ),
        (
            "bigcommerce",
            bc,
            ["nobody", "seller-api", "seller-woo", "bare-bc"],
        ),
    ] {
        for id in ids {
            let (_, h, b) = sample(name);
            cases.push((
                format!("{platform}: company {id}"),
                (format!("/webhooks/{platform}/{id}"), h, b),
            ));
        }
    }
    let mut first: Option<(&String, RawAnswer)> = None;
    for (what, (p, h, b)) in &cases {
        let got = deliver_raw(&app, p, h, b).await;
        assert_eq!(got.0, 401, "{what}: {}", String::from_utf8_lossy(&got.2));
        match &first {
            None => first = Some((what, got)),
            Some((w, reference)) => {
                assert_eq!(&got, reference, "{what} answers differently from {w}")
            }
        }
    }
    assert!(cases.len() >= 20, "{}", cases.len());
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "no platform call for a refused delivery"
    );
    assert_eq!(snapshot(&app).await, before);
    // The genuine deliveries still pass.
    let r = deliver_sample(&app, woo).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Ids a delivery names an order by are fetched from the platform only
/// when numeric: anything else is an unreadable payload, and no call is
/// made, even for an order stored (before refs were validated) under it.
#[tokio::test]
async fn ids_we_fetch_by_must_be_numeric() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(gql_order(false, &[("13001", 1)])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status_id": 5})))
        .mount(&server)
        .await;
    let app = app_with(Some(&server.uri())).await;
    let hostile = "5001/../../../v3/catalog/products/77?x=";
    let template = app
        .store
        .order("ord_demo_shopify_woo")
        .await
        .unwrap()
        .unwrap();
    for (id, buyer, seller, buyer_ref, seller_ref) in [
        (
            "ord_legacy_shop",
            "buyer-shopify",
            "seller-api",
            Some(hostile),
            None,
        ),
        (
            "ord_legacy_bc",
            "buyer-api",
            "seller-bc",
            None,
            Some(hostile),
        ),
    ] {
        let mut o = template.clone();
        o.id = id.into();
        o.buyer_id = buyer.into();
        o.seller_id = seller.into();
        o.buyer_order_ref = buyer_ref.map(str::to_owned);
        o.seller_order_ref = seller_ref.map(str::to_owned);
        app.store
            .commit(&service::store::Commit::create(o))
            .await
            .unwrap();
    }
    let edited = json!({"order_edit": {"id": 1, "order_id": hostile, "line_items": {"additions": [], "removals": []}}});
    let refund = json!({"id": 9, "order_id": hostile, "refund_line_items": []});
    for (name, body) in [
        ("shopify-buyer-orders-edited", edited),
        ("shopify-buyer-refunds-create", refund),
    ] {
        let (p, h, b) = resigned(name, &body);
        let r = deliver(&app, &p, &h, &b).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_body"),
            "{name}: {}",
            r.body
        );
    }
    let (p, h, _) = sample("bigcommerce-order-updated");
    let body = json!({"scope": "store/order/updated", "store_id": "1001",
        "data": {"type": "order", "id": hostile}, "hash": "h-hostile"});
    let r = deliver(&app, &p, &h, body.to_string().as_bytes()).await;
    assert_eq!((r.status, r.code()), (400, "invalid_body"), "{}", r.body);
    assert!(server.received_requests().await.unwrap().is_empty());
    for id in ["ord_legacy_shop", "ord_legacy_bc"] {
        assert!(order(&app, id).await.cancellations.is_empty());
    }
}

/// Webhook intake keeps companies for a while in a warm process; a secret
/// rotated meanwhile is honoured at once (a failed check reads the company
/// again), and the old one stops working at once too.
#[tokio::test]
async fn a_rotated_webhook_secret_is_honoured_at_once() {
    let app = app_with(None).await;
    let r = deliver_sample(&app, "woocommerce-order-updated").await;
    assert_eq!(r.status, 200, "{}", r.body);

    let mut company = app.store.company("seller-woo").await.unwrap().unwrap();
    company.connection.as_mut().unwrap().webhook_secret = Some("rotated-woo-secret".into());
    app.store.put_company(&company).await.unwrap();

    let (p, mut h, _) = sample("woocommerce-order-updated");
    let body = br#"{"id": 731, "status": "processing", "line_items": []}"#.to_vec();
    let sign = |h: &mut Vec<(String, String)>, secret: &str| {
        for (k, v) in h.iter_mut() {
            if k == "X-WC-Webhook-Signature" {
                *v = sign_hmac_sha256_base64(secret, &body);
            }
        }
    };
    sign(&mut h, "rotated-woo-secret");
    let r = deliver(&app, &p, &h, &body).await;
    assert_eq!(r.status, 200, "the new secret works at once: {}", r.body);
    sign(&mut h, "demo-woo-secret");
    let r = deliver(&app, &p, &h, &body).await;
    assert_eq!(r.status, 401, "the old secret stops working at once");
}

/// BigCommerce's payload names only the order, and its `hash` is the SHA-1
/// of that `data`: every change of an order arrives with the same body.
/// Each change read back from the API takes effect; a true repeat does not.
#[tokio::test]
async fn bigcommerce_changes_with_identical_deliveries_all_take_effect() {
    use testkit::stores::{BcOrder, BcProduct, Decimal, FakeBigCommerce};
    let bc = FakeBigCommerce::default();
    let product = |id, quantity| BcProduct {
        id,
        quantity,
        quantity_refunded: 0,
        base_price_ex: Decimal::from(89),
        price_ex: Decimal::from(89),
        price_inc: Decimal::from(89),
        discounts: vec![],
    };
    bc.add_order(BcOrder {
        id: 120,
        status_id: 11,
        products: vec![product(501, 2), product(502, 1)],
    });
    let server = bc.start().await;
    let app = app_with(Some(&server.uri())).await;
    let (path, headers, _) = sample("bigcommerce-order-updated");
    let body = FakeBigCommerce::delivery("store/order/updated", "birch123", 120, 1_795_579_200);
    // First change: one chair refunded in BigCommerce.
    bc.edit(120, |o| o.products[0].quantity_refunded = 1);
    let r = deliver(&app, &path, &headers, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        lines(&order(&app, "ord_demo_api_bc").await),
        [(2, 0, 1), (1, 0, 0)]
    );
    // Second change, same body: the stool refunded too.
    bc.edit(120, |o| o.products[1].quantity_refunded = 1);
    let r = deliver(&app, &path, &headers, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = order(&app, "ord_demo_api_bc").await;
    assert_eq!(lines(&rec), [(2, 0, 1), (1, 0, 1)], "{}", r.body);
    assert_eq!(rec.cancellations.len(), 2);
    // The same delivery again, nothing changed since: nothing new.
    let r = deliver(&app, &path, &headers, &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(order(&app, "ord_demo_api_bc").await.cancellations.len(), 2);
}

/// Deliveries written by the platforms themselves (tests/fixtures/platforms,
/// SOURCES.md there says where each comes from), signed as the platform
/// signs, through the handler, each with its effect.
mod platform_written {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/platforms")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Add an order to the app's store whose `party` (buyer or seller)
    /// knows it as `store_ref`; its lines are (id, quantity, line ref).
    async fn add_order(
        app: &TestApp,
        (id, buyer, seller): (&str, &str, &str),
        party: &str,
        store_ref: &str,
        lines: &[(&str, u32, &str)],
    ) {
        let mut order = json!({
            "id": id, "buyer_id": buyer, "seller_id": seller, "buyer_order_ref": "PO-1",
            "created_at": "2026-11-05T09:00:00Z",
            "line_items": lines.iter().map(|(l, q, r)| {
                let mut line = json!({"id": l, "sku": format!("SKU-{l}"), "title": "Item",
                                      "quantity": q, "unit_price": "1.00"});
                line[format!("{party}_line_ref")] = json!(r);
                line
            }).collect::<Vec<_>>()
        });
        order[format!("{party}_order_ref")] = json!(store_ref);
        let seed =
            SeedFile::parse(&json!({"companies": [], "orders": [order]}).to_string()).unwrap();
        seed::apply(&app.store, &seed).await.unwrap();
    }

    /// A Shopify-written body under `topic`, signed as Shopify signs.
    async fn deliver_shopify(app: &TestApp, topic: &str, name: &str) -> Reply {
        let body = fixture(name);
        deliver(
            app,
            "/webhooks/shopify",
            &shopify_headers(topic, &body),
            &body,
        )
        .await
    }

    fn shopify_headers(topic: &str, body: &[u8]) -> Vec<(String, String)> {
        [
            ("Content-Type", "application/json".to_owned()),
            ("X-Shopify-Topic", topic.to_owned()),
            (
                "X-Shopify-Hmac-Sha256",
                sign_hmac_sha256_base64("demo-shopify-buyer-secret", body),
            ),
            ("X-Shopify-Shop-Domain", "maple-co.myshopify.com".to_owned()),
            ("X-Shopify-API-Version", "2026-10".to_owned()),
            ("X-Shopify-Event-Id", format!("evt-{topic}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Shopify's order 450789469: lines 466157049, 518995019, 703073504.
    async fn shopify_app(base: Option<&str>) -> TestApp {
        let app = app_with(base).await;
        add_order(
            &app,
            ("ord-450789469", "buyer-shopify", "seller-api"),
            "buyer",
            "450789469",
            &[
                ("li_1", 1, "466157049"),
                ("li_2", 1, "518995019"),
                ("li_3", 1, "703073504"),
            ],
        )
        .await;
        app
    }

    #[tokio::test]
    async fn shopify_orders_cancelled() {
        let app = shopify_app(None).await;
        let r = deliver_shopify(&app, "orders/cancelled", "shopify/orders-cancelled.json").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let rec = order(&app, "ord-450789469").await;
        assert!(rec.order.is_complete(), "the whole order is cancelled");
        assert_eq!(rec.cancellations[0].kind, domain::CancellationKind::Order);
    }

    #[tokio::test]
    async fn shopify_orders_updated() {
        let app = shopify_app(None).await;
        let r = deliver_shopify(&app, "orders/updated", "shopify/orders-updated.json").await;
        assert_eq!(r.status, 200, "{}", r.body);
        // Two of its lines have current_quantity 0.
        assert_eq!(
            lines(&order(&app, "ord-450789469").await),
            [(1, 0, 1), (1, 0, 0), (1, 0, 1)]
        );
    }

    #[tokio::test]
    async fn shopify_refunds_create() {
        use testkit::stores::{Decimal, FakeShopify, ShopLine, ShopOrder};
        let shopify = FakeShopify::today();
        let line = |id, current| ShopLine {
            id,
            quantity: 1,
            current,
            price: Decimal::ONE,
        };
        // The refund of 518995019: Shopify's order now has it at 0.
        shopify.add_order(ShopOrder {
            id: 450789469,
            closed: false,
            cancelled_at: None,
            currency: "USD".into(),
            lines: vec![line(466157049, 1), line(518995019, 0), line(703073504, 1)],
        });
        let server = shopify.start().await;
        let app = shopify_app(Some(&server.uri())).await;
        let r = deliver_shopify(&app, "refunds/create", "shopify/refunds-create.json").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            lines(&order(&app, "ord-450789469").await),
            [(1, 0, 0), (1, 0, 1), (1, 0, 0)]
        );
    }

    #[tokio::test]
    async fn woocommerce_order_updated() {
        let app = app_with(None).await;
        // WooCommerce's order 727 has line 315 at 2 and 316 at 1; ours had 3 of 315.
        add_order(
            &app,
            ("ord-727", "buyer-api", "seller-woo"),
            "seller",
            "727",
            &[("li_1", 3, "315"), ("li_2", 1, "316")],
        )
        .await;
        let body = fixture("woocommerce/order-updated.json");
        let headers: Vec<(String, String)> = [
            ("Content-Type", "application/json".to_owned()),
            (
                "X-WC-Webhook-Source",
                "https://cedar-crafts.example/".to_owned(),
            ),
            ("X-WC-Webhook-Topic", "order.updated".to_owned()),
            (
                "X-WC-Webhook-Signature",
                sign_hmac_sha256_base64("demo-woo-secret", &body),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let r = deliver(&app, "/webhooks/woocommerce/seller-woo", &headers, &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(lines(&order(&app, "ord-727").await), [(3, 0, 1), (1, 0, 0)]);
    }

    /// BigCommerce's own deliveries for order 250, with its own examples of
    /// the order and its products read back (product 65, quantity 1).
    #[tokio::test]
    async fn bigcommerce_order_scopes() {
        for (i, name) in [
            "store-order-statusUpdated.json",
            "store-order-updated.json",
            "store-order-refund-created.json",
        ]
        .into_iter()
        .enumerate()
        {
            let server = MockServer::start().await;
            Mock::given(method("GET"))
                .and(path("/stores/birch123/v2/orders/250"))
                .and(header("X-Auth-Token", "bc_demo_token"))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_raw(fixture("bigcommerce/order.json"), "application/json"),
                )
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path("/stores/birch123/v2/orders/250/products"))
                .and(query_param("page", "1"))
                .respond_with(ResponseTemplate::new(200).set_body_raw(
                    fixture("bigcommerce/order-products.json"),
                    "application/json",
                ))
                .mount(&server)
                .await;
            let app = app_with(Some(&server.uri())).await;
            let id = format!("ord-{i}-250");
            add_order(
                &app,
                (&id, "buyer-api", "seller-bc"),
                "seller",
                "250",
                &[("li_1", 3, "65")],
            )
            .await;
            let body = fixture(&format!("bigcommerce/{name}"));
            let headers = vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("X-Webhook-Token".to_owned(), "demo-bc-secret".to_owned()),
            ];
            let r = deliver(&app, "/webhooks/bigcommerce/seller-bc", &headers, &body).await;
            assert_eq!(r.status, 200, "{name}: {}", r.body);
            assert_eq!(lines(&order(&app, &id).await), [(3, 0, 2)], "{name}");
        }
    }
}
