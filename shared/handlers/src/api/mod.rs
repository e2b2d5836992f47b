//! The cancellation API (docs/api.md) as one function from a
//! `lambda_http::Request` to a response, hosted by the Lambda and by
//! `dropship serve` alike. Thin: parse, call the application, map the result.

mod bodies;
mod events;
mod orders;
mod scorecard;

use lambda_http::Request;
use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::response::{
    Code, HttpResponse, MAX_BODY_BYTES, Problem, answer_and_log, bearer, body_bytes, header_str,
    json, known_company, method_not_allowed, no_route, raw,
};
use crate::views::{CancellationList, CancellationsView, CompanyView, OrderView};
use domain::{Company, DomainError, Source};
use orders::{Query, cancel, create_order, fulfill, list_orders, preview_cancel, set_store_refs};
#[cfg(test)]
use orders::{decode_cursor, encode_cursor};
use service::app::{AppError, Core, Idempotency, OrdersService, Outcome, Reply, Target};
use service::events::{EventsService, WebhookPorts, WebhookStore};
use service::store::{IdempotencyRecord, Store, StoreError};

/// Default and largest page size of `GET /v1/orders`.
pub(crate) const DEFAULT_PAGE: usize = 20;
pub(crate) const MAX_PAGE: usize = 100;
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
    ("POST", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints"),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/test"),
    ("GET", "/v1/events"),
    ("GET", "/v1/scorecard"),
];

