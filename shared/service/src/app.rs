//! Application service: the use cases, orchestrating the pure domain and the
//! store. Every change to an order is a pure decision the store runs on the
//! order's current state and commits with it (`Store::decide_and_commit`);
//! a store that decides optimistically may report a lost race, and the
//! service then backs off (jittered, exponential, within a time budget) and
//! decides again.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::ledger::LedgerEntry;
use crate::platform::PlatformReader;
use crate::store::{
    Commit, Decided, DeliveryRecord, IdempotencyRecord, OrderCursor, OrderPage, OrderRecord,
    StatusFilter, Store, StoreError,
};
use domain::inbound::PlatformOrder;
use domain::{
    self, Actor, CancelRequest, Cancellation, Company, DomainError, FulfillRequest, Fulfillment,
    NewOrder, NotPermitted, Order, Role, Source, StoreRefs,
};

/// Why a use case did not complete. The HTTP layer maps each to a status and
/// a contract code.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("missing, malformed or unknown API key")]
    Unauthorized,
    #[error("order {0} not found")]
    OrderNotFound(String),
    #[error("seller {0} is not a seller company on this marketplace")]
    UnknownSeller(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("the order is being changed by someone else; retry")]
    Conflict,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Store(StoreError),
}

impl From<NotPermitted> for AppError {
    fn from(e: NotPermitted) -> Self {
        AppError::Domain(e.into())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Store(e)
    }
}

/// A result, or the stored response of an earlier request with the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Done(T),
    Replayed(IdempotencyRecord),
}

/// The response a result is answered with. Kept under the request's
/// idempotency key in the same commit as the change, so a replay answers
/// exactly the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// A keyed request: its key, and how its result of type `T` is answered
/// (the HTTP layer's rendering; the service never renders responses).
pub struct Idempotent<'a, T> {
    pub key: &'a Idempotency,
    pub reply: fn(&T) -> Reply,
}

impl<T> Clone for Idempotent<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Idempotent<'_, T> {}

/// The key of a keyed request, if any.
fn key_of<T>(idem: Option<Idempotent<'_, T>>) -> Option<&Idempotency> {
    idem.map(|i| i.key)
}

/// A client's `Idempotency-Key` and the fingerprint of its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    /// SHA-256 hex of method, path and body.
    pub fingerprint: String,
}

impl Idempotency {
    pub fn new(key: &str, method: &str, path: &str, body: &[u8]) -> Self {
        let mut h = Sha256::new();
        for part in [method.as_bytes(), path.as_bytes(), body] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        Idempotency {
            key: key.to_owned(),
            fingerprint: hex::encode(h.finalize()),
        }
    }
}

/// The lowercase hex SHA-256 digest of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The SHA-256 hex digest under which an API key is stored.
pub fn hash_api_key(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// How a decision that lost a race on its order is tried again: after the
/// n-th lost race, a wait drawn uniformly from `[0, min(cap, base * 2^(n-1))]`
/// ("full jitter": racing clients spread out instead of colliding again in
/// lock-step), for as long as `budget` lasts, at most `max_attempts` tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceRetry {
    pub base: std::time::Duration,
    pub cap: std::time::Duration,
    /// Time from the first try after which no new try starts.
    pub budget: std::time::Duration,
    /// A safety net under the budget (a store answering conflicts at once).
    pub max_attempts: u32,
}

impl Default for RaceRetry {
    fn default() -> Self {
        // Measured on one hot order (BENCHMARKS.md, "Hot orders"): a cap of
        // 100 ms made 32 contenders overload the store with doomed tries; at
        // 1 s more of them commit. The budget keeps a request well inside
        // the functions' timeouts.
        RaceRetry {
            base: std::time::Duration::from_millis(5),
            cap: std::time::Duration::from_secs(1),
            budget: std::time::Duration::from_secs(5),
            max_attempts: 200,
        }
    }
}

