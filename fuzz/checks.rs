//! The fuzzing oracles, one per target: each takes raw bytes and panics on a
//! failure. Shared by the libFuzzer targets (`fuzz/fuzz_targets/`, long runs
//! with `cargo fuzz`) and the stable short run in the test suite
//! (`tests/tests/fuzz.rs`), which includes this file with `#[path]`.
#![allow(dead_code)]

use edi::{GroupAck, GroupStatus, IsaId, LineAction, SetStatus};
use lambda_http::Body;
use lambda_http::request::LambdaRequest;
use local::seed::{self, SeedFile};
use platforms::{Inbound, OrderState, Platform, bigcommerce, shopify, woocommerce};
use serde_json::{Value, json};
use service::app::App;
use sqlite::EmbeddedStore;

pub const DEMO_SEED: &str = include_str!("../events/demo-seed.json");

pub const SHOPIFY_TOPICS: &[&str] = &[
    "orders/cancelled",
    "orders/updated",
    "orders/edited",
    "refunds/create",
    "orders/create",
];

fn inbound_is_sane(i: &Inbound) {
    match i {
        Inbound::Order(o) => assert!(!o.reason().trim().is_empty(), "an order without a reason"),
        Inbound::Fetch { change, .. } => {
            let open = OrderState::Open(Platform::Shopify, change.clone());
            assert!(!open.reason().trim().is_empty(), "a fetch without a reason")
        }
        Inbound::Ignore(why) => assert!(!why.is_empty()),
    }
}

/// Shopify: the first byte picks the topic, the rest is the body. Parsing
/// never panics, is deterministic, and what it accepts is sane.
pub fn shopify_parse(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let topic = SHOPIFY_TOPICS[usize::from(pick) % SHOPIFY_TOPICS.len()];
    let first = shopify::parse(topic, body);
    let again = shopify::parse(topic, body);
    assert_eq!(first.is_ok(), again.is_ok(), "parse is deterministic");
    if let (Ok(a), Ok(b)) = (&first, &again) {
        assert_eq!(a, b, "parse is deterministic");
        inbound_is_sane(a);
        // The topic is not signed: it never changes what an order body decides.
        if topic == "orders/cancelled" {
            assert_eq!(
                Some(a),
                shopify::parse("orders/updated", body).ok().as_ref(),
                "the topic decided"
            );
        }
    }
}

/// WooCommerce: `order.updated` bodies (and the ping check) never panic.
pub fn woocommerce_parse(data: &[u8]) {
    let _ = woocommerce::is_ping(data);
    let topic = if data.first().is_some_and(|b| b % 8 == 0) {
        "order.created"
    } else {
        "order.updated"
    };
    if let Ok(i) = woocommerce::parse(topic, data) {
        inbound_is_sane(&i);
        if let Inbound::Order(o) = &i {
            assert!(
                o.complete_line_list,
                "an order.updated body is the whole order"
            );
        }
    }
}

/// BigCommerce: delivery bodies never panic; every accepted one is sane.
pub fn bigcommerce_parse(data: &[u8]) {
    if let Ok(i) = bigcommerce::parse(data) {
        inbound_is_sane(&i);
    }
}

