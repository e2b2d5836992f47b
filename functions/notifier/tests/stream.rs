//! The notifier Lambda end to end: the stream events in `events/notifier/`
//! against ministack (DynamoDB for the store and ledger, SES with read-back
//! at `/_ministack/ses/messages`) and fake store platforms on loopback
//! (wiremock) asserting the exact calls. Run through the test script:
//! `scripts/ministack.sh test cargo test --workspace`.

use aws_sdk_dynamodb::types::AttributeValue;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use chrono::{Duration, Utc};
use domain::Cancellation;
use dynamodb::DynamoStore;
use local::seed::{self, SeedFile};
use notifier::{cancellation_of, handle};
use platforms::client::HttpStoreSync;
use platforms::client::{PlatformHttp, RetryPolicy};
use secretsmanager::SecretsManager;
use serde_json::{Value, json};
use service::email::{Email, MailError, Mailer};
use service::ledger::{Channel, Claim, Ledger, LedgerKey, LedgerStatus, Outcome};
use service::notify::{Notifier, NotifierConfig};
use service::secrets::WithSecrets;
use service::store::{Commit, Companies, Orders};
use ses::SesMailer;
use wiremock::matchers::{
    body_json, body_partial_json, body_string_contains, header, method, path,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// As deployed: the companies' secrets in (ministack's) Secrets Manager.
type TestStore = WithSecrets<DynamoStore, SecretsManager>;
type TestNotifier = Notifier<TestStore, SesMailer, HttpStoreSync>;

const DEMO_SEED: &str = include_str!("../../../events/demo-seed.json");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "AWS_ENDPOINT_URL={endpoint:?}: these tests need ministack on loopback. \
         Run them through `scripts/ministack.sh test cargo test --workspace`."
    );
    endpoint
}

/// One test's world: its own table (demo seed, store companies pointed at
/// the fake platform), its own verified sender, its own fake platform.
struct World {
    sdk: SdkConfig,
    store: TestStore,
    sender: String,
    platform: MockServer,
}

