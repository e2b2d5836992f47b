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

/// The most characters of a note we write into a store.
pub const STORE_NOTE_MAX_CHARS: usize = 500;

/// A cancellation's note as a store receives it: one line (control
/// characters and runs of spaces become one space), at most
/// `STORE_NOTE_MAX_CHARS` characters; `None` when blank. One line, so a
/// note appended to a multi-line field can be found there again.
pub fn store_note(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = 0usize;
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        for c in (!out.is_empty())
            .then_some(' ')
            .into_iter()
            .chain(word.chars())
        {
            if chars >= STORE_NOTE_MAX_CHARS {
                return Some(out);
            }
            out.push(c);
            chars = chars.saturating_add(1);
        }
    }
    (!out.is_empty()).then_some(out)
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

    #[test]
    fn store_notes_are_one_bounded_line() {
        assert_eq!(
            store_note(
                "  Dropship cancellation can_1:\r\n2 units,\tOut of stock\u{7}(out_of_stock) "
            )
            .as_deref(),
            Some("Dropship cancellation can_1: 2 units, Out of stock (out_of_stock)")
        );
        assert_eq!(store_note(" \n\t "), None);
        let long = store_note(&"é".repeat(2 * STORE_NOTE_MAX_CHARS)).unwrap();
        assert_eq!(long.chars().count(), STORE_NOTE_MAX_CHARS);
    }
}
