//! WooCommerce: webhooks signed with HMAC-SHA256 to a route per company,
//! carrying the whole order; updates and webhooks over the REST API v3
//! with Basic auth.

mod inbound;
pub mod registration;

#[cfg(feature = "client")]
pub(crate) mod subscriptions;

use domain::Connection;
use domain::sync::{OrderUpdate, SyncAction, SyncPlan};
use serde_json::{Value, json};
use url::Url;

use crate::connection::{field, join_segments, store_base_url};
use crate::outbound::describe_update;
use crate::platform::REDACTED;
use crate::platform::{Credential, Delivery, Recorded, StorePlatform, unsupported};
use crate::signature::sha256_hex;
use crate::{Inbound, Platform, PlatformError};
pub use inbound::*;

/// `{api_base_url or site_url}/wp-json/wc/v3/{segments}`
fn url(c: &Connection, segments: &[&str]) -> Result<Url, PlatformError> {
    let base = match &c.api_base_url {
        Some(b) => store_base_url("woocommerce", "api_base_url", b)?,
        None => store_base_url(
            "woocommerce",
            "site_url",
            field("woocommerce", "site_url", &c.site_url)?,
        )?,
    };
    let path: Vec<&str> = ["wp-json", "wc", "v3"]
        .iter()
        .chain(segments)
        .copied()
        .collect();
    join_segments("woocommerce", &base, &path)
}

/// `{api_base_url or site_url}/wp-json/wc/v3/orders/{id}`
pub fn order_url(c: &Connection, order_id: &str) -> Result<Url, PlatformError> {
    url(c, &["orders", order_id])
}

/// `{api_base_url or site_url}/wp-json/wc/v3/orders/{id}/notes`
pub fn order_notes_url(c: &Connection, order_id: &str) -> Result<Url, PlatformError> {
    url(c, &["orders", order_id, "notes"])
}

/// `{api_base_url or site_url}/wp-json/wc/v3/webhooks[/{id}]`
pub fn webhooks_url(c: &Connection, id: Option<&str>) -> Result<Url, PlatformError> {
    match id {
        Some(id) => url(c, &["webhooks", id]),
        None => url(c, &["webhooks"]),
    }
}

/// WooCommerce REST v3 order update body.
pub fn body(u: &OrderUpdate) -> Value {
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

/// What the local outbox shows for an order update.
fn recorded(plan: &SyncPlan) -> Result<Recorded, PlatformError> {
    let SyncAction::Update(u) = &plan.action else {
        return Err(unsupported(PLATFORM, "refunds"));
    };
    Ok(Recorded {
        requests: vec![json!({
            "method": "PUT",
            "url": order_url(&plan.connection, &plan.order_ref.to_string())?.as_str(),
            "headers": {"Authorization": format!("Basic {}", REDACTED), "Content-Type": "application/json"},
            "body": body(u),
        })],
        note: crate::outbound::amounts_note(
            describe_update("WooCommerce", plan.order_ref, u),
            u,
            "each line's subtotal and total scaled to its new quantity",
        ),
    })
}

/// WooCommerce as the service sees it.
pub struct WooCommerce;

impl StorePlatform for WooCommerce {
    fn kind(&self) -> Platform {
        Platform::WooCommerce
    }

    fn route(&self) -> &'static str {
        "/webhooks/woocommerce/{company_id}"
    }

    fn credential<'a>(&self, d: &Delivery<'a>) -> Credential<'a> {
        Credential::Hmac(d.header("x-wc-webhook-signature"))
    }

    fn is_ping(&self, body: &[u8]) -> bool {
        is_ping(body)
    }

    fn parse(&self, d: &Delivery<'_>) -> Result<Inbound, serde_json::Error> {
        parse(d.header("x-wc-webhook-topic").unwrap_or_default(), d.body)
    }

    // X-WC-Webhook-Delivery-ID is new on every delivery; the body is the key.
    fn delivery_key(&self, d: &Delivery<'_>) -> String {
        format!("woocommerce:{}", sha256_hex(d.body))
    }

    // Deliveries carry the order itself.
    fn reads_back(&self) -> bool {
        false
    }

    fn topics(&self) -> &'static [&'static str] {
        &registration::WOOCOMMERCE_TOPICS
    }

    fn recorded(&self, plan: &SyncPlan) -> Result<Recorded, PlatformError> {
        recorded(plan)
    }

    #[cfg(feature = "client")]
    fn read_order<'a>(
        &'a self,
        _http: &'a crate::http::PlatformHttp,
        _conn: &'a Connection,
        _order_ref: domain::PlatformId,
        _change: &'a crate::LineChange,
    ) -> crate::http::Call<'a, Option<crate::PlatformOrder>> {
        Box::pin(async { Err(unsupported(PLATFORM, "order reads")) })
    }

    #[cfg(feature = "client")]
    fn apply<'a>(
        &'a self,
        http: &'a crate::http::PlatformHttp,
        plan: &'a SyncPlan,
        note: Option<&'a str>,
    ) -> crate::http::Call<'a, String> {
        Box::pin(async move {
            let SyncAction::Update(u) = &plan.action else {
                return Err(unsupported(PLATFORM, "refunds"));
            };
            client::update(http, &plan.connection, plan.order_ref, u, note).await
        })
    }

    #[cfg(feature = "client")]
    fn subscriptions(&self) -> &dyn crate::subscriptions::Subscriptions {
        self
    }
}

