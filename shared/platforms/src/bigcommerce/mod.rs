//! BigCommerce: webhooks authenticated by a token header to a route per
//! company, naming the order only; orders read and updated over the V2
//! API and webhooks managed over V3, with `X-Auth-Token`.

mod inbound;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub(crate) mod subscriptions;

use domain::Connection;
use domain::sync::{OrderUpdate, SyncAction, SyncPlan};
use domain::transport::TransportRefusal;
use serde_json::{Value, json};
use url::Url;

use crate::connection::{field, join_segments, store_base_url};
use crate::outbound::describe_update;
use crate::platform::REDACTED;
use crate::platform::{Credential, Delivery, Recorded, StorePlatform, unsupported};
use crate::signature::sha256_hex;
use crate::{Inbound, Platform, PlatformError};
pub use inbound::*;

/// The header BigCommerce sends back with every delivery: our token.
pub const TOKEN_HEADER: &str = "X-Webhook-Token";

/// `{api_base_url or https://api.bigcommerce.com}/stores/{hash}/{segments}`
fn url(c: &Connection, segments: &[&str]) -> Result<Url, PlatformError> {
    let base = store_base_url(
        "bigcommerce",
        "api_base_url",
        c.api_base_url
            .as_deref()
            .unwrap_or("https://api.bigcommerce.com"),
    )?;
    let hash = field("bigcommerce", "store_hash", &c.store_hash)?;
    let path: Vec<&str> = ["stores", hash].iter().chain(segments).copied().collect();
    join_segments("bigcommerce", &base, &path)
}

/// `{api_base_url or https://api.bigcommerce.com}/stores/{hash}/v2/orders/{id}`
pub fn order_url(c: &Connection, order_id: &str) -> Result<Url, PlatformError> {
    url(c, &["v2", "orders", order_id])
}

/// `{api_base_url or https://api.bigcommerce.com}/stores/{hash}/v3/hooks[/{id}]`
pub fn hooks_url(c: &Connection, id: Option<&str>) -> Result<Url, PlatformError> {
    match id {
        Some(id) => url(c, &["v3", "hooks", id]),
        None => url(c, &["v3", "hooks"]),
    }
}

/// `{order url}/products?limit={limit}&page={page}`
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn products_url(
    c: &Connection,
    order_id: &str,
    limit: usize,
    page: usize,
) -> Result<Url, PlatformError> {
    let order = order_url(c, order_id)?;
    let mut url = join_segments("bigcommerce", &order, &["products"])?;
    url.query_pairs_mut()
        .append_pair("limit", &limit.to_string())
        .append_pair("page", &page.to_string());
    Ok(url)
}

/// BigCommerce V2 order update body (status 5 = Cancelled).
pub fn body(u: &OrderUpdate) -> Value {
    match u {
        OrderUpdate::CancelOrder => json!({ "status_id": CANCELLED }),
        OrderUpdate::SetQuantities(lines) => json!({
            "products": lines
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
            "headers": {"X-Auth-Token": REDACTED, "Content-Type": "application/json"},
            "body": body(u),
        })],
        note: crate::outbound::amounts_note(
            describe_update("BigCommerce", plan.order_ref, u),
            u,
            "a discounted product's unit prices as paid after its discounts",
        ),
    })
}

/// BigCommerce as the service sees it.
pub struct BigCommerce;

impl StorePlatform for BigCommerce {
    fn kind(&self) -> Platform {
        Platform::BigCommerce
    }

    fn route(&self) -> &'static str {
        "/webhooks/bigcommerce/{company_id}"
    }

    fn credential<'a>(&self, d: &Delivery<'a>) -> Credential<'a> {
        Credential::Token(d.header("x-webhook-token"))
    }

    fn sent_at(&self, body: &[u8]) -> Option<i64> {
        sent_at(body)
    }

    fn parse(&self, d: &Delivery<'_>) -> Result<Inbound, serde_json::Error> {
        parse(d.body)
    }

    // The payload's `hash` is the SHA-1 of its `data` ({"type":"order","id":N}),
    // the same for every change of an order: the body names the delivery,
    // the order read back names the change.
    fn delivery_key(&self, d: &Delivery<'_>) -> String {
        format!("bigcommerce:{}", sha256_hex(d.body))
    }

    fn keyed_by_state(&self) -> bool {
        true
    }

    fn topics(&self) -> &'static [&'static str] {
        &ORDER_SCOPES
    }

    fn check_destination(&self, address: &Url) -> Result<(), TransportRefusal> {
        domain::transport::check_destination_443(
            address.as_str(),
            "BigCommerce delivers webhooks to https on port 443 only",
        )
        .map(|_| ())
    }

    fn recorded(&self, plan: &SyncPlan) -> Result<Recorded, PlatformError> {
        recorded(plan)
    }

    #[cfg(feature = "client")]
    fn read_order<'a>(
        &'a self,
        http: &'a crate::http::PlatformHttp,
        conn: &'a Connection,
        order_ref: domain::PlatformId,
        _change: &'a crate::LineChange,
    ) -> crate::http::Call<'a, Option<crate::PlatformOrder>> {
        Box::pin(client::fetch_order(http, conn, order_ref))
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
