//! Keeps `openapi.yaml` and what is served in step: the same routes, the
//! same error codes, and every response the handler gives (in the scenarios
//! below) has a documented status and matches its documented schema.

use std::collections::BTreeSet;

use crate::common::*;
use handlers::api::ROUTES;
use handlers::response::Code;
use serde_json::Value;

fn spec() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r.trim_start_matches('#');
            resolve(
                spec,
                spec.pointer(ptr)
                    .unwrap_or_else(|| panic!("dangling $ref {r}")),
            )
        }
        None => v,
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => true,
    }
}

/// A small validator for the subset of JSON Schema the spec uses.
fn validate(spec: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(spec, schema);
    if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = alts
            .iter()
            .filter(|s| validate(spec, s, v, at).is_ok())
            .count();
        return if ok == 1 {
            Ok(())
        } else {
            Err(format!("{at}: matches {ok} of oneOf"))
        };
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => return Err(format!("{at}: not {t}: {v}")),
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_ok(t.as_str().unwrap_or(""), v)) => {
            return Err(format!("{at}: none of {ts:?}: {v}"));
        }
        _ => {}
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} not in {e:?}"));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_i64)
        && v.as_i64().is_some_and(|n| n < min)
    {
        return Err(format!("{at}: {v} < {min}"));
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = req.as_str().unwrap();
            if !obj.contains_key(k) {
                return Err(format!("{at}: missing required {k}"));
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(spec, s, val, &format!("{at}.{k}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: undocumented property {k}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(spec, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> &'a Value {
    let template = ROUTES
        .iter()
        .map(|(_, t)| *t)
        .find(|t| {
            let a: Vec<_> = t.split('/').collect();
            let b: Vec<_> = path.split('/').collect();
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.starts_with('{') || x == y)
        })
        .unwrap_or_else(|| panic!("no route for {path}"));
    &spec["paths"][template][method.to_lowercase()]
}

/// Check one response against the operation's documentation.
fn conforms(spec: &Value, method: &str, path: &str, r: &Reply) {
    let op = operation(spec, method, path);
    let doc = op["responses"]
        .get(r.status.to_string())
        .unwrap_or_else(|| {
            panic!(
                "{method} {path}: status {} undocumented ({})",
                r.status, r.body
            )
        });
    let doc = resolve(spec, doc);
    let ct = r.headers["content-type"].to_str().unwrap();
    let schema = &doc["content"][ct]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} {}: content type {ct} undocumented",
        r.status
    );
    if let Err(e) = validate(spec, schema, &r.body, "$") {
        panic!("{method} {path} {}: {e}", r.status);
    }
}

#[test]
fn routes_match_the_router() {
    let spec = spec();
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| *m != "parameters")
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn error_codes_match() {
    let spec = spec();
    let documented: BTreeSet<&str> = spec
        .pointer("/components/schemas/Problem/properties/code/enum")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let served: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, served);
}

