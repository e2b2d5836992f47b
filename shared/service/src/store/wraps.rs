//! Decorators: a store wrapping another (`Wraps`) changes the roles it
//! implements itself and passes the others through, one marker trait per
//! role (`PassOrders`, ...), so it never copies the roles it leaves alone.

use std::future::Future;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use domain::events::{EndpointChange, EndpointChanged, EndpointRefusal, WebhookEndpoint};
use domain::scorecard::DayCounts;
use domain::{Cancellation, Company, Order, Role};

use super::companies::{Companies, CompanyWrite};
use super::events::{EventRecord, Recorded, WebhookStore};
use super::idempotency::IdempotencyRecords;
use super::orders::{Commit, Decided, OrderCursor, OrderPage, OrderRecord, Orders, StatusFilter};
use super::{IdempotencyRecord, Store};
use crate::error::StoreError;
use crate::ledger::{Claim, Ledger, LedgerEntry, LedgerKey, Outcome};

/// A store wrapping another.
pub trait Wraps: Send + Sync + 'static {
    type Inner: Send + Sync + 'static;
    fn inner(&self) -> &Self::Inner;
}

/// The wrapper passes the orders role to the store it wraps, unchanged.
pub trait PassOrders: Wraps {}
/// The wrapper passes the companies role through.
pub trait PassCompanies: Wraps {}
/// The wrapper passes the idempotency records role through.
pub trait PassIdempotency: Wraps {}
/// The wrapper passes the notification ledger through.
pub trait PassLedger: Wraps {}
/// The wrapper passes the event log through.
pub trait PassEvents: Wraps {}
/// The wrapper passes the reads spanning roles (`Store`'s own) through.
pub trait PassStore: Wraps {}

impl<D: PassOrders> Orders for D
where
    D::Inner: Orders,
{
    fn cancellations_since(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Cancellation>, StoreError>> + Send {
        self.inner().cancellations_since(since)
    }

    fn orders_by_ref(
        &self,
        company_id: &str,
        party: Role,
        order_ref: &str,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send {
        self.inner().orders_by_ref(company_id, party, order_ref)
    }

    fn seller_orders_by_po(
        &self,
        seller_id: &str,
        po: &str,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send {
        self.inner().seller_orders_by_po(seller_id, po)
    }

    fn order(&self, id: &str) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        self.inner().order(id)
    }

    fn score_rows(
        &self,
        company_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DayCounts>, StoreError>> + Send {
        self.inner().score_rows(company_id, from, to)
    }

    fn all_score_rows(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DayCounts>, StoreError>> + Send {
        self.inner().all_score_rows(from, to)
    }

    fn order_record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send {
        self.inner().order_record(id)
    }

    fn list_orders(
        &self,
        company_id: &str,
        filter: StatusFilter,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send {
        self.inner().list_orders(company_id, filter, limit, after)
    }

    fn commit(&self, commit: &Commit) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner().commit(commit)
    }

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
        self.inner().decide_and_commit(order_id, decide)
    }

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
        self.inner().decide_and_commit_on(read, decide)
    }
}

impl<D: PassCompanies> Companies for D
where
    D::Inner: Companies,
{
    fn put_company(
        &self,
        company: &Company,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner().put_company(company)
    }

    fn company(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Company>, StoreError>> + Send {
        self.inner().company(id)
    }

    fn change_company<T, E, F>(
        &self,
        id: &str,
        change: F,
    ) -> impl Future<Output = Result<Result<T, E>, StoreError>> + Send
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(Option<&Company>) -> Result<CompanyWrite<T>, E> + Send + 'static,
    {
        self.inner().change_company(id, change)
    }

    fn companies(&self) -> impl Future<Output = Result<Vec<Company>, StoreError>> + Send {
        self.inner().companies()
    }

    fn company_by_shop_domain(
        &self,
        shop_domain: &str,
    ) -> impl Future<Output = Result<Option<Company>, StoreError>> + Send {
        self.inner().company_by_shop_domain(shop_domain)
    }

    fn company_by_api_key_hash(
        &self,
        key_hash: &str,
    ) -> impl Future<Output = Result<Option<Company>, StoreError>> + Send {
        self.inner().company_by_api_key_hash(key_hash)
    }
}

impl<D: PassIdempotency> IdempotencyRecords for D
where
    D::Inner: IdempotencyRecords,
{
    fn idempotency_record(
        &self,
        company_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, StoreError>> + Send {
        self.inner().idempotency_record(company_id, key)
    }

    fn put_idempotency_record(
        &self,
        record: &IdempotencyRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner().put_idempotency_record(record)
    }
}

impl<D: PassStore + Orders + Companies + IdempotencyRecords> Store for D
where
    D::Inner: Store,
{
    fn company_and_order(
        &self,
        key_hash: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<(Option<Company>, Option<Order>), StoreError>> + Send {
        self.inner().company_and_order(key_hash, order_id)
    }

    fn order_with_notifications(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<(OrderRecord, Vec<LedgerEntry>)>, StoreError>> + Send
    {
        self.inner().order_with_notifications(id)
    }

    fn notification_entries(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send {
        self.inner().notification_entries(order_id)
    }
}

impl<D: PassLedger> Ledger for D
where
    D::Inner: Ledger,
{
    fn claim(
        &self,
        key: &LedgerKey,
        now: DateTime<Utc>,
        lock_for: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        self.inner().claim(key, now, lock_for)
    }

    fn complete(
        &self,
        key: &LedgerKey,
        token: &str,
        outcome: Outcome,
        detail: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.inner().complete(key, token, outcome, detail, now)
    }

    fn release(
        &self,
        key: &LedgerKey,
        token: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.inner().release(key, token, error, now)
    }

    fn ledger_entries(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send {
        self.inner().ledger_entries(order_id)
    }

    fn entries_since(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send {
        self.inner().entries_since(since)
    }

    fn fail_sent(
        &self,
        key: &LedgerKey,
        attempt: u32,
        detail: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.inner().fail_sent(key, attempt, detail, now)
    }

    fn reopen_failed(
        &self,
        key: &LedgerKey,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.inner().reopen_failed(key)
    }
}

impl<D: PassEvents> WebhookStore for D
where
    D::Inner: WebhookStore,
{
    fn change_endpoints(
        &self,
        company_id: &str,
        change: &EndpointChange,
    ) -> impl Future<Output = Result<Result<EndpointChanged, EndpointRefusal>, StoreError>> + Send
    {
        self.inner().change_endpoints(company_id, change)
    }

    fn add_endpoint(
        &self,
        company_id: &str,
        endpoint: &WebhookEndpoint,
        record: Option<&IdempotencyRecord>,
    ) -> impl Future<Output = Result<Result<EndpointChanged, EndpointRefusal>, StoreError>> + Send
    {
        self.inner().add_endpoint(company_id, endpoint, record)
    }

    fn record_event(
        &self,
        event: &EventRecord,
        dedupe: &str,
        keep_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        self.inner().record_event(event, dedupe, keep_until)
    }

    fn event(
        &self,
        company_id: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<Option<EventRecord>, StoreError>> + Send {
        self.inner().event(company_id, event_id)
    }

    fn events_after(
        &self,
        company_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Option<(Vec<EventRecord>, bool)>, StoreError>> + Send {
        self.inner().events_after(company_id, after, limit)
    }
}
