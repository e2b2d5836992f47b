//! Store platforms (Shopify, WooCommerce, BigCommerce): where their APIs
//! are, and the shared HTTP client that calls them.

pub mod bigcommerce;
pub mod http;
pub mod outbound;
pub mod shopify;
pub mod woocommerce;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Deserializer};
use sha2::Sha256;

use crate::domain::Connection;
pub use http::{PlatformError, PlatformHttp, RetryPolicy};

/// An order as a store platform reports it now: absolute quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOrder {
    /// The platform's order id (matched against `*_order_ref`).
    pub order_ref: String,
    /// What the platform says of the order as a whole. Read from the signed
    /// body or the platform's API only, never from a delivery header.
    pub state: OrderState,
    /// (platform line id, current quantity).
    pub lines: Vec<(String, u32)>,
    /// The payload lists every line, so a mapped line that is missing was
    /// removed (quantity 0). Otherwise missing lines are left alone.
    pub complete_line_list: bool,
}

impl PlatformOrder {
    /// The platform reports the whole order cancelled (or refunded).
    pub fn cancelled(&self) -> bool {
        self.state.is_whole_order()
    }

    /// The reason recorded on the cancellation this state leads to.
    pub fn reason(&self) -> String {
        self.state.reason()
    }
}

/// A store platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Shopify,
    WooCommerce,
    BigCommerce,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Shopify => "Shopify",
            Platform::WooCommerce => "WooCommerce",
            Platform::BigCommerce => "BigCommerce",
        }
    }
}

/// The state of an order as its platform reports it, and so the reason of
/// what we cancel. Whole-order cancellation is one of its variants, so the
/// decision and its reason cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// The whole order is cancelled (Shopify `cancelled_at` set, WooCommerce
    /// `cancelled`, BigCommerce status 5).
    Cancelled(Platform, CancelCause),
    /// The whole order is refunded (WooCommerce `refunded`, BigCommerce 4).
    Refunded(Platform),
    /// The order is open; some line quantities may have gone down.
    Open(Platform, LineChange),
}

/// Why a platform says an order was cancelled (Shopify's `cancel_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelCause {
    Customer,
    Fraud,
    Inventory,
    Declined,
    Staff,
    /// `other`, a value we do not know, or none given.
    Other,
}

impl CancelCause {
    /// Shopify's `cancel_reason` (REST lower case, GraphQL upper case).
    pub fn from_shopify(reason: Option<&str>) -> Self {
        match reason.map(str::to_ascii_lowercase).as_deref() {
            Some("customer") => CancelCause::Customer,
            Some("fraud") => CancelCause::Fraud,
            Some("inventory") => CancelCause::Inventory,
            Some("declined") => CancelCause::Declined,
            Some("staff") => CancelCause::Staff,
            _ => CancelCause::Other,
        }
    }

    fn text(self) -> &'static str {
        match self {
            CancelCause::Customer => "the customer cancelled",
            CancelCause::Fraud => "fraudulent order",
            CancelCause::Inventory => "items unavailable",
            CancelCause::Declined => "payment declined",
            CancelCause::Staff => "staff error",
            CancelCause::Other => "other",
        }
    }
}

/// What changed on an open order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineChange {
    /// Shopify `orders/updated`.
    OrderUpdated,
    /// Shopify `orders/edited`.
    OrderEdited,
    /// Shopify `refunds/create`, with the refund's note if any.
    Refunded { note: Option<String> },
    /// A WooCommerce or BigCommerce order change.
    QuantityUpdated,
}

impl OrderState {
    pub fn is_whole_order(&self) -> bool {
        matches!(self, OrderState::Cancelled(..) | OrderState::Refunded(_))
    }

    pub fn reason(&self) -> String {
        match self {
            OrderState::Cancelled(Platform::Shopify, cause) => {
                format!("Order cancelled in Shopify ({})", cause.text())
            }
            OrderState::Cancelled(p, _) => format!("Order cancelled in {}", p.name()),
            OrderState::Refunded(p) => format!("Order refunded in {}", p.name()),
            OrderState::Open(p, LineChange::OrderUpdated) => {
                format!("Order updated in {}", p.name())
            }
            OrderState::Open(p, LineChange::OrderEdited) => format!("Order edited in {}", p.name()),
            OrderState::Open(p, LineChange::Refunded { note }) => match note {
                Some(n) => format!("Refunded in {}: {n}", p.name()),
                None => format!("Refunded in {}", p.name()),
            },
            OrderState::Open(p, LineChange::QuantityUpdated) => {
                format!("Quantity updated in {}", p.name())
            }
        }
    }
}

/// What a verified webhook delivery asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// The payload carries the order's current state.
    Order(PlatformOrder),
    /// The payload names the order; its state must be fetched. `change` is
    /// what the delivery reports, should the fetched order still be open.
    Fetch {
        order_ref: String,
        change: LineChange,
    },
    /// A topic or payload we deliberately do not act on.
    Ignore(String),
}

/// `base64(HMAC-SHA256(secret, body))`, compared in constant time. The MAC
/// is computed before the signature is looked at, so a malformed signature
/// costs the same work as a wrong one.
pub fn verify_hmac_sha256_base64(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    let Ok(expected) = BASE64.decode(signature.trim()) else {
        return false;
    };
    mac.verify_slice(&expected).is_ok()
}

/// A token sent back verbatim (BigCommerce's `X-Webhook-Token`), compared
/// in constant time. Digests are compared, so neither the secret's length
/// nor a common prefix shows in the timing.
pub fn token_matches(secret: &str, token: &str) -> bool {
    use sha2::Digest;
    use subtle::ConstantTimeEq;
    let a = Sha256::digest(secret.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice())) && !token.is_empty()
}

