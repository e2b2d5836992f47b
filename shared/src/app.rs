//! Application service: the use cases, orchestrating the pure domain and the
//! store. Every change is decided on a version and committed conditionally;
//! a lost race re-reads and re-decides, a bounded number of times.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::domain::{
    self, Actor, CancelRequest, Cancellation, Company, DomainError, FulfillRequest, Fulfillment,
    NewOrder, NotPermitted, Order, Role, Source, StoreRefs,
};
use crate::platforms::{PlatformHttp, PlatformOrder};
use crate::store::DeliveryRecord;
use crate::store::{
    Commit, IdempotencyRecord, OrderCursor, OrderPage, OrderRecord, StatusFilter, Store, StoreError,
};
use crate::views;

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

/// The SHA-256 hex digest under which an API key is stored.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Decide-and-commit attempts before answering `conflict`.
    pub max_attempts: u32,
    /// How long idempotency records are kept (at least 24 h by contract).
    pub idempotency_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_attempts: 8,
            idempotency_ttl: Duration::hours(48),
        }
    }
}

pub struct App<S> {
    pub store: S,
    pub config: Config,
    /// Created on first use: the API never calls a platform, so its cold
    /// start does not pay for TLS set-up.
    platform_http: std::sync::OnceLock<PlatformHttp>,
}

/// What reconciling one of our orders to a platform's state did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileOutcome {
    pub order_id: String,
    /// `cancelled`, `unchanged`, `shortfall_recorded` or `duplicate`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shortfalls: Vec<domain::Shortfall>,
}

