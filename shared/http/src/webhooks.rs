//! Webhook intake (docs/api.md): a store-connected company's own
//! change becomes a cancellation here, exactly once. Authenticity first
//! (nothing is read or written for a bad signature), then the platform's
//! current absolute quantities are reconciled, so duplicates, stale
//! snapshots and the echo of our own outbound change are no-ops.

use lambda_http::Request;
use lambda_http::http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use service::app::sha256_hex;

use crate::response::{
    Code, HttpResponse, Problem, answer_and_log, body_bytes, header_str, json, known_company,
    method_not_allowed, no_route,
};
use domain::{Company, Integration, PlatformId, Source};
use platforms::{
    self, Inbound, LineChange, OrderState, Platform, PlatformOrder, bigcommerce, shopify,
    woocommerce,
};
use service::app::App;
use service::intake::{Fetched, Found, Lookup};
use service::platform::ReadError;
use service::store::Store;
use service::{ReconcileOutcome, ReconcileResult};

/// Largest webhook body accepted (platform payloads of large orders).
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// The routes served, as (method, path template).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/webhooks/shopify"),
    ("POST", "/webhooks/woocommerce/{company_id}"),
    ("POST", "/webhooks/bigcommerce/{company_id}"),
];

/// How a delivery that was not refused ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Handled {
    Processed,
    Duplicate,
    Ignored,
    /// The order could not be read from the platform, for good.
    Failed,
}

#[derive(Debug, Serialize)]
struct Answer {
    status: Handled,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    orders: Vec<ReconcileOutcome>,
}

/// The answer to a delivery that was not refused; it carries its `Handled`
/// (an extension) for the delivery's count.
fn answer(status: Handled, detail: Option<String>, orders: Vec<ReconcileOutcome>) -> HttpResponse {
    let mut r = json(
        StatusCode::OK,
        &Answer {
            status,
            detail,
            orders,
        },
    );
    r.extensions_mut().insert(status);
    r
}

impl Handled {
    fn as_str(self) -> &'static str {
        match self {
            Handled::Processed => "processed",
            Handled::Duplicate => "duplicate",
            Handled::Ignored => "ignored",
            Handled::Failed => "failed",
        }
    }
}

/// How a delivery ended, for its count: as handled, refused (`401`), or
/// failed (a bad payload, a platform or store failure asking for a retry).
fn outcome(r: &HttpResponse) -> &'static str {
    match (
        r.extensions().get::<Handled>(),
        r.extensions().get::<Code>(),
    ) {
        (Some(h), _) => h.as_str(),
        (None, Some(Code::Unauthorized)) => "unauthorized",
        _ => "failed",
    }
}

/// The one answer to every refused delivery: the same status, headers and
/// body whatever the reason, so it does not tell which shops or companies
/// exist or are connected.
fn unauthorized() -> Problem {
    Problem::new(
        Code::Unauthorized,
        "the delivery could not be authenticated",
    )
}

/// Why a delivery was refused: logged, never answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum Refusal {
    #[error("no company has this shop or id")]
    UnknownCompany,
    #[error("the company is not connected through this platform")]
    WrongPlatform,
    #[error("the company has no webhook secret")]
    NoSecret,
    #[error("the signature or token is missing")]
    MissingCredential,
    #[error("the signature or token does not match")]
    BadCredential,
}

/// How a platform proves a delivery is its own.
#[derive(Clone, Copy)]
enum Credential<'a> {
    /// `base64(HMAC-SHA256(secret, body))` (Shopify, WooCommerce).
    Hmac(Option<&'a str>),
    /// The secret itself, sent back in a header (BigCommerce).
    Token(Option<&'a str>),
}

/// Stands in for the secret of a company that does not exist or has none,
/// so that a refusal costs the same work as a real check. It never admits:
/// the refusal is decided before the check's result is looked at.
const NO_SECRET: &str = "dropship: no webhook secret for this delivery";

/// Whether `company` sent this delivery: `Err` with why not. The same work
/// is done whether or not the company exists.
fn check(
    platform: &'static str,
    integration: Integration,
    company: Option<Company>,
    credential: Credential<'_>,
    body: &[u8],
) -> Result<Company, Refusal> {
    let mut refusal = match &company {
        None => Some(Refusal::UnknownCompany),
        Some(c) if c.integration != integration => Some(Refusal::WrongPlatform),
        Some(_) => None,
    };
    let secret = company
        .as_ref()
        .and_then(|c| c.connection.as_ref())
        .and_then(|c| platforms::webhook_secret(platform, c).ok());
    if secret.is_none() {
        refusal = refusal.or(Some(Refusal::NoSecret));
    }
    let secret = secret.unwrap_or(NO_SECRET);
    let (given, matches) = match credential {
        Credential::Hmac(sig) => (
            sig,
            platforms::verify_hmac_sha256_base64(secret, body, sig.unwrap_or_default()),
        ),
        Credential::Token(token) => (
            token,
            platforms::token_matches(secret, token.unwrap_or_default()),
        ),
    };
    if given.is_none_or(str::is_empty) {
        refusal = refusal.or(Some(Refusal::MissingCredential));
    } else if !matches {
        refusal = refusal.or(Some(Refusal::BadCredential));
    }
    match (refusal, company) {
        (None, Some(company)) => Ok(company),
        (refusal, _) => Err(refusal.unwrap_or(Refusal::UnknownCompany)),
    }
}

/// Who a delivery claims to come from.
struct Claim<'a> {
    platform: &'static str,
    integration: Integration,
    who: Who<'a>,
    credential: Credential<'a>,
}

