use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration as StdDuration;

use tokio::time::Instant;

use super::*;
use crate::app::{AppError, OrdersService, Outcome};
use crate::config::RaceRetry;
use crate::store::{
    Companies, IdempotencyRecord, IdempotencyRecords, OrderCursor, OrderPage, OrderRecord, Orders,
    StatusFilter,
};
use domain::inbound::PlatformOrder;
use domain::{CancelRequest, Cancellation, FulfillRequest, Integration, ItemRequest, Source};
use testkit::fixtures;

/// How the fake store's commits of order changes go.
#[derive(Clone, Copy)]
enum Commits {
    /// Refuse this many with `VersionConflict`, then accept.
    RefuseThenAccept(u32),
    AlwaysRefuse,
    /// The order was deleted between the read and the commit.
    OrderGone,
}

/// One order in memory; decides optimistically (the trait's default).
struct Fake {
    order: Mutex<Option<Order>>,
    /// What `orders_by_ref` and `seller_orders_by_po` find: the order as
    /// read, even when `order` is gone by the time of the commit.
    listed: Order,
    commits: Commits,
    refused: AtomicU32,
    /// When each commit was tried (the paused clock's time).
    tries: Mutex<Vec<Instant>>,
}

impl Fake {
    fn new(order: Option<Order>, listed: Order, commits: Commits) -> Self {
        Fake {
            order: Mutex::new(order),
            listed,
            commits,
            refused: AtomicU32::new(0),
            tries: Mutex::new(Vec::new()),
        }
    }

    fn tries(&self) -> Vec<Instant> {
        self.tries.lock().unwrap().clone()
    }
}

impl Orders for Fake {
    async fn cancellations_since(
        &self,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Cancellation>, StoreError> {
        Ok(vec![])
    }

    async fn orders_by_ref(&self, _: &str, _: Role, _: &str) -> Result<Vec<Order>, StoreError> {
        Ok(vec![self.listed.clone()])
    }

    async fn seller_orders_by_po(&self, _: &str, _: &str) -> Result<Vec<Order>, StoreError> {
        Ok(vec![self.listed.clone()])
    }

    async fn order(&self, _: &str) -> Result<Option<Order>, StoreError> {
        Ok(self.order.lock().unwrap().clone())
    }

    async fn score_rows(
        &self,
        _: &str,
        _: chrono::NaiveDate,
        _: chrono::NaiveDate,
    ) -> Result<Vec<domain::scorecard::DayCounts>, StoreError> {
        Ok(vec![])
    }

    async fn all_score_rows(
        &self,
        _: chrono::NaiveDate,
        _: chrono::NaiveDate,
    ) -> Result<Vec<domain::scorecard::DayCounts>, StoreError> {
        Ok(vec![])
    }

    async fn order_record(&self, _: &str) -> Result<Option<OrderRecord>, StoreError> {
        Ok(None)
    }

    async fn list_orders(
        &self,
        _: &str,
        _: StatusFilter,
        _: usize,
        _: Option<&OrderCursor>,
    ) -> Result<OrderPage, StoreError> {
        Ok(OrderPage::new(vec![], false))
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.tries.lock().unwrap().push(Instant::now());
        // As a store's conditional write: no item, no update.
        if self.order.lock().unwrap().is_none() {
            return Err(StoreError::OrderMissing);
        }
        let refuse = match self.commits {
            Commits::OrderGone => return Err(StoreError::OrderMissing),
            Commits::AlwaysRefuse => true,
            Commits::RefuseThenAccept(k) => self
                .refused
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < k).then_some(n + 1)
                })
                .is_ok(),
        };
        if refuse {
            return Err(StoreError::VersionConflict);
        }
        *self.order.lock().unwrap() = Some(commit.order.clone());
        Ok(())
    }
}

impl Companies for Fake {
    async fn put_company(&self, _: &Company) -> Result<(), StoreError> {
        Ok(())
    }

    async fn company(&self, _: &str) -> Result<Option<Company>, StoreError> {
        Ok(None)
    }

    async fn company_by_shop_domain(&self, _: &str) -> Result<Option<Company>, StoreError> {
        Ok(None)
    }

