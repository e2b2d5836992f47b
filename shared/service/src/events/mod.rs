//! Event webhooks for API partners: the event log, signing, and the ports
//! deliveries go through. The use cases are beside it: registering
//! endpoints and reading the log (`endpoints`, `EventsService`), recording and
//! delivering events (`deliver`, on `Notifier`).
//!
//! An event is rendered once, when it is recorded, and kept with its exact
//! body: every delivery and every read of the log sends those bytes, so
//! the same event never arrives with different content. Recording is
//! keyed by what the event is about (`dedupe`), so a redelivered stream
//! record finds the event it recorded before instead of making another.

mod deliver;
mod endpoints;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hmac::{KeyInit, Mac};
use serde::Serialize;

use domain::events::{API_VERSION, EventType};
use domain::{Cancellation, Order};

pub use deliver::{ATTEMPT_LIMIT, DeliveryReport, TaskOutcome};
pub use endpoints::{CreatedEndpoint, EndpointRequest, EventPage, EventsService, WebhookError};

pub use crate::ports::{
    Delivery, DeliveryPorts, DeliveryQueue, DeliveryTask, KeyError, MIN_SIGNING_KEY_BYTES, Pending,
    QueueError, ResolveError, Resolver, SendError, SigningKeyError, SigningKeys, WebhookPorts,
    WebhookSender,
};
pub use crate::store::{EventRecord, Recorded, WebhookStore};
use crate::views::OrderView;

/// How long events stay readable in the log (at least 30 days by contract).
pub const EVENT_RETENTION_DAYS: i64 = 35;
/// Largest page of `GET /v1/events`.
pub const MAX_EVENT_PAGE: usize = 100;

fn long_enough(len: usize) -> Result<(), SigningKeyError> {
    match len {
        0 => Err(SigningKeyError::Empty),
        n if n < MIN_SIGNING_KEY_BYTES => Err(SigningKeyError::TooShort(n)),
        _ => Ok(()),
    }
}

/// A signing key as kept in a file or a secret: its text without the
/// whitespace around it, refused when blank or too short. Every host
/// reads its key through this.
pub fn checked_signing_key(text: &str) -> Result<Arc<[u8]>, SigningKeyError> {
    let key = text.trim();
    long_enough(key.len())?;
    Ok(key.as_bytes().into())
}

/// A fixed signing key (local runs read it from the data dir; tests).
pub struct StaticKey(Arc<[u8]>);

impl StaticKey {
    /// Refused when shorter than `MIN_SIGNING_KEY_BYTES`.
    pub fn new(key: Arc<[u8]>) -> Result<Self, SigningKeyError> {
        long_enough(key.len())?;
        Ok(StaticKey(key))
    }
}

impl SigningKeys for StaticKey {
    fn key(&self) -> Pending<'_, Arc<[u8]>, KeyError> {
        let k = Arc::clone(&self.0);
        Box::pin(async move { Ok(k) })
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// An endpoint's signing secret: derived from the service's key, the
/// company, the endpoint and its salt, so the table holds nothing that
/// signs, and the secret can be shown again to the request that created it.
pub fn endpoint_secret(key: &[u8], company_id: &str, endpoint_id: &str, salt: &str) -> String {
    let secret = hmac_hex(
        key,
        &[
            b"dropship webhook endpoint\0",
            company_id.as_bytes(),
            b"\0",
            endpoint_id.as_bytes(),
            b"\0",
            salt.as_bytes(),
        ],
    );
    format!("whsec_{secret}")
}

/// `Dropship-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
/// "<t>.<body>")>`, Stripe's scheme.
pub fn signature(secret: &str, at: DateTime<Utc>, body: &str) -> String {
    let t = at.timestamp();
    let v1 = hmac_hex(
        secret.as_bytes(),
        &[t.to_string().as_bytes(), b".", body.as_bytes()],
    );
    format!("t={t},v1={v1}")
}

/// Check a `Dropship-Signature` as a receiver does: the timestamp within
/// `tolerance` of `now`, and a `v1` that matches in constant time.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &str,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now.timestamp() - t).abs() > tolerance.num_seconds() {
        return false;
    }
    sigs.iter().any(|s| {
        let Ok(given) = hex::decode(s) else {
            return false;
        };
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        mac.verify_slice(&given).is_ok()
    })
}

/// Random bytes from the service's generator (salts, local keys).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    rand::random()
}

/// A new event id (`evt_` and a ULID). Monotonic within the process only:
/// the log is ordered by the store, by when events are recorded.
pub fn new_event_id() -> String {
    static IDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let id = IDS
        .lock()
        .ok()
        .and_then(|mut g| g.generate().ok())
        .unwrap_or_else(ulid::Ulid::generate);
    format!("evt_{id}")
}

#[derive(Serialize)]
struct EventBody<'a, D: Serialize> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: EventType,
    created_at: DateTime<Utc>,
    api_version: &'static str,
    data: D,
}

