//! Shopify, outbound: the GraphQL documents and refund shapes of the store
//! sync (docs/api.md, "Store sync and email"), built by pure functions so
//! the local outbox records exactly what would be sent.
//!
//! Read the order's current line quantities, refund what is above our
//! target (`order.suggestedRefund` then `refundCreate`, restock `CANCEL`,
//! under an idempotency key derived from the refund). In a buyer's store the
//! customer is notified, and shipping is refunded and the order closed once
//! it is fully refunded; in a seller's store none of the three. Quantities
//! are compared with our targets first, so a retry after a refund that went
//! through refunds nothing twice, and a retry after a lost answer replays
//! the refund under its key.

use domain::PlatformId;
use serde_json::{Value, json};

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

/// `@idempotent` is required on `refundCreate` from 2026-04 (its schema
/// description says so): a retry under the same key replays the first
/// refund instead of refunding twice.
pub const REFUND_CREATE_MUTATION: &str = r#"mutation DropshipRefundCreate($input: RefundInput!, $idempotencyKey: String!) {
  refundCreate(input: $input) @idempotent(key: $idempotencyKey) {
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
    ("ORDER_LINES_QUERY", super::ORDER_LINES_QUERY),
    ("REFUND_STATE_QUERY", REFUND_STATE_QUERY),
    ("SUGGESTED_REFUND_QUERY", SUGGESTED_REFUND_QUERY),
    ("REFUND_CREATE_MUTATION", REFUND_CREATE_MUTATION),
    ("ORDER_CLOSE_MUTATION", ORDER_CLOSE_MUTATION),
    (
        "SHOPIFY_LIST_QUERY",
        super::registration::SHOPIFY_LIST_QUERY,
    ),
    (
        "SHOPIFY_CREATE_MUTATION",
        super::registration::SHOPIFY_CREATE_MUTATION,
    ),
    (
        "SHOPIFY_DELETE_MUTATION",
        super::registration::SHOPIFY_DELETE_MUTATION,
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

/// The idempotency key of a refund: derived from what the refund is (the
/// store, the order, the cancellation, the lines and units, shipping), so a
/// retry of the same refund replays it and a different refund never reuses
/// a key. Shaped as a UUID (version 8, from SHA-256), as Shopify's examples.
pub fn refund_idempotency_key(
    store: &str,
    order_gid: &str,
    cancellation_id: &str,
    lines: &[(String, u32)],
    shipping: bool,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // Length-prefixed parts: no two different refunds hash the same bytes.
    let mut part = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    part(b"dropship-refund-v1");
    part(store.as_bytes());
    part(order_gid.as_bytes());
    part(cancellation_id.as_bytes());
    for (gid, q) in lines {
        part(gid.as_bytes());
        part(&q.to_be_bytes());
    }
    part(&[u8::from(shipping)]);
    let mut b: [u8; 16] = [0; 16];
    b.copy_from_slice(&h.finalize()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The store a Shopify connection reaches (its API origin), as a refund's
/// idempotency key names it.
pub fn shopify_store(conn: &domain::Connection) -> Result<String, crate::PlatformError> {
    Ok(super::graphql_url(conn)?.origin().ascii_serialization())
}

/// A `refundCreate` to send: the order, the lines (gid, units), and what
/// goes with them.
#[derive(Debug, Clone, Copy)]
pub struct RefundRequest<'a> {
    pub order_gid: &'a str,
    pub lines: &'a [(String, u32)],
    /// Shipping is refunded too (a buyer's store, nothing left on the order).
    pub shipping: bool,
    /// Shopify emails the store's customer.
    pub notify: bool,
    pub currency: Option<&'a str>,
    pub note: &'a str,
    pub idempotency_key: &'a str,
}

/// Variables of the `refundCreate` for these lines: used by the real call
/// and by the local outbox record.
pub fn refund_input(r: &RefundRequest<'_>, transactions: Value) -> Value {
    let RefundRequest {
        order_gid,
        lines,
        shipping: full,
        notify,
        currency,
        note,
        idempotency_key,
    } = *r;
    let mut input = json!({
        "orderId": order_gid,
        "notify": notify,
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
    json!({ "input": input, "idempotencyKey": idempotency_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_input_shape() {
        let lines = [("gid://shopify/LineItem/13001".to_owned(), 2)];
        let mut r = RefundRequest {
            order_gid: "gid://shopify/Order/5001",
            lines: &lines,
            shipping: true,
            notify: true,
            currency: Some("USD"),
            note: "n",
            idempotency_key: "k",
        };
        assert_eq!(
            refund_input(&r, json!([])),
            json!({"input": {
                "orderId": "gid://shopify/Order/5001", "notify": true, "note": "n",
                "refundLineItems": [{"lineItemId": "gid://shopify/LineItem/13001", "quantity": 2, "restockType": "CANCEL"}],
                "transactions": [], "shipping": {"fullRefund": true}, "currency": "USD"
            }, "idempotencyKey": "k"})
        );
        r.shipping = false;
        r.notify = false;
        let v = refund_input(&r, json!([]));
        assert_eq!(v["input"]["notify"], json!(false));
        assert_eq!(v["input"].get("shipping"), None, "no shipping refund");
        let id = |s| PlatformId::parse(s).unwrap();
        assert_eq!(line_gid(id("13001")), "gid://shopify/LineItem/13001");
        assert_eq!(order_gid(id("1")), "gid://shopify/Order/1");
    }

    #[test]
    fn idempotency_keys_name_the_refund() {
        let lines = |q| vec![("gid://shopify/LineItem/1".to_owned(), q)];
        let key = |store, can, q, ship| {
            refund_idempotency_key(store, "gid://shopify/Order/5", can, &lines(q), ship)
        };
        let k = key("pine.myshopify.com", "can_1", 2, false);
        assert_eq!(k, key("pine.myshopify.com", "can_1", 2, false), "stable");
        assert_eq!(k.len(), 36);
        assert_eq!(&k[14..15], "8", "a version 8 UUID");
        for other in [
            key("oak.myshopify.com", "can_1", 2, false),
            key("pine.myshopify.com", "can_2", 2, false),
            key("pine.myshopify.com", "can_1", 1, false),
            key("pine.myshopify.com", "can_1", 2, true),
        ] {
            assert_ne!(
                k, other,
                "another store, cancellation, quantity or shipping"
            );
        }
    }
}
