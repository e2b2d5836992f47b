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

/// The order's staff notes, read before they are replaced.
#[derive(Deserialize)]
struct StaffNotes {
    #[serde(default)]
    staff_notes: Option<String>,
}

/// `staff_notes`' `maxLength` in the updateOrder reference.
const STAFF_NOTES_MAX: usize = 65_535;

/// What `staff_notes` becomes with `note` appended on a line of its own:
/// `None` when a line already says it (a retried sync) or when it would
/// not fit.
fn appended(current: &str, note: &str) -> Option<String> {
    if current.lines().any(|l| l.trim() == note) {
        return None;
    }
    let current = current.trim_end();
    let out = if current.is_empty() {
        note.to_owned()
    } else {
        format!("{current}\n{note}")
    };
    (out.chars().count() <= STAFF_NOTES_MAX).then_some(out)
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
/// sent as paid. `note` goes in the same request, appended to the order's
/// `staff_notes` (updateOrder's "Any additional notes for staff"), which
/// the PUT replaces: the order is read first, and a note already there is
/// not written again. Returns what was done, in words.
pub(crate) async fn update(
    http: &PlatformHttp,
    conn: &Connection,
    order_ref: PlatformId,
    update: &OrderUpdate,
    note: Option<&str>,
) -> Result<String, PlatformError> {
    let platform = PLATFORM;
    let url = order_url(conn, &order_ref.to_string())?;
    let token = access_token(platform, conn)?;
    let (mut body, missing) = match update {
        OrderUpdate::CancelOrder => (Some(body(update)), Vec::new()),
        OrderUpdate::SetQuantities(lines) => {
            let products = products(http, conn, order_ref).await?;
            bigcommerce_partial_body(lines, &products).map_err(|e| amount_error(platform, e))?
        }
    };
    let sent = body.is_some();
    let mut note_detail = "";
    if let Some(note) = note {
        let Some(order) = get_json::<StaffNotes>(http, &url, token).await? else {
            return Err(PlatformError::Rejected {
                platform,
                status: 404,
                body: format!("BigCommerce order {order_ref} not found"),
            });
        };
        let current = order.staff_notes.unwrap_or_default();
        match appended(&current, note) {
            Some(notes) => {
                let b = body.get_or_insert_with(|| serde_json::json!({}));
                if let Some(fields) = b.as_object_mut() {
                    fields.insert("staff_notes".into(), notes.into());
                }
                note_detail = "; staff note added";
            }
            None if current.lines().any(|l| l.trim() == note) => {
                note_detail = "; staff note already there";
            }
            None => note_detail = "; staff note left out: staff_notes is full",
        }
    }
    if let Some(body) = &body {
        http.send(platform, |c| {
            c.put(url.clone())
                .header("X-Auth-Token", token)
                .header("Accept", "application/json")
                .json(body)
        })
        .await?;
    }
    let mut detail = update_detail("BigCommerce", order_ref, update, sent, &missing);
    detail.push_str(note_detail);
    Ok(detail)
}

#[cfg(test)]
mod tests {
    use super::appended;

    #[test]
    fn staff_notes_keep_what_is_there_and_take_a_note_once() {
        assert_eq!(appended("", "n1").as_deref(), Some("n1"));
        assert_eq!(
            appended("Send Saturday\n", "n1").as_deref(),
            Some("Send Saturday\nn1")
        );
        assert_eq!(appended("Send Saturday\nn1", "n1"), None);
        assert_eq!(appended(&"x".repeat(65_535), "n1"), None);
    }
}
