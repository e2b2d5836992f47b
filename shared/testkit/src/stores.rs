//! Fakes of the store platforms' APIs, served on loopback by `wiremock`.
//! Each behaves as the platform's own documentation, schema or source says;
//! the source is named beside each behaviour. They keep state, so a test
//! sees what a sequence of calls does to an order, as a store would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => s.parse().unwrap_or_default(),
        Value::Number(n) => n.to_string().parse().unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

fn money(d: Decimal, dp: u32) -> String {
    let r = d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    format!("{r:.prec$}", prec = dp as usize)
}

// ---------------------------------------------------------------- Shopify

/// A line of a Shopify order.
#[derive(Debug, Clone)]
pub struct ShopLine {
    pub id: u64,
    pub quantity: u32,
    /// After edits and refunds (Shopify's `currentQuantity`).
    pub current: u32,
    pub price: Decimal,
}

#[derive(Debug, Clone)]
pub struct ShopOrder {
    pub id: u64,
    pub closed: bool,
    pub cancelled_at: Option<String>,
    pub currency: String,
    pub lines: Vec<ShopLine>,
}

/// A `refundCreate` the fake carried out.
#[derive(Debug, Clone)]
pub struct ShopRefund {
    pub id: String,
    pub order_id: u64,
    pub input: Value,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct ShopState {
    /// Supported versions, oldest first.
    supported: Vec<String>,
    orders: HashMap<u64, ShopOrder>,
    refunds: Vec<ShopRefund>,
    /// Idempotency key -> (input, the result it produced).
    keys: HashMap<String, (Value, Value)>,
    /// Answer the next refundCreate with 502 after carrying it out.
    lose_next_refund_answer: bool,
    /// Reads show line quantities as they were before the last refund.
    stale_reads: Option<HashMap<u64, Vec<(u64, u32)>>>,
    deprecated_reason: Option<String>,
    versions_served: Vec<String>,
}

/// Shopify's Admin GraphQL API, for the operations this service sends.
///
/// - Versions (shopify.dev/docs/api/usage/versioning): a request for a
///   version no longer supported is served by the oldest supported one,
///   named in the `X-Shopify-API-Version` response header.
/// - `refundCreate` (the 2026-10 schema's description of the mutation, and
///   shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations):
///   from 2026-04 a call without `@idempotent(key:)` is an error at run
///   time; a repeated key replays the first result
///   (shopify.dev/changelog/adding-idempotency-for-inventory-adjustments-and-refund-mutations);
///   the same key with other parameters is refused
///   (`IDEMPOTENCY_KEY_PARAMETER_MISMATCH`).
/// - `notify` sends the customer a notification; `shipping.fullRefund`
///   refunds shipping; `orderClose` closes the order (RefundInput,
///   ShippingRefundInput and orderClose in the schema).
#[derive(Clone, Default)]
pub struct FakeShopify {
    state: Arc<Mutex<ShopState>>,
}

impl FakeShopify {
    /// A shop whose supported versions are `supported` (oldest first).
    pub fn new(supported: &[&str]) -> Self {
        let f = FakeShopify::default();
        lock(&f.state).supported = supported.iter().map(|s| (*s).to_owned()).collect();
        f
    }

    /// The stable versions Shopify supports in December 2026: 2026-01 to
    /// 2026-10 (each for at least 12 months from its release, per
    /// shopify.dev's versioning page).
    pub fn today() -> Self {
        Self::new(&["2026-01", "2026-04", "2026-07", "2026-10"])
    }

    pub fn add_order(&self, o: ShopOrder) {
        lock(&self.state).orders.insert(o.id, o);
    }

    pub fn order(&self, id: u64) -> Option<ShopOrder> {
        lock(&self.state).orders.get(&id).cloned()
    }

    pub fn refunds(&self) -> Vec<ShopRefund> {
        lock(&self.state).refunds.clone()
    }

    pub fn versions_served(&self) -> Vec<String> {
        lock(&self.state).versions_served.clone()
    }

    pub fn lose_next_refund_answer(&self) {
        lock(&self.state).lose_next_refund_answer = true;
    }

    /// Reads go on showing the order's quantities as they are now, even
    /// after a refund (a lagging read).
    pub fn freeze_reads(&self) {
        let mut s = lock(&self.state);
        let snap = s
            .orders
            .values()
            .map(|o| (o.id, o.lines.iter().map(|l| (l.id, l.current)).collect()))
            .collect();
        s.stale_reads = Some(snap);
    }

