//! WooCommerce, inbound: `order.updated` deliveries carry the whole order.

use serde::Deserialize;

use crate::inbound::{id_string, quantity};
use crate::{Inbound, LineChange, OrderState, Platform, PlatformOrder};

pub const PLATFORM: &str = "woocommerce";

#[derive(Deserialize)]
struct OrderPayload {
    #[serde(deserialize_with = "id_string")]
    id: String,
    status: String,
    // Required: every order has its line list, and a body without one
    // (another resource's) must not read as "every line removed".
    line_items: Vec<LinePayload>,
}

#[derive(Deserialize)]
struct LinePayload {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(deserialize_with = "quantity")]
    quantity: u32,
}

/// The unsigned ping WooCommerce sends when a webhook is saved: `webhook_id=N`.
pub fn is_ping(body: &[u8]) -> bool {
    body.strip_prefix(b"webhook_id=")
        .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
}

/// Interpret a verified delivery of `topic`.
pub fn parse(topic: &str, body: &[u8]) -> Result<Inbound, serde_json::Error> {
    if topic != "order.updated" {
        return Ok(Inbound::Ignore(format!("topic {topic} is not acted on")));
    }
    let p: OrderPayload = serde_json::from_slice(body)?;
    let state = match p.status.as_str() {
        "cancelled" => OrderState::Cancelled(Platform::WooCommerce, crate::CancelCause::Other),
        "refunded" => OrderState::Refunded(Platform::WooCommerce),
        _ => OrderState::Open(Platform::WooCommerce, LineChange::QuantityUpdated),
    };
    Ok(Inbound::Order(PlatformOrder {
        order_ref: p.id,
        state,
        lines: p
            .line_items
            .into_iter()
            .map(|l| (l.id, l.quantity))
            .collect(),
        // The payload is the whole order: a line deleted in WooCommerce is gone from it.
        complete_line_list: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings() {
        assert!(is_ping(b"webhook_id=12"));
        assert!(!is_ping(b"webhook_id="));
        assert!(!is_ping(b"webhook_id=12&x=1"));
        assert!(!is_ping(b"{}"));
    }

    #[test]
    fn statuses_and_quantities() {
        let body = br#"{"id": 731, "status": "processing", "line_items": [{"id": 41, "quantity": 1}, {"id": 42, "quantity": "3"}]}"#;
        let Inbound::Order(o) = parse("order.updated", body).unwrap() else {
            panic!()
        };
        assert!(!o.cancelled() && o.complete_line_list);
        assert_eq!(o.lines, vec![("41".to_owned(), 1), ("42".to_owned(), 3)]);
        for (status, reason) in [
            ("cancelled", "Order cancelled in WooCommerce"),
            ("refunded", "Order refunded in WooCommerce"),
        ] {
            let body = format!(r#"{{"id": 731, "status": "{status}", "line_items": []}}"#);
            let Inbound::Order(o) = parse("order.updated", body.as_bytes()).unwrap() else {
                panic!()
            };
            assert!(o.cancelled());
            assert_eq!(o.reason(), reason);
        }
        assert!(matches!(
            parse("order.created", b"{}").unwrap(),
            Inbound::Ignore(_)
        ));
        assert!(parse("order.updated", br#"{"id": 1}"#).is_err());
        assert!(
            parse("order.updated", br#"{"id": 1, "status": "publish"}"#).is_err(),
            "a body without line items is not an order"
        );
    }
}
