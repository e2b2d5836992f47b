//! The API handler driven by the sample events in `events/api/` (the same
//! files `sam local invoke -e` and `cargo lambda invoke --data-file` take),
//! plus the behaviours around them: idempotent replay, previews, listing.

use crate::common::*;
use serde_json::Value;

fn load(name: &str) -> String {
    std::fs::read_to_string(events_dir().join("api").join(name)).unwrap()
}

async fn run(app: &handlers::api::Api<sqlite::EmbeddedStore>, name: &str) -> Reply {
    send(app, from_event(&load(name))).await
}

#[tokio::test]
async fn every_sample_event_parses_and_answers() {
    let dir = events_dir().join("api");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let app = demo_app().await;
        let r = run(&app, &name).await;
        let expected = match name.as_str() {
            "create-order.json"
            | "cancel-items.json"
            | "cancel-order.json"
            | "cancel-order-from-app.json"
            | "record-fulfillment.json" => 201,
            "edi-buyer-cancel-refused.json" => 403,
            "unauthorized.json" => 401,
            _ => 200,
        };
        assert_eq!(r.status, expected, "{name}: {}", r.body);
    }
}

#[tokio::test]
async fn create_order_event() {
    let app = demo_app().await;
    let r = run(&app, "create-order.json").await;
    assert_eq!(r.status, 201);
    let o = &r.body;
    let id = o["id"].as_str().unwrap();
    assert!(id.starts_with("ord_"));
    assert_eq!(r.headers["location"], format!("/v1/orders/{id}"));
    assert_eq!(o["buyer_id"], "buyer-api");
    assert_eq!(o["seller_id"], "seller-api");
    assert_eq!(o["version"], 1);
    assert_eq!(o["fulfillment_status"], "unfulfilled");
    assert_eq!(o["cancellation_status"], "none");
    assert_eq!(o["complete"], false);
    assert_eq!(o["line_items"][0]["open"], 3);
    assert_eq!(o["cancellations"], serde_json::json!([]));
    // The event carries an Idempotency-Key: a retry returns the same order.
    let again = run(&app, "create-order.json").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, r.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let list = call(&app, "GET", "/v1/orders?limit=100", Some(BUYER), None).await;
    let n = list.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["id"] == id)
        .count();
    assert_eq!(n, 1, "the retry created nothing");
}

#[tokio::test]
async fn partial_then_whole_cancellation_events() {
    let app = demo_app().await;
    let r = run(&app, "cancel-items.json").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let c = &r.body;
    assert!(c["id"].as_str().unwrap().starts_with("can_"));
    assert_eq!(c["order_id"], "ord_demo_api");
    assert_eq!(c["initiated_by"], "buyer");
    assert_eq!(c["source"], "api");
    assert_eq!(c["kind"], "items");
    assert_eq!(
        c["items"],
        serde_json::json!([{"line_item_id": "li_1", "quantity": 1, "reason_code": "other", "reason": "Item is out of stock"}])
    );
    let replay = run(&app, "cancel-items.json").await;
    assert_eq!((replay.status, &replay.body), (201, &r.body));

    // The seller cancels the rest of the order.
    let whole = run(&app, "cancel-order.json").await;
    assert_eq!(whole.status, 201, "{}", whole.body);
    assert_eq!(whole.body["initiated_by"], "seller");
    assert_eq!(whole.body["kind"], "order");
    assert_eq!(
        whole.body["items"],
        serde_json::json!([
            {"line_item_id": "li_1", "quantity": 3, "reason_code": "other", "reason": "Items are out of stock"},
            {"line_item_id": "li_2", "quantity": 2, "reason_code": "other", "reason": "Items are out of stock"}
        ])
    );
    let o = run(&app, "get-order.json").await.body;
    assert_eq!(o["cancellation_status"], "cancelled");
    assert_eq!(o["complete"], true);
    assert_eq!(o["version"], 3);
    assert_eq!(o["line_items"][0]["cancelled"], 4);
    assert_eq!(o["line_items"][0]["open"], 0);
    let list = run(&app, "list-cancellations.json").await;
    let ids: Vec<&Value> = list.body["cancellations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, vec![&r.body["id"], &whole.body["id"]], "oldest first");
    assert_eq!(o["cancellations"], list.body["cancellations"]);
}

#[tokio::test]
async fn app_client_header_attributes_to_the_app() {
    let app = demo_app().await;
    let r = run(&app, "cancel-order-from-app.json").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["source"], "app");
}

