//! The store-sync plan: what the partner's store platform should be told of
//! a cancellation (docs/domain.md, "when its partner cancels"), decided from
//! the order's current state. Pure; the service's `StoreSync` port carries a
//! plan out.

use std::collections::HashMap;

use thiserror::Error;

use crate::rules::{SyncKind, outbound_sync};
use crate::{
    Cancellation, CancellationKind, Company, Connection, LineItem, Order, Platform, PlatformId,
    Role,
};

/// Why a store sync cannot be planned: none of these gets better by
/// retrying, so the sync is recorded failed and no call is made.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("company {company} has no {integration} connection")]
    NoConnection {
        company: String,
        integration: &'static str,
    },
    #[error("order {order} has no {field}: the partner's store order is unknown")]
    NoOrderRef { order: String, field: String },
    #[error("{field} {value:?} of order {order} is not a {integration} id: no call made")]
    InvalidRef {
        field: String,
        value: String,
        order: String,
        integration: &'static str,
    },
    #[error("no cancelled line of order {order} has a {party}_line_ref")]
    NoMappedLine { order: String, party: &'static str },
}

/// The change an order gets on a platform that takes order updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderUpdate {
    /// The whole order was cancelled: set its status.
    CancelOrder,
    /// Some units were cancelled: (platform line id, new quantity).
    SetQuantities(Vec<(u64, u32)>),
}

/// A line of ours on a Shopify order and what it should come to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    /// The Shopify line item id.
    pub line_ref: PlatformId,
    /// Units this cancellation cancelled: the most a refund may take.
    pub cancelled: u32,
    /// Our active quantity (`quantity - cancelled`): where Shopify should be.
    pub target: u32,
}

/// What a Shopify refund does besides refunding the units: the product
/// page's routine for a buyer's store. A seller's store holds the dropship
/// copy of its customer's order, so its customer is not emailed, shipping
/// stays charged and the order is not archived there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopifyRoutine {
    /// Shopify emails the store's customer about the refund.
    pub notify_customer: bool,
    /// Shipping is refunded once nothing is left on the order.
    pub refund_shipping: bool,
    /// The order is closed (archived) once fully refunded.
    pub archive: bool,
}

impl ShopifyRoutine {
    /// The routine for the store of the party playing `party`.
    pub fn for_party(party: Role) -> Self {
        let buyer = party == Role::Buyer;
        ShopifyRoutine {
            notify_customer: buyer,
            refund_shipping: buyer,
            archive: buyer,
        }
    }
}

/// What to do in the partner's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncAction {
    ShopifyRefund {
        lines: Vec<RefundLine>,
        note: String,
        routine: ShopifyRoutine,
    },
    /// A status or line-quantity update (`SyncKind::OrderUpdate`).
    Update(OrderUpdate),
}

/// A planned store sync for one cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    pub order_id: String,
    pub cancellation_id: String,
    pub company_id: String,
    /// The partner's store platform.
    pub platform: Platform,
    pub connection: Connection,
    /// The partner's own order id (`buyer_order_ref` / `seller_order_ref`).
    pub order_ref: PlatformId,
    pub action: SyncAction,
    /// Our lines with no reference in the partner's store: left alone.
    pub unmapped_lines: Vec<String>,
    /// What the store's staff reads about it (Shopify's refund note, a
    /// WooCommerce order note, BigCommerce's staff notes): the order, the
    /// cancellation, and its reason codes with their labels.
    pub note: String,
}

/// Does `partner`, playing `party` on the order, get a store sync at all?
pub fn syncs(partner: &Company, party: Role) -> bool {
    outbound_sync(partner.integration, party).is_some()
}

/// Plan the store sync of `cancellation` for `partner` (playing `party`),
/// from the order's current state. `Ok(None)`: the partner gets no store
/// sync. A partial sync sets each affected line to our active quantity
/// (`quantity - cancelled`), an absolute value, so repeating it is harmless.
pub fn plan(
    partner: &Company,
    party: Role,
    order: &Order,
    cancellation: &Cancellation,
) -> Result<Option<SyncPlan>, PlanError> {
    let Some(platform) = partner.integration.platform() else {
        return Ok(None);
    };
    let Some(kind) = platform.outbound_sync(party) else {
        return Ok(None);
    };
    let integration = partner.integration.as_str();
    let connection = partner
        .connection
        .clone()
        .ok_or_else(|| PlanError::NoConnection {
            company: partner.id.clone(),
            integration,
        })?;
    let refs = Refs {
        order,
        party,
        integration,
    };
    let order_ref = refs.order_ref()?;
    let (mapped, unmapped_lines) = refs.lines(cancellation)?;
    let note = note_of(order, cancellation);
    let action = action(kind, &refs, cancellation, &mapped, &note)?;
    Ok(Some(SyncPlan {
        order_id: order.id.clone(),
        cancellation_id: cancellation.id.clone(),
        company_id: partner.id.clone(),
        platform,
        connection,
        order_ref,
        action,
        unmapped_lines,
        note,
    }))
}

