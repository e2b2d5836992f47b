//! What the hosts count, as the CloudWatch embedded metric documents they
//! would print: cancellations by source and kind, webhook deliveries by
//! outcome, notifications by channel and result.

use crate::common::*;
use aws::emf::Captured;
use handlers::intake;
use serde_json::Value;

fn count(docs: &[Value], metric: &str, dims: &[(&str, &str)]) -> usize {
    docs.iter()
        .filter(|d| d[metric] == 1 && dims.iter().all(|(k, v)| d[*k] == *v))
        .filter(|d| {
            // Declared as a metric of the namespace, with these dimensions.
            let m = &d["_aws"]["CloudWatchMetrics"][0];
            m["Namespace"] == "Dropship"
                && m["Metrics"][0]["Name"] == metric
                && m["Dimensions"][0]
                    .as_array()
                    .is_some_and(|s| s.len() == dims.len())
        })
        .count()
}

async fn app() -> (Services<sqlite::EmbeddedStore>, Captured) {
    let (metrics, seen) = aws::emf::capture();
    let store = sqlite::EmbeddedStore::in_memory().unwrap();
    (
        seeded_core(service::Core::new(store).with_metrics(metrics)).await,
        seen,
    )
}

fn sample(name: &str) -> (Vec<(String, String)>, String) {
    let dir = events_dir().join("webhooks");
    let body = std::fs::read_to_string(dir.join(format!("{name}.body"))).unwrap();
    let headers = std::fs::read_to_string(dir.join(format!("{name}.headers")))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (headers, body)
}

async fn deliver(
    app: &Services<sqlite::EmbeddedStore>,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> u16 {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    intake::handle(&app.intake, event("POST", path, None, Some(body), &h))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn cancellations_and_deliveries_are_counted() {
    let (app, seen) = app().await;
    let r = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        Some(BUYER),
        Some(r#"{"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "Changed mind"}]}"#),
    )
    .await;
    assert_eq!(r.status, 201);
    // A refusal creates nothing, so counts nothing.
    let r = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        Some(BUYER),
        Some(r#"{"items": [{"line_item_id": "li_1", "quantity": 99, "reason": "Too many"}]}"#),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);

    let (h, body) = sample("woocommerce-order-updated");
    let path = "/webhooks/woocommerce/seller-woo";
    assert_eq!(deliver(&app, path, &h, &body).await, 200);
    let mut forged = h.clone();
    for (k, v) in &mut forged {
        if k == "X-WC-Webhook-Signature" {
            *v = "AAAA".into();
        }
    }
    assert_eq!(deliver(&app, path, &forged, &body).await, 401);
    let (ph, pbody) = sample("woocommerce-ping");
    assert_eq!(deliver(&app, path, &ph, &pbody).await, 200);
    assert_eq!(deliver(&app, path, &h, "{not json").await, 401);

    let docs = seen.documents();
    assert_eq!(
        count(
            &docs,
            "CancellationsCreated",
            &[("Source", "api"), ("Kind", "items")]
        ),
        1,
        "{docs:#?}"
    );
    assert_eq!(
        count(
            &docs,
            "CancellationsCreated",
            &[("Source", "woocommerce"), ("Kind", "items")]
        ),
        1
    );
    for (outcome, n) in [("processed", 1), ("unauthorized", 2), ("ignored", 1)] {
        assert_eq!(
            count(
                &docs,
                "WebhookDeliveries",
                &[("Platform", "woocommerce"), ("Outcome", outcome)]
            ),
            n,
            "{outcome}"
        );
    }
    // The rollup without the platform, for an alarm on every 401.
    let unauthorized = docs
        .iter()
        .find(|d| d["Outcome"] == "unauthorized")
        .unwrap();
    assert_eq!(
        unauthorized["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Platform", "Outcome"], ["Outcome"]])
    );
}

#[tokio::test]
async fn notifications_are_counted_by_channel_and_result() {
    let store = sqlite::EmbeddedStore::in_memory().unwrap();
    let app = seeded(store.clone()).await;
    let r = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        Some(BUYER),
        Some(r#"{"reason": "Ordered twice"}"#),
    )
    .await;
    assert_eq!(r.status, 201);
    let c: domain::Cancellation = serde_json::from_value(r.body).unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let (metrics, seen) = aws::emf::capture();
    let notifier = local::worker::local_notifier(
        store,
        outbox.path(),
        "notifications@dropship.test",
        platforms::client::PlatformHttp::default(),
    )
    .with_metrics(metrics);
    notifier.notify(&c).await.unwrap();
    notifier.notify(&c).await.unwrap();
    let docs = seen.documents();
    assert_eq!(
        count(
            &docs,
            "Notifications",
            &[("Channel", "email"), ("Result", "sent")]
        ),
        1,
        "{docs:#?}"
    );
    assert_eq!(
        count(
            &docs,
            "Notifications",
            &[("Channel", "email"), ("Result", "already_done")]
        ),
        1
    );
}