#[tokio::test]
async fn preview_writes_nothing() {
    let app = demo_app().await;
    let before = app_state(&app).await;
    let r = run(&app, "preview-cancellation.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["kind"], "order");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(app_state(&app).await, before);
    // A preview of a refused cancellation is refused the same way.
    let r = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/cancellations?preview=true",
        Some(BUYER),
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":9,"reason":"r"}]}"#),
    )
    .await;
    assert_eq!((r.status, r.code()), (409, "quantity_exceeds_open"));
}

async fn app_state(app: &handlers::api::Api<sqlite::EmbeddedStore>) -> (u64, usize) {
    use service::store::Orders;
    let rec = app
        .store
        .order_record("ord_demo_api")
        .await
        .unwrap()
        .unwrap();
    (rec.order.version, rec.cancellations.len())
}

#[tokio::test]
async fn fulfillment_then_cancellation_statuses() {
    let app = demo_app().await;
    let f = run(&app, "record-fulfillment.json").await;
    assert_eq!(f.status, 201, "{}", f.body);
    assert!(f.body["id"].as_str().unwrap().starts_with("ful_"));
    assert_eq!(f.body["tracking_number"], "1Z999AA10123456784");
    assert_eq!(f.body["carrier"], "UPS");
    assert_eq!(
        f.body["items"],
        serde_json::json!([{"line_item_id": "li_2", "quantity": 2}])
    );
    // 1 of 4 mugs fulfilled, then the rest cancelled.
    let r = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/fulfillments",
        Some(SELLER),
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":1}]}"#),
    )
    .await;
    assert_eq!(r.status, 201);
    let c = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        Some(BUYER),
        Some(r#"{"reason":"Customer changed their mind"}"#),
    )
    .await;
    assert_eq!(c.status, 201);
    assert_eq!(
        c.body["items"],
        serde_json::json!([{"line_item_id": "li_1", "quantity": 3, "reason_code": "other", "reason": "Customer changed their mind"}])
    );
    let o = run(&app, "get-order.json").await.body;
    assert_eq!(o["fulfillment_status"], "fulfilled");
    assert_eq!(o["cancellation_status"], "partial");
    assert_eq!(o["complete"], true);
}

#[tokio::test]
async fn idempotency_replays_errors_and_is_scoped_per_company() {
    let app = demo_app().await;
    let key = [("idempotency-key", "same-key")];
    // An error is remembered under its key...
    let bad = r#"{"items":[{"line_item_id":"li_1","quantity":5,"reason":"r"}]}"#;
    let first = send(
        &app,
        event(
            "POST",
            "/v1/orders/ord_demo_api/cancellations",
            Some(BUYER),
            Some(bad),
            &key,
        ),
    )
    .await;
    assert_eq!((first.status, first.code()), (409, "quantity_exceeds_open"));
    // ...and replayed even once the state would allow it (here: still the same).
    let again = send(
        &app,
        event(
            "POST",
            "/v1/orders/ord_demo_api/cancellations",
            Some(BUYER),
            Some(bad),
            &key,
        ),
    )
    .await;
    assert_eq!((again.status, &again.body), (409, &first.body));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // The seller may use the same key for its own request.
    let seller = send(
        &app,
        event(
            "POST",
            "/v1/orders/ord_demo_api/cancellations",
            Some(SELLER),
            Some(r#"{"reason":"discontinued"}"#),
            &key,
        ),
    )
    .await;
    assert_eq!(seller.status, 201, "{}", seller.body);
}

#[tokio::test]
async fn replayed_success_survives_later_changes() {
    let app = demo_app().await;
    let key = [("idempotency-key", "cancel-all")];
    let body = r#"{"reason":"Items are out of stock"}"#;
    let first = send(
        &app,
        event(
            "POST",
            "/v1/orders/ord_demo_api/cancellations",
            Some(BUYER),
            Some(body),
            &key,
        ),
    )
    .await;
    assert_eq!(first.status, 201);
    // Without the key the same request would now be refused; with it, it is the first answer.
    let fresh = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        Some(BUYER),
        Some(body),
    )
    .await;
    assert_eq!(fresh.code(), "nothing_to_cancel");
    let replay = send(
        &app,
        event(
            "POST",
            "/v1/orders/ord_demo_api/cancellations",
            Some(BUYER),
            Some(body),
            &key,
        ),
    )
    .await;
    assert_eq!((replay.status, &replay.body), (201, &first.body));
}

