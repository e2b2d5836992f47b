//! Store sync: the partner's store platform hears of the cancellation
//! (docs/domain.md's table, "when its partner cancels"). Planning is pure; the
//! `StoreSync` port carries a plan out. Adapters: `HttpStoreSync` (the
//! platforms' APIs), `outbox::RecordingStoreSync` (request records, local
//! runs), `LocalStoreSync` (the API when the company has an
//! `api_base_url`, else the record).

use std::collections::HashMap;
use std::future::Future;

use thiserror::Error;

use crate::domain::rules::{StoreSync as SyncKind, outbound_sync};
use crate::domain::{
    Cancellation, CancellationKind, Company, Connection, LineItem, Order, PlatformId, Role,
};
use crate::platforms::outbound::{self, OrderUpdate, RefundLine};
use crate::platforms::{PlatformError, PlatformHttp};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SyncError {
    /// Will never succeed as it stands (4xx, missing connection details or
    /// references): recorded as a failed sync, not retried.
    #[error("{0}")]
    Rejected(String),
    /// A later attempt may succeed (5xx, 429 beyond the retries, network).
    #[error("{0}")]
    Unavailable(String),
}

impl From<PlatformError> for SyncError {
    fn from(e: PlatformError) -> Self {
        if e.is_transient() {
            SyncError::Unavailable(e.to_string())
        } else {
            SyncError::Rejected(e.to_string())
        }
    }
}

/// What to do in the partner's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncAction {
    ShopifyRefund {
        lines: Vec<RefundLine>,
        note: String,
    },
    WooCommerce(OrderUpdate),
    BigCommerce(OrderUpdate),
}

impl SyncAction {
    pub fn platform(&self) -> &'static str {
        match self {
            SyncAction::ShopifyRefund { .. } => "shopify",
            SyncAction::WooCommerce(_) => "woocommerce",
            SyncAction::BigCommerce(_) => "bigcommerce",
        }
    }
}

/// A planned store sync for one cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    pub order_id: String,
    pub cancellation_id: String,
    pub company_id: String,
    pub connection: Connection,
    /// The partner's own order id (`buyer_order_ref` / `seller_order_ref`).
    pub order_ref: PlatformId,
    pub action: SyncAction,
    /// Our lines with no reference in the partner's store: left alone.
    pub unmapped_lines: Vec<String>,
}

/// The sync port.
pub trait StoreSync: Send + Sync + 'static {
    /// Carry `plan` out; returns what was done, in words.
    fn apply(&self, plan: &SyncPlan) -> impl Future<Output = Result<String, SyncError>> + Send;
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
) -> Result<Option<SyncPlan>, SyncError> {
    let Some(kind) = outbound_sync(partner.integration, party) else {
        return Ok(None);
    };
    let connection = partner.connection.clone().ok_or_else(|| {
        SyncError::Rejected(format!(
            "company {} has no {} connection",
            partner.id,
            partner.integration.as_str()
        ))
    })?;
    // The stored references are checked again: an order may predate their
    // validation, and only a platform id may name the store's resource.
    let invalid = |field: String, r: &str| {
        SyncError::Rejected(format!(
            "{field} {r:?} of order {} is not a {} id: no call made",
            order.id,
            partner.integration.as_str()
        ))
    };
    let order_field = format!("{}_order_ref", party.as_str());
    let order_ref = match party {
        Role::Buyer => order.buyer_order_ref.as_deref(),
        Role::Seller => order.seller_order_ref.as_deref(),
    }
    .ok_or_else(|| {
        SyncError::Rejected(format!(
            "order {} has no {order_field}: the partner's store order is unknown",
            order.id,
        ))
    })?;
    let order_ref = PlatformId::parse(order_ref).ok_or_else(|| invalid(order_field, order_ref))?;
    // (the partner's line id, cancelled now, new quantity)
    let mut mapped = Vec::new();
    let mut unmapped_lines = Vec::new();
    // Indexed once: an order may have thousands of lines.
    let by_id: HashMap<&str, &LineItem> = order
        .line_items
        .iter()
        .map(|l| (l.id.as_str(), l))
        .collect();
    for item in &cancellation.items {
        let Some(line) = by_id.get(item.line_item_id.as_str()) else {
            unmapped_lines.push(item.line_item_id.clone());
            continue;
        };
        let line_ref = match party {
            Role::Buyer => line.buyer_line_ref.as_deref(),
            Role::Seller => line.seller_line_ref.as_deref(),
        };
        match line_ref {
            Some(r) => {
                let field = format!("line item {}: {}_line_ref", line.id, party.as_str());
                let id = PlatformId::parse(r).ok_or_else(|| invalid(field, r))?;
                mapped.push((id, item.quantity, line.active()));
            }
            None => unmapped_lines.push(item.line_item_id.clone()),
        }
    }
    let whole = cancellation.kind == CancellationKind::Order;
    let quantities = || -> Result<OrderUpdate, SyncError> {
        if mapped.is_empty() {
            return Err(SyncError::Rejected(format!(
                "no cancelled line of order {} has a {}_line_ref",
                order.id,
                party.as_str()
            )));
        }
        let lines = mapped
            .iter()
            .map(|(id, _, active)| (id.get(), *active))
            .collect();
        Ok(OrderUpdate::SetQuantities(lines))
    };
    let action = match kind {
        SyncKind::ShopifyRefund => {
            if mapped.is_empty() {
                return Err(SyncError::Rejected(format!(
                    "no cancelled line of order {} has a {}_line_ref",
                    order.id,
                    party.as_str()
                )));
            }
            SyncAction::ShopifyRefund {
                lines: mapped
                    .iter()
                    .map(|(id, cancelled, active)| RefundLine {
                        line_ref: *id,
                        cancelled: *cancelled,
                        target: *active,
                    })
                    .collect(),
                note: format!(
                    "Dropship order {} cancellation {}",
                    order.id, cancellation.id
                ),
            }
        }
        SyncKind::WooCommerceOrderUpdate if whole => {
            SyncAction::WooCommerce(OrderUpdate::CancelOrder)
        }
        SyncKind::WooCommerceOrderUpdate => SyncAction::WooCommerce(quantities()?),
        SyncKind::BigCommerceOrderUpdate if whole => {
            SyncAction::BigCommerce(OrderUpdate::CancelOrder)
        }
        SyncKind::BigCommerceOrderUpdate => SyncAction::BigCommerce(quantities()?),
    };
    Ok(Some(SyncPlan {
        order_id: order.id.clone(),
        cancellation_id: cancellation.id.clone(),
        company_id: partner.id.clone(),
        connection,
        order_ref,
        action,
        unmapped_lines,
    }))
}

