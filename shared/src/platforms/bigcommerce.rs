//! BigCommerce, inbound: deliveries name the order; its state is fetched
//! from the V2 API (order status and products).

use serde::Deserialize;

use super::{
    CancelCause, Inbound, LineChange, OrderState, Platform, PlatformError, PlatformHttp,
    PlatformOrder, access_token, bigcommerce_order_url, bigcommerce_products_url, id_string,
    quantity,
};
use crate::domain::{Connection, PlatformId};

pub const PLATFORM: &str = "bigcommerce";

/// Status ids that mean the whole order is off.
pub const CANCELLED: u32 = 5;
pub const REFUNDED: u32 = 4;

/// Products fetched per page.
const PAGE: usize = 250;

#[derive(Deserialize)]
struct Delivery {
    scope: String,
    data: DeliveryData,
    #[serde(default)]
    hash: Option<String>,
}

#[derive(Deserialize)]
struct DeliveryData {
    #[serde(deserialize_with = "id_string")]
    id: String,
}

/// Interpret a verified delivery. Returns the de-duplication hash too.
pub fn parse(body: &[u8]) -> Result<(Inbound, Option<String>), serde_json::Error> {
    let d: Delivery = serde_json::from_slice(body)?;
    let inbound = match d.scope.as_str() {
        "store/order/statusUpdated" | "store/order/updated" | "store/order/refund/created" => {
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
    Ok((inbound, d.hash))
}

#[derive(Deserialize)]
struct OrderBody {
    #[serde(deserialize_with = "quantity")]
    status_id: u32,
}

#[derive(Deserialize)]
struct ProductBody {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(deserialize_with = "quantity")]
    quantity: u32,
    #[serde(default, deserialize_with = "quantity")]
    quantity_refunded: u32,
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &PlatformHttp,
    url: &url::Url,
    token: &str,
) -> Result<Option<T>, PlatformError> {
    let resp = match http
        .send(PLATFORM, |c| {
            c.get(url.clone())
                .header("X-Auth-Token", token)
                .header("Accept", "application/json")
        })
        .await
    {
        Ok(r) => r,
        Err(PlatformError::Rejected { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    // BigCommerce answers 204 with no body for an empty list.
    let bytes = resp.bytes().await.map_err(|e| PlatformError::Unavailable {
        platform: PLATFORM,
        detail: e.to_string(),
    })?;
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PlatformError::Decode {
            platform: PLATFORM,
            detail: e.to_string(),
        })
}

/// Fetch the order's status and every product's current quantity
/// (`quantity - quantity_refunded`).
pub async fn fetch_order(
    http: &PlatformHttp,
    conn: &Connection,
    order_ref: PlatformId,
) -> Result<Option<PlatformOrder>, PlatformError> {
    let token = access_token(PLATFORM, conn)?;
    let order_ref = order_ref.to_string();
    let url = bigcommerce_order_url(conn, &order_ref)?;
    let Some(order) = get_json::<OrderBody>(http, &url, token).await? else {
        return Ok(None);
    };
    let mut lines = Vec::new();
    for page in 1.. {
        let products: Vec<ProductBody> = get_json(
            http,
            &bigcommerce_products_url(conn, &order_ref, PAGE, page)?,
            token,
        )
        .await?
        .unwrap_or_default();
        let n = products.len();
        lines.extend(
            products
                .into_iter()
                .map(|p| (p.id, p.quantity.saturating_sub(p.quantity_refunded))),
        );
        if n < PAGE {
            break;
        }
    }
    let state = match order.status_id {
        CANCELLED => OrderState::Cancelled(Platform::BigCommerce, CancelCause::Other),
        REFUNDED => OrderState::Refunded(Platform::BigCommerce),
        _ => OrderState::Open(Platform::BigCommerce, LineChange::QuantityUpdated),
    };
    Ok(Some(PlatformOrder {
        order_ref,
        state,
        lines,
        complete_line_list: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let body = br#"{"scope": "store/order/statusUpdated", "store_id": "1", "producer": "stores/birch123",
            "data": {"type": "order", "id": 120, "status": {"previous_status_id": 11, "new_status_id": 5}},
            "hash": "3f1c", "created_at": 1795579200}"#;
        let (i, hash) = parse(body).unwrap();
        assert_eq!(
            i,
            Inbound::Fetch {
                order_ref: PlatformId::parse("120").unwrap(),
                change: LineChange::QuantityUpdated
            }
        );
        assert_eq!(hash.as_deref(), Some("3f1c"));
        let (i, _) =
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