#[tokio::test]
async fn listing_pages_newest_first_and_filters() {
    let app = demo_app().await;
    let r = run(&app, "list-orders.json").await;
    assert_eq!(r.status, 200);
    let ids = |v: &Value| -> Vec<String> {
        v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&r.body), ["ord_demo_api_bc", "ord_demo_api"]);
    assert_eq!(r.body["next_cursor"], Value::Null);

    let p1 = call(&app, "GET", "/v1/orders?limit=1", Some(BUYER), None).await;
    assert_eq!(ids(&p1.body), ["ord_demo_api_bc"]);
    let cursor = p1.body["next_cursor"].as_str().unwrap();
    let p2 = call(
        &app,
        "GET",
        &format!("/v1/orders?limit=1&cursor={cursor}"),
        Some(BUYER),
        None,
    )
    .await;
    assert_eq!(ids(&p2.body), ["ord_demo_api"]);
    assert_eq!(p2.body["next_cursor"], Value::Null);

    call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        Some(BUYER),
        Some(r#"{"reason":"r"}"#),
    )
    .await;
    let open = call(&app, "GET", "/v1/orders?status=open", Some(BUYER), None).await;
    assert_eq!(ids(&open.body), ["ord_demo_api_bc"]);
    let complete = call(&app, "GET", "/v1/orders?status=complete", Some(BUYER), None).await;
    assert_eq!(ids(&complete.body), ["ord_demo_api"]);
    assert_eq!(
        complete.body["orders"][0]["cancellations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The seller sees its side only.
    let seller = call(&app, "GET", "/v1/orders", Some(SELLER), None).await;
    assert_eq!(ids(&seller.body), ["ord_demo_api"]);
}

#[tokio::test]
async fn me_describes_the_caller() {
    let app = demo_app().await;
    let r = call(&app, "GET", "/v1/me", Some(EDI_SELLER), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], "seller-edi");
    assert_eq!(r.body["role"], "seller");
    assert_eq!(r.body["integration"], "edi");
    assert_eq!(
        r.body["capabilities"],
        serde_json::json!({"cancel_order": true, "cancel_items": false, "record_fulfillment": true})
    );
    assert!(
        r.body.get("api_keys").is_none() && r.body.get("api_key_hashes").is_none(),
        "never exposes key hashes"
    );
}

#[tokio::test]
async fn whole_numbers_written_as_json_decimals_are_quantities() {
    // JSON Schema's `integer` (openapi.yaml) includes 1.0 and 2e0.
    let app = demo_app().await;
    let f = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/fulfillments",
        Some(SELLER),
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":1.0}]}"#),
    )
    .await;
    assert_eq!(f.status, 201, "{}", f.body);
    assert_eq!(f.body["items"][0]["quantity"], 1);
    let c = call(
        &app,
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        Some(BUYER),
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":2e0,"reason":"Too many"}]}"#),
    )
    .await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["items"][0]["quantity"], 2);
    let o = call(
        &app,
        "POST",
        "/v1/orders",
        Some(BUYER),
        Some(r#"{"seller_id":"seller-api","line_items":[{"id":"a","sku":"S","quantity":3.0}]}"#),
    )
    .await;
    assert_eq!(o.status, 201, "{}", o.body);
    assert_eq!(o.body["line_items"][0]["quantity"], 3);
}

/// Every Order shows its parties by name: kept on the order when it is
/// created (from the buyer and the seller it reads anyway), so no view reads
/// a company. An order stored before names were kept shows the ids instead.
#[tokio::test]
async fn orders_name_their_parties() {
    use service::store::{Commit, Orders};

    let app = demo_app().await;
    let names = |o: &Value| (o["buyer_name"].clone(), o["seller_name"].clone());
    let acme = (
        Value::from("Acme Home (API buyer)"),
        Value::from("Sunrise Supply (API seller)"),
    );
    let created = run(&app, "create-order.json").await;
    assert_eq!(created.status, 201);
    assert_eq!(names(&created.body), acme);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let read = call(&app, "GET", &format!("/v1/orders/{id}"), Some(SELLER), None).await;
    assert_eq!(names(&read.body), acme);
    // Seeded orders carry them too.
    let list = call(&app, "GET", "/v1/orders?limit=100", Some(BUYER), None).await;
    let orders = list.body["orders"].as_array().unwrap();
    assert!(orders.len() >= 3);
    for o in orders {
        assert!(
            o["buyer_name"] == "Acme Home (API buyer)" && o["seller_name"].as_str().is_some(),
            "{o}"
        );
    }

    // An order stored without names.
    let mut old = app.store.order(&id).await.unwrap().unwrap();
    old.id = "ord_stored_without_names".into();
    old.buyer_name.clear();
    old.seller_name.clear();
    app.store.commit(&Commit::create(old)).await.unwrap();
    let r = call(
        &app,
        "GET",
        "/v1/orders/ord_stored_without_names",
        Some(BUYER),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        names(&r.body),
        (Value::from("buyer-api"), Value::from("seller-api"))
    );
}
