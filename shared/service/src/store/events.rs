//! The event log role: a company's webhook endpoints and the events
//! recorded for them (see `webhooks`).

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use domain::events::{
    EndpointChange, EndpointChanged, EndpointRefusal, EventType, WebhookEndpoint,
};

use crate::error::StoreError;
use crate::records::IdempotencyRecord;

/// An event as recorded: its exact body is what is delivered and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: String,
    pub company_id: String,
    pub event_type: EventType,
    pub created_at: DateTime<Utc>,
    /// The order it is about (its ledger records live there).
    pub order_id: String,
    /// The JSON delivered, byte for byte.
    pub body: String,
}

/// The answer to `record_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    New(EventRecord),
    /// Recorded earlier under the same key: that one is the event.
    Existing(EventRecord),
}

impl Recorded {
    pub fn event(&self) -> &EventRecord {
        match self {
            Recorded::New(e) | Recorded::Existing(e) => e,
        }
    }
}

/// Endpoints and the event log as stored.
pub trait WebhookStore: Send + Sync + 'static {
    /// Apply `change` to the company's endpoints atomically (read, apply
    /// `domain::events::change_endpoints`, write only if nothing changed
    /// meanwhile). `Ok(Err(NotFound))` also when there is no such company.
    fn change_endpoints(
        &self,
        company_id: &str,
        change: &EndpointChange,
    ) -> impl Future<Output = Result<Result<EndpointChanged, EndpointRefusal>, StoreError>> + Send;

    /// Add `endpoint` (`EndpointChange::Add`) and, in the same write,
    /// `record`: the idempotency record of the request that adds it, so
    /// the key is taken exactly when the endpoint exists. A key the
    /// company holds already (unexpired) is `IdempotencyKeyExists`, with
    /// the stored record where the store can, and nothing is added.
    fn add_endpoint(
        &self,
        company_id: &str,
        endpoint: &WebhookEndpoint,
        record: Option<&IdempotencyRecord>,
    ) -> impl Future<Output = Result<Result<EndpointChanged, EndpointRefusal>, StoreError>> + Send;

    /// Record `event` unless an event was recorded under `dedupe` for the
    /// same company already, in which case that one is returned. Kept
    /// until `keep_until` at least.
    fn record_event(
        &self,
        event: &EventRecord,
        dedupe: &str,
        keep_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    fn event(
        &self,
        company_id: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<Option<EventRecord>, StoreError>> + Send;

    /// The company's events recorded after the event `after`, in the order
    /// they were recorded (each takes the next place in its company's log
    /// in the write that records it, so a reader paging with `after` never
    /// passes over one committed late), at most `limit`; `true` when more
    /// follow. `None` when `after` names no event of the company's that
    /// the store keeps.
    fn events_after(
        &self,
        company_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Option<(Vec<EventRecord>, bool)>, StoreError>> + Send;
}
