//! Commands: pure functions from the current order and a request to the new
//! order and the record to commit, or a refusal. Ids and time come from the
//! caller so that the domain does no I/O.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::error::{DomainError, NotPermitted};
use super::model::{
    Cancellation, CancellationKind, CancelledItem, Company, FulfilledItem, Fulfillment,
    Integration, LineItem, Order, Source,
};
use super::model::{NewOrder, next_version};
use super::role::Role;
use super::rules::may_cancel;
use super::{MAX_REASON_CHARS, ReasonCode, trim_blank, validate_reason};

/// Who is acting on an order, and through what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub party: Role,
    pub integration: Integration,
    pub source: Source,
}

/// One requested item, as received (unvalidated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRequest {
    pub line_item_id: String,
    pub quantity: i64,
    /// As received: checked against `ReasonCode`; none is `other`.
    pub reason_code: Option<String>,
    pub reason: Option<String>,
}

/// A cancellation request in one of its two forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelRequest {
    WholeOrder {
        reason_code: Option<String>,
        reason: Option<String>,
    },
    Items(Vec<ItemRequest>),
}

impl CancelRequest {
    pub fn kind(&self) -> CancellationKind {
        match self {
            CancelRequest::WholeOrder { .. } => CancellationKind::Order,
            CancelRequest::Items(_) => CancellationKind::Items,
        }
    }
}

/// The new state of an order and the record that explains the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<R> {
    pub order: Order,
    pub record: R,
}

fn line_mut<'a>(order: &'a mut Order, id: &str) -> Option<&'a mut LineItem> {
    order.line_items.iter_mut().find(|l| l.id == id)
}

fn quantity_u32(line_item_id: &str, quantity: i64) -> Result<u32, DomainError> {
    if quantity < 1 {
        return Err(DomainError::InvalidQuantity {
            line_item_id: line_item_id.to_owned(),
            quantity,
        });
    }
    // Anything above u32::MAX exceeds every open quantity; saturate so the
    // state check reports it as such.
    Ok(u32::try_from(quantity).unwrap_or(u32::MAX))
}

fn exceeds(line: &LineItem, requested: u64) -> DomainError {
    DomainError::QuantityExceedsOpen {
        line_item_id: line.id.clone(),
        requested,
        open: line.open(),
        quantity: line.quantity,
        fulfilled: line.fulfilled,
        cancelled: line.cancelled,
    }
}

/// Checks a list of `{line_item_id, quantity}` against the order: shape first
/// (every 422), then state (409), so a malformed request is reported as such
/// whatever the order's state.
fn validate_lines<'a>(
    order: &Order,
    items: impl Iterator<Item = (&'a str, i64)> + Clone,
) -> Result<Vec<u32>, DomainError> {
    let mut seen = HashSet::new();
    let mut quantities = Vec::new();
    for (id, quantity) in items.clone() {
        let q = quantity_u32(id, quantity)?;
        if order.line(id).is_none() {
            return Err(DomainError::UnknownLineItem {
                line_item_id: id.to_owned(),
            });
        }
        if !seen.insert(id) {
            return Err(DomainError::DuplicateLineItem {
                line_item_id: id.to_owned(),
            });
        }
        quantities.push(q);
    }
    if quantities.is_empty() {
        return Err(DomainError::EmptyItems);
    }
    for ((id, requested), q) in items.zip(&quantities) {
        if let Some(line) = order.line(id)
            && *q > line.open()
        {
            return Err(exceeds(line, requested.unsigned_abs()));
        }
    }
    Ok(quantities)
}

