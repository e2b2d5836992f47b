//! Shopify, inbound: webhook topics to platform orders, and the Admin
//! GraphQL read of an order's current line quantities.

use domain::{PlatformId, trim_blank};
use serde::Deserialize;

use crate::inbound::{id_string, platform_id};
use crate::{CancelCause, Inbound, LineChange, OrderState, Platform, PlatformOrder};

pub const PLATFORM: &str = "shopify";

/// Reads an order's cancellation state and every line's current quantity.
pub const ORDER_LINES_QUERY: &str = r#"query DropshipOrderLines($id: ID!, $after: String) {
  order(id: $id) {
    cancelledAt
    cancelReason
    lineItems(first: 250, after: $after) {
      nodes {
        id
        currentQuantity
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}"#;

#[derive(Deserialize)]
struct OrderPayload {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    cancelled_at: Option<String>,
    #[serde(default)]
    cancel_reason: Option<String>,
    #[serde(default)]
    line_items: Vec<LinePayload>,
}

#[derive(Deserialize)]
struct LinePayload {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    current_quantity: Option<i64>,
}

#[derive(Deserialize)]
struct EditPayload {
    order_edit: EditBody,
}

#[derive(Deserialize)]
struct EditBody {
    #[serde(deserialize_with = "platform_id")]
    order_id: PlatformId,
}

#[derive(Deserialize)]
struct RefundPayload {
    #[serde(deserialize_with = "platform_id")]
    order_id: PlatformId,
    #[serde(default)]
    note: Option<String>,
}

/// The order's state from its cancellation fields: `cancelled_at` decides,
/// `cancel_reason` only explains.
pub(crate) fn order_state(
    cancelled_at: Option<&str>,
    cancel_reason: Option<&str>,
    open: LineChange,
) -> OrderState {
    if cancelled_at.is_some_and(|s| !s.trim().is_empty()) {
        OrderState::Cancelled(Platform::Shopify, CancelCause::from_shopify(cancel_reason))
    } else {
        OrderState::Open(Platform::Shopify, open)
    }
}

fn order_payload(p: OrderPayload) -> PlatformOrder {
    PlatformOrder {
        state: order_state(
            p.cancelled_at.as_deref(),
            p.cancel_reason.as_deref(),
            LineChange::OrderUpdated,
        ),
        order_ref: p.id,
        lines: p
            .line_items
            .into_iter()
            .filter_map(|l| {
                let q = l.current_quantity?;
                Some((l.id, u32::try_from(q.max(0)).unwrap_or(u32::MAX)))
            })
            .collect(),
        complete_line_list: false,
    }
}

/// Interpret a verified delivery of `topic`. The topic is not signed
/// (Shopify signs the body only), so it only picks the payload's shape:
/// whether the order is cancelled is read from the body's `cancelled_at`.
pub fn parse(topic: &str, body: &[u8]) -> Result<Inbound, serde_json::Error> {
    Ok(match topic {
        "orders/cancelled" | "orders/updated" => {
            Inbound::Order(order_payload(serde_json::from_slice(body)?))
        }
        "orders/edited" => {
            let p: EditPayload = serde_json::from_slice(body)?;
            Inbound::Fetch {
                order_ref: p.order_edit.order_id,
                change: LineChange::OrderEdited,
            }
        }
        "refunds/create" => {
            let p: RefundPayload = serde_json::from_slice(body)?;
            let note = p
                .note
                .as_deref()
                .map(trim_blank)
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            Inbound::Fetch {
                order_ref: p.order_id,
                change: LineChange::Refunded { note },
            }
        }
        other => Inbound::Ignore(format!("topic {other} is not acted on")),
    })
}

/// `gid://shopify/LineItem/123` -> `123`.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn legacy_id(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_topic() {
        let body = br#"{"id": 5001, "cancelled_at": "2026-11-20T10:00:00-05:00", "cancel_reason": "inventory",
            "line_items": [{"id": 13001, "quantity": 2, "current_quantity": 0}]}"#;
        let Inbound::Order(o) = parse("orders/cancelled", body).unwrap() else {
            panic!()
        };
        assert!(o.cancelled());
        assert_eq!(o.order_ref, "5001");
        assert_eq!(o.lines, vec![("13001".to_owned(), 0)]);
        assert_eq!(o.reason(), "Order cancelled in Shopify (items unavailable)");
        // The same body under the other order topic: the same decision.
        assert_eq!(parse("orders/updated", body).unwrap(), Inbound::Order(o));
    }

    #[test]
    fn the_topic_does_not_cancel_an_open_order() {
        // X-Shopify-Topic is outside the signature: a body that is not
        // cancelled stays not cancelled whatever the topic says.
        for body in [
            &br#"{"id": 5001, "cancelled_at": null, "cancel_reason": "fraud", "line_items": []}"#[..],
            br#"{"id": 5001, "line_items": [{"id": 1, "current_quantity": 2}]}"#,
            br#"{"id": 5001, "cancelled_at": "  "}"#,
        ] {
            let Inbound::Order(o) = parse("orders/cancelled", body).unwrap() else {
                panic!()
            };
            assert!(!o.cancelled(), "{}", String::from_utf8_lossy(body));
            assert_eq!(o.reason(), "Order updated in Shopify");
            assert_eq!(parse("orders/updated", body).unwrap(), Inbound::Order(o));
        }
    }

    #[test]
    fn updated_topic_reads_current_quantity() {
        let body = br#"{"id": "5001", "cancelled_at": null, "line_items": [
            {"id": 13001, "quantity": 2, "current_quantity": 1}, {"id": 13002, "quantity": 3}]}"#;
        let Inbound::Order(o) = parse("orders/updated", body).unwrap() else {
            panic!()
        };
        assert!(!o.cancelled());
        assert_eq!(
            o.lines,
            vec![("13001".to_owned(), 1)],
            "a line without current_quantity is left alone"
        );
        assert_eq!(o.reason(), "Order updated in Shopify");
    }

    #[test]
    fn edited_and_refund_topics_fetch() {
        let e = parse("orders/edited", br#"{"order_edit": {"id": 1, "order_id": 5001, "line_items": {"additions": [], "removals": [{"id": 13001, "delta": 1}]}}}"#).unwrap();
        assert_eq!(
            e,
            Inbound::Fetch {
                order_ref: PlatformId::parse("5001").unwrap(),
                change: LineChange::OrderEdited
            }
        );
        let r = parse(
            "refunds/create",
            br#"{"id": 9, "order_id": 5001, "note": " damaged ", "refund_line_items": []}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            Inbound::Fetch {
                order_ref: PlatformId::parse("5001").unwrap(),
                change: LineChange::Refunded {
                    note: Some("damaged".into())
                }
            }
        );
        let Inbound::Fetch { change, .. } = parse(
            "refunds/create",
            "{\"id\": 9, \"order_id\": 5001, \"note\": \"\u{200b}\u{feff}\"}".as_bytes(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            change,
            LineChange::Refunded { note: None },
            "an invisible note is no note"
        );
        assert!(matches!(
            parse("products/update", b"{}").unwrap(),
            Inbound::Ignore(_)
        ));
        assert!(parse("orders/updated", b"not json").is_err());
        assert!(parse("orders/edited", br#"{"order_edit": {}}"#).is_err());
        // Ids we fetch an order by are numeric: nothing else reaches a GraphQL id.
        for bad in [
            r#""gid://shopify/Order/1""#,
            r#""5001/../1""#,
            "0",
            "-5",
            r#""""#,
        ] {
            let edit = format!(r#"{{"order_edit": {{"id": 1, "order_id": {bad}}}}}"#);
            assert!(parse("orders/edited", edit.as_bytes()).is_err(), "{bad}");
            let refund = format!(r#"{{"id": 9, "order_id": {bad}}}"#);
            assert!(parse("refunds/create", refund.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn gids() {
        assert_eq!(legacy_id("gid://shopify/LineItem/13001"), "13001");
        assert_eq!(legacy_id("13001"), "13001");
    }
}
