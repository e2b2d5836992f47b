//! Registering our webhooks with a company's store (`dropship connect`):
//! which webhook subscriptions the intake needs and at which addresses,
//! which of a store's webhooks are ours, and what to create, repair or
//! remove. Pure: the calls are in `client::registration`; each platform's
//! topics, documents and subscription calls are in its module.
//!
//! A webhook is **ours** when its address is under the base URL given (the
//! stack's `ApiUrl`); every other webhook of the store is left alone.

use serde::Serialize;
use thiserror::Error;
use url::Url;

use crate::PlatformError;
use crate::connection::{base_url, join_segments};
use crate::platform::StorePlatform;
use crate::subscriptions::Listed;
pub use domain::inbound::Platform;

/// What stops a company's store from being connected.
#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("--url {url:?}: {detail}")]
    InvalidBaseUrl { url: String, detail: String },
    /// The webhook routes match the company id as it is in the path (no
    /// decoding), so an id that must be percent-encoded would never be
    /// found by a delivery.
    #[error(
        "company id {0:?} cannot be a webhook path segment as it is (the webhook routes do not decode it): nothing registered"
    )]
    UnroutableCompanyId(String),
    /// The platform would refuse the destination.
    #[error("--url: {0}")]
    Destination(#[from] domain::transport::TransportRefusal),
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// The base URL webhooks are registered under: http(s), a host, no
/// credentials, query or fragment; a path prefix is kept and ends in `/`.
pub fn base(raw: &str) -> Result<Url, ConnectError> {
    let mut url = base_url("dropship", "url", raw).map_err(|e| ConnectError::InvalidBaseUrl {
        url: raw.to_owned(),
        detail: match e {
            PlatformError::InvalidConnection { detail, .. } => detail,
            other => other.to_string(),
        },
    })?;
    // Empty segments dropped (joining segments would drop them too, and
    // then addresses would not start with the base's path).
    let segments: Vec<String> = url
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let path = if segments.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}/", segments.join("/"))
    };
    url.set_path(&path);
    Ok(url)
}

/// Where the platform's deliveries for this company go: its route of
/// `handlers::intake` under `base`, each value one encoded segment.
pub fn address(p: &dyn StorePlatform, base: &Url, company_id: &str) -> Result<Url, ConnectError> {
    let name = p.kind().as_str();
    let segments: &[&str] = if p.company_in_path() {
        &["webhooks", name, company_id]
    } else {
        &["webhooks", name]
    };
    let url = join_segments(name, base, segments)?;
    if p.company_in_path()
        && url.path_segments().and_then(|mut s| s.next_back()) != Some(company_id)
    {
        return Err(ConnectError::UnroutableCompanyId(company_id.to_owned()));
    }
    Ok(url)
}

/// The webhooks the company's store should have: one per topic, at the
/// company's address.
pub fn wanted(
    p: &dyn StorePlatform,
    base: &Url,
    company_id: &str,
) -> Result<Vec<Wanted>, ConnectError> {
    let address = address(p, base, company_id)?;
    p.check_destination(&address)?;
    Ok(p.topics()
        .iter()
        .map(|t| Wanted {
            topic: (*t).to_owned(),
            address: address.clone(),
        })
        .collect())
}

/// An address is under `base` when it is the same origin and its path
/// starts with the base's path (which ends in `/`).
pub fn is_ours(base: &Url, address: &str) -> bool {
    let Ok(a) = Url::parse(address.trim()) else {
        return false;
    };
    a.scheme() == base.scheme()
        && a.host() == base.host()
        && a.port_or_known_default() == base.port_or_known_default()
        && a.path().starts_with(base.path())
}

fn same_address(a: &str, b: &Url) -> bool {
    Url::parse(a.trim()).is_ok_and(|a| a == *b)
}

/// A webhook the store should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub topic: String,
    pub address: Url,
}

