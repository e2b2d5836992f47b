//! The scorecard's counts, as every store keeps them: equal to a recount
//! of the stored orders, whatever the mix of new orders, cancellations,
//! refused and concurrent writes.

use chrono::{Duration, Utc};

use domain::scorecard::{Window, recount, scorecard};
use domain::{Cancellation, CancellationKind, CancelledItem, Order, ReasonCode, Role};
use service::store::*;

use crate::fixtures::*;

/// `order` with `quantity` more units of `line` cancelled by `by` for `code`.
fn cancel(
    order: &Order,
    line: &str,
    quantity: u32,
    by: Role,
    code: ReasonCode,
    id: &str,
) -> (Order, Cancellation) {
    let mut next = order.clone();
    next.version += 1;
    next.updated_at = order.updated_at + Duration::seconds(1);
    for l in &mut next.line_items {
        if l.id == line {
            l.cancelled += quantity;
        }
    }
    let can = Cancellation {
        id: id.into(),
        order_id: order.id.clone(),
        initiated_by: by,
        source: domain::Source::Api,
        kind: CancellationKind::Items,
        items: vec![CancelledItem {
            line_item_id: line.into(),
            quantity,
            reason_code: code,
            reason: None,
        }],
        created_at: next.updated_at,
    };
    (next, can)
}

async fn commit_cancel<S: Orders>(s: &S, c: (Order, Cancellation)) -> Order {
    let (next, can) = c;
    let mut commit = Commit::update(next.clone());
    commit.cancellation = Some(can);
    s.commit(&commit).await.unwrap();
    next
}

pub async fn scorecard_counts_match_a_recount<S: Orders + IdempotencyRecords>(s: &S) {
    let now = Utc::now();
    let today = now.date_naive();
    let mut ids = Vec::new();
    // Orders over three pairs and several days (one outside a 7-day window).
    let pairs = [("b1", "s1"), ("b1", "s2"), ("b2", "s1")];
    for (i, days_ago) in [0i64, 0, 1, 3, 8, 20].into_iter().enumerate() {
        for (p, (b, sl)) in pairs.iter().enumerate() {
            let id = format!("sc_{i}_{p}");
            let mut o = order(&id, b, sl, 0);
            o.created_at = now - Duration::days(days_ago);
            o.updated_at = o.created_at;
            s.commit(&Commit::create(o.clone())).await.unwrap();
            ids.push(id);
        }
    }
    // Cancellations: first and later ones, by either side, several codes.
    let read = |id: &str| {
        let id = id.to_owned();
        async move { s.order(&id).await.unwrap().unwrap() }
    };
    let first = read("sc_0_0").await;
    let o = commit_cancel(
        s,
        cancel(
            &first,
            "li_1",
            2,
            Role::Seller,
            ReasonCode::OutOfStock,
            "c1",
        ),
    )
    .await;
    commit_cancel(
        s,
        cancel(
            &o,
            "li_2",
            1,
            Role::Buyer,
            ReasonCode::CustomerRequest,
            "c2",
        ),
    )
    .await;
    // A change decided on a stale version is refused and counts nothing.
    let (stale, can) = cancel(&first, "li_1", 1, Role::Buyer, ReasonCode::Fraud, "c-stale");
    let mut refused = Commit::update(stale);
    refused.cancellation = Some(can);
    assert!(matches!(
        s.commit(&refused).await,
        Err(StoreError::VersionConflict)
    ));
    let o = read("sc_3_2").await;
    commit_cancel(
        s,
        cancel(&o, "li_2", 2, Role::Seller, ReasonCode::Discontinued, "c3"),
    )
    .await;
    let o = read("sc_4_1").await;
    commit_cancel(
        s,
        cancel(&o, "li_1", 3, Role::Buyer, ReasonCode::PricingError, "c4"),
    )
    .await;
    // A commit refused for its used idempotency key writes no count either.
    let o = read("sc_1_0").await;
    let (next, can) = cancel(&o, "li_1", 1, Role::Buyer, ReasonCode::Delayed, "c5");
    let mut keyed = Commit::update(next.clone());
    keyed.cancellation = Some(can);
    keyed.idempotency = Some(idem("b1", "sc-key", Duration::hours(1)));
    s.commit(&keyed).await.unwrap();
    let (again, can) = cancel(&next, "li_2", 1, Role::Buyer, ReasonCode::Delayed, "c6");
    let mut replay = Commit::update(again);
    replay.cancellation = Some(can);
    replay.idempotency = Some(idem("b1", "sc-key", Duration::hours(1)));
    assert!(matches!(
        s.commit(&replay).await,
        Err(StoreError::IdempotencyKeyExists { .. })
    ));
    // Concurrent new orders of one pair on one day all count.
    let racing: Vec<Order> = (0..8)
        .map(|i| {
            let mut o = order(&format!("sc_race_{i}"), "b1", "s1", 0);
            o.created_at = now;
            o.updated_at = now;
            o
        })
        .collect();
    let commits: Vec<Commit> = racing.iter().map(|o| Commit::create(o.clone())).collect();
    for r in futures::future::join_all(commits.iter().map(|c| s.commit(c))).await {
        r.unwrap();
    }
    ids.extend(racing.iter().map(|o| o.id.clone()));

    let mut records = Vec::new();
    for id in &ids {
        records.push(s.order_record(id).await.unwrap().unwrap());
    }
    let expected = recount(
        records
            .iter()
            .map(|r| (&r.order, r.cancellations.as_slice())),
    );
    for window in Window::ALL {
        let first = window.first_day(today);
        for company in ["b1", "b2", "s1", "s2", "nobody"] {
            let kept = s.score_rows(company, first, today).await.unwrap();
            assert_eq!(
                scorecard(company, window, today, kept),
                scorecard(company, window, today, expected.clone()),
                "{company}'s {}-day scorecard",
                window.days()
            );
        }
        let all = s.all_score_rows(first, today).await.unwrap();
        assert_eq!(
            domain::scorecard::scorecards(window, today, all),
            domain::scorecard::scorecards(window, today, expected.clone()),
        );
    }
    // Spot checks against the test's own arithmetic.
    let week = s
        .score_rows("b1", Window::Days7.first_day(today), today)
        .await
        .unwrap();
    let card = scorecard("b1", Window::Days7, today, week);
    let s1 = card.partners.iter().find(|p| p.partner_id == "s1").unwrap();
    // sc_0_0, sc_1_0, sc_2_0, sc_3_0 and the 8 racing ones; 5 units each.
    assert_eq!((s1.totals.orders, s1.totals.units), (12, 60));
    assert_eq!(
        (s1.totals.orders_cancelled, s1.totals.units_cancelled),
        (2, 4)
    );
    assert_eq!((s1.totals.by_buyer, s1.totals.by_seller), (2, 2));
    assert_eq!(s1.totals.reason(ReasonCode::OutOfStock), 2);
    assert_eq!(s1.partner_name, "Company s1");
}
