//! The fuzzing oracles, one per target: each takes raw bytes and panics on a
//! failure. Shared by the libFuzzer targets (`fuzz/fuzz_targets/`, long runs
//! with `cargo fuzz`) and the stable short run in the test suite
//! (`shared/tests/fuzz.rs`), which includes this file with `#[path]`.
#![allow(dead_code)]

use lambda_http::Body;
use lambda_http::request::LambdaRequest;
use local::seed::{self, SeedFile};
use platforms::{Inbound, OrderState, Platform, bigcommerce, shopify, woocommerce};
use serde_json::{Value, json};
use service::app::App;
use sqlite::EmbeddedStore;

pub const DEMO_SEED: &str = include_str!("../events/demo-seed.json");

pub const SHOPIFY_TOPICS: &[&str] = &[
    "orders/cancelled",
    "orders/updated",
    "orders/edited",
    "refunds/create",
    "orders/create",
];

fn inbound_is_sane(i: &Inbound) {
    match i {
        Inbound::Order(o) => assert!(!o.reason().trim().is_empty(), "an order without a reason"),
        Inbound::Fetch { change, .. } => {
            let open = OrderState::Open(Platform::Shopify, change.clone());
            assert!(!open.reason().trim().is_empty(), "a fetch without a reason")
        }
        Inbound::Ignore(why) => assert!(!why.is_empty()),
    }
}

/// Shopify: the first byte picks the topic, the rest is the body. Parsing
/// never panics, is deterministic, and what it accepts is sane.
pub fn shopify_parse(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let topic = SHOPIFY_TOPICS[usize::from(pick) % SHOPIFY_TOPICS.len()];
    let first = shopify::parse(topic, body);
    let again = shopify::parse(topic, body);
    assert_eq!(first.is_ok(), again.is_ok(), "parse is deterministic");
    if let (Ok(a), Ok(b)) = (&first, &again) {
        assert_eq!(a, b, "parse is deterministic");
        inbound_is_sane(a);
        // The topic is not signed: it never changes what an order body decides.
        if topic == "orders/cancelled" {
            assert_eq!(
                Some(a),
                shopify::parse("orders/updated", body).ok().as_ref(),
                "the topic decided"
            );
        }
    }
}

/// WooCommerce: `order.updated` bodies (and the ping check) never panic.
pub fn woocommerce_parse(data: &[u8]) {
    let _ = woocommerce::is_ping(data);
    let topic = if data.first().is_some_and(|b| b % 8 == 0) {
        "order.created"
    } else {
        "order.updated"
    };
    if let Ok(i) = woocommerce::parse(topic, data) {
        inbound_is_sane(&i);
        if let Inbound::Order(o) = &i {
            assert!(
                o.complete_line_list,
                "an order.updated body is the whole order"
            );
        }
    }
}

/// BigCommerce: delivery bodies never panic; every accepted one is sane.
pub fn bigcommerce_parse(data: &[u8]) {
    if let Ok((i, _hash)) = bigcommerce::parse(data) {
        inbound_is_sane(&i);
    }
}

/// The requests `api_body` can make: (method, path, key, query).
pub const API_ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/v1/orders", "demo-buyer-api-key"),
    (
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        "demo-buyer-api-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        "demo-seller-api-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_api/cancellations?preview=true",
        "demo-seller-api-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_edi/cancellations",
        "demo-seller-edi-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_api/fulfillments",
        "demo-seller-api-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        "demo-buyer-edi-key",
    ),
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// An API Gateway v2 event as the Lambda runtime hands it over.
pub fn api_event(
    method: &str,
    path_and_query: &str,
    key: &str,
    body: &[u8],
    idem: Option<&str>,
) -> lambda_http::Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut headers = json!({"host": "api.example.com", "authorization": format!("Bearer {key}"),
                             "content-type": "application/json"});
    if let Some(k) = idem {
        headers["idempotency-key"] = k.into();
    }
    // Bodies that are not UTF-8 arrive base64-encoded, as API Gateway sends them.
    let (body, b64) = match std::str::from_utf8(body) {
        Ok(s) => (Value::from(s), false),
        Err(_) => {
            use base64::Engine;
            (
                base64::engine::general_purpose::STANDARD
                    .encode(body)
                    .into(),
                true,
            )
        }
    };
    let e = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers, "body": body, "isBase64Encoded": b64,
        "requestContext": {
            "accountId": "123456789012", "apiId": "fuzz", "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "fuzz"},
            "requestId": "fuzz", "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:04:00:00 +0000", "timeEpoch": 0
        }
    });
    let lr: LambdaRequest = serde_json::from_value(e).expect("a valid API Gateway v2 event");
    lr.into()
}

/// A fresh demo-seeded app on an in-memory store (deterministic per input).
pub fn demo_app() -> App<EmbeddedStore> {
    runtime().block_on(async {
        let store = EmbeddedStore::in_memory().expect("an in-memory store");
        seed::apply(&store, &SeedFile::parse(DEMO_SEED).expect("the demo seed"))
            .await
            .expect("seeded");
        App::new(store).with_platform_reader(platforms::client::HttpPlatformReader::default())
    })
}

/// The API: the first byte picks the route and caller (and whether an
/// Idempotency-Key is sent), the rest is the body. Through `api::handle` on
/// a fresh in-memory store: never a panic, never a 5xx, every error a
/// problem+json document with its code, every success JSON.
pub fn api_body(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path, key) = API_ROUTES[usize::from(pick) % API_ROUTES.len()];
    let idem = (pick & 0x80 != 0).then_some("fuzz-idempotency-key");
    let app = demo_app();
    let r = runtime().block_on(handlers::api::handle(
        &app,
        api_event(method, path, key, body, idem),
    ));
    let status = r.status().as_u16();
    let text = match r.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    assert!(status < 500, "{method} {path}: {status} {text}");
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
    if status >= 400 {
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert_eq!(ct, Some("application/problem+json"), "{status} {text}");
        assert!(doc["code"].is_string(), "problem without a code: {text}");
        assert_eq!(doc["status"], status, "{text}");
    }
}