impl World {
    async fn new() -> Self {
        let endpoint = endpoint();
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let table = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), format!("n-{unique}"));
        table
            .ensure_table()
            .await
            .unwrap_or_else(|e| panic!("creating a table at {endpoint}: {e}"));
        let secrets = SecretsManager::on_first_use(&sdk, format!("dropship/n-{unique}/companies/"));
        let store = WithSecrets::cached(table, secrets, notifier::SECRET_CACHE);
        seed::apply(&store, &SeedFile::parse(DEMO_SEED).unwrap())
            .await
            .unwrap();
        let platform = MockServer::start().await;
        for id in ["buyer-shopify", "seller-shopify", "seller-woo", "seller-bc"] {
            let mut c = store.company(id).await.unwrap().unwrap();
            if let Some(conn) = c.connection.as_mut() {
                conn.api_base_url = Some(platform.uri());
            }
            store.put_company(&c).await.unwrap();
        }
        let sender = format!("notify-{unique}@dropship.example");
        aws_sdk_ses::Client::new(&sdk)
            .verify_email_identity()
            .email_address(&sender)
            .send()
            .await
            .unwrap();
        World {
            sdk,
            store,
            sender,
            platform,
        }
    }

    fn notifier_with(&self, ses: aws_sdk_ses::Client) -> TestNotifier {
        let http = PlatformHttp::new(RetryPolicy {
            attempts: 3,
            base_delay: StdDuration::from_millis(10),
            max_delay: StdDuration::from_secs(5),
        });
        Notifier::new(
            self.store.clone(),
            SesMailer::new(ses),
            email::Letters,
            HttpStoreSync::new(http),
            NotifierConfig::new(&self.sender),
        )
    }

    fn notifier(&self) -> TestNotifier {
        self.notifier_with(aws_sdk_ses::Client::new(&self.sdk))
    }

    /// Commit the cancellations an event announces, as the API would have:
    /// the order's units and version change with the cancellation item.
    async fn commit(&self, event: &Event) {
        for record in &event.records {
            let Ok(Some(c)) = cancellation_of(record) else {
                continue;
            };
            let mut order = self.store.order(&c.order_id).await.unwrap().unwrap();
            for item in &c.items {
                let line = order
                    .line_items
                    .iter_mut()
                    .find(|l| l.id == item.line_item_id)
                    .unwrap();
                line.cancelled += item.quantity;
            }
            order.version += 1;
            order.updated_at = c.created_at;
            let mut commit = Commit::update(order);
            commit.cancellation = Some(c);
            self.store.commit(&commit).await.unwrap();
        }
    }

    /// An order's item as DynamoDB holds it (what the stream's NEW_IMAGE
    /// carries).
    async fn order_item(&self, id: &str) -> std::collections::HashMap<String, AttributeValue> {
        self.store
            .inner
            .client()
            .get_item()
            .table_name(self.store.inner.table())
            .key("pk", AttributeValue::S(format!("ORDER#{id}")))
            .key("sk", AttributeValue::S("ORDER".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    /// Emails SES accepted from this world's sender.
    async fn emails(&self) -> Vec<Value> {
        let body: Value = reqwest::get(format!("{}/_ministack/ses/messages", endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["messages"]
            .as_object()
            .into_iter()
            .flat_map(|accounts| accounts.values())
            .flat_map(|msgs| msgs.as_array().cloned().unwrap_or_default())
            .filter(|m| m["Source"] == self.sender.as_str())
            .collect()
    }

    async fn requests(&self) -> Vec<Request> {
        self.platform.received_requests().await.unwrap_or_default()
    }

    async fn ledger(
        &self,
        order_id: &str,
        cancellation_id: &str,
        channel: Channel,
    ) -> Option<service::ledger::LedgerEntry> {
        self.store
            .ledger_entries(order_id)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.cancellation_id == cancellation_id && e.channel == channel)
    }
}

fn event(name: &str) -> Event {
    let p = repo().join("events/notifier").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn failures(r: &DynamoDbEventResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

fn to(email: &Value) -> String {
    email["To"][0].as_str().unwrap_or_default().to_owned()
}

fn body_json_of(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn assert_mentions(email: &Value, needles: &[&str]) {
    for part in ["BodyText", "BodyHtml"] {
        let text = email[part].as_str().unwrap_or_default();
        for n in needles {
            assert!(text.contains(n), "{part} lacks {n:?}:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_cancellation_emails_the_api_seller_only() {
    let w = World::new().await;
    let ev = event("partial.json");
    w.commit(&ev).await;
    let r = handle(&w.notifier(), ev).await;
    assert!(failures(&r).is_empty());
    let emails = w.emails().await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    let e = &emails[0];
    assert_eq!(to(e), "ops@sunrise-supply.example");
    assert_eq!(e["To"].as_array().unwrap().len(), 1);
    assert!(e["Subject"].as_str().unwrap().contains("ord_demo_api"));
    assert_mentions(
        e,
        &[
            "MUG-BLUE",
            "Blue enamel mug",
            "Customer changed their mind",
            "Acme Home (API buyer)",
            "buyer",
            "the Dropship API",
        ],
    );
    assert!(!e["BodyText"].as_str().unwrap().contains("PLATE-WHT"));
    assert!(
        w.requests().await.is_empty(),
        "an API company has no store sync"
    );
    let entry = w
        .ledger("ord_demo_api", "can_evt_partial_api", Channel::Email)
        .await
        .unwrap();
    assert_eq!(entry.status, LedgerStatus::Completed);
    assert_eq!(entry.outcome, Some(Outcome::Sent));
    assert!(
        w.ledger("ord_demo_api", "can_evt_partial_api", Channel::StoreSync)
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_order_cancellation_by_an_edi_seller_emails_the_edi_buyer() {
    let w = World::new().await;
    let ev = event("whole-order.json");
    w.commit(&ev).await;
    let r = handle(&w.notifier(), ev).await;
    assert!(failures(&r).is_empty());
    let emails = w.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(
        to(&emails[0]),
        "edi@bigbox.example",
        "the partner, not the initiator"
    );
    assert!(
        emails[0]["Subject"]
            .as_str()
            .unwrap()
            .contains("Order ord_demo_edi (your order PO-55120) cancelled by Northwind Wholesale")
    );
    assert_mentions(
        &emails[0],
        &[
            "TOWEL-GRY",
            "MAT-BATH",
            "12",
            "Discontinued by the manufacturer",
            "EDI",
            "whole of order",
        ],
    );
    assert!(w.requests().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_seller_gets_new_line_quantities() {
    let w = World::new().await;
    mount_woo_order(&w).await;
    Mock::given(method("PUT"))
        .and(path("/wp-json/wc/v3/orders/731"))
        // base64("ck_demo:cs_demo")
        .and(header("authorization", "Basic Y2tfZGVtbzpjc19kZW1v"))
        .and(body_json(json!({"line_items": [
            {"id": 41, "quantity": 1, "subtotal": "34.00", "total": "30.00"}
        ]})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": 731, "status": "processing"})),
        )
        .expect(1)
        .mount(&w.platform)
        .await;
    let ev = event("woocommerce-seller.json");
    w.commit(&ev).await;
    let r = handle(&w.notifier(), ev).await;
    assert!(failures(&r).is_empty());
    let emails = w.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(to(&emails[0]), "shop@cedar-crafts.example");
    assert_mentions(
        &emails[0],
        &[
            "BOWL-OAK",
            "Customer no longer needs it",
            "the Dropship app",
            "Maple",
        ],
    );
    let entry = w
        .ledger(
            "ord_demo_shopify_woo",
            "can_evt_woo_seller",
            Channel::StoreSync,
        )
        .await
        .unwrap();
    assert_eq!(entry.outcome, Some(Outcome::Sent));
    assert_eq!(
        entry.detail.as_deref(),
        Some("WooCommerce order 731: quantities set (line 41 -> 1); order note added")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigcommerce_seller_gets_the_cancelled_status() {
    let w = World::new().await;
    mount_bc_order(&w).await;
    Mock::given(method("PUT"))
        .and(path("/stores/birch123/v2/orders/120"))
        .and(header("x-auth-token", "bc_demo_token"))
        .and(body_partial_json(json!({"status_id": 5})))
        .and(body_string_contains(r"Gift wrap\n"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 120, "status_id": 5})))
        .expect(1)
        .mount(&w.platform)
        .await;
    let ev = event("bigcommerce-seller.json");
    w.commit(&ev).await;
    let r = handle(&w.notifier(), ev).await;
    assert!(failures(&r).is_empty());
    let emails = w.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(to(&emails[0]), "store@birch-supply.example");
    assert_mentions(&emails[0], &["CHAIR-BIR", "STOOL-BIR", "Project cancelled"]);
}

/// WooCommerce's order 731 as a partial update reads it first: the bowls,
/// 2 at 34.00 with 8.00 off the line.
async fn mount_woo_order(w: &World) {
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/orders/731"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 731, "currency": "USD",
            "line_items": [{"id": 41, "quantity": 2, "subtotal": "68.00", "total": "60.00"}]
        })))
        .mount(&w.platform)
        .await;
    // The reason's private order note: none there yet, then added
    // (WooCommerce REST API docs v3, "Order notes": list, then create,
    // answered 201 with the note; as testkit's FakeWooCommerce).
    Mock::given(method("GET"))
        .and(path("/wp-json/wc/v3/orders/731/notes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&w.platform)
        .await;
    Mock::given(method("POST"))
        .and(path("/wp-json/wc/v3/orders/731/notes"))
        .and(body_string_contains("Other (other)"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 9})))
        .expect(1)
        .mount(&w.platform)
        .await;
}

/// BigCommerce's order 120 as read before an update: the staff notes our
/// line is appended to (`staff_notes`, returned by `GET /v2/orders/{id}`
/// and replaced by a `PUT` that sends it: bigcommerce/docs,
/// reference/orders.v2.oas2.yml; as testkit's FakeBigCommerce).
async fn mount_bc_order(w: &World) {
    Mock::given(method("GET"))
        .and(path("/stores/birch123/v2/orders/120"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 120, "staff_notes": "Gift wrap"})),
        )
        .mount(&w.platform)
        .await;
}

/// The Shopify fake: answers each of our operations by its name.
async fn mount_shopify(w: &World, token: &str, lines: Value, suggested: Value) {
    let gql = || {
        Mock::given(method("POST"))
            .and(path("/admin/api/2026-10/graphql.json"))
            .and(header("x-shopify-access-token", token))
    };
    gql()
        .and(body_string_contains("DropshipRefundState"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"order": {
                "id": "gid", "closed": false, "presentmentCurrencyCode": "USD",
                "lineItems": {"nodes": lines, "pageInfo": {"hasNextPage": false, "endCursor": null}}
            }}})),
        )
        .mount(&w.platform)
        .await;
    gql()
        .and(body_string_contains("DropshipSuggestedRefund"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"order": {
                "suggestedRefund": {
                    "amountSet": {"presentmentMoney": {"amount": "1", "currencyCode": "USD"}},
                    "suggestedTransactions": suggested
                }
            }}})),
        )
        .mount(&w.platform)
        .await;
    gql()
        .and(body_string_contains("DropshipRefundCreate"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"refundCreate": {
                "refund": {"id": "gid://shopify/Refund/777"}, "userErrors": []
            }}})),
        )
        .mount(&w.platform)
        .await;
    gql()
        .and(body_string_contains("DropshipOrderClose"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"orderClose": {
                "order": {"id": "gid", "closed": true}, "userErrors": []
            }}})),
        )
        .mount(&w.platform)
        .await;
}

