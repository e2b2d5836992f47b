//! Round trips and capacity units per request on the DynamoDB store,
//! counted by an SDK interceptor on ministack. Counts are deterministic, so
//! the goals are asserted; the table is printed for docs/dynamodb.md.

use crate::common::*;
use dynamodb::testing::{Call, Counter, Read, counted_store};
use handlers::api::Api;
use handlers::intake;
use platforms::sign_hmac_sha256_base64;
use serde_json::{Value, json};
use service::events::{WebhookStore, cancellation_created, new_event_id};
use service::secrets::{MemorySecrets, WithSecrets};
use service::store::Orders as _;

/// As deployed (the API function uses the table alone; the others read the
/// companies' secrets from a secret store, which makes no DynamoDB call).
type Store = WithSecrets<dynamodb::DynamoStore, MemorySecrets>;

struct Row {
    what: &'static str,
    calls: Vec<Call>,
    at_most: Option<usize>,
}

/// Read and write units of a request, as reported; a `+` marks reads the
/// local DynamoDB does not report (BatchGetItem: by DynamoDB's rule, one
/// read unit per item of up to 4 KB, read consistently).
fn units(calls: &[Call]) -> (String, f64) {
    let read = |op: &str| {
        matches!(
            op,
            "GetItem" | "BatchGetItem" | "Query" | "Scan" | "TransactGetItems"
        )
    };
    let r: f64 = calls
        .iter()
        .filter(|c| read(&c.op))
        .filter_map(|c| c.units)
        .sum();
    let w: f64 = calls
        .iter()
        .filter(|c| !read(&c.op))
        .filter_map(|c| c.units)
        .sum();
    let unreported = calls.iter().any(|c| c.units.is_none());
    (
        format!("{}{}", r + 0.0, if unreported { " +" } else { "" }),
        w + 0.0,
    )
}

/// The operations ministack answers without consumed capacity: by
/// DynamoDB's rule one read unit per item of up to 4 KB read consistently
/// (the `+` in docs/dynamodb.md). Any other unreported operation fails the
/// test: a unit it asserts would then check nothing.
const UNREPORTED: &[&str] = &["BatchGetItem"];

fn unreported_units(what: &str, calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.units.is_none() && !UNREPORTED.contains(&c.op.as_str()))
        .map(|c| format!("{what}: {} reported no units", c.op))
        .collect()
}

/// The write units of a request, as reported: fails when a write reported
/// none, or when nothing was written, so an emulator that reports no units
/// cannot pass an assertion on them.
fn written_units(what: &str, calls: &[Call]) -> f64 {
    let unreported = unreported_units(what, calls);
    assert!(unreported.is_empty(), "{unreported:#?}");
    let w = units(calls).1;
    assert!(w > 0.0, "{what}: reported no write units ({})", ops(calls));
    w
}