/// Sign a body the way Shopify and WooCommerce do (for tests and samples).
pub fn sign_hmac_sha256_base64(secret: &str, body: &[u8]) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            BASE64.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Platform ids arrive as JSON numbers or strings; keep them as strings.
pub(crate) fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        N(u64),
        S(String),
    }
    Ok(match Id::deserialize(d)? {
        Id::N(n) => n.to_string(),
        Id::S(s) => s,
    })
}

/// A quantity that may arrive as a number or a numeric string; negative
/// values count as zero.
pub(crate) fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Q {
        N(i64),
        S(String),
    }
    let n = match Q::deserialize(d)? {
        Q::N(n) => n,
        Q::S(s) => s.trim().parse().map_err(serde::de::Error::custom)?,
    };
    Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

/// The Shopify Admin API version every call and document targets.
pub const SHOPIFY_API_VERSION: &str = "2025-10";

fn trimmed(base: &str) -> String {
    base.trim_end_matches('/').to_owned()
}

fn field<'a>(
    platform: &'static str,
    name: &'static str,
    v: &'a Option<String>,
) -> Result<&'a str, PlatformError> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or(PlatformError::MissingConnection {
            platform,
            field: name,
        })
}

/// `{api_base_url or https://{shop_domain}}/admin/api/2025-10/graphql.json`
pub fn shopify_graphql_url(c: &Connection) -> Result<String, PlatformError> {
    let base = match &c.api_base_url {
        Some(b) => trimmed(b),
        None => format!(
            "https://{}",
            field("shopify", "shop_domain", &c.shop_domain)?
        ),
    };
    Ok(format!(
        "{base}/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
    ))
}

/// `{api_base_url or site_url}/wp-json/wc/v3/orders/{id}`
pub fn woocommerce_order_url(c: &Connection, order_id: &str) -> Result<String, PlatformError> {
    let base = match &c.api_base_url {
        Some(b) => trimmed(b),
        None => trimmed(field("woocommerce", "site_url", &c.site_url)?),
    };
    Ok(format!("{base}/wp-json/wc/v3/orders/{order_id}"))
}

/// `{api_base_url or https://api.bigcommerce.com}/stores/{hash}/v2/orders/{id}`
pub fn bigcommerce_order_url(c: &Connection, order_id: &str) -> Result<String, PlatformError> {
    let base = c
        .api_base_url
        .as_deref()
        .map_or_else(|| "https://api.bigcommerce.com".to_owned(), trimmed);
    let hash = field("bigcommerce", "store_hash", &c.store_hash)?;
    Ok(format!("{base}/stores/{hash}/v2/orders/{order_id}"))
}

/// The secret a connection's webhooks are verified with.
pub fn webhook_secret<'a>(
    platform: &'static str,
    c: &'a Connection,
) -> Result<&'a str, PlatformError> {
    field(platform, "webhook_secret", &c.webhook_secret)
}

pub fn access_token<'a>(
    platform: &'static str,
    c: &'a Connection,
) -> Result<&'a str, PlatformError> {
    field(platform, "access_token", &c.access_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_signatures() {
        let sig = sign_hmac_sha256_base64("secret", b"{}");
        assert!(verify_hmac_sha256_base64("secret", b"{}", &sig));
        assert!(!verify_hmac_sha256_base64("other", b"{}", &sig));
        assert!(!verify_hmac_sha256_base64("secret", b"{ }", &sig));
        assert!(!verify_hmac_sha256_base64("secret", b"{}", "not base64!"));
        assert!(!verify_hmac_sha256_base64("secret", b"{}", ""));
    }

    #[test]
    fn tokens() {
        assert!(token_matches("demo-bc-secret", "demo-bc-secret"));
        assert!(!token_matches("demo-bc-secret", "demo-bc-secreT"));
        assert!(!token_matches("demo-bc-secret", "demo-bc-secret "));
        assert!(!token_matches("demo-bc-secret", ""));
        assert!(!token_matches("", ""));
    }

    #[test]
    fn urls_follow_the_connection() {
        let mut c = Connection {
            shop_domain: Some("pine.myshopify.com".into()),
            site_url: Some("https://cedar.example/".into()),
            store_hash: Some("abc".into()),
            ..Connection::default()
        };
        assert_eq!(
            shopify_graphql_url(&c).unwrap(),
            "https://pine.myshopify.com/admin/api/2025-10/graphql.json"
        );
        assert_eq!(
            woocommerce_order_url(&c, "7").unwrap(),
            "https://cedar.example/wp-json/wc/v3/orders/7"
        );
        assert_eq!(
            bigcommerce_order_url(&c, "9").unwrap(),
            "https://api.bigcommerce.com/stores/abc/v2/orders/9"
        );
        c.api_base_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(
            shopify_graphql_url(&c).unwrap(),
            "http://127.0.0.1:9/admin/api/2025-10/graphql.json"
        );
        assert_eq!(
            woocommerce_order_url(&c, "7").unwrap(),
            "http://127.0.0.1:9/wp-json/wc/v3/orders/7"
        );
        assert_eq!(
            bigcommerce_order_url(&c, "9").unwrap(),
            "http://127.0.0.1:9/stores/abc/v2/orders/9"
        );
        let empty = Connection::default();
        assert!(matches!(
            shopify_graphql_url(&empty),
            Err(PlatformError::MissingConnection {
                field: "shop_domain",
                ..
            })
        ));
        assert!(webhook_secret("shopify", &empty).is_err());
    }
}
