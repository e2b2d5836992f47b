//! An operator's re-drive covers event deliveries as it covers the other
//! channels: a delivery that failed for good is queued again by
//! `notifications retry` and delivered once; one that was delivered never
//! is again.

use crate::common::*;
use domain::events::UrlPolicy;
use local::worker::{OutboxWorker, local_notifier};
use platforms::client::PlatformHttp;
use serde_json::json;
use service::ledger::{Channel, Claim, Ledger, LedgerEntry, LedgerKey, Outcome};
use sqlite::EmbeddedStore;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SENDER: &str = "from@dropship.example";

fn webhook_entries(entries: Vec<LedgerEntry>) -> Vec<LedgerEntry> {
    entries
        .into_iter()
        .filter(|e| e.channel == Channel::Webhook)
        .collect()
}

#[tokio::test]
async fn a_delivery_that_failed_for_good_is_queued_again_by_retry_once() {
    let store = EmbeddedStore::in_memory().unwrap();
    let app = seeded(store.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = local::events::signing_key(dir.path()).unwrap();
    let policy = UrlPolicy {
        allow_insecure: true,
    };
    let (api, delivery) = local::events::ports(&store, key.clone(), policy).unwrap();
    let (_, operator_delivery) = local::events::ports(&store, key, policy).unwrap();
    let outbox = dir.path().join("outbox");
    let mut worker = OutboxWorker::new(
        local_notifier(store.clone(), &outbox, SENDER, PlatformHttp::default())
            .with_webhooks(delivery),
    );
    // What `dropship notifications retry` runs.
    let operator = local_notifier(store.clone(), &outbox, SENDER, PlatformHttp::default())
        .with_webhooks(operator_delivery);
    let app = with_ports(app, api);

    let rx = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&rx)
        .await;
    let body = json!({"url": format!("{}/hook", rx.uri()), "events": ["cancellation.created"]});
    let r = call(
        &app,
        "POST",
        "/v1/webhook-endpoints",
        Some(SELLER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = {
        let body = json!({"seller_id": "seller-api", "line_items": [{"id": "li_1", "sku": "A", "quantity": 2}]});
        let r = call(
            &app,
            "POST",
            "/v1/orders",
            Some(BUYER),
            Some(&body.to_string()),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    };
    let r = call(
        &app,
        "POST",
        &format!("/v1/orders/{order}/cancellations"),
        Some(BUYER),
        Some(&json!({"reason": "Not needed"}).to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let cancellation = r.body["id"].as_str().unwrap().to_owned();
    worker.drain().await.unwrap();
    assert_eq!(rx.received_requests().await.unwrap().len(), 1);

    // The delivery's retries ran out (as after ~77 h of a dead endpoint):
    // its record completes as failed.
    let hook = webhook_entries(store.ledger_entries(&order).await.unwrap()).remove(0);
    let key = LedgerKey::webhook(
        &order,
        &hook.cancellation_id,
        hook.endpoint_id.as_deref().unwrap(),
    );
    let now = chrono::Utc::now();
    let Claim::Acquired { token, .. } = store
        .claim(&key, now, chrono::Duration::seconds(30))
        .await
        .unwrap()
    else {
        panic!("the released delivery is claimable")
    };
    assert!(
        store
            .complete(
                &key,
                &token,
                Outcome::Failed,
                "gave up after 12 attempts",
                now
            )
            .await
            .unwrap()
    );

    // The endpoint is back; the operator retries the cancellation.
    rx.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&rx)
        .await;
    let report = operator
        .retry(&cancellation, Some(Channel::Webhook))
        .await
        .unwrap();
    assert!(
        report
            .summary()
            .iter()
            .any(|(c, r)| *c == Channel::Webhook && r.starts_with("sent")),
        "{report:?}"
    );
    worker.drain().await.unwrap();
    assert_eq!(
        rx.received_requests().await.unwrap().len(),
        1,
        "delivered again"
    );
    let hook = webhook_entries(store.ledger_entries(&order).await.unwrap()).remove(0);
    assert_eq!(hook.outcome, Some(Outcome::Sent));

    // Delivered: a second retry queues nothing that is sent again.
    operator.retry(&cancellation, None).await.unwrap();
    worker.drain().await.unwrap();
    assert_eq!(rx.received_requests().await.unwrap().len(), 1, "sent twice");
}
