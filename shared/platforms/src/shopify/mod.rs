//! Shopify: webhooks signed with HMAC-SHA256, shops named by a header,
//! orders read and refunded over the Admin GraphQL API, subscriptions
//! managed there too.

mod inbound;
pub mod outbound;
pub mod registration;

#[cfg(feature = "client")]
pub(crate) mod client;
#[cfg(feature = "client")]
mod refund;
#[cfg(feature = "client")]
pub(crate) mod subscriptions;

use domain::Connection;
use domain::sync::{SyncAction, SyncPlan};
use serde_json::json;
use url::{Host, Url};

use crate::connection::{field, invalid, join_segments, store_base_url};
use crate::platform::REDACTED;
use crate::platform::{Credential, Delivery, Recorded, Sender, StorePlatform, unsupported};
use crate::signature::sha256_hex;
use crate::{Inbound, Platform, PlatformError};
pub use inbound::*;
pub use outbound::SHOPIFY_DOCUMENTS;

/// The Shopify Admin API version every call and document targets
/// (docs/platforms.md says when and how to move to the next one).
pub const SHOPIFY_API_VERSION: &str = "2026-10";

/// `{api_base_url or https://{shop_domain}}/admin/api/2026-10/graphql.json`
pub fn graphql_url(c: &Connection) -> Result<Url, PlatformError> {
    let base = match &c.api_base_url {
        Some(b) => store_base_url("shopify", "api_base_url", b)?,
        None => shop_url(field("shopify", "shop_domain", &c.shop_domain)?)?,
    };
    join_segments(
        "shopify",
        &base,
        &["admin", "api", SHOPIFY_API_VERSION, "graphql.json"],
    )
}

/// `https://{shop_domain}`, for a shop domain that is a plain DNS name.
fn shop_url(domain: &str) -> Result<Url, PlatformError> {
    let bad = || invalid("shopify", "shop_domain", "not a host name");
    let domain = domain.trim().to_ascii_lowercase();
    let labels_ok = domain.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !labels_ok || domain.len() > 253 {
        return Err(bad());
    }
    let mut url = Url::parse("https://shop.invalid").map_err(|_| bad())?;
    url.set_host(Some(&domain)).map_err(|_| bad())?;
    // An all-numeric name would be read as an IPv4 address.
    if url.host_str() != Some(domain.as_str()) || !matches!(url.host(), Some(Host::Domain(_))) {
        return Err(bad());
    }
    Ok(url)
}

/// Shopify as the service sees it.
pub struct Shopify;

/// What the local outbox shows for a refund, which depends on the live
/// order (current quantities, suggested transactions, whether shipping is
/// refunded and the order closed): the `refundCreate` for the cancelled
/// quantities, with the transactions left to `order.suggestedRefund`.
fn recorded(plan: &SyncPlan) -> Result<Recorded, PlatformError> {
    let SyncAction::ShopifyRefund {
        lines,
        note,
        routine,
    } = &plan.action
    else {
        return Err(unsupported(PLATFORM, "order updates"));
    };
    let c = &plan.connection;
    let id = outbound::order_gid(plan.order_ref);
    let refund: Vec<(String, u32)> = lines
        .iter()
        .map(|l| (outbound::line_gid(l.line_ref), l.cancelled))
        .collect();
    let key = outbound::refund_idempotency_key(
        &outbound::shopify_store(c)?,
        &id,
        &plan.cancellation_id,
        &refund,
        false,
    );
    let req = outbound::RefundRequest {
        order_gid: &id,
        lines: &refund,
        shipping: false,
        notify: routine.notify_customer,
        currency: None,
        note,
        idempotency_key: &key,
    };
    Ok(Recorded {
        requests: vec![json!({
            "method": "POST",
            "url": graphql_url(c)?.as_str(),
            "headers": {"X-Shopify-Access-Token": REDACTED, "Content-Type": "application/json"},
            "body": {
                "query": outbound::REFUND_CREATE_MUTATION,
                "variables": outbound::refund_input(&req, json!([])),
            },
        })],
        note: format!(
            "Shopify order {}: refund of the cancelled units ({}); the transactions{} \
             are decided from the live order (order.suggestedRefund) when sent",
            plan.order_ref,
            if routine.notify_customer {
                "customer notified"
            } else {
                "customer not notified"
            },
            if routine.refund_shipping || routine.archive {
                ", and whether shipping is refunded and the order closed,"
            } else {
                ""
            }
        ),
    })
}

impl StorePlatform for Shopify {
    fn kind(&self) -> Platform {
        Platform::Shopify
    }

    fn route(&self) -> &'static str {
        "/webhooks/shopify"
    }

    // Deliveries name their shop in a header, not in the path.
    fn company_in_path(&self) -> bool {
        false
    }

    fn sender<'a>(&self, d: &Delivery<'a>, _path_id: Option<&'a str>) -> Sender<'a> {
        Sender::Shop(
            d.header("x-shopify-shop-domain")
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty()),
        )
    }

    fn credential<'a>(&self, d: &Delivery<'a>) -> Credential<'a> {
        Credential::Hmac(d.header("x-shopify-hmac-sha256"))
    }

    // Routing only: the topic picks the payload's shape, the signed body
    // decides what is cancelled.
    fn parse(&self, d: &Delivery<'_>) -> Result<Inbound, serde_json::Error> {
        parse(d.header("x-shopify-topic").unwrap_or_default(), d.body)
    }

    // Keyed by what is signed, the body: an event id is an unsigned header,
    // so a sender replaying a captured body under a later event's id could
    // otherwise claim that event's key before it arrives. A retry of one
    // event repeats its body; two events with one body state one thing.
    fn delivery_key(&self, d: &Delivery<'_>) -> String {
        let topic = d.header("x-shopify-topic").unwrap_or_default();
        format!("shopify:{topic}:{}", sha256_hex(d.body))
    }

    fn topics(&self) -> &'static [&'static str] {
        &registration::SHOPIFY_TOPICS
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
        change: &'a crate::LineChange,
    ) -> crate::http::Call<'a, Option<crate::PlatformOrder>> {
        Box::pin(client::fetch_order(http, conn, order_ref, change))
    }

    #[cfg(feature = "client")]
    fn apply<'a>(
        &'a self,
        http: &'a crate::http::PlatformHttp,
        plan: &'a SyncPlan,
        _note: Option<&'a str>,
    ) -> crate::http::Call<'a, String> {
        Box::pin(async move {
            let SyncAction::ShopifyRefund {
                lines,
                note,
                routine,
            } = &plan.action
            else {
                return Err(unsupported(PLATFORM, "order updates"));
            };
            let r = refund::ShopifyRefund {
                order_ref: plan.order_ref,
                cancellation_id: &plan.cancellation_id,
                lines,
                note,
                routine: *routine,
            };
            refund::shopify_refund(http, &plan.connection, &r).await
        })
    }

    #[cfg(feature = "client")]
    fn subscriptions(&self) -> &dyn crate::subscriptions::Subscriptions {
        self
    }
}
