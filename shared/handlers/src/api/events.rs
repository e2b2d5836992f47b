//! The webhook endpoint routes and the event log:
//! `/v1/webhook-endpoints[/{id}[/test]]` and `GET /v1/events`.

use chrono::{DateTime, Utc};
use lambda_http::http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::orders::Query;
use super::{invalid_body, parse, store_problem};
use crate::response::{Code, HttpResponse, Problem, json, raw};
use crate::views::to_json;
use domain::Company;
use domain::events::{EndpointRefusal, EndpointStatus, WebhookEndpoint};
use service::app::{Idempotency, Idempotent, Outcome, Reply};
use service::events::{EndpointRequest, EventsService, MAX_EVENT_PAGE, WebhookError, WebhookStore};
use service::store::Store;

/// Default page of `GET /v1/events`.
const DEFAULT_EVENT_PAGE: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    url: String,
    events: Vec<String>,
}

/// An endpoint as its owner sees it; the secret only when just created.
#[derive(Debug, Serialize)]
pub(crate) struct EndpointView<'a> {
    id: &'a str,
    url: &'a str,
    events: &'a [String],
    status: EndpointStatus,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failing_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

impl<'a> EndpointView<'a> {
    fn new(e: &'a WebhookEndpoint, secret: Option<&'a str>) -> Self {
        EndpointView {
            id: &e.id,
            url: &e.url,
            events: &e.events,
            status: e.status,
            created_at: e.created_at,
            failing_since: e.failing_since,
            disabled_at: e.disabled_at,
            secret,
        }
    }
}

#[derive(Serialize)]
struct EndpointList<'a> {
    webhook_endpoints: Vec<EndpointView<'a>>,
}

pub(super) fn problem(e: &WebhookError) -> Problem {
    let code = match e {
        WebhookError::Url(_) => Code::InvalidWebhookUrl,
        WebhookError::Events(_) => Code::InvalidWebhookEvents,
        WebhookError::Endpoints(EndpointRefusal::TooMany) => Code::TooManyWebhookEndpoints,
        WebhookError::Endpoints(EndpointRefusal::NotFound(_)) => Code::WebhookEndpointNotFound,
        WebhookError::Endpoints(EndpointRefusal::PingTooSoon { .. }) => Code::RateLimited,
        WebhookError::Endpoints(EndpointRefusal::Leased { .. }) => Code::Conflict,
        WebhookError::IdempotencyKeyReused => Code::IdempotencyKeyReused,
        WebhookError::BadCursor | WebhookError::CursorNotKept => Code::InvalidQuery,
        WebhookError::Store(s) => return store_problem(s),
        WebhookError::Unavailable(_) => {
            tracing::error!(error = %e, "webhooks unavailable");
            return Problem::new(
                Code::Unavailable,
                "webhooks are unavailable right now; retry later",
            );
        }
    };
    Problem::new(code, e.to_string())
}

/// The answer kept under a registration's `Idempotency-Key`: the endpoint
/// without its secret (a retry gets the secret again from the endpoint).
fn endpoint_created(e: &WebhookEndpoint) -> Reply {
    Reply {
        status: StatusCode::CREATED.as_u16(),
        body: to_json(&EndpointView::new(e, None)),
    }
}

/// `POST /v1/webhook-endpoints`.
pub(super) async fn create<S: Store + WebhookStore>(
    app: &EventsService<S>,
    company: &Company,
    body: &[u8],
    idem: Option<&Idempotency>,
) -> Result<HttpResponse, Problem> {
    let b: EndpointBody = parse(body)?;
    if b.url.trim().is_empty() {
        return Err(invalid_body("url must be a non-empty string"));
    }
    let keyed = idem.map(|key| Idempotent {
        key,
        reply: endpoint_created,
    });
    let request = EndpointRequest {
        url: b.url,
        events: b.events,
    };
    let created = match app
        .create_endpoint(company, request, keyed)
        .await
        .map_err(|e| problem(&e))?
    {
        Outcome::Done(created) => created,
        Outcome::Replayed(earlier) => return Ok(super::replayed(&earlier)),
    };
    let mut r = json(
        StatusCode::CREATED,
        &EndpointView::new(&created.endpoint, Some(&created.secret)),
    );
    if let Ok(loc) =
        HeaderValue::from_str(&format!("/v1/webhook-endpoints/{}", created.endpoint.id))
    {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    if created.replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(r)
}

/// `GET /v1/webhook-endpoints`.
pub(super) async fn list<S: Store + WebhookStore>(
    app: &EventsService<S>,
    company: &Company,
) -> Result<HttpResponse, Problem> {
    let endpoints = app.endpoints(company).await.map_err(|e| problem(&e))?;
    Ok(json(
        StatusCode::OK,
        &EndpointList {
            webhook_endpoints: endpoints
                .iter()
                .map(|e| EndpointView::new(e, None))
                .collect(),
        },
    ))
}

/// `DELETE /v1/webhook-endpoints/{id}`.
pub(super) async fn delete<S: Store + WebhookStore>(
    app: &EventsService<S>,
    company: &Company,
    id: &str,
) -> Result<HttpResponse, Problem> {
    app.delete_endpoint(company, id)
        .await
        .map_err(|e| problem(&e))?;
    Ok(raw(
        StatusCode::NO_CONTENT,
        "application/json",
        String::new(),
    ))
}

/// `POST /v1/webhook-endpoints/{id}/test`.
pub(super) async fn test<S: Store + WebhookStore>(
    app: &EventsService<S>,
    company: &Company,
    id: &str,
) -> Result<HttpResponse, Problem> {
    let event_id = match app.ping_endpoint(company, id).await {
        Ok(event_id) => event_id,
        Err(e) => {
            let p = problem(&e);
            let WebhookError::Endpoints(EndpointRefusal::PingTooSoon { retry_after }) = e else {
                return Err(p);
            };
            let mut r = p.into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return Ok(r);
        }
    };
    Ok(json(
        StatusCode::ACCEPTED,
        &serde_json::json!({"event_id": event_id, "type": "ping", "webhook_endpoint_id": id}),
    ))
}

/// `GET /v1/events?after=&limit=`.
pub(super) async fn events<S: Store + WebhookStore>(
    app: &EventsService<S>,
    company: &Company,
    q: &Query,
) -> Result<HttpResponse, Problem> {
    let limit = match q.get("limit") {
        None => DEFAULT_EVENT_PAGE,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_EVENT_PAGE).contains(&n) => n,
            _ => {
                return Err(Problem::new(
                    Code::InvalidQuery,
                    format!("limit must be an integer from 1 to {MAX_EVENT_PAGE}, got {v:?}"),
                ));
            }
        },
    };
    let after = q.get("after").filter(|a| !a.is_empty());
    let page = app
        .events(company, after, limit)
        .await
        .map_err(|e| problem(&e))?;
    // Each event exactly as recorded and delivered.
    let bodies: Vec<&str> = page.events.iter().map(|e| e.body.as_str()).collect();
    let next = serde_json::to_string(&page.next).unwrap_or_else(|_| "null".into());
    Ok(raw(
        StatusCode::OK,
        "application/json",
        format!(
            r#"{{"events":[{}],"next_cursor":{next}}}"#,
            bodies.join(",")
        ),
    ))
}
