//! Outbound store sync: telling a partner's store platform about a
//! cancellation (docs/api.md, "Store sync and email"). Request shapes are built by pure
//! functions, so the local outbox records exactly what would be sent.
//!
//! - Shopify: read the order's current line quantities, refund what is above
//!   our target (`order.suggestedRefund` then `refundCreate`, restock
//!   `CANCEL`, `notify: true`), refund shipping and close the order when it
//!   is then fully refunded. Quantities are compared with our targets first,
//!   so a retry after a refund that went through refunds nothing twice.
//! - WooCommerce / BigCommerce: one `PUT` of absolute values (status, or new
//!   line quantities), safe to repeat.

use domain::PlatformId;
use serde_json::{Value, json};

pub use domain::sync::OrderUpdate;

/// WooCommerce REST v3 order update body.
pub fn woocommerce_body(u: &OrderUpdate) -> Value {
    match u {
        OrderUpdate::CancelOrder => json!({ "status": "cancelled" }),
        OrderUpdate::SetQuantities(lines) => json!({
            "line_items": lines
                .iter()
                .map(|(id, q)| json!({ "id": id, "quantity": q }))
                .collect::<Vec<_>>()
        }),
    }
}

/// BigCommerce V2 order update body (status 5 = Cancelled).
pub fn bigcommerce_body(u: &OrderUpdate) -> Value {
    match u {
        OrderUpdate::CancelOrder => json!({ "status_id": super::bigcommerce::CANCELLED }),
        OrderUpdate::SetQuantities(lines) => json!({
            "products": lines
                .iter()
                .map(|(id, q)| json!({ "id": id, "quantity": q }))
                .collect::<Vec<_>>()
        }),
    }
}

/// Reads what a refund decision needs: open state, currency and every
/// line's current quantity (after edits and earlier refunds).
pub(crate) const REFUND_STATE_QUERY: &str = r#"query DropshipRefundState($id: ID!, $after: String) {
  order(id: $id) {
    id
    closed
    presentmentCurrencyCode
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

/// Shopify's suggestion for refunding these lines (and shipping).
pub(crate) const SUGGESTED_REFUND_QUERY: &str = r#"query DropshipSuggestedRefund($id: ID!, $refundLineItems: [RefundLineItemInput!], $refundShipping: Boolean) {
  order(id: $id) {
    suggestedRefund(refundLineItems: $refundLineItems, refundShipping: $refundShipping) {
      amountSet {
        presentmentMoney {
          amount
          currencyCode
        }
      }
      suggestedTransactions {
        gateway
        amountSet {
          presentmentMoney {
            amount
            currencyCode
          }
        }
        parentTransaction {
          id
        }
      }
    }
  }
}"#;

pub const REFUND_CREATE_MUTATION: &str = r#"mutation DropshipRefundCreate($input: RefundInput!) {
  refundCreate(input: $input) {
    refund {
      id
    }
    userErrors {
      field
      message
    }
  }
}"#;

pub const ORDER_CLOSE_MUTATION: &str = r#"mutation DropshipOrderClose($input: OrderCloseInput!) {
  orderClose(input: $input) {
    order {
      id
      closed
    }
    userErrors {
      field
      message
    }
  }
}"#;

/// Every GraphQL document the service sends to Shopify (checked against
/// the Admin schema in tests).
pub const SHOPIFY_DOCUMENTS: [(&str, &str); 8] = [
    ("ORDER_LINES_QUERY", crate::shopify::ORDER_LINES_QUERY),
    ("REFUND_STATE_QUERY", REFUND_STATE_QUERY),
    ("SUGGESTED_REFUND_QUERY", SUGGESTED_REFUND_QUERY),
    ("REFUND_CREATE_MUTATION", REFUND_CREATE_MUTATION),
    ("ORDER_CLOSE_MUTATION", ORDER_CLOSE_MUTATION),
    (
        "SHOPIFY_LIST_QUERY",
        crate::registration::SHOPIFY_LIST_QUERY,
    ),
    (
        "SHOPIFY_CREATE_MUTATION",
        crate::registration::SHOPIFY_CREATE_MUTATION,
    ),
    (
        "SHOPIFY_DELETE_MUTATION",
        crate::registration::SHOPIFY_DELETE_MUTATION,
    ),
];

/// `gid://shopify/Order/{id}`: built from a validated numeric id only.
pub fn order_gid(order_ref: PlatformId) -> String {
    format!("gid://shopify/Order/{order_ref}")
}

/// `gid://shopify/LineItem/{id}`: built from a validated numeric id only.
pub fn line_gid(line_ref: PlatformId) -> String {
    format!("gid://shopify/LineItem/{line_ref}")
}

/// Variables of the `refundCreate` for these lines: used by the real call
/// and by the local outbox record.
pub fn refund_input(
    order_gid: &str,
    lines: &[(String, u32)],
    full: bool,
    currency: Option<&str>,
    transactions: Value,
    note: &str,
) -> Value {
    let mut input = json!({
        "orderId": order_gid,
        "notify": true,
        "note": note,
        "refundLineItems": lines
            .iter()
            .map(|(gid, q)| json!({ "lineItemId": gid, "quantity": q, "restockType": "CANCEL" }))
            .collect::<Vec<_>>(),
        "transactions": transactions,
    });
    if full {
        input["shipping"] = json!({ "fullRefund": true });
    }
    if let Some(c) = currency {
        input["currency"] = json!(c);
    }
    json!({ "input": input })
}

/// Refund the lines of a cancellation in a Shopify order; returns what was
/// done, in words.
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn refund_input_shape() {
        let v = refund_input(
            "gid://shopify/Order/5001",
            &[("gid://shopify/LineItem/13001".into(), 2)],
            true,
            Some("USD"),
            json!([]),
            "n",
        );
        assert_eq!(
            v,
            json!({"input": {
                "orderId": "gid://shopify/Order/5001", "notify": true, "note": "n",
                "refundLineItems": [{"lineItemId": "gid://shopify/LineItem/13001", "quantity": 2, "restockType": "CANCEL"}],
                "transactions": [], "shipping": {"fullRefund": true}, "currency": "USD"
            }})
        );
        let id = |s| PlatformId::parse(s).unwrap();
        assert_eq!(line_gid(id("13001")), "gid://shopify/LineItem/13001");
        assert_eq!(order_gid(id("1")), "gid://shopify/Order/1");
    }
}