    pub fn set_deprecated_reason(&self, r: &str) {
        lock(&self.state).deprecated_reason = Some(r.to_owned());
    }

    /// Serve on a new loopback server.
    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/admin/api/[^/]+/graphql\.json$"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }

    fn served(s: &ShopState, asked: &str) -> String {
        if s.supported.iter().any(|v| v == asked) {
            return asked.to_owned();
        }
        s.supported
            .first()
            .cloned()
            .unwrap_or_else(|| asked.to_owned())
    }
}

fn gql_error(message: &str, code: &str) -> Value {
    json!({"errors": [{"message": message, "extensions": {"code": code}}]})
}

fn legacy(gid: &str) -> u64 {
    gid.rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl Respond for FakeShopify {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let asked = req
            .url
            .path()
            .split('/')
            .nth(3)
            .unwrap_or_default()
            .to_owned();
        let mut s = lock(&self.state);
        let served = Self::served(&s, &asked);
        s.versions_served.push(served.clone());
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let query = body["query"].as_str().unwrap_or_default();
        let vars = &body["variables"];
        let (status, answer) = shop_answer(&mut s, &served, query, vars);
        let mut t = ResponseTemplate::new(status)
            .insert_header("X-Shopify-API-Version", served.as_str())
            .set_body_json(answer);
        if let Some(r) = &s.deprecated_reason {
            t = t.insert_header("X-Shopify-API-Deprecated-Reason", r.as_str());
        }
        t
    }
}

fn shop_answer(s: &mut ShopState, served: &str, query: &str, vars: &Value) -> (u16, Value) {
    let order_id = legacy(vars["id"].as_str().unwrap_or_default());
    if query.contains("DropshipRefundCreate") || query.contains("refundCreate") {
        return shop_refund(s, served, query, vars);
    }
    if query.contains("orderClose") {
        let id = legacy(vars["input"]["id"].as_str().unwrap_or_default());
        return match s.orders.get_mut(&id) {
            Some(o) => {
                o.closed = true;
                (
                    200,
                    json!({"data": {"orderClose": {"order": {"id": vars["input"]["id"], "closed": true}, "userErrors": []}}}),
                )
            }
            None => (
                200,
                json!({"data": {"orderClose": {"order": null, "userErrors": [{"field": ["id"], "message": "Order does not exist"}]}}}),
            ),
        };
    }
    let Some(o) = s.orders.get(&order_id) else {
        return (200, json!({"data": {"order": null}}));
    };
    if query.contains("suggestedRefund") {
        let amount: Decimal = vars["refundLineItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let id = legacy(r["lineItemId"].as_str().unwrap_or_default());
                let q = r["quantity"].as_u64().unwrap_or(0);
                o.lines
                    .iter()
                    .find(|l| l.id == id)
                    .map_or(Decimal::ZERO, |l| l.price * Decimal::from(q))
            })
            .sum();
        let m =
            json!({"presentmentMoney": {"amount": money(amount, 2), "currencyCode": o.currency}});
        return (
            200,
            json!({"data": {"order": {"suggestedRefund": {"amountSet": m, "suggestedTransactions": [
                {"gateway": "bogus", "amountSet": m, "parentTransaction": {"id": "gid://shopify/OrderTransaction/1"}}
            ]}}}}),
        );
    }
    // The order reads (ours: DropshipOrderLines, DropshipRefundState): one
    // page of every line.
    let stale = s.stale_reads.as_ref().and_then(|m| m.get(&order_id));
    let nodes: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            let current = stale
                .and_then(|v| v.iter().find(|(id, _)| *id == l.id).map(|(_, q)| *q))
                .unwrap_or(l.current);
            json!({"id": format!("gid://shopify/LineItem/{}", l.id), "currentQuantity": current})
        })
        .collect();
    (
        200,
        json!({"data": {"order": {
            "id": format!("gid://shopify/Order/{}", o.id),
            "closed": o.closed,
            "presentmentCurrencyCode": o.currency,
            "cancelledAt": o.cancelled_at,
            "cancelReason": o.cancelled_at.as_ref().map(|_| "OTHER"),
            "lineItems": {"nodes": nodes, "pageInfo": {"hasNextPage": false, "endCursor": null}}
        }}}),
    )
}