/// `GetItem, Query ×30`: the operations in order, runs folded.
fn ops(calls: &[Call]) -> String {
    let mut runs: Vec<(&str, usize)> = Vec::new();
    for c in calls {
        match runs.last_mut() {
            Some((op, n)) if *op == c.op => *n += 1,
            _ => runs.push((&c.op, 1)),
        }
    }
    runs.iter()
        .map(|(op, n)| {
            if *n == 1 {
                (*op).to_owned()
            } else {
                format!("{op} ×{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

struct Bench {
    app: Services<Store>,
    counter: Counter,
    rows: Vec<Row>,
    reads: Vec<(&'static str, Read)>,
}

impl Bench {
    /// Count what `f` sends, as one row of the table.
    async fn row<T>(
        &mut self,
        what: &'static str,
        at_most: Option<usize>,
        f: impl AsyncFnOnce(&Services<Store>) -> T,
    ) -> T {
        self.counter.take();
        self.counter.take_reads();
        // Boxed: the handlers' futures on the test thread's stack overflow
        // it in a debug build.
        let out = Box::pin(f(&self.app)).await;
        let calls = self.counter.take();
        self.reads
            .extend(self.counter.take_reads().into_iter().map(|r| (what, r)));
        self.rows.push(Row {
            what,
            calls,
            at_most,
        });
        out
    }
}

fn three_lines() -> String {
    json!({
        "seller_id": "seller-api",
        "buyer_order_ref": "PO-88412",
        "line_items": [
            {"id": "li_1", "sku": "MUG-BLUE-12OZ", "title": "Blue stoneware mug, 12 oz", "quantity": 4, "unit_price": "12.50"},
            {"id": "li_2", "sku": "PLATE-WHITE-10IN", "title": "White dinner plate, 10 in", "quantity": 6, "unit_price": "9.00"},
            {"id": "li_3", "sku": "BOWL-OAK-6IN", "title": "Oak salad bowl, 6 in", "quantity": 2, "unit_price": "24.00"}
        ]
    })
    .to_string()
}

const PARTIAL: &str = r#"{"items": [{"line_item_id": "li_2", "quantity": 1, "reason": "One plate arrived chipped"}]}"#;

async fn create(app: &Api<Store>) -> String {
    let r = Box::pin(call(
        app,
        "POST",
        "/v1/orders",
        Some(BUYER),
        Some(&three_lines()),
    ))
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn post_keyed(app: &Api<Store>, path: &str, key: &str, who: &str, body: &str) -> Reply {
    send(
        app,
        event(
            "POST",
            path,
            Some(who),
            Some(body),
            &[("idempotency-key", key)],
        ),
    )
    .await
}

/// A Shopify `orders/updated` of the seller's order 9101 (one of ours,
/// five units of one line) with `current` units left, signed.
fn shopify_seller_update(current: u32, event_id: &str) -> Vec<(String, String)> {
    let body = json!({"id": 9101, "name": "#9101", "cancelled_at": null, "cancel_reason": null,
        "line_items": [{"id": 77001, "sku": "CANDLE-PINE", "quantity": 5, "current_quantity": current}]})
    .to_string();
    vec![
        ("body".into(), body.clone()),
        ("content-type".into(), "application/json".into()),
        ("x-shopify-topic".into(), "orders/updated".into()),
        (
            "x-shopify-hmac-sha256".into(),
            sign_hmac_sha256_base64("demo-shopify-seller-secret", body.as_bytes()),
        ),
        (
            "x-shopify-shop-domain".into(),
            "pine-goods.myshopify.com".into(),
        ),
        ("x-shopify-event-id".into(), event_id.into()),
    ]
}

async fn deliver(app: &Services<Store>, d: &[(String, String)]) -> Value {
    let body = d[0].1.as_str();
    let headers: Vec<(&str, &str)> = d[1..]
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = intake::handle(
        &app.intake,
        event("POST", "/webhooks/shopify", None, Some(body), &headers),
    )
    .await;
    assert_eq!(r.status(), 200);
    match r.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn round_trips_and_units_per_request() {
    let (store, counter) = counted_store().await;
    let app = seeded(WithSecrets::new(store, MemorySecrets::default())).await;
    let mut b = Bench {
        app,
        counter,
        rows: Vec::new(),
        reads: Vec::new(),
    };

    let id = b
        .row("POST /v1/orders (3 lines)", None, async |app| {
            create(app).await
        })
        .await;
    let path = format!("/v1/orders/{id}/cancellations");
    let r = b
        .row(
            "POST .../cancellations (items), partial, 3-line order",
            Some(2),
            async |app| call(app, "POST", &path, Some(BUYER), Some(PARTIAL)).await,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let keyed_id = create(&b.app).await;
    let keyed_path = format!("/v1/orders/{keyed_id}/cancellations");
    let r = b
        .row("the same with Idempotency-Key", Some(2), async |app| {
            post_keyed(app, &keyed_path, "k-partial", BUYER, PARTIAL).await
        })
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = b
        .row("its retry (replayed)", None, async |app| {
            post_keyed(app, &keyed_path, "k-partial", BUYER, PARTIAL).await
        })
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.headers["idempotent-replayed"], "true");

    let whole = create(&b.app).await;
    let whole_path = format!("/v1/orders/{whole}/cancellations");
    let r = b
        .row(
            "POST .../cancellations (whole order), with Idempotency-Key",
            Some(2),
            async |app| {
                post_keyed(
                    app,
                    &whole_path,
                    "k-whole",
                    BUYER,
                    r#"{"reason": "Ordered by mistake"}"#,
                )
                .await
            },
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = b
        .row(
            "a refused cancellation (nothing open), with Idempotency-Key",
            None,
            async |app| {
                post_keyed(
                    app,
                    &whole_path,
                    "k-refused",
                    BUYER,
                    r#"{"reason": "Again"}"#,
                )
                .await
            },
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    let whole_unkeyed = create(&b.app).await;
    let whole_unkeyed_path = format!("/v1/orders/{whole_unkeyed}/cancellations");
    let r = b
        .row(
            "POST .../cancellations (whole order), no key",
            Some(2),
            async |app| {
                call(
                    app,
                    "POST",
                    &whole_unkeyed_path,
                    Some(SELLER),
                    Some(r#"{"reason": "Discontinued"}"#),
                )
                .await
            },
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let shipped = create(&b.app).await;
    let ful_path = format!("/v1/orders/{shipped}/fulfillments");
    let r = b
        .row("POST .../fulfillments", Some(2), async |app| {
            call(
                app,
                "POST",
                &ful_path,
                Some(SELLER),
                Some(r#"{"items": [{"line_item_id": "li_1", "quantity": 2}], "carrier": "UPS"}"#),
            )
            .await
        })
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let order_path = format!("/v1/orders/{id}");
    let r = b
        .row("GET /v1/orders/{id}", Some(2), async |app| {
            call(app, "GET", &order_path, Some(BUYER), None).await
        })
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["cancellations"].as_array().unwrap().len(), 1);
    let r = b
        .row("GET /v1/orders/{id}/cancellations", Some(2), async |app| {
            call(app, "GET", &path, Some(BUYER), None).await
        })
        .await;
    assert_eq!(r.status, 200);

    // 30 orders of the buyer in all.
    let mut have = 5 + 2; // the five above and the seed's two
    while have < 30 {
        create(&b.app).await;
        have += 1;
    }
    let r = b
        .row(
            "GET /v1/orders?limit=50 (30 orders)",
            Some(3),
            async |app| call(app, "GET", "/v1/orders?limit=50", Some(BUYER), None).await,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["orders"].as_array().unwrap().len(), 30);
    let r = b
        .row(
            "GET /v1/orders?limit=10 (a page of 30)",
            Some(3),
            async |app| call(app, "GET", "/v1/orders?limit=10", Some(BUYER), None).await,
        )
        .await;
    assert_eq!(r.body["orders"].as_array().unwrap().len(), 10);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let next = format!("/v1/orders?limit=10&cursor={cursor}");
    let r = b
        .row("the next page", Some(3), async |app| {
            call(app, "GET", &next, Some(BUYER), None).await
        })
        .await;
    assert_eq!(r.body["orders"].as_array().unwrap().len(), 10);

    let r = b
        .row(
            "GET /v1/orders?status=open&limit=20",
            Some(3),
            async |app| {
                call(
                    app,
                    "GET",
                    "/v1/orders?status=open&limit=20",
                    Some(BUYER),
                    None,
                )
                .await
            },
        )
        .await;
    assert_eq!(r.body["orders"].as_array().unwrap().len(), 20);
    assert!(
        r.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["complete"] == false)
    );

    let cold = shopify_seller_update(5, "evt-noop-0");
    let v = b
        .row(
            "Shopify orders/updated, no-op, first of the process",
            None,
            async |app| deliver(app, &cold).await,
        )
        .await;
    assert_eq!(v["orders"][0]["result"], "unchanged", "{v}");
    let noop = shopify_seller_update(5, "evt-noop-1");
    let v = b
        .row("Shopify orders/updated, no-op", Some(2), async |app| {
            deliver(app, &noop).await
        })
        .await;
    assert_eq!(v["orders"][0]["result"], "unchanged", "{v}");
    let cancels = shopify_seller_update(3, "evt-cancel");
    let v = b
        .row(
            "Shopify orders/updated that cancels",
            Some(3),
            async |app| deliver(app, &cancels).await,
        )
        .await;
    assert_eq!(v["orders"][0]["result"], "cancelled", "{v}");
    let v = b
        .row("the same delivery again", Some(2), async |app| {
            deliver(app, &cancels).await
        })
        .await;
    assert!(
        ["duplicate", "unchanged"].contains(&v["orders"][0]["result"].as_str().unwrap()),
        "{v}"
    );

    // The event log: a cancellation.created of the 3-line order, as the
    // notifier records it, 12 of them for the buyer, then read by pages.
    let record = b.app.store.order_record(&id).await.unwrap().unwrap();
    let mut event_ids = Vec::new();
    for i in 0..12 {
        let now = service::now();
        let eid = new_event_id();
        let c = &record.cancellations[0];
        let event = service::events::EventRecord {
            body: cancellation_created(&eid, now, &record.order, &record.cancellations, c),
            id: eid.clone(),
            company_id: "buyer-api".into(),
            event_type: domain::events::EventType::CancellationCreated,
            created_at: now,
            order_id: id.clone(),
        };
        let keep = now + chrono::Duration::days(35);
        let dedupe = format!("cancellation.created:{i}");
        if i == 0 {
            b.row(
                "recording an event (notifier), 3-line order",
                Some(2),
                async |app| app.store.record_event(&event, &dedupe, keep).await.unwrap(),
            )
            .await;
        } else {
            b.app
                .store
                .record_event(&event, &dedupe, keep)
                .await
                .unwrap();
        }
        event_ids.push(eid);
    }
    let r = b
        .row("GET /v1/events?limit=10", Some(2), async |app| {
            call(app, "GET", "/v1/events?limit=10", Some(BUYER), None).await
        })
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["events"].as_array().unwrap().len(), 10);
    let next = format!(
        "/v1/events?limit=10&after={}",
        r.body["next_cursor"].as_str().unwrap()
    );
    let r = b
        .row(
            "GET /v1/events?after=... (the next page)",
            Some(3),
            async |app| call(app, "GET", &next, Some(BUYER), None).await,
        )
        .await;
    let got: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, event_ids[10..]);
    // The scorecard: the key, then one Query of the caller's counters,
    // whatever the number of orders.
    let r = b
        .row("GET /v1/scorecard?days=90", Some(2), async |app| {
            call(app, "GET", "/v1/scorecard?days=90", Some(BUYER), None).await
        })
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body["partners"].as_array().unwrap().is_empty());

    println!("| request | calls | of which | read units | write units |");
    println!("|---|---|---|---|---|");
    let mut over = Vec::new();
    for row in &b.rows {
        let (r, w) = units(&row.calls);
        println!(
            "| {} | {} | {} | {r} | {w} |",
            row.what,
            row.calls.len(),
            ops(&row.calls),
        );
        if row.at_most.is_some_and(|n| row.calls.len() > n) {
            over.push(format!(
                "{}: {} calls ({})",
                row.what,
                row.calls.len(),
                ops(&row.calls)
            ));
        }
    }
    assert!(over.is_empty(), "over the goal: {over:#?}");
    let unreported: Vec<String> = b
        .rows
        .iter()
        .flat_map(|r| unreported_units(r.what, &r.calls))
        .collect();
    assert!(unreported.is_empty(), "{unreported:#?}");
    // A request must see what was just written: every read it sends asks
    // for a strongly consistent one (ministack is always consistent, so
    // only the parameters show it).
    assert!(b.reads.len() > 20, "{} reads", b.reads.len());
    let weak: Vec<_> = b.reads.iter().filter(|(_, r)| !r.consistent).collect();
    assert!(
        weak.is_empty(),
        "reads without ConsistentRead=true: {weak:#?}"
    );
    // Write units of a partial cancellation of a 3-line order: one
    // transaction of the order item and the two sides' scorecard counters,
    // 2 units each under 1 KB; with a key, its record too.
    let written = |what: &str| {
        let row = b.rows.iter().find(|r| r.what == what).unwrap();
        written_units(what, &row.calls)
    };
    assert_eq!(
        written("POST .../cancellations (items), partial, 3-line order"),
        6.0
    );
    assert_eq!(written("the same with Idempotency-Key"), 8.0);
    // Creating the 3-line order (its buyer's order ref is PO-88412) is one
    // transaction of 7 items under 1 KB, 2 units each: the order, its two
    // listing items, two look-up items of the buyer's ref, `REF#B` (the
    // buyer's look-up) and `REF#P` (the seller's, by the buyer's PO number,
    // for EDI sellers), and the two sides' scorecard counters.
    assert_eq!(written("POST /v1/orders (3 lines)"), 14.0);
}

#[test]
#[should_panic(expected = "reported no units")]
fn a_write_unit_assertion_fails_when_no_units_are_reported() {
    written_units(
        "a write",
        &[Call {
            op: "UpdateItem".into(),
            units: None,
        }],
    );
}

#[test]
#[should_panic(expected = "reported no write units")]
fn a_write_unit_assertion_fails_when_nothing_was_written() {
    written_units(
        "a read",
        &[Call {
            op: "BatchGetItem".into(),
            units: None,
        }],
    );
}

#[test]
fn only_batch_reads_may_go_unreported() {
    let calls = [
        Call {
            op: "BatchGetItem".into(),
            units: None,
        },
        Call {
            op: "Query".into(),
            units: None,
        },
    ];
    assert_eq!(
        unreported_units("a page", &calls),
        ["a page: Query reported no units"]
    );
}
