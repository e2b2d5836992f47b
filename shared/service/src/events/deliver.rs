//! Recording and delivering events, on the `Notifier`: each (event,
//! endpoint) delivery runs under a ledger claim like the other channels, so
//! it succeeds at most once however often it is tried. The notifier only
//! records events and queues their deliveries: every attempt runs from the
//! delivery queue, apart from email, store sync and EDI, one at a time per
//! endpoint (its lease) and bounded by `ATTEMPT_LIMIT`; a failed one is
//! retried on `domain::events::retry_delay`'s schedule.

use chrono::{DateTime, Duration, Utc};

use domain::events::{
    EndpointChange, EndpointChanged, EndpointRefusal, EventType, WebhookEndpoint, retry_delay,
};
use domain::{Cancellation, Company};

use super::{
    Delivery, DeliveryPorts, DeliveryTask, EVENT_RETENTION_DAYS, EventRecord, SendError,
    WebhookStore, cancellation_created, endpoint_secret, new_event_id, order_completed, signature,
};
use crate::email::{Email, Mailer};
use crate::ledger::{Channel, Claim, Ledger, LedgerKey, Outcome};
use crate::notify::{ChannelReport, Notifier, NotifyError};
use crate::store::{OrderRecord, Store};
use crate::sync::StoreSync;

/// The longest one delivery attempt may take, all told (the HTTP sender
/// gives up after 10 s): well under the notifier function's timeout and
/// under a claim's lock (docs/operations.md, "Claims and timeouts").
pub const ATTEMPT_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);
/// How soon a task whose endpoint is busy looks again (at the latest).
const BUSY_RETRY: i64 = 5;

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryReport {
    Delivered(u16),
    /// Delivered earlier: nothing sent.
    AlreadyDone,
    /// Failed; the next attempt is queued for later.
    Scheduled {
        attempt: u32,
        error: String,
    },
    /// Failed, and no more attempts: spent schedule, disabled endpoint.
    GaveUp(String),
}

/// What a queued task came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Not due yet: queued again for the rest of its wait.
    Waiting,
    Attempted(DeliveryReport),
    /// A ping, sent once whatever its answer.
    Pinged(Result<u16, SendError>),
    /// Nothing to deliver any more (the event expired, the endpoint was
    /// deleted or disabled).
    Dropped(String),
    /// Another attempt to the endpoint is in flight: queued again for when
    /// it ends.
    EndpointBusy,
}

/// Whether this attempt may deliver to an endpoint.
enum Leased {
    /// Ours, under this holder id, until given back.
    Ours(String),
    /// Another attempt holds it until then.
    Busy(DateTime<Utc>),
    /// The endpoint is gone.
    Gone,
}

