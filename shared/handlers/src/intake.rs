//! Webhook intake (docs/api.md): a store-connected company's own
//! change becomes a cancellation here, exactly once. Authenticity first
//! (nothing is read or written for a bad signature), then the platform's
//! current absolute quantities are reconciled, so duplicates, stale
//! snapshots and the echo of our own outbound change are no-ops.

use lambda_http::Request;
use lambda_http::http::{Method, StatusCode};
use serde::Serialize;
use service::app::sha256_hex;

use crate::response::{
    Code, HttpResponse, Problem, answer_and_log, body_bytes, header_str, json, known_company,
    method_not_allowed, no_route,
};
use domain::{Company, Integration, PlatformId, Source};
use platforms::platform::{Credential, Delivery as Received, Sender, StorePlatform};
use platforms::{self, Inbound, LineChange, OrderState, Platform, PlatformOrder};
use service::intake::{Fetched, Found, IntakeService, Lookup};
use service::platform::ReadError;
use service::store::Store;
use service::{ReconcileOutcome, ReconcileResult};

/// Largest webhook body accepted (platform payloads of large orders).
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// The routes served, as (method, path template): one per platform.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    platforms::registry::all()
        .map(|p| ("POST", p.route()))
        .collect()
}

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
    let (given, matches) = (credential.given(), credential.matches(secret, body));
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

/// How a delivery names its company (`Sender`, borrowed).
#[derive(Clone, Copy, Debug)]
enum Who<'a> {
    /// A shop domain sent in a header (lower case), if sent.
    Shop(Option<&'a str>),
    /// The company id in the route.
    Id(&'a str),
}

impl<'a> Who<'a> {
    fn of(sender: &'a Sender<'a>) -> Self {
        match sender {
            Sender::Shop(d) => Who::Shop(d.as_deref()),
            Sender::Id(id) => Who::Id(id),
        }
    }
}

async fn look_up<S: Store>(
    app: &IntakeService<S>,
    who: Who<'_>,
    lookup: Lookup,
) -> Result<Found, Problem> {
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
    app: &IntakeService<S>,
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

/// A webhook route: the platform, and the company id when the path has one.
struct Route<'a> {
    platform: &'static dyn StorePlatform,
    company_id: Option<&'a str>,
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/webhooks/")?.trim_end_matches('/');
    let (name, id) = match rest.split_once('/') {
        None => (rest, None),
        Some((name, id)) => (name, Some(id)),
    };
    let platform = platforms::registry::by_route(name)?;
    let company_id = match (platform.company_in_path(), id) {
        (false, None) => None,
        (true, Some(id)) if !id.is_empty() && !id.contains('/') => Some(id),
        _ => return None,
    };
    Some(Route {
        platform,
        company_id,
    })
}

/// Handle one webhook delivery. Never fails: every error is a response.
pub async fn handle<S: Store>(app: &IntakeService<S>, req: Request) -> HttpResponse {
    let r = answer_and_log("webhook", &req, async || dispatch(app, &req).await).await;
    let platform = route(req.uri().path()).map_or("unknown", |r| r.platform.kind().as_str());
    app.metrics.count(service::metrics::Event::WebhookDelivery {
        platform,
        outcome: outcome(&r),
    });
    r
}

async fn dispatch<S: Store>(
    app: &IntakeService<S>,
    req: &Request,
) -> Result<HttpResponse, Problem> {
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
    let platform = route.platform;
    if platform.is_ping(body) {
        return Ok(answer(
            Handled::Ignored,
            Some("webhook ping".into()),
            vec![],
        ));
    }
    let header = |name: &str| header_str(headers, name);
    let received = Received {
        body,
        headers: &header,
    };
    let d = delivery(app, platform, route.company_id, &received).await?;
    known_company(&d.company.id);
    match &d.inbound {
        Inbound::Ignore(why) => {
            tracing::info!(company_id = %d.company.id, %why, "webhook ignored");
            Ok(answer(Handled::Ignored, Some(why.clone()), vec![]))
        }
        Inbound::Order(po) => reconcile(app, &d.company, d.source, po, &d.key).await,
        Inbound::Fetch { order_ref, change } => {
            fetch_and_reconcile(app, &d, platform.kind(), *order_ref, change).await
        }
    }
}

/// An authenticated delivery: whose it is, what it says, and the key that
/// makes its processing happen once.
struct Delivery {
    company: Company,
    source: Source,
    key: String,
    /// The key alone does not tell two changes apart (the payload names
    /// only the order): it is completed with the state read back from the
    /// platform.
    keyed_by_state: bool,
    inbound: Inbound,
}

/// Authenticate a delivery to `platform`'s route and read what it says.
async fn delivery<'a, S: Store>(
    app: &IntakeService<S>,
    platform: &dyn StorePlatform,
    path_id: Option<&'a str>,
    received: &Received<'a>,
) -> Result<Delivery, Problem> {
    let kind = platform.kind();
    let sender = platform.sender(received, path_id);
    let claim = Claim {
        platform: kind.as_str(),
        integration: Integration::Store(kind),
        who: Who::of(&sender),
        credential: platform.credential(received),
    };
    let company = authenticate(app, claim, received.body).await?;
    let inbound = match platform.sent_at(received.body) {
        Some(sent) if too_old(app, sent) => {
            tracing::warn!(company_id = %company.id, sent_at = sent, "a {} delivery older than its retries; a replay, ignored", kind.name());
            Inbound::Ignore(format!(
                "sent at {sent} (created_at), more than {} h ago",
                app.config.delivery_max_age.num_hours()
            ))
        }
        _ => platform.parse(received).map_err(|e| bad_payload(&e))?,
    };
    Ok(Delivery {
        company,
        source: Source::Store(kind),
        key: platform.delivery_key(received),
        keyed_by_state: platform.keyed_by_state(),
        inbound,
    })
}

/// Sent (epoch seconds) longer ago than any retry of the platform's.
fn too_old<S: Store>(app: &IntakeService<S>, sent: i64) -> bool {
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
    app: &IntakeService<S>,
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
    app: &IntakeService<S>,
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
        let parsed = |p| route(p).map(|r| (r.platform.kind(), r.company_id));
        assert_eq!(parsed("/webhooks/shopify"), Some((Platform::Shopify, None)));
        assert_eq!(
            parsed("/webhooks/woocommerce/seller-woo"),
            Some((Platform::WooCommerce, Some("seller-woo")))
        );
        assert_eq!(
            parsed("/webhooks/bigcommerce/seller-bc/"),
            Some((Platform::BigCommerce, Some("seller-bc")))
        );
        assert!(route("/webhooks/woocommerce/").is_none());
        assert!(route("/webhooks/woocommerce/a/b").is_none());
        assert!(route("/webhooks/magento/x").is_none());
    }
}
