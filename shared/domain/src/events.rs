//! Event webhooks: the endpoints a company registers, which events each
//! gets, where an endpoint may point, and how a failing one is retried and
//! finally disabled. Pure rules; sending and storing are the adapters'.

use std::net::IpAddr;
#[cfg(test)]
use std::net::Ipv4Addr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Endpoints per company.
pub const MAX_ENDPOINTS: usize = 5;
/// The API version every event carries (the shapes of its `data`).
pub const API_VERSION: &str = "2026-12-01";
/// An endpoint failing without a success for this long is disabled.
pub const DISABLE_AFTER_HOURS: i64 = 72;
/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// At most one `ping` per endpoint this often (`POST .../test`).
pub const PING_INTERVAL_SECONDS: i64 = 30;

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "cancellation.created")]
    CancellationCreated,
    #[serde(rename = "order.completed")]
    OrderCompleted,
    /// Sent on request to test an endpoint; not kept in the event log.
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    /// The types an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventType; 2] =
        [EventType::CancellationCreated, EventType::OrderCompleted];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CancellationCreated => "cancellation.created",
            EventType::OrderCompleted => "order.completed",
            EventType::Ping => "ping",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EventType::CancellationCreated,
            EventType::OrderCompleted,
            EventType::Ping,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointStatus {
    Enabled,
    Disabled,
}

/// A company's webhook endpoint as stored. Its signing secret is not here:
/// it is derived from the service's signing key and `salt`, so neither the
/// table nor a backup of it can sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// `["*"]`, or the subscribed types, sorted and unique.
    pub events: Vec<String>,
    pub status: EndpointStatus,
    pub created_at: DateTime<Utc>,
    /// Input to the secret's derivation (random, not secret by itself).
    pub salt: String,
    /// Digest of the `Idempotency-Key` and request it was created with, so
    /// a retried creation finds it instead of adding another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_key: Option<String>,
    /// The fingerprint of that request (a retry must match it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_fingerprint: Option<String>,
    /// The first failed delivery since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Who is delivering to the endpoint, until when: one attempt in
    /// flight per endpoint, whichever process makes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// The last ping asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinged_at: Option<DateTime<Utc>>,
}

