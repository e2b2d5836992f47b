//! One `Idempotency-Key` rule on every POST (docs/api.md), on both stores:
//! a key is the company's, bound to the route and body it was first used
//! with; another route or body under it is `422 idempotency_key_reused`
//! and does nothing; the first answer, refusals included, is replayed.

use std::sync::Arc;

use crate::common::*;
use domain::events::UrlPolicy;
use handlers::api::Api;
use serde_json::{Value, json};
use service::events::WebhookStore;
use service::secrets::{MemorySecrets, WithSecrets};
use service::store::Store;
use testkit::webhook_ports::{KeptTasks, webhook_ports};

async fn app_on<S: Store + WebhookStore>(store: S) -> (Services<S>, Arc<KeptTasks>) {
    let (ports, queue) = webhook_ports(UrlPolicy {
        allow_insecure: true,
    });
    (with_ports(seeded(store).await, ports), queue)
}

async fn post<S: Store + WebhookStore>(
    app: &Api<S>,
    path: &str,
    who: &str,
    key: &str,
    body: &Value,
) -> Reply {
    let body = body.to_string();
    send(
        app,
        event(
            "POST",
            path,
            Some(who),
            Some(&body),
            &[("idempotency-key", key)],
        ),
    )
    .await
}

async fn count<S: Store + WebhookStore>(app: &Api<S>, path: &str, who: &str, field: &str) -> usize {
    let r = call(app, "GET", path, Some(who), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body[field].as_array().map_or(0, Vec::len)
}

fn replayed(r: &Reply) -> bool {
    r.headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

async fn one_rule_for_every_post<S: Store + WebhookStore>(app: &Api<S>, queue: &KeptTasks) {
    const ENDPOINTS: &str = "/v1/webhook-endpoints";
    let order = json!({"seller_id": "seller-api", "line_items": [{"id": "li_1", "sku": "A", "quantity": 2}]});
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]});
    let orders_before = count(app, "/v1/orders", BUYER, "orders").await;

    // A key used for an order creates no endpoint.
    let r = post(app, "/v1/orders", BUYER, "k-order", &order).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = post(app, ENDPOINTS, BUYER, "k-order", &hook).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "idempotency_key_reused"),
        "{}",
        r.body
    );
    assert_eq!(count(app, ENDPOINTS, BUYER, "webhook_endpoints").await, 0);

    // A key used for an endpoint creates no order; the endpoint's own retry
    // answers it again, secret included.
    let first = post(app, ENDPOINTS, BUYER, "k-hook", &hook).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.body["secret"].as_str().unwrap().starts_with("whsec_"));
    let kept = app.store.idempotency_record("buyer-api", "k-hook").await;
    let kept = kept.unwrap().expect("the key's record");
    assert_eq!(kept.status, 201);
    assert!(
        !kept.body.contains("whsec_"),
        "no secret is kept: {}",
        kept.body
    );
    let r = post(app, "/v1/orders", BUYER, "k-hook", &order).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "idempotency_key_reused"),
        "{}",
        r.body
    );
    assert_eq!(
        count(app, "/v1/orders", BUYER, "orders").await,
        orders_before + 1
    );
    let again = post(app, ENDPOINTS, BUYER, "k-hook", &hook).await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    assert!(replayed(&again));
    assert_eq!(count(app, ENDPOINTS, BUYER, "webhook_endpoints").await, 1);

    // A refused registration keeps its answer: the same request gets it
    // again, another body under the key is refused and adds nothing.
    let bad = json!({"url": "https://[::ffff:0:a9fe:a9fe]/", "events": ["*"]});
    let refused = post(app, ENDPOINTS, BUYER, "k-refused", &bad).await;
    assert_eq!(
        (refused.status, refused.code()),
        (422, "invalid_webhook_url"),
        "{}",
        refused.body
    );
    let r = post(app, ENDPOINTS, BUYER, "k-refused", &bad).await;
    assert_eq!((r.status, &r.body), (422, &refused.body));
    assert!(replayed(&r));
    let r = post(app, ENDPOINTS, BUYER, "k-refused", &hook).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "idempotency_key_reused"),
        "{}",
        r.body
    );
    let r = post(app, "/v1/orders", BUYER, "k-refused", &order).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "idempotency_key_reused"),
        "{}",
        r.body
    );
    assert_eq!(count(app, ENDPOINTS, BUYER, "webhook_endpoints").await, 1);

    // The reuse refusal itself is not kept: the first answer stays.
    let r = post(app, ENDPOINTS, BUYER, "k-refused", &bad).await;
    assert_eq!((r.status, r.code()), (422, "invalid_webhook_url"));

    // Keys are per company: the seller's "k-order" is its own.
    let r = post(app, ENDPOINTS, SELLER, "k-order", &hook).await;
    assert_eq!(r.status, 201, "{}", r.body);

    // A test ping under a key is queued once; the key is bound to it.
    let id = first.body["id"].as_str().unwrap();
    let test = format!("{ENDPOINTS}/{id}/test");
    let ping = post(app, &test, BUYER, "k-ping", &Value::Null).await;
    assert_eq!(ping.status, 202, "{}", ping.body);
    let r = post(app, &test, BUYER, "k-ping", &Value::Null).await;
    assert_eq!((r.status, &r.body), (202, &ping.body));
    assert!(replayed(&r));
    assert_eq!(queue.tasks().len(), 1, "one ping");
    let r = post(app, ENDPOINTS, BUYER, "k-ping", &hook).await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));
}

#[tokio::test]
async fn one_key_rule_for_every_post_on_sqlite() {
    let (app, queue) = app_on(sqlite::EmbeddedStore::in_memory().unwrap()).await;
    one_rule_for_every_post(&app, &queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_rule_for_every_post_on_dynamodb() {
    let store = WithSecrets::new(
        dynamodb::testing::fresh_store().await,
        MemorySecrets::default(),
    );
    let (app, queue) = app_on(store).await;
    one_rule_for_every_post(&app, &queue).await;
}