    async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        Ok(vec![])
    }

    async fn company_by_api_key_hash(&self, _: &str) -> Result<Option<Company>, StoreError> {
        Ok(None)
    }
}

impl IdempotencyRecords for Fake {
    async fn idempotency_record(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(None)
    }

    async fn put_idempotency_record(&self, _: &IdempotencyRecord) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Store for Fake {}

/// Order o1 of buyer b1 and seller s1 (a Shopify store: its refs set).
fn order() -> Order {
    let mut o = fixtures::order("o1", "b1", "s1", 0);
    o.seller_order_ref = Some("W-1".into());
    o.line_items[0].seller_line_ref = Some("L-1".into());
    o
}

fn app(commits: Commits, policy: RaceRetry) -> OrdersService<Fake> {
    counted(commits, policy, crate::metrics::Metrics::off())
}

fn counted(
    commits: Commits,
    policy: RaceRetry,
    metrics: crate::metrics::Metrics,
) -> OrdersService<Fake> {
    let config = crate::Config {
        race_retry: policy,
        ..crate::Config::default()
    };
    let store = Fake::new(Some(order()), order(), commits);
    OrdersService::on(
        crate::Core::with_config(store, config)
            .with_metrics(metrics)
            .shared(),
    )
}

fn buyer() -> Company {
    fixtures::company("b1", Role::Buyer)
}

fn shopify_seller() -> Company {
    let mut s = fixtures::company("s1", Role::Seller);
    s.integration = Integration::Store(domain::Platform::Shopify);
    s
}

fn one_unit() -> CancelRequest {
    CancelRequest::Items(vec![ItemRequest {
        line_item_id: "li_1".into(),
        quantity: 1,
        reason_code: None,
        reason: Some("out of stock".into()),
    }])
}

async fn cancel_one<S: Store>(app: &OrdersService<S>) -> Result<Outcome<Cancellation>, AppError> {
    app.cancel(&buyer(), "o1", &one_unit(), Source::Api, None)
        .await
}

fn policy(base_ms: u64, cap_ms: u64, budget_ms: u64, max_attempts: u32) -> RaceRetry {
    RaceRetry {
        base: StdDuration::from_millis(base_ms),
        cap: StdDuration::from_millis(cap_ms),
        budget: StdDuration::from_millis(budget_ms),
        max_attempts,
    }
}

#[test]
fn the_wait_ceiling_doubles_up_to_the_cap() {
    let p = policy(2, 100, 2500, 200);
    let ceilings: Vec<u64> = (1..=9).map(|n| p.ceiling(n).as_millis() as u64).collect();
    assert_eq!(ceilings, [2, 4, 8, 16, 32, 64, 100, 100, 100]);
    assert_eq!(p.ceiling(u32::MAX), p.cap, "no overflow far out");
    for n in 1..=9 {
        assert!(p.wait(n) <= p.ceiling(n));
    }
}

#[tokio::test(start_paused = true)]
async fn lost_races_are_retried_with_growing_waits_until_one_commits() {
    let app = app(Commits::RefuseThenAccept(12), policy(1, 10_000, 60_000, 50));
    let outcome = cancel_one(&app).await.unwrap();
    assert!(matches!(outcome, Outcome::Done(ref c) if c.items[0].quantity == 1));
    let tries = app.store.tries();
    assert_eq!(tries.len(), 13, "12 refusals, then the commit");
    let gaps: Vec<StdDuration> = tries.windows(2).map(|w| w[1] - w[0]).collect();
    let p = &app.config.race_retry;
    for (n, gap) in (1u32..).zip(&gaps) {
        assert!(*gap <= p.ceiling(n), "wait {n} is {gap:?}");
    }
    // Uniform draws under ceilings of 1, 2, 4 ms early and 512, 1024,
    // 2048 ms late: the late ones are longer (all three shorter than
    // 4 ms has a probability of about 6e-8).
    let early = gaps[..3].iter().max().unwrap();
    let late = gaps[9..].iter().max().unwrap();
    assert!(late > early, "{gaps:?}");
    assert_eq!(app.store.order.lock().unwrap().as_ref().unwrap().version, 2);
}

#[tokio::test(start_paused = true)]
async fn a_store_that_always_refuses_gets_conflict_within_the_budget() {
    let app = app(Commits::AlwaysRefuse, policy(2, 100, 2500, 200));
    let started = Instant::now();
    let r = cancel_one(&app).await;
    assert!(matches!(r, Err(AppError::Conflict)), "{r:?}");
    let p = &app.config.race_retry;
    let tries = app.store.tries();
    // Store calls take no time on the paused clock, and the last wait is
    // cut to what is left: the last try starts as the budget ends.
    assert_eq!(*tries.last().unwrap() - started, p.budget);
    assert_eq!(started.elapsed(), p.budget);
    // Waits average cap / 2 once the ceiling is the cap: about 55 tries
    // (fewer than 30 would take waits averaging 6 standard deviations
    // above that).
    assert!(tries.len() >= 30, "{} tries", tries.len());
    assert!(tries.len() < p.max_attempts as usize);
    assert_eq!(app.store.order.lock().unwrap().as_ref().unwrap().version, 1);
}

#[tokio::test(start_paused = true)]
async fn the_attempt_count_bounds_a_loop_without_waits() {
    let app = app(Commits::AlwaysRefuse, policy(0, 0, 60_000, 7));
    assert!(matches!(cancel_one(&app).await, Err(AppError::Conflict)));
    assert_eq!(app.store.tries().len(), 7);
}

/// Every command that decides on an order, against `store`.
async fn every_path(store: Fake) -> Vec<(&'static str, Result<(), AppError>)> {
    let app = OrdersService::new(store);
    let fulfil = FulfillRequest {
        items: vec![("li_1".into(), 1)],
        tracking_number: None,
        carrier: None,
    };
    let po = PlatformOrder {
        order_ref: "W-1".into(),
        state: domain::inbound::OrderState::Cancelled(
            domain::inbound::Platform::Shopify,
            domain::inbound::CancelCause::Other,
        ),
        lines: vec![],
        complete_line_list: false,
    };
    vec![
        ("cancel", cancel_one(&app).await.map(drop)),
        (
            "fulfill",
            app.fulfill(&fixtures::company("s1", Role::Seller), "o1", &fulfil, None)
                .await
                .map(drop),
        ),
        (
            "reconcile",
            app.reconcile_platform_order(
                &shopify_seller(),
                Source::Store(domain::Platform::Shopify),
                &po,
                "evt-1",
            )
            .await
            .map(drop),
        ),
    ]
}

#[tokio::test]
async fn a_vanished_order_is_order_not_found_on_every_path() {
    // Gone before the read, and gone between the read and the commit.
    for store in [
        Fake::new(None, order(), Commits::RefuseThenAccept(0)),
        Fake::new(Some(order()), order(), Commits::OrderGone),
    ] {
        for (path, r) in every_path(store).await {
            assert!(
                matches!(r, Err(AppError::OrderNotFound(ref id)) if id == "o1"),
                "{path}: {r:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_path_commits_through_the_decision() {
    for (path, r) in every_path(Fake::new(
        Some(order()),
        order(),
        Commits::RefuseThenAccept(1),
    ))
    .await
    {
        assert!(r.is_ok(), "{path}: {r:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn lost_races_and_give_ups_are_counted() {
    let (metrics, seen) = crate::metrics::recorded::record();
    let app = counted(
        Commits::RefuseThenAccept(3),
        policy(5, 1000, 60_000, 200),
        metrics,
    );
    cancel_one(&app).await.unwrap();
    assert_eq!(seen.count("CommitConflicts"), 3);
    assert_eq!(seen.count("CommitsGivenUp"), 0);

    let (metrics, seen) = crate::metrics::recorded::record();
    let app = counted(Commits::AlwaysRefuse, policy(0, 0, 60_000, 7), metrics);
    assert!(matches!(cancel_one(&app).await, Err(AppError::Conflict)));
    assert_eq!(seen.count("CommitsGivenUp"), 1);
}
