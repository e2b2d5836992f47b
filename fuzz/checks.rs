//! The fuzzing oracles, one per target: each takes raw bytes and panics on a
//! failure. Shared by the libFuzzer targets (`fuzz/fuzz_targets/`, long runs
//! with `cargo fuzz`) and the stable short run in the test suite
//! (`tests/tests/e2e/fuzz.rs`), which includes this file with `#[path]`.
#![allow(dead_code)]

use edi::{
    ChangeDocument, GroupAck, GroupStatus, Interchange, IsaId, LineAction, PocReading, SetKind,
    SetStatus, Validation,
};
use lambda_http::Body;
use lambda_http::request::LambdaRequest;
use local::seed::{self, SeedFile};
use platforms::{Inbound, OrderState, Platform, bigcommerce, shopify, woocommerce};
use serde_json::{Value, json};
use service::app::OrdersService;
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

/// The API's services on a fresh demo-seeded in-memory store
/// (deterministic per input).
pub fn demo_app() -> handlers::api::Api<EmbeddedStore> {
    runtime().block_on(async {
        let store = EmbeddedStore::in_memory().expect("an in-memory store");
        seed::apply(&store, &SeedFile::parse(DEMO_SEED).expect("the demo seed"))
            .await
            .expect("seeded");
        let key = std::sync::Arc::from(&[7u8; 32][..]);
        let policy = domain::events::UrlPolicy::default();
        let (ports, _) =
            local::events::ports(&store, key, policy).expect("the local webhook ports");
        handlers::api::Api::new(OrdersService::new(store), ports)
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

/// A value as the writer cleans it for a partner whose delimiters are
/// `extra` (besides ours): delimiters become spaces, then [`edi::sanitize`].
fn clean(value: &str, extra: &[u8]) -> String {
    let spaced: String = value
        .chars()
        .map(|c| match u8::try_from(c) {
            Ok(b) if extra.contains(&b) => ' ',
            _ => c,
        })
        .collect();
    edi::sanitize(&spaced)
}

/// The 997 `ack` as it reads back from what we write with the delimiters
/// `extra`: every id cleaned, AK404 cut to 99 characters.
fn as_written(ack: &GroupAck, extra: &[u8]) -> GroupAck {
    let mut a = ack.clone();
    a.functional_id = clean(&a.functional_id, extra);
    a.control_number = clean(&a.control_number, extra);
    for s in &mut a.sets {
        s.set_id = clean(&s.set_id, extra);
        s.control_number = clean(&s.control_number, extra);
        for n in &mut s.notes {
            n.segment = clean(&n.segment, extra);
            for e in &mut n.elements {
                e.value = e
                    .value
                    .as_deref()
                    .map(|v| clean(&clean(v, extra).chars().take(99).collect::<String>(), extra))
                    .filter(|v| !v.is_empty());
            }
        }
    }
    a
}

/// Syntaxes partners configure for what we write, one picked per input:
/// ours, and others whose delimiters the input may hold as data.
fn partner_syntax(data: &[u8]) -> edi::Syntax {
    let pick = data
        .iter()
        .fold(0usize, |n, &b| n.wrapping_add(usize::from(b)));
    let (element, component, segment, repetition, version, line_breaks) = [
        (b'*', b'>', b'~', b'^', "00401", true),
        (b'|', b':', b'\n', b'^', "00501", false),
        (b'!', b'@', b'\'', b'{', "00403", true),
        (b'^', b'\\', b'|', b'}', "00401", false),
    ][pick % 4];
    edi::Syntax {
        delimiters: edi::Delimiters {
            element,
            repetition: Some(repetition),
            component,
            segment,
        },
        isa_version: version.to_owned(),
        line_breaks,
    }
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
    let ic = match first {
        Ok(ic) => ic,
        Err(e) => return refused(data, &e),
    };
    assert_eq!(
        edi::read_isa(data).as_ref(),
        Ok(&ic.header),
        "read_isa reads the ISA"
    );
    for seg in ic
        .groups
        .iter()
        .flat_map(|g| &g.sets)
        .flat_map(|s| &s.segments)
    {
        let _ = edi::ack::read_ta1(seg);
    }
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

    // Our answers to it: the 997 in our syntax and in a partner's, the 824
    // refusing every document read, the TA1 when it is refused whole.
    let acme = IsaId::new("ZZ", "ACMEEDI").expect("an id");
    let env = edi::Envelope::new(IsaId::dropship(), acme.clone(), 7, edi_time());
    let theirs = env.clone().with_syntax(partner_syntax(data));
    for env in [&env, &theirs] {
        answer_997(env, &v);
        answer_824(env, &ic, &v);
        if let Some(e) = &v.ack.error {
            answer_ta1(env, &ic.header, e.ta1_note());
        }
    }
    sets_read_alike(&ic, &v);
    readings_agree(&ic, &partner, &v);

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

/// True when `e` is only an input near the limits answered with more than
/// them.
fn over_limits(e: &edi::EnvelopeError) -> bool {
    matches!(
        e,
        edi::EnvelopeError::TooManySegments { .. } | edi::EnvelopeError::TooLarge { .. }
    )
}

/// An interchange refused before it is read: a TA1 answers it when its ISA
/// can be read, and reads back as sent.
fn refused(data: &[u8], e: &edi::EnvelopeError) {
    let header = edi::read_isa(data);
    let Some(note) = e.ta1_note() else {
        return;
    };
    // Only an interchange too large to read may have an ISA it cannot read.
    let header = match header {
        Ok(h) => h,
        Err(_) if matches!(e, edi::EnvelopeError::TooLarge { .. }) => return,
        Err(h) => panic!("{e} was read past an ISA that does not read: {h}"),
    };
    // To the partner as configured (the service answers only its own ISA).
    let acme = IsaId::new("ZZ", "ACMEEDI").expect("an id");
    let env = edi::Envelope::new(IsaId::dropship(), acme, 7, edi_time());
    answer_ta1(&env, &header, note);
    let theirs = env.clone().with_syntax(partner_syntax(data));
    answer_ta1(&theirs, &header, note);
}

/// Our TA1 refusing the interchange `header` names parses and reads back.
fn answer_ta1(env: &edi::Envelope, header: &edi::IsaHeader, note: edi::InterchangeNote) {
    let ta1 = edi::Ta1 {
        control_number: header.control_number,
        date: header.date,
        time: header.time,
        note,
    };
    let bytes = edi::write_ta1(env, &ta1).expect("a TA1 can always be written");
    let back = edi::parse_interchange(&bytes).expect("our TA1 parses");
    let read = edi::validate(&back, &env.sender, PocReading::default());
    assert_eq!(read.ack.error, None);
    assert!(read.ack.groups.is_empty() && read.changes.is_empty());
    let want = edi::ack::ReceivedTa1 {
        control_number: header.control_number,
        accepted: false,
        note: note.code().to_owned(),
    };
    assert_eq!(read.ta1s, [want], "the TA1 reads back as sent");
}

/// The delimiters `env` writes with, besides ours.
fn delimiters_of(env: &edi::Envelope) -> Vec<u8> {
    let d = env.syntax.delimiters;
    [d.element, d.component, d.segment]
        .into_iter()
        .chain(d.repetition)
        .collect()
}

/// Our 997 for `v` parses, is accepted, and reads back as sent.
fn answer_997(env: &edi::Envelope, v: &Validation) {
    let answered: Vec<&GroupAck> = v.ack.to_answer().collect();
    let Some(bytes) = edi::write_997(env, &v.ack).expect("a 997 can always be written") else {
        assert!(answered.is_empty());
        return;
    };
    let back = match edi::parse_interchange(&bytes) {
        Ok(back) => back,
        Err(e) if over_limits(&e) => return,
        Err(e) => panic!("our 997 does not parse: {e}"),
    };
    assert_eq!(back.delimiters.element, env.syntax.delimiters.element);
    let checked = edi::validate(&back, &env.sender, PocReading::default());
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
    let extra = delimiters_of(env);
    let sent: Vec<GroupAck> = answered
        .into_iter()
        .map(|a| as_written(a, &extra))
        .collect();
    assert_eq!(checked.acknowledgments, sent, "the 997 reads back as sent");
}

/// An 824 refusing every document of `v` (one TED for the PO and one per
/// line) parses, its envelope and counts agree, and each OTI names its set.
fn answer_824(env: &edi::Envelope, ic: &Interchange, v: &Validation) {
    let refusals: Vec<edi::SetRefusal> = v
        .changes
        .iter()
        .map(|d| {
            let mut errors = vec![edi::ApplicationError {
                condition: edi::ErrorCondition::PoInvalid,
                message: d.default_reason(),
                segment: None,
            }];
            let segment = if d.set == SetKind::PoAck855 {
                "PO1"
            } else {
                "POC"
            };
            errors.extend(d.lines.iter().map(|l| edi::ApplicationError {
                condition: edi::ErrorCondition::InvalidId,
                message: d.line_reason(l),
                segment: Some((segment.to_owned(), l.segment_position)),
            }));
            edi::SetRefusal {
                po_number: d.po_number.clone(),
                group_control_number: d.group_control_number.clone(),
                set_control_number: d.control_number.clone(),
                set: d.set,
                errors,
            }
        })
        .collect();
    let advice = edi::ApplicationAdvice {
        reference: format!("{:09}", ic.header.control_number),
        refusals,
    };
    let bytes = match edi::write_824(env, &advice) {
        Ok(bytes) => bytes,
        Err(edi::WriteError::NoRefusals) => return assert!(advice.refusals.is_empty()),
        Err(e) => panic!("cannot write the 824: {e}"),
    };
    let back = match edi::parse_interchange(&bytes) {
        Ok(back) => back,
        Err(e) if over_limits(&e) => return,
        Err(e) => panic!("our 824 does not parse: {e}"),
    };
    let read = edi::validate(&back, &env.sender, PocReading::default());
    assert_eq!(read.ack.error, None);
    // 824s are only written, so their group is not supported, but nothing
    // else in it is wrong.
    let [group] = read.ack.groups.as_slice() else {
        panic!("one group: {:?}", read.ack);
    };
    assert_eq!(group.functional_id, "AG");
    assert_eq!(group.errors, [edi::GroupErrorCode::NotSupported]);
    let [set] = back.groups[0].sets.as_slice() else {
        panic!("one 824");
    };
    let se = set.trailer().expect("SE");
    assert_eq!(se.element(1), set.segments.len().to_string());
    assert_eq!(se.element(2), set.control_number());
    let extra = delimiters_of(env);
    let otis: Vec<&edi::Segment> = set.body().iter().filter(|s| s.id == "OTI").collect();
    assert_eq!(otis.len(), advice.refusals.len());
    let teds = set.body().iter().filter(|s| s.id == "TED").count();
    let want: usize = advice.refusals.iter().map(|r| r.errors.len()).sum();
    assert_eq!(teds, want);
    for (oti, r) in otis.iter().zip(&advice.refusals) {
        assert!(!oti.element(3).is_empty(), "OTI03 is mandatory: {oti:?}");
        let po: String = clean(&r.po_number, &extra).chars().take(30).collect();
        if !po.is_empty() {
            assert_eq!((oti.element(2), oti.element(3)), ("PO", po.trim()));
        }
        assert_eq!(oti.element(8), clean(&r.group_control_number, &extra));
        assert_eq!(oti.element(9), clean(&r.set_control_number, &extra));
        assert_eq!(oti.element(10), r.set.id());
    }
}

/// Each set read on its own, in both readings: never a panic, the same
/// each time; a set that is not an 860, 855 or 865 is an error; and each
/// accepted set reads as the document the validation gave.
fn sets_read_alike(ic: &Interchange, v: &Validation) {
    let mut docs = v.changes.iter();
    for (g, ack) in ic.groups.iter().zip(&v.ack.groups) {
        for (i, set) in g.sets.iter().enumerate() {
            let _ = edi::read_997(set);
            let change_set = matches!(
                SetKind::from_id(set.id()),
                Some(SetKind::PoChange860 | SetKind::PoAck855 | SetKind::SellerChange865)
            );
            for reading in [PocReading::BeforeAfter, PocReading::NewTotal] {
                let read = edi::read_change(set, reading);
                assert_eq!(
                    read,
                    edi::read_change(set, reading),
                    "read_change is deterministic"
                );
                assert!(change_set || read.is_err(), "{} read as a change", set.id());
                if let Ok(doc) = &read {
                    poc_quantities(set, doc, reading);
                }
            }
            let accepted = ack
                .sets
                .get(i)
                .is_some_and(|s| s.status == SetStatus::Accepted);
            if accepted && v.ack.error.is_none() && g.functional_id() != "FA" {
                let mut doc =
                    edi::read_change(set, PocReading::default()).expect("an accepted set reads");
                doc.group_control_number = g.control_number().to_owned();
                doc.group_receiver = g.receiver_code().to_owned();
                assert_eq!(Some(&doc), docs.next(), "the validation read it so");
            }
        }
    }
    assert_eq!(docs.next(), None, "every document is an accepted set's");
}

/// A POC quantity line's new total is POC04 (X12's reading) or POC03 (a
/// partner reading POC03 as the new total).
fn poc_quantities(set: &edi::TransactionSet, doc: &ChangeDocument, reading: PocReading) {
    for l in &doc.lines {
        let seg = usize::try_from(l.segment_position)
            .ok()
            .and_then(|p| p.checked_sub(1))
            .and_then(|i| set.segments.get(i))
            .expect("a line names its segment");
        assert!(matches!(seg.id.as_str(), "POC" | "PO1"), "{seg:?}");
        if let (LineAction::SetTotal(n), "POC") = (l.action, seg.id.as_str()) {
            let at = match reading {
                PocReading::BeforeAfter => 4,
                PocReading::NewTotal => 3,
            };
            let whole = seg.element(at).split('.').next().unwrap_or_default();
            assert_eq!(
                whole.parse::<u32>().ok(),
                Some(n),
                "{seg:?} read {reading:?}"
            );
        }
    }
}

/// The two readings of POC03/POC04 judge the syntax alike and read the
/// same documents; only quantity lines differ, and only in their action.
fn readings_agree(ic: &Interchange, partner: &IsaId, v: &Validation) {
    let other = edi::validate(ic, partner, PocReading::NewTotal);
    assert_eq!(other.ack, v.ack, "the reading changed the 997");
    assert_eq!(other.acknowledgments, v.acknowledgments);
    assert_eq!(other.ta1s, v.ta1s);
    assert_eq!(other.changes.len(), v.changes.len());
    let quantity = |a: LineAction| matches!(a, LineAction::SetTotal(_) | LineAction::Unusable(_));
    for (a, b) in v.changes.iter().zip(&other.changes) {
        let without_actions = |d: &ChangeDocument| {
            let mut d = d.clone();
            d.lines
                .iter_mut()
                .for_each(|l| l.action = LineAction::NoChange);
            d
        };
        assert_eq!(without_actions(a), without_actions(b));
        for (x, y) in a.lines.iter().zip(&b.lines) {
            assert!(x.action == y.action || (quantity(x.action) && quantity(y.action)));
        }
    }
    if v.ack.error.is_none() {
        let read: Vec<_> = ic.ta1s.iter().filter_map(edi::ack::read_ta1).collect();
        assert_eq!(v.ta1s, read);
    }
}
