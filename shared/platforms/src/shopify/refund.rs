//! Shopify, the refund over the network: read the order, ask Shopify for
//! the refund's transactions, refund under an idempotency key, close the
//! order when nothing is left (`super::outbound` has the shapes).

use domain::sync::{RefundLine, ShopifyRoutine};
use domain::{Connection, PlatformId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{graphql, order_with_lines};
use super::outbound::*;
use super::{PLATFORM, legacy_id};
use crate::PlatformError;
use crate::http::PlatformHttp;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundState {
    closed: bool,
    presentment_currency_code: String,
}

#[derive(Deserialize)]
struct SuggestData {
    order: Option<SuggestOrder>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuggestOrder {
    suggested_refund: Option<Suggested>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Suggested {
    suggested_transactions: Vec<SuggestedTransaction>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuggestedTransaction {
    gateway: Option<String>,
    amount_set: MoneyBag,
    parent_transaction: Option<IdOnly>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBag {
    presentment_money: Money,
}

#[derive(Deserialize)]
struct Money {
    amount: String,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundData {
    refund_create: Option<MutationResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CloseData {
    order_close: Option<MutationResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MutationResult {
    #[serde(default)]
    refund: Option<IdOnly>,
    #[serde(default)]
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
struct UserError {
    message: String,
}

fn user_errors(op: &str, r: Option<MutationResult>) -> Result<MutationResult, PlatformError> {
    let r = r.ok_or_else(|| PlatformError::Decode {
        platform: PLATFORM,
        detail: format!("{op} returned no payload"),
    })?;
    if r.user_errors.is_empty() {
        Ok(r)
    } else {
        Err(PlatformError::Rejected {
            platform: PLATFORM,
            status: 200,
            body: format!(
                "{op}: {}",
                r.user_errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        })
    }
}

/// A cancellation's refund in a Shopify store.
pub(crate) struct ShopifyRefund<'a> {
    pub order_ref: PlatformId,
    pub cancellation_id: &'a str,
    pub lines: &'a [RefundLine],
    pub note: &'a str,
    pub routine: ShopifyRoutine,
}

/// Refund the lines of a cancellation in a Shopify order; returns what was
/// done, in words.
pub(crate) async fn shopify_refund(
    http: &PlatformHttp,
    conn: &Connection,
    r: &ShopifyRefund<'_>,
) -> Result<String, PlatformError> {
    let order_ref = r.order_ref;
    let id = order_gid(order_ref);
    // 1. The order as it is now.
    let Some((state, current)) =
        order_with_lines::<RefundState>(http, conn, REFUND_STATE_QUERY, &id).await?
    else {
        return Err(PlatformError::Rejected {
            platform: PLATFORM,
            status: 200,
            body: format!("Shopify order {order_ref} not found"),
        });
    };
    let (closed, currency) = (state.closed, state.presentment_currency_code);
    // 2. What to refund: down to our target, never more than was cancelled.
    let RefundPlan {
        refund,
        unknown,
        full,
    } = refund_plan(r.lines, &current);
    let mut done = Vec::new();
    // 3. Refund (with shipping when nothing is left, in a buyer's store), as
    // Shopify suggests.
    if !refund.is_empty() {
        let shipping = full && r.routine.refund_shipping;
        let key = refund_idempotency_key(
            &shopify_store(conn)?,
            &id,
            r.cancellation_id,
            &refund,
            shipping,
        );
        let req = RefundRequest {
            order_gid: &id,
            lines: &refund,
            shipping,
            notify: r.routine.notify_customer,
            currency: Some(&currency),
            note: r.note,
            idempotency_key: &key,
        };
        done.push(create_refund(http, conn, &req).await?);
    } else {
        done.push("nothing left to refund (already at our quantities)".to_owned());
    }
    // 4. Archive a fully refunded order (a buyer's store only).
    if full && !closed && r.routine.archive {
        let closed: CloseData = graphql(
            http,
            conn,
            ORDER_CLOSE_MUTATION,
            json!({ "input": { "id": id } }),
        )
        .await?;
        user_errors("orderClose", closed.order_close)?;
        done.push("order closed".to_owned());
    }
    if !unknown.is_empty() {
        done.push(format!(
            "line(s) {} not on the Shopify order",
            unknown.join(", ")
        ));
    }
    Ok(format!("Shopify order {order_ref}: {}", done.join("; ")))
}

/// Refund `req.lines` as Shopify suggests; returns what was done, in words.
async fn create_refund(
    http: &PlatformHttp,
    conn: &Connection,
    req: &RefundRequest<'_>,
) -> Result<String, PlatformError> {
    let id = req.order_gid;
    let refund_items: Vec<Value> = req
        .lines
        .iter()
        .map(|(gid, q)| json!({ "lineItemId": gid, "quantity": q, "restockType": "CANCEL" }))
        .collect();
    let suggested: SuggestData = graphql(
        http,
        conn,
        SUGGESTED_REFUND_QUERY,
        json!({ "id": id, "refundLineItems": refund_items, "refundShipping": req.shipping }),
    )
    .await?;
    let transactions: Vec<Value> = suggested
        .order
        .and_then(|o| o.suggested_refund)
        .map(|s| s.suggested_transactions)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| {
            let gateway = t.gateway?;
            Some(json!({
                "orderId": id,
                "amount": t.amount_set.presentment_money.amount,
                "gateway": gateway,
                "kind": "REFUND",
                "parentId": t.parent_transaction.map(|p| p.id),
            }))
        })
        .collect();
    let vars = refund_input(req, Value::Array(transactions));
    // Not repeated blindly on an ambiguous failure: the ledger's retry
    // re-reads the order's quantities first, and the key makes a repeat of
    // the same refund a replay.
    let created: RefundData = graphql(
        &http.for_non_idempotent(),
        conn,
        REFUND_CREATE_MUTATION,
        vars,
    )
    .await?;
    let r = user_errors("refundCreate", created.refund_create)?;
    // Each line may refund up to u32::MAX units: the sum needs 64 bits.
    let units = req
        .lines
        .iter()
        .fold(0u64, |n, (_, q)| n.saturating_add(u64::from(*q)));
    Ok(format!(
        "refunded {units} unit(s) on {} line(s){}{}{}",
        req.lines.len(),
        if req.shipping { " and shipping" } else { "" },
        if req.notify {
            ", customer notified"
        } else {
            ", customer not notified"
        },
        r.refund.map(|r| format!(" ({})", r.id)).unwrap_or_default()
    ))
}

/// What a Shopify refund takes: each line down to our target, never more
/// than the cancellation cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefundPlan {
    /// (line gid, units to refund).
    pub refund: Vec<(String, u32)>,
    /// Our lines the Shopify order does not have.
    pub unknown: Vec<String>,
    /// Nothing is left on the order after this refund.
    pub full: bool,
}

/// The refund of `lines` against the order's `current` (legacy line id,
/// quantity now) line quantities.
pub(crate) fn refund_plan(lines: &[RefundLine], current: &[(String, u32)]) -> RefundPlan {
    let mut refund: Vec<(String, u32)> = Vec::new();
    let mut unknown = Vec::new();
    for l in lines {
        let line_ref = l.line_ref.to_string();
        match current.iter().find(|(id, _)| *id == line_ref) {
            Some((_, now)) => {
                let q = now.saturating_sub(l.target).min(l.cancelled);
                if q > 0 {
                    refund.push((line_gid(l.line_ref), q));
                }
            }
            None => unknown.push(line_ref),
        }
    }
    // Nothing left once every line is at most what is refunded now.
    let full = current.iter().all(|(id, q)| {
        let r = refund
            .iter()
            .find(|(gid, _)| legacy_id(gid) == id)
            .map_or(0, |(_, r)| *r);
        q.saturating_sub(r) == 0
    });
    RefundPlan {
        refund,
        unknown,
        full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refund_of_more_than_u32_max_units_is_counted_in_64_bits() {
        use wiremock::matchers::{body_string_contains, method};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let answer = |op: &str, data: Value| {
            Mock::given(method("POST"))
                .and(body_string_contains(op))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": data })))
        };
        answer(
            "DropshipRefundState",
            json!({"order": {"id": "gid", "closed": false, "presentmentCurrencyCode": "USD",
                "lineItems": {"nodes": [
                    {"id": "gid://shopify/LineItem/1", "currentQuantity": 4294967295u64},
                    {"id": "gid://shopify/LineItem/2", "currentQuantity": 4294967295u64}
                ], "pageInfo": {"hasNextPage": false, "endCursor": null}}}}),
        )
        .mount(&server)
        .await;
        answer(
            "DropshipSuggestedRefund",
            json!({"order": {"suggestedRefund": {"suggestedTransactions": []}}}),
        )
        .mount(&server)
        .await;
        answer(
            "DropshipRefundCreate",
            json!({"refundCreate": {"refund": {"id": "gid://shopify/Refund/1"}, "userErrors": []}}),
        )
        .expect(1)
        .mount(&server)
        .await;
        answer(
            "DropshipOrderClose",
            json!({"orderClose": {"order": {"id": "gid", "closed": true}, "userErrors": []}}),
        )
        .mount(&server)
        .await;
        let conn = Connection {
            api_base_url: Some(server.uri()),
            access_token: Some("token".into()),
            ..Connection::default()
        };
        let lines: Vec<RefundLine> = ["1", "2"]
            .into_iter()
            .map(|r| RefundLine {
                line_ref: PlatformId::parse(r).unwrap(),
                cancelled: u32::MAX,
                target: 0,
            })
            .collect();
        let done = shopify_refund(
            &PlatformHttp::default(),
            &conn,
            &ShopifyRefund {
                order_ref: PlatformId::parse("5001").unwrap(),
                cancellation_id: "can_1",
                lines: &lines,
                note: "n",
                routine: ShopifyRoutine::for_party(domain::Role::Buyer),
            },
        )
        .await
        .unwrap();
        assert_eq!(
            done,
            "Shopify order 5001: refunded 8589934590 unit(s) on 2 line(s) and shipping, \
             customer notified (gid://shopify/Refund/1); order closed"
        );
    }
}