/// WooCommerce over the network: the order update and its note.
#[cfg(feature = "client")]
mod client {
    use domain::sync::OrderUpdate;
    use domain::{Connection, PlatformId};
    use serde::Deserialize;
    use serde_json::json;

    use super::{PLATFORM, body, order_notes_url, order_url};
    use crate::PlatformError;
    use crate::amounts::{WooOrder, woocommerce_partial_body};
    use crate::connection::field;
    use crate::http::PlatformHttp;
    use crate::http::{BodyLimit, decode, read_body};
    use crate::outbound::{amount_error, update_detail};

    /// `PUT {site}/wp-json/wc/v3/orders/{id}` with Basic auth, then the
    /// note (`add_note`). A partial cancellation reads the order first, so
    /// that each line's subtotal and total are sent scaled to its new
    /// quantity. Returns what was done, in words.
    pub(crate) async fn update(
        http: &PlatformHttp,
        conn: &Connection,
        order_ref: PlatformId,
        update: &OrderUpdate,
        note: Option<&str>,
    ) -> Result<String, PlatformError> {
        let platform = PLATFORM;
        let url = order_url(conn, &order_ref.to_string())?;
        let key = field(platform, "consumer_key", &conn.consumer_key)?;
        let secret = field(platform, "consumer_secret", &conn.consumer_secret)?;
        let (body, missing) = match update {
            OrderUpdate::CancelOrder => (Some(body(update)), Vec::new()),
            OrderUpdate::SetQuantities(lines) => {
                let resp = http
                    .send(platform, |c| {
                        c.get(url.clone())
                            .basic_auth(key, Some(secret))
                            .header("Accept", "application/json")
                    })
                    .await?;
                let bytes = read_body(platform, resp, BodyLimit::Order).await?;
                let order: WooOrder = decode(platform, &bytes)?;
                woocommerce_partial_body(lines, &order).map_err(|e| amount_error(platform, e))?
            }
        };
        if let Some(body) = &body {
            http.send(platform, |c| {
                c.put(url.clone())
                    .basic_auth(key, Some(secret))
                    .header("Accept", "application/json")
                    .json(body)
            })
            .await?;
        }
        let mut detail = update_detail("WooCommerce", order_ref, update, body.is_some(), &missing);
        let Some(note) = note else {
            return Ok(detail);
        };
        // The order change stands whatever becomes of the note: a transient
        // failure retries the sync (the change repeats harmlessly and the
        // note is looked for first); a refusal is reported, not retried.
        match add_note(http, conn, order_ref, note).await {
            Ok(true) => detail.push_str("; order note added"),
            Ok(false) => detail.push_str("; order note already there"),
            Err(e) if e.is_transient() => {
                return Err(PlatformError::Unavailable {
                    platform,
                    detail: format!("{detail}; order note not added yet: {e}"),
                });
            }
            Err(e) => detail.push_str(&format!("; order note not added: {e}")),
        }
        Ok(detail)
    }

    /// An order note as the REST API lists it.
    #[derive(Deserialize)]
    struct Note {
        #[serde(default)]
        note: String,
    }

    /// Add `note` to the order as a private note unless the order already
    /// has it (a retried sync). WooCommerce REST API v3, "Order notes": `GET
    /// /orders/<id>/notes?type=internal` lists the admin-only notes, `POST
    /// /orders/<id>/notes` `{"note", "customer_note": false}` adds one "for
    /// admin reference only" (no email to the customer). Returns whether
    /// one was added.
    pub(crate) async fn add_note(
        http: &PlatformHttp,
        conn: &Connection,
        order_ref: PlatformId,
        note: &str,
    ) -> Result<bool, PlatformError> {
        let platform = PLATFORM;
        let url = order_notes_url(conn, &order_ref.to_string())?;
        let key = field(platform, "consumer_key", &conn.consumer_key)?;
        let secret = field(platform, "consumer_secret", &conn.consumer_secret)?;
        let mut list = url.clone();
        list.query_pairs_mut().append_pair("type", "internal");
        let resp = http
            .send(platform, |c| {
                c.get(list.clone())
                    .basic_auth(key, Some(secret))
                    .header("Accept", "application/json")
            })
            .await?;
        let bytes = read_body(platform, resp, BodyLimit::Order).await?;
        let notes: Vec<Note> = decode(platform, &bytes)?;
        if notes.iter().any(|n| n.note.trim() == note) {
            return Ok(false);
        }
        // A POST adds a note each time it runs: an ambiguous failure is not
        // repeated here, the next attempt lists the notes first.
        http.for_non_idempotent()
            .send(platform, |c| {
                c.post(url.clone())
                    .basic_auth(key, Some(secret))
                    .header("Accept", "application/json")
                    .json(&json!({ "note": note, "customer_note": false }))
            })
            .await?;
        Ok(true)
    }
}