/// How a delivery names its company.
#[derive(Clone, Copy, Debug)]
enum Who<'a> {
    /// Shopify's shop-domain header (lower case), if sent.
    Shop(Option<&'a str>),
    /// The company id in the route.
    Id(&'a str),
}

async fn look_up<S: Store>(app: &App<S>, who: Who<'_>, lookup: Lookup) -> Result<Found, Problem> {
    match who {
        Who::Shop(Some(d)) => app.company_by_shop_domain(d, lookup).await,
        Who::Shop(None) => Ok(Found {
            company: None,
            cached: false,
        }),
        Who::Id(id) => app.company(id, lookup).await,
    }
    .map_err(|e| crate::api::app_problem(&e))
}

/// The company a delivery comes from, if its credential proves it. The
/// company may come from the in-process cache; a cached company that fails
/// the check is read again and checked once more, so a secret rotated since
/// it was cached is honoured at once.
async fn authenticate<S: Store>(
    app: &App<S>,
    claim: Claim<'_>,
    body: &[u8],
) -> Result<Company, Problem> {
    let found = look_up(app, claim.who, Lookup::Cached).await?;
    let mut result = check(
        claim.platform,
        claim.integration,
        found.company,
        claim.credential,
        body,
    );
    if result.is_err() && found.cached {
        let fresh = look_up(app, claim.who, Lookup::Fresh).await?;
        result = check(
            claim.platform,
            claim.integration,
            fresh.company,
            claim.credential,
            body,
        );
    }
    result.map_err(|reason| {
        tracing::warn!(platform = claim.platform, claimed = ?claim.who, %reason, "webhook delivery refused");
        unauthorized()
    })
}

/// A webhook route: the platform, and the company id in the path.
enum Route<'a> {
    Shopify,
    WooCommerce(&'a str),
    BigCommerce(&'a str),
}

impl Route<'_> {
    fn platform(&self) -> Platform {
        match self {
            Route::Shopify => Platform::Shopify,
            Route::WooCommerce(_) => Platform::WooCommerce,
            Route::BigCommerce(_) => Platform::BigCommerce,
        }
    }
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/webhooks/")?.trim_end_matches('/');
    match rest.split_once('/') {
        None if rest == "shopify" => Some(Route::Shopify),
        Some(("woocommerce", id)) if !id.is_empty() && !id.contains('/') => {
            Some(Route::WooCommerce(id))
        }
        Some(("bigcommerce", id)) if !id.is_empty() && !id.contains('/') => {
            Some(Route::BigCommerce(id))
        }
        _ => None,
    }
}

/// Handle one webhook delivery. Never fails: every error is a response.
pub async fn handle<S: Store>(app: &App<S>, req: Request) -> HttpResponse {
    let r = answer_and_log("webhook", &req, async || dispatch(app, &req).await).await;
    let platform = route(req.uri().path()).map_or("unknown", |r| match r.platform() {
        Platform::Shopify => "shopify",
        Platform::WooCommerce => "woocommerce",
        Platform::BigCommerce => "bigcommerce",
    });
    app.metrics.count(service::metrics::Event::WebhookDelivery {
        platform,
        outcome: outcome(&r),
    });
    r
}

async fn dispatch<S: Store>(app: &App<S>, req: &Request) -> Result<HttpResponse, Problem> {
    let path = req.uri().path();
    let Some(route) = route(path) else {
        return Err(no_route(path));
    };
    if req.method() != Method::POST {
        return Ok(method_not_allowed(
            "POST",
            "webhooks are delivered with POST".into(),
        ));
    }
    let body = body_bytes(req.body());
    if body.len() > MAX_WEBHOOK_BYTES {
        return Err(Problem::new(
            Code::PayloadTooLarge,
            format!("the body is over {MAX_WEBHOOK_BYTES} bytes"),
        ));
    }
    let headers = req.headers();
    let d = match route {
        Route::Shopify => shopify_delivery(app, headers, body).await?,
        Route::WooCommerce(_) if woocommerce::is_ping(body) => {
            return Ok(answer(
                Handled::Ignored,
                Some("webhook ping".into()),
                vec![],
            ));
        }
        Route::WooCommerce(id) => woocommerce_delivery(app, id, headers, body).await?,
        Route::BigCommerce(id) => bigcommerce_delivery(app, id, headers, body).await?,
    };
    known_company(&d.company.id);
    match &d.inbound {
        Inbound::Ignore(why) => {
            tracing::info!(company_id = %d.company.id, %why, "webhook ignored");
            Ok(answer(Handled::Ignored, Some(why.clone()), vec![]))
        }
        Inbound::Order(po) => reconcile(app, &d.company, d.source, po, &d.key).await,
        Inbound::Fetch { order_ref, change } => {
            fetch_and_reconcile(app, &d, route.platform(), *order_ref, change).await
        }
    }
}

/// An authenticated delivery: whose it is, what it says, and the key that
/// makes its processing happen once.
struct Delivery {
    company: Company,
    source: Source,
    key: String,
    /// The key alone does not tell two changes apart (BigCommerce's
    /// payload names only the order): it is completed with the state read
    /// back from the platform.
    keyed_by_state: bool,
    inbound: Inbound,
}

async fn shopify_delivery<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Delivery, Problem> {
    let domain = header_str(headers, "x-shopify-shop-domain")
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty());
    let claim = Claim {
        platform: "shopify",
        integration: Integration::Shopify,
        who: Who::Shop(domain.as_deref()),
        credential: Credential::Hmac(header_str(headers, "x-shopify-hmac-sha256")),
    };
    let company = authenticate(app, claim, body).await?;
    // Routing only: the topic picks the payload's shape, the signed
    // body decides what is cancelled.
    let topic = header_str(headers, "x-shopify-topic").unwrap_or_default();
    let inbound = shopify::parse(topic, body).map_err(|e| bad_payload(&e))?;
    // Keyed by what is signed, the body: an event id is an unsigned header,
    // so a sender replaying a captured body under a later event's id could
    // otherwise claim that event's key before it arrives. A retry of one
    // event repeats its body; two events with one body state one thing.
    Ok(Delivery {
        company,
        source: Source::Shopify,
        key: format!("shopify:{topic}:{}", sha256_hex(body)),
        keyed_by_state: false,
        inbound,
    })
}

