//! What a store platform is to the rest of the service, as one trait. The
//! webhook intake, the local outbox, the store sync, the platform reader
//! and `dropship connect` all go through it (`registry` gives each
//! platform's), so none of them knows a platform's specifics.

use domain::transport::TransportRefusal;
use domain::{Platform, sync::SyncPlan};
use serde_json::Value;
use url::Url;

use crate::signature::{token_matches, verify_hmac_sha256_base64};
use crate::{Inbound, PlatformError};

#[cfg(feature = "client")]
use crate::http::{Call, PlatformHttp};
#[cfg(feature = "client")]
use crate::subscriptions::Subscriptions;
#[cfg(feature = "client")]
use domain::{Connection, PlatformId, inbound::LineChange, inbound::PlatformOrder};

/// A webhook delivery as the intake received it: its body and a look-up of
/// its headers by lower-case name.
pub struct Delivery<'a> {
    pub body: &'a [u8],
    pub headers: &'a (dyn Fn(&str) -> Option<&'a str> + Sync),
}

impl<'a> Delivery<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        (self.headers)(name)
    }
}

/// How a delivery names the company it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender<'a> {
    /// A shop domain sent in a header (lower case), if sent.
    Shop(Option<String>),
    /// The company id in the route.
    Id(&'a str),
}

/// How a platform proves a delivery is its own.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// `base64(HMAC-SHA256(secret, body))`, as sent.
    Hmac(Option<&'a str>),
    /// The secret itself, sent back in a header.
    Token(Option<&'a str>),
}

impl<'a> Credential<'a> {
    /// What the delivery sent, if anything.
    pub fn given(self) -> Option<&'a str> {
        match self {
            Credential::Hmac(v) | Credential::Token(v) => v,
        }
    }

    /// Whether it proves `secret` for `body`: the same work whatever was sent.
    pub fn matches(self, secret: &str, body: &[u8]) -> bool {
        match self {
            Credential::Hmac(sig) => {
                verify_hmac_sha256_base64(secret, body, sig.unwrap_or_default())
            }
            Credential::Token(token) => token_matches(secret, token.unwrap_or_default()),
        }
    }
}

/// The requests a store-sync plan stands for, without secrets, and a note
/// of what is decided only when they are sent (the local outbox's record).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub requests: Vec<Value>,
    pub note: String,
}

/// What a recorded request shows in place of a credential.
pub(crate) const REDACTED: &str = "<redacted>";

/// One store platform: how its webhooks are routed, authenticated, parsed
/// and de-duplicated, which webhook subscriptions it should have, and (with
/// `client`) how its orders are read back and updated and its
/// subscriptions managed.
pub trait StorePlatform: Send + Sync {
    fn kind(&self) -> Platform;

    /// The intake's route template (`/webhooks/{id}`, with
    /// `/{company_id}` when the path names the company).
    fn route(&self) -> &'static str;

    /// Whether the route carries the company id (else the delivery names
    /// the company some other way, `sender`).
    fn company_in_path(&self) -> bool {
        true
    }

    /// Who the delivery says it is for (`path_id`: the route's company id).
    fn sender<'a>(&self, _d: &Delivery<'a>, path_id: Option<&'a str>) -> Sender<'a> {
        Sender::Id(path_id.unwrap_or_default())
    }

    /// The delivery's proof of origin, from its headers.
    fn credential<'a>(&self, d: &Delivery<'a>) -> Credential<'a>;

    /// An unsigned test delivery, answered before any authentication.
    fn is_ping(&self, _body: &[u8]) -> bool {
        false
    }

    /// When the platform says it sent the delivery (epoch seconds), if it
    /// says: a delivery older than its retries is a replay.
    fn sent_at(&self, _body: &[u8]) -> Option<i64> {
        None
    }

    /// What a verified delivery asks of us.
    fn parse(&self, d: &Delivery<'_>) -> Result<Inbound, serde_json::Error>;

    /// The key that makes a delivery's processing happen once.
    fn delivery_key(&self, d: &Delivery<'_>) -> String;

    /// The key alone does not tell two changes apart (the payload names
    /// only the order): it is completed with the state read back.
    fn keyed_by_state(&self) -> bool {
        false
    }

    /// Orders named by a delivery can be read back from the platform.
    fn reads_back(&self) -> bool {
        true
    }

    /// The topics (or scopes) our webhooks are registered for.
    fn topics(&self) -> &'static [&'static str];

    /// A webhook address the platform would refuse.
    fn check_destination(&self, _address: &Url) -> Result<(), TransportRefusal> {
        Ok(())
    }

    /// The requests `plan` stands for, for the local outbox.
    fn recorded(&self, plan: &SyncPlan) -> Result<Recorded, PlatformError>;

    /// Read an order's current state (`reads_back`); `change` is what the
    /// delivery reported, kept should the order still be open.
    #[cfg(feature = "client")]
    fn read_order<'a>(
        &'a self,
        http: &'a PlatformHttp,
        conn: &'a Connection,
        order_ref: PlatformId,
        change: &'a LineChange,
    ) -> Call<'a, Option<PlatformOrder>>;

    /// Carry out a store-sync plan; returns what was done, in words.
    /// `note` (one line, `outbound::store_note`) is written where the
    /// platform keeps staff notes, once however often the plan is retried;
    /// a platform whose plan carries its own note ignores it.
    #[cfg(feature = "client")]
    fn apply<'a>(
        &'a self,
        http: &'a PlatformHttp,
        plan: &'a SyncPlan,
        note: Option<&'a str>,
    ) -> Call<'a, String>;

    /// Its webhook-subscription API (`dropship connect`).
    #[cfg(feature = "client")]
    fn subscriptions(&self) -> &dyn Subscriptions;
}

/// A plan's action the platform does not take.
pub(crate) fn unsupported(platform: &'static str, what: &str) -> PlatformError {
    PlatformError::InvalidReference {
        platform,
        detail: format!("{platform} does not take {what}"),
    }
}
