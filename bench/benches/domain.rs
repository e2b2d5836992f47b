//! The pure domain on a 50-line order: whole and partial cancellation and
//! reconciliation to a platform's state; and the Shopify inbound path
//! without I/O (HMAC verification, then parsing the 50-line payload).

mod common;

use std::hint::black_box;

use chrono::DateTime;
use criterion::{Criterion, criterion_group, criterion_main};
use domain::{
    Actor, CancelRequest, Integration, ItemRequest, PlatformLine, PlatformState, Role, Source,
    cancel, reconcile,
};
use platforms::{self, shopify};

const API_BUYER: Actor = Actor {
    party: Role::Buyer,
    integration: Integration::Api,
    source: Source::Api,
};

const SHOPIFY_SELLER: Actor = Actor {
    party: Role::Seller,
    integration: Integration::Store(domain::Platform::Shopify),
    source: Source::Store(domain::Platform::Shopify),
};

fn domain(c: &mut Criterion) {
    let order = common::order_50();
    let t = DateTime::UNIX_EPOCH;

    let whole = CancelRequest::WholeOrder {
        reason_code: None,
        reason: Some("Items are out of stock".into()),
    };
    c.bench_function("domain/cancel_whole_order_50_lines", |b| {
        b.iter(|| {
            cancel(
                black_box(&order),
                API_BUYER,
                black_box(&whole),
                "can_1".into(),
                t,
            )
        })
    });

    // Partial: 10 of the 50 lines, 3 units each, each with its reason.
    let partial = CancelRequest::Items(
        (1..=10)
            .map(|i| ItemRequest {
                line_item_id: format!("li_{}", i * 5),
                quantity: 3,
                reason_code: None,
                reason: Some("Item is out of stock".into()),
            })
            .collect(),
    );
    c.bench_function("domain/cancel_10_items_of_50_lines", |b| {
        b.iter(|| {
            cancel(
                black_box(&order),
                API_BUYER,
                black_box(&partial),
                "can_1".into(),
                t,
            )
        })
    });

    // Every line reported one unit down: 50 cancelled items.
    let state = PlatformState {
        whole_order_cancelled: false,
        lines: (1..=common::LINES)
            .map(|i| PlatformLine {
                line_item_id: format!("li_{i}"),
                quantity: 9,
            })
            .collect(),
        reason_code: domain::ReasonCode::Other,
        reason: "Order updated in Shopify".into(),
    };
    c.bench_function("domain/reconcile_50_lines_changed", |b| {
        b.iter(|| {
            reconcile(
                black_box(&order),
                SHOPIFY_SELLER,
                black_box(&state),
                "can_1".into(),
                t,
            )
        })
    });
    // The same state again (a redelivery, or the echo of our own change): no-op.
    let reconciled = reconcile(&order, SHOPIFY_SELLER, &state, "can_1".into(), t)
        .unwrap()
        .order
        .unwrap();
    c.bench_function("domain/reconcile_50_lines_unchanged", |b| {
        b.iter(|| {
            reconcile(
                black_box(&reconciled),
                SHOPIFY_SELLER,
                black_box(&state),
                "can_1".into(),
                t,
            )
        })
    });

    let body = common::shopify_orders_updated("9101", 9);
    let secret = "demo-shopify-seller-secret";
    let signature = platforms::sign_hmac_sha256_base64(secret, body.as_bytes());
    c.bench_function("shopify/verify_hmac_and_parse_50_lines", |b| {
        b.iter(|| {
            assert!(platforms::verify_hmac_sha256_base64(
                secret,
                black_box(body.as_bytes()),
                black_box(&signature)
            ));
            shopify::parse("orders/updated", black_box(body.as_bytes())).unwrap()
        })
    });
    c.bench_function("shopify/verify_hmac_50_lines", |b| {
        b.iter(|| {
            platforms::verify_hmac_sha256_base64(
                secret,
                black_box(body.as_bytes()),
                black_box(&signature),
            )
        })
    });
}

criterion_group!(benches, domain);
criterion_main!(benches);