fn graphql_calls(requests: &[Request], name: &str) -> Vec<Value> {
    requests
        .iter()
        .map(body_json_of)
        .filter(|b| b["query"].as_str().is_some_and(|q| q.contains(name)))
        .map(|b| b["variables"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_buyer_gets_a_refund_of_the_cancelled_line() {
    let w = World::new().await;
    // Shopify order 5001 holds lines of two of our orders (two sellers).
    mount_shopify(
        &w,
        "shpat_demo_buyer",
        json!([
            {"id": "gid://shopify/LineItem/13001", "currentQuantity": 2},
            {"id": "gid://shopify/LineItem/13002", "currentQuantity": 3},
            {"id": "gid://shopify/LineItem/13003", "currentQuantity": 5}
        ]),
        json!([{"gateway": "shopify_payments",
                "amountSet": {"presentmentMoney": {"amount": "11.00", "currencyCode": "USD"}},
                "parentTransaction": {"id": "gid://shopify/OrderTransaction/900"}}]),
    )
    .await;
    let ev = event("shopify-buyer.json");
    w.commit(&ev).await;
    let r = handle(&w.notifier(), ev).await;
    assert!(failures(&r).is_empty());
    let reqs = w.requests().await;
    assert_eq!(
        graphql_calls(&reqs, "DropshipRefundState"),
        [json!({"id": "gid://shopify/Order/5001", "after": null})]
    );
    assert_eq!(
        graphql_calls(&reqs, "DropshipSuggestedRefund"),
        [
            json!({"id": "gid://shopify/Order/5001", "refundShipping": false,
                "refundLineItems": [{"lineItemId": "gid://shopify/LineItem/13002", "quantity": 1, "restockType": "CANCEL"}]})
        ]
    );
    let created = graphql_calls(&reqs, "DropshipRefundCreate");
    assert_eq!(created.len(), 1);
    let key = created[0]["idempotencyKey"].as_str().unwrap();
    assert_eq!(key.len(), 36, "a key derived from the refund: {key}");
    assert_eq!(
        [created[0]["input"].clone()],
        [json!({
            "orderId": "gid://shopify/Order/5001",
            "notify": true,
            "note": "Dropship order ord_demo_shopify_woo cancellation can_evt_shopify_buyer: Other (other)",
            "currency": "USD",
            "refundLineItems": [{"lineItemId": "gid://shopify/LineItem/13002", "quantity": 1, "restockType": "CANCEL"}],
            "transactions": [{"orderId": "gid://shopify/Order/5001", "amount": "11.00",
                              "gateway": "shopify_payments", "kind": "REFUND",
                              "parentId": "gid://shopify/OrderTransaction/900"}]
        })]
    );
    assert!(
        graphql_calls(&reqs, "DropshipOrderClose").is_empty(),
        "not fully refunded"
    );
    let emails = w.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(to(&emails[0]), "hello@maple-co.example");
    assert_mentions(
        &emails[0],
        &[
            "SPOON-OAK",
            "Out of stock at the supplier",
            "WooCommerce",
            "Cedar Crafts",
            "Shopify store",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_seller_fully_refunded_gets_the_refund_only() {
    let w = World::new().await;
    mount_shopify(
        &w,
        "shpat_demo_seller",
        json!([{"id": "gid://shopify/LineItem/77001", "currentQuantity": 5}]),
        json!([{"gateway": "manual",
                "amountSet": {"presentmentMoney": {"amount": "47.50", "currencyCode": "USD"}},
                "parentTransaction": null}]),
    )
    .await;
    let ev = event("shopify-seller.json");
    w.commit(&ev).await;
    let notifier = w.notifier();
    let r = handle(&notifier, ev.clone()).await;
    assert!(failures(&r).is_empty());
    let reqs = w.requests().await;
    // A seller's store holds the dropship copy of its customer's order:
    // no email to that customer, no shipping refund, no archive.
    let suggested = graphql_calls(&reqs, "DropshipSuggestedRefund");
    assert_eq!(suggested.len(), 1);
    assert_eq!(suggested[0]["refundShipping"], false);
    let created = graphql_calls(&reqs, "DropshipRefundCreate");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["input"].get("shipping"), None);
    assert_eq!(created[0]["input"]["notify"], false);
    assert_eq!(
        created[0]["input"]["refundLineItems"],
        json!([{"lineItemId": "gid://shopify/LineItem/77001", "quantity": 5, "restockType": "CANCEL"}])
    );
    assert_eq!(
        created[0]["input"]["transactions"],
        json!([{"orderId": "gid://shopify/Order/9101", "amount": "47.50", "gateway": "manual", "kind": "REFUND", "parentId": null}])
    );
    assert!(graphql_calls(&reqs, "DropshipOrderClose").is_empty());
    let emails = w.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(to(&emails[0]), "orders@pine-goods.example");
    assert_mentions(&emails[0], &["CANDLE-PINE", "Shopify", "Maple"]);
    assert!(
        emails[0]["BodyHtml"]
            .as_str()
            .unwrap()
            .contains("Maple &#38; Co")
    );
    assert!(
        emails[0]["BodyText"]
            .as_str()
            .unwrap()
            .contains("Maple & Co")
    );

    // Redelivered: nothing is sent or refunded again.
    let r = handle(&notifier, ev).await;
    assert!(failures(&r).is_empty());
    assert_eq!(w.requests().await.len(), reqs.len());
    assert_eq!(w.emails().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_and_bisected_batches_send_nothing_new() {
    let w = World::new().await;
    Mock::given(method("PUT"))
        .and(path("/wp-json/wc/v3/orders/731"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&w.platform)
        .await;
    let mut batch = event("woocommerce-seller.json");
    batch.records.extend(event("partial.json").records);
    w.commit(&batch).await;
    let notifier = w.notifier();
    assert!(failures(&handle(&notifier, batch.clone()).await).is_empty());
    assert_eq!(w.emails().await.len(), 2);
    assert_eq!(w.requests().await.len(), 1);
    // The same batch again, then each half (as a bisected retry would).
    assert!(failures(&handle(&notifier, batch.clone()).await).is_empty());
    for half in batch.records.chunks(1) {
        let mut e = batch.clone();
        e.records = half.to_vec();
        assert!(failures(&handle(&notifier, e).await).is_empty());
    }
    // A fresh execution environment (new clients) changes nothing either.
    assert!(failures(&handle(&w.notifier(), batch).await).is_empty());
    assert_eq!(w.emails().await.len(), 2);
    assert_eq!(w.requests().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_record_fails_alone() {
    let w = World::new().await;
    Mock::given(method("GET"))
        .and(path("/stores/birch123/v2/orders/120/products"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 501, "quantity": 2, "price_ex_tax": "89.0000", "price_inc_tax": "89.0000", "applied_discounts": []},
            {"id": 502, "quantity": 1, "price_ex_tax": "45.0000", "price_inc_tax": "45.0000", "applied_discounts": []}
        ])))
        .mount(&w.platform)
        .await;
    mount_bc_order(&w).await;
    Mock::given(method("PUT"))
        .and(path("/stores/birch123/v2/orders/120"))
        .and(body_partial_json(
            json!({"products": [{"id": 501, "quantity": 1}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&w.platform)
        .await;
    let ev = event("batch-with-poison.json");
    let poison_seq = ev.records[2].change.sequence_number.clone().unwrap();
    w.commit(&ev).await;
    let notifier = w.notifier();
    let r = handle(&notifier, ev.clone()).await;
    assert_eq!(failures(&r), std::slice::from_ref(&poison_seq));
    let mut recipients: Vec<String> = w.emails().await.iter().map(to).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["orders@acme-home.example", "store@birch-supply.example"]
    );
    // Lambda retries from the failed record on: the records after it are
    // delivered again, and repeat nothing.
    let mut retry = ev.clone();
    retry.records = ev.records[2..].to_vec();
    assert_eq!(failures(&handle(&notifier, retry).await), [poison_seq]);
    assert_eq!(w.emails().await.len(), 2);
}

/// A stand-in for SES that throttles every call.
async fn throttling_ses() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error><Type>Sender</Type>\
             <Code>Throttling</Code><Message>Maximum sending rate exceeded.</Message></Error>\
             <RequestId>r-1</RequestId></ErrorResponse>",
            "text/xml",
        ))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_failure_then_recovery_sends_exactly_one_email() {
    let w = World::new().await;
    let ses_down = throttling_ses().await;
    let failing = aws_sdk_ses::Client::from_conf(
        aws_sdk_ses::config::Builder::from(&w.sdk)
            .endpoint_url(ses_down.uri())
            .retry_config(aws_sdk_ses::config::retry::RetryConfig::disabled())
            .build(),
    );
    let ev = event("partial.json");
    let seq = ev.records[0].change.sequence_number.clone().unwrap();
    w.commit(&ev).await;
    let r = handle(&w.notifier_with(failing), ev.clone()).await;
    assert_eq!(failures(&r), [seq]);
    assert!(w.emails().await.is_empty());
    let entry = w
        .ledger("ord_demo_api", "can_evt_partial_api", Channel::Email)
        .await
        .unwrap();
    assert_eq!(entry.status, LedgerStatus::InProgress);
    assert!(entry.last_error.unwrap().contains("Throttling"));
    // SES is back: the retry sends it, once.
    let notifier = w.notifier();
    assert!(failures(&handle(&notifier, ev.clone()).await).is_empty());
    assert!(failures(&handle(&notifier, ev).await).is_empty());
    assert_eq!(w.emails().await.len(), 1);
    let entry = w
        .ledger("ord_demo_api", "can_evt_partial_api", Channel::Email)
        .await
        .unwrap();
    assert_eq!((entry.status, entry.attempts), (LedgerStatus::Completed, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_platform_is_retried_after_retry_after() {
    let w = World::new().await;
    mount_woo_order(&w).await;
    Mock::given(method("PUT"))
        .and(path("/wp-json/wc/v3/orders/731"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&w.platform)
        .await;
    Mock::given(method("PUT"))
        .and(path("/wp-json/wc/v3/orders/731"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .with_priority(2)
        .mount(&w.platform)
        .await;
    let ev = event("woocommerce-seller.json");
    w.commit(&ev).await;
    let started = Instant::now();
    let r = handle(&w.notifier(), ev).await;
    assert!(failures(&r).is_empty());
    assert!(
        started.elapsed() >= StdDuration::from_secs(1),
        "Retry-After was not honoured"
    );
    let puts: Vec<Request> = w
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT")
        .collect();
    assert_eq!(puts.len(), 2);
    assert_eq!(body_json_of(&puts[0]), body_json_of(&puts[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_platform_refusal_is_recorded_and_not_retried() {
    let w = World::new().await;
    Mock::given(method("PUT"))
        .and(path("/stores/birch123/v2/orders/120"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!([{"status": 404, "message": "The requested resource was not found."}]),
        ))
        .mount(&w.platform)
        .await;
    let ev = event("bigcommerce-seller.json");
    w.commit(&ev).await;
    let notifier = w.notifier();
    assert!(failures(&handle(&notifier, ev.clone()).await).is_empty());
    assert!(failures(&handle(&notifier, ev).await).is_empty());
    assert_eq!(w.requests().await.len(), 1, "a 404 is not retried");
    let entry = w
        .ledger("ord_demo_api_bc", "can_evt_bc_seller", Channel::StoreSync)
        .await
        .unwrap();
    assert_eq!(entry.outcome, Some(Outcome::Failed));
    assert!(entry.detail.unwrap().contains("HTTP 404"));
    assert_eq!(w.emails().await.len(), 1, "the email goes out regardless");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_claim_defers_and_a_crashed_one_is_taken_over_after_expiry() {
    let w = World::new().await;
    let now = Utc::now();
    // Another worker is sending this one right now: the delivery is
    // reported for retry and sends nothing.
    let busy = event("whole-order.json");
    w.commit(&busy).await;
    let key = LedgerKey::new("ord_demo_edi", "can_evt_whole_edi", Channel::Email);
    let Claim::Acquired { .. } = w
        .store
        .claim(&key, now, Duration::seconds(60))
        .await
        .unwrap()
    else {
        panic!("first claim")
    };
    let r = handle(&w.notifier(), busy).await;
    assert_eq!(failures(&r).len(), 1);
    assert!(w.emails().await.is_empty());

    // A worker claimed this one two minutes ago and crashed mid-send: its
    // lock has expired, so the next delivery takes over and sends.
    let crashed = event("partial.json");
    w.commit(&crashed).await;
    let key = LedgerKey::new("ord_demo_api", "can_evt_partial_api", Channel::Email);
    let Claim::Acquired { .. } = w
        .store
        .claim(&key, now - Duration::seconds(120), Duration::seconds(30))
        .await
        .unwrap()
    else {
        panic!("first claim")
    };
    let r = handle(&w.notifier(), crashed).await;
    assert!(failures(&r).is_empty());
    let emails = w.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(to(&emails[0]), "ops@sunrise-supply.example");
    let e = w
        .ledger("ord_demo_api", "can_evt_partial_api", Channel::Email)
        .await
        .unwrap();
    assert_eq!((e.status, e.attempts), (LedgerStatus::Completed, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_orders_decode_as_stream_records_do() {
    let w = World::new().await;
    let order = w.store.order("ord_demo_api").await.unwrap().unwrap();
    let c = cancellation_of(&event("partial.json").records[0])
        .unwrap()
        .unwrap();
    let mut next = order.clone();
    next.version += 1;
    next.line_items[0].cancelled += 1;
    let mut commit = Commit::update(next);
    commit.cancellation = Some(c.clone());
    w.store.commit(&commit).await.unwrap();
    // The item as DynamoDB holds it is what the stream's NEW_IMAGE carries.
    let item = w.order_item("ord_demo_api").await;
    let mut record = EventRecord::default();
    record.event_name = "MODIFY".into();
    record.change.new_image = serde_dynamo::Item::from(item);
    let decoded: Option<Cancellation> = cancellation_of(&record).unwrap();
    assert_eq!(decoded, Some(c));
    // The sample event's keys and attributes follow the store's layout.
    let sample = &event("partial.json").records[0];
    for name in ["pk", "sk", "type", "new_cancellation"] {
        assert_eq!(
            sample.change.new_image.get(name),
            record.change.new_image.get(name),
            "{name}"
        );
    }
    let names = |r: &EventRecord| {
        let mut n: Vec<String> = r.change.new_image.keys().cloned().collect();
        n.sort();
        n
    };
    assert_eq!(names(sample), names(&record));

    // A later write that creates no cancellation names none: the stream
    // filter lets it pass by, and the notifier would skip it.
    let mut later = Commit::update({
        let mut o = w.store.order("ord_demo_api").await.unwrap().unwrap();
        o.version += 1;
        o.line_items[1].fulfilled += 1;
        o
    });
    later.cancellation = None;
    w.store.commit(&later).await.unwrap();
    let item = w.order_item("ord_demo_api").await;
    assert!(!item.contains_key("new_cancellation"));
    record.change.new_image = serde_dynamo::Item::from(item);
    assert_eq!(cancellation_of(&record).unwrap(), None);
}

/// SES, except for the emails of one order: the first call for it panics
/// inside the notifier, as a defect in rendering or sending would.
struct PanicsOn {
    ses: SesMailer,
    order_id: &'static str,
}

impl Mailer for PanicsOn {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        if email.reference.starts_with(&format!("{}-", self.order_id)) {
            panic!("the relay broke on {}", email.reference);
        }
        self.ses.send(email).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_whose_notification_panics_fails_alone() {
    let w = World::new().await;
    let mut batch = event("whole-order.json");
    let poison_seq = batch.records[0].change.sequence_number.clone().unwrap();
    batch.records.extend(event("partial.json").records);
    w.commit(&batch).await;
    let notifier = Notifier::new(
        w.store.clone(),
        PanicsOn {
            ses: SesMailer::new(aws_sdk_ses::Client::new(&w.sdk)),
            order_id: "ord_demo_edi",
        },
        email::Letters,
        HttpStoreSync::new(PlatformHttp::default()),
        NotifierConfig::new(&w.sender),
    );
    let r = handle(&notifier, batch.clone()).await;
    assert_eq!(failures(&r), std::slice::from_ref(&poison_seq));
    // The record after it was processed and emailed.
    let emails = w.emails().await;
    assert_eq!(
        emails.iter().map(to).collect::<Vec<_>>(),
        ["ops@sunrise-supply.example"]
    );
    let entry = w
        .ledger("ord_demo_edi", "can_evt_whole_edi", Channel::Email)
        .await
        .unwrap();
    assert_eq!(
        (entry.status, entry.outcome),
        (LedgerStatus::Completed, Some(Outcome::Failed))
    );
    assert_eq!(
        entry.detail.as_deref(),
        Some("panicked: the relay broke on ord_demo_edi-can_evt_whole_edi")
    );
    // Redelivered from the failed record on: the failure is in the ledger,
    // nothing is sent again and nothing is reported.
    let r = handle(&notifier, batch).await;
    assert!(failures(&r).is_empty());
    assert_eq!(w.emails().await.len(), 1);
}