/// The key of `@idempotent(key: $var)` or `@idempotent(key: "literal")`.
fn idempotency_key(query: &str, vars: &Value) -> Option<String> {
    let at = query.find("@idempotent(")?;
    let rest = &query[at..];
    let arg = rest.split_once("key:")?.1.trim_start();
    if let Some(var) = arg.strip_prefix('$') {
        let name: String = var
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        return vars[name.as_str()].as_str().map(str::to_owned);
    }
    let lit = arg.strip_prefix('"')?;
    Some(lit.split('"').next()?.to_owned())
}

fn shop_refund(s: &mut ShopState, served: &str, query: &str, vars: &Value) -> (u16, Value) {
    let key = idempotency_key(query, vars);
    if key.is_none() && served >= "2026-04" {
        return (
            200,
            gql_error(
                "The @idempotent directive is required for this mutation.",
                "BAD_REQUEST",
            ),
        );
    }
    if key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return (
            200,
            gql_error("The idempotency key cannot be blank.", "BAD_REQUEST"),
        );
    }
    let input = vars["input"].clone();
    if let Some(k) = &key
        && let Some((first, result)) = s.keys.get(k)
    {
        if *first == input {
            return (200, result.clone());
        }
        return (
            200,
            json!({"data": {"refundCreate": {"refund": null, "userErrors": [{
                "field": null, "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                "message": "The same idempotency key cannot be used with different operation parameters."
            }]}}}),
        );
    }
    let order_id = legacy(input["orderId"].as_str().unwrap_or_default());
    let Some(o) = s.orders.get_mut(&order_id) else {
        return (
            200,
            json!({"data": {"refundCreate": {"refund": null, "userErrors": [{"field": ["orderId"], "message": "Order does not exist"}]}}}),
        );
    };
    for r in input["refundLineItems"].as_array().into_iter().flatten() {
        let id = legacy(r["lineItemId"].as_str().unwrap_or_default());
        let q = u32::try_from(r["quantity"].as_u64().unwrap_or(0)).unwrap_or(u32::MAX);
        match o.lines.iter_mut().find(|l| l.id == id) {
            Some(l) if l.current >= q => l.current -= q,
            _ => {
                return (
                    200,
                    json!({"data": {"refundCreate": {"refund": null, "userErrors": [{
                        "field": ["refundLineItems"], "message": "Quantity cannot refund more items than were purchased"
                    }]}}}),
                );
            }
        }
    }
    let refund_id = format!("gid://shopify/Refund/{}", s.refunds.len() + 1);
    s.refunds.push(ShopRefund {
        id: refund_id.clone(),
        order_id,
        input: input.clone(),
        idempotency_key: key.clone(),
    });
    let result = json!({"data": {"refundCreate": {"refund": {"id": refund_id}, "userErrors": []}}});
    if let Some(k) = key {
        s.keys.insert(k, (input, result.clone()));
    }
    if std::mem::take(&mut s.lose_next_refund_answer) {
        return (502, json!({"errors": "Bad Gateway"}));
    }
    (200, result)
}

// ------------------------------------------------------------ WooCommerce

#[derive(Debug, Clone)]
pub struct WooLine {
    pub id: u64,
    pub quantity: u32,
    pub subtotal: Decimal,
    pub total: Decimal,
}

#[derive(Debug, Clone)]
pub struct WooOrder {
    pub id: u64,
    pub status: String,
    pub currency: String,
    /// One tax rate on every line, in percent.
    pub tax_percent: Decimal,
    pub lines: Vec<WooLine>,
}

impl WooOrder {
    fn tax(&self, l: &WooLine) -> Decimal {
        (l.total * self.tax_percent / Decimal::from(100))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    }

    /// The order's total as WooCommerce recalculates it: line totals plus
    /// their taxes.
    pub fn total(&self) -> Decimal {
        self.lines.iter().map(|l| l.total + self.tax(l)).sum()
    }

    fn json(&self) -> Value {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({"id": l.id, "quantity": l.quantity, "subtotal": money(l.subtotal, 2),
                       "total": money(l.total, 2), "total_tax": money(self.tax(l), 2)})
            })
            .collect();
        let tax: Decimal = self.lines.iter().map(|l| self.tax(l)).sum();
        json!({"id": self.id, "status": self.status, "currency": self.currency,
               "total": money(self.total(), 2), "total_tax": money(tax, 2), "line_items": lines})
    }
}

