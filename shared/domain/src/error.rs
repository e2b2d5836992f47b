use thiserror::Error;

/// Why the domain refuses a command. Each variant maps one-to-one onto an
/// error code of the external contract (see `code`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("the order has no open units to cancel")]
    NothingToCancel,
    #[error(
        "line item {line_item_id}: requested {requested} but only {open} open (quantity {quantity}, fulfilled {fulfilled}, cancelled {cancelled})"
    )]
    QuantityExceedsOpen {
        line_item_id: String,
        requested: u64,
        open: u32,
        quantity: u32,
        fulfilled: u32,
        cancelled: u32,
    },
    #[error("{}", match .line_item_id { Some(id) => format!("line item {id}: a cancellation reason is required"), None => "a cancellation reason is required".to_owned() })]
    ReasonRequired { line_item_id: Option<String> },
    #[error("{}", match .line_item_id { Some(id) => format!("line item {id}: the reason is {chars} characters; at most {max} are allowed", max = super::MAX_REASON_CHARS), None => format!("the reason is {chars} characters; at most {max} are allowed", max = super::MAX_REASON_CHARS) })]
    ReasonTooLong {
        line_item_id: Option<String>,
        chars: usize,
    },
    #[error("{}", match .line_item_id { Some(id) => format!("line item {id}: {code:?} is not a reason code"), None => format!("{code:?} is not a reason code") })]
    InvalidReasonCode {
        line_item_id: Option<String>,
        code: String,
    },
    #[error("line item {line_item_id}: quantity must be at least 1, got {quantity}")]
    InvalidQuantity { line_item_id: String, quantity: i64 },
    #[error("line item {line_item_id} is not on this order")]
    UnknownLineItem { line_item_id: String },
    #[error("line item {line_item_id} appears more than once in the request")]
    DuplicateLineItem { line_item_id: String },
    #[error("items must list at least one line item")]
    EmptyItems,
    #[error("{0}")]
    NotPermitted(NotPermitted),
    #[error("{field} must be {}", super::ids::ref_rule(*.integration))]
    InvalidStoreRef {
        field: super::ids::RefField,
        /// The integration of the company the reference belongs to.
        integration: super::model::Integration,
    },
}

/// Why a company may not do something (the integration table of docs/domain.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NotPermitted {
    #[error("EDI buyers cannot create cancellations yet; ask the seller to cancel")]
    EdiBuyerCannotCancel,
    #[error("EDI sellers can cancel whole orders only, not individual items")]
    EdiSellerWholeOrderOnly,
    #[error("only the order's seller can record fulfillments")]
    OnlySellerFulfills,
    #[error("only buyer companies can create orders")]
    OnlyBuyersCreateOrders,
    #[error("this company's integration does not sync cancellations from a store")]
    NoInboundSync,
    #[error(
        "{field} is a reference in the seller's store: only the seller sets it, with PUT /v1/orders/{{order_id}}/store-refs"
    )]
    SellerStoreRef { field: &'static str },
}

impl DomainError {
    /// The contract's error code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::NothingToCancel => "nothing_to_cancel",
            DomainError::QuantityExceedsOpen { .. } => "quantity_exceeds_open",
            DomainError::ReasonRequired { .. } => "reason_required",
            DomainError::ReasonTooLong { .. } => "reason_too_long",
            DomainError::InvalidReasonCode { .. } => "invalid_reason_code",
            DomainError::InvalidQuantity { .. } => "invalid_quantity",
            DomainError::UnknownLineItem { .. } => "unknown_line_item",
            DomainError::DuplicateLineItem { .. } => "duplicate_line_item",
            DomainError::EmptyItems => "empty_items",
            DomainError::NotPermitted(_) => "not_permitted",
            DomainError::InvalidStoreRef { .. } => "invalid_store_ref",
        }
    }
}

impl From<NotPermitted> for DomainError {
    fn from(value: NotPermitted) -> Self {
        DomainError::NotPermitted(value)
    }
}