impl RaceRetry {
    /// The longest wait after the `lost`-th lost race (1-based).
    pub fn ceiling(&self, lost: u32) -> std::time::Duration {
        let factor = 1u32.checked_shl(lost.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random wait after the `lost`-th lost race.
    fn wait(&self, lost: u32) -> std::time::Duration {
        let ceiling = u64::try_from(self.ceiling(lost).as_nanos()).unwrap_or(u64::MAX);
        std::time::Duration::from_nanos(rand::random_range(0..=ceiling))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Retrying decisions that lost a race on the order's version.
    pub race_retry: RaceRetry,
    /// How long idempotency records are kept (at least 24 h by contract).
    pub idempotency_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            race_retry: RaceRetry::default(),
            idempotency_ttl: Duration::hours(48),
        }
    }
}

pub struct App<S> {
    pub store: S,
    pub config: Config,
    /// Reads orders from store platforms for webhook deliveries that name
    /// an order without its state; hosts without webhooks have none.
    pub(crate) platforms: Option<Box<dyn PlatformReader>>,
}

/// What reconciling one of our orders to a platform's state came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileResult {
    /// Units were cancelled.
    Cancelled,
    /// The order already matched the platform (a replay, our own echo, an increase).
    Unchanged,
    /// Nothing was open to cancel, but the platform asked for shipped units.
    ShortfallRecorded,
    /// This delivery was processed before.
    Duplicate,
}

/// What reconciling one of our orders to a platform's state did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileOutcome {
    pub order_id: String,
    pub result: ReconcileResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shortfalls: Vec<domain::Shortfall>,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::generate())
}

/// Timestamps are kept to the millisecond: exact round trips through every
/// store and short RFC 3339 strings.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

impl<S: Store> App<S> {
    pub fn new(store: S) -> Self {
        App {
            store,
            config: Config::default(),
            platforms: None,
        }
    }

    /// Read platform orders through `reader` (webhook hosts).
    pub fn with_platform_reader(self, reader: impl PlatformReader) -> Self {
        App {
            platforms: Some(Box::new(reader)),
            ..self
        }
    }

    pub async fn authenticate(&self, api_key: &str) -> Result<Company, AppError> {
        if api_key.is_empty() {
            return Err(AppError::Unauthorized);
        }
        self.store
            .company_by_api_key_hash(&hash_api_key(api_key))
            .await?
            .ok_or(AppError::Unauthorized)
    }

    /// A stored response for this key, if any; a key reused with another
    /// request is refused.
    async fn replay(
        &self,
        company: &Company,
        idem: Option<&Idempotency>,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
        let Some(idem) = idem else { return Ok(None) };
        match self
            .store
            .idempotency_record(&company.id, &idem.key)
            .await?
        {
            Some(rec) if rec.fingerprint == idem.fingerprint => Ok(Some(rec)),
            Some(_) => Err(AppError::IdempotencyKeyReused),
            None => Ok(None),
        }
    }

    /// After a commit lost to the same key: the winner's response.
    async fn replay_after_race(
        &self,
        company: &Company,
        idem: Option<&Idempotency>,
    ) -> Result<IdempotencyRecord, AppError> {
        self.replay(company, idem).await?.ok_or(AppError::Conflict)
    }

    fn record(&self, company: &Company, idem: &Idempotency, reply: Reply) -> IdempotencyRecord {
        idempotency_record(&company.id, idem, reply, self.config.idempotency_ttl)
    }

