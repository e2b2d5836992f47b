//! Webhook intake (contract.md section 2): a store-connected company's own
//! change becomes a cancellation here, exactly once. Authenticity first
//! (nothing is read or written for a bad signature), then the platform's
//! current absolute quantities are reconciled, so duplicates, stale
//! snapshots and the echo of our own outbound change are no-ops.

use lambda_http::Request;
use lambda_http::http::{Method, StatusCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::{App, AppError, ReconcileOutcome};
use crate::domain::{Company, Integration, Source};
use crate::http::{
    HttpResponse, Problem, answer_and_log, body_bytes, header_str, json, method_not_allowed,
    no_route,
};
use crate::platforms::{
    self, Inbound, PlatformError, PlatformOrder, bigcommerce, shopify, woocommerce,
};
use crate::store::Store;

/// Largest webhook body accepted (platform payloads of large orders).
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// The routes served, as (method, path template).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/webhooks/shopify"),
    ("POST", "/webhooks/woocommerce/{company_id}"),
    ("POST", "/webhooks/bigcommerce/{company_id}"),
];

#[derive(Debug, Serialize)]
struct Answer {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    orders: Vec<ReconcileOutcome>,
}

fn answer(
    status: &'static str,
    detail: Option<String>,
    orders: Vec<ReconcileOutcome>,
) -> HttpResponse {
    json(
        StatusCode::OK,
        &Answer {
            status,
            detail,
            orders,
        },
    )
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
}

enum Platform<'a> {
    Shopify,
    WooCommerce(&'a str),
    BigCommerce(&'a str),
}

fn route(path: &str) -> Option<Platform<'_>> {
    let rest = path.strip_prefix("/webhooks/")?.trim_end_matches('/');
    match rest.split_once('/') {
        None if rest == "shopify" => Some(Platform::Shopify),
        Some(("woocommerce", id)) if !id.is_empty() && !id.contains('/') => {
            Some(Platform::WooCommerce(id))
        }
        Some(("bigcommerce", id)) if !id.is_empty() && !id.contains('/') => {
            Some(Platform::BigCommerce(id))
        }
        _ => None,
    }
}

fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Handle one webhook delivery. Never fails: every error is a response.
pub async fn handle<S: Store>(app: &App<S>, req: Request) -> HttpResponse {
    answer_and_log("webhook", &req, async |company_id| {
        dispatch(app, &req, company_id).await
    })
    .await
}

