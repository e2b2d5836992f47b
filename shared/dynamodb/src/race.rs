//! Many writers on one order through the `Store` port, each deciding with
//! the pure domain functions and re-reading and re-deciding on a version
//! conflict (bounded), as the handlers do.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Barrier;

use domain::{
    self, Actor, CancelRequest, FulfillRequest, Integration, ItemRequest, Order, PlatformLine,
    PlatformState, Role, Source,
};
use service::store::{Commit, OrderRecord, Store, StoreError};
use testkit::fixtures;

const WRITERS: usize = 40;
const MAX_ATTEMPTS: usize = 64;

#[derive(Debug, Clone, Copy)]
enum Op {
    CancelUnit(&'static str),
    FulfillUnit(&'static str),
    Reconcile(u32),
    CancelOrder,
}

#[derive(Debug)]
enum Outcome {
    /// Committed with this record (id, units per line).
    Cancelled(String, BTreeMap<String, u32>),
    Fulfilled(String, BTreeMap<String, u32>),
    /// Committed an order change without a record (a reconcile that only
    /// recorded a shortfall).
    CommittedBare,
    /// The domain refused on the state read (nothing open, ...).
    Refused(domain::DomainError),
    /// Nothing to change (a reconcile replay).
    Unchanged,
}

fn line(i: usize) -> &'static str {
    ["li_1", "li_2", "li_3"][i % 3]
}

fn op(i: usize) -> Op {
    match i % 10 {
        0..=4 => Op::CancelUnit(line(i)),
        5..=7 => Op::FulfillUnit(line(i)),
        8 => Op::Reconcile(20 - (i / 10) as u32 - 1),
        _ => Op::CancelOrder,
    }
}

fn units<'a>(items: impl Iterator<Item = (&'a str, u32)>) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    for (l, q) in items {
        *m.entry(l.to_owned()).or_default() += q;
    }
    m
}

/// One writer: read, decide, commit; on a version conflict, again.
async fn write<S: Store>(s: &S, order_id: &str, i: usize, op: Op) -> (Outcome, usize) {
    for attempt in 1..=MAX_ATTEMPTS {
        let order: Order = s.order(order_id).await.unwrap().unwrap();
        let now = Utc::now();
        let record_id = format!("rec_{i}_{attempt}");
        let (commit, outcome) = match decide(&order, op, record_id, now) {
            Ok(decided) => decided,
            Err(outcome) => return (outcome, attempt),
        };
        match s.commit(&commit).await {
            Ok(()) => return (outcome, attempt),
            Err(StoreError::VersionConflict) => continue,
            Err(e) => panic!("writer {i}: unexpected store error: {e}"),
        }
    }
    panic!("writer {i} ({op:?}) still conflicting after {MAX_ATTEMPTS} attempts");
}

