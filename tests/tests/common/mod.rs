//! Test helpers: a demo-seeded app and a way to call the API handler with
//! the requests API Gateway would deliver.
#![allow(dead_code)]

use std::path::PathBuf;

use handlers::api::{self, Api};
use lambda_http::http::{HeaderMap, Method};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request};
use local::seed::{self, SeedFile};
use platforms::client::HttpPlatformReader;
use serde_json::Value;
use service::IntakeService;
use service::app::OrdersService;
use service::store::Store;
use sqlite::EmbeddedStore;

pub const BUYER: &str = "demo-buyer-api-key";
pub const SELLER: &str = "demo-seller-api-key";
pub const EDI_BUYER: &str = "demo-buyer-edi-key";
pub const EDI_SELLER: &str = "demo-seller-edi-key";
pub const BC_SELLER: &str = "demo-seller-bc-key";

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

pub fn demo_seed() -> SeedFile {
    let text = std::fs::read_to_string(events_dir().join("demo-seed.json")).unwrap();
    SeedFile::parse(&text).unwrap()
}

/// What a host of the API and of platform intake runs, over one core:
/// the API's services, and intake (`intake::handle(&host.intake, ..)`).
/// Derefs to the API's services.
pub struct Services<S> {
    pub api: Api<S>,
    pub intake: IntakeService<S>,
}

impl<S> std::ops::Deref for Services<S> {
    type Target = Api<S>;

    fn deref(&self) -> &Api<S> {
        &self.api
    }
}

pub async fn seeded<S: Store>(store: S) -> Services<S> {
    seeded_core(service::Core::new(store)).await
}

/// The demo seed in `core`'s store, and the services on that core
/// (webhook ports from `testkit::webhook_ports`, loopback endpoints allowed).
pub async fn seeded_core<S: Store>(core: service::Core<S>) -> Services<S> {
    seed::apply(&core.store, &demo_seed()).await.unwrap();
    services(
        OrdersService::on(core.shared()),
        HttpPlatformReader::default(),
    )
}

/// The services over `app`'s core: intake reading platforms with `reader`,
/// webhook ports from `testkit::webhook_ports` (loopback endpoints allowed).
pub fn services<S>(app: OrdersService<S>, reader: HttpPlatformReader) -> Services<S> {
    let (ports, _) = testkit::webhook_ports::webhook_ports(domain::events::UrlPolicy {
        allow_insecure: true,
    });
    Services {
        intake: IntakeService::new(app.core(), reader),
        api: Api::new(app, ports),
    }
}

/// The same services with other webhook ports.
pub fn with_ports<S>(s: Services<S>, ports: service::events::WebhookPorts) -> Services<S> {
    Services {
        api: Api::new(s.api.app, ports),
        intake: s.intake,
    }
}

pub async fn demo_app() -> Services<EmbeddedStore> {
    seeded(EmbeddedStore::in_memory().unwrap()).await
}

/// A request as API Gateway would hand it to the Lambda (through the same
/// event conversion lambda_http uses).
pub fn event(
    method: &str,
    path_and_query: &str,
    key: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut h = serde_json::Map::new();
    h.insert("host".into(), "api.example.com".into());
    if let Some(k) = key {
        h.insert("authorization".into(), format!("Bearer {k}").into());
    }
    for (k, v) in headers {
        h.insert(k.to_lowercase(), (*v).into());
    }
    let mut e = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": h,
        "requestContext": {
            "accountId": "123456789012", "apiId": "test", "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "test", "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:04:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        e["body"] = b.into();
    }
    from_event(&e.to_string())
}

pub fn from_event(json: &str) -> Request {
    let lr: LambdaRequest = serde_json::from_str(json).expect("a valid API Gateway v2 event");
    lr.into()
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

pub async fn send<S: Store + service::events::WebhookStore>(app: &Api<S>, req: Request) -> Reply {
    let r = api::handle(app, req).await;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = match r.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    if status >= 400 {
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "errors are problem+json: {body}"
        );
        for field in ["type", "title", "status", "detail", "code"] {
            assert!(body.get(field).is_some(), "problem without {field}: {body}");
        }
        assert_eq!(body["status"], status);
    }
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn call<S: Store + service::events::WebhookStore>(
    app: &Api<S>,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> Reply {
    send(app, event(method, path, key, body, &[])).await
}

pub fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

/// What a `fmt` subscriber writes, kept: a test's own log.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