/// Cancel a whole order or some of its units.
pub fn cancel(
    order: &Order,
    actor: Actor,
    request: &CancelRequest,
    id: String,
    now: DateTime<Utc>,
) -> Result<Decision<Cancellation>, DomainError> {
    may_cancel(actor.integration, actor.party, request.kind(), actor.source)?;
    let mut next = next_version(order, now);
    let items = match request {
        CancelRequest::WholeOrder {
            reason_code,
            reason,
        } => {
            let (reason_code, reason) =
                validate_reason(reason_code.as_deref(), reason.as_deref(), None)?;
            let items: Vec<CancelledItem> = next
                .line_items
                .iter_mut()
                .filter(|l| l.open() > 0)
                .map(|l| {
                    let quantity = l.open();
                    l.cancelled += quantity;
                    CancelledItem {
                        line_item_id: l.id.clone(),
                        quantity,
                        reason_code,
                        reason: reason.clone(),
                    }
                })
                .collect();
            if items.is_empty() {
                return Err(DomainError::NothingToCancel);
            }
            items
        }
        CancelRequest::Items(requested) => {
            if requested.is_empty() {
                return Err(DomainError::EmptyItems);
            }
            let mut reasons = Vec::with_capacity(requested.len());
            for item in requested {
                quantity_u32(&item.line_item_id, item.quantity)?;
                reasons.push(validate_reason(
                    item.reason_code.as_deref(),
                    item.reason.as_deref(),
                    Some(&item.line_item_id),
                )?);
            }
            let quantities = validate_lines(
                order,
                requested
                    .iter()
                    .map(|i| (i.line_item_id.as_str(), i.quantity)),
            )?;
            requested
                .iter()
                .zip(quantities)
                .zip(reasons)
                .map(|((item, quantity), (reason_code, reason))| {
                    if let Some(line) = line_mut(&mut next, &item.line_item_id) {
                        line.cancelled += quantity;
                    }
                    CancelledItem {
                        line_item_id: item.line_item_id.clone(),
                        quantity,
                        reason_code,
                        reason,
                    }
                })
                .collect()
        }
    };
    let record = Cancellation {
        id,
        order_id: order.id.clone(),
        initiated_by: actor.party,
        source: actor.source,
        kind: request.kind(),
        items,
        created_at: now,
    };
    Ok(Decision {
        order: next,
        record,
    })
}

/// One shipped item, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillRequest {
    pub items: Vec<(String, i64)>,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
}

/// Record units shipped by the seller. Cancelled units cannot be fulfilled.
pub fn fulfill(
    order: &Order,
    party: Role,
    request: &FulfillRequest,
    id: String,
    now: DateTime<Utc>,
) -> Result<Decision<Fulfillment>, DomainError> {
    if party != Role::Seller {
        return Err(NotPermitted::OnlySellerFulfills.into());
    }
    if request.items.is_empty() {
        return Err(DomainError::EmptyItems);
    }
    let quantities = validate_lines(order, request.items.iter().map(|(i, q)| (i.as_str(), *q)))?;
    let mut next = next_version(order, now);
    let items = request
        .items
        .iter()
        .zip(quantities)
        .map(|((line_item_id, _), quantity)| {
            if let Some(line) = line_mut(&mut next, line_item_id) {
                line.fulfilled += quantity;
            }
            FulfilledItem {
                line_item_id: line_item_id.clone(),
                quantity,
            }
        })
        .collect();
    Ok(Decision {
        order: next,
        record: Fulfillment {
            id,
            order_id: order.id.clone(),
            items,
            tracking_number: request.tracking_number.clone(),
            carrier: request.carrier.clone(),
            created_at: now,
        },
    })
}

/// Validate and build a new order between `buyer` and `seller`. Every
/// reference is checked against its owner's integration; who may set which
/// reference is the caller's concern (a seed sets any, a buyer its own).
pub fn create_order(
    buyer: &Company,
    seller: &Company,
    request: NewOrder,
    id: String,
    now: DateTime<Utc>,
) -> Result<Order, DomainError> {
    if buyer.role != Role::Buyer {
        return Err(NotPermitted::OnlyBuyersCreateOrders.into());
    }
    if request.line_items.is_empty() {
        return Err(DomainError::EmptyItems);
    }
    let mut seen = HashSet::new();
    let mut lines = Vec::with_capacity(request.line_items.len());
    for l in request.line_items {
        if l.quantity < 1 || l.quantity > i64::from(u32::MAX) {
            return Err(DomainError::InvalidQuantity {
                line_item_id: l.id,
                quantity: l.quantity,
            });
        }
        if !seen.insert(l.id.clone()) {
            return Err(DomainError::DuplicateLineItem { line_item_id: l.id });
        }
        lines.push(LineItem {
            quantity: l.quantity as u32,
            id: l.id,
            sku: l.sku,
            title: l.title,
            fulfilled: 0,
            cancelled: 0,
            unit_price: l.unit_price,
            buyer_line_ref: l.buyer_line_ref,
            seller_line_ref: l.seller_line_ref,
            platform_shortfall: 0,
        });
    }
    let order = Order {
        id,
        buyer_id: buyer.id.clone(),
        seller_id: seller.id.clone(),
        buyer_name: buyer.name.clone(),
        seller_name: seller.name.clone(),
        buyer_order_ref: request.buyer_order_ref,
        seller_order_ref: request.seller_order_ref,
        version: 1,
        created_at: now,
        updated_at: now,
        line_items: lines,
    };
    super::refs::validate_order_refs(&order, buyer.integration, seller.integration)?;
    Ok(order)
}

