//! Event webhooks end to end on the local host: endpoints registered
//! through the API, cancellations made through it, the outbox worker of
//! `dropship serve` recording and delivering events to a loopback receiver
//! that checks each signature as a partner would.

use std::sync::Arc;

use crate::common::*;
use chrono::Duration;
use domain::events::{EndpointChange, UrlPolicy};
use local::worker::{OutboxWorker, local_notifier};
use platforms::client::PlatformHttp;
use serde_json::{Value, json};
use service::events::{TaskOutcome, WebhookStore, verify_signature};
use service::ledger::{Channel, Ledger, Outcome};
use service::store::Orders;
use sqlite::EmbeddedStore;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SENDER: &str = "from@dropship.example";
const INSECURE: UrlPolicy = UrlPolicy {
    allow_insecure: true,
};

struct Host {
    app: Services<EmbeddedStore>,
    worker: OutboxWorker<local::outbox::EmlOutbox, local::sync::LocalStoreSync>,
    store: EmbeddedStore,
    outbox: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn host(policy: UrlPolicy) -> Host {
    let store = EmbeddedStore::in_memory().unwrap();
    let app = seeded(store.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = local::events::signing_key(dir.path()).unwrap();
    let (api, delivery) = local::events::ports(&store, Arc::clone(&key), policy).unwrap();
    let outbox = dir.path().join("outbox");
    let worker = OutboxWorker::new(
        local_notifier(store.clone(), &outbox, SENDER, PlatformHttp::default())
            .with_webhooks(delivery),
    );
    Host {
        app: with_ports(app, api),
        worker,
        store,
        outbox,
        _dir: dir,
    }
}

async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

/// Register an endpoint for `key`'s company; (id, secret).
async fn register(h: &Host, key: &str, url: &str, events: Value) -> (String, String) {
    let body = json!({"url": url, "events": events}).to_string();
    let r = call(
        &h.app,
        "POST",
        "/v1/webhook-endpoints",
        Some(key),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "enabled");
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn new_order(h: &Host) -> String {
    let body = json!({"seller_id": "seller-api", "line_items": [
        {"id": "li_1", "sku": "A", "quantity": 3}, {"id": "li_2", "sku": "B", "quantity": 1}]})
    .to_string();
    let r = call(&h.app, "POST", "/v1/orders", Some(BUYER), Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn cancel(h: &Host, key: &str, order: &str, body: Value) -> String {
    let r = call(
        &h.app,
        "POST",
        &format!("/v1/orders/{order}/cancellations"),
        Some(key),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// The deliveries `server` answered 2xx on `at`, each checked as a partner
/// checks it: the signature over the raw body, the event id header.
async fn verified(server: &MockServer, at: &str, secret: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap_or_default() {
        if r.url.path() != at {
            continue;
        }
        let body = String::from_utf8(r.body.clone()).unwrap();
        let sig = r
            .headers
            .get("dropship-signature")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            verify_signature(secret, sig, &body, chrono::Utc::now(), Duration::minutes(5)),
            "signature {sig} does not verify"
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            r.headers
                .get("dropship-event-id")
                .unwrap()
                .to_str()
                .unwrap(),
            v["id"].as_str().unwrap()
        );
        assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
        out.push(v);
    }
    out
}

#[tokio::test]
async fn a_cancellation_reaches_the_partners_endpoint_once_signed() {
    let mut h = host(INSECURE).await;
    let rx = receiver().await;
    let (_, secret) = register(&h, SELLER, &format!("{}/seller", rx.uri()), json!(["*"])).await;
    register(&h, BUYER, &format!("{}/buyer", rx.uri()), json!(["*"])).await;
    let order = new_order(&h).await;
    let c = cancel(
        &h,
        BUYER,
        &order,
        json!({"items": [{"line_item_id": "li_1", "quantity": 1, "reason_code": "out_of_stock"}]}),
    )
    .await;
    h.worker.drain().await.unwrap();
    let got = verified(&rx, "/seller", &secret).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let e = &got[0];
    assert_eq!(e["type"], "cancellation.created");
    assert_eq!(e["api_version"], domain::events::API_VERSION);
    assert!(e["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(e["data"]["cancellation"]["id"], c.as_str());
    assert_eq!(e["data"]["cancellation"]["initiated_by"], "buyer");
    // The code reaches the partner's system as given (no note: null).
    assert_eq!(
        e["data"]["cancellation"]["items"],
        json!([{"line_item_id": "li_1", "quantity": 1, "reason_code": "out_of_stock", "reason": null}])
    );
    assert_eq!(e["data"]["order"]["id"], order.as_str());
    assert_eq!(e["data"]["order"]["line_items"][0]["cancelled"], 1);
    assert!(
        verified(&rx, "/buyer", "").await.is_empty(),
        "the initiator hears nothing of its own cancellation"
    );

    // The stream delivers the same record again (a retried batch), and
    // the worker runs again: nothing new is sent.
    let cancellation = h
        .store
        .cancellations_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.id == c)
        .unwrap();
    h.worker.notifier().notify(&cancellation).await.unwrap();
    h.worker.drain().await.unwrap();
    assert_eq!(rx.received_requests().await.unwrap().len(), 1);
    let ledger = h.store.ledger_entries(&order).await.unwrap();
    let hooks: Vec<_> = ledger
        .iter()
        .filter(|l| l.channel == Channel::Webhook)
        .collect();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        (hooks[0].outcome, hooks[0].attempts),
        (Some(Outcome::Sent), 1)
    );

    // The log holds the event exactly as delivered; the buyer's has none.
    let r = call(&h.app, "GET", "/v1/events", Some(SELLER), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["events"], json!([e.clone()]));
    let r = call(&h.app, "GET", "/v1/events", Some(BUYER), None).await;
    assert_eq!(r.body["events"], json!([]));

    // Cancelling the rest completes the order: both events, once each.
    cancel(&h, BUYER, &order, json!({"reason": "Changed my mind"})).await;
    h.worker.drain().await.unwrap();
    h.worker.drain().await.unwrap();
    let got = verified(&rx, "/seller", &secret).await;
    let types: Vec<&str> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "cancellation.created",
            "cancellation.created",
            "order.completed"
        ]
    );
    assert_eq!(got[2]["data"]["order"]["complete"], true);
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_the_event_once_after_it_comes_back() {
    let mut h = host(INSECURE).await;
    let rx = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&rx)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&rx)
        .await;
    let (endpoint, secret) = register(
        &h,
        SELLER,
        &format!("{}/hook", rx.uri()),
        json!(["cancellation.created"]),
    )
    .await;
    let order = new_order(&h).await;
    cancel(
        &h,
        BUYER,
        &order,
        json!({"items": [{"line_item_id": "li_2", "quantity": 1, "reason": "Damaged"}]}),
    )
    .await;
    let d = h.worker.drain().await.unwrap();
    assert_eq!(
        (d.notified, d.failed),
        (1, 0),
        "a failing endpoint holds nothing up"
    );
    assert_eq!(rx.received_requests().await.unwrap().len(), 1);
    let r = call(&h.app, "GET", "/v1/webhook-endpoints", Some(SELLER), None).await;
    assert!(
        r.body["webhook_endpoints"][0]["failing_since"].is_string(),
        "{}",
        r.body
    );
    assert!(r.body["webhook_endpoints"][0].get("secret").is_none());

    // Not retried before its backoff has passed.
    h.worker.drain().await.unwrap();
    assert_eq!(rx.received_requests().await.unwrap().len(), 1);
    // The receiver is still down at the first retry, back at the second.
    for expected in [2, 3] {
        h.store
            .bring_deliveries_forward(Duration::hours(1))
            .await
            .unwrap();
        h.worker.drain().await.unwrap();
        assert_eq!(rx.received_requests().await.unwrap().len(), expected);
    }
    h.store
        .bring_deliveries_forward(Duration::days(4))
        .await
        .unwrap();
    h.worker.drain().await.unwrap();
    let ok: Vec<_> = verified(&rx, "/hook", &secret).await;
    assert_eq!(ok.len(), 3, "three attempts of one event");
    assert!(
        ok.iter().all(|e| e["id"] == ok[0]["id"]),
        "the same event each time"
    );
    assert_eq!(
        ok[0].to_string(),
        ok[2].to_string(),
        "with the same content"
    );
    let entries = h.store.ledger_entries(&order).await.unwrap();
    let hook = entries
        .iter()
        .find(|e| e.endpoint_id.as_deref() == Some(endpoint.as_str()))
        .unwrap();
    assert_eq!((hook.outcome, hook.attempts), (Some(Outcome::Sent), 3));
    let r = call(&h.app, "GET", "/v1/webhook-endpoints", Some(SELLER), None).await;
    assert!(
        r.body["webhook_endpoints"][0]
            .get("failing_since")
            .is_none(),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_days_is_disabled_and_its_owner_emailed() {
    let mut h = host(INSECURE).await;
    let rx = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/down"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&rx)
        .await;
    let (endpoint, _) = register(&h, SELLER, &format!("{}/down", rx.uri()), json!(["*"])).await;
    // It has been failing for three days already.
    h.store
        .change_endpoints(
            "seller-api",
            &EndpointChange::DeliveryFailed {
                id: endpoint.clone(),
                at: service::now() - Duration::hours(73),
            },
        )
        .await
        .unwrap()
        .unwrap();
    let order = new_order(&h).await;
    cancel(&h, BUYER, &order, json!({"reason": "Too late"})).await;
    h.worker.drain().await.unwrap();
    let r = call(&h.app, "GET", "/v1/webhook-endpoints", Some(SELLER), None).await;
    assert_eq!(
        r.body["webhook_endpoints"][0]["status"], "disabled",
        "{}",
        r.body
    );
    let mail =
        std::fs::read_to_string(h.outbox.join(format!("webhook-{endpoint}-disabled.eml"))).unwrap();
    assert!(mail.contains("To: ops@sunrise-supply.example"), "{mail}");
    assert!(mail.contains("disabled"));
    // Disabled: nothing more is sent to it, the log still has the events.
    let before = rx.received_requests().await.unwrap().len();
    h.store
        .bring_deliveries_forward(Duration::days(5))
        .await
        .unwrap();
    h.worker.drain().await.unwrap();
    assert_eq!(rx.received_requests().await.unwrap().len(), before);
    let r = call(&h.app, "GET", "/v1/events", Some(SELLER), None).await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 2, "{}", r.body);
}

#[tokio::test]
async fn the_event_log_returns_what_was_missed_page_by_page() {
    let mut h = host(INSECURE).await;
    let order = new_order(&h).await;
    for (line, quantity) in [("li_1", 1), ("li_1", 2), ("li_2", 1)] {
        let items = json!([{"line_item_id": line, "quantity": quantity, "reason": "Short"}]);
        cancel(&h, SELLER, &order, json!({ "items": items })).await;
    }
    h.worker.drain().await.unwrap();
    let r = call(&h.app, "GET", "/v1/events?limit=2", Some(BUYER), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first = r.body["events"].as_array().unwrap().clone();
    assert_eq!(first.len(), 2);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, first[1]["id"].as_str().unwrap());
    let r = call(
        &h.app,
        "GET",
        &format!("/v1/events?after={cursor}"),
        Some(BUYER),
        None,
    )
    .await;
    let rest = r.body["events"].as_array().unwrap().clone();
    // The third cancellation completed the order.
    let types: Vec<&str> = rest.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["cancellation.created", "order.completed"]);
    assert!(r.body["next_cursor"].is_null());
    assert!(
        first[0]["id"].as_str() < first[1]["id"].as_str(),
        "oldest first"
    );
    let last = rest[1]["id"].as_str().unwrap();
    let r = call(
        &h.app,
        "GET",
        &format!("/v1/events?after={last}"),
        Some(BUYER),
        None,
    )
    .await;
    assert_eq!(r.body["events"], json!([]));
    // Another company's log is its own.
    let r = call(&h.app, "GET", "/v1/events", Some(SELLER), None).await;
    assert_eq!(r.body["events"], json!([]));
    // A well-formed id naming no event in the caller's log is refused,
    // never read as a position in it.
    let unknown = format!("/v1/events?after={}", service::events::new_event_id());
    for bad in [
        "/v1/events?after=EVENT%23x",
        "/v1/events?limit=0",
        "/v1/events?limit=101",
        unknown.as_str(),
    ] {
        let r = call(&h.app, "GET", bad, Some(BUYER), None).await;
        assert_eq!((r.status, r.code()), (400, "invalid_query"), "{bad}");
    }
    let r = call(&h.app, "GET", &unknown, Some(BUYER), None).await;
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("kept")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn private_loopback_and_metadata_urls_are_refused() {
    let secure = host(UrlPolicy::default()).await;
    let insecure = host(INSECURE).await;
    async fn refused(h: &Host, url: &str) -> (u16, String) {
        let body = json!({"url": url, "events": ["*"]}).to_string();
        let r = call(
            &h.app,
            "POST",
            "/v1/webhook-endpoints",
            Some(SELLER),
            Some(&body),
        )
        .await;
        (r.status, r.code().to_owned())
    }
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://10.0.0.8/hook",
        "https://192.168.0.1/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "http://hooks.example.com/hook",
        "https://user:pw@hooks.example.com/",
        "not a url",
    ] {
        assert_eq!(
            refused(&secure, url).await,
            (422, "invalid_webhook_url".to_owned()),
            "{url}"
        );
    }
    for url in ["http://169.254.169.254/", "http://10.1.1.1/"] {
        assert_eq!(
            refused(&insecure, url).await,
            (422, "invalid_webhook_url".to_owned()),
            "{url} with insecure URLs allowed"
        );
    }
    let body = json!({"url": "https://hooks.example.com/", "events": ["order.shipped"]});
    let r = call(
        &secure.app,
        "POST",
        "/v1/webhook-endpoints",
        Some(SELLER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "invalid_webhook_events"));
    let r = call(
        &secure.app,
        "GET",
        "/v1/webhook-endpoints",
        Some(SELLER),
        None,
    )
    .await;
    assert_eq!(r.body, json!({"webhook_endpoints": []}));
}

#[tokio::test]
async fn endpoints_are_limited_idempotent_deletable_and_pingable() {
    let mut h = host(INSECURE).await;
    let rx = receiver().await;
    let url = format!("{}/ping", rx.uri());
    let body = json!({"url": url, "events": ["*"]}).to_string();
    let keyed = |key: &'static str, body: String| {
        let app = &h.app;
        async move {
            let req = event(
                "POST",
                "/v1/webhook-endpoints",
                Some(SELLER),
                Some(&body),
                &[("idempotency-key", key)],
            );
            send(app, req).await
        }
    };
    let first = keyed("k-1", body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = keyed("k-1", body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the same endpoint and secret");
    let other = json!({"url": url, "events": ["order.completed"]}).to_string();
    let reused = keyed("k-1", other).await;
    assert_eq!(
        (reused.status, reused.code()),
        (422, "idempotency_key_reused")
    );
    for _ in 0..4 {
        register(&h, SELLER, &url, json!(["*"])).await;
    }
    let r = call(
        &h.app,
        "POST",
        "/v1/webhook-endpoints",
        Some(SELLER),
        Some(&body),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "too_many_webhook_endpoints"));

    let id = first.body["id"].as_str().unwrap();
    let secret = first.body["secret"].as_str().unwrap();
    let r = call(
        &h.app,
        "POST",
        &format!("/v1/webhook-endpoints/{id}/test"),
        Some(SELLER),
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    h.worker.drain().await.unwrap();
    let pings = verified(&rx, "/ping", secret).await;
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0]["type"], "ping");
    assert_eq!(pings[0]["data"]["webhook_endpoint"]["id"], id);
    // Another company's endpoint is not found, for every route.
    let r = call(
        &h.app,
        "POST",
        &format!("/v1/webhook-endpoints/{id}/test"),
        Some(BUYER),
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (404, "webhook_endpoint_not_found"));
    let r = call(
        &h.app,
        "DELETE",
        &format!("/v1/webhook-endpoints/{id}"),
        Some(BUYER),
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (404, "webhook_endpoint_not_found"));

    let r = call(
        &h.app,
        "DELETE",
        &format!("/v1/webhook-endpoints/{id}"),
        Some(SELLER),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(
        &h.app,
        "DELETE",
        &format!("/v1/webhook-endpoints/{id}"),
        Some(SELLER),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(&h.app, "GET", "/v1/webhook-endpoints", Some(SELLER), None).await;
    assert_eq!(r.body["webhook_endpoints"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn the_fulfilment_that_completes_an_order_sends_order_completed_to_the_buyer_once() {
    let mut h = host(INSECURE).await;
    let rx = receiver().await;
    let (_, secret) = register(
        &h,
        BUYER,
        &format!("{}/buyer", rx.uri()),
        json!(["order.completed"]),
    )
    .await;
    let order = new_order(&h).await;
    cancel(
        &h,
        SELLER,
        &order,
        json!({"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "Short"}]}),
    )
    .await;
    let fulfil = |items: Value| {
        let app = &h.app;
        let path = format!("/v1/orders/{order}/fulfillments");
        async move {
            let r = call(
                app,
                "POST",
                &path,
                Some(SELLER),
                Some(&json!({"items": items}).to_string()),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
    };
    fulfil(json!([{"line_item_id": "li_1", "quantity": 1}])).await;
    h.worker.drain().await.unwrap();
    assert!(
        verified(&rx, "/buyer", &secret).await.is_empty(),
        "not complete yet"
    );
    fulfil(
        json!([{"line_item_id": "li_1", "quantity": 1}, {"line_item_id": "li_2", "quantity": 1}]),
    )
    .await;
    h.worker.drain().await.unwrap();
    h.worker.drain().await.unwrap();
    let got = verified(&rx, "/buyer", &secret).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["type"], "order.completed");
    assert_eq!(got[0]["data"]["order"]["complete"], true);
    assert_eq!(got[0]["data"]["order"]["fulfillment_status"], "fulfilled");
}

/// A webhook endpoint that accepts connections and never answers: counts
/// the connections open now and the most ever open at once.
struct Silent {
    url: String,
    open: Arc<std::sync::atomic::AtomicUsize>,
    most: Arc<std::sync::atomic::AtomicUsize>,
    accepted: Arc<tokio::sync::Notify>,
}

impl Silent {
    async fn start() -> Silent {
        use std::sync::atomic::Ordering::SeqCst;
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/never", listener.local_addr().unwrap());
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let accepted = Arc::new(tokio::sync::Notify::new());
        let (o, m, a) = (open.clone(), most.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let now = o.fetch_add(1, SeqCst) + 1;
                m.fetch_max(now, SeqCst);
                a.notify_waiters();
                let o = o.clone();
                // Read the request and whatever follows until the sender
                // gives up and closes; never answer.
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                    o.fetch_sub(1, SeqCst);
                });
            }
        });
        Silent {
            url,
            open,
            most,
            accepted,
        }
    }

    fn open(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn most(&self) -> usize {
        self.most.load(std::sync::atomic::Ordering::SeqCst)
    }
}

async fn ping(h: &Host, key: &str, endpoint: &str) -> Reply {
    send(
        &h.app,
        event(
            "POST",
            &format!("/v1/webhook-endpoints/{endpoint}/test"),
            Some(key),
            None,
            &[],
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_never_answers_holds_up_no_email() {
    let h = host(INSECURE).await;
    let silent = Silent::start().await;
    let (endpoint, _) = register(&h, SELLER, &silent.url, json!(["*"])).await;
    // One ping is queued; a second one at once is refused until the
    // interval has passed.
    assert_eq!(ping(&h, SELLER, &endpoint).await.status, 202);
    let again = ping(&h, SELLER, &endpoint).await;
    assert_eq!(
        (again.status, again.code()),
        (429, "rate_limited"),
        "{}",
        again.body
    );
    let wait: u64 = again.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=domain::events::PING_INTERVAL_SECONDS as u64).contains(&wait),
        "Retry-After {wait}"
    );
    // The buyer cancels: an event for the silent endpoint too.
    let first = new_order(&h).await;
    cancel(
        &h,
        BUYER,
        &first,
        json!({"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "Short"}]}),
    )
    .await;

    // `dropship serve`'s worker, running as it does there.
    let Host {
        app,
        worker,
        outbox,
        ..
    } = h;
    let accepted = silent.accepted.notified();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(shutdown));
    tokio::time::timeout(std::time::Duration::from_secs(30), accepted)
        .await
        .expect("a delivery reaches the silent endpoint");

    // While that delivery hangs, the seller cancels on another order: the
    // buyer's email is written within a second, the delivery still open.
    let body = json!({"seller_id": "seller-api", "line_items": [{"id": "li_1", "sku": "A", "quantity": 2}]})
        .to_string();
    let r = call(&app, "POST", "/v1/orders", Some(BUYER), Some(&body)).await;
    let second = r.body["id"].as_str().unwrap().to_owned();
    let body =
        json!({"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "Out of stock"}]});
    let r = call(
        &app,
        "POST",
        &format!("/v1/orders/{second}/cancellations"),
        Some(SELLER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let eml = outbox.join(format!("{second}-{}.eml", r.body["id"].as_str().unwrap()));
    let asked = std::time::Instant::now();
    while !eml.exists() && asked.elapsed() < std::time::Duration::from_secs(1) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(eml.exists(), "the email waited more than 1 s");
    assert!(
        silent.open() >= 1,
        "written while the delivery was still open"
    );
    let mail = std::fs::read_to_string(&eml).unwrap();
    assert!(mail.contains("To: orders@acme-home.example"), "{mail}");
    assert_eq!(silent.most(), 1, "one attempt at a time per endpoint");
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), running)
        .await
        .expect("the worker stops")
        .unwrap();
}

#[tokio::test]
async fn one_attempt_at_a_time_per_endpoint_across_workers() {
    let mut h = host(INSECURE).await;
    let rx = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_millis(500)))
        .mount(&rx)
        .await;
    register(&h, SELLER, &format!("{}/slow", rx.uri()), json!(["*"])).await;
    let order = new_order(&h).await;
    cancel(&h, BUYER, &order, json!({"reason": "Too late"})).await;
    // The notifier records the events and queues their deliveries; two
    // workers (two Lambdas) take one each at the same moment.
    let n = h.worker.notifier();
    let pending = h.store.pending_outbox(10).await.unwrap();
    n.notify(&pending[0].cancellation).await.unwrap();
    let tasks = h
        .store
        .due_delivery_tasks(service::now(), 10)
        .await
        .unwrap();
    assert_eq!(
        tasks.len(),
        2,
        "cancellation.created and order.completed: {tasks:?}"
    );
    let (a, b) = tokio::join!(n.run_task(&tasks[0].1), n.run_task(&tasks[1].1));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, TaskOutcome::EndpointBusy))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(rx.received_requests().await.unwrap().len(), 1);
    // The other waits in the queue for the endpoint, and goes next.
    for (seq, _) in tasks {
        h.store.finish_delivery_task(seq).await.unwrap();
    }
    h.store
        .bring_deliveries_forward(Duration::minutes(1))
        .await
        .unwrap();
    h.worker.drain().await.unwrap();
    assert_eq!(rx.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_on_an_endpoint_that_never_answers_holds_up_no_other_endpoint() {
    let h = host(INSECURE).await;
    let silent = Silent::start().await;
    let rx = receiver().await;
    register(&h, SELLER, &silent.url, json!(["cancellation.created"])).await;
    let (_, secret) = register(&h, BUYER, &format!("{}/buyer", rx.uri()), json!(["*"])).await;
    // Three events for the silent endpoint, queued first, then one for the
    // buyer's: more than the worker's window of due tasks holds.
    let order = new_order(&h).await;
    for _ in 0..3 {
        cancel(
            &h,
            BUYER,
            &order,
            json!({"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "Short"}]}),
        )
        .await;
    }
    cancel(
        &h,
        SELLER,
        &order,
        json!({"items": [{"line_item_id": "li_2", "quantity": 1, "reason": "Damaged"}]}),
    )
    .await;
    let Host { mut worker, .. } = h;
    worker.batch = 2;
    let accepted = silent.accepted.notified();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(shutdown));
    tokio::time::timeout(std::time::Duration::from_secs(30), accepted)
        .await
        .expect("a delivery reaches the silent endpoint");
    // A guard far above the poll interval, below the silent attempt's 10 s.
    let asked = std::time::Instant::now();
    while verified(&rx, "/buyer", &secret).await.is_empty() {
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(8),
            "the buyer's event waited behind the silent endpoint's backlog"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        silent.open() >= 1,
        "delivered while the silent endpoint hangs"
    );
    assert_eq!(silent.most(), 1);
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), running)
        .await
        .expect("the worker stops")
        .unwrap();
}