/// The requests `api_body` can make: (method, path, key, query).
pub const API_ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/v1/orders", "demo-buyer-api-key"),
    (
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        "demo-buyer-api-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        "demo-seller-api-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_api/cancellations?preview=true",
        "demo-seller-api-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_edi/cancellations",
        "demo-seller-edi-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_api/fulfillments",
        "demo-seller-api-key",
    ),
    (
        "POST",
        "/v1/orders/ord_demo_api/cancellations",
        "demo-buyer-edi-key",
    ),
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// An API Gateway v2 event as the Lambda runtime hands it over.
pub fn api_event(
    method: &str,
    path_and_query: &str,
    key: &str,
    body: &[u8],
    idem: Option<&str>,
) -> lambda_http::Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut headers = json!({"host": "api.example.com", "authorization": format!("Bearer {key}"),
                             "content-type": "application/json"});
    if let Some(k) = idem {
        headers["idempotency-key"] = k.into();
    }
    // Bodies that are not UTF-8 arrive base64-encoded, as API Gateway sends them.
    let (body, b64) = match std::str::from_utf8(body) {
        Ok(s) => (Value::from(s), false),
        Err(_) => {
            use base64::Engine;
            (
                base64::engine::general_purpose::STANDARD
                    .encode(body)
                    .into(),
                true,
            )
        }
    };
    let e = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers, "body": body, "isBase64Encoded": b64,
        "requestContext": {
            "accountId": "123456789012", "apiId": "fuzz", "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "fuzz"},
            "requestId": "fuzz", "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:04:00:00 +0000", "timeEpoch": 0
        }
    });
    let lr: LambdaRequest = serde_json::from_value(e).expect("a valid API Gateway v2 event");
    lr.into()
}

/// A fresh demo-seeded app on an in-memory store (deterministic per input).
pub fn demo_app() -> App<EmbeddedStore> {
    runtime().block_on(async {
        let store = EmbeddedStore::in_memory().expect("an in-memory store");
        seed::apply(&store, &SeedFile::parse(DEMO_SEED).expect("the demo seed"))
            .await
            .expect("seeded");
        App::new(store).with_platform_reader(platforms::client::HttpPlatformReader::default())
    })
}

/// The API: the first byte picks the route and caller (and whether an
/// Idempotency-Key is sent), the rest is the body. Through `api::handle` on
/// a fresh in-memory store: never a panic, never a 5xx, every error a
/// problem+json document with its code, every success JSON.
pub fn api_body(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path, key) = API_ROUTES[usize::from(pick) % API_ROUTES.len()];
    let idem = (pick & 0x80 != 0).then_some("fuzz-idempotency-key");
    let app = demo_app();
    let r = runtime().block_on(handlers::api::handle(
        &app,
        api_event(method, path, key, body, idem),
    ));
    let status = r.status().as_u16();
    let text = match r.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    assert!(status < 500, "{method} {path}: {status} {text}");
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
    if status >= 400 {
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert_eq!(ct, Some("application/problem+json"), "{status} {text}");
        assert!(doc["code"].is_string(), "problem without a code: {text}");
        assert_eq!(doc["status"], status, "{text}");
    }
}

/// The 997 `ack` as it reads back from what we write: every id sanitized,
/// AK404 cut to 99 characters.
fn as_written(ack: &GroupAck) -> GroupAck {
    let mut a = ack.clone();
    a.functional_id = edi::sanitize(&a.functional_id);
    a.control_number = edi::sanitize(&a.control_number);
    for s in &mut a.sets {
        s.set_id = edi::sanitize(&s.set_id);
        s.control_number = edi::sanitize(&s.control_number);
        for n in &mut s.notes {
            n.segment = edi::sanitize(&n.segment);
            for e in &mut n.elements {
                e.value = e
                    .value
                    .as_deref()
                    .map(|v| edi::sanitize(&edi::sanitize(v).chars().take(99).collect::<String>()))
                    .filter(|v| !v.is_empty());
            }
        }
    }
    a
}

fn ack_is_consistent(ack: &GroupAck, sets: usize, rejected_whole: bool) {
    assert_eq!(ack.received as usize, sets, "AK903 counts the sets");
    assert!(ack.accepted <= ack.received);
    if ack.sets.is_empty() {
        assert_eq!(ack.accepted, 0, "{ack:?}");
    } else {
        assert_eq!(ack.sets.len(), sets, "one AK2 per set");
        let accepted = ack
            .sets
            .iter()
            .filter(|s| s.status == SetStatus::Accepted)
            .count();
        assert_eq!(
            accepted, ack.accepted as usize,
            "AK904 counts the accepted AK5s"
        );
    }
    for s in &ack.sets {
        assert_eq!(
            s.status == SetStatus::Accepted,
            s.errors.is_empty(),
            "{s:?}"
        );
        assert!(s.errors.len() <= 5 && (s.notes.is_empty() || !s.errors.is_empty()));
    }
    let expected =
        if rejected_whole || !ack.errors.is_empty() || (ack.accepted == 0 && ack.received > 0) {
            GroupStatus::Rejected
        } else if ack.accepted == ack.received {
            GroupStatus::Accepted
        } else {
            GroupStatus::Partial
        };
    assert_eq!(ack.status, expected, "{ack:?}");
}

