//! BigCommerce over the network: the V2 order and products reads, and
//! the order update.

use domain::inbound::{CancelCause, LineChange, OrderState, Platform, PlatformOrder};
use domain::{Connection, PlatformId};
use serde::Deserialize;

use super::{CANCELLED, PLATFORM, REFUNDED, body, order_url, products_url};
use crate::amounts::{BcProduct, bigcommerce_partial_body};
use crate::http::PlatformHttp;
use crate::http::{BodyLimit, decode, read_body};
use crate::outbound::{amount_error, update_detail};
use domain::sync::OrderUpdate;

/// Products fetched per page.
const PAGE: usize = 250;
use crate::PlatformError;
use crate::connection::access_token;
use crate::inbound::quantity;

#[derive(Deserialize)]
struct OrderBody {
    #[serde(deserialize_with = "quantity")]
    status_id: u32,
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
    let bytes = read_body(PLATFORM, resp, BodyLimit::Order).await?;
    if bytes.is_empty() {
        return Ok(None);
    }
    decode(PLATFORM, &bytes).map(Some)
}

/// Every product of an order (all pages).
pub(crate) async fn products(
    http: &PlatformHttp,
    conn: &Connection,
    order_ref: PlatformId,
) -> Result<Vec<BcProduct>, PlatformError> {
    let token = access_token(PLATFORM, conn)?;
    let order_ref = order_ref.to_string();
    let mut all = Vec::new();
    for page in 1.. {
        let products: Vec<BcProduct> =
            get_json(http, &products_url(conn, &order_ref, PAGE, page)?, token)
                .await?
                .unwrap_or_default();
        let n = products.len();
        all.extend(products);
        if n < PAGE {
            break;
        }
    }
    Ok(all)
}

/// Fetch the order's status and every product's current quantity
/// (`quantity - quantity_refunded`).
pub(crate) async fn fetch_order(
    http: &PlatformHttp,
    conn: &Connection,
    order_id: PlatformId,
) -> Result<Option<PlatformOrder>, PlatformError> {
    let token = access_token(PLATFORM, conn)?;
    let order_ref = order_id.to_string();
    let url = order_url(conn, &order_ref)?;
    let Some(order) = get_json::<OrderBody>(http, &url, token).await? else {
        return Ok(None);
    };
    let lines = products(http, conn, order_id)
        .await?
        .into_iter()
        .map(|p| (p.id, p.quantity.saturating_sub(p.quantity_refunded)))
        .collect();
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

/// `PUT {api}/stores/{hash}/v2/orders/{id}` with `X-Auth-Token`. A partial
/// cancellation reads the order's products first: the update clears the
/// discounts of the lines it changes, so a discounted line's unit prices are
/// sent as paid. Returns what was done, in words.
pub(crate) async fn update(
    http: &PlatformHttp,
    conn: &Connection,
    order_ref: PlatformId,
    update: &OrderUpdate,
) -> Result<String, PlatformError> {
    let platform = PLATFORM;
    let url = order_url(conn, &order_ref.to_string())?;
    let token = access_token(platform, conn)?;
    let (body, missing) = match update {
        OrderUpdate::CancelOrder => (Some(body(update)), Vec::new()),
        OrderUpdate::SetQuantities(lines) => {
            let products = products(http, conn, order_ref).await?;
            bigcommerce_partial_body(lines, &products).map_err(|e| amount_error(platform, e))?
        }
    };
    if let Some(body) = &body {
        http.send(platform, |c| {
            c.put(url.clone())
                .header("X-Auth-Token", token)
                .header("Accept", "application/json")
                .json(body)
        })
        .await?;
    }
    Ok(update_detail(
        "BigCommerce",
        order_ref,
        update,
        body.is_some(),
        &missing,
    ))
}
