//! BigCommerce, inbound: deliveries name the order; its state is fetched
//! from the V2 API (order status and products).

use serde::Deserialize;

use domain::PlatformId;

use crate::inbound::id_string;
use crate::{Inbound, LineChange};

pub const PLATFORM: &str = "bigcommerce";

/// The order scopes the intake acts on (and `dropship connect` registers).
pub const ORDER_SCOPES: [&str; 3] = [
    "store/order/statusUpdated",
    "store/order/updated",
    "store/order/refund/created",
];

/// Status ids that mean the whole order is off.
pub(crate) const CANCELLED: u32 = 5;
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) const REFUNDED: u32 = 4;

#[derive(Deserialize)]
struct Delivery {
    scope: String,
    data: DeliveryData,
}

#[derive(Deserialize)]
struct Sent {
    created_at: i64,
}

/// When BigCommerce says it sent a delivery: its `created_at` (epoch
/// seconds; "the time the webhook was created", docs/integrations/webhooks/
/// events). `None` when the body does not say.
pub fn sent_at(body: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Sent>(body)
        .ok()
        .map(|s| s.created_at)
}

#[derive(Deserialize)]
struct DeliveryData {
    #[serde(deserialize_with = "id_string")]
    id: String,
}

/// Interpret a verified delivery. Its `hash` is not read: BigCommerce
/// defines it as the SHA-1 of `data`, the same for every change of an order.
pub fn parse(body: &[u8]) -> Result<Inbound, serde_json::Error> {
    let d: Delivery = serde_json::from_slice(body)?;
    let inbound = match d.scope.as_str() {
        scope if ORDER_SCOPES.contains(&scope) => {
            // The id is fetched by: a numeric one only.
            let order_ref = PlatformId::parse(&d.data.id).ok_or_else(|| {
                <serde_json::Error as serde::de::Error>::custom(format!(
                    "data.id {:?} is not a numeric order id",
                    d.data.id
                ))
            })?;
            Inbound::Fetch {
                order_ref,
                change: LineChange::QuantityUpdated,
            }
        }
        other => Inbound::Ignore(format!("scope {other} is not acted on")),
    };
    Ok(inbound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_time_is_read_when_given() {
        assert_eq!(
            sent_at(br#"{"scope": "store/order/updated", "created_at": 1795579200}"#),
            Some(1_795_579_200)
        );
        assert_eq!(sent_at(br#"{"scope": "store/order/updated"}"#), None);
        assert_eq!(sent_at(br#"{"created_at": "yesterday"}"#), None);
    }

    #[test]
    fn scopes() {
        let body = br#"{"scope": "store/order/statusUpdated", "store_id": "1", "producer": "stores/birch123",
            "data": {"type": "order", "id": 120, "status": {"previous_status_id": 11, "new_status_id": 5}},
            "hash": "3f1c", "created_at": 1795579200}"#;
        let i = parse(body).unwrap();
        assert_eq!(
            i,
            Inbound::Fetch {
                order_ref: PlatformId::parse("120").unwrap(),
                change: LineChange::QuantityUpdated
            }
        );
        let i =
            parse(br#"{"scope": "store/product/updated", "data": {"type": "product", "id": 1}}"#)
                .unwrap();
        assert!(matches!(i, Inbound::Ignore(_)));
        assert!(parse(br#"{"scope": "store/order/updated"}"#).is_err());
        // An order id we would fetch by must be numeric.
        for bad in [
            r#""120/../../v3/catalog/products/77""#,
            r#""0""#,
            "-1",
            r#""12?x=1""#,
        ] {
            let body = format!(r#"{{"scope": "store/order/updated", "data": {{"id": {bad}}}}}"#);
            assert!(parse(body.as_bytes()).is_err(), "{bad}");
        }
    }
}