/// WooCommerce's REST API v3 orders, as `WC_REST_Orders_V2_Controller`
/// (woocommerce/woocommerce, plugins/woocommerce/includes/rest-api/
/// Controllers/Version2/class-wc-rest-orders-v2-controller.php) does:
/// - `prepare_line_items` sets `quantity`, `subtotal` and `total` only when
///   posted (`maybe_set_item_props`): a quantity alone leaves the line's
///   amounts as they were;
/// - a line posted with `quantity` 0 (the integer) is removed
///   (`prepare_object_for_database`), and an id not on the order is refused;
/// - `save_object` recalculates the order's totals and taxes from the lines
///   (`calculate_totals( true )`) when `line_items` were posted.
/// - Authentication: Basic auth over HTTPS (`WC_REST_Authentication`); the
///   fake only checks the header, since tests run on loopback.
/// - Order notes (REST API docs v3, "Order notes"): `POST
///   /orders/<id>/notes` `{"note", "customer_note"}` adds a note every time
///   ("Create an order note"; `customer_note` defaults to false, "for admin
///   reference only"); `GET /orders/<id>/notes` lists them ("List all order
///   notes"), `type` `any` (default), `customer` or `internal`.
#[derive(Clone, Default)]
pub struct FakeWooCommerce {
    orders: Arc<Mutex<HashMap<u64, WooOrder>>>,
    notes: Arc<Mutex<WooNotes>>,
}

/// Each order's notes: (note, customer_note).
type WooNotes = HashMap<u64, Vec<(String, bool)>>;

impl FakeWooCommerce {
    /// An order's notes, oldest first: (note, customer_note).
    pub fn notes(&self, id: u64) -> Vec<(String, bool)> {
        lock(&self.notes).get(&id).cloned().unwrap_or_default()
    }

    pub fn add_order(&self, o: WooOrder) {
        lock(&self.orders).insert(o.id, o);
    }

    pub fn order(&self, id: u64) -> Option<WooOrder> {
        lock(&self.orders).get(&id).cloned()
    }

    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(path_regex(r"^/wp-json/wc/v3/orders/[0-9]+(/notes)?$"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }
}

fn woo_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"code": code, "message": message, "data": {"status": status}}))
}

impl Respond for FakeWooCommerce {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let basic = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Basic "));
        if !basic {
            return woo_error(
                401,
                "woocommerce_rest_cannot_view",
                "Sorry, you cannot list resources.",
            );
        }
        let path = req.url.path();
        let notes = path.ends_with("/notes");
        let id: u64 = path
            .trim_end_matches("/notes")
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut orders = lock(&self.orders);
        let Some(o) = orders.get_mut(&id) else {
            return woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.");
        };
        if notes {
            let mut all = lock(&self.notes);
            return woo_notes(o.id, all.entry(o.id).or_default(), req);
        }
        if req.method.as_str() == "GET" {
            return ResponseTemplate::new(200).set_body_json(o.json());
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if let Some(status) = body["status"].as_str() {
            o.status = status.to_owned();
        }
        if let Some(items) = body["line_items"].as_array() {
            for item in items {
                let Some(line_id) = item["id"].as_u64() else {
                    continue;
                };
                let Some(pos) = o.lines.iter().position(|l| l.id == line_id) else {
                    return woo_error(
                        400,
                        "woocommerce_rest_invalid_item_id",
                        "Order item ID provided is not associated with order.",
                    );
                };
                if item["quantity"].as_u64() == Some(0) {
                    o.lines.remove(pos);
                    continue;
                }
                let l = &mut o.lines[pos];
                if let Some(q) = item["quantity"].as_u64() {
                    l.quantity = u32::try_from(q).unwrap_or(u32::MAX);
                }
                if !item["subtotal"].is_null() {
                    l.subtotal = dec(&item["subtotal"]);
                }
                if !item["total"].is_null() {
                    l.total = dec(&item["total"]);
                }
            }
        }
        ResponseTemplate::new(200).set_body_json(o.json())
    }
}

fn woo_note_json(order_id: u64, id: usize, (note, customer): &(String, bool)) -> Value {
    json!({"id": id, "author": "system", "note": note, "customer_note": customer,
           "_links": {"up": [{"href": format!("/wp-json/wc/v3/orders/{order_id}")}]}})
}

