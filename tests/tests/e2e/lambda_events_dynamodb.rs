//! The Lambda functions' handlers on DynamoDB (ministack), driven by the
//! sample events in `events/`: the same files `sam local invoke -e` and
//! `cargo lambda invoke --data-file` take.

use std::path::PathBuf;

use dynamodb::DynamoStore;
use dynamodb::testing::fresh_store;
use handlers::{api, intake};
use lambda_http::request::LambdaRequest;
use local::seed::{self, SeedFile};
use secretsmanager::SecretsManager;
use service::app::OrdersService;
use service::secrets::{SecretStore, WithSecrets};
use service::store::Orders;

fn events() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"))
}

fn load(rel: &str) -> lambda_http::Request {
    let text = std::fs::read_to_string(events().join(rel)).unwrap();
    let lr: LambdaRequest = serde_json::from_str(&text).unwrap();
    lr.into()
}

type Deployed = WithSecrets<DynamoStore, SecretsManager>;

/// As the functions run: the table, and the companies' secrets in
/// (ministack's) Secrets Manager under a prefix of this table's own.
async fn demo_store() -> Deployed {
    let table = fresh_store().await;
    let prefix = format!("dropship/{}/companies/", table.table());
    let secrets =
        SecretsManager::on_first_use(&aws::sdk_config(&aws::Settings::from_env()).await, prefix);
    let store = WithSecrets::new(table, secrets);
    seed::apply(&store, &SeedFile::parse(dropship::DEMO_SEED).unwrap())
        .await
        .unwrap();
    store
}

/// The services a host of both functions' handlers runs, over one core.
async fn demo_app() -> crate::common::Services<Deployed> {
    crate::common::services(
        OrdersService::new(demo_store().await),
        platforms::client::HttpPlatformReader::default(),
    )
}

fn json_body(r: &lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    match r.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => serde_json::Value::Null,
    }
}

