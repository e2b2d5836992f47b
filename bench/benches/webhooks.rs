//! Webhook handling of a 50-line Shopify order, signature check
//! included, through `intake::handle` on the embedded (in-memory) store.
//! Each iteration gets a fresh order and a new delivery, so every timed
//! call verifies, parses, looks up, reconciles and commits 50 cancelled lines.

mod common;

use std::cell::Cell;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use handlers::intake;
use lambda_http::Body;

const SECRET: &str = "demo-shopify-seller-secret";
const SHOP: &str = "pine-goods.myshopify.com";

fn delivery(order_ref: &str, event_id: &str, current: u32) -> lambda_http::Request {
    let body = common::shopify_orders_updated(order_ref, current);
    let sig = platforms::sign_hmac_sha256_base64(SECRET, body.as_bytes());
    common::event(
        "POST",
        "/webhooks/shopify",
        &[
            ("content-type", "application/json"),
            ("x-shopify-topic", "orders/updated"),
            ("x-shopify-hmac-sha256", &sig),
            ("x-shopify-shop-domain", SHOP),
            ("x-shopify-event-id", event_id),
        ],
        Some(&body),
    )
}

fn status_and_result(r: &lambda_http::Response<Body>) -> (u16, String) {
    let text = match r.body() {
        Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    (r.status().as_u16(), text)
}

fn webhooks_bench(c: &mut Criterion) {
    let rt = common::runtime();
    let app = rt.block_on(common::demo_app());
    let n = Cell::new(0u64);

    c.bench_function("webhooks/shopify_orders_updated_50_lines_cancel", |b| {
        b.iter_batched(
            || {
                let i = n.get() + 1;
                n.set(i);
                let order_ref = format!("{}", 700_000 + i);
                rt.block_on(common::seed_order(
                    &app,
                    &format!("ord_wh_{i}"),
                    "buyer-api",
                    "seller-shopify",
                    &order_ref,
                ));
                delivery(&order_ref, &format!("evt-{i}"), 9)
            },
            |req| rt.block_on(intake::handle(&app.intake, req)),
            BatchSize::SmallInput,
        )
    });

    // A redelivery of a processed event: signature, parse, then the duplicate
    // is recognised by its delivery key.
    rt.block_on(common::seed_order(
        &app,
        "ord_wh_dup",
        "buyer-api",
        "seller-shopify",
        "699999",
    ));
    let first = rt.block_on(intake::handle(
        &app.intake,
        delivery("699999", "evt-dup", 9),
    ));
    let (status, text) = status_and_result(&first);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"cancelled\""), "{text}");
    c.bench_function("webhooks/shopify_orders_updated_50_lines_duplicate", |b| {
        b.iter_batched(
            || delivery("699999", "evt-dup", 9),
            |req| rt.block_on(intake::handle(&app.intake, req)),
            BatchSize::SmallInput,
        )
    });

    // Sanity: the timed path cancels (checked once, outside the timing).
    rt.block_on(common::seed_order(
        &app,
        "ord_wh_check",
        "buyer-api",
        "seller-shopify",
        "699998",
    ));
    let r = rt.block_on(intake::handle(
        &app.intake,
        delivery("699998", "evt-check", 9),
    ));
    let (status, text) = status_and_result(&r);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"cancelled\""), "{text}");
}

criterion_group!(benches, webhooks_bench);
criterion_main!(benches);
