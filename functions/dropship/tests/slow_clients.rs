//! `dropship serve` against slow and many clients, in-process with short
//! limits: headers that never finish, idle keep-alive connections, a body
//! that stalls, and more connections than slots.

use std::sync::Arc;
use std::time::Duration;

use domain::events::UrlPolicy;
use dropship::server::{Host, Limits, serve};
use handlers::api::Api;
use local::seed::{self, SeedFile};
use platforms::client::HttpPlatformReader;
use service::IntakeService;
use service::app::OrdersService;
use sqlite::EmbeddedStore;
use testkit::webhook_ports::webhook_ports;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest any step may take before the test calls it hung.
const GUARD: Duration = Duration::from_secs(10);

struct Running {
    addr: std::net::SocketAddr,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start(limits: Limits) -> Running {
    let store = EmbeddedStore::in_memory().unwrap();
    seed::apply(&store, &SeedFile::parse(dropship::DEMO_SEED).unwrap())
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let app = OrdersService::new(store);
    let host = Arc::new(Host {
        intake: IntakeService::new(app.core(), HttpPlatformReader::default()),
        api: Api::new(app, webhook_ports(UrlPolicy::default()).0),
    });
    tokio::spawn(serve(listener, host, limits, rx));
    Running { addr, _stop: tx }
}

fn limits(header: u64, body: u64, max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(header),
        body_read_timeout: Duration::from_millis(body),
        max_connections,
    }
}

/// Read until the server closes the connection; what it sent meanwhile.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&out).into_owned()
}

/// Read one response (headers and a Content-Length body).
async fn response(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&out).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= len {
                    return text;
                }
            }
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed mid-response: {text}");
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .ok()
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn unfinished_headers_are_cut_off() {
    let server = start(limits(300, 30_000, 16)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let sent = until_closed(&mut s).await;
    assert!(!sent.contains("200"), "{sent}");
    // A connection that sends nothing at all goes the same way.
    let mut quiet = TcpStream::connect(server.addr).await.unwrap();
    until_closed(&mut quiet).await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let server = start(limits(300, 30_000, 16)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(HEALTH).await.unwrap();
    let r = response(&mut s, GUARD).await.expect("a response");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // Kept alive, then idle: the header timeout runs again and closes it.
    until_closed(&mut s).await;
}

#[tokio::test]
async fn a_stalled_body_gets_408() {
    let server = start(limits(30_000, 300, 16)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /v1/orders HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer demo-buyer-api-key\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"seller_id\":",
    )
    .await
    .unwrap();
    let r = until_closed(&mut s).await;
    assert!(r.starts_with("HTTP/1.1 408"), "{r}");
    let lower = r.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{r}"
    );
    assert!(lower.contains("connection: close"), "{r}");
    assert!(r.contains(r#""code":"request_timeout""#), "{r}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_slot() {
    let server = start(limits(30_000, 30_000, 2)).await;
    // Two kept-alive connections hold both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(HEALTH).await.unwrap();
        let r = response(&mut s, GUARD).await.expect("a response");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        held.push(s);
    }
    // The third is accepted by the kernel but not served...
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    assert_eq!(
        response(&mut third, Duration::from_millis(500)).await,
        None,
        "served beyond the limit"
    );
    // ...until a slot frees.
    drop(held.remove(0));
    let r = response(&mut third, GUARD)
        .await
        .expect("served once a slot freed");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}
