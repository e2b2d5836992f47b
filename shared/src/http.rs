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
    pub code: &'static str,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:dropship:problem:{code}"),
            title: title_of(code),
            status: status.as_u16(),
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
        r
    }
}

/// Every error code the API answers with, and its short, stable title.
pub const CODES: &[(&str, &str)] = &[
    ("invalid_body", "Invalid request body"),
    ("invalid_query", "Invalid query parameters"),
    ("invalid_idempotency_key", "Invalid Idempotency-Key header"),
    ("unauthorized", "Unauthorized"),
    ("not_permitted", "Not permitted"),
    ("order_not_found", "Order not found"),
    ("not_found", "Not found"),
    ("method_not_allowed", "Method not allowed"),
    ("nothing_to_cancel", "Nothing to cancel"),
    ("quantity_exceeds_open", "Quantity exceeds open units"),
    ("conflict", "Concurrent change"),
    ("payload_too_large", "Payload too large"),
    ("request_timeout", "Request timeout"),
    ("reason_required", "Reason required"),
    ("invalid_quantity", "Invalid quantity"),
    ("unknown_line_item", "Unknown line item"),
    ("duplicate_line_item", "Duplicate line item"),
    ("empty_items", "Empty items"),
    ("reason_too_long", "Reason too long"),
    ("unknown_seller", "Unknown seller"),
    ("idempotency_key_reused", "Idempotency key reused"),
    ("invalid_store_ref", "Invalid store reference"),
    ("unavailable", "Temporarily unavailable"),
    ("internal_error", "Internal error"),
];

fn title_of(code: &str) -> &'static str {
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Error", |(_, t)| t)
}

/// `404 not_found` for a path no route serves.
pub fn no_route(path: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {path}"),
    )
}

/// `405 method_not_allowed` with its `Allow` header.
pub fn method_not_allowed(allowed: &'static str, detail: String) -> HttpResponse {
    let mut r =
        Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", detail).into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    r
}

/// Answer one request with what `dispatch` returns (an error as its problem
/// response), then log it with the company `dispatch` identified, if any.
/// Never fails.
pub async fn answer_and_log(
    what: &'static str,
    req: &lambda_http::Request,
    dispatch: impl AsyncFnOnce(&mut Option<String>) -> Result<HttpResponse, Problem>,
) -> HttpResponse {
    let started = std::time::Instant::now();
    let mut company_id = None;
    let response = dispatch(&mut company_id)
        .await
        .unwrap_or_else(Problem::into_response);
    log_request(
        what,
        req.method().as_str(),
        req.uri().path(),
        response.status().as_u16(),
        company_id.as_deref(),
        started,
    );
    response
}

/// One log line per request: what, who, how it ended, how long it took.
fn log_request(
    what: &'static str,
    method: &str,
    path: &str,
    status: u16,
    company_id: Option<&str>,
    started: std::time::Instant,
) {
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(
            what,
            method,
            path,
            status,
            company_id,
            elapsed_ms,
            "request failed"
        );
    } else {
        tracing::info!(
            what, method, path, status, company_id, elapsed_ms, "request"
        );
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
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body's bytes, whatever representation the host gave.
pub fn body_bytes(body: &Body) -> &[u8] {
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
    fn problems_are_rfc9457() {
        let r = Problem::new(StatusCode::CONFLICT, "nothing_to_cancel", "no open units")
            .into_response();
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