impl<S, M, Y> Notifier<S, M, Y>
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    fn ports(&self) -> Option<&DeliveryPorts> {
        self.webhooks.as_ref()
    }

    /// Record the partner's events for `c` (and `order.completed` when the
    /// order is complete) and queue their deliveries to the partner's
    /// endpoints.
    pub(crate) async fn push_events(
        &self,
        c: &Cancellation,
        record: &OrderRecord,
        partner: &Company,
    ) -> Result<ChannelReport, NotifyError> {
        if self.ports().is_none() {
            return Ok(ChannelReport::NotApplicable);
        }
        let (order, cancellations) = crate::store::as_of(record, c);
        let order = &order;
        let mut wanted = vec![(
            EventType::CancellationCreated,
            format!("cancellation.created:{}", c.id),
        )];
        if order.is_complete() {
            wanted.push((
                EventType::OrderCompleted,
                format!("order.completed:{}", order.id),
            ));
        }
        let mut reports = Vec::new();
        for (t, dedupe) in wanted {
            let now = crate::app::now();
            let id = new_event_id();
            let body = match t {
                EventType::OrderCompleted => order_completed(&id, now, order, &cancellations),
                _ => cancellation_created(&id, now, order, &cancellations, c),
            };
            let event = EventRecord {
                id,
                company_id: partner.id.clone(),
                event_type: t,
                created_at: now,
                order_id: order.id.clone(),
                body,
            };
            let stored = self
                .store
                .record_event(&event, &dedupe, now + Duration::days(EVENT_RETENTION_DAYS))
                .await?;
            let event = stored.event();
            tracing::info!(event_id = %event.id, event_type = t.as_str(), company_id = %partner.id, new = matches!(stored, super::Recorded::New(_)), "event recorded");
            for e in partner
                .webhook_endpoints
                .iter()
                .filter(|e| e.enabled() && e.subscribes(t))
            {
                self.enqueue(partner, e, event).await?;
                reports.push(format!("{} {}: queued", t.as_str(), e.id));
            }
        }
        Ok(if reports.is_empty() {
            ChannelReport::NotApplicable
        } else {
            ChannelReport::Sent(reports.join("; "))
        })
    }

    /// A fulfilment left no unit of the order open: `order.completed` to
    /// the buyer (the partner of the seller, who fulfils), once.
    pub async fn notify_completion(&self, order_id: &str) -> Result<ChannelReport, NotifyError> {
        if self.ports().is_none() {
            return Ok(ChannelReport::NotApplicable);
        }
        let record = self
            .store
            .order_record(order_id)
            .await?
            .ok_or_else(|| NotifyError::OrderMissing(order_id.to_owned()))?;
        let order = &record.order;
        if !order.is_complete() || order.buyer_id == order.seller_id {
            return Ok(ChannelReport::NotApplicable);
        }
        let partner = self
            .store
            .company(&order.buyer_id)
            .await?
            .ok_or_else(|| NotifyError::CompanyMissing(order.buyer_id.clone()))?;
        let now = crate::app::now();
        let id = new_event_id();
        let event = EventRecord {
            body: order_completed(&id, now, order, &record.cancellations),
            id,
            company_id: partner.id.clone(),
            event_type: EventType::OrderCompleted,
            created_at: now,
            order_id: order.id.clone(),
        };
        let stored = self
            .store
            .record_event(
                &event,
                &format!("order.completed:{}", order.id),
                now + Duration::days(EVENT_RETENTION_DAYS),
            )
            .await?;
        let event = stored.event();
        tracing::info!(event_id = %event.id, order_id, company_id = %partner.id, "order completed by a fulfilment; event recorded");
        let mut reports = Vec::new();
        for e in partner
            .webhook_endpoints
            .iter()
            .filter(|e| e.enabled() && e.subscribes(EventType::OrderCompleted))
        {
            self.enqueue(&partner, e, event).await?;
            reports.push(format!("order.completed {}: queued", e.id));
        }
        Ok(if reports.is_empty() {
            ChannelReport::NotApplicable
        } else {
            ChannelReport::Sent(reports.join("; "))
        })
    }

    /// Run a queued delivery task: one attempt, started only with time for
    /// all of it left, and only while no other attempt to the endpoint is
    /// in flight (else it is queued again).
    pub async fn run_task(&self, task: &DeliveryTask) -> Result<TaskOutcome, NotifyError> {
        use tracing::Instrument;
        // One span per delivery: every line logged while running it carries
        // the company, the event and how it ended.
        let span = tracing::info_span!(
            "delivery",
            op = "webhook_delivery",
            company_id = %task.company_id,
            event_id = %task.event_id,
            endpoint_id = %task.endpoint_id,
            outcome = tracing::field::Empty,
        );
        let result = self.run_task_in_span(task).instrument(span.clone()).await;
        let outcome = match &result {
            Ok(TaskOutcome::Waiting) => "waiting",
            Ok(TaskOutcome::Attempted(_)) => "attempted",
            Ok(TaskOutcome::Pinged(_)) => "pinged",
            Ok(TaskOutcome::Dropped(_)) => "dropped",
            Ok(TaskOutcome::EndpointBusy) => "endpoint_busy",
            Err(_) => "failed",
        };
        span.record("outcome", outcome);
        result
    }

    async fn run_task_in_span(&self, task: &DeliveryTask) -> Result<TaskOutcome, NotifyError> {
        if self.ports().is_none() {
            return Ok(TaskOutcome::Dropped("webhooks are not set up here".into()));
        }
        let now = crate::app::now();
        if task.due_at > now + Duration::seconds(1) {
            self.requeue(task, task.due_at).await?;
            return Ok(TaskOutcome::Waiting);
        }
        let Some(lock) = self.claim_lock(ATTEMPT_LIMIT) else {
            self.requeue(task, now).await?;
            return Ok(TaskOutcome::Waiting);
        };
        let Some(company) = self.store.company(&task.company_id).await? else {
            return Ok(TaskOutcome::Dropped(format!(
                "no company {}",
                task.company_id
            )));
        };
        let endpoint = company
            .webhook_endpoints
            .iter()
            .find(|e| e.id == task.endpoint_id);
        if let Some(body) = &task.ping {
            let Some(e) = endpoint else {
                return Ok(TaskOutcome::Dropped(format!(
                    "no endpoint {}",
                    task.endpoint_id
                )));
            };
            let holder = match self.lease(&company.id, &e.id, lock).await? {
                Leased::Ours(holder) => holder,
                Leased::Busy(until) => return self.busy(task, until).await,
                Leased::Gone => {
                    return Ok(TaskOutcome::Dropped(format!("no endpoint {}", e.id)));
                }
            };
            let r = self.send_bounded(&company, e, &task.event_id, body).await;
            self.unlease(&company.id, &e.id, &holder).await;
            tracing::info!(endpoint_id = %e.id, event_id = %task.event_id, result = ?r, "ping sent");
            return Ok(TaskOutcome::Pinged(r));
        }
        let Some(event) = self.store.event(&task.company_id, &task.event_id).await? else {
            return Ok(TaskOutcome::Dropped(format!(
                "event {} is no longer kept",
                task.event_id
            )));
        };
        match endpoint.filter(|e| e.enabled()) {
            Some(e) => {
                let holder = match self.lease(&company.id, &e.id, lock).await? {
                    Leased::Ours(holder) => holder,
                    Leased::Busy(until) => return self.busy(task, until).await,
                    Leased::Gone => {
                        return Ok(TaskOutcome::Dropped(format!("no endpoint {}", e.id)));
                    }
                };
                let r = self.attempt(&company, e, &event, task.attempt, lock).await;
                self.unlease(&company.id, &e.id, &holder).await;
                Ok(TaskOutcome::Attempted(r?))
            }
            None => {
                let why = format!("endpoint {} was deleted or disabled", task.endpoint_id);
                let key = LedgerKey::webhook(&event.order_id, &event.id, &task.endpoint_id);
                if let Claim::Acquired { token, .. } =
                    self.store.claim(&key, now, self.config.lock_for).await?
                {
                    self.store
                        .complete(&key, &token, Outcome::Failed, &why, crate::app::now())
                        .await?;
                }
                Ok(TaskOutcome::Dropped(why))
            }
        }
    }

    /// Queue the first attempt of `event` to `e`.
    async fn enqueue(
        &self,
        company: &Company,
        e: &WebhookEndpoint,
        event: &EventRecord,
    ) -> Result<(), NotifyError> {
        let now = crate::app::now();
        let task = DeliveryTask {
            company_id: company.id.clone(),
            endpoint_id: e.id.clone(),
            event_id: event.id.clone(),
            attempt: 1,
            due_at: now,
            ping: None,
        };
        self.requeue(&task, now).await
    }

    /// Queue `task` (again), due at `due_at`.
    async fn requeue(&self, task: &DeliveryTask, due_at: DateTime<Utc>) -> Result<(), NotifyError> {
        let Some(ports) = self.ports() else {
            return Ok(());
        };
        let task = DeliveryTask {
            due_at,
            ..task.clone()
        };
        ports
            .queue
            .schedule(&task)
            .await
            .map_err(|e| NotifyError::Retry {
                channel: Channel::Webhook.as_str(),
                cancellation_id: task.event_id.clone(),
                detail: e.to_string(),
            })
    }

    /// The endpoint is busy until `until`: the task waits, looking again
    /// within `BUSY_RETRY` (the attempt ahead usually ends before its lease).
    async fn busy(
        &self,
        task: &DeliveryTask,
        until: DateTime<Utc>,
    ) -> Result<TaskOutcome, NotifyError> {
        let now = crate::app::now();
        let due = until
            .min(now + Duration::seconds(BUSY_RETRY))
            .max(now + Duration::seconds(1));
        self.requeue(task, due).await?;
        tracing::debug!(endpoint_id = %task.endpoint_id, event_id = %task.event_id, %due, "endpoint busy; delivery queued again");
        Ok(TaskOutcome::EndpointBusy)
    }

    /// Take the endpoint's lease for one attempt of at most `lock`.
    async fn lease(
        &self,
        company_id: &str,
        endpoint_id: &str,
        lock: Duration,
    ) -> Result<Leased, NotifyError> {
        let now = crate::app::now();
        let holder = crate::ledger::new_token();
        let change = EndpointChange::Lease {
            id: endpoint_id.to_owned(),
            holder: holder.clone(),
            at: now,
            until: now + lock,
        };
        Ok(
            match self.store.change_endpoints(company_id, &change).await? {
                Ok(_) => Leased::Ours(holder),
                Err(EndpointRefusal::Leased { until }) => Leased::Busy(until),
                Err(_) => Leased::Gone,
            },
        )
    }

    /// Give the lease back (else it expires by itself).
    async fn unlease(&self, company_id: &str, endpoint_id: &str, holder: &str) {
        let change = EndpointChange::Unlease {
            id: endpoint_id.to_owned(),
            holder: holder.to_owned(),
        };
        if let Err(e) = self.store.change_endpoints(company_id, &change).await {
            tracing::warn!(%company_id, %endpoint_id, error = %e, "could not give an endpoint's lease back; it expires by itself");
        }
    }

    /// `send`, given up after `ATTEMPT_LIMIT` whatever the sender does.
    async fn send_bounded(
        &self,
        company: &Company,
        e: &WebhookEndpoint,
        event_id: &str,
        body: &str,
    ) -> Result<u16, SendError> {
        tokio::time::timeout(ATTEMPT_LIMIT, self.send(company, e, event_id, body))
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Failed(format!(
                    "no answer within {} s",
                    ATTEMPT_LIMIT.as_secs()
                )))
            })
    }

    /// Sign and POST `body` to `e`; the status of a 2xx answer.
    async fn send(
        &self,
        company: &Company,
        e: &WebhookEndpoint,
        event_id: &str,
        body: &str,
    ) -> Result<u16, SendError> {
        let Some(ports) = self.ports() else {
            return Err(SendError::Refused("webhooks are not set up here".into()));
        };
        let key = ports
            .keys
            .key()
            .await
            .map_err(|e| SendError::Failed(e.to_string()))?;
        let secret = endpoint_secret(&key, &company.id, &e.id, &e.salt);
        let delivery = Delivery {
            url: e.url.clone(),
            event_id: event_id.to_owned(),
            signature: signature(&secret, chrono::Utc::now(), body),
            body: body.to_owned(),
        };
        match ports.sender.send(&delivery).await? {
            s if (200..300).contains(&s) => Ok(s),
            s => Err(SendError::Failed(format!("answered HTTP {s}"))),
        }
    }

    /// One attempt of `event` to `e` under its ledger claim.
    async fn attempt(
        &self,
        company: &Company,
        e: &WebhookEndpoint,
        event: &EventRecord,
        attempt: u32,
        lock: Duration,
    ) -> Result<DeliveryReport, NotifyError> {
        let key = LedgerKey::webhook(&event.order_id, &event.id, &e.id);
        let now = crate::app::now();
        let token = match self.store.claim(&key, now, lock).await? {
            Claim::Completed(_) => {
                self.count(Channel::Webhook, "already_done");
                return Ok(DeliveryReport::AlreadyDone);
            }
            Claim::Busy { expires_at } => {
                return Err(NotifyError::Busy {
                    channel: Channel::Webhook.as_str(),
                    cancellation_id: event.id.clone(),
                    until: expires_at,
                });
            }
            Claim::Acquired { token, .. } => token,
        };
        let sent = self.send_bounded(company, e, &event.id, &event.body).await;
        let error = match sent {
            Ok(status) => {
                let detail = format!("{} ({}) answered HTTP {status}", e.id, host_of(&e.url));
                self.finish(&key, &token, Outcome::Sent, &detail).await?;
                self.count(Channel::Webhook, "sent");
                tracing::info!(event_id = %event.id, endpoint_id = %e.id, attempt, status, "event delivered");
                if e.failing_since.is_some() {
                    self.store
                        .change_endpoints(
                            &company.id,
                            &EndpointChange::DeliverySucceeded { id: e.id.clone() },
                        )
                        .await?
                        .ok();
                }
                return Ok(DeliveryReport::Delivered(status));
            }
            Err(err) => err.to_string(),
        };
        tracing::warn!(event_id = %event.id, endpoint_id = %e.id, attempt, %error, "event delivery failed");
        let failed = EndpointChange::DeliveryFailed {
            id: e.id.clone(),
            at: crate::app::now(),
        };
        if let Ok(EndpointChanged::Disabled(disabled)) =
            self.store.change_endpoints(&company.id, &failed).await?
        {
            self.endpoint_disabled(company, &disabled, &error).await;
            let why = format!("endpoint disabled after failing for days: {error}");
            self.finish(&key, &token, Outcome::Failed, &why).await?;
            self.count(Channel::Webhook, "failed");
            return Ok(DeliveryReport::GaveUp(why));
        }
        let Some(wait) = retry_delay(attempt) else {
            let why = format!("gave up after {attempt} attempts: {error}");
            self.finish(&key, &token, Outcome::Failed, &why).await?;
            self.count(Channel::Webhook, "failed");
            return Ok(DeliveryReport::GaveUp(why));
        };
        // Claimable again at once: the queued task, or an operator, takes it.
        self.store
            .release(&key, &token, &error, crate::app::now())
            .await?;
        let next = DeliveryTask {
            company_id: company.id.clone(),
            endpoint_id: e.id.clone(),
            event_id: event.id.clone(),
            attempt: attempt.saturating_add(1),
            due_at: crate::app::now() + wait,
            ping: None,
        };
        if let Some(ports) = self.ports() {
            ports
                .queue
                .schedule(&next)
                .await
                .map_err(|q| NotifyError::Retry {
                    channel: Channel::Webhook.as_str(),
                    cancellation_id: event.id.clone(),
                    detail: q.to_string(),
                })?;
        }
        self.count(Channel::Webhook, "retry");
        tracing::info!(event_id = %event.id, endpoint_id = %e.id, next_attempt = next.attempt, due_at = %next.due_at, "event delivery retry queued");
        Ok(DeliveryReport::Scheduled {
            attempt: next.attempt,
            error,
        })
    }

    async fn finish(
        &self,
        key: &LedgerKey,
        token: &str,
        outcome: Outcome,
        detail: &str,
    ) -> Result<(), NotifyError> {
        if !self
            .store
            .complete(key, token, outcome, detail, crate::app::now())
            .await?
        {
            tracing::warn!(event_id = %key.cancellation_id, endpoint_id = ?key.endpoint_id, "claim expired and was taken over before completion");
        }
        Ok(())
    }

    /// Tell the owner its endpoint was disabled (best effort: the endpoint
    /// list says so too).
    async fn endpoint_disabled(&self, company: &Company, e: &WebhookEndpoint, error: &str) {
        tracing::error!(company_id = %company.id, endpoint_id = %e.id, host = %host_of(&e.url), %error, "webhook endpoint disabled");
        if company.email.trim().is_empty() {
            return;
        }
        let text = format!(
            "Your webhook endpoint {url} ({id}) has failed every delivery for {h} hours and is now disabled.\n\
             The last error: {error}\n\n\
             Events are still kept: read what you missed with GET /v1/events, then register the endpoint again \
             (POST /v1/webhook-endpoints) once it answers.\n",
            url = e.url,
            id = e.id,
            h = domain::events::DISABLE_AFTER_HOURS,
        );
        let email = Email {
            from: self.config.sender.clone(),
            to: company.email.clone(),
            subject: format!("Webhook endpoint disabled: {}", e.url),
            html: format!("<pre>{}</pre>", html_escape(&text)),
            text,
            reference: format!("webhook-{}-disabled", e.id),
        };
        if let Err(err) = self.mailer.send(&email).await {
            tracing::warn!(company_id = %company.id, endpoint_id = %e.id, error = %err, "could not email the owner of a disabled endpoint");
        }
    }
}

impl NotifyError {
    /// A delivery task whose attempt panicked: retried like one that
    /// failed.
    pub fn task_panicked(task: &DeliveryTask, message: &str) -> Self {
        NotifyError::Retry {
            channel: Channel::Webhook.as_str(),
            cancellation_id: task.event_id.clone(),
            detail: format!("panicked: {message}"),
        }
    }
}

/// An endpoint URL's host, for logs and the ledger: a URL's path or query
/// may hold a partner's token, its host does not.
pub(crate) fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "an unparsable URL".to_owned())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
