//! The domain's nouns: companies, orders, line items, cancellations, fulfillments.
//! Pure data: no I/O, no clocks, no AWS types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::platform::Platform;
use crate::reasons::ReasonCode;
use crate::role::Role;

/// How a company connects to the marketplace: through its store on a
/// platform, EDI, or the API and app. Serialized as `as_str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integration {
    Store(Platform),
    Edi,
    Api,
}

impl Integration {
    pub fn as_str(self) -> &'static str {
        match self {
            Integration::Store(p) => p.as_str(),
            Integration::Edi => "edi",
            Integration::Api => "api",
        }
    }

    /// The store platform, for a store-connected company.
    pub fn platform(self) -> Option<Platform> {
        match self {
            Integration::Store(p) => Some(p),
            Integration::Edi | Integration::Api => None,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "edi" => Some(Integration::Edi),
            "api" => Some(Integration::Api),
            _ => Platform::parse(s).map(Integration::Store),
        }
    }

    fn names() -> Vec<&'static str> {
        let mut names: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
        names.extend(["edi", "api"]);
        names
    }
}

/// Where a cancellation came from: the app, the API, a company's own store
/// (its platform's webhooks), or EDI. Serialized as `as_str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    App,
    Api,
    Store(Platform),
    Edi,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::App => "app",
            Source::Api => "api",
            Source::Store(p) => p.as_str(),
            Source::Edi => "edi",
        }
    }

    /// The store platform a source stands for, if it is one.
    pub fn platform(self) -> Option<Platform> {
        match self {
            Source::Store(p) => Some(p),
            Source::App | Source::Api | Source::Edi => None,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "app" => Some(Source::App),
            "api" => Some(Source::Api),
            "edi" => Some(Source::Edi),
            _ => Platform::parse(s).map(Source::Store),
        }
    }

    fn names() -> Vec<&'static str> {
        let mut names = vec!["app", "api"];
        names.extend(Platform::ALL.iter().map(|p| p.as_str()));
        names.push("edi");
        names
    }
}

/// `Integration` and `Source` are stored and sent as their `as_str`, one
/// lower-case word (as their derived forms were).
macro_rules! as_str_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                <$t>::parse(&s).ok_or_else(|| crate::platform::unknown_name(&s, &<$t>::names()))
            }
        }
    };
}
as_str_serde!(Integration);
as_str_serde!(Source);

/// Connection details of a store-connected company. The secret fields are
/// filled in memory from the secret store; stored company records hold none
/// (`Company::split_secrets`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
}

/// The secret fields of a connection, kept apart from the company's record
/// (AWS Secrets Manager on AWS, a file of their own locally).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSecrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<String>,
}

impl ConnectionSecrets {
    pub fn is_empty(&self) -> bool {
        *self == ConnectionSecrets::default()
    }
}

impl Connection {
    /// The secret fields.
    pub fn secrets(&self) -> ConnectionSecrets {
        ConnectionSecrets {
            webhook_secret: self.webhook_secret.clone(),
            access_token: self.access_token.clone(),
            consumer_key: self.consumer_key.clone(),
            consumer_secret: self.consumer_secret.clone(),
        }
    }

    /// The connection with its secret fields set to `s`.
    pub fn with_secrets(self, s: ConnectionSecrets) -> Self {
        Connection {
            webhook_secret: s.webhook_secret,
            access_token: s.access_token,
            consumer_key: s.consumer_key,
            consumer_secret: s.consumer_secret,
            ..self
        }
    }
}

impl Company {
    /// The company without its secrets, and the secrets (empty when it has
    /// no connection or no secret).
    pub fn split_secrets(&self) -> (Company, ConnectionSecrets) {
        let mut public = self.clone();
        let secrets = match public.connection.take() {
            Some(conn) => {
                let secrets = conn.secrets();
                public.connection = Some(conn.with_secrets(ConnectionSecrets::default()));
                secrets
            }
            None => ConnectionSecrets::default(),
        };
        (public, secrets)
    }

    /// The company with its connection's secrets set to `s` (nothing to set
    /// on a company without a connection).
    pub fn with_secrets(mut self, s: ConnectionSecrets) -> Self {
        if let Some(conn) = self.connection.take() {
            self.connection = Some(conn.with_secrets(s));
        }
        self
    }
}