enum Route<'a> {
    Me,
    Orders,
    Order(&'a str),
    Cancellations(&'a str),
    Fulfillments(&'a str),
    StoreRefs(&'a str),
    WebhookEndpoints,
    WebhookEndpoint(&'a str),
    WebhookTest(&'a str),
    Events,
    Scorecard,
}

impl Route<'_> {
    fn allowed(&self) -> &'static str {
        match self {
            Route::Me | Route::Order(_) | Route::Events | Route::Scorecard => "GET",
            Route::Orders | Route::Cancellations(_) | Route::WebhookEndpoints => "GET, POST",
            Route::Fulfillments(_) | Route::WebhookTest(_) => "POST",
            Route::StoreRefs(_) => "PUT",
            Route::WebhookEndpoint(_) => "DELETE",
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
        ["webhook-endpoints"] => Some(Route::WebhookEndpoints),
        ["webhook-endpoints", id] if !id.is_empty() => Some(Route::WebhookEndpoint(id)),
        ["webhook-endpoints", id, "test"] if !id.is_empty() => Some(Route::WebhookTest(id)),
        ["events"] => Some(Route::Events),
        ["scorecard"] => Some(Route::Scorecard),
        _ => None,
    }
}

/// The services the API's routes use, over one core: orders and their
/// changes, and a company's event webhooks.
pub struct Api<S> {
    pub app: OrdersService<S>,
    pub events: EventsService<S>,
}

impl<S> Api<S> {
    /// The API over `app`, with `ports` for its event webhook routes.
    pub fn new(app: OrdersService<S>, ports: WebhookPorts) -> Self {
        let events = EventsService::new(app.core(), ports);
        Api { app, events }
    }
}

impl<S> std::ops::Deref for Api<S> {
    type Target = OrdersService<S>;

    fn deref(&self) -> &OrdersService<S> {
        &self.app
    }
}

/// Handle one API request. Never fails: every error is a problem response.
pub async fn handle<S: Store + WebhookStore>(api: &Api<S>, req: Request) -> HttpResponse {
    answer_and_log("api", &req, async || dispatch(api, &req).await).await
}

async fn dispatch<S: Store + WebhookStore>(
    api: &Api<S>,
    req: &Request,
) -> Result<HttpResponse, Problem> {
    let app = &api.app;
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
    // A change to an order reads the key and the order in one round trip.
    let (company, target) = match route {
        Route::Cancellations(id) | Route::Fulfillments(id) if *method == Method::POST => {
            let (company, target) = app
                .authenticate_on(key, id)
                .await
                .map_err(|e| app_problem(&e))?;
            (company, Some(target))
        }
        _ => (
            app.authenticate(key).await.map_err(|e| app_problem(&e))?,
            None,
        ),
    };
    known_company(&company.id);
    let query = Query::parse(req.uri().query());

    match route {
        Route::WebhookEndpoints if *method == Method::GET => {
            return events::list(&api.events, &company).await;
        }
        Route::WebhookEndpoint(id) => return events::delete(&api.events, &company, id).await,
        Route::Events => return events::events(&api.events, &company, &query).await,
        _ => {}
    }

    if *method == Method::GET {
        return read(app, &company, route, &query, allowed, path).await;
    }
    write(api, &company, route, target, &query, req, body).await
}

/// `GET` routes.
async fn read<S: Store>(
    app: &OrdersService<S>,
    company: &Company,
    route: Route<'_>,
    query: &Query,
    allowed: &'static str,
    path: &str,
) -> Result<HttpResponse, Problem> {
    match route {
        Route::Me => Ok(json(StatusCode::OK, &CompanyView::new(company))),
        Route::Orders => list_orders(app, company, query).await,
        Route::Scorecard => scorecard::scorecard(app, company, query).await,
        Route::Order(id) => {
            let (rec, notes) = app
                .order_with_notifications(company, id)
                .await
                .map_err(|e| app_problem(&e))?;
            let view = OrderView::of(&rec).with_notifications(&notes, Some(company.role));
            Ok(json(StatusCode::OK, &view))
        }
        Route::Cancellations(id) => {
            let (list, notes) = app
                .cancellations(company, id)
                .await
                .map_err(|e| app_problem(&e))?;
            Ok(json(
                StatusCode::OK,
                &CancellationList {
                    cancellations: CancellationsView::new(&list)
                        .with_notifications(&notes, Some(company.role)),
                },
            ))
        }
        Route::Fulfillments(_)
        | Route::StoreRefs(_)
        | Route::WebhookEndpoints
        | Route::WebhookEndpoint(_)
        | Route::WebhookTest(_)
        | Route::Events => Ok(method_not_allowed(
            allowed,
            format!("GET is not allowed on {path}; allowed: {allowed}"),
        )),
    }
}

/// `POST` and `PUT` routes, with the one `Idempotency-Key` rule.
async fn write<S: Store + WebhookStore>(
    api: &Api<S>,
    company: &Company,
    route: Route<'_>,
    target: Option<Target>,
    query: &Query,
    req: &Request,
    body: &[u8],
) -> Result<HttpResponse, Problem> {
    let (app, (method, path)) = (&api.app, (req.method(), req.uri().path()));
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

    let on = |id: &str| target.unwrap_or_else(|| Target::from(id));
    let result = match route {
        Route::Orders => create_order(app, company, body, idem.as_ref()).await,
        Route::Cancellations(id) if preview => {
            preview_cancel(app, company, on(id), body, source).await
        }
        Route::Cancellations(id) => cancel(app, company, on(id), body, source, idem.as_ref()).await,
        Route::Fulfillments(id) => fulfill(app, company, on(id), body, idem.as_ref()).await,
        Route::StoreRefs(id) => set_store_refs(app, company, id, body, idem.as_ref()).await,
        Route::WebhookEndpoints => events::create(&api.events, company, body, idem.as_ref()).await,
        Route::WebhookTest(id) => {
            let test = events::test(&api.events, company, id);
            once(app, company, idem.as_ref(), test).await
        }
        Route::Me
        | Route::Order(_)
        | Route::WebhookEndpoint(_)
        | Route::Events
        | Route::Scorecard => Ok(method_not_allowed(
            "GET",
            format!("{method} is not allowed on {path}; allowed: GET"),
        )),
    };
    match (result, idem) {
        // The first answer to a key is kept, errors included (not 5xx).
        (Err(p), Some(idem)) if remembered(&p) => {
            let reply = Reply {
                status: p.status,
                body: p.to_body(),
            };
            match keep(app, company, &idem, reply).await? {
                Some(earlier) => Ok(earlier),
                None => Err(p),
            }
        }
        (result, _) => result,
    }
}

/// Keep `reply` as the key's answer; the earlier answer instead when the
/// key has one, `422 idempotency_key_reused` (kept nowhere) when that was
/// for another request.
async fn keep<S: Store>(
    app: &Core<S>,
    company: &Company,
    idem: &Idempotency,
    reply: Reply,
) -> Result<Option<HttpResponse>, Problem> {
    match app.remember_reply(company, idem, reply).await {
        Ok(earlier) => Ok(earlier.as_ref().map(replayed)),
        Err(e @ AppError::IdempotencyKeyReused) => Err(app_problem(&e)),
        Err(e) => {
            tracing::warn!(error = %e, "could not keep the answer under its idempotency key");
            Ok(None)
        }
    }
}

/// A keyed request whose effect is outside the store (a queued ping), so
/// no commit checks its key: the key's earlier answer when it has one,
/// else `act` once and keep its answer. Refusals are kept by `write`.
async fn once<S: Store>(
    app: &Core<S>,
    company: &Company,
    idem: Option<&Idempotency>,
    act: impl Future<Output = Result<HttpResponse, Problem>>,
) -> Result<HttpResponse, Problem> {
    let Some(idem) = idem else {
        return act.await;
    };
    if let Some(earlier) = app
        .earlier_reply(company, idem)
        .await
        .map_err(|e| app_problem(&e))?
    {
        return Ok(replayed(&earlier));
    }
    let r = act.await?;
    let reply = Reply {
        status: r.status().as_u16(),
        body: String::from_utf8_lossy(body_bytes(r.body())).into_owned(),
    };
    Ok(keep(app, company, idem, reply).await?.unwrap_or(r))
}

/// Errors kept under an idempotency key: 4xx that depend on the request or
/// the order, not on the key itself. A `409 conflict` (a lost race) and a
/// `429` (a rate limit) are transient like a 5xx: the client's retry with
/// the same key must act.
fn remembered(p: &Problem) -> bool {
    (400..500).contains(&p.status)
        && p.status != StatusCode::TOO_MANY_REQUESTS.as_u16()
        && !matches!(p.code, Code::IdempotencyKeyReused | Code::Conflict)
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

pub(super) fn outcome<T>(
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
pub(crate) fn app_problem(e: &AppError) -> Problem {
    let code = match e {
        AppError::Unauthorized => Code::Unauthorized,
        AppError::OrderNotFound(_) => Code::OrderNotFound,
        AppError::UnknownSeller(_) => Code::UnknownSeller,
        AppError::Conflict => Code::Conflict,
        AppError::IdempotencyKeyReused => Code::IdempotencyKeyReused,
        AppError::Domain(d) => domain_code(d),
        AppError::Store(s) => return store_problem(s),
    };
    Problem::new(code, e.to_string())
}

/// A store failure reaching a client: only a backend failure is worth a
/// retry; any other store refusal here is a defect of ours.
pub(crate) fn store_problem(s: &StoreError) -> Problem {
    tracing::error!(error = %s, "store failure");
    match s {
        StoreError::Backend(_) => Problem::new(
            Code::Unavailable,
            "a transient failure on our side; retry with the same Idempotency-Key",
        ),
        _ => Problem::new(
            Code::InternalError,
            "an error on our side; it has been logged",
        ),
    }
}

fn domain_code(e: &DomainError) -> Code {
    match e {
        DomainError::NotPermitted(_) => Code::NotPermitted,
        DomainError::NothingToCancel => Code::NothingToCancel,
        DomainError::QuantityExceedsOpen { .. } => Code::QuantityExceedsOpen,
        DomainError::ReasonRequired { .. } => Code::ReasonRequired,
        DomainError::ReasonTooLong { .. } => Code::ReasonTooLong,
        DomainError::InvalidReasonCode { .. } => Code::InvalidReasonCode,
        DomainError::InvalidQuantity { .. } => Code::InvalidQuantity,
        DomainError::UnknownLineItem { .. } => Code::UnknownLineItem,
        DomainError::DuplicateLineItem { .. } => Code::DuplicateLineItem,
        DomainError::EmptyItems => Code::EmptyItems,
        DomainError::InvalidStoreRef { .. } => Code::InvalidStoreRef,
    }
}

pub(super) fn invalid_body(detail: impl Into<String>) -> Problem {
    Problem::new(Code::InvalidBody, detail)
}

pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if body.is_empty() {
        return Err(invalid_body("the body must be a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| invalid_body(format!("invalid JSON body: {e}")))
}

pub(super) fn check_id(field: &str, v: &str) -> Result<(), Problem> {
    if v.trim().is_empty() || v.len() > MAX_ID_LEN {
        return Err(invalid_body(format!(
            "{field} must be 1 to {MAX_ID_LEN} characters, not blank"
        )));
    }
    Ok(())
}

pub(super) fn check_opt(field: &str, v: &Option<String>) -> Result<(), Problem> {
    v.as_deref().map_or(Ok(()), |v| check_id(field, v))
}

/// A non-negative decimal string such as "12", "12.5" or "0.99".
pub(super) fn is_decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && s.len() <= 32
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use service::store::OrderCursor;

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
