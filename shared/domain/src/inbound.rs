//! What a store platform reports of an order: absolute quantities and the
//! order's state, whatever platform and payload it came from. The
//! reconciliation of our order with it is `crate::reconcile`.

pub use crate::Platform;
use crate::ReasonCode;

/// An order as a store platform reports it now: absolute quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOrder {
    /// The platform's order id (matched against `*_order_ref`).
    pub order_ref: String,
    /// What the platform says of the order as a whole. Read from the signed
    /// body or the platform's API only, never from a delivery header.
    pub state: OrderState,
    /// (platform line id, current quantity).
    pub lines: Vec<(String, u32)>,
    /// The payload lists every line, so a mapped line that is missing was
    /// removed (quantity 0). Otherwise missing lines are left alone.
    pub complete_line_list: bool,
}

impl PlatformOrder {
    /// The platform reports the whole order cancelled (or refunded).
    pub fn cancelled(&self) -> bool {
        self.state.is_whole_order()
    }

    /// The reason recorded on the cancellation this state leads to.
    pub fn reason(&self) -> String {
        self.state.reason()
    }

    /// The reason code recorded on it.
    pub fn reason_code(&self) -> ReasonCode {
        self.state.reason_code()
    }
}

/// The state of an order as its platform reports it, and so the reason of
/// what we cancel. Whole-order cancellation is one of its variants, so the
/// decision and its reason cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// The whole order is cancelled (each platform's module in the
    /// platforms crate says what reads as cancelled).
    Cancelled(Platform, CancelCause),
    /// The whole order is refunded (a status some platforms have).
    Refunded(Platform),
    /// The order is open; some line quantities may have gone down.
    Open(Platform, LineChange),
}

/// Why a platform says an order was cancelled (Shopify's `cancel_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelCause {
    Customer,
    Fraud,
    Inventory,
    Declined,
    Staff,
    /// `other`, a value we do not know, or none given.
    Other,
}

impl CancelCause {
    /// Shopify's `cancel_reason` (REST lower case, GraphQL upper case).
    pub fn from_shopify(reason: Option<&str>) -> Self {
        match reason.map(str::to_ascii_lowercase).as_deref() {
            Some("customer") => CancelCause::Customer,
            Some("fraud") => CancelCause::Fraud,
            Some("inventory") => CancelCause::Inventory,
            Some("declined") => CancelCause::Declined,
            Some("staff") => CancelCause::Staff,
            _ => CancelCause::Other,
        }
    }

    /// The reason code this cause reads as: one per value of Shopify's
    /// `OrderCancelReason` (Admin API 2026-10 schema), the contract's
    /// mapping (docs/api.md, *Reason codes*).
    pub fn code(self) -> ReasonCode {
        match self {
            CancelCause::Customer => ReasonCode::CustomerRequest,
            CancelCause::Inventory => ReasonCode::OutOfStock,
            CancelCause::Fraud => ReasonCode::Fraud,
            CancelCause::Declined => ReasonCode::PaymentDeclined,
            CancelCause::Staff | CancelCause::Other => ReasonCode::Other,
        }
    }

    fn text(self) -> &'static str {
        match self {
            CancelCause::Customer => "the customer cancelled",
            CancelCause::Fraud => "fraudulent order",
            CancelCause::Inventory => "items unavailable",
            CancelCause::Declined => "payment declined",
            CancelCause::Staff => "staff error",
            CancelCause::Other => "other",
        }
    }
}

/// What changed on an open order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineChange {
    /// Shopify `orders/updated`.
    OrderUpdated,
    /// Shopify `orders/edited`.
    OrderEdited,
    /// Shopify `refunds/create`, with the refund's note if any.
    Refunded { note: Option<String> },
    /// Any other change of an order (WooCommerce, and platforms whose
    /// deliveries only name the order).
    QuantityUpdated,
}

impl OrderState {
    pub(crate) fn is_whole_order(&self) -> bool {
        matches!(self, OrderState::Cancelled(..) | OrderState::Refunded(_))
    }

    /// The code a cancellation this state leads to carries: the platform's
    /// cause when it gives one; a refund or an edit is the customer's
    /// request, as platforms record them.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            OrderState::Cancelled(_, cause) => cause.code(),
            OrderState::Refunded(_) | OrderState::Open(..) => ReasonCode::CustomerRequest,
        }
    }

    pub fn reason(&self) -> String {
        match self {
            OrderState::Cancelled(Platform::Shopify, cause) => {
                format!("Order cancelled in Shopify ({})", cause.text())
            }
            OrderState::Cancelled(p, _) => format!("Order cancelled in {}", p.name()),
            OrderState::Refunded(p) => format!("Order refunded in {}", p.name()),
            OrderState::Open(p, LineChange::OrderUpdated) => {
                format!("Order updated in {}", p.name())
            }
            OrderState::Open(p, LineChange::OrderEdited) => format!("Order edited in {}", p.name()),
            OrderState::Open(p, LineChange::Refunded { note }) => match note {
                Some(n) => format!("Refunded in {}: {n}", p.name()),
                None => format!("Refunded in {}", p.name()),
            },
            OrderState::Open(p, LineChange::QuantityUpdated) => {
                format!("Quantity updated in {}", p.name())
            }
        }
    }
}