/// What a decision reads of the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Order,
    /// The order and its cancellations (for answers that show them).
    WithCancellations,
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
            platform_http: std::sync::OnceLock::new(),
        }
    }

    /// Use this client for platform calls (tests: fast retries).
    pub fn with_platform_http(self, http: PlatformHttp) -> Self {
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(http);
        App {
            platform_http: cell,
            ..self
        }
    }

    pub fn platform_http(&self) -> &PlatformHttp {
        self.platform_http.get_or_init(PlatformHttp::default)
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

    fn record(
        &self,
        company: &Company,
        idem: &Idempotency,
        status: u16,
        body: String,
    ) -> IdempotencyRecord {
        let created_at = now();
        IdempotencyRecord {
            company_id: company.id.clone(),
            key: idem.key.clone(),
            fingerprint: idem.fingerprint.clone(),
            status,
            body,
            created_at,
            expires_at: created_at + self.config.idempotency_ttl,
        }
    }

    /// Remember an error response for a key (4xx only; 5xx are not kept).
    /// Returns the response to send: this one, or one stored meanwhile.
    pub async fn remember_error(
        &self,
        company: &Company,
        idem: &Idempotency,
        status: u16,
        body: String,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
        let rec = self.record(company, idem, status, body);
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
        idem: Option<&Idempotency>,
    ) -> Result<Outcome<OrderRecord>, AppError> {
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
        commit.idempotency = idem.map(|i| {
            self.record(
                buyer,
                i,
                201,
                views::to_json(&views::OrderView::of(&record)),
            )
        });
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
        let (record, party) = self.visible(company, order_id, Read::Order).await?;
        Ok((record.order, party))
    }

    /// Load what a decision reads of an order the company is party to.
    async fn visible(
        &self,
        company: &Company,
        order_id: &str,
        read: Read,
    ) -> Result<(OrderRecord, Role), AppError> {
        let not_found = || AppError::OrderNotFound(order_id.to_owned());
        let record = match read {
            Read::Order => self.store.order(order_id).await?.map(|order| OrderRecord {
                order,
                cancellations: Vec::new(),
            }),
            Read::WithCancellations => self.store.order_record(order_id).await?,
        }
        .ok_or_else(not_found)?;
        let party = record.order.party_of(&company.id).ok_or_else(not_found)?;
        Ok((record, party))
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

    /// Decide on the current order and commit; on a lost race, re-read and
    /// re-decide. `decide` gets what `read` says (the version check covers
    /// the cancellations too: each one bumps the version) and returns the
    /// commit (without idempotency record) and the result with its JSON,
    /// recorded under the key with `status`.
    async fn decide_and_commit<T>(
        &self,
        company: &Company,
        order_id: &str,
        idem: Option<&Idempotency>,
        (read, status): (Read, u16),
        decide: impl Fn(&OrderRecord, Role) -> Result<(Commit, T, String), AppError>,
    ) -> Result<Outcome<T>, AppError> {
        if let Some(rec) = self.replay(company, idem).await? {
            return Ok(Outcome::Replayed(rec));
        }
        for attempt in 1..=self.config.max_attempts {
            let (record, party) = self.visible(company, order_id, read).await?;
            let (mut commit, created, json) = decide(&record, party)?;
            commit.idempotency = idem.map(|i| self.record(company, i, status, json));
            match self.store.commit(&commit).await {
                Ok(()) => return Ok(Outcome::Done(created)),
                Err(StoreError::VersionConflict) => {
                    tracing::info!(
                        order_id,
                        attempt,
                        "lost a race on the order version; re-deciding"
                    );
                }
                Err(StoreError::IdempotencyKeyExists) => {
                    return Ok(Outcome::Replayed(
                        self.replay_after_race(company, idem).await?,
                    ));
                }
                Err(StoreError::OrderMissing) => {
                    return Err(AppError::OrderNotFound(order_id.to_owned()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        tracing::warn!(
            order_id,
            attempts = self.config.max_attempts,
            "giving up after repeated version conflicts"
        );
        Err(AppError::Conflict)
    }

    /// Create a cancellation from the app or the API, or preview it.
    pub async fn cancel(
        &self,
        company: &Company,
        order_id: &str,
        request: &CancelRequest,
        source: Source,
        idem: Option<&Idempotency>,
    ) -> Result<Outcome<Cancellation>, AppError> {
        let id = new_id("can");
        let created = (Read::Order, 201);
        self.decide_and_commit(company, order_id, idem, created, |rec, party| {
            let actor = Actor {
                party,
                integration: company.integration,
                source,
            };
            let d = domain::cancel(&rec.order, actor, request, id.clone(), now())?;
            let json = views::cancellation_json(&d.record);
            let mut commit = Commit::update(d.order);
            commit.cancellation = Some(d.record.clone());
            Ok((commit, d.record, json))
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
        idem: Option<&Idempotency>,
    ) -> Result<Outcome<Fulfillment>, AppError> {
        let id = new_id("ful");
        let created = (Read::Order, 201);
        self.decide_and_commit(company, order_id, idem, created, |rec, party| {
            let d = domain::fulfill(&rec.order, party, request, id.clone(), now())?;
            let json = views::fulfillment_json(&d.record);
            let mut commit = Commit::update(d.order);
            commit.fulfillment = Some(d.record.clone());
            Ok((commit, d.record, json))
        })
        .await
    }

    /// Set the caller's own store references (the buyer's or the seller's,
    /// by the party it plays); answers the order as `GET` shows it.
    pub async fn set_store_refs(
        &self,
        company: &Company,
        order_id: &str,
        request: &StoreRefs,
        idem: Option<&Idempotency>,
    ) -> Result<Outcome<OrderRecord>, AppError> {
        let answer = (Read::WithCancellations, 200);
        self.decide_and_commit(company, order_id, idem, answer, |rec, party| {
            let next =
                domain::set_store_refs(&rec.order, party, company.integration, request, now())?;
            let updated = OrderRecord {
                order: next.clone(),
                cancellations: rec.cancellations.clone(),
            };
            let json = views::to_json(&views::OrderView::of(&updated));
            let commit = Commit::update(next).replacing_refs_of(&rec.order);
            Ok((commit, updated, json))
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
        let mut outcomes = Vec::with_capacity(orders.len());
        for first in orders {
            let order_id = first.id.clone();
            let mut order = first;
            let mut attempt = 0;
            let outcome = loop {
                attempt += 1;
                let state = domain::PlatformState {
                    whole_order_cancelled: po.cancelled,
                    lines: platform_lines(&order, party, po),
                    reason: po.reason.clone(),
                };
                let actor = Actor {
                    party,
                    integration: company.integration,
                    source,
                };
                let r = domain::reconcile(&order, actor, &state, new_id("can"), now())?;
                for inc in &r.increases {
                    tracing::info!(order_id, line_item_id = %inc.line_item_id, active = inc.active, platform = inc.platform, "platform quantity above ours; increases are not cancellations");
                }
                for s in &r.shortfalls {
                    tracing::warn!(order_id, line_item_id = %s.line_item_id, units = s.units, "platform asked to cancel units already fulfilled; recorded as shortfall");
                }
                let Some(next) = r.order else {
                    break ReconcileOutcome {
                        order_id: order_id.clone(),
                        result: "unchanged",
                        cancellation_id: None,
                        shortfalls: r.shortfalls,
                    };
                };
                let at = now();
                let mut commit = Commit::update(next);
                commit.cancellation = r.cancellation.clone();
                commit.delivery = Some(DeliveryRecord {
                    key: format!("{delivery}:{order_id}"),
                    company_id: company.id.clone(),
                    received_at: at,
                    expires_at: at + Duration::days(7),
                });
                match self.store.commit(&commit).await {
                    Ok(()) => {
                        let cancellation_id = r.cancellation.map(|c| c.id);
                        tracing::info!(
                            order_id,
                            ?cancellation_id,
                            delivery,
                            "reconciled to the platform"
                        );
                        break ReconcileOutcome {
                            order_id: order_id.clone(),
                            result: if cancellation_id.is_some() {
                                "cancelled"
                            } else {
                                "shortfall_recorded"
                            },
                            cancellation_id,
                            shortfalls: r.shortfalls,
                        };
                    }
                    Err(StoreError::DeliveryExists) => {
                        break ReconcileOutcome {
                            order_id: order_id.clone(),
                            result: "duplicate",
                            cancellation_id: None,
                            shortfalls: vec![],
                        };
                    }
                    Err(StoreError::VersionConflict) if attempt < self.config.max_attempts => {
                        tracing::info!(
                            order_id,
                            attempt,
                            "lost a race on the order version; re-deciding"
                        );
                        order = self
                            .store
                            .order(&order_id)
                            .await?
                            .ok_or_else(|| AppError::OrderNotFound(order_id.clone()))?;
                    }
                    Err(StoreError::VersionConflict) => return Err(AppError::Conflict),
                    Err(e) => return Err(e.into()),
                }
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
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
    pub async fn notifications(
        &self,
        order_id: &str,
    ) -> Result<Vec<crate::store::ledger::LedgerEntry>, AppError> {
        Ok(self.store.notification_entries(order_id).await?)
    }
}
