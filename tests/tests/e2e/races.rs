//! Races on one order through the application service, against a
//! file-backed embedded store: cancellations and fulfillments from many
//! threads never over-commit units, and every success is one record.

use std::sync::Arc;

use domain::{CancelRequest, FulfillRequest, ItemRequest, Source};
use local::seed;
use service::app::{AppError, OrdersService, Outcome};
use service::store::Orders;
use sqlite::EmbeddedStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn cancellations_racing_fulfillments_never_over_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open_dir(dir.path()).unwrap();
    seed::apply(&store, &crate::common::demo_seed())
        .await
        .unwrap();
    let app = Arc::new(OrdersService::new(store));
    let buyer = app.authenticate(crate::common::BUYER).await.unwrap();
    let seller = app.authenticate(crate::common::SELLER).await.unwrap();
    // ord_demo_api: li_1 x4, li_2 x2. 48 writers each want one unit of li_1
    // or li_2, a few want the whole order.
    let mut tasks = Vec::new();
    for i in 0..48u32 {
        let app = Arc::clone(&app);
        let (buyer, seller) = (buyer.clone(), seller.clone());
        tasks.push(tokio::spawn(async move {
            let line = if i % 3 == 0 { "li_2" } else { "li_1" };
            match i % 4 {
                0 | 1 => {
                    let req = FulfillRequest {
                        items: vec![(line.into(), 1)],
                        tracking_number: None,
                        carrier: None,
                    };
                    app.fulfill(&seller, "ord_demo_api", &req, None)
                        .await
                        .map(|o| match o {
                            Outcome::Done(f) => ("fulfil", f.items[0].quantity),
                            Outcome::Replayed(_) => unreachable!(),
                        })
                }
                2 if i % 16 == 2 => {
                    let req = CancelRequest::WholeOrder {
                        reason_code: None,
                        reason: Some("racing".into()),
                    };
                    app.cancel(&buyer, "ord_demo_api", &req, Source::Api, None)
                        .await
                        .map(|o| match o {
                            Outcome::Done(c) => {
                                ("cancel", c.items.iter().map(|i| i.quantity).sum())
                            }
                            Outcome::Replayed(_) => unreachable!(),
                        })
                }
                _ => {
                    let who = if i % 2 == 0 { &buyer } else { &seller };
                    let req = CancelRequest::Items(vec![ItemRequest {
                        line_item_id: line.into(),
                        quantity: 1,
                        reason_code: None,
                        reason: Some("racing".into()),
                    }]);
                    app.cancel(who, "ord_demo_api", &req, Source::App, None)
                        .await
                        .map(|o| match o {
                            Outcome::Done(c) => ("cancel", c.items[0].quantity),
                            Outcome::Replayed(_) => unreachable!(),
                        })
                }
            }
        }));
    }
    let (mut fulfilled, mut cancelled, mut refusals, mut conflicts) = (0u32, 0u32, 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(("fulfil", q)) => fulfilled += q,
            Ok((_, q)) => cancelled += q,
            Err(AppError::Domain(e)) => {
                assert!(
                    matches!(e.code(), "quantity_exceeds_open" | "nothing_to_cancel"),
                    "{e}"
                );
                refusals += 1;
            }
            Err(AppError::Conflict) => conflicts += 1,
            Err(e) => panic!("unexpected failure: {e}"),
        }
    }
    let rec = app
        .store
        .order_record("ord_demo_api")
        .await
        .unwrap()
        .unwrap();
    let order = &rec.order;
    for l in &order.line_items {
        assert!(
            l.fulfilled + l.cancelled <= l.quantity,
            "over-committed {l:?}"
        );
    }
    let total_f: u32 = order.line_items.iter().map(|l| l.fulfilled).sum();
    let total_c: u32 = order.line_items.iter().map(|l| l.cancelled).sum();
    assert_eq!(
        total_f, fulfilled,
        "every successful fulfillment, and only those, is committed"
    );
    assert_eq!(
        total_c, cancelled,
        "every successful cancellation, and only those, is committed"
    );
    let recorded: u32 = rec
        .cancellations
        .iter()
        .flat_map(|c| &c.items)
        .map(|i| i.quantity)
        .sum();
    assert_eq!(
        recorded, total_c,
        "cancellation records account for every cancelled unit"
    );
    assert!(total_f + total_c <= 6);
    if conflicts == 0 {
        assert_eq!(
            total_f + total_c,
            6,
            "48 writers for 6 units leave none open"
        );
    }
    assert!(refusals > 0);
    eprintln!(
        "fulfilled {fulfilled}, cancelled {cancelled}, refused {refusals}, conflicts {conflicts}, version {}",
        order.version
    );
}