async fn dispatch<S: Store>(
    app: &App<S>,
    req: &Request,
    company_id: &mut Option<String>,
) -> Result<HttpResponse, Problem> {
    let path = req.uri().path();
    let Some(platform) = route(path) else {
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
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {MAX_WEBHOOK_BYTES} bytes"),
        ));
    }
    let headers = req.headers();
    let lookup = |r: Result<Option<Company>, crate::store::StoreError>| {
        r.map_err(|e| crate::api::app_problem(&AppError::Store(e)))
    };
    let (company, source, delivery, inbound) = match platform {
        Platform::Shopify => {
            let domain = header_str(headers, "x-shopify-shop-domain")
                .map(|d| d.trim().to_ascii_lowercase())
                .ok_or_else(|| unauthorized("X-Shopify-Shop-Domain is missing"))?;
            let company = lookup(app.store.company_by_shop_domain(&domain).await)?
                .filter(|c| c.integration == Integration::Shopify)
                .ok_or_else(|| unauthorized("unknown shop"))?;
            verify_hmac(
                &company,
                "shopify",
                header_str(headers, "x-shopify-hmac-sha256"),
                body,
            )?;
            let topic = header_str(headers, "x-shopify-topic")
                .unwrap_or_default()
                .to_owned();
            let event = header_str(headers, "x-shopify-event-id")
                .or_else(|| header_str(headers, "x-shopify-webhook-id"))
                .map_or_else(|| sha256_hex(body), str::to_owned);
            let inbound = shopify::parse(&topic, body).map_err(|e| bad_payload(&e))?;
            (
                company,
                Source::Shopify,
                format!("shopify:{topic}:{event}"),
                inbound,
            )
        }
        Platform::WooCommerce(id) => {
            if woocommerce::is_ping(body) {
                return Ok(answer("ignored", Some("webhook ping".into()), vec![]));
            }
            let company = lookup(app.store.company(id).await)?
                .filter(|c| c.integration == Integration::Woocommerce)
                .ok_or_else(|| unauthorized("unknown company"))?;
            verify_hmac(
                &company,
                "woocommerce",
                header_str(headers, "x-wc-webhook-signature"),
                body,
            )?;
            let topic = header_str(headers, "x-wc-webhook-topic").unwrap_or_default();
            let inbound = woocommerce::parse(topic, body).map_err(|e| bad_payload(&e))?;
            // X-WC-Webhook-Delivery-ID is new on every delivery; the body is the key.
            (
                company,
                Source::Woocommerce,
                format!("woocommerce:{}", sha256_hex(body)),
                inbound,
            )
        }
        Platform::BigCommerce(id) => {
            let company = lookup(app.store.company(id).await)?
                .filter(|c| c.integration == Integration::Bigcommerce)
                .ok_or_else(|| unauthorized("unknown company"))?;
            let secret = company
                .connection
                .as_ref()
                .and_then(|c| platforms::webhook_secret("bigcommerce", c).ok())
                .ok_or_else(|| unauthorized("the company has no webhook secret"))?;
            let token = header_str(headers, "x-webhook-token").unwrap_or_default();
            if !bool::from(token.as_bytes().ct_eq(secret.as_bytes())) || token.is_empty() {
                return Err(unauthorized("missing or wrong X-Webhook-Token"));
            }
            let (inbound, hash) = bigcommerce::parse(body).map_err(|e| bad_payload(&e))?;
            let key = hash
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| sha256_hex(body));
            (
                company,
                Source::Bigcommerce,
                format!("bigcommerce:{key}"),
                inbound,
            )
        }
    };
    *company_id = Some(company.id.clone());

    let (order_ref, fetch_reason) = match inbound {
        Inbound::Ignore(why) => {
            tracing::info!(company_id = %company.id, %why, "webhook ignored");
            return Ok(answer("ignored", Some(why), vec![]));
        }
        Inbound::Order(po) => return reconcile(app, &company, source, &po, &delivery).await,
        Inbound::Fetch { order_ref, reason } => (order_ref, reason),
    };
    // Fetch only for orders we know.
    let known = app
        .store
        .orders_by_ref(&company.id, company.role, &order_ref.to_string())
        .await
        .map_err(|e| crate::api::app_problem(&AppError::Store(e)))?;
    if known.is_empty() {
        return Ok(answer(
            "ignored",
            Some(format!("no order matches {order_ref}")),
            vec![],
        ));
    }
    let conn = company.connection.clone().unwrap_or_default();
    let http = app.platform_http();
    let fetched = match source {
        Source::Shopify => shopify::fetch_order(http, &conn, order_ref, &fetch_reason).await,
        _ => bigcommerce::fetch_order(http, &conn, order_ref).await,
    };
    match fetched {
        Ok(Some(po)) => reconcile(app, &company, source, &po, &delivery).await,
        Ok(None) => Ok(answer(
            "ignored",
            Some(format!("{order_ref} not found in the store")),
            vec![],
        )),
        Err(e) if e.is_transient() => {
            tracing::warn!(company_id = %company.id, %order_ref, error = %e, "could not read the order from the platform; asking for a retry");
            Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ))
        }
        Err(e) => {
            // A retry cannot help (credentials, permissions): say so loudly,
            // but do not make the platform disable the webhook.
            tracing::error!(company_id = %company.id, %order_ref, error = %e, "could not read the order from the platform");
            Ok(answer("failed", Some(fetch_failure(&e)), vec![]))
        }
    }
}

fn fetch_failure(e: &PlatformError) -> String {
    format!("could not read the order from the store: {e}")
}

fn bad_payload(e: &serde_json::Error) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_body",
        format!("unreadable payload: {e}"),
    )
}

fn verify_hmac(
    company: &Company,
    platform: &'static str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), Problem> {
    let secret = company
        .connection
        .as_ref()
        .and_then(|c| platforms::webhook_secret(platform, c).ok())
        .ok_or_else(|| unauthorized("the company has no webhook secret"))?;
    let sig = signature.ok_or_else(|| unauthorized("the signature header is missing"))?;
    if platforms::verify_hmac_sha256_base64(secret, body, sig) {
        Ok(())
    } else {
        Err(unauthorized("the signature does not match the body"))
    }
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
    if outcomes.is_empty() {
        return Ok(answer(
            "ignored",
            Some(format!("no order matches {}", po.order_ref)),
            vec![],
        ));
    }
    let status = if outcomes.iter().all(|o| o.result == "duplicate") {
        "duplicate"
    } else {
        "processed"
    };
    Ok(answer(status, None, outcomes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert!(matches!(
            route("/webhooks/shopify"),
            Some(Platform::Shopify)
        ));
        assert!(matches!(
            route("/webhooks/woocommerce/seller-woo"),
            Some(Platform::WooCommerce("seller-woo"))
        ));
        assert!(matches!(
            route("/webhooks/bigcommerce/seller-bc/"),
            Some(Platform::BigCommerce("seller-bc"))
        ));
        assert!(route("/webhooks/woocommerce/").is_none());
        assert!(route("/webhooks/woocommerce/a/b").is_none());
        assert!(route("/webhooks/magento/x").is_none());
    }
}