/// What a webhook is, or became.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Ours, wanted and sound.
    Registered,
    /// Wanted, and not in the store.
    Missing,
    /// Wanted and in the store, but not sound (`problems` says why).
    Wrong,
    /// Ours and not wanted: another topic, another address under the base
    /// URL, or a second webhook for a topic.
    Extra,
    Created,
    Repaired,
    Removed,
}

/// One webhook of ours, wanted or in the store. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub state: State,
    pub topic: String,
    pub address: String,
    /// The platform's id; `null` for a missing webhook.
    pub id: Option<String>,
    pub problems: Vec<String>,
}

/// The store's webhooks as they concern us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// The wanted webhooks in order (registered, missing or wrong), then
    /// the extra ones.
    pub entries: Vec<Entry>,
    /// The store's webhooks that are not ours.
    pub others: usize,
}

impl Survey {
    /// Whether `connect` would change nothing.
    pub fn in_place(&self) -> bool {
        self.entries.iter().all(|e| e.state == State::Registered)
    }
}

/// Sort the store's webhooks against the wanted ones. For each wanted
/// webhook the first sound one of its topic at its address counts (else
/// the first unsound one); every other webhook of ours is extra.
pub fn survey(wanted: &[Wanted], listed: &[Listed], base: &Url) -> Survey {
    let ours: Vec<&Listed> = listed
        .iter()
        .filter(|l| is_ours(base, &l.address))
        .collect();
    let others = listed.len().saturating_sub(ours.len());
    let mut used = vec![false; ours.len()];
    let mut entries = Vec::new();
    for w in wanted {
        let candidates: Vec<usize> = (0..ours.len())
            .filter(|&i| {
                !used[i] && ours[i].topic == w.topic && same_address(&ours[i].address, &w.address)
            })
            .collect();
        let pick = candidates
            .iter()
            .copied()
            .find(|&i| ours[i].problems.is_empty())
            .or_else(|| candidates.first().copied());
        entries.push(match pick {
            Some(i) => {
                used[i] = true;
                let l = ours[i];
                Entry {
                    state: if l.problems.is_empty() {
                        State::Registered
                    } else {
                        State::Wrong
                    },
                    topic: l.topic.clone(),
                    address: l.address.clone(),
                    id: Some(l.id.clone()),
                    problems: l.problems.clone(),
                }
            }
            None => Entry {
                state: State::Missing,
                topic: w.topic.clone(),
                address: w.address.to_string(),
                id: None,
                problems: vec![],
            },
        });
    }
    for l in ours.iter().zip(&used).filter(|(_, u)| !**u).map(|(l, _)| l) {
        let why = if !wanted.iter().any(|w| w.topic == l.topic) {
            format!("{} is not a topic the webhook intake acts on", l.topic)
        } else if !wanted.iter().any(|w| same_address(&l.address, &w.address)) {
            "not this company's webhook address".to_owned()
        } else {
            "a second webhook for this topic".to_owned()
        };
        let mut problems = vec![why];
        problems.extend(l.problems.iter().cloned());
        entries.push(Entry {
            state: State::Extra,
            topic: l.topic.clone(),
            address: l.address.clone(),
            id: Some(l.id.clone()),
            problems,
        });
    }
    Survey { entries, others }
}

/// Which command a report is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Connect,
    Check,
    Disconnect,
}

/// What `connect`, `connect --check` or `disconnect` found and did; its
/// JSON is the commands' `--json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub command: Command,
    pub company_id: String,
    /// `shopify`, `woocommerce` or `bigcommerce`.
    pub platform: &'static str,
    pub base_url: String,
    /// After the command: every wanted webhook registered and sound, and
    /// no other of ours (`disconnect`: always false).
    pub connected: bool,
    pub webhooks: Vec<Entry>,
    /// The store's webhooks that are not ours, left alone.
    pub other_webhooks: usize,
    /// The platform served another API version than we ask for, or
    /// flagged a deprecated use, during the command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_drift: Option<crate::ApiDrift>,
}

