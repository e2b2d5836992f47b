//! The orders role: orders, their cancellations and fulfilments, and the
//! records committed with them (idempotency, processed deliveries).

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use domain::scorecard::DayCounts;
use domain::{Cancellation, Fulfillment, Order, Role};

use crate::error::StoreError;
use crate::records::IdempotencyRecord;

/// A processed webhook delivery (platform de-duplication key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub key: String,
    pub company_id: String,
    pub received_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One atomic change: the new order state (with the version it was decided
/// on) and the records that explain it. All of it commits, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub order: Order,
    /// The version read before deciding; `None` creates the order.
    pub expected_version: Option<u64>,
    pub cancellation: Option<Cancellation>,
    pub fulfillment: Option<Fulfillment>,
    pub idempotency: Option<IdempotencyRecord>,
    pub delivery: Option<DeliveryRecord>,
    /// The order references this change replaces, when it may change them
    /// (`replacing_refs_of`); `None`: they stay as they are. Carried rather
    /// than re-read so that a store keeping look-up items by reference
    /// (DynamoDB) can swap them in the same transaction; the version check
    /// makes sure these are the stored ones.
    pub replaced_refs: Option<OrderRefs>,
}

/// An order's references in its buyer's and its seller's stores.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderRefs {
    pub buyer: Option<String>,
    pub seller: Option<String>,
}

impl OrderRefs {
    pub(crate) fn of(order: &Order) -> Self {
        OrderRefs {
            buyer: order.buyer_order_ref.clone(),
            seller: order.seller_order_ref.clone(),
        }
    }
}

impl Commit {
    /// This change may change the order references of `previous` (the
    /// version it was decided on).
    pub fn replacing_refs_of(mut self, previous: &Order) -> Self {
        self.replaced_refs = Some(OrderRefs::of(previous));
        self
    }

    /// A change to an existing order decided on version `order.version - 1`.
    pub fn update(order: Order) -> Self {
        let expected = order.version.saturating_sub(1);
        Commit {
            order,
            expected_version: Some(expected),
            cancellation: None,
            fulfillment: None,
            idempotency: None,
            delivery: None,
            replaced_refs: None,
        }
    }

    pub fn create(order: Order) -> Self {
        Commit {
            order,
            expected_version: None,
            cancellation: None,
            fulfillment: None,
            idempotency: None,
            delivery: None,
            replaced_refs: None,
        }
    }
}

/// What a decision on an order's current state asks the store to do.
#[derive(Debug)]
pub enum Decided<T> {
    /// Write this change (decided on the order as read) and answer `T`.
    Commit(Box<Commit>, T),
    /// Nothing to write; answer `T`.
    Unchanged(T),
}

/// `Orders::decide_and_commit` done optimistically: read the order, decide,
/// commit conditioned on the version read. A change committed in between
/// makes the commit fail with `VersionConflict`, for the caller to retry.
async fn decide_optimistically<S, T, E, F>(
    store: &S,
    order_id: &str,
    decide: F,
) -> Result<Result<T, E>, StoreError>
where
    S: Orders + ?Sized,
    F: FnOnce(&Order) -> Result<Decided<T>, E>,
{
    let order = store
        .order(order_id)
        .await?
        .ok_or(StoreError::OrderMissing)?;
    match decide(&order) {
        Err(e) => Ok(Err(e)),
        Ok(Decided::Unchanged(t)) => Ok(Ok(t)),
        Ok(Decided::Commit(commit, t)) => {
            store.commit(&commit).await?;
            Ok(Ok(t))
        }
    }
}

/// An order as clients see it: its state and its cancellations, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub order: Order,
    pub cancellations: Vec<Cancellation>,
}

/// Which orders a listing shows (each store filters on its own index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Any,
    Open,
    Complete,
}

/// Position after the last order of a page (orders are newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<OrderRecord>,
    pub next: Option<OrderCursor>,
}

impl OrderPage {
    /// A page of `orders`; when `more` exist, the cursor is the last one's.
    pub fn new(orders: Vec<OrderRecord>, more: bool) -> Self {
        let next = more.then(|| orders.last()).flatten().map(|r| OrderCursor {
            created_at: r.order.created_at,
            id: r.order.id.clone(),
        });
        OrderPage { orders, next }
    }
}

