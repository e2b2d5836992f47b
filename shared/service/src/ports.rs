//! The ports the use cases reach beyond the store: EDI's control numbers and
//! outbound folder, webhook deliveries' queue, sender, resolver and signing
//! key, and the bundles `EventsService`, `EdiService` and `Notifier` hold
//! them in. Below every use case, so the services and the notifier depend
//! on them and not on each other.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use domain::events::UrlPolicy;
use edi::IsaId;

pub use crate::store::Pending;
use crate::store::{SentDocuments, StoreError};

/// A delivery to make: the first attempt of a ping, or a later attempt of
/// an event whose earlier one failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryTask {
    pub company_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    /// The attempt this task makes (2 = the first retry).
    pub attempt: u32,
    /// Not before this time.
    pub due_at: DateTime<Utc>,
    /// A ping's body (pings are not kept in the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping: Option<String>,
}

#[derive(Debug, Error)]
#[error("the delivery queue failed: {0}")]
pub struct QueueError(pub String);

/// Where delivery tasks wait until due. Adapters: an SQS queue (AWS; delays
/// past its 15-minute limit are waited out in hops), a table of the
/// embedded store (local).
pub trait DeliveryQueue: Send + Sync + 'static {
    fn schedule<'a>(&'a self, task: &'a DeliveryTask) -> Pending<'a, (), QueueError>;
}

/// One signed POST to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub url: String,
    pub event_id: String,
    /// `Dropship-Signature`.
    pub signature: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    /// The URL may not be called now (its name resolves to a non-public
    /// address, or not at all).
    #[error("refused: {0}")]
    Refused(String),
    /// No answer, a timeout, a connection refused.
    #[error("{0}")]
    Failed(String),
}

/// The HTTP side of deliveries. Adapter: `event_sender::HttpSender` (public
/// addresses only, checked again on every connection; a short timeout; no
/// redirects; a response read only as far as a small limit).
pub trait WebhookSender: Send + Sync + 'static {
    /// POST the delivery; the status it was answered with.
    fn send<'a>(&'a self, delivery: &'a Delivery) -> Pending<'a, u16, SendError>;
}

/// Resolves an endpoint's host name at registration.
pub trait Resolver: Send + Sync + 'static {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Pending<'a, Vec<IpAddr>, ResolveError>;
}

/// The key endpoint secrets are derived from (`endpoint_secret`).
pub trait SigningKeys: Send + Sync + 'static {
    fn key(&self) -> Pending<'_, Arc<[u8]>, KeyError>;
}

/// What the API needs for webhooks: where URLs may point, how names
/// resolve, the signing key, and the queue pings go to.
#[derive(Clone)]
pub struct WebhookPorts {
    pub policy: UrlPolicy,
    pub resolver: Arc<dyn Resolver>,
    pub keys: Arc<dyn SigningKeys>,
    pub queue: Arc<dyn DeliveryQueue>,
}

/// What the notifier needs to deliver: the same, and the HTTP sender.
#[derive(Clone)]
pub struct DeliveryPorts {
    pub policy: UrlPolicy,
    pub sender: Arc<dyn WebhookSender>,
    pub keys: Arc<dyn SigningKeys>,
    pub queue: Arc<dyn DeliveryQueue>,
}

/// Interchange control numbers per partner: each call a number never
/// given out for that partner before (1 to 999 999 999).
pub trait ControlNumbers: Send + Sync + 'static {
    fn next<'a>(&'a self, company_id: &'a str) -> Pending<'a, u32, NumberError>;
}

/// Where documents for a company are put: `outbound/<company>/<name>` of
/// the EDI folder (local) or bucket (AWS).
pub trait EdiOutbox: Send + Sync + 'static {
    fn put<'a>(
        &'a self,
        company_id: &'a str,
        name: &'a str,
        bytes: &'a [u8],
    ) -> Pending<'a, String, OutboxError>;
}

/// What EDI needs: our interchange id (`DROPSHIP_ISA_ID`), control numbers,
/// the outbound folder, the record of what we sent.
#[derive(Clone)]
pub struct EdiPorts {
    pub our_id: IsaId,
    pub numbers: Arc<dyn ControlNumbers>,
    pub outbox: Arc<dyn EdiOutbox>,
    pub sent: Arc<dyn SentDocuments>,
    /// How long partners have to acknowledge what we send (997).
    pub ack_window: chrono::Duration,
}

/// Why a host name gave no addresses.
#[derive(Debug, Error)]
#[error("{host} does not resolve: {source}")]
pub struct ResolveError {
    pub host: String,
    #[source]
    pub source: std::io::Error,
}

/// The shortest signing key accepted, in bytes (as used, whitespace
/// around it trimmed): no shorter than the HMAC-SHA256 output it keys.
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

/// Why a signing key is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SigningKeyError {
    #[error("the webhook signing key is empty")]
    Empty,
    #[error("the webhook signing key is {0} bytes; at least {MIN_SIGNING_KEY_BYTES} are needed")]
    TooShort(usize),
}

/// Why the signing key could not be had.
#[derive(Debug, Error)]
pub enum KeyError {
    /// Where it is kept did not answer; a later read may succeed.
    #[error(transparent)]
    Unavailable(#[from] crate::secrets::SecretError),
    /// What is kept there is no usable key.
    #[error("{secret}: {source}")]
    Unusable {
        secret: String,
        #[source]
        source: SigningKeyError,
    },
}

/// Why no control number was given out.
#[derive(Debug, Error)]
pub enum NumberError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The counter holds no number in the range (1 to 999 999 999).
    #[error("control numbers of {0}: no usable number")]
    Unusable(String),
}

/// Why a document was not put in a company's outbound folder.
#[derive(Debug, Error)]
pub enum OutboxError {
    /// The company or file name cannot name a file there (the message
    /// says which).
    #[error("{0}")]
    UnsafeName(String),
    /// Writing failed; a later attempt may succeed.
    #[error("{0}")]
    Failed(String),
}
