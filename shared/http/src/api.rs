//! The cancellation API (docs/api.md) as one function from a
//! `lambda_http::Request` to a response, hosted by the Lambda and by
//! `dropship serve` alike. Thin: parse, call the application, map the result.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use lambda_http::Request;
use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::response::{
    Code, HttpResponse, MAX_BODY_BYTES, Problem, answer_and_log, bearer, body_bytes, header_str,
    json, method_not_allowed, no_route, raw,
};
use crate::views::{
    CancellationList, CancellationsView, CompanyView, OrderList, OrderView, to_json,
};
use domain::{
    CancelRequest, Company, DomainError, FulfillRequest, ItemRequest, NewLine, NewOrder, Source,
    StoreRefs,
};
use service::app::{App, AppError, Idempotency, Idempotent, Outcome, Reply};
use service::store::{
    IdempotencyRecord, OrderCursor, OrderRecord, StatusFilter, Store, StoreError,
};

/// Default and largest page size of `GET /v1/orders`.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;
/// Longest identifier or reference accepted in a body.
const MAX_ID_LEN: usize = 255;

/// The routes served, as (method, path template): the source of truth the
/// OpenAPI document and the SAM template are checked against.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/me"),
    ("POST", "/v1/orders"),
    ("GET", "/v1/orders"),
    ("GET", "/v1/orders/{order_id}"),
    ("POST", "/v1/orders/{order_id}/cancellations"),
    ("GET", "/v1/orders/{order_id}/cancellations"),
    ("POST", "/v1/orders/{order_id}/fulfillments"),
    ("PUT", "/v1/orders/{order_id}/store-refs"),
];

enum Route<'a> {
    Me,
    Orders,
    Order(&'a str),
    Cancellations(&'a str),
    Fulfillments(&'a str),
    StoreRefs(&'a str),
}

impl Route<'_> {
    fn allowed(&self) -> &'static str {
        match self {
            Route::Me | Route::Order(_) => "GET",
            Route::Orders | Route::Cancellations(_) => "GET, POST",
            Route::Fulfillments(_) => "POST",
            Route::StoreRefs(_) => "PUT",
        }
    }
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/v1/")?;
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["me"] => Some(Route::Me),
        ["orders"] => Some(Route::Orders),
        ["orders", id] if !id.is_empty() => Some(Route::Order(id)),
        ["orders", id, "cancellations"] if !id.is_empty() => Some(Route::Cancellations(id)),
        ["orders", id, "fulfillments"] if !id.is_empty() => Some(Route::Fulfillments(id)),
        ["orders", id, "store-refs"] if !id.is_empty() => Some(Route::StoreRefs(id)),
        _ => None,
    }
}

