//! Reason codes through the API (docs/api.md, *Reason codes*): a code on
//! each cancelled unit beside an optional note; a body with only `reason`,
//! as clients written before codes send, is coded `other`; an unknown code
//! is refused and changes nothing.

use crate::common::*;
use serde_json::{Value, json};

const CANCEL: &str = "/v1/orders/ord_demo_api/cancellations";

/// (code, note) of each item of a cancellation.
fn coded(c: &Value) -> Vec<(Value, Value)> {
    c["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["reason_code"].clone(), i["reason"].clone()))
        .collect()
}

#[tokio::test]
async fn a_whole_order_cancelled_with_only_a_code() {
    let app = demo_app().await;
    let body = json!({"reason_code": "out_of_stock"}).to_string();
    let r = call(&app, "POST", CANCEL, Some(SELLER), Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        coded(&r.body),
        vec![
            (json!("out_of_stock"), Value::Null),
            (json!("out_of_stock"), Value::Null)
        ]
    );
    // Read back as written.
    let list = call(&app, "GET", CANCEL, Some(BUYER), None).await;
    assert_eq!(coded(&list.body["cancellations"][0]), coded(&r.body));
}

#[tokio::test]
async fn items_carry_their_own_codes_and_notes() {
    let app = demo_app().await;
    let body = json!({"items": [
        {"line_item_id": "li_1", "quantity": 1, "reason_code": "pricing_error", "reason": " listed at 1.25 "},
        {"line_item_id": "li_2", "quantity": 1, "reason": "Changed my mind"},
        {"line_item_id": "li_1", "quantity": 1, "reason_code": "other", "reason": "Chipped"},
    ]});
    let r = call(&app, "POST", CANCEL, Some(BUYER), Some(&body.to_string())).await;
    // The same line twice is refused as before; send it once.
    assert_eq!(r.code(), "duplicate_line_item", "{}", r.body);
    let body = json!({"items": [
        {"line_item_id": "li_1", "quantity": 1, "reason_code": "pricing_error", "reason": " listed at 1.25 "},
        {"line_item_id": "li_2", "quantity": 1, "reason": "Changed my mind"},
    ]});
    let r = call(&app, "POST", CANCEL, Some(BUYER), Some(&body.to_string())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        coded(&r.body),
        vec![
            (json!("pricing_error"), json!("listed at 1.25")),
            // Only a reason, as before codes: `other`.
            (json!("other"), json!("Changed my mind")),
        ]
    );
}

#[tokio::test]
async fn the_text_a_code_needs_and_codes_not_in_the_list_are_refused() {
    let app = demo_app().await;
    let cases = [
        (json!({"reason_code": "other"}), "reason_required"),
        (
            json!({"reason_code": "other", "reason": " \u{200b} "}),
            "reason_required",
        ),
        (json!({"reason": null}), "reason_required"),
        (
            json!({"reason_code": "Out_Of_Stock", "reason": "x"}),
            "invalid_reason_code",
        ),
        (
            json!({"items": [{"line_item_id": "li_1", "quantity": 1, "reason_code": "stock"}]}),
            "invalid_reason_code",
        ),
        (
            json!({"items": [{"line_item_id": "li_1", "quantity": 1}]}),
            "reason_required",
        ),
        (json!({"reason_code": 3}), "invalid_body"),
        (
            json!({"reason_code": "fraud", "items": [{"line_item_id": "li_1", "quantity": 1, "reason_code": "fraud"}]}),
            "invalid_body",
        ),
    ];
    for (body, code) in cases {
        let r = call(&app, "POST", CANCEL, Some(BUYER), Some(&body.to_string())).await;
        assert_eq!(r.code(), code, "{body}: {}", r.body);
    }
    let list = call(&app, "GET", CANCEL, Some(BUYER), None).await;
    assert_eq!(
        list.body["cancellations"],
        json!([]),
        "nothing was cancelled"
    );
    // The refusal names the code it did not know.
    let body = json!({"reason_code": "stock", "reason": "x"}).to_string();
    let r = call(&app, "POST", CANCEL, Some(BUYER), Some(&body)).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["detail"].as_str().unwrap().contains("\"stock\""),
        "{}",
        r.body
    );
}

/// The app's list of codes and labels, and docs/api.md's table, are the
/// service's: none missing, none extra.
#[test]
fn the_app_and_the_docs_list_the_codes_the_service_knows() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let app = std::fs::read_to_string(root.join("app/order.js")).unwrap();
    let block = app
        .split("export const REASON_CODES = [")
        .nth(1)
        .and_then(|rest| rest.split("];").next())
        .expect("REASON_CODES in app/order.js");
    let docs = std::fs::read_to_string(root.join("docs/api.md")).unwrap();
    for code in domain::ReasonCode::ALL {
        let entry = format!("['{}', '{}'],", code.as_str(), code.label());
        assert!(block.contains(&entry), "app/order.js lacks {entry}");
        let row = format!("| `{}` | {} |", code.as_str(), code.label());
        assert!(docs.contains(&row), "docs/api.md lacks {row}");
    }
    assert_eq!(
        block.matches("['").count(),
        domain::ReasonCode::ALL.len(),
        "app/order.js lists other codes too"
    );
}