/// The codes as well as their labels: a store's staff and its apps both
/// read the note.
fn note_of(order: &Order, cancellation: &Cancellation) -> String {
    format!(
        "Dropship order {} cancellation {}: {}",
        order.id,
        cancellation.id,
        cancellation
            .reason_codes()
            .iter()
            .map(|c| format!("{} ({c})", c.label()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A cancelled line in the partner's store: its id there, the units
/// cancelled now, and our active quantity after them.
struct Mapped {
    id: PlatformId,
    cancelled: u32,
    active: u32,
}

/// The partner's references on an order. They are checked again here: an
/// order may predate their validation, and only a platform id may name the
/// store's resource.
struct Refs<'a> {
    order: &'a Order,
    party: Role,
    integration: &'static str,
}

impl Refs<'_> {
    fn invalid(&self, field: String, r: &str) -> PlanError {
        PlanError::InvalidRef {
            field,
            value: r.to_owned(),
            order: self.order.id.clone(),
            integration: self.integration,
        }
    }

    fn order_ref(&self) -> Result<PlatformId, PlanError> {
        let field = format!("{}_order_ref", self.party.as_str());
        let order_ref = match self.party {
            Role::Buyer => self.order.buyer_order_ref.as_deref(),
            Role::Seller => self.order.seller_order_ref.as_deref(),
        }
        .ok_or_else(|| PlanError::NoOrderRef {
            order: self.order.id.clone(),
            field: field.clone(),
        })?;
        PlatformId::parse(order_ref).ok_or_else(|| self.invalid(field, order_ref))
    }

    /// The cancelled lines the partner's store knows, and our ids of the
    /// others (left alone).
    fn lines(&self, cancellation: &Cancellation) -> Result<(Vec<Mapped>, Vec<String>), PlanError> {
        let mut mapped = Vec::new();
        let mut unmapped = Vec::new();
        // Indexed once: an order may have thousands of lines.
        let by_id: HashMap<&str, &LineItem> = self
            .order
            .line_items
            .iter()
            .map(|l| (l.id.as_str(), l))
            .collect();
        for item in &cancellation.items {
            let Some(line) = by_id.get(item.line_item_id.as_str()) else {
                unmapped.push(item.line_item_id.clone());
                continue;
            };
            let line_ref = match self.party {
                Role::Buyer => line.buyer_line_ref.as_deref(),
                Role::Seller => line.seller_line_ref.as_deref(),
            };
            match line_ref {
                Some(r) => {
                    let field = format!("line item {}: {}_line_ref", line.id, self.party.as_str());
                    let id = PlatformId::parse(r).ok_or_else(|| self.invalid(field, r))?;
                    mapped.push(Mapped {
                        id,
                        cancelled: item.quantity,
                        active: line.active(),
                    });
                }
                None => unmapped.push(item.line_item_id.clone()),
            }
        }
        Ok((mapped, unmapped))
    }
}

/// What the partner's platform is asked to do.
fn action(
    kind: SyncKind,
    refs: &Refs<'_>,
    cancellation: &Cancellation,
    mapped: &[Mapped],
    note: &str,
) -> Result<SyncAction, PlanError> {
    let whole = cancellation.kind == CancellationKind::Order;
    let no_mapped_line = || PlanError::NoMappedLine {
        order: refs.order.id.clone(),
        party: refs.party.as_str(),
    };
    let quantities = || -> Result<OrderUpdate, PlanError> {
        if mapped.is_empty() {
            return Err(no_mapped_line());
        }
        Ok(OrderUpdate::SetQuantities(
            mapped.iter().map(|m| (m.id.get(), m.active)).collect(),
        ))
    };
    Ok(match kind {
        SyncKind::ShopifyRefund => {
            if mapped.is_empty() {
                return Err(no_mapped_line());
            }
            SyncAction::ShopifyRefund {
                lines: mapped
                    .iter()
                    .map(|m| RefundLine {
                        line_ref: m.id,
                        cancelled: m.cancelled,
                        target: m.active,
                    })
                    .collect(),
                note: note.to_owned(),
                routine: ShopifyRoutine::for_party(refs.party),
            }
        }
        SyncKind::OrderUpdate if whole => SyncAction::Update(OrderUpdate::CancelOrder),
        SyncKind::OrderUpdate => SyncAction::Update(quantities()?),
    })
}
