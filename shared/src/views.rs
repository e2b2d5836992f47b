//! What clients see: the JSON shapes of contract.md, derived from the domain.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{
    Cancellation, CancellationStatus, Fulfillment, FulfillmentStatus, Order, Role,
};
use crate::store::OrderRecord;

#[derive(Debug, Serialize)]
pub struct LineItemView<'a> {
    pub id: &'a str,
    pub sku: &'a str,
    pub title: Option<&'a str>,
    pub quantity: u32,
    pub fulfilled: u32,
    pub cancelled: u32,
    pub open: u32,
    pub unit_price: Option<&'a str>,
    pub buyer_line_ref: Option<&'a str>,
    pub seller_line_ref: Option<&'a str>,
    /// Units a store platform asked to cancel after they had shipped.
    #[serde(skip_serializing_if = "is_zero")]
    pub platform_shortfall: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct OrderView<'a> {
    pub id: &'a str,
    pub buyer_id: &'a str,
    pub seller_id: &'a str,
    pub buyer_order_ref: Option<&'a str>,
    pub seller_order_ref: Option<&'a str>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub fulfillment_status: FulfillmentStatus,
    pub cancellation_status: CancellationStatus,
    pub complete: bool,
    pub line_items: Vec<LineItemView<'a>>,
    pub cancellations: &'a [Cancellation],
}

impl<'a> OrderView<'a> {
    pub fn new(order: &'a Order, cancellations: &'a [Cancellation]) -> Self {
        OrderView {
            id: &order.id,
            buyer_id: &order.buyer_id,
            seller_id: &order.seller_id,
            buyer_order_ref: order.buyer_order_ref.as_deref(),
            seller_order_ref: order.seller_order_ref.as_deref(),
            version: order.version,
            created_at: order.created_at,
            updated_at: order.updated_at,
            fulfillment_status: order.fulfillment_status(),
            cancellation_status: order.cancellation_status(),
            complete: order.is_complete(),
            line_items: order
                .line_items
                .iter()
                .map(|l| LineItemView {
                    id: &l.id,
                    sku: &l.sku,
                    title: l.title.as_deref(),
                    quantity: l.quantity,
                    fulfilled: l.fulfilled,
                    cancelled: l.cancelled,
                    open: l.open(),
                    unit_price: l.unit_price.as_deref(),
                    buyer_line_ref: l.buyer_line_ref.as_deref(),
                    seller_line_ref: l.seller_line_ref.as_deref(),
                    platform_shortfall: l.platform_shortfall,
                })
                .collect(),
            cancellations,
        }
    }

    pub fn of(record: &'a OrderRecord) -> Self {
        Self::new(&record.order, &record.cancellations)
    }
}

#[derive(Debug, Serialize)]
pub struct OrderList<'a> {
    pub orders: Vec<OrderView<'a>>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CancellationList<'a> {
    pub cancellations: &'a [Cancellation],
}

/// The calling company, and what it may do in the app or API.
#[derive(Debug, Serialize)]
pub struct CompanyView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub integration: crate::domain::Integration,
    pub capabilities: crate::domain::rules::Capabilities,
}

impl<'a> CompanyView<'a> {
    pub fn new(c: &'a crate::domain::Company) -> Self {
        CompanyView {
            id: &c.id,
            name: &c.name,
            role: c.role,
            integration: c.integration,
            capabilities: crate::domain::rules::capabilities(c.integration, c.role),
        }
    }
}

/// JSON of a value the service renders; falls back to an error object, which
/// cannot happen for these plain data types.
pub fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
}

pub fn cancellation_json(c: &Cancellation) -> String {
    to_json(c)
}

pub fn fulfillment_json(f: &Fulfillment) -> String {
    to_json(f)
}
