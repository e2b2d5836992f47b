//! Fixtures shared by the benchmarks: 50-line orders, the demo seed on the
//! embedded in-memory store, and API Gateway v2 events as `lambda_http`
//! converts them for the Lambda.
#![allow(dead_code)]

use chrono::DateTime;
use domain::{self, Company, Integration, NewLine, NewOrder, Order, Role};
use lambda_http::Request;
use lambda_http::request::LambdaRequest;
use local::seed::{self, SeedFile};
use serde_json::{Value, json};
use service::app::OrdersService;
use sqlite::EmbeddedStore;

/// Lines per order in every benchmark: a 50-line order.
pub const LINES: usize = 50;

pub const DEMO_SEED: &str = include_str!("../../../events/demo-seed.json");

pub fn company(id: &str, role: Role) -> Company {
    Company {
        id: id.into(),
        name: id.into(),
        role,
        integration: Integration::Api,
        email: format!("{id}@example.com"),
        api_keys: vec![],
        connection: None,
        webhook_endpoints: Vec::new(),
        edi: None,
    }
}

/// A 50-line order, 10 units a line, as the domain creates it.
pub fn order_50() -> Order {
    let lines = (1..=LINES)
        .map(|i| NewLine {
            id: format!("li_{i}"),
            sku: format!("SKU-{i:04}"),
            title: Some(format!("Item number {i}")),
            quantity: 10,
            unit_price: Some("12.50".into()),
            buyer_line_ref: None,
            seller_line_ref: Some(format!("{}", 900_000 + i)),
        })
        .collect();
    domain::create_order(
        &company("b", Role::Buyer),
        &company("s", Role::Seller),
        NewOrder {
            buyer_order_ref: Some("PO-1".into()),
            seller_order_ref: Some("9101".into()),
            line_items: lines,
        },
        "ord_bench".into(),
        DateTime::UNIX_EPOCH,
    )
    .expect("a valid order")
}

/// A current-thread runtime, as the Lambda functions run.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The demo seed on a fresh in-memory embedded store, with the API's
/// services (the embedded store's webhook ports, as `dropship serve` has).
pub async fn demo_app() -> Services {
    let store = EmbeddedStore::in_memory().expect("an in-memory store");
    seed::apply(&store, &SeedFile::parse(DEMO_SEED).expect("the demo seed"))
        .await
        .expect("seeded");
    let key = std::sync::Arc::from(&[7u8; 32][..]);
    let policy = domain::events::UrlPolicy::default();
    let (ports, _) = local::events::ports(&store, key, policy).expect("the local webhook ports");
    let app = OrdersService::new(store);
    Services {
        intake: service::IntakeService::new(
            app.core(),
            platforms::client::HttpPlatformReader::default(),
        ),
        api: handlers::api::Api::new(app, ports),
    }
}

/// What `dropship serve` runs over one core: the API's services and
/// platform intake. Derefs to the API's.
pub struct Services {
    pub api: handlers::api::Api<EmbeddedStore>,
    pub intake: service::IntakeService<EmbeddedStore>,
}

impl std::ops::Deref for Services {
    type Target = handlers::api::Api<EmbeddedStore>;

    fn deref(&self) -> &Self::Target {
        &self.api
    }
}

/// Seed one order of `LINES` lines (10 units each) between the given
/// companies, with platform references `seller_ref` / `900001..`.
pub async fn seed_order(
    app: &OrdersService<EmbeddedStore>,
    id: &str,
    buyer: &str,
    seller: &str,
    seller_ref: &str,
) {
    let lines: Vec<Value> = (1..=LINES)
        .map(|i| {
            json!({"id": format!("li_{i}"), "sku": format!("SKU-{i:04}"), "title": format!("Item {i}"),
                   "quantity": 10, "unit_price": "12.50", "seller_line_ref": format!("{}", 900_000 + i)})
        })
        .collect();
    let seed = json!({"orders": [{"id": id, "buyer_id": buyer, "seller_id": seller,
        "buyer_order_ref": format!("PO-{id}"), "seller_order_ref": seller_ref, "line_items": lines}]});
    seed::apply(
        &app.store,
        &SeedFile::parse(&seed.to_string()).expect("a seed"),
    )
    .await
    .expect("order seeded");
}

/// `event` with a query string.
pub fn event_with_query(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> Request {
    let mut h = serde_json::Map::new();
    h.insert("host".into(), "api.example.com".into());
    for (k, v) in headers {
        h.insert(k.to_lowercase(), (*v).into());
    }
    let e = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": h,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench", "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:04:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    let lr: LambdaRequest = serde_json::from_value(e).expect("a valid API Gateway v2 event");
    lr.into()
}

/// An API Gateway HTTP API (v2) event, converted as the Lambda runtime does.
pub fn event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Request {
    let mut h = serde_json::Map::new();
    h.insert("host".into(), "api.example.com".into());
    for (k, v) in headers {
        h.insert(k.to_lowercase(), (*v).into());
    }
    let mut e = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": h,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench", "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:04:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        e["body"] = b.into();
    }
    let lr: LambdaRequest = serde_json::from_value(e).expect("a valid API Gateway v2 event");
    lr.into()
}

/// A Shopify `orders/updated` body for order `order_ref`: every line of the
/// 50 at `current` units (from 10), with the Shopify fields a real delivery has.
pub fn shopify_orders_updated(order_ref: &str, current: u32) -> String {
    let lines: Vec<Value> = (1..=LINES)
        .map(|i| {
            json!({"id": 900_000 + i, "admin_graphql_api_id": format!("gid://shopify/LineItem/{}", 900_000 + i),
                   "sku": format!("SKU-{i:04}"), "title": format!("Item {i}"), "name": format!("Item {i}"),
                   "quantity": 10, "current_quantity": current, "fulfillable_quantity": current,
                   "price": "12.50", "vendor": "Pine Goods", "requires_shipping": true, "taxable": true,
                   "properties": [], "tax_lines": [], "discount_allocations": []})
        })
        .collect();
    json!({"id": order_ref.parse::<u64>().unwrap_or(1), "name": format!("#{order_ref}"),
           "email": "buyer@example.com", "currency": "USD", "financial_status": "paid",
           "cancelled_at": null, "cancel_reason": null, "line_items": lines})
    .to_string()
}