    /// Remember an error response for a key (4xx only; 5xx are not kept).
    /// Returns the response to send: this one, or one stored meanwhile.
    pub async fn remember_error(
        &self,
        company: &Company,
        idem: &Idempotency,
        reply: Reply,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
        let rec = self.record(company, idem, reply);
        match self.store.put_idempotency_record(&rec).await {
            Ok(()) => Ok(None),
            Err(StoreError::IdempotencyKeyExists) => self.replay(company, Some(idem)).await,
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_order(
        &self,
        buyer: &Company,
        seller_id: &str,
        request: NewOrder,
        keyed: Option<Idempotent<'_, OrderRecord>>,
    ) -> Result<Outcome<OrderRecord>, AppError> {
        let idem = key_of(keyed);
        if let Some(rec) = self.replay(buyer, idem).await? {
            return Ok(Outcome::Replayed(rec));
        }
        if buyer.role != Role::Buyer {
            return Err(NotPermitted::OnlyBuyersCreateOrders.into());
        }
        domain::refs::buyer_sets_own_refs(&request)?;
        let seller = match self.store.company(seller_id).await? {
            Some(s) if s.role == Role::Seller => s,
            _ => return Err(AppError::UnknownSeller(seller_id.to_owned())),
        };
        let order = domain::create_order(buyer, &seller, request, new_id("ord"), now())?;
        let record = OrderRecord {
            order,
            cancellations: Vec::new(),
        };
        let mut commit = Commit::create(record.order.clone());
        commit.idempotency = keyed.map(|k| self.record(buyer, k.key, (k.reply)(&record)));
        match self.store.commit(&commit).await {
            Ok(()) => Ok(Outcome::Done(record)),
            Err(StoreError::IdempotencyKeyExists) => Ok(Outcome::Replayed(
                self.replay_after_race(buyer, idem).await?,
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Load an order the company is party to; anything else is "not found".
    async fn visible_order(
        &self,
        company: &Company,
        order_id: &str,
    ) -> Result<(Order, Role), AppError> {
        let order = self
            .store
            .order(order_id)
            .await?
            .ok_or_else(|| AppError::OrderNotFound(order_id.to_owned()))?;
        let party = order
            .party_of(&company.id)
            .ok_or_else(|| AppError::OrderNotFound(order_id.to_owned()))?;
        Ok((order, party))
    }

    pub async fn order(&self, company: &Company, order_id: &str) -> Result<OrderRecord, AppError> {
        let record = self
            .store
            .order_record(order_id)
            .await?
            .filter(|r| r.order.party_of(&company.id).is_some())
            .ok_or_else(|| AppError::OrderNotFound(order_id.to_owned()))?;
        Ok(record)
    }

    pub async fn list_orders(
        &self,
        company: &Company,
        filter: StatusFilter,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> Result<OrderPage, AppError> {
        Ok(self
            .store
            .list_orders(&company.id, filter, limit, after)
            .await?)
    }

    /// The one decide-and-commit loop: the store decides on the order's
    /// current state and commits; a lost race (`VersionConflict`) waits a
    /// jittered, growing while and decides again, within
    /// `config.race_retry`, then answers `Conflict`. `OrderMissing` is
    /// `OrderNotFound`; the other store refusals are `AppError::Store` for
    /// the caller to read.
    async fn decide_with_retries<T, F>(&self, order_id: &str, decide: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: Fn(&Order) -> Result<Decided<T>, AppError> + Send + Sync + 'static,
    {
        let policy = &self.config.race_retry;
        let decide = Arc::new(decide);
        let started = tokio::time::Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            let d = Arc::clone(&decide);
            match self
                .store
                .decide_and_commit(order_id, move |o: &Order| d(o))
                .await
            {
                Ok(decided) => return decided,
                Err(StoreError::VersionConflict) => {}
                Err(StoreError::OrderMissing) => {
                    return Err(AppError::OrderNotFound(order_id.to_owned()));
                }
                Err(e) => return Err(AppError::Store(e)),
            }
            let elapsed = started.elapsed();
            let Some(left) = policy
                .budget
                .checked_sub(elapsed)
                .filter(|left| !left.is_zero() && attempt < policy.max_attempts)
            else {
                tracing::warn!(
                    order_id,
                    attempts = attempt,
                    ?elapsed,
                    "giving up after repeated version conflicts"
                );
                return Err(AppError::Conflict);
            };
            let wait = policy.wait(attempt).min(left);
            tracing::debug!(
                order_id,
                attempt,
                ?elapsed,
                ?wait,
                "lost a race on the order version; deciding again"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// A decision of `company` on one of its orders, answered with the
    /// created record (kept under the idempotency key, if any, in the same
    /// commit). `decide` gets the order and the company's party on it, and
    /// returns the commit, the record and the record's JSON.
    async fn decide_on_order<T, F>(
        &self,
        company: &Company,
        order_id: &str,
        keyed: Option<Idempotent<'_, T>>,
        decide: F,
    ) -> Result<Outcome<T>, AppError>
    where
        T: Send + 'static,
        F: Fn(&Order, Role) -> Result<(Commit, T), AppError> + Send + Sync + 'static,
    {
        let idem = key_of(keyed);
        if let Some(rec) = self.replay(company, idem).await? {
            return Ok(Outcome::Replayed(rec));
        }
        let company_id = company.id.clone();
        let key = keyed.map(|k| (k.key.clone(), k.reply));
        let ttl = self.config.idempotency_ttl;
        let id = order_id.to_owned();
        let decision = move |order: &Order| {
            let party = order
                .party_of(&company_id)
                .ok_or_else(|| AppError::OrderNotFound(id.clone()))?;
            let (mut commit, created) = decide(order, party)?;
            commit.idempotency = key
                .as_ref()
                .map(|(k, reply)| idempotency_record(&company_id, k, reply(&created), ttl));
            Ok(Decided::Commit(Box::new(commit), created))
        };
        match self.decide_with_retries(order_id, decision).await {
            Ok(created) => Ok(Outcome::Done(created)),
            Err(AppError::Store(StoreError::IdempotencyKeyExists)) => Ok(Outcome::Replayed(
                self.replay_after_race(company, idem).await?,
            )),
            Err(e) => Err(e),
        }
    }

    /// Set the caller's own store references on an order (its side only),
    /// answered with the order as clients see it. The answer lists the
    /// order's cancellations, so it is decided only on the version those
    /// were read at: when the order moved on meanwhile, read it again.
    pub async fn set_store_refs(
        &self,
        company: &Company,
        order_id: &str,
        request: &StoreRefs,
        keyed: Option<Idempotent<'_, OrderRecord>>,
    ) -> Result<Outcome<OrderRecord>, AppError> {
        let idem = key_of(keyed);
        if let Some(rec) = self.replay(company, idem).await? {
            return Ok(Outcome::Replayed(rec));
        }
        for _ in 0..self.config.race_retry.max_attempts {
            let read = self.order(company, order_id).await?;
            let read_version = read.order.version;
            let cancellations = Arc::new(read.cancellations);
            let (company_id, integration) = (company.id.clone(), company.integration);
            let (key, ttl, id) = (
                keyed.map(|k| (k.key.clone(), k.reply)),
                self.config.idempotency_ttl,
                order_id.to_owned(),
            );
            let request = request.clone();
            let decision = move |order: &Order| {
                if order.version != read_version {
                    return Ok(Decided::Unchanged(None));
                }
                let party = order
                    .party_of(&company_id)
                    .ok_or_else(|| AppError::OrderNotFound(id.clone()))?;
                let next = domain::set_store_refs(order, party, integration, &request, now())?;
                let updated = OrderRecord {
                    order: next.clone(),
                    cancellations: cancellations.to_vec(),
                };
                let mut commit = Commit::update(next).replacing_refs_of(order);
                commit.idempotency = key
                    .as_ref()
                    .map(|(k, reply)| idempotency_record(&company_id, k, reply(&updated), ttl));
                Ok(Decided::Commit(Box::new(commit), Some(updated)))
            };
            match self.decide_with_retries(order_id, decision).await {
                Ok(Some(updated)) => return Ok(Outcome::Done(updated)),
                // A cancellation landed after the read: read again.
                Ok(None) => continue,
                Err(AppError::Store(StoreError::IdempotencyKeyExists)) => {
                    return Ok(Outcome::Replayed(
                        self.replay_after_race(company, idem).await?,
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        Err(AppError::Conflict)
    }

    /// Create a cancellation from the app or the API, or preview it.
    pub async fn cancel(
        &self,
        company: &Company,
        order_id: &str,
        request: &CancelRequest,
        source: Source,
        keyed: Option<Idempotent<'_, Cancellation>>,
    ) -> Result<Outcome<Cancellation>, AppError> {
        let id = new_id("can");
        let integration = company.integration;
        let request = request.clone();
        self.decide_on_order(company, order_id, keyed, move |order, party| {
            let actor = Actor {
                party,
                integration,
                source,
            };
            let d = domain::cancel(order, actor, &request, id.clone(), now())?;
            let mut commit = Commit::update(d.order);
            commit.cancellation = Some(d.record.clone());
            Ok((commit, d.record))
        })
        .await
    }

    /// The cancellation that `cancel` would create now; nothing is written.
    pub async fn preview_cancel(
        &self,
        company: &Company,
        order_id: &str,
        request: &CancelRequest,
        source: Source,
    ) -> Result<Cancellation, AppError> {
        let (order, party) = self.visible_order(company, order_id).await?;
        let actor = Actor {
            party,
            integration: company.integration,
            source,
        };
        Ok(domain::cancel(&order, actor, request, new_id("can"), now())?.record)
    }

    pub async fn fulfill(
        &self,
        company: &Company,
        order_id: &str,
        request: &FulfillRequest,
        keyed: Option<Idempotent<'_, Fulfillment>>,
    ) -> Result<Outcome<Fulfillment>, AppError> {
        let id = new_id("ful");
        let request = request.clone();
        self.decide_on_order(company, order_id, keyed, move |order, party| {
            let d = domain::fulfill(order, party, &request, id.clone(), now())?;
            let mut commit = Commit::update(d.order);
            commit.fulfillment = Some(d.record.clone());
            Ok((commit, d.record))
        })
        .await
    }

    pub async fn cancellations(
        &self,
        company: &Company,
        order_id: &str,
    ) -> Result<Vec<Cancellation>, AppError> {
        Ok(self.order(company, order_id).await?.cancellations)
    }

    /// Bring every order of `company` that matches the platform order to the
    /// platform's quantities. One commit per order, each carrying the
    /// delivery key so a redelivery is a no-op.
    pub async fn reconcile_platform_order(
        &self,
        company: &Company,
        source: Source,
        po: &PlatformOrder,
        delivery: &str,
    ) -> Result<Vec<ReconcileOutcome>, AppError> {
        let party = company.role;
        let orders = self
            .store
            .orders_by_ref(&company.id, party, &po.order_ref)
            .await?;
        let po = Arc::new(po.clone());
        let mut outcomes = Vec::with_capacity(orders.len());
        for found in orders {
            let order_id = found.id;
            let actor = Actor {
                party,
                integration: company.integration,
                source,
            };
            let (po, company_id) = (Arc::clone(&po), company.id.clone());
            let delivery_key = format!("{delivery}:{order_id}");
            let decision = move |order: &Order| {
                let state = domain::PlatformState {
                    whole_order_cancelled: po.cancelled(),
                    lines: platform_lines(order, party, &po),
                    reason: po.reason(),
                };
                let r = domain::reconcile(order, actor, &state, new_id("can"), now())?;
                let done = Reconciliation {
                    cancellation_id: r.cancellation.as_ref().map(|c| c.id.clone()),
                    shortfalls: r.shortfalls,
                    increases: r.increases,
                };
                let Some(next) = r.order else {
                    return Ok(Decided::Unchanged((false, done)));
                };
                let at = now();
                let mut commit = Commit::update(next);
                commit.cancellation = r.cancellation;
                commit.delivery = Some(DeliveryRecord {
                    key: delivery_key.clone(),
                    company_id: company_id.clone(),
                    received_at: at,
                    expires_at: at + Duration::days(7),
                });
                Ok(Decided::Commit(Box::new(commit), (true, done)))
            };
            let (changed, done) = match self.decide_with_retries(&order_id, decision).await {
                Ok(r) => r,
                Err(AppError::Store(StoreError::DeliveryExists)) => {
                    outcomes.push(ReconcileOutcome {
                        order_id,
                        result: ReconcileResult::Duplicate,
                        cancellation_id: None,
                        shortfalls: vec![],
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            for inc in &done.increases {
                tracing::info!(order_id, line_item_id = %inc.line_item_id, active = inc.active, platform = inc.platform, "platform quantity above ours; increases are not cancellations");
            }
            for s in &done.shortfalls {
                tracing::warn!(order_id, line_item_id = %s.line_item_id, units = s.units, "platform asked to cancel units already fulfilled; recorded as shortfall");
            }
            let result = match (changed, &done.cancellation_id) {
                (false, _) => ReconcileResult::Unchanged,
                (true, Some(_)) => ReconcileResult::Cancelled,
                (true, None) => ReconcileResult::ShortfallRecorded,
            };
            if changed {
                tracing::info!(
                    order_id,
                    cancellation_id = ?done.cancellation_id,
                    delivery,
                    "reconciled to the platform"
                );
            }
            outcomes.push(ReconcileOutcome {
                order_id,
                result,
                cancellation_id: done.cancellation_id,
                shortfalls: done.shortfalls,
            });
        }
        Ok(outcomes)
    }
}

/// What one reconciliation decided, for its outcome and its log lines.
struct Reconciliation {
    cancellation_id: Option<String>,
    shortfalls: Vec<domain::Shortfall>,
    increases: Vec<domain::Increase>,
}

/// An idempotency record of `company_id` for the response `status`, `body`.
fn idempotency_record(
    company_id: &str,
    idem: &Idempotency,
    reply: Reply,
    ttl: Duration,
) -> IdempotencyRecord {
    let created_at = now();
    IdempotencyRecord {
        company_id: company_id.to_owned(),
        key: idem.key.clone(),
        fingerprint: idem.fingerprint.clone(),
        status: reply.status,
        body: reply.body,
        created_at,
        expires_at: created_at + ttl,
    }
}

/// Our lines' platform quantities: each line maps through the company's
/// line reference; a mapped line missing from a complete list was removed.
fn platform_lines(order: &Order, party: Role, po: &PlatformOrder) -> Vec<domain::PlatformLine> {
    order
        .line_items
        .iter()
        .filter_map(|l| {
            let r = match party {
                Role::Buyer => l.buyer_line_ref.as_deref(),
                Role::Seller => l.seller_line_ref.as_deref(),
            }?;
            let q = po
                .lines
                .iter()
                .find(|(id, _)| id == r)
                .map(|(_, q)| *q)
                .or(po.complete_line_list.then_some(0))?;
            Some(domain::PlatformLine {
                line_item_id: l.id.clone(),
                quantity: q,
            })
        })
        .collect()
}

impl<S: Store> App<S> {
    /// The notification ledger records of an order's cancellations, for the
    /// summaries clients see on them.
    pub async fn notifications(&self, order_id: &str) -> Result<Vec<LedgerEntry>, AppError> {
        Ok(self.store.notification_entries(order_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration as StdDuration;

    use tokio::time::Instant;

    use super::*;
    use domain::{Integration, ItemRequest};
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
        /// `orders_by_ref` still finds the order when `order` is gone.
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

    impl Store for Fake {
        async fn put_company(&self, _: &Company) -> Result<(), StoreError> {
            Ok(())
        }
        async fn company(&self, _: &str) -> Result<Option<Company>, StoreError> {
            Ok(None)
        }
        async fn company_by_shop_domain(&self, _: &str) -> Result<Option<Company>, StoreError> {
            Ok(None)
        }
        async fn orders_by_ref(&self, _: &str, _: Role, _: &str) -> Result<Vec<Order>, StoreError> {
            Ok(vec![self.listed.clone()])
        }
        async fn company_by_api_key_hash(&self, _: &str) -> Result<Option<Company>, StoreError> {
            Ok(None)
        }
        async fn order(&self, _: &str) -> Result<Option<Order>, StoreError> {
            Ok(self.order.lock().unwrap().clone())
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

    /// Order o1 of buyer b1 and seller s1 (a Shopify store: its refs set).
    fn order() -> Order {
        let mut o = fixtures::order("o1", "b1", "s1", 0);
        o.seller_order_ref = Some("W-1".into());
        o.line_items[0].seller_line_ref = Some("L-1".into());
        o
    }

    fn app(commits: Commits, policy: RaceRetry) -> App<Fake> {
        let mut app = App::new(Fake::new(Some(order()), order(), commits));
        app.config.race_retry = policy;
        app
    }

    fn buyer() -> Company {
        fixtures::company("b1", Role::Buyer)
    }

    fn shopify_seller() -> Company {
        let mut s = fixtures::company("s1", Role::Seller);
        s.integration = Integration::Shopify;
        s
    }

    fn one_unit() -> CancelRequest {
        CancelRequest::Items(vec![ItemRequest {
            line_item_id: "li_1".into(),
            quantity: 1,
            reason: Some("out of stock".into()),
        }])
    }

    async fn cancel_one<S: Store>(app: &App<S>) -> Result<Outcome<Cancellation>, AppError> {
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
        let app = App::new(store);
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
                app.reconcile_platform_order(&shopify_seller(), Source::Shopify, &po, "evt-1")
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
}