fn woo_notes(order_id: u64, notes: &mut Vec<(String, bool)>, req: &Request) -> ResponseTemplate {
    if req.method.as_str() == "POST" {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let Some(note) = body["note"].as_str().filter(|n| !n.is_empty()) else {
            return woo_error(
                400,
                "rest_missing_callback_param",
                "Missing parameter(s): note",
            );
        };
        let customer = body["customer_note"].as_bool().unwrap_or(false);
        let added = (note.to_owned(), customer);
        let json = woo_note_json(order_id, notes.len() + 1, &added);
        notes.push(added);
        return ResponseTemplate::new(201).set_body_json(json);
    }
    let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
    let kind = q.get("type").map(String::as_str).unwrap_or("any");
    let list: Vec<Value> = notes
        .iter()
        .enumerate()
        .filter(|(_, (_, customer))| match kind {
            "customer" => *customer,
            "internal" => !*customer,
            _ => true,
        })
        .map(|(i, n)| woo_note_json(order_id, i + 1, n))
        .collect();
    ResponseTemplate::new(200).set_body_json(list)
}

// ------------------------------------------------------------ BigCommerce

#[derive(Debug, Clone)]
pub struct BcProduct {
    pub id: u64,
    pub quantity: u32,
    pub quantity_refunded: u32,
    /// The catalog price the line was sold from (ex tax).
    pub base_price_ex: Decimal,
    pub price_ex: Decimal,
    pub price_inc: Decimal,
    /// Applied discounts (amounts off the line's total inc tax).
    pub discounts: Vec<Decimal>,
}

impl BcProduct {
    /// What the line costs: its price times quantity, less its discounts
    /// (`discounted_total_inc_tax`).
    pub fn paid_inc_tax(&self) -> Decimal {
        self.price_inc * Decimal::from(self.quantity) - self.discounts.iter().sum::<Decimal>()
    }
}

#[derive(Debug, Clone)]
pub struct BcOrder {
    pub id: u64,
    pub status_id: u32,
    pub products: Vec<BcProduct>,
}

impl BcOrder {
    pub fn total_inc_tax(&self) -> Decimal {
        self.products.iter().map(BcProduct::paid_inc_tax).sum()
    }
}

/// BigCommerce's V2 orders API (bigcommerce/docs, reference/orders.v2.oas2.yml):
/// - `PUT /v2/orders/{id}` with `products`: "To update a product in an
///   order, include `id` in the body ... Those fields that are omitted will
///   not be changed"; "To remove a product from an order, set that
///   product's `quantity` to `0`"; "the PUT request clears all discounts and
///   promotions applied to the changed order line items" (updateOrder).
/// - `GET /v2/orders/{id}/products?limit&page`: pages of products with
///   `applied_discounts` and `discounted_total_inc_tax`; an empty page is
///   204 with no body.
/// - `staff_notes` (order_Shared: "Any additional notes for staff",
///   `maxLength` 65535) is returned by `GET /v2/orders/{id}` and replaced
///   by a `PUT` that sends it; a longer value is refused.
/// - Webhook payloads (docs/integrations/webhooks/events): `hash` is "the
///   SHA-1 hash of the JSON-encoded payload data", so every delivery for one
///   order carries the same hash.
#[derive(Clone, Default)]
pub struct FakeBigCommerce {
    orders: Arc<Mutex<HashMap<u64, BcOrder>>>,
    staff_notes: Arc<Mutex<HashMap<u64, String>>>,
}