/// The platforms' APIs, through the shared retrying client.
#[derive(Clone, Default)]
pub struct HttpStoreSync {
    http: PlatformHttp,
}

impl HttpStoreSync {
    pub fn new(http: PlatformHttp) -> Self {
        HttpStoreSync { http }
    }
}

impl StoreSync for HttpStoreSync {
    async fn apply(&self, plan: &SyncPlan) -> Result<String, SyncError> {
        let (conn, r) = (&plan.connection, plan.order_ref);
        let mut detail = match &plan.action {
            SyncAction::ShopifyRefund { lines, note } => {
                outbound::shopify_refund(&self.http, conn, r, lines, note).await?
            }
            SyncAction::WooCommerce(u) => {
                outbound::woocommerce_update(&self.http, conn, r, u).await?;
                describe_update("WooCommerce", r, u)
            }
            SyncAction::BigCommerce(u) => {
                outbound::bigcommerce_update(&self.http, conn, r, u).await?;
                describe_update("BigCommerce", r, u)
            }
        };
        if !plan.unmapped_lines.is_empty() {
            detail.push_str(&format!(
                "; lines without a store reference left alone: {}",
                plan.unmapped_lines.join(", ")
            ));
        }
        Ok(detail)
    }
}

pub(crate) fn describe_update(platform: &str, order_ref: PlatformId, u: &OrderUpdate) -> String {
    match u {
        OrderUpdate::CancelOrder => format!("{platform} order {order_ref} set to cancelled"),
        OrderUpdate::SetQuantities(lines) => format!(
            "{platform} order {order_ref}: quantities set ({})",
            lines
                .iter()
                .map(|(id, q)| format!("line {id} -> {q}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Local runs: the company's `api_base_url` when set (a fake or staging
/// store), else a request record in the outbox.
#[derive(Clone)]
pub struct LocalStoreSync {
    pub http: HttpStoreSync,
    pub record: super::outbox::RecordingStoreSync,
}

impl StoreSync for LocalStoreSync {
    async fn apply(&self, plan: &SyncPlan) -> Result<String, SyncError> {
        let has_base = plan
            .connection
            .api_base_url
            .as_deref()
            .is_some_and(|b| !b.trim().is_empty());
        if has_base {
            self.http.apply(plan).await
        } else {
            self.record.apply(plan).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CancelledItem, Integration, Source};
    use crate::store::contract::fixtures;

    fn order() -> Order {
        let mut o = fixtures::order("o1", "b1", "s1", 0);
        o.buyer_order_ref = Some("5001".into());
        o.seller_order_ref = Some("731".into());
        o.line_items[0].buyer_line_ref = Some("13001".into());
        o.line_items[0].seller_line_ref = Some("41".into());
        o.line_items[1].seller_line_ref = Some("42".into());
        o
    }

    fn cancellation(kind: CancellationKind, items: &[(&str, u32)]) -> Cancellation {
        Cancellation {
            id: "can_1".into(),
            order_id: "o1".into(),
            initiated_by: Role::Buyer,
            source: Source::Api,
            kind,
            items: items
                .iter()
                .map(|(l, q)| CancelledItem {
                    line_item_id: (*l).into(),
                    quantity: *q,
                    reason: "r".into(),
                })
                .collect(),
            created_at: chrono::Utc::now(),
        }
    }

    fn company(integration: Integration, role: Role) -> Company {
        let mut c = fixtures::company(if role == Role::Buyer { "b1" } else { "s1" }, role);
        c.integration = integration;
        c.connection = Some(Connection::default());
        c
    }

    #[test]
    fn partial_sets_new_quantities_from_the_order_state() {
        let mut o = order();
        o.line_items[0].cancelled = 2; // of 3: one left
        let can = cancellation(CancellationKind::Items, &[("li_1", 2)]);
        let woo = company(Integration::Woocommerce, Role::Seller);
        let p = plan(&woo, Role::Seller, &o, &can).unwrap().unwrap();
        assert_eq!(p.order_ref.to_string(), "731");
        assert_eq!(
            p.action,
            SyncAction::WooCommerce(OrderUpdate::SetQuantities(vec![(41, 1)]))
        );
        let bc = company(Integration::Bigcommerce, Role::Seller);
        let p = plan(&bc, Role::Seller, &o, &can).unwrap().unwrap();
        assert_eq!(
            p.action,
            SyncAction::BigCommerce(OrderUpdate::SetQuantities(vec![(41, 1)]))
        );
    }

    #[test]
    fn whole_order_sets_the_status() {
        let can = cancellation(CancellationKind::Order, &[("li_1", 3), ("li_2", 2)]);
        let woo = company(Integration::Woocommerce, Role::Seller);
        let p = plan(&woo, Role::Seller, &order(), &can).unwrap().unwrap();
        assert_eq!(p.action, SyncAction::WooCommerce(OrderUpdate::CancelOrder));
    }

    #[test]
    fn shopify_buyer_refunds_mapped_lines_and_notes_the_rest() {
        let mut o = order();
        o.line_items[0].cancelled = 1;
        o.line_items[1].cancelled = 1;
        let can = cancellation(CancellationKind::Items, &[("li_1", 1), ("li_2", 1)]);
        let shop = company(Integration::Shopify, Role::Buyer);
        let p = plan(&shop, Role::Buyer, &o, &can).unwrap().unwrap();
        assert_eq!(p.order_ref.to_string(), "5001");
        let SyncAction::ShopifyRefund { lines, .. } = &p.action else {
            panic!()
        };
        assert_eq!(
            lines,
            &[RefundLine {
                line_ref: PlatformId::parse("13001").unwrap(),
                cancelled: 1,
                target: 2
            }]
        );
        assert_eq!(p.unmapped_lines, ["li_2"]);
    }

    #[test]
    fn no_sync_for_email_only_partners_and_refusals_for_missing_data() {
        let can = cancellation(CancellationKind::Items, &[("li_1", 1)]);
        for (i, r) in [
            (Integration::Api, Role::Seller),
            (Integration::Edi, Role::Buyer),
            (Integration::Woocommerce, Role::Buyer),
        ] {
            assert_eq!(plan(&company(i, r), r, &order(), &can).unwrap(), None);
        }
        let mut o = order();
        o.seller_order_ref = None;
        let woo = company(Integration::Woocommerce, Role::Seller);
        assert!(matches!(
            plan(&woo, Role::Seller, &o, &can),
            Err(SyncError::Rejected(_))
        ));
        let mut bare = woo.clone();
        bare.connection = None;
        assert!(matches!(
            plan(&bare, Role::Seller, &order(), &can),
            Err(SyncError::Rejected(_))
        ));
        let mut o = order();
        o.line_items[0].seller_line_ref = Some("not-a-number".into());
        assert!(matches!(
            plan(&woo, Role::Seller, &o, &can),
            Err(SyncError::Rejected(_))
        ));
    }
}