/// What a store platform says a line's quantity now is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformLine {
    /// Our line item id (the adapter maps the platform's line id to it).
    pub line_item_id: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformState {
    /// The platform reports the whole order cancelled: every line's target is 0.
    pub whole_order_cancelled: bool,
    pub lines: Vec<PlatformLine>,
    /// What the platform's state reads as (`inbound::OrderState::reason_code`).
    pub reason_code: ReasonCode,
    /// The platform's reason, or a fixed descriptive one.
    pub reason: String,
}

/// Units a platform asked to cancel that were already fulfilled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Shortfall {
    pub line_item_id: String,
    pub units: u32,
}

/// A platform asked for more units than we have active (an increase): ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increase {
    pub line_item_id: String,
    pub active: u32,
    pub platform: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// The new order state, or `None` when nothing changed (replay, echo).
    pub order: Option<Order>,
    pub cancellation: Option<Cancellation>,
    pub shortfalls: Vec<Shortfall>,
    pub increases: Vec<Increase>,
}

/// Bring the order to the quantities a store platform reports. Cancels
/// `active - platform` per line, never more than is open; what cannot be
/// cancelled because it shipped is recorded as the line's shortfall. Applying
/// the same state twice changes nothing the second time.
pub fn reconcile(
    order: &Order,
    actor: Actor,
    state: &PlatformState,
    id: String,
    now: DateTime<Utc>,
) -> Result<Reconciled, DomainError> {
    let kind = if state.whole_order_cancelled {
        CancellationKind::Order
    } else {
        CancellationKind::Items
    };
    may_cancel(actor.integration, actor.party, kind, actor.source)?;
    let reason = platform_reason(&state.reason);
    let mut next = next_version(order, now);
    let mut items = Vec::new();
    let mut shortfalls = Vec::new();
    let mut increases = Vec::new();
    for line in &mut next.line_items {
        let reported = state
            .lines
            .iter()
            .find(|p| p.line_item_id == line.id)
            .map(|p| p.quantity);
        let target = match (state.whole_order_cancelled, reported) {
            (true, _) => 0,
            (false, Some(q)) => q,
            (false, None) => continue,
        };
        let active = line.active();
        if target > active {
            // Nothing the platform wants is missing: no shortfall either.
            line.platform_shortfall = 0;
            increases.push(Increase {
                line_item_id: line.id.clone(),
                active,
                platform: target,
            });
            continue;
        }
        let wanted = active - target;
        let quantity = wanted.min(line.open());
        let shortfall = wanted - quantity;
        line.platform_shortfall = shortfall;
        if shortfall > 0 {
            shortfalls.push(Shortfall {
                line_item_id: line.id.clone(),
                units: shortfall,
            });
        }
        if quantity > 0 {
            line.cancelled += quantity;
            items.push(CancelledItem {
                line_item_id: line.id.clone(),
                quantity,
                reason_code: state.reason_code,
                reason: Some(reason.clone()),
            });
        }
    }
    let changed = next.line_items != order.line_items;
    let cancellation = (!items.is_empty()).then(|| Cancellation {
        id,
        order_id: order.id.clone(),
        initiated_by: actor.party,
        source: actor.source,
        kind,
        items,
        created_at: now,
    });
    Ok(Reconciled {
        order: changed.then_some(next),
        cancellation,
        shortfalls,
        increases,
    })
}

/// A platform's reason made valid: trimmed of invisible characters, a fixed
/// one when blank, cut to the maximum length.
fn platform_reason(reason: &str) -> String {
    let trimmed = trim_blank(reason);
    if trimmed.is_empty() {
        return "Cancelled in the store platform".to_owned();
    }
    let cut: String = trimmed.chars().take(MAX_REASON_CHARS).collect();
    trim_blank(&cut).to_owned()
}