async fn woocommerce_delivery<S: Store>(
    app: &App<S>,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Delivery, Problem> {
    let claim = Claim {
        platform: "woocommerce",
        integration: Integration::Woocommerce,
        who: Who::Id(id),
        credential: Credential::Hmac(header_str(headers, "x-wc-webhook-signature")),
    };
    let company = authenticate(app, claim, body).await?;
    let topic = header_str(headers, "x-wc-webhook-topic").unwrap_or_default();
    let inbound = woocommerce::parse(topic, body).map_err(|e| bad_payload(&e))?;
    // X-WC-Webhook-Delivery-ID is new on every delivery; the body is the key.
    Ok(Delivery {
        company,
        source: Source::Woocommerce,
        key: format!("woocommerce:{}", sha256_hex(body)),
        keyed_by_state: false,
        inbound,
    })
}

async fn bigcommerce_delivery<S: Store>(
    app: &App<S>,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Delivery, Problem> {
    let claim = Claim {
        platform: "bigcommerce",
        integration: Integration::Bigcommerce,
        who: Who::Id(id),
        credential: Credential::Token(header_str(headers, "x-webhook-token")),
    };
    let company = authenticate(app, claim, body).await?;
    let inbound = match bigcommerce::sent_at(body) {
        Some(sent) if too_old(app, sent) => {
            tracing::warn!(company_id = %company.id, sent_at = sent, "a BigCommerce delivery older than its retries; a replay, ignored");
            Inbound::Ignore(format!(
                "sent at {sent} (created_at), more than {} h ago",
                app.config.delivery_max_age.num_hours()
            ))
        }
        _ => bigcommerce::parse(body).map_err(|e| bad_payload(&e))?,
    };
    // The payload's `hash` is the SHA-1 of its `data` ({"type":"order","id":N}),
    // the same for every change of an order: the body names the delivery,
    // the order read back names the change.
    Ok(Delivery {
        company,
        source: Source::Bigcommerce,
        key: format!("bigcommerce:{}", sha256_hex(body)),
        keyed_by_state: true,
        inbound,
    })
}

/// Sent (epoch seconds) longer ago than any retry of the platform's.
fn too_old<S: Store>(app: &App<S>, sent: i64) -> bool {
    let age = service::app::now().timestamp().saturating_sub(sent);
    age > app.config.delivery_max_age.num_seconds()
}

/// A digest of what a platform order says (state and line quantities): two
/// deliveries that read the same state are one change.
fn state_digest(po: &PlatformOrder) -> String {
    let mut lines: Vec<String> = po.lines.iter().map(|(id, q)| format!("{id}={q}")).collect();
    lines.sort();
    let state = match &po.state {
        OrderState::Cancelled(..) => "cancelled",
        OrderState::Refunded(..) => "refunded",
        OrderState::Open(..) => "open",
    };
    sha256_hex(format!("{}|{state}|{}", po.order_ref, lines.join(",")).as_bytes())
}

/// A delivery that names the order: read its state from the platform (for
/// orders we know only), then reconcile.
async fn fetch_and_reconcile<S: Store>(
    app: &App<S>,
    d: &Delivery,
    platform: Platform,
    order_ref: PlatformId,
    change: &LineChange,
) -> Result<HttpResponse, Problem> {
    let company = &d.company;
    let fetched = app
        .fetch_platform_order(company, platform, order_ref, change)
        .await
        .map_err(|e| crate::api::app_problem(&e))?;
    match fetched {
        Fetched::Order(po, ours) => {
            let key = if d.keyed_by_state {
                format!("{}:{}", d.key, state_digest(&po))
            } else {
                d.key.clone()
            };
            let outcomes = app
                .reconcile_fetched(company, d.source, &po, &key, ours)
                .await
                .map_err(|e| crate::api::app_problem(&e))?;
            Ok(reconciled(&po, outcomes))
        }
        Fetched::UnknownOrder => Ok(answer(
            Handled::Ignored,
            Some(format!("no order matches {order_ref}")),
            vec![],
        )),
        Fetched::NotInStore => Ok(answer(
            Handled::Ignored,
            Some(format!("{order_ref} not found in the store")),
            vec![],
        )),
        Fetched::Failed(ReadError::Transient(e)) => {
            tracing::warn!(company_id = %company.id, %order_ref, error = %e, "could not read the order from the platform; asking for a retry");
            Err(Problem::new(Code::Unavailable, e))
        }
        Fetched::Failed(ReadError::Permanent(e)) => {
            // A retry cannot help (credentials, permissions): say so loudly,
            // but do not make the platform disable the webhook.
            tracing::error!(company_id = %company.id, %order_ref, error = %e, "could not read the order from the platform");
            Ok(answer(
                Handled::Failed,
                Some(format!("could not read the order from the store: {e}")),
                vec![],
            ))
        }
    }
}

fn bad_payload(e: &serde_json::Error) -> Problem {
    Problem::new(Code::InvalidBody, format!("unreadable payload: {e}"))
}

async fn reconcile<S: Store>(
    app: &App<S>,
    company: &Company,
    source: Source,
    po: &PlatformOrder,
    delivery: &str,
) -> Result<HttpResponse, Problem> {
    let outcomes = app
        .reconcile_platform_order(company, source, po, delivery)
        .await
        .map_err(|e| crate::api::app_problem(&e))?;
    Ok(reconciled(po, outcomes))
}

/// The answer to a reconciled delivery.
fn reconciled(po: &PlatformOrder, outcomes: Vec<ReconcileOutcome>) -> HttpResponse {
    if outcomes.is_empty() {
        return answer(
            Handled::Ignored,
            Some(format!("no order matches {}", po.order_ref)),
            vec![],
        );
    }
    let status = if outcomes
        .iter()
        .all(|o| o.result == ReconcileResult::Duplicate)
    {
        Handled::Duplicate
    } else {
        Handled::Processed
    };
    answer(status, None, outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert!(matches!(route("/webhooks/shopify"), Some(Route::Shopify)));
        assert!(matches!(
            route("/webhooks/woocommerce/seller-woo"),
            Some(Route::WooCommerce("seller-woo"))
        ));
        assert!(matches!(
            route("/webhooks/bigcommerce/seller-bc/"),
            Some(Route::BigCommerce("seller-bc"))
        ));
        assert!(route("/webhooks/woocommerce/").is_none());
        assert!(route("/webhooks/woocommerce/a/b").is_none());
        assert!(route("/webhooks/magento/x").is_none());
    }
}
