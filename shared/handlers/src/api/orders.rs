//! The API's handlers per route: parse the body, call the use case, answer.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use lambda_http::http::{HeaderValue, StatusCode, header};

use super::bodies::{CancelBody, CreateOrderBody, FulfillBody, StoreRefsBody};
use super::{DEFAULT_PAGE, MAX_PAGE, app_problem, check_opt, outcome, parse};
use crate::response::{Code, HttpResponse, Problem, json};
use crate::views::{OrderList, OrderView, to_json};
use domain::{Company, FulfillRequest, Source};
use service::app::{Idempotency, Idempotent, OrdersService, Reply, Target};
use service::store::{OrderCursor, OrderRecord, StatusFilter, Store};

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

pub(super) async fn create_order<S: Store>(
    app: &OrdersService<S>,
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

pub(super) async fn cancel<S: Store>(
    app: &OrdersService<S>,
    company: &Company,
    order: Target,
    body: &[u8],
    source: Source,
    idem: Option<&Idempotency>,
) -> Result<HttpResponse, Problem> {
    let request = parse::<CancelBody>(body)?.into_request()?;
    let o = app
        .cancel(company, order, &request, source, keyed(idem, created))
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(outcome(o, StatusCode::CREATED, |c| {
        json(StatusCode::CREATED, c)
    }))
}

pub(super) async fn preview_cancel<S: Store>(
    app: &OrdersService<S>,
    company: &Company,
    order: Target,
    body: &[u8],
    source: Source,
) -> Result<HttpResponse, Problem> {
    let request = parse::<CancelBody>(body)?.into_request()?;
    let c = app
        .preview_cancel(company, order, &request, source)
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(json(StatusCode::OK, &c))
}

pub(super) async fn fulfill<S: Store>(
    app: &OrdersService<S>,
    company: &Company,
    order: Target,
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
        .fulfill(company, order, &request, keyed(idem, created))
        .await
        .map_err(|e| app_problem(&e))?;
    Ok(outcome(o, StatusCode::CREATED, |f| {
        json(StatusCode::CREATED, f)
    }))
}

pub(super) async fn set_store_refs<S: Store>(
    app: &OrdersService<S>,
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

pub(super) async fn list_orders<S: Store>(
    app: &OrdersService<S>,
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
pub(crate) fn encode_cursor(c: &OrderCursor) -> String {
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

pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(q: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
