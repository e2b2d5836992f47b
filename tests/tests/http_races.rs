//! Many HTTP clients race on one order through `dropship`'s host: no 5xx,
//! no over-committed unit, every 201 is exactly one committed record.

use std::sync::Arc;

use dropship::server::{Host, Limits, serve};
use serde_json::Value;
use shared::app::App;
use shared::seed::{self, SeedFile};
use shared::store::Store;
use shared::store::embedded::EmbeddedStore;
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
    let host = Arc::new(Host {
        app: App::new(store),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(listener, Arc::clone(&host), Limits::default(), rx));
    (addr, host, tx, dir)
}

/// A minimal HTTP/1.1 client: one request per connection.
async fn request(addr: &str, method: &str, path: &str, key: &str, body: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
        .app
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
