//! What the HTTP handlers share: problem+json errors, JSON responses,
//! bearer-token extraction and request limits.

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// Largest request body accepted (256 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub type HttpResponse = Response<Body>;

/// An RFC 9457 problem document with the contract's `code` extension.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: Code,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:dropship:problem:{code}"),
            title: code.title(),
            status: code.status().as_u16(),
            detail: detail.into(),
            code,
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn to_body(&self) -> String {
        crate::views::to_json(self)
    }

    pub fn into_response(self) -> HttpResponse {
        let status = self.status();
        let mut r = raw(status, "application/problem+json", self.to_body());
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dropship\""),
            );
        }
        // For the host's counts: which refusal this was, read as a value.
        r.extensions_mut().insert(self.code);
        r
    }
}

/// Every error code the API answers with. Each has one status and a short,
/// stable title; the `code` member of a problem document is its snake_case
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    InvalidBody,
    InvalidQuery,
    InvalidIdempotencyKey,
    Unauthorized,
    NotPermitted,
    OrderNotFound,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    NothingToCancel,
    QuantityExceedsOpen,
    Conflict,
    PayloadTooLarge,
    ReasonRequired,
    InvalidQuantity,
    UnknownLineItem,
    DuplicateLineItem,
    EmptyItems,
    ReasonTooLong,
    InvalidReasonCode,
    UnknownSeller,
    IdempotencyKeyReused,
    InvalidStoreRef,
    InvalidWebhookUrl,
    InvalidWebhookEvents,
    TooManyWebhookEndpoints,
    WebhookEndpointNotFound,
    RateLimited,
    InternalError,
    Unavailable,
}

