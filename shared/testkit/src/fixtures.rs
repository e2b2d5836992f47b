//! Orders, companies and records the tests build on.

use chrono::{Duration, TimeZone, Utc};
use domain::{
    Cancellation, CancellationKind, CancelledItem, Company, Integration, LineItem, Order, Role,
};
use service::store::IdempotencyRecord;

pub fn company(id: &str, role: Role) -> Company {
    Company {
        id: id.into(),
        name: format!("Company {id}"),
        role,
        integration: Integration::Api,
        email: format!("{id}@example.com"),
        api_keys: vec![domain::ApiKey::from_hash(format!("hash-of-{id}"), None)],
        connection: None,
        webhook_endpoints: Vec::new(),
        edi: None,
    }
}

/// A two-line order (li_1 x3, li_2 x2) created `minute` minutes after a fixed epoch.
pub fn order(id: &str, buyer: &str, seller: &str, minute: i64) -> Order {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minute);
    let line = |id: &str, q| LineItem {
        id: id.into(),
        sku: format!("SKU-{id}"),
        title: Some(format!("Item {id}")),
        quantity: q,
        fulfilled: 0,
        cancelled: 0,
        unit_price: Some("9.99".into()),
        buyer_line_ref: None,
        seller_line_ref: None,
        platform_shortfall: 0,
    };
    Order {
        id: id.into(),
        buyer_id: buyer.into(),
        seller_id: seller.into(),
        buyer_name: format!("Company {buyer}"),
        seller_name: format!("Company {seller}"),
        buyer_order_ref: Some(format!("B-{id}")),
        seller_order_ref: None,
        version: 1,
        created_at: t,
        updated_at: t,
        line_items: vec![line("li_1", 3), line("li_2", 2)],
    }
}

/// Cancel one unit of `line`: the next order state and its record.
pub fn cancel_one(order: &Order, line: &str, id: &str) -> (Order, Cancellation) {
    let mut next = order.clone();
    next.version += 1;
    next.updated_at = order.updated_at + Duration::seconds(1);
    for l in &mut next.line_items {
        if l.id == line {
            l.cancelled += 1;
        }
    }
    let can = Cancellation {
        id: id.into(),
        order_id: order.id.clone(),
        initiated_by: Role::Buyer,
        source: domain::Source::Api,
        kind: CancellationKind::Items,
        items: vec![CancelledItem {
            line_item_id: line.into(),
            quantity: 1,
            reason_code: domain::ReasonCode::OutOfStock,
            reason: Some("out of stock".into()),
        }],
        created_at: next.updated_at,
    };
    (next, can)
}

pub fn idem(company: &str, key: &str, ttl: Duration) -> IdempotencyRecord {
    let now = Utc::now();
    IdempotencyRecord {
        company_id: company.into(),
        key: key.into(),
        fingerprint: "f".repeat(64),
        status: 201,
        body: r#"{"ok":true}"#.into(),
        created_at: now,
        expires_at: now + ttl,
    }
}

/// An enabled endpoint of every event, at `url`, never delivered to.
pub fn webhook_endpoint(id: &str, url: &str) -> domain::events::WebhookEndpoint {
    domain::events::WebhookEndpoint {
        id: id.into(),
        url: url.into(),
        events: vec!["*".into()],
        status: domain::events::EndpointStatus::Enabled,
        created_at: service::now(),
        salt: "00ff".into(),
        created_by_key: None,
        request_fingerprint: None,
        failing_since: None,
        disabled_at: None,
        lease: None,
        pinged_at: None,
    }
}
