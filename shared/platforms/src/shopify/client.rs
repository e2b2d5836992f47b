//! Shopify over the network: Admin GraphQL calls and the read of an order.

use domain::inbound::{LineChange, PlatformOrder};
use domain::{Connection, PlatformId};
use serde::Deserialize;
use serde_json::json;

use super::{ORDER_LINES_QUERY, PLATFORM, SHOPIFY_API_VERSION, graphql_url, legacy_id};
use crate::PlatformError;
use crate::connection::access_token;
use crate::http::PlatformHttp;
use crate::http::{BodyLimit, read_body};

#[derive(Deserialize)]
struct Gql<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GqlError>,
}

#[derive(Deserialize)]
struct GqlError {
    message: String,
    #[serde(default)]
    extensions: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(bound = "O: Deserialize<'de>")]
struct OrderData<O> {
    order: Option<WithLines<O>>,
}

/// An order as a query selecting `lineItems(first:, after: $after) { nodes
/// { id currentQuantity } pageInfo { hasNextPage endCursor } }` returns it:
/// the line page, and the query's other fields as `O`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound = "O: Deserialize<'de>")]
struct WithLines<O> {
    #[serde(flatten)]
    fields: O,
    line_items: Page<GqlLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelState {
    cancelled_at: Option<String>,
    cancel_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page<T> {
    nodes: Vec<T>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlLine {
    id: String,
    current_quantity: i64,
}

/// Run one Admin GraphQL operation, retrying HTTP failures and throttling.
pub async fn graphql<T: serde::de::DeserializeOwned>(
    http: &PlatformHttp,
    conn: &Connection,
    query: &str,
    variables: serde_json::Value,
) -> Result<T, PlatformError> {
    let url = graphql_url(conn)?;
    let token = access_token(PLATFORM, conn)?;
    let body = json!({ "query": query, "variables": variables });
    let decode = |detail: String| PlatformError::Decode {
        platform: PLATFORM,
        detail,
    };
    let mut throttled = 0;
    loop {
        let resp = http
            .send(PLATFORM, |c| {
                c.post(url.clone())
                    .header("X-Shopify-Access-Token", token)
                    .json(&body)
            })
            .await?;
        // Shopify serves a retired version as the oldest supported one and
        // says which in this header.
        http.observe_version(
            PLATFORM,
            SHOPIFY_API_VERSION,
            resp.headers(),
            "x-shopify-api-version",
            "x-shopify-api-deprecated-reason",
        );
        let bytes = read_body(PLATFORM, resp, BodyLimit::Order).await?;
        let parsed: Gql<T> = serde_json::from_slice(&bytes).map_err(|e| decode(e.to_string()))?;
        let is_throttled = parsed.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(|c| c.as_str())
                == Some("THROTTLED")
        });
        if is_throttled && throttled < http.policy.attempts {
            throttled += 1;
            tokio::time::sleep(http.policy.base_delay * (1 << throttled.min(6))).await;
            continue;
        }
        if !parsed.errors.is_empty() {
            let msgs: Vec<_> = parsed.errors.iter().map(|e| e.message.as_str()).collect();
            return Err(if is_throttled {
                PlatformError::Unavailable {
                    platform: PLATFORM,
                    detail: "throttled".into(),
                }
            } else {
                PlatformError::Rejected {
                    platform: PLATFORM,
                    status: 200,
                    body: msgs.join("; "),
                }
            });
        }
        return parsed.data.ok_or_else(|| decode("no data".into()));
    }
}

/// Run `query` (an order query shaped as `WithLines` says, with `$id` and
/// `$after`) over every page of the order's line items: the other fields as
/// the last page gives them, and each line's legacy id and current
/// quantity. `None` when Shopify knows no such order.
pub(crate) async fn order_with_lines<O: serde::de::DeserializeOwned>(
    http: &PlatformHttp,
    conn: &Connection,
    query: &str,
    gid: &str,
) -> Result<Option<(O, Vec<(String, u32)>)>, PlatformError> {
    let mut after: Option<String> = None;
    let mut lines = Vec::new();
    loop {
        let data: OrderData<O> =
            graphql(http, conn, query, json!({ "id": gid, "after": after })).await?;
        let Some(order) = data.order else {
            return Ok(None);
        };
        lines.extend(order.line_items.nodes.into_iter().map(|l| {
            let q = u32::try_from(l.current_quantity.max(0)).unwrap_or(u32::MAX);
            (legacy_id(&l.id).to_owned(), q)
        }));
        let page = order.line_items.page_info;
        match (page.has_next_page, page.end_cursor) {
            (true, Some(c)) => after = Some(c),
            _ => return Ok(Some((order.fields, lines))),
        }
    }
}

/// Fetch an order's current state (every page of its line items). `change`
/// is what the delivery reported, used when the order is still open.
pub(crate) async fn fetch_order(
    http: &PlatformHttp,
    conn: &Connection,
    order_ref: PlatformId,
    change: &LineChange,
) -> Result<Option<PlatformOrder>, PlatformError> {
    let gid = super::outbound::order_gid(order_ref);
    let Some((state, lines)) =
        order_with_lines::<CancelState>(http, conn, ORDER_LINES_QUERY, &gid).await?
    else {
        return Ok(None);
    };
    Ok(Some(PlatformOrder {
        order_ref: order_ref.to_string(),
        state: super::order_state(
            state.cancelled_at.as_deref(),
            state.cancel_reason.as_deref(),
            change.clone(),
        ),
        lines,
        complete_line_list: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn order_with_lines_reads_every_page() {
        use wiremock::matchers::{body_partial_json, method};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let page = |lines: serde_json::Value, next: Option<&str>, cancelled: Option<&str>| {
            json!({"data": {"order": {
                "cancelledAt": cancelled, "cancelReason": null,
                "lineItems": {"nodes": lines,
                    "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next}}}}})
        };
        Mock::given(method("POST"))
            .and(body_partial_json(json!({"variables": {"after": null}})))
            .respond_with(ResponseTemplate::new(200).set_body_json(page(
                json!([{"id": "gid://shopify/LineItem/1", "currentQuantity": 2}]),
                Some("c1"),
                None,
            )))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(body_partial_json(json!({"variables": {"after": "c1"}})))
            .respond_with(ResponseTemplate::new(200).set_body_json(page(
                json!([{"id": "gid://shopify/LineItem/2", "currentQuantity": -1}]),
                None,
                Some("2026-11-26T08:00:00Z"),
            )))
            .mount(&server)
            .await;
        let conn = Connection {
            api_base_url: Some(server.uri()),
            access_token: Some("token".into()),
            ..Connection::default()
        };
        let http = PlatformHttp::default();
        let order = fetch_order(
            &http,
            &conn,
            PlatformId::parse("5001").unwrap(),
            &LineChange::OrderEdited,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            order.lines,
            vec![("1".to_owned(), 2), ("2".to_owned(), 0)],
            "both pages, legacy ids, negative quantities as 0"
        );
        assert!(
            order.cancelled(),
            "the order's fields come from the last page"
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }
}