impl Code {
    pub const ALL: [Code; 30] = [
        Code::InvalidBody,
        Code::InvalidQuery,
        Code::InvalidIdempotencyKey,
        Code::Unauthorized,
        Code::NotPermitted,
        Code::OrderNotFound,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::RequestTimeout,
        Code::NothingToCancel,
        Code::QuantityExceedsOpen,
        Code::Conflict,
        Code::PayloadTooLarge,
        Code::ReasonRequired,
        Code::InvalidQuantity,
        Code::UnknownLineItem,
        Code::DuplicateLineItem,
        Code::EmptyItems,
        Code::ReasonTooLong,
        Code::InvalidReasonCode,
        Code::UnknownSeller,
        Code::IdempotencyKeyReused,
        Code::InvalidStoreRef,
        Code::InvalidWebhookUrl,
        Code::InvalidWebhookEvents,
        Code::TooManyWebhookEndpoints,
        Code::WebhookEndpointNotFound,
        Code::RateLimited,
        Code::InternalError,
        Code::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidBody => "invalid_body",
            Code::InvalidQuery => "invalid_query",
            Code::InvalidIdempotencyKey => "invalid_idempotency_key",
            Code::Unauthorized => "unauthorized",
            Code::NotPermitted => "not_permitted",
            Code::OrderNotFound => "order_not_found",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::RequestTimeout => "request_timeout",
            Code::NothingToCancel => "nothing_to_cancel",
            Code::QuantityExceedsOpen => "quantity_exceeds_open",
            Code::Conflict => "conflict",
            Code::PayloadTooLarge => "payload_too_large",
            Code::ReasonRequired => "reason_required",
            Code::InvalidQuantity => "invalid_quantity",
            Code::UnknownLineItem => "unknown_line_item",
            Code::DuplicateLineItem => "duplicate_line_item",
            Code::EmptyItems => "empty_items",
            Code::ReasonTooLong => "reason_too_long",
            Code::InvalidReasonCode => "invalid_reason_code",
            Code::UnknownSeller => "unknown_seller",
            Code::IdempotencyKeyReused => "idempotency_key_reused",
            Code::InvalidStoreRef => "invalid_store_ref",
            Code::InvalidWebhookUrl => "invalid_webhook_url",
            Code::InvalidWebhookEvents => "invalid_webhook_events",
            Code::TooManyWebhookEndpoints => "too_many_webhook_endpoints",
            Code::WebhookEndpointNotFound => "webhook_endpoint_not_found",
            Code::RateLimited => "rate_limited",
            Code::InternalError => "internal_error",
            Code::Unavailable => "unavailable",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Code::InvalidBody => "Invalid request body",
            Code::InvalidQuery => "Invalid query parameters",
            Code::InvalidIdempotencyKey => "Invalid Idempotency-Key header",
            Code::Unauthorized => "Unauthorized",
            Code::NotPermitted => "Not permitted",
            Code::OrderNotFound => "Order not found",
            Code::NotFound => "Not found",
            Code::MethodNotAllowed => "Method not allowed",
            Code::RequestTimeout => "Request timeout",
            Code::NothingToCancel => "Nothing to cancel",
            Code::QuantityExceedsOpen => "Quantity exceeds open units",
            Code::Conflict => "Concurrent change",
            Code::PayloadTooLarge => "Payload too large",
            Code::ReasonRequired => "Reason required",
            Code::InvalidQuantity => "Invalid quantity",
            Code::UnknownLineItem => "Unknown line item",
            Code::DuplicateLineItem => "Duplicate line item",
            Code::EmptyItems => "Empty items",
            Code::ReasonTooLong => "Reason too long",
            Code::InvalidReasonCode => "Unknown reason code",
            Code::UnknownSeller => "Unknown seller",
            Code::IdempotencyKeyReused => "Idempotency key reused",
            Code::InvalidStoreRef => "Invalid store reference",
            Code::InvalidWebhookUrl => "Invalid webhook URL",
            Code::InvalidWebhookEvents => "Invalid webhook events",
            Code::TooManyWebhookEndpoints => "Too many webhook endpoints",
            Code::WebhookEndpointNotFound => "Webhook endpoint not found",
            Code::RateLimited => "Too many requests",
            Code::InternalError => "Internal error",
            Code::Unavailable => "Temporarily unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidBody => StatusCode::BAD_REQUEST,
            Code::InvalidQuery => StatusCode::BAD_REQUEST,
            Code::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::NotPermitted => StatusCode::FORBIDDEN,
            Code::OrderNotFound => StatusCode::NOT_FOUND,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::NothingToCancel => StatusCode::CONFLICT,
            Code::QuantityExceedsOpen => StatusCode::CONFLICT,
            Code::Conflict => StatusCode::CONFLICT,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::ReasonRequired => StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidQuantity => StatusCode::UNPROCESSABLE_ENTITY,
            Code::UnknownLineItem => StatusCode::UNPROCESSABLE_ENTITY,
            Code::DuplicateLineItem => StatusCode::UNPROCESSABLE_ENTITY,
            Code::EmptyItems => StatusCode::UNPROCESSABLE_ENTITY,
            Code::ReasonTooLong => StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidReasonCode => StatusCode::UNPROCESSABLE_ENTITY,
            Code::UnknownSeller => StatusCode::UNPROCESSABLE_ENTITY,
            Code::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidStoreRef => StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidWebhookUrl => StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidWebhookEvents => StatusCode::UNPROCESSABLE_ENTITY,
            Code::TooManyWebhookEndpoints => StatusCode::UNPROCESSABLE_ENTITY,
            Code::WebhookEndpointNotFound => StatusCode::NOT_FOUND,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `404 not_found` for a path no route serves.
pub(crate) fn no_route(path: &str) -> Problem {
    Problem::new(Code::NotFound, format!("no route for {path}"))
}

/// `405 method_not_allowed` with its `Allow` header.
pub fn method_not_allowed(allowed: &'static str, detail: String) -> HttpResponse {
    let mut r = Problem::new(Code::MethodNotAllowed, detail).into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    r
}

/// Answer one request with what `dispatch` returns (an error as its problem
/// response) inside the request's span, then log it. The span carries the
/// operation, the company once `dispatch` knows it (`known_company`) and the
/// outcome, so every line logged while answering carries them. Never fails.
pub(crate) async fn answer_and_log(
    what: &'static str,
    req: &lambda_http::Request,
    dispatch: impl AsyncFnOnce() -> Result<HttpResponse, Problem>,
) -> HttpResponse {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let span = tracing::info_span!(
        "request",
        op = what,
        company_id = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let response = dispatch()
        .instrument(span.clone())
        .await
        .unwrap_or_else(Problem::into_response);
    let status = response.status().as_u16();
    span.record(
        "outcome",
        tracing::field::display(Outcome::of(status).as_str()),
    );
    span.in_scope(|| {
        log_request(
            what,
            req.method().as_str(),
            req.uri().path(),
            status,
            started,
        )
    });
    response
}

/// Name the company a request is answered for on its span (and so on every
/// line logged inside it).
pub(crate) fn known_company(company_id: &str) {
    tracing::Span::current().record("company_id", tracing::field::display(company_id));
}

/// How a request ended, on its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Refused,
    Failed,
}

impl Outcome {
    fn of(status: u16) -> Self {
        match status {
            500.. => Outcome::Failed,
            400.. => Outcome::Refused,
            _ => Outcome::Ok,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// One log line per request: what, how it ended, how long it took (who:
/// the request's span).
fn log_request(
    what: &'static str,
    method: &str,
    path: &str,
    status: u16,
    started: std::time::Instant,
) {
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(what, method, path, status, elapsed_ms, "request failed");
    } else {
        tracing::info!(what, method, path, status, elapsed_ms, "request");
    }
}

pub fn raw(status: StatusCode, content_type: &'static str, body: String) -> HttpResponse {
    let mut r = Response::new(Body::Text(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    raw(status, "application/json", crate::views::to_json(value))
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A header's value as text, if present and visible ASCII.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body's bytes, whatever representation the host gave.
pub(crate) fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn codes_are_their_snake_case_names_once_each() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(!c.title().is_empty());
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
    }

    #[test]
    fn problems_are_rfc9457() {
        let r = Problem::new(Code::NothingToCancel, "no open units").into_response();
        assert_eq!(r.status(), 409);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let v: serde_json::Value = serde_json::from_slice(body_bytes(r.body())).unwrap();
        assert_eq!(v["status"], 409);
        assert_eq!(v["code"], "nothing_to_cancel");
        assert_eq!(v["title"], "Nothing to cancel");
        assert_eq!(v["detail"], "no open units");
        assert_eq!(v["type"], "urn:dropship:problem:nothing_to_cancel");
    }
}
