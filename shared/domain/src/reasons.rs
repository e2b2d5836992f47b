//! Why units were cancelled: a closed set of codes every partner system can
//! act on (mark an item out of stock, flag fraud), beside an optional note
//! in the canceller's words.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A cancellation's reason code (lower snake case on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    CustomerRequest,
    OutOfStock,
    Discontinued,
    PricingError,
    Fraud,
    AddressUndeliverable,
    Delayed,
    DuplicateOrder,
    PaymentDeclined,
    /// Anything else; a note says what.
    Other,
}

impl ReasonCode {
    /// Every code, in the order lists show them.
    pub const ALL: [ReasonCode; 10] = [
        ReasonCode::CustomerRequest,
        ReasonCode::OutOfStock,
        ReasonCode::Discontinued,
        ReasonCode::PricingError,
        ReasonCode::Fraud,
        ReasonCode::AddressUndeliverable,
        ReasonCode::Delayed,
        ReasonCode::DuplicateOrder,
        ReasonCode::PaymentDeclined,
        ReasonCode::Other,
    ];

    /// The code as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::CustomerRequest => "customer_request",
            ReasonCode::OutOfStock => "out_of_stock",
            ReasonCode::Discontinued => "discontinued",
            ReasonCode::PricingError => "pricing_error",
            ReasonCode::Fraud => "fraud",
            ReasonCode::AddressUndeliverable => "address_undeliverable",
            ReasonCode::Delayed => "delayed",
            ReasonCode::DuplicateOrder => "duplicate_order",
            ReasonCode::PaymentDeclined => "payment_declined",
            ReasonCode::Other => "other",
        }
    }

    /// What a person reads (emails, notes, documents, the app).
    pub fn label(self) -> &'static str {
        match self {
            ReasonCode::CustomerRequest => "Customer request",
            ReasonCode::OutOfStock => "Out of stock",
            ReasonCode::Discontinued => "Discontinued",
            ReasonCode::PricingError => "Pricing error",
            ReasonCode::Fraud => "Suspected fraud",
            ReasonCode::AddressUndeliverable => "Address undeliverable",
            ReasonCode::Delayed => "Delayed",
            ReasonCode::DuplicateOrder => "Duplicate order",
            ReasonCode::PaymentDeclined => "Payment declined",
            ReasonCode::Other => "Other",
        }
    }

    /// The code a string names, if any (exactly as the API writes it).
    pub fn parse(s: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ReasonCode;

    #[test]
    fn codes_parse_as_written_and_serialize_the_same() {
        for c in ReasonCode::ALL {
            assert_eq!(ReasonCode::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert!(!c.label().is_empty());
        }
        for bad in ["", "OUT_OF_STOCK", "out-of-stock", "stock", " other"] {
            assert_eq!(ReasonCode::parse(bad), None, "{bad:?}");
        }
    }
}