impl FakeBigCommerce {
    /// An order's `staff_notes`.
    pub fn staff_notes(&self, id: u64) -> String {
        lock(&self.staff_notes)
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    /// Set an order's `staff_notes`, as a merchant would.
    pub fn set_staff_notes(&self, id: u64, notes: &str) {
        lock(&self.staff_notes).insert(id, notes.to_owned());
    }

    pub fn add_order(&self, o: BcOrder) {
        lock(&self.orders).insert(o.id, o);
    }

    pub fn order(&self, id: u64) -> Option<BcOrder> {
        lock(&self.orders).get(&id).cloned()
    }

    /// Change an order as a merchant would in the control panel.
    pub fn edit(&self, id: u64, f: impl FnOnce(&mut BcOrder)) {
        if let Some(o) = lock(&self.orders).get_mut(&id) {
            f(o);
        }
    }

    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(path_regex(r"^/stores/[^/]+/v2/orders/[0-9]+(/products)?$"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }

    /// A webhook delivery of `scope` for order `id`, as BigCommerce sends
    /// it (docs/integrations/webhooks/events): `hash` is "the SHA-1 hash of
    /// the JSON-encoded payload data", here over `data` as the docs print it
    /// (`{"type":"order","id":N}`). The docs' own example hashes cannot be
    /// reproduced from their `data`, so only what the definition implies is
    /// relied on: one order's deliveries carry one hash.
    pub fn delivery(scope: &str, store_hash: &str, id: u64, created_at: i64) -> Vec<u8> {
        use sha1::{Digest, Sha1};
        let data = format!(r#"{{"type":"order","id":{id}}}"#);
        let hash: String = Sha1::digest(data.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        json!({"scope": scope, "store_id": "1001234567", "data": {"type": "order", "id": id}, "hash": hash,
               "created_at": created_at, "producer": format!("stores/{store_hash}")})
        .to_string()
        .into_bytes()
    }
}

fn bc_product_json(order_id: u64, p: &BcProduct) -> Value {
    let discounts: Vec<Value> = p
        .discounts
        .iter()
        .map(|d| json!({"id": "manual-discount", "amount": money(*d, 4), "name": "Manual Discount", "code": null, "target": "order"}))
        .collect();
    json!({"id": p.id, "order_id": order_id, "quantity": p.quantity,
           "quantity_refunded": p.quantity_refunded, "quantity_shipped": 0,
           "base_price": money(p.base_price_ex, 4),
           "price_ex_tax": money(p.price_ex, 4), "price_inc_tax": money(p.price_inc, 4),
           "total_inc_tax": money(p.price_inc * Decimal::from(p.quantity), 4),
           "applied_discounts": discounts,
           "discounted_total_inc_tax": money(p.paid_inc_tax(), 4)})
}

impl Respond for FakeBigCommerce {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.headers.get("x-auth-token").is_none() {
            return ResponseTemplate::new(401).set_body_json(
                json!([{"status": 401, "message": "You have not provided authentication."}]),
            );
        }
        let path = req.url.path();
        let products = path.ends_with("/products");
        let id: u64 = path
            .split('/')
            .nth(5)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut orders = lock(&self.orders);
        let Some(o) = orders.get_mut(&id) else {
            return ResponseTemplate::new(404).set_body_json(
                json!([{"status": 404, "message": "The requested resource was not found."}]),
            );
        };
        match (req.method.as_str(), products) {
            ("GET", true) => {
                let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
                let limit: usize = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(50);
                let page: usize = q.get("page").and_then(|s| s.parse().ok()).unwrap_or(1);
                let start = limit.saturating_mul(page.saturating_sub(1));
                let items: Vec<Value> = o
                    .products
                    .iter()
                    .skip(start)
                    .take(limit)
                    .map(|p| bc_product_json(o.id, p))
                    .collect();
                if items.is_empty() {
                    ResponseTemplate::new(204)
                } else {
                    ResponseTemplate::new(200).set_body_json(items)
                }
            }
            ("GET", false) => ResponseTemplate::new(200).set_body_json(json!({
                "id": o.id, "status_id": o.status_id, "staff_notes": self.staff_notes(o.id),
                "total_inc_tax": money(o.total_inc_tax(), 4)})),
            ("PUT", false) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                if let Some(notes) = body["staff_notes"].as_str() {
                    if notes.chars().count() > 65_535 {
                        return ResponseTemplate::new(400).set_body_json(
                            json!([{"status": 400, "message": "The field 'staff_notes' is too long."}]),
                        );
                    }
                    self.set_staff_notes(o.id, notes);
                }
                if let Some(s) = body["status_id"].as_u64() {
                    o.status_id = u32::try_from(s).unwrap_or(0);
                }
                for item in body["products"].as_array().into_iter().flatten() {
                    let Some(pid) = item["id"].as_u64() else {
                        continue;
                    };
                    let Some(pos) = o.products.iter().position(|p| p.id == pid) else {
                        return ResponseTemplate::new(400).set_body_json(
                            json!([{"status": 400, "message": "Order product not found."}]),
                        );
                    };
                    if item["quantity"].as_u64() == Some(0) {
                        o.products.remove(pos);
                        continue;
                    }
                    let p = &mut o.products[pos];
                    if let Some(q) = item["quantity"].as_u64() {
                        p.quantity = u32::try_from(q).unwrap_or(u32::MAX);
                    }
                    // The changed line loses its discounts and promotions;
                    // omitted fields are not changed.
                    p.discounts.clear();
                    if !item["price_ex_tax"].is_null() {
                        p.price_ex = dec(&item["price_ex_tax"]);
                    }
                    if !item["price_inc_tax"].is_null() {
                        p.price_inc = dec(&item["price_inc_tax"]);
                    }
                }
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": o.id, "status_id": o.status_id}))
            }
            _ => ResponseTemplate::new(405),
        }
    }
}
