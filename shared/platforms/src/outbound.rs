//! Outbound store sync shared by the platforms that take order updates:
//! the update itself (a domain value) and how the ledger words it. Each
//! platform's request shapes are in its own module.

use domain::PlatformId;

pub use domain::sync::OrderUpdate;

use crate::PlatformError;

/// What an order update did, in words (the ledger's detail).
pub fn describe_update(platform: &str, order_ref: PlatformId, u: &OrderUpdate) -> String {
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

/// The ledger's detail of an order update: what was sent, and the lines the
/// platform's order did not have.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn update_detail(
    platform: &str,
    order_ref: PlatformId,
    update: &OrderUpdate,
    sent: bool,
    missing: &[u64],
) -> String {
    let mut out = if sent {
        describe_update(platform, order_ref, update)
    } else {
        format!("{platform} order {order_ref}: nothing to update")
    };
    if !missing.is_empty() {
        let ids: Vec<String> = missing.iter().map(u64::to_string).collect();
        out.push_str(&format!(
            "; line(s) {} not on the {platform} order",
            ids.join(", ")
        ));
    }
    out
}

/// An order's amounts that cannot be read, as the platform's error.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn amount_error(
    platform: &'static str,
    e: crate::amounts::AmountError,
) -> PlatformError {
    PlatformError::Decode {
        platform,
        detail: e.to_string(),
    }
}

/// A partial update's amounts come from the live order when sent.
pub(crate) fn amounts_note(mut note: String, u: &OrderUpdate, what: &str) -> String {
    if let OrderUpdate::SetQuantities(_) = u {
        note.push_str(&format!(
            "; when sent, the body also carries {what}, read from the live order"
        ));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bigcommerce::body as bigcommerce_body;
    use crate::woocommerce::body as woocommerce_body;
    use serde_json::json;

    #[test]
    fn woocommerce_and_bigcommerce_bodies() {
        let whole = OrderUpdate::CancelOrder;
        let part = OrderUpdate::SetQuantities(vec![(41, 1), (42, 0)]);
        assert_eq!(woocommerce_body(&whole), json!({"status": "cancelled"}));
        assert_eq!(
            woocommerce_body(&part),
            json!({"line_items": [{"id": 41, "quantity": 1}, {"id": 42, "quantity": 0}]})
        );
        assert_eq!(bigcommerce_body(&whole), json!({"status_id": 5}));
        assert_eq!(
            bigcommerce_body(&part),
            json!({"products": [{"id": 41, "quantity": 1}, {"id": 42, "quantity": 0}]})
        );
    }
}