/// An endpoint's delivery lease: free once `until` has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub until: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Does the endpoint get events of type `t`? A ping goes to the endpoint
    /// it was asked for, whatever it subscribes to.
    pub fn subscribes(&self, t: EventType) -> bool {
        t == EventType::Ping || self.events.iter().any(|e| e == "*" || e == t.as_str())
    }

    pub fn enabled(&self) -> bool {
        self.status == EndpointStatus::Enabled
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventsRefusal {
    #[error("events must list at least one event type")]
    Empty,
    #[error("unknown event type {0:?}; known: cancellation.created, order.completed, or *")]
    Unknown(String),
}

/// The subscription as stored: `["*"]` when `*` is among them, else the
/// types sorted and unique.
pub fn normalize_events(events: &[String]) -> Result<Vec<String>, EventsRefusal> {
    if events.is_empty() {
        return Err(EventsRefusal::Empty);
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let known = e == "*" || EventType::SUBSCRIBABLE.iter().any(|t| t.as_str() == e);
        if !known {
            return Err(EventsRefusal::Unknown(e.clone()));
        }
        if e == "*" {
            return Ok(vec!["*".to_owned()]);
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    out.sort();
    Ok(out)
}

/// Where endpoint URLs may point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// `http` and loopback addresses too: local runs and tests only.
    pub allow_insecure: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlRefusal {
    #[error("the URL is not an absolute URL: {0}")]
    Malformed(String),
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the URL must use https, not {0}")]
    Scheme(String),
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the URL must not carry a fragment")]
    Fragment,
    #[error("the URL has no host")]
    NoHost,
    #[error("the host {0} is not a public address")]
    NotPublic(String),
    #[error("the host {0} does not resolve to an address")]
    Unresolved(String),
}

/// The host of a checked URL: an address, or a name still to be resolved
/// (and its addresses checked with `address_allowed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost {
    Address(IpAddr),
    Name(String),
}

/// A URL an endpoint may have, before its name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    /// The URL as normalised by the WHATWG parser (what is stored and sent).
    pub url: String,
    pub host: UrlHost,
    pub port: u16,
}

/// Check an endpoint URL's form and literal host: `https` (or `http` when
/// insecure URLs are allowed), no credentials, no fragment, and a host that
/// is not a literal private, loopback, link-local or metadata address, nor a
/// name that always means this machine. Names are resolved by the caller
/// and each address checked with `address_allowed`, at registration and
/// again before every delivery.
pub fn check_url(raw: &str, policy: UrlPolicy) -> Result<CheckedUrl, UrlRefusal> {
    if raw.len() > MAX_URL_LEN {
        return Err(UrlRefusal::TooLong);
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| UrlRefusal::Malformed(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_insecure => {}
        other => return Err(UrlRefusal::Scheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    if url.fragment().is_some() {
        return Err(UrlRefusal::Fragment);
    }
    let port = url.port_or_known_default().ok_or(UrlRefusal::NoHost)?;
    let host = match url.host() {
        None => return Err(UrlRefusal::NoHost),
        Some(url::Host::Ipv4(a)) => UrlHost::Address(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => UrlHost::Address(IpAddr::V6(a)),
        Some(url::Host::Domain(d)) => {
            let name = d.trim_end_matches('.').to_ascii_lowercase();
            if name.is_empty() {
                return Err(UrlRefusal::NoHost);
            }
            let local = name == "localhost" || name.ends_with(".localhost");
            if local && !policy.allow_insecure {
                return Err(UrlRefusal::NotPublic(name));
            }
            UrlHost::Name(name)
        }
    };
    if let UrlHost::Address(a) = host
        && !address_allowed(a, policy)
    {
        return Err(UrlRefusal::NotPublic(a.to_string()));
    }
    Ok(CheckedUrl {
        url: url.to_string(),
        host,
        port,
    })
}

/// May a delivery connect to `addr`? Public unicast addresses only; with
/// insecure URLs allowed, loopback too (never private, link-local or
/// metadata addresses).
pub fn address_allowed(addr: IpAddr, policy: UrlPolicy) -> bool {
    is_public(addr) || (policy.allow_insecure && unmapped(addr).is_loopback())
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) as the IPv4 one.
fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// Is `addr` a public unicast address? The rules and IANA's registries
/// they come from: `crate::addresses`.
pub use crate::addresses::is_public;

/// A change to a company's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointChange {
    Add(WebhookEndpoint),
    Remove(String),
    /// A delivery to the endpoint failed at `at`.
    DeliveryFailed {
        id: String,
        at: DateTime<Utc>,
    },
    /// A delivery to the endpoint succeeded.
    DeliverySucceeded {
        id: String,
    },
    /// Take the endpoint's lease for `holder` until `until`: refused while
    /// another holder's lease lasts at `at`.
    Lease {
        id: String,
        holder: String,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// Give `holder`'s lease back (nothing when it is someone else's now).
    Unlease {
        id: String,
        holder: String,
    },
    /// A ping asked for at `at`: refused within `PING_INTERVAL_SECONDS` of
    /// the last one.
    Ping {
        id: String,
        at: DateTime<Utc>,
    },
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointChanged {
    Added(WebhookEndpoint),
    /// An endpoint created earlier under the same idempotency digest.
    Existing(WebhookEndpoint),
    Removed,
    /// The first failure since a success: the endpoint is failing now.
    NowFailing,
    /// Failing for `DISABLE_AFTER_HOURS`: disabled by this change.
    Disabled(WebhookEndpoint),
    /// A success after failures.
    Recovered,
    /// The lease is the caller's.
    Leased,
    /// The caller's lease is given back.
    Unleased,
    /// The ping may be sent to this endpoint.
    Pinged(WebhookEndpoint),
    /// Nothing to write.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EndpointRefusal {
    #[error("a company has at most {MAX_ENDPOINTS} webhook endpoints")]
    TooMany,
    #[error("no webhook endpoint {0}")]
    NotFound(String),
    #[error("another delivery to the endpoint is in flight until {until}")]
    Leased { until: DateTime<Utc> },
    #[error("one ping per endpoint every {PING_INTERVAL_SECONDS} s: retry in {retry_after} s")]
    PingTooSoon { retry_after: u64 },
}

/// Apply `change` to a company's endpoints; `Unchanged` (and `Existing`)
/// leave them as they were. Stores run this on the endpoints they read and
/// write the result conditioned on nothing having changed meanwhile.
pub fn change_endpoints(
    endpoints: &mut Vec<WebhookEndpoint>,
    change: &EndpointChange,
) -> Result<EndpointChanged, EndpointRefusal> {
    let find = |list: &mut Vec<WebhookEndpoint>, id: &str| list.iter().position(|e| e.id == id);
    match change {
        EndpointChange::Add(e) => {
            if let Some(earlier) = endpoints
                .iter()
                .find(|x| x.created_by_key.is_some() && x.created_by_key == e.created_by_key)
            {
                return Ok(EndpointChanged::Existing(earlier.clone()));
            }
            if endpoints.len() >= MAX_ENDPOINTS {
                return Err(EndpointRefusal::TooMany);
            }
            endpoints.push(e.clone());
            Ok(EndpointChanged::Added(e.clone()))
        }
        EndpointChange::Remove(id) => {
            let i = find(endpoints, id).ok_or_else(|| EndpointRefusal::NotFound(id.clone()))?;
            endpoints.remove(i);
            Ok(EndpointChanged::Removed)
        }
        EndpointChange::DeliveryFailed { id, at } => {
            let Some(i) = find(endpoints, id) else {
                return Ok(EndpointChanged::Unchanged);
            };
            let e = &mut endpoints[i];
            if !e.enabled() {
                return Ok(EndpointChanged::Unchanged);
            }
            match e.failing_since {
                None => {
                    e.failing_since = Some(*at);
                    Ok(EndpointChanged::NowFailing)
                }
                Some(since) if *at - since >= Duration::hours(DISABLE_AFTER_HOURS) => {
                    e.status = EndpointStatus::Disabled;
                    e.disabled_at = Some(*at);
                    Ok(EndpointChanged::Disabled(e.clone()))
                }
                Some(_) => Ok(EndpointChanged::Unchanged),
            }
        }
        EndpointChange::DeliverySucceeded { id } => match find(endpoints, id) {
            Some(i) if endpoints[i].failing_since.is_some() => {
                endpoints[i].failing_since = None;
                Ok(EndpointChanged::Recovered)
            }
            _ => Ok(EndpointChanged::Unchanged),
        },
        EndpointChange::Lease {
            id,
            holder,
            at,
            until,
        } => {
            let i = find(endpoints, id).ok_or_else(|| EndpointRefusal::NotFound(id.clone()))?;
            let e = &mut endpoints[i];
            if let Some(l) = &e.lease
                && l.holder != *holder
                && l.until > *at
            {
                return Err(EndpointRefusal::Leased { until: l.until });
            }
            e.lease = Some(Lease {
                holder: holder.clone(),
                until: *until,
            });
            Ok(EndpointChanged::Leased)
        }
        EndpointChange::Unlease { id, holder } => match find(endpoints, id) {
            Some(i)
                if endpoints[i]
                    .lease
                    .as_ref()
                    .is_some_and(|l| l.holder == *holder) =>
            {
                endpoints[i].lease = None;
                Ok(EndpointChanged::Unleased)
            }
            _ => Ok(EndpointChanged::Unchanged),
        },
        EndpointChange::Ping { id, at } => {
            let i = find(endpoints, id).ok_or_else(|| EndpointRefusal::NotFound(id.clone()))?;
            let e = &mut endpoints[i];
            let next = e
                .pinged_at
                .and_then(|p| p.checked_add_signed(Duration::seconds(PING_INTERVAL_SECONDS)));
            if let Some(next) = next
                && next > *at
            {
                // Whole seconds, rounded up: never earlier than allowed.
                let secs = (next - *at).num_milliseconds().saturating_add(999) / 1000;
                return Err(EndpointRefusal::PingTooSoon {
                    retry_after: u64::try_from(secs).unwrap_or(1).max(1),
                });
            }
            e.pinged_at = Some(*at);
            Ok(EndpointChanged::Pinged(e.clone()))
        }
    }
}

/// Waits between delivery attempts: attempt `n` (1 = the first, right when
/// the event happened) failed, the next comes after `retry_delay(n)`;
/// `None` once the schedule is spent. About 77 hours in all, so an endpoint
/// down for a weekend still gets every event, and one failing for
/// `DISABLE_AFTER_HOURS` is disabled before its deliveries give up.
pub fn retry_delay(attempt: u32) -> Option<Duration> {
    const MINUTES: [i64; 12] = [1, 5, 30, 120, 300, 600, 600, 600, 600, 600, 600, 600];
    let i = usize::try_from(attempt.checked_sub(1)?).ok()?;
    MINUTES.get(i).map(|m| Duration::minutes(*m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: &str) -> WebhookEndpoint {
        WebhookEndpoint {
            id: id.into(),
            url: "https://hooks.example.com/dropship".into(),
            events: vec!["*".into()],
            status: EndpointStatus::Enabled,
            created_at: DateTime::UNIX_EPOCH,
            salt: "s".into(),
            created_by_key: None,
            request_fingerprint: None,
            failing_since: None,
            disabled_at: None,
            lease: None,
            pinged_at: None,
        }
    }

    const SECURE: UrlPolicy = UrlPolicy {
        allow_insecure: false,
    };
    const INSECURE: UrlPolicy = UrlPolicy {
        allow_insecure: true,
    };

    #[test]
    fn urls_must_be_https_to_public_hosts() {
        let ok = check_url("https://Hooks.Example.com/in?x=1", SECURE).unwrap();
        assert_eq!(ok.url, "https://hooks.example.com/in?x=1");
        assert_eq!(ok.host, UrlHost::Name("hooks.example.com".into()));
        assert_eq!(ok.port, 443);
        assert_eq!(
            check_url("https://93.184.215.14:8443/", SECURE)
                .unwrap()
                .port,
            8443
        );
        for (bad, why) in [
            ("http://hooks.example.com/", "scheme"),
            ("ftp://hooks.example.com/", "scheme"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("https://hooks.example.com/#frag", "fragment"),
            ("https://localhost/", "localhost"),
            ("https://api.localhost/", "localhost"),
            ("https://127.0.0.1/", "loopback"),
            ("https://2130706433/", "loopback as a number"),
            ("https://0x7f.1/", "loopback in hex"),
            ("https://[::1]/", "v6 loopback"),
            ("https://[::ffff:127.0.0.1]/", "mapped loopback"),
            ("https://10.0.0.1/", "private"),
            ("https://172.16.5.4/", "private"),
            ("https://192.168.1.1/", "private"),
            ("https://169.254.169.254/latest/meta-data/", "metadata"),
            ("https://[fd00:ec2::254]/", "v6 metadata"),
            ("https://[fe80::1]/", "link-local"),
            ("https://100.64.0.1/", "cgnat"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://[64:ff9b::a9fe:a9fe]/", "nat64 metadata"),
            ("https://[2002:a9fe:a9fe::]/", "6to4 metadata"),
            ("not a url", "malformed"),
        ] {
            assert!(check_url(bad, SECURE).is_err(), "{bad} ({why}) accepted");
        }
        assert!(
            check_url(
                &format!("https://a.example/{}", "x".repeat(MAX_URL_LEN)),
                SECURE
            )
            .is_err()
        );
    }

    #[test]
    fn insecure_urls_allow_http_and_loopback_only() {
        for ok in [
            "http://127.0.0.1:8080/hook",
            "http://localhost:9/",
            "http://[::1]:80/",
        ] {
            assert!(check_url(ok, INSECURE).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "http://[fd00:ec2::254]/",
        ] {
            assert!(check_url(bad, INSECURE).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_addresses() {
        for ok in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "fc00::1",
            "ff02::1",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn events_normalise() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            normalize_events(&s(&[
                "order.completed",
                "cancellation.created",
                "order.completed"
            ])),
            Ok(s(&["cancellation.created", "order.completed"]))
        );
        assert_eq!(
            normalize_events(&s(&["order.completed", "*"])),
            Ok(s(&["*"]))
        );
        assert_eq!(normalize_events(&[]), Err(EventsRefusal::Empty));
        assert_eq!(
            normalize_events(&s(&["ping"])),
            Err(EventsRefusal::Unknown("ping".into()))
        );
        let mut e = endpoint("we_1");
        e.events = s(&["order.completed"]);
        assert!(e.subscribes(EventType::OrderCompleted));
        assert!(e.subscribes(EventType::Ping));
        assert!(!e.subscribes(EventType::CancellationCreated));
    }

    #[test]
    fn endpoints_are_limited_and_creation_is_idempotent() {
        let mut list = Vec::new();
        for i in 0..MAX_ENDPOINTS {
            let r = change_endpoints(
                &mut list,
                &EndpointChange::Add(endpoint(&format!("we_{i}"))),
            );
            assert!(matches!(r, Ok(EndpointChanged::Added(_))));
        }
        assert_eq!(
            change_endpoints(&mut list, &EndpointChange::Add(endpoint("we_x"))),
            Err(EndpointRefusal::TooMany)
        );
        list.truncate(1);
        let mut keyed = endpoint("we_k");
        keyed.created_by_key = Some("digest".into());
        change_endpoints(&mut list, &EndpointChange::Add(keyed.clone())).unwrap();
        let mut again = endpoint("we_other");
        again.created_by_key = Some("digest".into());
        assert_eq!(
            change_endpoints(&mut list, &EndpointChange::Add(again)),
            Ok(EndpointChanged::Existing(keyed))
        );
        assert_eq!(list.len(), 2);
        assert_eq!(
            change_endpoints(&mut list, &EndpointChange::Remove("we_k".into())),
            Ok(EndpointChanged::Removed)
        );
        assert_eq!(
            change_endpoints(&mut list, &EndpointChange::Remove("we_k".into())),
            Err(EndpointRefusal::NotFound("we_k".into()))
        );
    }

    #[test]
    fn an_endpoint_failing_for_days_is_disabled_once() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH + Duration::days(100);
        let mut list = vec![endpoint("we_1")];
        let failed = |at| EndpointChange::DeliveryFailed {
            id: "we_1".into(),
            at,
        };
        assert_eq!(
            change_endpoints(&mut list, &failed(t0)),
            Ok(EndpointChanged::NowFailing)
        );
        assert_eq!(
            change_endpoints(&mut list, &failed(t0 + Duration::hours(71))),
            Ok(EndpointChanged::Unchanged)
        );
        // A success in between starts the clock again.
        let ok = EndpointChange::DeliverySucceeded { id: "we_1".into() };
        assert_eq!(
            change_endpoints(&mut list, &ok),
            Ok(EndpointChanged::Recovered)
        );
        assert_eq!(
            change_endpoints(&mut list, &ok),
            Ok(EndpointChanged::Unchanged)
        );
        let t1 = t0 + Duration::hours(80);
        change_endpoints(&mut list, &failed(t1)).unwrap();
        let r = change_endpoints(&mut list, &failed(t1 + Duration::hours(72)));
        assert!(matches!(r, Ok(EndpointChanged::Disabled(_))), "{r:?}");
        assert_eq!(list[0].status, EndpointStatus::Disabled);
        assert_eq!(
            change_endpoints(&mut list, &failed(t1 + Duration::hours(100))),
            Ok(EndpointChanged::Unchanged),
            "disabled once"
        );
    }

    #[test]
    fn the_retry_schedule_outlasts_the_disable_window() {
        assert_eq!(retry_delay(0), None);
        assert_eq!(retry_delay(1), Some(Duration::minutes(1)));
        let total: i64 = (1..).map_while(retry_delay).map(|d| d.num_minutes()).sum();
        assert!(total > DISABLE_AFTER_HOURS * 60, "{total} min");
        assert!(total > 24 * 60);
        assert!((1..=12).all(|n| retry_delay(n).is_some()) && retry_delay(13).is_none());
    }
    #[test]
    fn one_lease_at_a_time_until_it_ends_or_is_given_back() {
        let t = DateTime::UNIX_EPOCH;
        let mut list = vec![endpoint("we_1")];
        let lease = |holder: &str, at: DateTime<Utc>| EndpointChange::Lease {
            id: "we_1".into(),
            holder: holder.into(),
            at,
            until: at + Duration::seconds(30),
        };
        let unlease = |holder: &str| EndpointChange::Unlease {
            id: "we_1".into(),
            holder: holder.into(),
        };
        assert_eq!(
            change_endpoints(&mut list, &lease("a", t)),
            Ok(EndpointChanged::Leased)
        );
        assert_eq!(
            change_endpoints(&mut list, &lease("b", t + Duration::seconds(29))),
            Err(EndpointRefusal::Leased {
                until: t + Duration::seconds(30)
            })
        );
        // Another holder cannot give it back.
        assert_eq!(
            change_endpoints(&mut list, &unlease("b")),
            Ok(EndpointChanged::Unchanged)
        );
        assert_eq!(
            change_endpoints(&mut list, &unlease("a")),
            Ok(EndpointChanged::Unleased)
        );
        assert_eq!(
            change_endpoints(&mut list, &lease("b", t)),
            Ok(EndpointChanged::Leased)
        );
        // An expired lease is free.
        assert_eq!(
            change_endpoints(&mut list, &lease("c", t + Duration::seconds(31))),
            Ok(EndpointChanged::Leased)
        );
        assert_eq!(
            change_endpoints(&mut Vec::new(), &lease("a", t)),
            Err(EndpointRefusal::NotFound("we_1".into()))
        );
    }

    #[test]
    fn pings_are_spaced_per_endpoint() {
        let t = DateTime::UNIX_EPOCH;
        let mut list = vec![endpoint("we_1"), endpoint("we_2")];
        let ping = |id: &str, at| EndpointChange::Ping { id: id.into(), at };
        assert!(matches!(
            change_endpoints(&mut list, &ping("we_1", t)),
            Ok(EndpointChanged::Pinged(_))
        ));
        assert_eq!(
            change_endpoints(&mut list, &ping("we_1", t + Duration::milliseconds(100))),
            Err(EndpointRefusal::PingTooSoon { retry_after: 30 })
        );
        assert_eq!(
            change_endpoints(&mut list, &ping("we_1", t + Duration::milliseconds(29_500))),
            Err(EndpointRefusal::PingTooSoon { retry_after: 1 })
        );
        // Another endpoint is not held back by this one.
        assert!(matches!(
            change_endpoints(&mut list, &ping("we_2", t)),
            Ok(EndpointChanged::Pinged(_))
        ));
        assert!(matches!(
            change_endpoints(&mut list, &ping("we_1", t + Duration::seconds(30))),
            Ok(EndpointChanged::Pinged(_))
        ));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn non_public_v4() -> impl Strategy<Value = Ipv4Addr> {
        prop_oneof![
            any::<[u8; 3]>().prop_map(|[a, b, c]| Ipv4Addr::new(10, a, b, c)),
            any::<[u8; 3]>().prop_map(|[a, b, c]| Ipv4Addr::new(127, a, b, c)),
            any::<[u8; 2]>().prop_map(|[a, b]| Ipv4Addr::new(169, 254, a, b)),
            any::<[u8; 3]>().prop_map(|[a, b, c]| Ipv4Addr::new(172, 16 | (a & 15), b, c)),
            any::<[u8; 2]>().prop_map(|[a, b]| Ipv4Addr::new(192, 168, a, b)),
            any::<[u8; 3]>().prop_map(|[a, b, c]| Ipv4Addr::new(100, 64 | (a & 63), b, c)),
            any::<[u8; 3]>().prop_map(|[a, b, c]| Ipv4Addr::new(0, a, b, c)),
        ]
    }

    proptest! {
        /// However a non-public IPv4 address is written into a URL (dotted,
        /// as one number, mapped into IPv6), the URL is refused.
        #[test]
        fn non_public_addresses_are_refused_in_every_spelling(a in non_public_v4(), port in 1u16..) {
            let forms = [
                format!("https://{a}:{port}/hook"),
                format!("https://{}/", u32::from(a)),
                format!("https://[{}]/", a.to_ipv6_mapped()),
                format!("https://[64:ff9b::{:x}:{:x}]/", u32::from(a) >> 16, u32::from(a) & 0xffff),
            ];
            for f in forms {
                prop_assert!(check_url(&f, UrlPolicy::default()).is_err(), "{f} accepted");
            }
        }

        /// Whatever is accepted is https with a public literal address or a
        /// name, and checking the stored form again accepts it unchanged.
        #[test]
        fn what_is_accepted_is_https_and_stable(raw in "\\PC{0,80}", host in "[a-z0-9.:\\[\\]-]{1,30}") {
            for input in [raw.clone(), format!("https://{host}/x")] {
                if let Ok(ok) = check_url(&input, UrlPolicy::default()) {
                    prop_assert!(ok.url.starts_with("https://"), "{}", ok.url);
                    if let UrlHost::Address(a) = ok.host {
                        prop_assert!(is_public(a));
                    }
                    prop_assert_eq!(check_url(&ok.url, UrlPolicy::default()), Ok(ok.clone()));
                }
            }
        }
    }
}