fn render<D: Serialize>(id: &str, t: EventType, at: DateTime<Utc>, data: D) -> String {
    crate::views::to_json(&EventBody {
        id,
        event_type: t,
        created_at: at,
        api_version: API_VERSION,
        data,
    })
}

#[derive(Serialize)]
struct CancellationData<'a> {
    order: OrderView<'a>,
    cancellation: &'a Cancellation,
}

#[derive(Serialize)]
struct OrderData<'a> {
    order: OrderView<'a>,
}

/// The body of a `cancellation.created` event: the order after it, and
/// the cancellation, in the API's shapes.
pub fn cancellation_created(
    id: &str,
    at: DateTime<Utc>,
    order: &Order,
    cancellations: &[Cancellation],
    c: &Cancellation,
) -> String {
    render(
        id,
        EventType::CancellationCreated,
        at,
        CancellationData {
            order: OrderView::new(order, cancellations),
            cancellation: c,
        },
    )
}

/// The body of an `order.completed` event.
pub fn order_completed(
    id: &str,
    at: DateTime<Utc>,
    order: &Order,
    cancellations: &[Cancellation],
) -> String {
    render(
        id,
        EventType::OrderCompleted,
        at,
        OrderData {
            order: OrderView::new(order, cancellations),
        },
    )
}

#[derive(Serialize)]
struct PingData<'a> {
    webhook_endpoint: PingEndpoint<'a>,
}

#[derive(Serialize)]
struct PingEndpoint<'a> {
    id: &'a str,
    url: &'a str,
}

/// The body of a `ping` event for an endpoint.
pub fn ping(id: &str, at: DateTime<Utc>, endpoint_id: &str, url: &str) -> String {
    render(
        id,
        EventType::Ping,
        at,
        PingData {
            webhook_endpoint: PingEndpoint {
                id: endpoint_id,
                url,
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_refuse_tampering() {
        let at = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let sig = signature("whsec_x", at, r#"{"id":"evt_1"}"#);
        assert!(sig.starts_with("t=1780000000,v1="));
        let ok = |secret, header: &str, body| {
            verify_signature(secret, header, body, at, Duration::minutes(5))
        };
        assert!(ok("whsec_x", &sig, r#"{"id":"evt_1"}"#));
        assert!(!ok("whsec_y", &sig, r#"{"id":"evt_1"}"#));
        assert!(!ok("whsec_x", &sig, r#"{"id":"evt_2"}"#));
        let late = at + Duration::minutes(6);
        assert!(!verify_signature(
            "whsec_x",
            &sig,
            r#"{"id":"evt_1"}"#,
            late,
            Duration::minutes(5)
        ));
        assert!(!ok("whsec_x", "v1=00", "{}"));
        assert!(!ok("whsec_x", "t=1780000000,v1=zz", "{}"));
        // The receiver's computation, spelled out (docs/webhooks.md).
        let expected = hmac_hex(b"whsec_x", &[b"1780000000.{\"id\":\"evt_1\"}"]);
        assert_eq!(sig, format!("t=1780000000,v1={expected}"));
    }

    #[test]
    fn signing_keys_under_32_bytes_are_refused() {
        use super::{SigningKeyError, StaticKey, checked_signing_key};
        assert_eq!(checked_signing_key(""), Err(SigningKeyError::Empty));
        assert_eq!(checked_signing_key(" \n\t "), Err(SigningKeyError::Empty));
        assert_eq!(
            checked_signing_key(&format!(" {} ", "k".repeat(31))),
            Err(SigningKeyError::TooShort(31))
        );
        let key = checked_signing_key(&format!("{}\n", "k".repeat(32))).unwrap();
        assert_eq!(&*key, "k".repeat(32).as_bytes());
        assert!(StaticKey::new(key).is_ok());
        assert!(StaticKey::new(std::sync::Arc::from(&[0u8; 31][..])).is_err());
        assert!(StaticKey::new(std::sync::Arc::from(&[][..])).is_err());
    }

    #[test]
    fn secrets_are_derived_per_endpoint() {
        let a = endpoint_secret(b"key", "c1", "we_1", "salt");
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64);
        assert_eq!(a, endpoint_secret(b"key", "c1", "we_1", "salt"));
        for other in [
            endpoint_secret(b"key2", "c1", "we_1", "salt"),
            endpoint_secret(b"key", "c2", "we_1", "salt"),
            endpoint_secret(b"key", "c1", "we_2", "salt"),
            endpoint_secret(b"key", "c1", "we_1", "salt2"),
            // Parts cannot run into each other.
            endpoint_secret(b"key", "c1\0we_1", "", "salt"),
        ] {
            assert_ne!(a, other);
        }
    }

    #[test]
    fn event_bodies_have_the_contract_fields() {
        let at = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&ping("evt_1", at, "we_1", "https://h.example/x")).unwrap();
        assert_eq!(v["id"], "evt_1");
        assert_eq!(v["type"], "ping");
        assert_eq!(v["api_version"], API_VERSION);
        assert_eq!(v["created_at"], "2026-05-28T20:26:40Z");
        assert_eq!(v["data"]["webhook_endpoint"]["id"], "we_1");
    }
}