fn edi_time() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 15)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .expect("a date")
}

/// EDI: an interchange from a partner. Parsing never panics and is
/// deterministic; what it accepts is consistent (sets start at ST, positions
/// count from 1, the acknowledgment's counts agree with its sets, nothing is
/// accepted from another sender); the 997 for it is written, parses and
/// reads back as sent; and each change document, written out again as an
/// 860 or 865, reads back the same, sanitized.
pub fn edi_parse(data: &[u8]) {
    let first = edi::parse_interchange(data);
    assert_eq!(
        first,
        edi::parse_interchange(data),
        "parse is deterministic"
    );
    let Ok(ic) = first else {
        return;
    };
    for s in ic.groups.iter().flat_map(|g| &g.sets) {
        assert_eq!(s.segments[0].id, "ST");
        for (i, seg) in s.segments.iter().enumerate() {
            assert_eq!(seg.position as usize, i + 1, "positions count from ST");
            let envelope = matches!(seg.id.as_str(), "ISA" | "GS" | "ST" | "GE" | "IEA");
            assert!(i == 0 || !envelope, "{} inside a set", seg.id);
            assert!(
                seg.id != "SE" || i + 1 == s.segments.len(),
                "SE ends its set"
            );
        }
    }

    let partner = ic.header.sender.clone();
    let stranger = IsaId::new("ZZ", "NOTTHEPARTNER").expect("an id");
    if partner != stranger {
        let other = edi::validate(&ic, &stranger, edi::PocReading::default());
        assert!(other.ack.error.is_some() && other.changes.is_empty());
        assert!(
            other
                .ack
                .groups
                .iter()
                .all(|g| g.status == GroupStatus::Rejected && g.accepted == 0)
        );
    }
    let v = edi::validate(&ic, &partner, edi::PocReading::default());
    assert_eq!(v.ack.groups.len(), ic.groups.len());
    for (g, ack) in ic.groups.iter().zip(&v.ack.groups) {
        ack_is_consistent(ack, g.sets.len(), v.ack.error.is_some());
    }
    let accepted_changes: u32 = v
        .ack
        .groups
        .iter()
        .filter(|g| g.functional_id != "FA")
        .map(|g| g.accepted)
        .sum();
    if v.ack.error.is_none() {
        assert_eq!(v.changes.len() as u32, accepted_changes);
    } else {
        assert!(v.changes.is_empty());
    }
    for doc in &v.changes {
        assert!(!doc.po_number.is_empty());
        assert!(!doc.default_reason().is_empty());
        assert!(doc.reason.as_deref().is_none_or(|r| !r.is_empty()));
        for (l, next) in doc.lines.iter().zip(doc.lines.iter().skip(1)) {
            assert!(l.position < next.position, "lines in document order");
        }
        assert!(
            doc.lines
                .iter()
                .all(|l| !l.line_id.is_empty() && !doc.line_reason(l).is_empty())
        );
    }

    // Our 997 for it.
    let acme = IsaId::new("ZZ", "ACMEEDI").expect("an id");
    let env = edi::Envelope::new(IsaId::dropship(), acme.clone(), 7, edi_time());
    let answered: Vec<&GroupAck> = v.ack.to_answer().collect();
    match edi::write_997(&env, &v.ack).expect("a 997 can always be written") {
        None => assert!(answered.is_empty()),
        Some(bytes) => {
            let back = match edi::parse_interchange(&bytes) {
                Ok(back) => back,
                // Only an input near the limits answers with more than them.
                Err(
                    edi::EnvelopeError::TooManySegments { .. }
                    | edi::EnvelopeError::TooLarge { .. },
                ) => return,
                Err(e) => panic!("our 997 does not parse: {e}"),
            };
            let checked = edi::validate(&back, &IsaId::dropship(), edi::PocReading::default());
            assert_eq!(checked.ack.error, None);
            assert!(
                checked
                    .ack
                    .groups
                    .iter()
                    .all(|g| g.status == GroupStatus::Accepted),
                "{:?}",
                checked.ack
            );
            let sent: Vec<GroupAck> = answered.into_iter().map(as_written).collect();
            assert_eq!(checked.acknowledgments, sent, "the 997 reads back as sent");
        }
    }

    // Each change, echoed out as an 860/865.
    for doc in &v.changes {
        let lines: Vec<edi::OutboundLine> = doc
            .lines
            .iter()
            .filter_map(|l| {
                let (quantity, cancelled) = match l.action {
                    LineAction::CancelOpen => (1, 1),
                    LineAction::SetTotal(n) => (n, 0),
                    LineAction::Reject(_) | LineAction::NoChange | LineAction::Unusable(_) => {
                        return None;
                    }
                };
                Some(edi::OutboundLine {
                    line_id: l.line_id.clone(),
                    quantity,
                    cancelled,
                    units: cancelled,
                    open: 0,
                    product_ids: l.product_ids.clone(),
                })
            })
            .collect();
        let scope = if doc.whole_order {
            edi::OutboundScope::WholeOrder
        } else if lines.is_empty() {
            continue;
        } else {
            edi::OutboundScope::Lines(lines.clone())
        };
        let change = edi::OutboundChange {
            po_number: doc.po_number.clone(),
            po_date: edi_time().date(),
            scope,
            reason: doc.reason.clone().unwrap_or_default(),
            reading: edi::PocReading::default(),
        };
        let bytes = match edi::write_860(&env, &change) {
            Ok(bytes) => bytes,
            Err(edi::WriteError::Empty { .. }) => {
                assert!(
                    edi::sanitize(&doc.po_number).is_empty()
                        || lines.iter().any(|l| edi::sanitize(&l.line_id).is_empty())
                );
                continue;
            }
            Err(e) => panic!("cannot echo {doc:?}: {e}"),
        };
        let back = edi::parse_interchange(&bytes).expect("our 860 parses");
        let read = edi::validate(&back, &IsaId::dropship(), edi::PocReading::default());
        assert_eq!(read.changes.len(), 1, "{:?}", read.ack);
        let echo = &read.changes[0];
        assert_eq!(echo.po_number, edi::sanitize(&doc.po_number));
        assert_eq!(echo.whole_order, doc.whole_order);
        let reason = edi::sanitize(doc.reason.as_deref().unwrap_or_default());
        let echoed = echo.reason.clone().unwrap_or_default();
        assert!(reason.starts_with(&echoed) && (echoed.is_empty() == reason.is_empty()));
        if reason.chars().count() <= edi::MSG_MAX_CHARS {
            assert_eq!(echoed, reason);
        }
        if !doc.whole_order {
            let ids: Vec<String> = lines.iter().map(|l| edi::sanitize(&l.line_id)).collect();
            let echoed: Vec<String> = echo.lines.iter().map(|l| l.line_id.clone()).collect();
            assert_eq!(echoed, ids);
            let actions: Vec<LineAction> = lines
                .iter()
                .map(|l| match l.quantity - l.cancelled {
                    0 => LineAction::CancelOpen,
                    n => LineAction::SetTotal(n),
                })
                .collect();
            let echoed: Vec<LineAction> = echo.lines.iter().map(|l| l.action).collect();
            assert_eq!(echoed, actions);
        }
    }
}