/// One of a company's API keys: kept only as its SHA-256 hex digest, named
/// by an id derived from it (the same key always has the same id, so a seed
/// applied twice changes nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub hash: String,
    /// When `dropship keys create` made it; `None` for a key from a seed file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ApiKey {
    pub fn from_hash(
        hash: impl Into<String>,
        created_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Self {
        let hash = hash.into();
        // 48 bits of a digest of a 160-bit key: names it, reveals nothing.
        let id = format!("key_{}", hash.get(..12).unwrap_or(&hash));
        ApiKey {
            id,
            hash,
            created_at,
        }
    }
}

/// A buyer or a seller. API keys are kept only as SHA-256 hex digests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub integration: Integration,
    pub email: String,
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
    /// Where its events are pushed (`webhooks`). Changed only through the
    /// store's endpoint changes, never by replacing the company.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_endpoints: Vec<crate::events::WebhookEndpoint>,
    /// An EDI company's interchange id (ISA05/06 when it sends, ISA07/08
    /// when we send to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edi: Option<EdiIdentity>,
}

/// An EDI company's X12 interchange id and how it writes and reads X12
/// (each setting optional: the defaults are X12's own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdiIdentity {
    /// ISA05/07, e.g. `ZZ` (mutually defined) or `01` (DUNS).
    pub isa_qualifier: String,
    /// ISA06/08, up to 15 characters.
    pub isa_id: String,
    /// Our interchange id as this partner knows us, for documents we start
    /// (replies come from the id the partner addressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub our_isa_qualifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub our_isa_id: Option<String>,
    /// ISA12 of what we write, `00401` unless set (ISA11 is then `U`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isa_version: Option<String>,
    /// The separators we write: `*`, `>`, `~` and `^` unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_separator: Option<char>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_separator: Option<char>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_terminator: Option<char>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_separator: Option<char>,
    /// How its `POC03`/`POC04` read, both ways.
    #[serde(default, skip_serializing_if = "is_default")]
    pub poc_quantities: PocQuantities,
    /// Where its documents name the other party of the order.
    #[serde(default, skip_serializing_if = "is_default")]
    pub partner_named_by: PartnerNamedBy,
    /// The partner's own reason codes (`N9*L1`), ours -> its, both ways;
    /// a code not listed is written in our default X12 form.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reason_codes: BTreeMap<ReasonCode, String>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl EdiIdentity {
    /// An identity with every setting at its default.
    pub fn new(isa_qualifier: &str, isa_id: &str) -> Self {
        Self {
            isa_qualifier: isa_qualifier.to_owned(),
            isa_id: isa_id.to_owned(),
            our_isa_qualifier: None,
            our_isa_id: None,
            isa_version: None,
            element_separator: None,
            component_separator: None,
            segment_terminator: None,
            repetition_separator: None,
            poc_quantities: PocQuantities::default(),
            partner_named_by: PartnerNamedBy::default(),
            reason_codes: BTreeMap::new(),
        }
    }
}

/// How an EDI partner fills `POC03` and `POC04`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PocQuantities {
    /// X12's reading: `POC03` before the change, `POC04` after it.
    #[default]
    BeforeAfter,
    /// `POC03` the new total, `POC04` what is left to receive.
    NewTotal,
}

/// Where an EDI partner's documents name the other party of the order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerNamedBy {
    /// An `N1` party, else the interchange or group receiver.
    #[default]
    Either,
    /// Only the interchange (ISA08) or group (GS03) receiver.
    Receiver,
    /// Only an `N1` party (`BY` in a seller's document, `SE`/`SU`/`VN` in a
    /// buyer's).
    N1,
}

impl Company {
    /// The digests the company's requests authenticate with.
    pub fn key_hashes(&self) -> impl Iterator<Item = &str> {
        self.api_keys.iter().map(|k| k.hash.as_str())
    }
}