#[tokio::test]
async fn responses_match_the_documented_schemas() {
    let spec = spec();
    let app = demo_app().await;
    let o = "/v1/orders/ord_demo_api";
    let script: &[(&str, String, Option<&str>, Option<&str>)] = &[
        ("GET", "/v1/me".into(), Some(BUYER), None),
        ("GET", "/v1/me".into(), None, None),
        ("GET", "/v1/orders".into(), Some(BUYER), None),
        ("GET", "/v1/orders?limit=1".into(), Some(BUYER), None),
        ("GET", "/v1/orders?limit=0".into(), Some(BUYER), None),
        (
            "POST",
            "/v1/orders".into(),
            Some(BUYER),
            Some(
                r#"{"seller_id":"seller-api","buyer_order_ref":"X1","line_items":[{"id":"a","sku":"S","title":"T","quantity":2,"unit_price":"1.50","buyer_line_ref":"9"}]}"#,
            ),
        ),
        ("POST", "/v1/orders".into(), Some(BUYER), Some("{}")),
        (
            "POST",
            "/v1/orders".into(),
            Some(SELLER),
            Some(r#"{"seller_id":"seller-api","line_items":[{"id":"a","sku":"S","quantity":1}]}"#),
        ),
        (
            "POST",
            "/v1/orders".into(),
            Some(BUYER),
            Some(r#"{"seller_id":"x","line_items":[{"id":"a","sku":"S","quantity":1}]}"#),
        ),
        ("GET", o.into(), Some(BUYER), None),
        ("GET", "/v1/orders/nope".into(), Some(BUYER), None),
        (
            "POST",
            format!("{o}/cancellations?preview=true"),
            Some(BUYER),
            Some(r#"{"reason":"r"}"#),
        ),
        (
            "POST",
            format!("{o}/cancellations"),
            Some(BUYER),
            Some(r#"{"items":[{"line_item_id":"li_1","quantity":1,"reason":"r"}]}"#),
        ),
        (
            "POST",
            format!("{o}/cancellations"),
            Some(BUYER),
            Some(r#"{"items":[{"line_item_id":"li_1","quantity":9,"reason":"r"}]}"#),
        ),
        (
            "POST",
            format!("{o}/cancellations"),
            Some(BUYER),
            Some(r#"{"items":[]}"#),
        ),
        (
            "POST",
            format!("{o}/cancellations"),
            Some(BUYER),
            Some("nope"),
        ),
        (
            "POST",
            "/v1/orders/ord_demo_edi/cancellations".into(),
            Some(EDI_BUYER),
            Some(r#"{"reason":"r"}"#),
        ),
        (
            "POST",
            format!("{o}/fulfillments"),
            Some(SELLER),
            Some(r#"{"items":[{"line_item_id":"li_2","quantity":1}],"carrier":"UPS"}"#),
        ),
        (
            "POST",
            format!("{o}/fulfillments"),
            Some(BUYER),
            Some(r#"{"items":[{"line_item_id":"li_2","quantity":1}]}"#),
        ),
        (
            "POST",
            format!("{o}/cancellations"),
            Some(SELLER),
            Some(r#"{"reason":"r"}"#),
        ),
        (
            "POST",
            format!("{o}/cancellations"),
            Some(SELLER),
            Some(r#"{"reason":"r"}"#),
        ),
        (
            "PUT",
            format!("{o}/store-refs"),
            Some(SELLER),
            Some(r#"{"order_ref":"SO-1","line_items":[{"id":"li_1","ref":"S-1"}]}"#),
        ),
        ("PUT", format!("{o}/store-refs"), Some(BUYER), Some("{}")),
        (
            "PUT",
            format!("{o}/store-refs"),
            Some(BUYER),
            Some(r#"{"order_ref":"has space"}"#),
        ),
        (
            "PUT",
            "/v1/orders/ord_demo_edi/store-refs".into(),
            Some(BUYER),
            Some(r#"{"order_ref":"X"}"#),
        ),
        (
            "POST",
            "/v1/orders".into(),
            Some(BUYER),
            Some(
                r#"{"seller_id":"seller-api","seller_order_ref":"S","line_items":[{"id":"a","sku":"S","quantity":1}]}"#,
            ),
        ),
        ("GET", format!("{o}/cancellations"), Some(SELLER), None),
        ("GET", o.into(), Some(SELLER), None),
        (
            "GET",
            "/v1/orders?status=complete".into(),
            Some(SELLER),
            None,
        ),
    ];
    let mut statuses = BTreeSet::new();
    for (method, path, key, body) in script {
        let r = call(&app, method, path, *key, *body).await;
        let bare = path.split('?').next().unwrap();
        conforms(&spec, method, bare, &r);
        statuses.insert(r.status);
    }
    // The script reaches every kind of answer.
    assert_eq!(
        statuses,
        BTreeSet::from([200, 201, 400, 401, 403, 404, 409, 422])
    );
}

/// After the notifier ran, cancellations carry a `notifications` summary
/// that matches the spec: detail for the partner, status for both.
#[tokio::test]
async fn notification_summaries_match_the_documented_schema() {
    use local::worker::{OutboxWorker, local_notifier};
    use platforms::client::PlatformHttp;
    use service::store::Companies;

    let spec = spec();
    let app = demo_app().await;
    // The BigCommerce seller's connection lacks its store hash: its store
    // sync fails for good, and clients can see that.
    let mut bc = app.store.company("seller-bc").await.unwrap().unwrap();
    if let Some(c) = bc.connection.as_mut() {
        c.store_hash = None;
    }
    app.store.put_company(&bc).await.unwrap();
    let o = "/v1/orders/ord_demo_api_bc";
    let cancellations = format!("{o}/cancellations");
    let r = call(
        &app,
        "POST",
        &cancellations,
        Some(BUYER),
        Some(r#"{"items":[{"line_item_id":"li_1","quantity":1,"reason":"r"}]}"#),
    )
    .await;
    assert_eq!(r.status, 201);
    assert!(r.body.get("notifications").is_none());
    let dir = tempfile::tempdir().unwrap();
    let mut worker = OutboxWorker::new(local_notifier(
        app.store.clone(),
        &dir.path().join("outbox"),
        "notifications@dropship.example",
        PlatformHttp::default(),
    ));
    assert_eq!(worker.drain().await.unwrap().notified, 1);
    for key in [BC_SELLER, BUYER] {
        let list = call(&app, "GET", &cancellations, Some(key), None).await;
        conforms(&spec, "GET", &cancellations, &list);
        let order = call(&app, "GET", o, Some(key), None).await;
        conforms(&spec, "GET", o, &order);
        for n in [
            &list.body["cancellations"][0]["notifications"],
            &order.body["cancellations"][0]["notifications"],
        ] {
            assert_eq!(n["email"]["status"], "sent", "{n}");
            assert_eq!(n["store_sync"]["status"], "failed", "{n}");
            assert_eq!(n["store_sync"]["attempts"], 1);
            if key == BC_SELLER {
                assert!(
                    n["store_sync"]["detail"]
                        .as_str()
                        .unwrap()
                        .contains("store_hash"),
                    "{n}"
                );
            } else {
                assert!(n["store_sync"].get("detail").is_none(), "{n}");
            }
        }
    }
}