impl Report {
    pub fn count(&self, state: State) -> usize {
        self.webhooks.iter().filter(|e| e.state == state).count()
    }
}

/// `text` with every occurrence of each secret replaced, for error texts
/// that may quote a platform's answer.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::get;
    use crate::shopify::registration::SHOPIFY_TOPICS;
    use crate::woocommerce::registration::WOOCOMMERCE_TOPICS;

    fn listed(id: &str, topic: &str, address: &str, problems: &[&str]) -> Listed {
        Listed {
            id: id.into(),
            topic: topic.into(),
            address: address.into(),
            problems: problems.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            base("http://127.0.0.1:3000").unwrap().as_str(),
            "http://127.0.0.1:3000/"
        );
        assert_eq!(
            base("https://api.example/prod").unwrap().as_str(),
            "https://api.example/prod/"
        );
        assert_eq!(
            base("https://api.example/prod/").unwrap().as_str(),
            "https://api.example/prod/"
        );
        assert_eq!(
            base("https://api.example//prod//v1").unwrap().as_str(),
            "https://api.example/prod/v1/"
        );
        for bad in [
            "ftp://x.example/",
            "https://x.example/?a=1",
            "https://x.example/#f",
            "https://u:p@x.example/",
            "x.example",
            "",
        ] {
            assert!(
                matches!(base(bad), Err(ConnectError::InvalidBaseUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn addresses() {
        let b = base("https://api.example/prod/").unwrap();
        assert_eq!(
            address(get(Platform::Shopify), &b, "any/thing")
                .unwrap()
                .as_str(),
            "https://api.example/prod/webhooks/shopify"
        );
        assert_eq!(
            address(get(Platform::WooCommerce), &b, "seller-woo")
                .unwrap()
                .as_str(),
            "https://api.example/prod/webhooks/woocommerce/seller-woo"
        );
        assert_eq!(
            address(get(Platform::BigCommerce), &b, "seller-bc")
                .unwrap()
                .as_str(),
            "https://api.example/prod/webhooks/bigcommerce/seller-bc"
        );
        for bad in ["a/b", "a b", "é", "a?b", "a#b", "a%2Fb"] {
            assert!(
                matches!(
                    address(get(Platform::WooCommerce), &b, bad),
                    Err(ConnectError::UnroutableCompanyId(_))
                ),
                "{bad}"
            );
        }
        for bad in [".", "..", "a\nb"] {
            assert!(matches!(
                address(get(Platform::BigCommerce), &b, bad),
                Err(ConnectError::Platform(
                    PlatformError::InvalidReference { .. }
                ))
            ));
        }
    }

    #[test]
    fn ours_is_under_the_base_url() {
        let b = base("https://api.example/prod/").unwrap();
        assert!(is_ours(&b, "https://api.example/prod/webhooks/shopify"));
        assert!(is_ours(&b, "https://API.example:443/prod/webhooks/x?y=1"));
        assert!(is_ours(&b, "https://api.example/prod/"));
        for not in [
            "https://api.example/prod",
            "https://api.example/production/webhooks/shopify",
            "https://api.example/webhooks/shopify",
            "http://api.example/prod/webhooks/shopify",
            "https://api.example:8443/prod/webhooks/shopify",
            "https://api.example.evil/prod/webhooks/shopify",
            "https://api.example/prod/../webhooks/shopify",
            "not a url",
        ] {
            assert!(!is_ours(&b, not), "{not}");
        }
    }

    #[test]
    fn a_survey_sorts_the_stores_webhooks() {
        let b = base("http://127.0.0.1:3000/").unwrap();
        let wanted = wanted(get(Platform::BigCommerce), &b, "seller-bc").unwrap();
        let ours = "http://127.0.0.1:3000/webhooks/bigcommerce/seller-bc";
        let s = survey(
            &wanted,
            &[
                listed("1", "store/order/updated", ours, &["inactive"]),
                listed("2", "store/order/updated", ours, &[]),
                listed("3", "store/order/statusUpdated", ours, &["inactive"]),
                listed("4", "store/order/*", ours, &[]),
                listed(
                    "5",
                    "store/order/updated",
                    "https://elsewhere.example/hook",
                    &[],
                ),
                listed(
                    "6",
                    "store/order/updated",
                    "http://127.0.0.1:3000/webhooks/bigcommerce/old",
                    &[],
                ),
            ],
            &b,
        );
        let states: Vec<(State, Option<&str>)> = s
            .entries
            .iter()
            .map(|e| (e.state, e.id.as_deref()))
            .collect();
        assert_eq!(
            states,
            vec![
                (State::Wrong, Some("3")),
                (State::Registered, Some("2")),
                (State::Missing, None),
                (State::Extra, Some("1")),
                (State::Extra, Some("4")),
                (State::Extra, Some("6")),
            ],
            "{:#?}",
            s.entries
        );
        assert_eq!(s.others, 1);
        assert!(!s.in_place());
        assert_eq!(
            s.entries[3].problems,
            ["a second webhook for this topic", "inactive"]
        );
        assert_eq!(
            s.entries[4].problems,
            ["store/order/* is not a topic the webhook intake acts on"]
        );
        assert_eq!(
            s.entries[5].problems,
            ["not this company's webhook address"]
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("bad token s3cret, s3cret again", &["s3cret", ""]),
            "bad token [redacted], [redacted] again"
        );
    }

    /// What the intake acts on is what we register, and the other way round.
    #[test]
    fn the_topics_are_the_ones_the_intake_acts_on() {
        use crate::Inbound;
        let order = br#"{"id": 1, "line_items": [], "order_edit": {"order_id": 1}, "order_id": 1}"#;
        for t in SHOPIFY_TOPICS {
            let (resource, event) = t.split_once('_').unwrap();
            let header = format!("{}/{}", resource.to_lowercase(), event.to_lowercase());
            let parsed = crate::shopify::parse(&header, order).unwrap();
            assert!(!matches!(parsed, Inbound::Ignore(_)), "{t}");
        }
        for t in WOOCOMMERCE_TOPICS {
            let parsed = crate::woocommerce::parse(
                t,
                br#"{"id": 1, "status": "processing", "line_items": []}"#,
            )
            .unwrap();
            assert!(!matches!(parsed, Inbound::Ignore(_)), "{t}");
        }
        for t in crate::bigcommerce::ORDER_SCOPES {
            let body = format!(r#"{{"scope": "{t}", "data": {{"id": 1}}}}"#);
            let parsed = crate::bigcommerce::parse(body.as_bytes()).unwrap();
            assert!(!matches!(parsed, Inbound::Ignore(_)), "{t}");
        }
        for ignored in ["orders/create", "products/update"] {
            assert!(matches!(
                crate::shopify::parse(ignored, order).unwrap(),
                Inbound::Ignore(_)
            ));
        }
    }
}

/// Property tests: hostile company ids and base URLs become addresses
/// under the base URL or are refused, and acting on a survey converges.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::connection::url_properties::hostile;
    use crate::registry::get;
    use proptest::prelude::*;

    fn bases() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("http://127.0.0.1:3000/".to_owned()),
            Just("https://abc.execute-api.us-east-1.amazonaws.com/".to_owned()),
            Just("https://api.example/prod".to_owned()),
            hostile().prop_map(|h| format!("https://api.example/{h}")),
            hostile().prop_map(|h| format!("https://{h}")),
            hostile(),
        ]
    }

    fn platforms() -> impl Strategy<Value = Platform> {
        prop_oneof![
            Just(Platform::Shopify),
            Just(Platform::WooCommerce),
            Just(Platform::BigCommerce)
        ]
    }

    proptest! {
        #[test]
        fn addresses_stay_under_the_base_url(raw in bases(), id in hostile(), p in platforms()) {
            let Ok(b) = base(&raw) else { return Ok(()) };
            prop_assert!(b.query().is_none() && b.fragment().is_none());
            prop_assert!(b.username().is_empty() && b.password().is_none());
            prop_assert!(b.path().ends_with('/'));
            match address(get(p), &b, &id) {
                Ok(a) => {
                    prop_assert!(is_ours(&b, a.as_str()), "{} not under {}", a, b);
                    prop_assert_eq!(a.host(), b.host());
                    prop_assert_eq!(a.query(), None);
                    prop_assert_eq!(a.fragment(), None);
                    let rest = &a.path()[b.path().len()..];
                    let segments: Vec<&str> = rest.split('/').collect();
                    match p {
                        Platform::Shopify => prop_assert_eq!(segments, vec!["webhooks", "shopify"]),
                        Platform::WooCommerce => prop_assert_eq!(segments, vec!["webhooks", "woocommerce", id.as_str()]),
                        Platform::BigCommerce => prop_assert_eq!(segments, vec!["webhooks", "bigcommerce", id.as_str()]),
                    }
                    // What the platform will send back parses to the same address.
                    prop_assert_eq!(Url::parse(a.as_str()).unwrap(), a);
                }
                Err(ConnectError::UnroutableCompanyId(_)) | Err(ConnectError::Platform(PlatformError::InvalidReference { .. })) => {
                    prop_assert!(p != Platform::Shopify);
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }

        #[test]
        fn acting_on_a_survey_converges_and_leaves_others_alone(
            p in platforms(),
            store in proptest::collection::vec(
                (0usize..6, 0usize..4, any::<bool>()),
                0..10,
            ),
        ) {
            let b = base("https://api.example/prod/").unwrap();
            let wanted = wanted(get(p), &b, "seller-1").unwrap();
            let mut topics: Vec<String> = wanted.iter().map(|w| w.topic.clone()).collect();
            topics.push("other.topic".into());
            let addresses = [
                wanted[0].address.to_string(),
                "https://api.example/prod/webhooks/woocommerce/someone-else".to_owned(),
                "https://elsewhere.example/hook".to_owned(),
                "https://api.example/production/webhooks/shopify".to_owned(),
            ];
            let mut listed: Vec<Listed> = store
                .iter()
                .enumerate()
                .map(|(i, (t, a, sound))| Listed {
                    id: i.to_string(),
                    topic: topics[t % topics.len()].clone(),
                    address: addresses[*a].clone(),
                    problems: if *sound { vec![] } else { vec!["inactive".into()] },
                })
                .collect();
            let others: Vec<Listed> = listed.iter().filter(|l| !is_ours(&b, &l.address)).cloned().collect();
            // connect: remove extras, repair the wrong, create the missing.
            let s = survey(&wanted, &listed, &b);
            let mut next = listed.len();
            for e in &s.entries {
                match e.state {
                    State::Extra => listed.retain(|l| Some(&l.id) != e.id.as_ref()),
                    State::Wrong => {
                        for l in listed.iter_mut().filter(|l| Some(&l.id) == e.id.as_ref()) {
                            l.problems.clear();
                        }
                    }
                    State::Missing => {
                        listed.push(Listed { id: next.to_string(), topic: e.topic.clone(), address: e.address.clone(), problems: vec![] });
                        next += 1;
                    }
                    _ => {}
                }
            }
            let after = survey(&wanted, &listed, &b);
            prop_assert!(after.in_place(), "{:#?}", after);
            prop_assert_eq!(after.entries.len(), wanted.len());
            let kept: Vec<Listed> = listed.iter().filter(|l| !is_ours(&b, &l.address)).cloned().collect();
            prop_assert_eq!(&kept, &others);
            // disconnect: remove every one of ours listed.
            for e in &after.entries {
                listed.retain(|l| Some(&l.id) != e.id.as_ref());
            }
            prop_assert_eq!(&listed, &others);
            prop_assert!(survey(&wanted, &listed, &b).entries.iter().all(|e| e.state == State::Missing));
        }
    }
}
