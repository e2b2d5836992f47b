//! The scorecard read with 100,000 orders in the store: `GET
//! /v1/scorecard` through `api::handle` on the embedded in-memory store,
//! for a buyer trading with 20 sellers every day of 90, a tenth of the
//! orders partly cancelled. The read touches the kept counts, never the
//! orders, so it should cost what it costs with 100.

mod common;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use domain::{
    Cancellation, CancellationKind, CancelledItem, LineItem, Order, ReasonCode, Role, Source,
};
use handlers::api;
use service::store::{Commit, Orders};

const BUYER: &str = "Bearer demo-buyer-api-key";
const ORDERS: usize = 100_000;
const SELLERS: usize = 20;

fn order(i: usize) -> Order {
    let at = Utc::now() - Duration::minutes((i % (90 * 24 * 60)) as i64);
    Order {
        id: format!("ord_sc_{i:06}"),
        buyer_id: "buyer-api".into(),
        seller_id: format!("seller-{:02}", i % SELLERS),
        buyer_name: "Acme Home".into(),
        seller_name: format!("Seller {:02}", i % SELLERS),
        buyer_order_ref: None,
        seller_order_ref: None,
        version: 1,
        created_at: at,
        updated_at: at,
        line_items: (1..=3)
            .map(|l| LineItem {
                id: format!("li_{l}"),
                sku: format!("SKU-{l}"),
                title: None,
                quantity: 4,
                fulfilled: 0,
                cancelled: 0,
                unit_price: None,
                buyer_line_ref: None,
                seller_line_ref: None,
                platform_shortfall: 0,
            })
            .collect(),
    }
}

fn scorecard_bench(c: &mut Criterion) {
    let rt = common::runtime();
    let app = rt.block_on(common::demo_app());
    let started = std::time::Instant::now();
    rt.block_on(async {
        for i in 0..ORDERS {
            let o = order(i);
            app.store
                .commit(&Commit::create(o.clone()))
                .await
                .expect("created");
            if i % 10 == 0 {
                let mut next = o.clone();
                next.version = 2;
                next.line_items[0].cancelled = 2;
                let mut commit = Commit::update(next);
                commit.cancellation = Some(Cancellation {
                    id: format!("can_sc_{i:06}"),
                    order_id: o.id.clone(),
                    initiated_by: if i % 20 == 0 {
                        Role::Seller
                    } else {
                        Role::Buyer
                    },
                    source: Source::Api,
                    kind: CancellationKind::Items,
                    items: vec![CancelledItem {
                        line_item_id: "li_1".into(),
                        quantity: 2,
                        reason_code: ReasonCode::ALL[i / 10 % ReasonCode::ALL.len()],
                        reason: Some("bench".into()),
                    }],
                    created_at: o.created_at,
                });
                app.store.commit(&commit).await.expect("cancelled");
            }
        }
    });
    eprintln!(
        "seeded {ORDERS} orders ({} cancelled) in {:.1} s",
        ORDERS / 10,
        started.elapsed().as_secs_f64()
    );
    for days in [7, 30, 90] {
        let path = format!("/v1/scorecard?days={days}");
        let r = rt.block_on(api::handle(
            &app,
            common::event_with_query(
                "GET",
                "/v1/scorecard",
                &format!("days={days}"),
                &[("authorization", BUYER)],
            ),
        ));
        assert_eq!(r.status().as_u16(), 200, "{path}");
        c.bench_function(&format!("scorecard/read_{days}_days_100k_orders"), |b| {
            b.iter(|| {
                rt.block_on(api::handle(
                    &app,
                    common::event_with_query(
                        "GET",
                        "/v1/scorecard",
                        &format!("days={days}"),
                        &[("authorization", BUYER)],
                    ),
                ))
            })
        });
    }
}

criterion_group!(benches, scorecard_bench);
criterion_main!(benches);
