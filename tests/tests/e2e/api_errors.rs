//! Every row of docs/api.md's error table, through the HTTP handler; and
//! every refused request leaves the order exactly as it was.

use crate::common::*;
use domain::Order;
use handlers::api::Api;
use service::store::{
    Commit, IdempotencyRecords, OrderCursor, OrderPage, OrderRecord, Orders, PassCompanies,
    PassEvents, PassIdempotency, StatusFilter, Store, StoreError, Wraps,
};
use sqlite::EmbeddedStore;

const ORDER: &str = "/v1/orders/ord_demo_api";
const CANCEL: &str = "/v1/orders/ord_demo_api/cancellations";
const FULFIL: &str = "/v1/orders/ord_demo_api/fulfillments";

/// Snapshot of what a request could change.
async fn state(app: &Api<EmbeddedStore>) -> (Order, usize) {
    let rec = app
        .store
        .order_record("ord_demo_api")
        .await
        .unwrap()
        .unwrap();
    (rec.order, rec.cancellations.len())
}

/// Send, expect the status and code, and check nothing changed.
async fn refused(
    app: &Api<EmbeddedStore>,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
    status: u16,
    code: &str,
) -> Reply {
    let before = state(app).await;
    let r = call(app, method, path, key, body).await;
    assert_eq!(
        (r.status, r.code()),
        (status, code),
        "{method} {path} {body:?} -> {}",
        r.body
    );
    assert_eq!(
        state(app).await,
        before,
        "a refused request changed the order"
    );
    r
}