/// What one writer does on the order as read: the commit and its outcome,
/// or the outcome when there is nothing to commit.
fn decide(
    order: &Order,
    op: Op,
    record_id: String,
    now: DateTime<Utc>,
) -> Result<(Commit, Outcome), Outcome> {
    let buyer = Actor {
        party: Role::Buyer,
        integration: Integration::Api,
        source: Source::Api,
    };
    let (commit, outcome) = match op {
        Op::CancelUnit(l) => {
            let req = CancelRequest::Items(vec![ItemRequest {
                line_item_id: l.into(),
                quantity: 1,
                reason_code: None,
                reason: Some("out of stock".into()),
            }]);
            match domain::cancel(order, buyer, &req, record_id.clone(), now) {
                Ok(d) => {
                    let u = units(
                        d.record
                            .items
                            .iter()
                            .map(|x| (x.line_item_id.as_str(), x.quantity)),
                    );
                    let mut c = Commit::update(d.order);
                    c.cancellation = Some(d.record);
                    (c, Outcome::Cancelled(record_id, u))
                }
                Err(e) => return Err(Outcome::Refused(e)),
            }
        }
        Op::CancelOrder => {
            let req = CancelRequest::WholeOrder {
                reason_code: None,
                reason: Some("buyer changed their mind".into()),
            };
            match domain::cancel(order, buyer, &req, record_id.clone(), now) {
                Ok(d) => {
                    let u = units(
                        d.record
                            .items
                            .iter()
                            .map(|x| (x.line_item_id.as_str(), x.quantity)),
                    );
                    let mut c = Commit::update(d.order);
                    c.cancellation = Some(d.record);
                    (c, Outcome::Cancelled(record_id, u))
                }
                Err(e) => return Err(Outcome::Refused(e)),
            }
        }
        Op::FulfillUnit(l) => {
            let req = FulfillRequest {
                items: vec![(l.into(), 1)],
                tracking_number: None,
                carrier: None,
            };
            match domain::fulfill(order, Role::Seller, &req, record_id.clone(), now) {
                Ok(d) => {
                    let u = units(
                        d.record
                            .items
                            .iter()
                            .map(|x| (x.line_item_id.as_str(), x.quantity)),
                    );
                    let mut c = Commit::update(d.order);
                    c.fulfillment = Some(d.record);
                    (c, Outcome::Fulfilled(record_id, u))
                }
                Err(e) => return Err(Outcome::Refused(e)),
            }
        }
        Op::Reconcile(target) => return reconcile(order, target, record_id, now),
    };
    Ok((commit, outcome))
}

/// A Shopify order edit setting li_3 to `target` units.
fn reconcile(
    order: &Order,
    target: u32,
    record_id: String,
    now: DateTime<Utc>,
) -> Result<(Commit, Outcome), Outcome> {
    let shopify_seller = Actor {
        party: Role::Seller,
        integration: Integration::Store(domain::Platform::Shopify),
        source: Source::Store(domain::Platform::Shopify),
    };
    let state = PlatformState {
        whole_order_cancelled: false,
        lines: vec![PlatformLine {
            line_item_id: "li_3".into(),
            quantity: target,
        }],
        reason_code: domain::ReasonCode::Other,
        reason: "Order edited in Shopify".into(),
    };
    match domain::reconcile(order, shopify_seller, &state, record_id.clone(), now) {
        Ok(r) => match (r.order, r.cancellation) {
            (None, _) => Err(Outcome::Unchanged),
            (Some(next), Some(can)) => {
                let u = units(
                    can.items
                        .iter()
                        .map(|x| (x.line_item_id.as_str(), x.quantity)),
                );
                let mut c = Commit::update(next);
                c.cancellation = Some(can);
                Ok((c, Outcome::Cancelled(record_id, u)))
            }
            (Some(next), None) => Ok((Commit::update(next), Outcome::CommittedBare)),
        },
        Err(e) => Err(Outcome::Refused(e)),
    }
}

/// Runs the race on order `o1` (li_1 x40, li_2 x30, li_3 x20) and checks
/// the final state against every writer's outcome. Returns the final
/// order, the committed fulfillment ids, and the outcomes, for
/// store-specific checks.
async fn race<S: Store + Clone>(s: &S) -> (Order, Vec<Outcome>) {
    let mut o = fixtures::order("o1", "b1", "s1", 0);
    o.line_items[0].quantity = 40;
    o.line_items[1].quantity = 30;
    let mut third = o.line_items[1].clone();
    third.id = "li_3".into();
    third.quantity = 20;
    o.line_items.push(third);
    s.commit(&Commit::create(o.clone())).await.unwrap();

    let (outcomes, attempts) = run_writers(s).await;

    let rec = s.order_record("o1").await.unwrap().unwrap();
    let order = rec.order.clone();
    // The invariant.
    for l in &order.line_items {
        assert!(
            l.fulfilled + l.cancelled <= l.quantity,
            "over-committed line {l:?}"
        );
    }
    // One version per committed change.
    let commits = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Outcome::Cancelled(..) | Outcome::Fulfilled(..) | Outcome::CommittedBare
            )
        })
        .count();
    assert_eq!(order.version, 1 + commits as u64);
    // Every successful cancellation is exactly one stored record, and
    // nothing else is stored.
    let cancelled = stored_units(&rec, &outcomes);
    // Committed units add up to the order's counters.
    let mut fulfilled: BTreeMap<String, u32> = BTreeMap::new();
    for o in &outcomes {
        if let Outcome::Fulfilled(_, u) = o {
            for (l, q) in u {
                *fulfilled.entry(l.clone()).or_default() += q;
            }
        }
    }
    for l in &order.line_items {
        assert_eq!(
            l.cancelled,
            cancelled.get(&l.id).copied().unwrap_or(0),
            "{}",
            l.id
        );
        assert_eq!(
            l.fulfilled,
            fulfilled.get(&l.id).copied().unwrap_or(0),
            "{}",
            l.id
        );
    }
    let mut refused: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        if let Outcome::Refused(e) = o {
            *refused.entry(e.code()).or_default() += 1;
        }
    }
    eprintln!(
        "race: {WRITERS} writers, {attempts} attempts, {commits} commits, refused {refused:?}, \
         final {:?}",
        order
            .line_items
            .iter()
            .map(|l| (l.id.as_str(), l.quantity, l.fulfilled, l.cancelled))
            .collect::<Vec<_>>()
    );
    (order, outcomes)
}