/// Orders as stored. Every state change goes through `commit`, which checks
/// the order's version and the uniqueness of every record atomically.
pub trait Orders: Send + Sync + 'static {
    /// Every cancellation created at or after `since`, oldest first
    /// (operator commands: a full read, never on a request's path).
    fn cancellations_since(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Cancellation>, StoreError>> + Send;

    /// Orders where the company is `party` and its order reference (the id
    /// in its store platform) is `order_ref`. A buyer's store order may
    /// span several of our orders, one per seller.
    fn orders_by_ref(
        &self,
        company_id: &str,
        party: Role,
        order_ref: &str,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;

    /// The orders of seller `seller_id` whose buyer's order ref (the
    /// buyer's PO number) is `po`. Indexed: one query, never a listing.
    /// Ordered by id, as `orders_by_ref`.
    fn seller_orders_by_po(
        &self,
        seller_id: &str,
        po: &str,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;

    /// The order's current state and version, without its history.
    fn order(&self, id: &str) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    /// The order with its cancellations, oldest first.
    fn order_record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send;

    /// A company's orders (as buyer or seller), newest first.
    fn list_orders(
        &self,
        company_id: &str,
        filter: StatusFilter,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send;

    /// The company's scorecard rows (one per partner and day of the
    /// orders' creation, or a few where a store spreads a busy pair) for
    /// days `from..=to`: a read bounded by partners and days, never by
    /// orders. Every commit keeps them up to date (`ScoreChange`).
    fn score_rows(
        &self,
        company_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DayCounts>, StoreError>> + Send;

    /// Every company's scorecard rows for days `from..=to` (operator
    /// commands: a full read, never on a request's path).
    fn all_score_rows(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DayCounts>, StoreError>> + Send;

    /// Apply a change atomically, with the scorecard counts it changes;
    /// see `StoreError` for the refusals.
    fn commit(&self, commit: &Commit) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Read the order, run `decide` on it and commit what it decided, as
    /// one step: `decide` is pure (it may run again on a fresh read if the
    /// caller retries). `Ok(Err(e))` is the decision's own refusal, with
    /// nothing written. `OrderMissing` when there is no such order;
    /// `VersionConflict` when the order changed between the read and the
    /// commit (only stores that decide optimistically: the default).
    fn decide_and_commit<T, E, F>(
        &self,
        order_id: &str,
        decide: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&Order) -> Result<Decided<T>, E> + Send + 'static,
    {
        decide_optimistically(self, order_id, decide)
    }

    /// `decide_and_commit` on an order the caller has read already (in the
    /// same round trip as its credentials): a store that decides
    /// optimistically decides on `read` and commits conditioned on its
    /// version (the default); one that decides under a lock reads again.
    fn decide_and_commit_on<T, E, F>(
        &self,
        read: Order,
        decide: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&Order) -> Result<Decided<T>, E> + Send + 'static,
    {
        async move {
            match decide(&read) {
                Err(e) => Ok(Err(e)),
                Ok(Decided::Unchanged(t)) => Ok(Ok(t)),
                Ok(Decided::Commit(commit, t)) => {
                    self.commit(&commit).await?;
                    Ok(Ok(t))
                }
            }
        }
    }
}

/// The order as `c` left it: later cancellations (the notifier may run
/// after them) are taken off again, so each event shows its own moment
/// and `order.completed` follows the cancellation that completed it.
pub(crate) fn as_of(record: &OrderRecord, c: &Cancellation) -> (Order, Vec<Cancellation>) {
    let Some(pos) = record.cancellations.iter().position(|x| x.id == c.id) else {
        return (record.order.clone(), record.cancellations.clone());
    };
    let (upto, later) = record.cancellations.split_at(pos.saturating_add(1));
    let mut order = record.order.clone();
    for item in later.iter().flat_map(|l| &l.items) {
        if let Some(line) = order
            .line_items
            .iter_mut()
            .find(|l| l.id == item.line_item_id)
        {
            line.cancelled = line.cancelled.saturating_sub(item.quantity);
        }
    }
    (order, upto.to_vec())
}