#[tokio::test]
async fn api_events_on_dynamodb() {
    let app = demo_app().await;
    let cases = [
        ("api/create-order.json", 201),
        ("api/create-order.json", 201), // replayed under its Idempotency-Key
        ("api/list-orders.json", 200),
        ("api/get-order.json", 200),
        ("api/preview-cancellation.json", 200),
        ("api/cancel-items.json", 201),
        ("api/cancel-items.json", 201), // replayed
        ("api/record-fulfillment.json", 201),
        ("api/cancel-order-from-app.json", 201),
        ("api/cancel-order.json", 409), // nothing left to cancel
        ("api/list-cancellations.json", 200),
        ("api/edi-buyer-cancel-refused.json", 403),
        ("api/unauthorized.json", 401),
    ];
    let mut created = None;
    for (file, status) in cases {
        let r = api::handle(&app, load(file)).await;
        assert_eq!(r.status().as_u16(), status, "{file}: {}", json_body(&r));
        if file == "api/create-order.json" {
            let id = json_body(&r)["id"].as_str().unwrap().to_owned();
            assert!(
                created.get_or_insert(id.clone()) == &id,
                "the retry returned the first order"
            );
        }
    }
    let rec = app
        .store
        .order_record("ord_demo_api")
        .await
        .unwrap()
        .unwrap();
    let o = &rec.order;
    assert!(o.is_complete());
    assert_eq!(
        rec.cancellations.len(),
        2,
        "one partial, one whole; replays and refusals add none"
    );
    assert_eq!(rec.cancellations[1].source, domain::Source::App);
    for l in &o.line_items {
        assert!(l.fulfilled + l.cancelled <= l.quantity);
    }
    // The seller's own refs, set through the Lambda's handler (and replayed
    // under their key): the order's look-up follows them on DynamoDB.
    for _ in 0..2 {
        let r = api::handle(&app, load("api/set-store-refs.json")).await;
        assert_eq!(r.status().as_u16(), 200, "{}", json_body(&r));
        assert_eq!(json_body(&r)["seller_order_ref"], "732");
        assert_eq!(json_body(&r)["version"], 2);
    }
    let by_ref = |r: &'static str| {
        let store = &app.store;
        async move {
            store
                .orders_by_ref("seller-woo", domain::Role::Seller, r)
                .await
                .unwrap()
                .into_iter()
                .map(|o| o.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(by_ref("732").await, ["ord_demo_shopify_woo"]);
    assert!(by_ref("731").await.is_empty());
    let listed = app
        .store
        .list_orders("buyer-api", service::store::StatusFilter::Any, 100, None)
        .await
        .unwrap();
    assert_eq!(listed.orders.len(), 3, "two seeded, one created once");
}

#[tokio::test]
async fn webhook_events_on_dynamodb() {
    let app = demo_app().await;
    for (file, status) in [
        ("webhooks/woocommerce-ping.json", 200),
        ("webhooks/woocommerce-order-updated.json", 200),
        ("webhooks/shopify-buyer-orders-updated.json", 200),
        ("webhooks/shopify-seller-orders-updated.json", 200),
        ("webhooks/shopify-buyer-orders-cancelled.json", 200),
        ("webhooks/shopify-buyer-orders-cancelled.json", 200),
        ("webhooks/woocommerce-order-cancelled.json", 200),
    ] {
        let r = intake::handle(&app.intake, load(file)).await;
        assert_eq!(r.status().as_u16(), status, "{file}: {}", json_body(&r));
    }
    let woo = app
        .store
        .order_record("ord_demo_shopify_woo")
        .await
        .unwrap()
        .unwrap();
    // Woo cut a bowl, the Shopify buyer cut two spoons, then cancelled the rest.
    let q: Vec<_> = woo.order.line_items.iter().map(|l| l.cancelled).collect();
    assert_eq!(q, vec![2, 3]);
    assert_eq!(woo.cancellations.len(), 3);
    let shop = app
        .store
        .order_record("ord_demo_shopify_shopify")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shop.order.line_items[0].cancelled, 5);
    assert_eq!(
        shop.cancellations.len(),
        2,
        "seller cut 2, buyer cancelled the rest"
    );
    // A forged delivery is refused before anything is read.
    let mut forged = load("webhooks/woocommerce-order-updated.json");
    forged
        .headers_mut()
        .insert("x-wc-webhook-signature", "AAAA".parse().unwrap());
    assert_eq!(intake::handle(&app.intake, forged).await.status(), 401);
}

/// After seeding, no item of the table holds any of the seed's secret
/// values (webhook secrets, access tokens, consumer keys and secrets):
/// they are in Secrets Manager, one secret per company, and seeding again
/// writes none anew.
#[tokio::test]
async fn the_table_holds_no_secret() {
    let store = demo_store().await;
    let seed = SeedFile::parse(dropship::DEMO_SEED).unwrap();
    let mut secrets = Vec::new();
    for c in &seed.companies {
        let company = c.to_company();
        let (_, s) = company.split_secrets();
        for v in [
            &s.webhook_secret,
            &s.access_token,
            &s.consumer_key,
            &s.consumer_secret,
        ]
        .into_iter()
        .flatten()
        {
            secrets.push(v.clone());
        }
        if company.connection.is_some() {
            assert_eq!(store.secrets.get(&company.id).await.unwrap(), Some(s));
        }
    }
    assert!(
        secrets.len() >= 6,
        "the demo seed has secrets: {}",
        secrets.len()
    );

    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = store
            .inner
            .client()
            .scan()
            .table_name(store.inner.table())
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        items.extend(out.items().iter().map(|i| format!("{i:?}")));
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert!(items.len() > 20, "{} items", items.len());
    for item in &items {
        for secret in &secrets {
            assert!(!item.contains(secret.as_str()), "a secret in {item}");
        }
    }

    // Seeding again changes no secret.
    for c in &seed.companies {
        let (_, s) = c.to_company().split_secrets();
        if c.to_company().connection.is_some() {
            assert_eq!(
                store.secrets.put(&c.id, &s).await.unwrap(),
                service::secrets::Put::Unchanged
            );
        }
    }
}
