//! Many HTTP clients race on one order through `dropship`'s host: no 5xx,
//! no over-committed unit, every 201 is exactly one committed record.

use std::sync::Arc;

use domain::events::UrlPolicy;
use dropship::server::{Host, Limits, serve};
use handlers::api::Api;
use local::seed::{self, SeedFile};
use platforms::client::HttpPlatformReader;
use serde_json::Value;
use service::IntakeService;
use service::app::OrdersService;
use service::store::Orders;
use sqlite::EmbeddedStore;
use testkit::webhook_ports::webhook_ports;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start() -> (
    String,
    Arc<Host<EmbeddedStore>>,
    tokio::sync::watch::Sender<bool>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open_dir(dir.path()).unwrap();
    seed::apply(&store, &SeedFile::parse(dropship::DEMO_SEED).unwrap())
        .await
        .unwrap();
    let app = OrdersService::new(store);
    let host = Arc::new(Host {
        intake: IntakeService::new(app.core(), HttpPlatformReader::default()),
        api: Api::new(app, webhook_ports(UrlPolicy::default()).0),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(listener, Arc::clone(&host), Limits::default(), rx));
    (addr, host, tx, dir)
}

/// A minimal HTTP/1.1 client: one request per connection.
async fn request(addr: &str, method: &str, path: &str, key: &str, body: &str) -> (u16, Value) {
    request_with_key(addr, method, path, key, None, body).await
}

async fn request_with_key(
    addr: &str,
    method: &str,
    path: &str,
    key: &str,
    idempotency_key: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let idem = idempotency_key
        .map(|k| format!("Idempotency-Key: {k}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n{idem}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_http_clients_never_over_commit() {
    let (addr, host, stop, _dir) = start().await;
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let line = if i % 2 == 0 { "li_1" } else { "li_2" };
            let (path, key, body) = match i % 5 {
                0 | 1 => ("fulfillments", "demo-seller-api-key", format!(r#"{{"items":[{{"line_item_id":"{line}","quantity":1}}]}}"#)),
                2 if i == 7 => ("cancellations", "demo-seller-api-key", r#"{"reason":"Items are out of stock"}"#.to_owned()),
                _ => ("cancellations", if i % 3 == 0 { "demo-buyer-api-key" } else { "demo-seller-api-key" },
                      format!(r#"{{"items":[{{"line_item_id":"{line}","quantity":1,"reason":"Item is out of stock"}}]}}"#)),
            };
            let r = request(&addr, "POST", &format!("/v1/orders/ord_demo_api/{path}"), key, &body).await;
            (path, r)
        }));
    }
    let (mut fulfilled, mut cancelled) = (0u64, 0u64);
    for t in tasks {
        let (path, (status, body)) = t.await.unwrap();
        assert!(status < 500, "server error: {status} {body}");
        match status {
            201 => {
                let units: u64 = body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["quantity"].as_u64().unwrap())
                    .sum();
                if path == "fulfillments" {
                    fulfilled += units
                } else {
                    cancelled += units
                }
            }
            409 => assert!(
                matches!(
                    body["code"].as_str(),
                    Some("quantity_exceeds_open" | "nothing_to_cancel" | "conflict")
                ),
                "{body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let rec = host
        .api
        .store
        .order_record("ord_demo_api")
        .await
        .unwrap()
        .unwrap();
    for l in &rec.order.line_items {
        assert!(l.fulfilled + l.cancelled <= l.quantity, "{l:?}");
    }
    let f: u64 = rec
        .order
        .line_items
        .iter()
        .map(|l| u64::from(l.fulfilled))
        .sum();
    let c: u64 = rec
        .order
        .line_items
        .iter()
        .map(|l| u64::from(l.cancelled))
        .sum();
    assert_eq!(
        (f, c),
        (fulfilled, cancelled),
        "each 201, and only those, committed"
    );
    let recorded: u64 = rec
        .cancellations
        .iter()
        .flat_map(|c| &c.items)
        .map(|i| u64::from(i.quantity))
        .sum();
    assert_eq!(recorded, c);
    stop.send(true).unwrap();
}

/// Clients with their own Idempotency-Keys cancel one unit each of one order
/// at once, two rounds each: on the embedded store (decisions under its
/// write transaction) none is answered `409 conflict`, and the books
/// balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_order_clients_never_get_conflict_on_the_embedded_store() {
    const CLIENTS: u32 = 32;
    const ROUNDS: u32 = 2;
    let (addr, host, stop, _dir) = start().await;
    let units = CLIENTS * ROUNDS;
    let (status, order) = request_with_key(
        &addr,
        "POST",
        "/v1/orders",
        "demo-buyer-api-key",
        Some("hot-order"),
        &format!(
            r#"{{"seller_id":"seller-api","line_items":[{{"id":"li_1","sku":"SKU-1","quantity":{units}}}]}}"#
        ),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["id"].as_str().unwrap().to_owned();
    let barrier = Arc::new(tokio::sync::Barrier::new(CLIENTS as usize));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (addr, order_id, barrier) = (addr.clone(), order_id.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut answers = Vec::new();
            for round in 0..ROUNDS {
                answers.push(
                    request_with_key(
                        &addr,
                        "POST",
                        &format!("/v1/orders/{order_id}/cancellations"),
                        "demo-buyer-api-key",
                        Some(&format!("hot-{i}-{round}")),
                        r#"{"items":[{"line_item_id":"li_1","quantity":1,"reason":"Item is out of stock"}]}"#,
                    )
                    .await,
                );
            }
            answers
        }));
    }
    let mut created = 0u64;
    let mut others = Vec::new();
    for t in tasks {
        for (status, body) in t.await.unwrap() {
            if status == 201 {
                created += body["items"][0]["quantity"].as_u64().unwrap();
            } else {
                others.push((status, body));
            }
        }
    }
    assert!(others.is_empty(), "not 201: {others:?}");
    let rec = host
        .api
        .store
        .order_record(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created, u64::from(units));
    assert_eq!(rec.order.line_items[0].cancelled, units);
    assert_eq!(rec.cancellations.len(), units as usize);
    stop.send(true).unwrap();
}