/// Absent and zero fields are left out when stored (a stored order is
/// smaller, so a change to it is one write unit more often) and read back
/// as their defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub id: String,
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fulfilled: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cancelled: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_line_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_line_ref: Option<String>,
    /// Units a store platform asked to cancel that were already fulfilled
    /// (absolute, from the latest reconciliation). Zero almost always.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub platform_shortfall: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LineItem {
    /// Units neither fulfilled nor cancelled.
    pub fn open(&self) -> u32 {
        self.quantity
            .saturating_sub(self.fulfilled)
            .saturating_sub(self.cancelled)
    }

    /// Units still meant to be delivered: ordered minus cancelled.
    pub fn active(&self) -> u32 {
        self.quantity.saturating_sub(self.cancelled)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FulfillmentStatus {
    Unfulfilled,
    Partial,
    Fulfilled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CancellationStatus {
    None,
    Partial,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub buyer_id: String,
    pub seller_id: String,
    /// The parties' company names as at the order's creation, kept on the
    /// order so that showing it reads no company. Empty on orders stored
    /// before names were kept (shown as the id).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub buyer_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub seller_name: String,
    #[serde(default)]
    pub buyer_order_ref: Option<String>,
    #[serde(default)]
    pub seller_order_ref: Option<String>,
    /// Optimistic-concurrency version: 1 on creation, +1 on every change.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub line_items: Vec<LineItem>,
}

impl Order {
    pub fn line(&self, id: &str) -> Option<&LineItem> {
        self.line_items.iter().find(|l| l.id == id)
    }

    /// The party a company plays on this order, if any.
    pub fn party_of(&self, company_id: &str) -> Option<Role> {
        if self.buyer_id == company_id {
            Some(Role::Buyer)
        } else if self.seller_id == company_id {
            Some(Role::Seller)
        } else {
            None
        }
    }

    pub fn partner_of(&self, party: Role) -> &str {
        match party {
            Role::Buyer => &self.seller_id,
            Role::Seller => &self.buyer_id,
        }
    }

    /// Units ordered, fulfilled and cancelled over all lines (each line may
    /// hold up to u32::MAX, so the sums are 64-bit and saturate).
    fn totals(&self) -> (u64, u64, u64) {
        let add = |sum: u64, n: u32| sum.saturating_add(u64::from(n));
        self.line_items.iter().fold((0, 0, 0), |(q, f, c), l| {
            (add(q, l.quantity), add(f, l.fulfilled), add(c, l.cancelled))
        })
    }

    pub fn open_units(&self) -> u64 {
        self.line_items
            .iter()
            .fold(0u64, |n, l| n.saturating_add(u64::from(l.open())))
    }

    pub fn fulfillment_status(&self) -> FulfillmentStatus {
        let (q, f, c) = self.totals();
        if f == 0 {
            FulfillmentStatus::Unfulfilled
        } else if f == q.saturating_sub(c) {
            FulfillmentStatus::Fulfilled
        } else {
            FulfillmentStatus::Partial
        }
    }

    pub fn cancellation_status(&self) -> CancellationStatus {
        let (q, _, c) = self.totals();
        if c == 0 {
            CancellationStatus::None
        } else if c == q {
            CancellationStatus::Cancelled
        } else {
            CancellationStatus::Partial
        }
    }

    pub fn is_complete(&self) -> bool {
        self.open_units() == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CancellationKind {
    Order,
    Items,
}

impl CancellationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CancellationKind::Order => "order",
            CancellationKind::Items => "items",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelledItem {
    pub line_item_id: String,
    pub quantity: u32,
    /// Cancellations recorded before codes existed read as `other`.
    #[serde(default = "other")]
    pub reason_code: ReasonCode,
    /// The canceller's note, if any (always one with `other`).
    pub reason: Option<String>,
}

fn other() -> ReasonCode {
    ReasonCode::Other
}

impl CancelledItem {
    /// The reason as a person reads it: the code's label and the note
    /// (the note alone with `other`).
    pub fn reason_text(&self) -> String {
        match (self.reason_code, &self.reason) {
            (ReasonCode::Other, Some(note)) => note.clone(),
            (code, Some(note)) => format!("{}: {note}", code.label()),
            (code, None) => code.label().to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub id: String,
    pub order_id: String,
    pub initiated_by: Role,
    pub source: Source,
    pub kind: CancellationKind,
    pub items: Vec<CancelledItem>,
    pub created_at: DateTime<Utc>,
}

impl Cancellation {
    /// The codes of its items, each once, in item order.
    pub fn reason_codes(&self) -> Vec<ReasonCode> {
        let mut codes = Vec::new();
        for i in &self.items {
            if !codes.contains(&i.reason_code) {
                codes.push(i.reason_code);
            }
        }
        codes
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilledItem {
    pub line_item_id: String,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfillment {
    pub id: String,
    pub order_id: String,
    pub items: Vec<FulfilledItem>,
    pub tracking_number: Option<String>,
    pub carrier: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The order with its version bumped, as of `now`: the base of every change.
pub(crate) fn next_version(order: &Order, now: DateTime<Utc>) -> Order {
    let mut next = order.clone();
    next.version = order.version + 1;
    next.updated_at = now;
    next
}

/// A line of a new order, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub id: String,
    pub sku: String,
    pub title: Option<String>,
    pub quantity: i64,
    pub unit_price: Option<String>,
    pub buyer_line_ref: Option<String>,
    pub seller_line_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub buyer_order_ref: Option<String>,
    pub seller_order_ref: Option<String>,
    pub line_items: Vec<NewLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(q: u32, f: u32, c: u32) -> LineItem {
        LineItem {
            id: "li".into(),
            sku: "s".into(),
            title: None,
            quantity: q,
            fulfilled: f,
            cancelled: c,
            unit_price: None,
            buyer_line_ref: None,
            seller_line_ref: None,
            platform_shortfall: 0,
        }
    }

    fn order(lines: Vec<LineItem>) -> Order {
        Order {
            id: "o".into(),
            buyer_id: "b".into(),
            seller_id: "s".into(),
            buyer_name: String::new(),
            seller_name: String::new(),
            buyer_order_ref: None,
            seller_order_ref: None,
            version: 1,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
            line_items: lines,
        }
    }

    #[test]
    fn statuses_follow_the_contract_example() {
        // 1 fulfilled and 2 cancelled of 3 is fulfilled / partial / complete.
        let o = order(vec![line(3, 1, 2)]);
        assert_eq!(o.fulfillment_status(), FulfillmentStatus::Fulfilled);
        assert_eq!(o.cancellation_status(), CancellationStatus::Partial);
        assert!(o.is_complete());
    }

    #[test]
    fn statuses_of_fresh_partial_and_cancelled_orders() {
        let o = order(vec![line(2, 0, 0), line(1, 0, 0)]);
        assert_eq!(o.fulfillment_status(), FulfillmentStatus::Unfulfilled);
        assert_eq!(o.cancellation_status(), CancellationStatus::None);
        assert!(!o.is_complete());

        let o = order(vec![line(2, 1, 0), line(1, 0, 0)]);
        assert_eq!(o.fulfillment_status(), FulfillmentStatus::Partial);

        let o = order(vec![line(2, 0, 2), line(1, 0, 1)]);
        assert_eq!(o.fulfillment_status(), FulfillmentStatus::Unfulfilled);
        assert_eq!(o.cancellation_status(), CancellationStatus::Cancelled);
        assert!(o.is_complete());
    }

    #[test]
    fn open_and_active_units() {
        let l = line(5, 2, 1);
        assert_eq!(l.open(), 2);
        assert_eq!(l.active(), 4);
    }

    #[test]
    fn secrets_split_off_and_back() {
        let c = Company {
            id: "s1".into(),
            name: "S".into(),
            role: Role::Seller,
            integration: Integration::Store(Platform::WooCommerce),
            email: "s@example.com".into(),
            api_keys: vec![],
            connection: Some(Connection {
                site_url: Some("https://shop.example".into()),
                webhook_secret: Some("whsec".into()),
                consumer_key: Some("ck".into()),
                consumer_secret: Some("cs".into()),
                ..Connection::default()
            }),
            webhook_endpoints: Vec::new(),
            edi: None,
        };
        let (public, secrets) = c.split_secrets();
        let conn = public.connection.as_ref().unwrap();
        assert_eq!(conn.site_url.as_deref(), Some("https://shop.example"));
        assert!(conn.secrets().is_empty());
        assert_eq!(secrets.consumer_secret.as_deref(), Some("cs"));
        assert_eq!(public.with_secrets(secrets), c);
        let plain = Company {
            connection: None,
            ..c
        };
        assert_eq!(
            plain.split_secrets(),
            (plain.clone(), ConnectionSecrets::default())
        );
    }
}