/// All writers at once: their outcomes, and the attempts in all.
async fn run_writers<S: Store + Clone>(s: &S) -> (Vec<Outcome>, usize) {
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let (s, barrier) = (s.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let op = op(i);
            if matches!(op, Op::CancelOrder) {
                // Join the race once some item-level work has landed,
                // while the rest is still going on.
                for _ in 0..400 {
                    if s.order("o1")
                        .await
                        .unwrap()
                        .is_some_and(|o| o.version >= 12)
                    {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
            write(&s, "o1", i, op).await
        }));
    }
    let mut outcomes = Vec::new();
    let mut attempts = 0;
    for t in tasks {
        let (outcome, n) = t.await.unwrap();
        attempts += n;
        outcomes.push(outcome);
    }
    (outcomes, attempts)
}

/// The stored cancellations' units per line, checking that each is the
/// record one writer committed, with the units it committed.
fn stored_units(rec: &OrderRecord, outcomes: &[Outcome]) -> BTreeMap<String, u32> {
    let mut won: HashMap<&str, &BTreeMap<String, u32>> = HashMap::new();
    for o in outcomes {
        if let Outcome::Cancelled(id, u) = o {
            assert!(won.insert(id, u).is_none());
        }
    }
    assert_eq!(rec.cancellations.len(), won.len());
    let mut cancelled: BTreeMap<String, u32> = BTreeMap::new();
    for c in &rec.cancellations {
        let u = won
            .get(c.id.as_str())
            .unwrap_or_else(|| panic!("stored cancellation {} no writer committed", c.id));
        let stored = units(
            c.items
                .iter()
                .map(|x| (x.line_item_id.as_str(), x.quantity)),
        );
        assert_eq!(&&stored, u, "cancellation {} units", c.id);
        for (l, q) in stored {
            *cancelled.entry(l).or_default() += q;
        }
    }
    cancelled
}

fn fulfillment_ids(outcomes: &[Outcome]) -> Vec<String> {
    let mut ids: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Fulfilled(id, _) => Some(id.clone()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_domain_writers_on_dynamodb() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let s = super::tests::fresh_store().await;
    let (_, outcomes) = race(&s).await;
    // Every successful fulfillment is exactly one stored record.
    let out = s
        .client
        .query()
        .table_name(&s.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :f)")
        .expression_attribute_values(":pk", AttributeValue::S("ORDER#o1".into()))
        .expression_attribute_values(":f", AttributeValue::S("FULFIL#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let mut stored: Vec<String> = out
        .items()
        .iter()
        .map(|i| i["id"].as_s().unwrap().clone())
        .collect();
    stored.sort();
    assert_eq!(stored, fulfillment_ids(&outcomes));
}

/// The same race on the embedded store: the harness itself is sound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_domain_writers_on_the_embedded_store() {
    let s = sqlite::EmbeddedStore::in_memory().unwrap();
    race(&s).await;
}
