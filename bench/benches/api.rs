//! The cancellation API end to end in process: an API Gateway v2 event
//! through `api::handle` (routing, bearer auth, body parsing, the domain,
//! the conditional commit with idempotency record and outbox row, the JSON
//! answer) on the embedded in-memory store. Each iteration cancels on a
//! fresh 50-line order (seeded outside the timing).

mod common;

use std::cell::Cell;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use handlers::api;

const BUYER: &str = "Bearer demo-buyer-api-key";

fn api_bench(c: &mut Criterion) {
    let rt = common::runtime();
    let app = rt.block_on(common::demo_app());
    let n = Cell::new(0u64);
    let fresh = || {
        let i = n.get() + 1;
        n.set(i);
        let id = format!("ord_api_{i}");
        rt.block_on(common::seed_order(
            &app,
            &id,
            "buyer-api",
            "seller-api",
            &format!("{i}"),
        ));
        (id, format!("idem-{i}"))
    };

    let whole = r#"{"reason": "Items are out of stock"}"#;
    c.bench_function("api/cancel_whole_order_50_lines", |b| {
        b.iter_batched(
            || {
                let (id, key) = fresh();
                common::event(
                    "POST",
                    &format!("/v1/orders/{id}/cancellations"),
                    &[("authorization", BUYER), ("idempotency-key", &key)],
                    Some(whole),
                )
            },
            |req| {
                let r = rt.block_on(api::handle(&app, req));
                debug_assert_eq!(r.status().as_u16(), 201);
                r
            },
            BatchSize::SmallInput,
        )
    });

    let items: Vec<String> = (1..=10)
        .map(|i| {
            format!(
                r#"{{"line_item_id": "li_{}", "quantity": 3, "reason": "Item is out of stock"}}"#,
                i * 5
            )
        })
        .collect();
    let partial = format!(r#"{{"items": [{}]}}"#, items.join(","));
    c.bench_function("api/cancel_10_items_of_50_lines", |b| {
        b.iter_batched(
            || {
                let (id, key) = fresh();
                common::event(
                    "POST",
                    &format!("/v1/orders/{id}/cancellations"),
                    &[("authorization", BUYER), ("idempotency-key", &key)],
                    Some(&partial),
                )
            },
            |req| rt.block_on(api::handle(&app, req)),
            BatchSize::SmallInput,
        )
    });

    let (id, _) = fresh();
    c.bench_function("api/get_order_50_lines", |b| {
        b.iter_batched(
            || {
                common::event(
                    "GET",
                    &format!("/v1/orders/{id}"),
                    &[("authorization", BUYER)],
                    None,
                )
            },
            |req| rt.block_on(api::handle(&app, req)),
            BatchSize::SmallInput,
        )
    });

    // Checked once outside the timing: the timed requests succeed.
    for (body, what) in [(whole, "whole"), (partial.as_str(), "partial")] {
        let (id, key) = fresh();
        let r = rt.block_on(api::handle(
            &app,
            common::event(
                "POST",
                &format!("/v1/orders/{id}/cancellations"),
                &[("authorization", BUYER), ("idempotency-key", &key)],
                Some(body),
            ),
        ));
        assert_eq!(r.status().as_u16(), 201, "{what}: {:?}", r.body());
    }
}

criterion_group!(benches, api_bench);
criterion_main!(benches);
