//! Reconciling our orders to a store platform's state of one of its orders
//! (webhook deliveries).

use std::sync::Arc;

use chrono::Duration;

use crate::app::{AppError, Core, Target, new_id, now};
use crate::intake::Ours;
use crate::store::{Commit, Decided, DeliveryRecord, Store, StoreError};
use domain::inbound::PlatformOrder;
use domain::{Actor, Company, Order, Role, Source};

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
    pub(crate) order_id: String,
    pub result: ReconcileResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cancellation_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) shortfalls: Vec<domain::Shortfall>,
}

impl<S: Store> Core<S> {
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
        let orders = self
            .store
            .orders_by_ref(&company.id, company.role, &po.order_ref)
            .await?;
        self.reconcile_orders(company, source, po, delivery, orders)
            .await
    }

    /// `reconcile_platform_order` for a state read from the platform, on
    /// the orders found before reading it.
    pub async fn reconcile_fetched(
        &self,
        company: &Company,
        source: Source,
        po: &PlatformOrder,
        delivery: &str,
        ours: Ours,
    ) -> Result<Vec<ReconcileOutcome>, AppError> {
        self.reconcile_orders(company, source, po, delivery, ours.0)
            .await
    }

    async fn reconcile_orders(
        &self,
        company: &Company,
        source: Source,
        po: &PlatformOrder,
        delivery: &str,
        orders: Vec<Order>,
    ) -> Result<Vec<ReconcileOutcome>, AppError> {
        let party = company.role;
        let po = Arc::new(po.clone());
        self.reconcile_to(company, source, delivery, orders, move |order: &Order| {
            domain::PlatformState {
                whole_order_cancelled: po.cancelled(),
                lines: platform_lines(order, party, &po),
                reason_code: po.reason_code(),
                reason: po.reason(),
            }
        })
        .await
    }
}

impl<S: Store> Core<S> {
    /// Bring each of `orders` to the quantities `state` reads off it, one
    /// commit per order carrying the delivery key (a redelivery is a no-op).
    pub(crate) async fn reconcile_to<F>(
        &self,
        company: &Company,
        source: Source,
        delivery: &str,
        orders: Vec<Order>,
        state: F,
    ) -> Result<Vec<ReconcileOutcome>, AppError>
    where
        F: Fn(&Order) -> domain::PlatformState + Send + Sync + 'static,
    {
        let party = company.role;
        let state = Arc::new(state);
        let mut outcomes = Vec::with_capacity(orders.len());
        for found in orders {
            let order_id = found.id.clone();
            let actor = Actor {
                party,
                integration: company.integration,
                source,
            };
            let delivery_key = format!("{delivery}:{order_id}");
            let decision =
                reconciliation(actor, Arc::clone(&state), company.id.clone(), delivery_key);
            let target = Target::found(found);
            let (changed, done) = match self.decide_with_retries(target, decision).await {
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
            if let (true, Some(kind)) = (changed, done.kind) {
                self.metrics
                    .count(crate::metrics::Event::CancellationCreated {
                        source: source.as_str(),
                        kind: kind.as_str(),
                    });
            }
            outcomes.push(reconciled(order_id, delivery, changed, done));
        }
        Ok(outcomes)
    }
}

/// What one reconciliation decided, for its outcome and its log lines.
struct Reconciliation {
    cancellation_id: Option<String>,
    kind: Option<domain::CancellationKind>,
    shortfalls: Vec<domain::Shortfall>,
    increases: Vec<domain::Increase>,
}

/// The decision for one order: reconcile it to `po` and commit the result
/// with the delivery key, or leave it as it is.
fn reconciliation<F>(
    actor: Actor,
    state_of: Arc<F>,
    company_id: String,
    delivery_key: String,
) -> impl Fn(&Order) -> Result<Decided<(bool, Reconciliation)>, AppError> + Send + Sync + 'static
where
    F: Fn(&Order) -> domain::PlatformState + Send + Sync + 'static,
{
    move |order: &Order| {
        let state = state_of(order);
        let r = domain::reconcile(order, actor, &state, new_id("can"), now())?;
        let done = Reconciliation {
            cancellation_id: r.cancellation.as_ref().map(|c| c.id.clone()),
            kind: r.cancellation.as_ref().map(|c| c.kind),
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
    }
}

/// The outcome of a decided reconciliation, logged.
fn reconciled(
    order_id: String,
    delivery: &str,
    changed: bool,
    done: Reconciliation,
) -> ReconcileOutcome {
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
    ReconcileOutcome {
        order_id,
        result,
        cancellation_id: done.cancellation_id,
        shortfalls: done.shortfalls,
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