#[tokio::test]
async fn invalid_body_400() {
    let app = demo_app().await;
    for body in [
        "not json",
        "",
        "[]",
        r#"{"items": [{"line_item_id": "li_1", "quantity": "2", "reason": "r"}]}"#,
        r#"{"items": [{"line_item_id": "li_1", "quantity": 1.5, "reason": "r"}]}"#,
        r#"{"items": [{"line_item_id": "li_1", "quantity": 1e-1, "reason": "r"}]}"#,
        r#"{"items": [{"line_item_id": "li_1", "quantity": 1e300, "reason": "r"}]}"#,
        r#"{"items": [{"line_item_id": "li_1", "quantity": 18446744073709551615, "reason": "r"}]}"#,
        r#"{"items": [{"line_item_id": "li_1", "quantity": null, "reason": "r"}]}"#,
        r#"{"items": [{"line_item_id": 7, "quantity": 1, "reason": "r"}]}"#,
        r#"{"items": [{"quantity": 1, "reason": "r"}]}"#,
        r#"{"reason": 5}"#,
        r#"{"reason": "r", "extra": true}"#,
        r#"{"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "r", "note": "x"}]}"#,
        r#"{"reason": "r", "items": [{"line_item_id": "li_1", "quantity": 1, "reason": "r"}]}"#,
        r#"{}"#,
        r#"{"items": null}"#,
        r#"{"items": {"line_item_id": "li_1"}}"#,
    ] {
        refused(
            &app,
            "POST",
            CANCEL,
            Some(BUYER),
            Some(body),
            400,
            "invalid_body",
        )
        .await;
    }
    for body in [
        r#"{"line_items": [{"id": "a", "sku": "S", "quantity": 1}]}"#,
        r#"{"seller_id": "seller-api", "line_items": [{"id": "a", "sku": "S", "quantity": 1, "colour": "red"}]}"#,
        r#"{"seller_id": "seller-api", "line_items": [{"id": "a", "sku": "S", "quantity": 1, "unit_price": 12.5}]}"#,
        r#"{"seller_id": "seller-api", "line_items": [{"id": "a", "sku": "S", "quantity": 1, "unit_price": "12,50"}]}"#,
        r#"{"seller_id": "seller-api", "line_items": [{"id": " ", "sku": "S", "quantity": 1}]}"#,
    ] {
        refused(
            &app,
            "POST",
            "/v1/orders",
            Some(BUYER),
            Some(body),
            400,
            "invalid_body",
        )
        .await;
    }
    refused(
        &app,
        "POST",
        FULFIL,
        Some(SELLER),
        Some(r#"{"items": [{"line_item_id": "li_1"}]}"#),
        400,
        "invalid_body",
    )
    .await;
}

#[tokio::test]
async fn unauthorized_401() {
    let app = demo_app().await;
    let r = refused(&app, "GET", ORDER, None, None, 401, "unauthorized").await;
    assert!(r.headers.contains_key("www-authenticate"));
    refused(
        &app,
        "GET",
        ORDER,
        Some("not-a-key"),
        None,
        401,
        "unauthorized",
    )
    .await;
    refused(
        &app,
        "POST",
        CANCEL,
        Some("nope"),
        Some(r#"{"reason":"r"}"#),
        401,
        "unauthorized",
    )
    .await;
    let r = send(
        &app,
        event(
            "GET",
            ORDER,
            None,
            None,
            &[("authorization", "Basic dXNlcjpwYXNz")],
        ),
    )
    .await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    let r = send(
        &app,
        event("GET", ORDER, None, None, &[("authorization", "Bearer")]),
    )
    .await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
}

#[tokio::test]
async fn not_permitted_403() {
    let app = demo_app().await;
    let edi = "/v1/orders/ord_demo_edi/cancellations";
    let before = app.store.order("ord_demo_edi").await.unwrap();
    // EDI buyer creating a cancellation, either form.
    let r = call(
        &app,
        "POST",
        edi,
        Some(EDI_BUYER),
        Some(r#"{"reason": "not needed"}"#),
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "not_permitted"), "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("EDI buyers"));
    let r = call(
        &app,
        "POST",
        edi,
        Some(EDI_BUYER),
        Some(r#"{"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "x"}]}"#),
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "not_permitted"));
    // EDI seller cancelling items.
    let r = call(
        &app,
        "POST",
        edi,
        Some(EDI_SELLER),
        Some(r#"{"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "x"}]}"#),
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "not_permitted"));
    assert!(r.body["detail"].as_str().unwrap().contains("whole orders"));
    assert_eq!(app.store.order("ord_demo_edi").await.unwrap(), before);
    // ...but an EDI seller may cancel the whole order.
    let r = call(
        &app,
        "POST",
        edi,
        Some(EDI_SELLER),
        Some(r#"{"reason": "discontinued"}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A buyer recording a fulfillment.
    refused(
        &app,
        "POST",
        FULFIL,
        Some(BUYER),
        Some(r#"{"items": [{"line_item_id": "li_1", "quantity": 1}]}"#),
        403,
        "not_permitted",
    )
    .await;
    // A seller creating an order.
    refused(&app, "POST", "/v1/orders", Some(SELLER), Some(r#"{"seller_id": "seller-api", "line_items": [{"id": "a", "sku": "S", "quantity": 1}]}"#), 403, "not_permitted").await;
}

#[tokio::test]
async fn order_not_found_404_never_leaks() {
    let app = demo_app().await;
    // No such order.
    refused(
        &app,
        "GET",
        "/v1/orders/ord_nope",
        Some(BUYER),
        None,
        404,
        "order_not_found",
    )
    .await;
    refused(
        &app,
        "POST",
        "/v1/orders/ord_nope/cancellations",
        Some(BUYER),
        Some(r#"{"reason":"r"}"#),
        404,
        "order_not_found",
    )
    .await;
    // Someone else's order answers exactly like a missing one.
    let other = Some(BC_SELLER);
    let missing = call(&app, "GET", "/v1/orders/ord_nope", other, None).await;
    let foreign = refused(&app, "GET", ORDER, other, None, 404, "order_not_found").await;
    assert_eq!(missing.body["title"], foreign.body["title"]);
    refused(&app, "GET", CANCEL, other, None, 404, "order_not_found").await;
    refused(
        &app,
        "POST",
        CANCEL,
        other,
        Some(r#"{"reason":"r"}"#),
        404,
        "order_not_found",
    )
    .await;
    refused(
        &app,
        "POST",
        &format!("{CANCEL}?preview=true"),
        other,
        Some(r#"{"reason":"r"}"#),
        404,
        "order_not_found",
    )
    .await;
    refused(
        &app,
        "POST",
        FULFIL,
        other,
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":1}]}"#),
        404,
        "order_not_found",
    )
    .await;
    let list = call(&app, "GET", "/v1/orders", other, None).await;
    assert!(
        list.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["id"] != "ord_demo_api")
    );
}

#[tokio::test]
async fn conflicts_409() {
    let app = demo_app().await;
    let r = refused(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(r#"{"items":[{"line_item_id":"li_2","quantity":3,"reason":"r"}]}"#),
        409,
        "quantity_exceeds_open",
    )
    .await;
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("li_2") && detail.contains("requested 3") && detail.contains("2 open"),
        "{detail}"
    );
    refused(
        &app,
        "POST",
        FULFIL,
        Some(SELLER),
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":5}]}"#),
        409,
        "quantity_exceeds_open",
    )
    .await;

    let r = call(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(r#"{"reason":"Items are out of stock"}"#),
    )
    .await;
    assert_eq!(r.status, 201);
    refused(
        &app,
        "POST",
        CANCEL,
        Some(SELLER),
        Some(r#"{"reason":"again"}"#),
        409,
        "nothing_to_cancel",
    )
    .await;
    // Cancelled units can never be fulfilled.
    refused(
        &app,
        "POST",
        FULFIL,
        Some(SELLER),
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":1}]}"#),
        409,
        "quantity_exceeds_open",
    )
    .await;
}

/// A store that fails commits on purpose: every update loses the race
/// while `stale` is set, or the next `outages` order updates fail as a
/// backend outage.
struct Faulty {
    inner: EmbeddedStore,
    stale: std::sync::atomic::AtomicBool,
    outages: std::sync::atomic::AtomicU32,
}

impl Faulty {
    fn new(stale: bool, outages: u32) -> Self {
        Faulty {
            inner: EmbeddedStore::in_memory().unwrap(),
            stale: stale.into(),
            outages: outages.into(),
        }
    }
}

impl Wraps for Faulty {
    type Inner = EmbeddedStore;
    fn inner(&self) -> &EmbeddedStore {
        &self.inner
    }
}

// Only order changes fail: companies, idempotency records and the event log
// are the inner store's.
impl PassCompanies for Faulty {}
impl PassIdempotency for Faulty {}
impl PassEvents for Faulty {}
impl Store for Faulty {}

impl Orders for Faulty {
    async fn cancellations_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<domain::Cancellation>, StoreError> {
        self.inner.cancellations_since(since).await
    }
    async fn orders_by_ref(
        &self,
        c: &str,
        p: domain::Role,
        r: &str,
    ) -> Result<Vec<Order>, StoreError> {
        self.inner.orders_by_ref(c, p, r).await
    }
    async fn seller_orders_by_po(&self, s: &str, po: &str) -> Result<Vec<Order>, StoreError> {
        self.inner.seller_orders_by_po(s, po).await
    }
    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.inner.order(id).await
    }
    async fn score_rows(
        &self,
        c: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<domain::scorecard::DayCounts>, StoreError> {
        self.inner.score_rows(c, from, to).await
    }
    async fn all_score_rows(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<domain::scorecard::DayCounts>, StoreError> {
        self.inner.all_score_rows(from, to).await
    }
    async fn order_record(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.inner.order_record(id).await
    }
    async fn list_orders(
        &self,
        c: &str,
        f: StatusFilter,
        l: usize,
        a: Option<&OrderCursor>,
    ) -> Result<OrderPage, StoreError> {
        self.inner.list_orders(c, f, l, a).await
    }
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.stale.load(Ordering::SeqCst) && commit.expected_version.is_some() {
            return Err(StoreError::VersionConflict);
        }
        let update = commit.expected_version.is_some();
        if update
            && self
                .outages
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(StoreError::backend(std::io::Error::other(
                "simulated outage",
            )));
        }
        self.inner.commit(commit).await
    }
}

#[tokio::test]
async fn conflict_409_after_bounded_retries() {
    // Lost races are retried for a time budget; a short one keeps the test quick.
    let mut config = service::Config::default();
    config.race_retry.budget = std::time::Duration::from_millis(200);
    let app = seeded_core(service::Core::with_config(Faulty::new(true, 0), config)).await;
    let r = call(&app, "POST", CANCEL, Some(BUYER), Some(r#"{"reason":"r"}"#)).await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{}", r.body);
    let rec = app
        .store
        .inner
        .order_record("ord_demo_api")
        .await
        .unwrap()
        .unwrap();
    assert!(rec.cancellations.is_empty());
    assert_eq!(rec.order.version, 1);
}

#[tokio::test]
async fn payload_too_large_413() {
    let app = demo_app().await;
    let reason = "x".repeat(256 * 1024);
    let body = format!(r#"{{"reason":"{reason}"}}"#);
    refused(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(&body),
        413,
        "payload_too_large",
    )
    .await;
    // Exactly at the limit is read (and then judged on its content).
    let pad = 256 * 1024 - r#"{"reason":"r","x":""}"#.len();
    let at_limit = format!(r#"{{"reason":"r","x":"{}"}}"#, "y".repeat(pad));
    assert_eq!(at_limit.len(), 256 * 1024);
    refused(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(&at_limit),
        400,
        "invalid_body",
    )
    .await;
}

#[tokio::test]
async fn validation_422() {
    let app = demo_app().await;
    let items = |json: &str| format!(r#"{{"items": {json}}}"#);
    for body in [
        r#"{"reason": null}"#,
        r#"{"reason": ""}"#,
        r#"{"reason": "   "}"#,
    ] {
        refused(
            &app,
            "POST",
            CANCEL,
            Some(BUYER),
            Some(body),
            422,
            "reason_required",
        )
        .await;
    }
    for list in [
        r#"[{"line_item_id": "li_1", "quantity": 1}]"#,
        r#"[{"line_item_id": "li_1", "quantity": 1, "reason": null}]"#,
        r#"[{"line_item_id": "li_1", "quantity": 1, "reason": "ok"}, {"line_item_id": "li_2", "quantity": 1, "reason": " "}]"#,
    ] {
        refused(
            &app,
            "POST",
            CANCEL,
            Some(BUYER),
            Some(&items(list)),
            422,
            "reason_required",
        )
        .await;
    }
    for list in [
        r#"[{"line_item_id": "li_1", "quantity": 0, "reason": "r"}]"#,
        r#"[{"line_item_id": "li_1", "quantity": -2, "reason": "r"}]"#,
    ] {
        refused(
            &app,
            "POST",
            CANCEL,
            Some(BUYER),
            Some(&items(list)),
            422,
            "invalid_quantity",
        )
        .await;
    }
    refused(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(&items(
            r#"[{"line_item_id": "li_9", "quantity": 1, "reason": "r"}]"#,
        )),
        422,
        "unknown_line_item",
    )
    .await;
    refused(&app, "POST", CANCEL, Some(BUYER), Some(&items(r#"[{"line_item_id": "li_1", "quantity": 1, "reason": "r"}, {"line_item_id": "li_1", "quantity": 1, "reason": "r"}]"#)), 422, "duplicate_line_item").await;
    refused(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(&items("[]")),
        422,
        "empty_items",
    )
    .await;
    let long = "x".repeat(501);
    refused(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(&format!(r#"{{"reason": "{long}"}}"#)),
        422,
        "reason_too_long",
    )
    .await;
    refused(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(&items(&format!(
            r#"[{{"line_item_id": "li_1", "quantity": 1, "reason": "{long}"}}]"#
        ))),
        422,
        "reason_too_long",
    )
    .await;
    // Fulfillment and order bodies use the same codes.
    refused(
        &app,
        "POST",
        FULFIL,
        Some(SELLER),
        Some(r#"{"items": []}"#),
        422,
        "empty_items",
    )
    .await;
    refused(
        &app,
        "POST",
        FULFIL,
        Some(SELLER),
        Some(r#"{"items": [{"line_item_id": "li_1", "quantity": 0}]}"#),
        422,
        "invalid_quantity",
    )
    .await;
    refused(
        &app,
        "POST",
        "/v1/orders",
        Some(BUYER),
        Some(r#"{"seller_id": "seller-api", "line_items": []}"#),
        422,
        "empty_items",
    )
    .await;
    refused(&app, "POST", "/v1/orders", Some(BUYER), Some(r#"{"seller_id": "seller-api", "line_items": [{"id": "a", "sku": "S", "quantity": 0}]}"#), 422, "invalid_quantity").await;
    refused(&app, "POST", "/v1/orders", Some(BUYER), Some(r#"{"seller_id": "seller-api", "line_items": [{"id": "a", "sku": "S", "quantity": 1}, {"id": "a", "sku": "T", "quantity": 1}]}"#), 422, "duplicate_line_item").await;
    refused(
        &app,
        "POST",
        "/v1/orders",
        Some(BUYER),
        Some(
            r#"{"seller_id": "buyer-edi", "line_items": [{"id": "a", "sku": "S", "quantity": 1}]}"#,
        ),
        422,
        "unknown_seller",
    )
    .await;
    refused(
        &app,
        "POST",
        "/v1/orders",
        Some(BUYER),
        Some(r#"{"seller_id": "nobody", "line_items": [{"id": "a", "sku": "S", "quantity": 1}]}"#),
        422,
        "unknown_seller",
    )
    .await;
}

#[tokio::test]
async fn idempotency_key_reused_422() {
    let app = demo_app().await;
    let key = [("idempotency-key", "k-1")];
    let first = send(
        &app,
        event(
            "POST",
            CANCEL,
            Some(BUYER),
            Some(r#"{"items":[{"line_item_id":"li_1","quantity":1,"reason":"r"}]}"#),
            &key,
        ),
    )
    .await;
    assert_eq!(first.status, 201);
    let before = state(&app).await;
    let r = send(
        &app,
        event(
            "POST",
            CANCEL,
            Some(BUYER),
            Some(r#"{"items":[{"line_item_id":"li_1","quantity":2,"reason":"r"}]}"#),
            &key,
        ),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));
    // Same body, another path: reused too.
    let r = send(
        &app,
        event(
            "POST",
            "/v1/orders/ord_demo_api_bc/cancellations",
            Some(BUYER),
            Some(r#"{"items":[{"line_item_id":"li_1","quantity":1,"reason":"r"}]}"#),
            &key,
        ),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));
    assert_eq!(state(&app).await, before);
}

#[tokio::test]
async fn unknown_routes_methods_and_query() {
    let app = demo_app().await;
    let r = call(&app, "GET", "/v1/nothing", Some(BUYER), None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = call(&app, "DELETE", ORDER, Some(BUYER), None).await;
    assert_eq!((r.status, r.code()), (405, "method_not_allowed"));
    assert_eq!(r.headers["allow"], "GET");
    for q in [
        "status=closed",
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=%%%",
    ] {
        let r = call(&app, "GET", &format!("/v1/orders?{q}"), Some(BUYER), None).await;
        assert_eq!((r.status, r.code()), (400, "invalid_query"), "{q}");
    }
    refused(
        &app,
        "POST",
        &format!("{CANCEL}?preview=maybe"),
        Some(BUYER),
        Some(r#"{"reason":"r"}"#),
        400,
        "invalid_query",
    )
    .await;
    let r = send(
        &app,
        event(
            "POST",
            CANCEL,
            Some(BUYER),
            Some(r#"{"reason":"r"}"#),
            &[("idempotency-key", "has space")],
        ),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "invalid_idempotency_key"));
}

#[tokio::test]
async fn server_errors_are_not_remembered_under_the_key() {
    let app = seeded(Faulty::new(false, 1)).await;
    let key = [("idempotency-key", "retry-me")];
    let body = r#"{"reason":"Items are out of stock"}"#;
    let first = send(&app, event("POST", CANCEL, Some(BUYER), Some(body), &key)).await;
    assert_eq!(
        (first.status, first.code()),
        (503, "unavailable"),
        "{}",
        first.body
    );
    assert!(
        app.store
            .inner
            .order_record("ord_demo_api")
            .await
            .unwrap()
            .unwrap()
            .cancellations
            .is_empty()
    );
    // The retry with the same key acts, since the 503 was not recorded.
    let retry = send(&app, event("POST", CANCEL, Some(BUYER), Some(body), &key)).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert!(retry.headers.get("idempotent-replayed").is_none());
    let replay = send(&app, event("POST", CANCEL, Some(BUYER), Some(body), &key)).await;
    assert_eq!((replay.status, &replay.body), (201, &retry.body));
}

#[tokio::test]
async fn a_lost_race_is_not_remembered_under_the_key() {
    use std::sync::atomic::Ordering;
    let app = seeded(Faulty::new(true, 0)).await;
    let key = [("idempotency-key", "race-1")];
    let body = r#"{"reason":"Items are out of stock"}"#;
    let first = send(&app, event("POST", CANCEL, Some(BUYER), Some(body), &key)).await;
    assert_eq!(
        (first.status, first.code()),
        (409, "conflict"),
        "{}",
        first.body
    );
    assert_eq!(
        app.store
            .inner
            .idempotency_record("buyer-api", "race-1")
            .await
            .unwrap(),
        None,
        "a 409 conflict is transient: nothing recorded under the key"
    );
    // The race is over: the client's retry with the same key acts.
    app.store.stale.store(false, Ordering::SeqCst);
    let retry = send(&app, event("POST", CANCEL, Some(BUYER), Some(body), &key)).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert!(retry.headers.get("idempotent-replayed").is_none());
    let rec = app
        .store
        .inner
        .order_record("ord_demo_api")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.cancellations.len(), 1);
    let replay = send(&app, event("POST", CANCEL, Some(BUYER), Some(body), &key)).await;
    assert_eq!((replay.status, &replay.body), (201, &retry.body));
}

/// A cancellation carrying `Idempotency-Key: value` (raw bytes, as a
/// client may send them), sent directly or through API Gateway's event.
fn with_key(value: &[u8]) -> lambda_http::Request {
    let mut req = event(
        "POST",
        CANCEL,
        Some(BUYER),
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":1,"reason":"r"}]}"#),
        &[],
    );
    req.headers_mut().insert(
        "idempotency-key",
        lambda_http::http::HeaderValue::from_bytes(value).unwrap(),
    );
    req
}

#[tokio::test]
async fn invalid_idempotency_keys_400_never_ignored() {
    let app = demo_app().await;
    let before = state(&app).await;
    let long = "k".repeat(256);
    let values: [&[u8]; 6] = [
        "clé-1".as_bytes(),
        b"\xff\xfe",
        b"k\x80",
        b"",
        b"two words",
        long.as_bytes(),
    ];
    for value in values {
        // Twice: a key that were ignored would cancel twice.
        for _ in 0..2 {
            let r = send(&app, with_key(value)).await;
            assert_eq!(
                (r.status, r.code()),
                (400, "invalid_idempotency_key"),
                "{value:?}: {}",
                r.body
            );
            assert_eq!(state(&app).await, before, "{value:?} acted");
        }
    }
    // Non-ASCII through the API Gateway event (the Lambda path) too.
    for _ in 0..2 {
        let r = send(
            &app,
            event(
                "POST",
                CANCEL,
                Some(BUYER),
                Some(r#"{"items":[{"line_item_id":"li_1","quantity":1,"reason":"r"}]}"#),
                &[("idempotency-key", "ключ-1")],
            ),
        )
        .await;
        assert_eq!((r.status, r.code()), (400, "invalid_idempotency_key"));
    }
    // The header twice is ambiguous: refused too.
    let mut req = with_key(b"k-1");
    req.headers_mut().append(
        "idempotency-key",
        lambda_http::http::HeaderValue::from_static("k-2"),
    );
    let r = send(&app, req).await;
    assert_eq!((r.status, r.code()), (400, "invalid_idempotency_key"));
    assert_eq!(state(&app).await, before);
    // A valid key still works, and protects.
    for _ in 0..2 {
        let r = send(&app, with_key(b"k-1")).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    assert_eq!(state(&app).await.1, 1);
}

#[tokio::test]
async fn invisible_reasons_422() {
    let app = demo_app().await;
    // JSON escapes: zero-width space, BOM, word joiner, no-break and ideographic spaces.
    for reason in [
        r#""\u200b\u200b""#,
        r#""\ufeff\u2060""#,
        r#"" \u00a0\u3000\u200d ""#,
    ] {
        refused(
            &app,
            "POST",
            CANCEL,
            Some(BUYER),
            Some(&format!(r#"{{"reason": {reason}}}"#)),
            422,
            "reason_required",
        )
        .await;
        let r = refused(
            &app,
            "POST",
            CANCEL,
            Some(BUYER),
            Some(&format!(
                r#"{{"items": [{{"line_item_id": "li_1", "quantity": 1, "reason": "ok"}}, {{"line_item_id": "li_2", "quantity": 1, "reason": {reason}}}]}}"#
            )),
            422,
            "reason_required",
        )
        .await;
        assert!(
            r.body["detail"].as_str().unwrap().contains("li_2"),
            "{}",
            r.body
        );
    }
    // A kept reason loses its invisible ends.
    let r = call(
        &app,
        "POST",
        CANCEL,
        Some(BUYER),
        Some(r#"{"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "\ufeff\u200b Out of stock\u2060 "}]}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["items"][0]["reason"], "Out of stock");
}
