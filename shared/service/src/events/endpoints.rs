//! The endpoints-and-events service: register, list, delete and test a
//! company's endpoints, and read its event log.

use std::ops::Deref;
use std::sync::Arc;

use thiserror::Error;

use domain::Company;
use domain::events::{
    CheckedUrl, EndpointChange, EndpointChanged, EndpointRefusal, EndpointStatus, EventsRefusal,
    UrlHost, UrlRefusal, WebhookEndpoint, address_allowed, check_url, normalize_events,
};

use super::{
    DeliveryTask, EventRecord, MAX_EVENT_PAGE, WebhookPorts, WebhookStore, endpoint_secret,
    new_event_id, ping,
};
use crate::app::{AppError, Core, Idempotency, Idempotent, Outcome, key_of, sha256_hex};
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum WebhookError {
    #[error(transparent)]
    Url(#[from] UrlRefusal),
    #[error(transparent)]
    Events(#[from] EventsRefusal),
    #[error(transparent)]
    Endpoints(#[from] EndpointRefusal),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("the event cursor is not one this service gave out")]
    BadCursor,
    #[error(
        "after names no event in your log (events are kept 35 days); leave it out to read from the oldest"
    )]
    CursorNotKept,
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WebhookError {
    /// An idempotency outcome of the shared rule (`Core::stored_reply`).
    fn from_app(e: AppError) -> Self {
        match e {
            AppError::IdempotencyKeyReused => WebhookError::IdempotencyKeyReused,
            AppError::Store(s) => WebhookError::Store(s),
            // The key's record expired in between: a retry acts anew.
            other => WebhookError::Unavailable(other.to_string()),
        }
    }
}

/// A registration request, as parsed by the HTTP layer.
#[derive(Debug, Clone)]
pub struct EndpointRequest {
    pub url: String,
    pub events: Vec<String>,
}

/// A registered endpoint with its secret (shown to its creator only).
#[derive(Debug, Clone)]
pub struct CreatedEndpoint {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
    /// An earlier request with the same `Idempotency-Key` created it.
    pub replayed: bool,
}

/// A page of the event log.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<EventRecord>,
    /// The last event's id when more follow.
    pub next: Option<String>,
}

fn random_salt() -> String {
    hex::encode(super::random_bytes::<16>())
}

/// The endpoint created under the idempotency key digest `d`, if any.
fn made_with(endpoints: &[WebhookEndpoint], d: &str) -> Option<WebhookEndpoint> {
    endpoints
        .iter()
        .find(|e| e.created_by_key.as_deref() == Some(d))
        .cloned()
}

/// A company's webhook endpoints and its event log, over the core the
/// host's other services share and the ports the API needs for webhooks.
pub struct EventsService<S> {
    core: Arc<Core<S>>,
    ports: WebhookPorts,
}

impl<S> EventsService<S> {
    pub fn new(core: Arc<Core<S>>, ports: WebhookPorts) -> Self {
        EventsService { core, ports }
    }
}

impl<S> Deref for EventsService<S> {
    type Target = Core<S>;

    fn deref(&self) -> &Core<S> {
        &self.core
    }
}

impl<S: Store + WebhookStore> EventsService<S> {
    /// Is `url` one deliveries may go to? Its form, then (for a name)
    /// every address it resolves to now; delivery checks again.
    async fn check_endpoint_url(&self, url: &str) -> Result<CheckedUrl, WebhookError> {
        let ports = &self.ports;
        let checked = check_url(url, ports.policy)?;
        if let UrlHost::Name(name) = &checked.host {
            let addrs = ports
                .resolver
                .resolve(name, checked.port)
                .await
                .map_err(|_| UrlRefusal::Unresolved(name.clone()))?;
            if addrs.is_empty() {
                return Err(UrlRefusal::Unresolved(name.clone()).into());
            }
            if let Some(bad) = addrs.iter().find(|a| !address_allowed(**a, ports.policy)) {
                tracing::info!(host = %name, address = %bad, "webhook URL refused: a non-public address");
                return Err(UrlRefusal::NotPublic(name.clone()).into());
            }
        }
        Ok(checked)
    }

    async fn secret_of(&self, company: &str, e: &WebhookEndpoint) -> Result<String, WebhookError> {
        let key = self
            .ports
            .keys
            .key()
            .await
            .map_err(|e| WebhookError::Unavailable(e.to_string()))?;
        Ok(endpoint_secret(&key, company, &e.id, &e.salt))
    }

    /// Register an endpoint. With an `Idempotency-Key`, the key's record
    /// is written with the endpoint, both or neither (the API's one rule):
    /// a retry of the same request answers the endpoint it created, secret
    /// included; a key the company used for any other request is refused
    /// and nothing is added. The kept answer is rendered from the endpoint
    /// alone, so it never holds the secret.
    pub async fn create_endpoint(
        &self,
        company: &Company,
        req: EndpointRequest,
        keyed: Option<Idempotent<'_, WebhookEndpoint>>,
    ) -> Result<Outcome<CreatedEndpoint>, WebhookError> {
        let idem = key_of(keyed);
        let key_digest = idem.map(|i| sha256_hex(i.key.as_bytes()));
        // Read afresh: the company an API key finds may not carry endpoints.
        if let Some(d) = &key_digest
            && let Some(e) = made_with(&self.endpoints(company).await?, d)
        {
            return self
                .created_again(company, &e, idem)
                .await
                .map(Outcome::Done);
        }
        let events = normalize_events(&req.events)?;
        let checked = self.check_endpoint_url(&req.url).await?;
        let endpoint = WebhookEndpoint {
            id: crate::app::new_id("we"),
            url: checked.url,
            events,
            status: EndpointStatus::Enabled,
            created_at: crate::app::now(),
            salt: random_salt(),
            created_by_key: key_digest.clone(),
            request_fingerprint: idem.map(|i| i.fingerprint.clone()),
            failing_since: None,
            disabled_at: None,
            lease: None,
            pinged_at: None,
        };
        let record = keyed.map(|k| self.record(company, k.key, (k.reply)(&endpoint)));
        let added = match self
            .store
            .add_endpoint(&company.id, &endpoint, record.as_ref())
            .await
        {
            Ok(added) => added?,
            Err(StoreError::IdempotencyKeyExists { stored }) => {
                let rec = self
                    .stored_reply(company, idem, stored)
                    .await
                    .map_err(WebhookError::from_app)?;
                // The same request, made meanwhile: its endpoint while it lasts.
                let made = match &key_digest {
                    Some(d) => made_with(&self.endpoints(company).await?, d),
                    None => None,
                };
                return match made {
                    Some(e) => self
                        .created_again(company, &e, idem)
                        .await
                        .map(Outcome::Done),
                    None => Ok(Outcome::Replayed(rec)),
                };
            }
            Err(e) => return Err(e.into()),
        };
        let endpoint = match added {
            EndpointChanged::Added(e) => e,
            EndpointChanged::Existing(e) => {
                return self
                    .created_again(company, &e, idem)
                    .await
                    .map(Outcome::Done);
            }
            other => {
                return Err(
                    StoreError::Internal(format!("adding an endpoint answered {other:?}")).into(),
                );
            }
        };
        let secret = self.secret_of(&company.id, &endpoint).await?;
        tracing::info!(company_id = %company.id, endpoint_id = %endpoint.id, host = %super::deliver::host_of(&endpoint.url), "webhook endpoint registered");
        Ok(Outcome::Done(CreatedEndpoint {
            endpoint,
            secret,
            replayed: false,
        }))
    }

    /// The endpoint an earlier request with this key created, answered
    /// again (secret included) when this request is that one.
    async fn created_again(
        &self,
        company: &Company,
        e: &WebhookEndpoint,
        idem: Option<&Idempotency>,
    ) -> Result<CreatedEndpoint, WebhookError> {
        match (idem, &e.request_fingerprint) {
            (Some(i), Some(f)) if *f == i.fingerprint => Ok(CreatedEndpoint {
                endpoint: e.clone(),
                secret: self.secret_of(&company.id, e).await?,
                replayed: true,
            }),
            _ => Err(WebhookError::IdempotencyKeyReused),
        }
    }

    /// The company's endpoints as stored now.
    pub async fn endpoints(&self, company: &Company) -> Result<Vec<WebhookEndpoint>, WebhookError> {
        Ok(self
            .store
            .company(&company.id)
            .await?
            .map(|c| c.webhook_endpoints)
            .unwrap_or_default())
    }

    pub async fn delete_endpoint(&self, company: &Company, id: &str) -> Result<(), WebhookError> {
        self.store
            .change_endpoints(&company.id, &EndpointChange::Remove(id.to_owned()))
            .await??;
        tracing::info!(company_id = %company.id, endpoint_id = %id, "webhook endpoint deleted");
        Ok(())
    }

    /// Queue a `ping` to one of the company's endpoints; its event id.
    /// At most one per endpoint every `PING_INTERVAL_SECONDS`
    /// (`EndpointRefusal::PingTooSoon`): a ping goes to a URL the partner
    /// chose, and one that never answers takes a delivery's time.
    pub async fn ping_endpoint(&self, company: &Company, id: &str) -> Result<String, WebhookError> {
        let ports = &self.ports;
        let now = crate::app::now();
        let change = EndpointChange::Ping {
            id: id.to_owned(),
            at: now,
        };
        let endpoint = match self.store.change_endpoints(&company.id, &change).await? {
            Ok(EndpointChanged::Pinged(e)) => e,
            Err(EndpointRefusal::NotFound(_)) | Ok(_) => {
                return Err(EndpointRefusal::NotFound(id.to_owned()).into());
            }
            Err(refused) => return Err(refused.into()),
        };
        let event_id = new_event_id();
        let task = DeliveryTask {
            company_id: company.id.clone(),
            endpoint_id: endpoint.id.clone(),
            event_id: event_id.clone(),
            attempt: 1,
            due_at: now,
            ping: Some(ping(&event_id, now, &endpoint.id, &endpoint.url)),
        };
        ports
            .queue
            .schedule(&task)
            .await
            .map_err(|e| WebhookError::Unavailable(e.to_string()))?;
        tracing::info!(company_id = %company.id, endpoint_id = %id, %event_id, "ping queued");
        Ok(event_id)
    }

    /// The company's events after the cursor (an event id it was given).
    pub async fn events(
        &self,
        company: &Company,
        after: Option<&str>,
        limit: usize,
    ) -> Result<EventPage, WebhookError> {
        if let Some(a) = after
            && !valid_event_id(a)
        {
            return Err(WebhookError::BadCursor);
        }
        let limit = limit.clamp(1, MAX_EVENT_PAGE);
        let (events, more) = self
            .store
            .events_after(&company.id, after, limit)
            .await?
            .ok_or(WebhookError::CursorNotKept)?;
        let next = more.then(|| events.last().map(|e| e.id.clone())).flatten();
        Ok(EventPage { events, next })
    }
}

/// `evt_` and a ULID.
fn valid_event_id(s: &str) -> bool {
    s.strip_prefix("evt_")
        .is_some_and(|u| u.len() == 26 && u.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_ids_are_checked_before_they_reach_a_store() {
        assert!(super::valid_event_id(&super::new_event_id()));
        for bad in [
            "",
            "evt_",
            "evt_x",
            "EVENT#x",
            "evt_01HZZZZZZZZZZZZZZZZZZZZZZ#",
        ] {
            assert!(!super::valid_event_id(bad), "{bad}");
        }
    }
}