/// Handle one API request. Never fails: every error is a problem response.
pub async fn handle<S: Store>(app: &App<S>, req: Request) -> HttpResponse {
    answer_and_log("api", &req, async |company_id| {
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
    let Some(route) = route(path) else {
        return Err(no_route(path));
    };
    let method = req.method();
    let allowed = route.allowed();
    if !allowed.split(", ").any(|m| m == method.as_str()) {
        return Ok(method_not_allowed(
            allowed,
            format!("{method} is not allowed on {path}; allowed: {allowed}"),
        ));
    }
    let body = body_bytes(req.body());
    if body.len() > MAX_BODY_BYTES {
        return Err(Problem::new(
            Code::PayloadTooLarge,
            format!(
                "the body is {} bytes; at most {MAX_BODY_BYTES} are accepted",
                body.len()
            ),
        ));
    }
    let key = bearer(req.headers()).ok_or_else(|| app_problem(&AppError::Unauthorized))?;
    let company = app.authenticate(key).await.map_err(|e| app_problem(&e))?;
    *company_id = Some(company.id.clone());
    let query = Query::parse(req.uri().query());

    if *method == Method::GET {
        return match route {
            Route::Me => Ok(json(StatusCode::OK, &CompanyView::new(&company))),
            Route::Orders => list_orders(app, &company, &query).await,
            Route::Order(id) => {
                let rec = app.order(&company, id).await.map_err(|e| app_problem(&e))?;
                let notes = app.notifications(id).await.map_err(|e| app_problem(&e))?;
                let view = OrderView::of(&rec).with_notifications(&notes, Some(company.role));
                Ok(json(StatusCode::OK, &view))
            }
            Route::Cancellations(id) => {
                let list = app
                    .cancellations(&company, id)
                    .await
                    .map_err(|e| app_problem(&e))?;
                let notes = app.notifications(id).await.map_err(|e| app_problem(&e))?;
                Ok(json(
                    StatusCode::OK,
                    &CancellationList {
                        cancellations: CancellationsView::new(&list)
                            .with_notifications(&notes, Some(company.role)),
                    },
                ))
            }
            Route::Fulfillments(_) | Route::StoreRefs(_) => Ok(method_not_allowed(
                allowed,
                format!("GET is not allowed on {path}; allowed: {allowed}"),
            )),
        };
    }

    // POST and PUT: previews are side-effect free and take no Idempotency-Key.
    let preview = match query.get("preview") {
        None | Some("false") => false,
        Some("true") if matches!(route, Route::Cancellations(_)) => true,
        Some(v) => {
            return Err(Problem::new(
                Code::InvalidQuery,
                format!("preview must be true or false (on cancellations only), got {v:?}"),
            ));
        }
    };
    let idem = match idempotency_key(req.headers()) {
        _ if preview => None,
        Ok(None) => None,
        Ok(Some(k)) => Some(Idempotency::new(k, method.as_str(), path, body)),
        Err(p) => return Err(p),
    };
    let source = match header_str(req.headers(), "x-dropship-client") {
        Some(c) if c.eq_ignore_ascii_case("app") => Source::App,
        _ => Source::Api,
    };

    let result = match route {
        Route::Orders => create_order(app, &company, body, idem.as_ref()).await,
        Route::Cancellations(id) if preview => {
            preview_cancel(app, &company, id, body, source).await
        }
        Route::Cancellations(id) => cancel(app, &company, id, body, source, idem.as_ref()).await,
        Route::Fulfillments(id) => fulfill(app, &company, id, body, idem.as_ref()).await,
        Route::StoreRefs(id) => set_store_refs(app, &company, id, body, idem.as_ref()).await,
        Route::Me | Route::Order(_) => Ok(method_not_allowed(
            "GET",
            format!("{method} is not allowed on {path}; allowed: GET"),
        )),
    };
    match (result, idem) {
        (Err(p), Some(idem)) if remembered(&p) => {
            // The first answer to a key is kept, errors included (not 5xx).
            match app
                .remember_error(
                    &company,
                    &idem,
                    Reply {
                        status: p.status,
                        body: p.to_body(),
                    },
                )
                .await
            {
                Ok(Some(earlier)) => Ok(replayed(&earlier)),
                Ok(None) => Err(p),
                Err(e) => {
                    tracing::warn!(error = %e, "could not record the error under its idempotency key");
                    Err(p)
                }
            }
        }
        (result, _) => result,
    }
}

/// Errors kept under an idempotency key: 4xx that depend on the request or
/// the order, not on the key itself. A `409 conflict` (a lost race) is
/// transient like a 5xx: the client's retry with the same key must act.
fn remembered(p: &Problem) -> bool {
    (400..500).contains(&p.status) && !matches!(p.code, Code::IdempotencyKeyReused | Code::Conflict)
}

/// The request's `Idempotency-Key`: absent, or 1 to 255 visible ASCII
/// characters. Anything else (non-ASCII bytes, an empty value, the header
/// twice) is refused rather than ignored, so a client never loses its
/// protection against acting twice without being told.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |detail: &'static str| Problem::new(Code::InvalidIdempotencyKey, detail);
    if values.next().is_some() {
        return Err(invalid("Idempotency-Key was sent more than once"));
    }
    match std::str::from_utf8(value.as_bytes()) {
        Ok(k) if valid_idempotency_key(k) => Ok(Some(k)),
        _ => Err(invalid(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

fn valid_idempotency_key(k: &str) -> bool {
    (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
}

fn replayed(rec: &IdempotencyRecord) -> HttpResponse {
    let status = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
    let ct = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut r = raw(status, ct, rec.body.clone());
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

fn outcome<T>(
    o: Outcome<T>,
    status: StatusCode,
    render: impl FnOnce(&T) -> HttpResponse,
) -> HttpResponse {
    match o {
        Outcome::Done(v) => {
            let mut r = render(&v);
            *r.status_mut() = status;
            r
        }
        Outcome::Replayed(rec) => replayed(&rec),
    }
}

/// Map an application error onto the contract's status and code.
pub fn app_problem(e: &AppError) -> Problem {
    let code = match e {
        AppError::Unauthorized => Code::Unauthorized,
        AppError::OrderNotFound(_) => Code::OrderNotFound,
        AppError::UnknownSeller(_) => Code::UnknownSeller,
        AppError::Conflict => Code::Conflict,
        AppError::IdempotencyKeyReused => Code::IdempotencyKeyReused,
        AppError::Domain(d) => domain_code(d),
        AppError::Store(s) => {
            tracing::error!(error = %s, "store failure");
            // Only a backend failure is worth a retry; any other store
            // refusal reaching a client is a defect of ours.
            return match s {
                StoreError::Backend(_) => Problem::new(
                    Code::Unavailable,
                    "a transient failure on our side; retry with the same Idempotency-Key",
                ),
                _ => Problem::new(
                    Code::InternalError,
                    "an error on our side; it has been logged",
                ),
            };
        }
    };
    Problem::new(code, e.to_string())
}

fn domain_code(e: &DomainError) -> Code {
    match e {
        DomainError::NotPermitted(_) => Code::NotPermitted,
        DomainError::NothingToCancel => Code::NothingToCancel,
        DomainError::QuantityExceedsOpen { .. } => Code::QuantityExceedsOpen,
        DomainError::ReasonRequired { .. } => Code::ReasonRequired,
        DomainError::ReasonTooLong { .. } => Code::ReasonTooLong,
        DomainError::InvalidQuantity { .. } => Code::InvalidQuantity,
        DomainError::UnknownLineItem { .. } => Code::UnknownLineItem,
        DomainError::DuplicateLineItem { .. } => Code::DuplicateLineItem,
        DomainError::EmptyItems => Code::EmptyItems,
        DomainError::InvalidStoreRef { .. } => Code::InvalidStoreRef,
    }
}

fn invalid_body(detail: impl Into<String>) -> Problem {
    Problem::new(Code::InvalidBody, detail)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if body.is_empty() {
        return Err(invalid_body("the body must be a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| invalid_body(format!("invalid JSON body: {e}")))
}

fn check_id(field: &str, v: &str) -> Result<(), Problem> {
    if v.trim().is_empty() || v.len() > MAX_ID_LEN {
        return Err(invalid_body(format!(
            "{field} must be 1 to {MAX_ID_LEN} characters, not blank"
        )));
    }
    Ok(())
}

fn check_opt(field: &str, v: &Option<String>) -> Result<(), Problem> {
    v.as_deref().map_or(Ok(()), |v| check_id(field, v))
}

/// A non-negative decimal string such as "12", "12.5" or "0.99".
fn is_decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && s.len() <= 32
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

// ---- bodies -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrderBody {
    seller_id: String,
    #[serde(default)]
    buyer_order_ref: Option<String>,
    #[serde(default)]
    seller_order_ref: Option<String>,
    line_items: Vec<LineBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineBody {
    id: String,
    sku: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(deserialize_with = "whole_number")]
    quantity: i64,
    #[serde(default)]
    unit_price: Option<String>,
    #[serde(default)]
    buyer_line_ref: Option<String>,
    #[serde(default)]
    seller_line_ref: Option<String>,
}

impl CreateOrderBody {
    fn into_request(self) -> Result<(String, NewOrder), Problem> {
        // References are checked by the domain, against their owner.
        check_id("seller_id", &self.seller_id)?;
        let mut lines = Vec::with_capacity(self.line_items.len());
        for l in self.line_items {
            check_id("line_items[].id", &l.id)?;
            check_id("line_items[].sku", &l.sku)?;
            if l.title.as_ref().is_some_and(|t| t.len() > 1024) {
                return Err(invalid_body(
                    "line_items[].title must be at most 1024 bytes",
                ));
            }
            if let Some(p) = &l.unit_price
                && !is_decimal(p)
            {
                return Err(invalid_body(format!(
                    "line_items[].unit_price must be a decimal string such as \"12.50\", got {p:?}"
                )));
            }
            lines.push(NewLine {
                id: l.id,
                sku: l.sku,
                title: l.title,
                quantity: l.quantity,
                unit_price: l.unit_price,
                buyer_line_ref: l.buyer_line_ref,
                seller_line_ref: l.seller_line_ref,
            });
        }
        Ok((
            self.seller_id,
            NewOrder {
                buyer_order_ref: self.buyer_order_ref,
                seller_order_ref: self.seller_order_ref,
                line_items: lines,
            },
        ))
    }
}

/// A quantity: a JSON number with no fractional part. `openapi.yaml` says
/// `integer`, which JSON Schema (and so many clients' serialisers) also
/// lets be written `4.0` or `4e0`; those are read as 4. `4.5`, strings and
/// numbers beyond `i64` are refused (400 `invalid_body`); zero and negative
/// ones reach the domain, which answers `invalid_quantity`.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct WholeNumber;
    impl serde::de::Visitor<'_> for WholeNumber {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            // Beyond 2^53 a float no longer holds every whole number exactly.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if v.fract() == 0.0 && v.abs() <= EXACT {
                Ok(v as i64)
            } else {
                Err(E::custom(format!("{v} is not a whole number")))
            }
        }
    }
    d.deserialize_any(WholeNumber)
}

/// Present-but-null is `Some(None)`; absent is `None` (via `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default, deserialize_with = "present")]
    reason: Option<Option<String>>,
    #[serde(default)]
    items: Option<Vec<ItemBody>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    line_item_id: String,
    #[serde(deserialize_with = "whole_number")]
    quantity: i64,
    #[serde(default)]
    reason: Option<String>,
}

impl CancelBody {
    fn into_request(self) -> Result<CancelRequest, Problem> {
        match (self.reason, self.items) {
            (Some(reason), None) => Ok(CancelRequest::WholeOrder { reason }),
            (None, Some(items)) => Ok(CancelRequest::Items(
                items
                    .into_iter()
                    .map(|i| ItemRequest {
                        line_item_id: i.line_item_id,
                        quantity: i.quantity,
                        reason: i.reason,
                    })
                    .collect(),
            )),
            (Some(_), Some(_)) => Err(invalid_body(
                "give either a whole-order {\"reason\"} or {\"items\": [...]}, not both",
            )),
            (None, None) => Err(invalid_body(
                "give either a whole-order {\"reason\"} or {\"items\": [...]}",
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfillBody {
    items: Vec<FulfilledBody>,
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(default)]
    carrier: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfilledBody {
    line_item_id: String,
    #[serde(deserialize_with = "whole_number")]
    quantity: i64,
}

/// `PUT .../store-refs`: `order_ref`, `line_items` or both; neither (or
/// only an empty list) is a body that asks for nothing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreRefsBody {
    #[serde(default, deserialize_with = "present")]
    order_ref: Option<Option<String>>,
    #[serde(default)]
    line_items: Vec<LineRefBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineRefBody {
    id: String,
    #[serde(rename = "ref")]
    line_ref: String,
}

impl StoreRefsBody {
    fn into_request(self) -> Result<StoreRefs, Problem> {
        let order_ref = match self.order_ref {
            Some(None) => return Err(invalid_body("order_ref must be a string")),
            Some(Some(r)) => Some(r),
            None => None,
        };
        if order_ref.is_none() && self.line_items.is_empty() {
            return Err(invalid_body(
                "give order_ref, a non-empty line_items list, or both",
            ));
        }
        let mut line_items = Vec::with_capacity(self.line_items.len());
        for l in self.line_items {
            check_id("line_items[].id", &l.id)?;
            line_items.push((l.id, l.line_ref));
        }
        Ok(StoreRefs {
            order_ref,
            line_items,
        })
    }
}

// ---- handlers -----------------------------------------------------------

/// A keyed request whose result is answered by `reply`.
fn keyed<T>(idem: Option<&Idempotency>, reply: fn(&T) -> Reply) -> Option<Idempotent<'_, T>> {
    idem.map(|key| Idempotent { key, reply })
}

/// `201` with the order as its parties see it.
fn order_created(rec: &OrderRecord) -> Reply {
    Reply {
        status: StatusCode::CREATED.as_u16(),
        body: to_json(&OrderView::of(rec)),
    }
}

/// `200` with the order after its refs changed.
fn refs_set(rec: &OrderRecord) -> Reply {
    Reply {
        status: StatusCode::OK.as_u16(),
        body: to_json(&OrderView::of(rec)),
    }
}

/// `201` with the created cancellation or fulfillment.
fn created<T: serde::Serialize>(record: &T) -> Reply {
    Reply {
        status: StatusCode::CREATED.as_u16(),
        body: to_json(record),
    }
}

async fn create_order<S: Store>(
    app: &App<S>,
    company: &Company,
    body: &[u8],
    idem: Option<&Idempotency>,
) -> Result<HttpResponse, Problem> {
    let (seller_id, request) = parse::<CreateOrderBody>(body)?.into_request()?;
    let o = app
        .create_order(company, &seller_id, request, keyed(idem, order_created))
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(outcome(o, StatusCode::CREATED, |rec| {
        let mut r = json(StatusCode::CREATED, &OrderView::of(rec));
        if let Ok(loc) = HeaderValue::from_str(&format!("/v1/orders/{}", rec.order.id)) {
            r.headers_mut().insert(header::LOCATION, loc);
        }
        r
    }))
}

async fn cancel<S: Store>(
    app: &App<S>,
    company: &Company,
    order_id: &str,
    body: &[u8],
    source: Source,
    idem: Option<&Idempotency>,
) -> Result<HttpResponse, Problem> {
    let request = parse::<CancelBody>(body)?.into_request()?;
    let o = app
        .cancel(company, order_id, &request, source, keyed(idem, created))
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(outcome(o, StatusCode::CREATED, |c| {
        json(StatusCode::CREATED, c)
    }))
}

async fn preview_cancel<S: Store>(
    app: &App<S>,
    company: &Company,
    order_id: &str,
    body: &[u8],
    source: Source,
) -> Result<HttpResponse, Problem> {
    let request = parse::<CancelBody>(body)?.into_request()?;
    let c = app
        .preview_cancel(company, order_id, &request, source)
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(json(StatusCode::OK, &c))
}

async fn fulfill<S: Store>(
    app: &App<S>,
    company: &Company,
    order_id: &str,
    body: &[u8],
    idem: Option<&Idempotency>,
) -> Result<HttpResponse, Problem> {
    let b = parse::<FulfillBody>(body)?;
    check_opt("tracking_number", &b.tracking_number)?;
    check_opt("carrier", &b.carrier)?;
    let request = FulfillRequest {
        items: b
            .items
            .into_iter()
            .map(|i| (i.line_item_id, i.quantity))
            .collect(),
        tracking_number: b.tracking_number,
        carrier: b.carrier,
    };
    let o = app
        .fulfill(company, order_id, &request, keyed(idem, created))
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(outcome(o, StatusCode::CREATED, |f| {
        json(StatusCode::CREATED, f)
    }))
}

async fn set_store_refs<S: Store>(
    app: &App<S>,
    company: &Company,
    order_id: &str,
    body: &[u8],
    idem: Option<&Idempotency>,
) -> Result<HttpResponse, Problem> {
    let request = parse::<StoreRefsBody>(body)?.into_request()?;
    let o = app
        .set_store_refs(company, order_id, &request, keyed(idem, refs_set))
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(outcome(o, StatusCode::OK, |rec| {
        json(StatusCode::OK, &OrderView::of(rec))
    }))
}

async fn list_orders<S: Store>(
    app: &App<S>,
    company: &Company,
    q: &Query,
) -> Result<HttpResponse, Problem> {
    let bad = |d: String| Problem::new(Code::InvalidQuery, d);
    let filter = match q.get("status") {
        None => StatusFilter::Any,
        Some("open") => StatusFilter::Open,
        Some("complete") => StatusFilter::Complete,
        Some(v) => return Err(bad(format!("status must be open or complete, got {v:?}"))),
    };
    let limit = match q.get("limit") {
        None => DEFAULT_PAGE,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(bad(format!(
                    "limit must be an integer from 1 to {MAX_PAGE}, got {v:?}"
                )));
            }
        },
    };
    let cursor = match q.get("cursor") {
        None | Some("") => None,
        Some(c) => Some(
            decode_cursor(c).ok_or_else(|| bad("cursor is not one this API returned".into()))?,
        ),
    };
    let page = app
        .list_orders(company, filter, limit, cursor.as_ref())
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(json(
        StatusCode::OK,
        &OrderList {
            orders: page.orders.iter().map(OrderView::of).collect(),
            next_cursor: page.next.as_ref().map(encode_cursor),
        },
    ))
}

/// Cursors are opaque to clients: base64url of `<created_at>|<order id>`.
pub fn encode_cursor(c: &OrderCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", c.created_at.to_rfc3339(), c.id))
}

pub fn decode_cursor(s: &str) -> Option<OrderCursor> {
    let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (ts, id) = text.split_once('|')?;
    let created_at = DateTime::parse_from_rfc3339(ts).ok()?.with_timezone(&Utc);
    (!id.is_empty()).then(|| OrderCursor {
        created_at,
        id: id.to_owned(),
    })
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert!(matches!(route("/v1/orders"), Some(Route::Orders)));
        assert!(matches!(route("/v1/orders/"), Some(Route::Orders)));
        assert!(matches!(route("/v1/orders/o1"), Some(Route::Order("o1"))));
        assert!(matches!(
            route("/v1/orders/o1/cancellations"),
            Some(Route::Cancellations("o1"))
        ));
        assert!(matches!(
            route("/v1/orders/o1/fulfillments"),
            Some(Route::Fulfillments("o1"))
        ));
        assert!(matches!(
            route("/v1/orders/o1/store-refs"),
            Some(Route::StoreRefs("o1"))
        ));
        assert!(route("/v1/orders/o1/other").is_none());
        assert!(route("/v2/orders").is_none());
        assert!(route("/v1/orders//cancellations").is_none());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = OrderCursor {
            created_at: "2026-01-02T03:04:05.678Z".parse().unwrap(),
            id: "ord_1".into(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&c)), Some(c));
        assert_eq!(decode_cursor("not-a-cursor"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("x|y")), None);
    }

    #[test]
    fn decimals() {
        for ok in ["0", "12", "12.50", "0.99"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", ".5", "5.", "-1", "1e3", "1.2.3", "abc"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys() {
        assert!(valid_idempotency_key("a"));
        assert!(valid_idempotency_key(&"k".repeat(255)));
        assert!(!valid_idempotency_key(""));
        assert!(!valid_idempotency_key(&"k".repeat(256)));
        assert!(!valid_idempotency_key("has space"));
    }
}
