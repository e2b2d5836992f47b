//! The notifier: for each new cancellation, tell the partner (never the
//! initiator) on every channel it has (`channels`). Each (cancellation,
//! channel) runs under a ledger claim (`ledger`), so redelivery, retries and
//! concurrent workers never repeat an effect; a worker that crashed mid-send
//! is taken over after the lock expires.
//!
//! Hosts: the `notifier` Lambda (DynamoDB stream) and `dropship serve`
//! (the local outbox worker over the embedded store's outbox).

mod channels;

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use chrono::Duration;
use futures::FutureExt;
use thiserror::Error;

use domain::{Cancellation, Company, Role};

use crate::email::{Letters, Mailer};
use crate::ledger::{Channel, Claim, Ledger, LedgerKey, Outcome};
use crate::ports::DeliveryPorts;
use crate::store::WebhookStore;
use crate::store::{Store, StoreError};
use crate::sync::StoreSync;
use channels::{Case, registered};

/// The sender used when `SENDER_EMAIL` is not set (local runs only).
pub const DEFAULT_LOCAL_SENDER: &str = "notifications@dropship.example";

/// How long a claim locks its notification, in seconds: shorter than the
/// notifier function's timeout (template.yaml; docs/operations.md, "Claims
/// and timeouts", and a test in tests/tests/e2e/sam_template.rs hold them
/// together), so a worker killed mid-attempt holds nothing for long.
pub const CLAIM_LOCK_SECONDS: i64 = 30;
/// Kept free between a claim's end and the invocation's deadline (lock
/// expiries are rounded up to the second).
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);
/// With less than this left before the deadline, nothing is claimed: the
/// next invocation does it.
pub const MIN_LOCK: std::time::Duration = std::time::Duration::from_secs(3);

tokio::task_local! {
    static DEADLINE: tokio::time::Instant;
}

/// Run `work` as an invocation that ends at `deadline` (a Lambda's): every
/// claim taken within it ends before then, so none outlives the function
/// that took it.
pub async fn within_deadline<F: Future>(deadline: std::time::Instant, work: F) -> F::Output {
    DEADLINE
        .scope(tokio::time::Instant::from_std(deadline), work)
        .await
}

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// `From` of every email (`SENDER_EMAIL`).
    pub(crate) sender: String,
    /// How long a claim locks a notification against other workers; after
    /// that a crashed attempt is retried. An attempt is given up when its
    /// lock ends; within a deadline (`within_deadline`) the lock is cut to
    /// what is left.
    pub lock_for: Duration,
}

impl NotifierConfig {
    pub fn new(sender: impl Into<String>) -> Self {
        NotifierConfig {
            sender: sender.into(),
            lock_for: Duration::seconds(CLAIM_LOCK_SECONDS),
        }
    }
}

/// Why a cancellation's notification did not finish; the host retries it
/// later (stream redelivery, outbox backoff). Permanent refusals are not
/// errors: they are recorded in the ledger as failed.
#[derive(Debug, Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("order {0} of the cancellation does not exist")]
    OrderMissing(String),
    #[error("company {0} does not exist")]
    CompanyMissing(String),
    #[error("no cancellation {0}")]
    NoCancellation(String),
    #[error("{channel} for cancellation {cancellation_id} is held by another worker until {until}")]
    Busy {
        channel: &'static str,
        cancellation_id: String,
        until: i64,
    },
    #[error(
        "too little of the invocation is left to start {channel} for {cancellation_id}; retried"
    )]
    OutOfTime {
        channel: &'static str,
        cancellation_id: String,
    },
    #[error("{channel} for cancellation {cancellation_id} failed, to be retried: {detail}")]
    Retry {
        channel: &'static str,
        cancellation_id: String,
        detail: String,
    },
}

/// What happened on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelReport {
    /// Done now; what was done.
    Sent(String),
    /// Refused for good now; recorded as a failed notification.
    Failed(String),
    /// The attempt panicked (a defect, not a refusal); recorded as a failed
    /// notification with the panic message, not retried.
    Crashed(String),
    /// Done (or failed for good) earlier: nothing repeated.
    AlreadyDone(Outcome),
    /// This partner gets nothing on this channel.
    NotApplicable,
}

/// What happened on each channel, in the order they ran
/// (`Channel::REGISTERED`).
#[derive(Clone, PartialEq, Eq)]
pub struct Report {
    pub(crate) channels: Vec<(Channel, ChannelReport)>,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Report");
        for (channel, report) in &self.channels {
            s.field(channel.as_str(), report);
        }
        s.finish()
    }
}

impl ChannelReport {
    /// In a word, for operators: sent, failed, already_done, not_applicable.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelReport::Sent(_) => "sent",
            ChannelReport::Failed(_) | ChannelReport::Crashed(_) => "failed",
            ChannelReport::AlreadyDone(_) => "already_done",
            ChannelReport::NotApplicable => "not_applicable",
        }
    }
}

impl Report {
    /// Each channel's result in a word (`ChannelReport::as_str`).
    pub fn summary(&self) -> Vec<(Channel, &'static str)> {
        self.channels
            .iter()
            .map(|(c, r)| (*c, r.as_str()))
            .collect()
    }

    /// What happened on `channel`.
    pub fn on(&self, channel: Channel) -> Option<&ChannelReport> {
        self.channels
            .iter()
            .find_map(|(c, r)| (*c == channel).then_some(r))
    }

    /// Did an attempt on any channel panic?
    pub fn crashed(&self) -> bool {
        self.channels
            .iter()
            .any(|(_, r)| matches!(r, ChannelReport::Crashed(_)))
    }
}

/// The message a panic was raised with (`panic!` gives a `&str` or a
/// `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// What an attempt on a channel came to.
pub(crate) enum Attempt {
    Done(String),
    Permanent(String),
    Transient(String),
    /// It panicked, with this message.
    Crashed(String),
}

/// The most overdue documents an operator's retry looks through.
pub(crate) const RETRY_SCAN: usize = 10_000;

pub struct Notifier<S, M, Y> {
    pub store: S,
    pub(crate) mailer: M,
    /// Writes the emails `mailer` sends.
    pub(crate) letters: Arc<dyn Letters>,
    pub sync: Y,
    pub(crate) config: NotifierConfig,
    /// Where counts of notifications go (off unless the host says).
    pub metrics: crate::metrics::Metrics,
    /// Event webhooks (off unless the host sets them up).
    pub(crate) webhooks: Option<DeliveryPorts>,
    /// X12 documents to EDI partners (off unless the host sets them up).
    pub(crate) edi: Option<crate::ports::EdiPorts>,
}

impl<S, M, Y> Notifier<S, M, Y>
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    pub fn new(
        store: S,
        mailer: M,
        letters: impl Letters,
        sync: Y,
        config: NotifierConfig,
    ) -> Self {
        Notifier {
            store,
            mailer,
            letters: Arc::new(letters),
            sync,
            config,
            metrics: crate::metrics::Metrics::off(),
            webhooks: None,
            edi: None,
        }
    }

    /// Send EDI partners their 860s and 865s through `ports`.
    pub fn with_edi(self, ports: crate::ports::EdiPorts) -> Self {
        Notifier {
            edi: Some(ports),
            ..self
        }
    }

    /// Record events and push them to partners' endpoints through `ports`.
    pub fn with_webhooks(self, ports: DeliveryPorts) -> Self {
        Notifier {
            webhooks: Some(ports),
            ..self
        }
    }

    /// Count notifications into `metrics` (the Lambda: EMF).
    pub fn with_metrics(self, metrics: crate::metrics::Metrics) -> Self {
        Notifier { metrics, ..self }
    }

    pub(crate) fn count(&self, channel: Channel, result: &'static str) {
        self.metrics.count(crate::metrics::Event::Notification {
            channel: channel.as_str(),
            result,
        });
    }

    /// Notify the partner of `c` on every channel it has. Every channel is
    /// attempted even when one fails; an error (the first channel's) means
    /// at least one must be retried (those done are not repeated then).
    pub async fn notify(&self, c: &Cancellation) -> Result<Report, NotifyError> {
        use tracing::Instrument;
        // One span per notification: every line logged on its channels
        // carries the partner and how it ended.
        let span = tracing::info_span!(
            "notification",
            op = "notify",
            cancellation_id = %c.id,
            company_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let result = self.notify_in_span(c).instrument(span.clone()).await;
        span.record("outcome", if result.is_ok() { "ok" } else { "retry" });
        result
    }

    async fn notify_in_span(&self, c: &Cancellation) -> Result<Report, NotifyError> {
        let record = self
            .store
            .order_record(&c.order_id)
            .await?
            .ok_or_else(|| NotifyError::OrderMissing(c.order_id.clone()))?;
        let order = &record.order;
        let initiator_id = match c.initiated_by {
            Role::Buyer => &order.buyer_id,
            Role::Seller => &order.seller_id,
        };
        let partner_party = match c.initiated_by {
            Role::Buyer => Role::Seller,
            Role::Seller => Role::Buyer,
        };
        let partner_id = order.partner_of(c.initiated_by);
        let partner: Company = self
            .store
            .company(partner_id)
            .await?
            .ok_or_else(|| NotifyError::CompanyMissing(partner_id.to_owned()))?;
        tracing::Span::current().record("company_id", partner.id.as_str());
        let initiator_name = match self.store.company(initiator_id).await? {
            Some(i) => i.name,
            None => initiator_id.clone(),
        };
        let case = Case {
            c,
            record: &record,
            partner: &partner,
            partner_party,
            initiator_id,
            initiator_name: &initiator_name,
        };

        let mut channels = Vec::new();
        let mut first_error = None;
        for channel in registered::<S, M, Y>() {
            let result = if channel.applies(self, &case) {
                channel.send(self, &case).await
            } else {
                Ok(ChannelReport::NotApplicable)
            };
            match result {
                Ok(r) => channels.push((channel.id(), r)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(Report { channels }),
            Some(e) => Err(e),
        }
    }

    /// EDI documents sent more than the acknowledgment window ago that no
    /// 997 has settled yet (the hourly check turns them failed), oldest
    /// first, at most `limit`.
    pub async fn overdue_documents(
        &self,
        limit: usize,
    ) -> Result<Vec<crate::edi::SentDocument>, NotifyError> {
        match &self.edi {
            Some(ports) => {
                Ok(crate::edi::acks::overdue_documents(ports, crate::app::now(), limit).await?)
            }
            None => Ok(Vec::new()),
        }
    }

    /// An operator's retry of one cancellation: its failed records (on
    /// `channel`, or every channel) are reopened, then it is notified as the
    /// stream would: what was sent is not sent again. An EDI document
    /// overdue for its 997 counts as failed (it is sent again under a new
    /// control number).
    pub async fn retry(
        &self,
        cancellation_id: &str,
        channel: Option<Channel>,
    ) -> Result<Report, NotifyError> {
        let c = self
            .store
            .cancellations_since(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH)
            .await?
            .into_iter()
            .find(|c| c.id == cancellation_id)
            .ok_or_else(|| NotifyError::NoCancellation(cancellation_id.to_owned()))?;
        for ch in registered::<S, M, Y>() {
            if channel.is_none_or(|only| only == ch.id()) {
                ch.reopen(self, &c).await?;
            }
        }
        self.notify(&c).await
    }

    /// Every cancellation made since `since` notified on each channel it
    /// has no completed record for (a stream batch that went to the DLQ, a
    /// crash): what is done is skipped, so a sweep may run any number of
    /// times. One cancellation's failure does not stop the others.
    pub async fn sweep(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(Cancellation, Result<Report, NotifyError>)>, NotifyError> {
        let mut done = Vec::new();
        for c in self.store.cancellations_since(since).await? {
            let r = self.notify(&c).await;
            done.push((c, r));
        }
        Ok(done)
    }

    /// One channel under its ledger claim: `act` is given the attempt's
    /// number and runs only if the claim is ours.
    pub(crate) async fn claimed<F, Fut>(
        &self,
        c: &Cancellation,
        channel: Channel,
        act: F,
    ) -> Result<ChannelReport, NotifyError>
    where
        F: FnOnce(u32) -> Fut,
        Fut: Future<Output = Attempt>,
    {
        let key = LedgerKey::new(&c.order_id, &c.id, channel);
        let Some(lock) = self.claim_lock(MIN_LOCK) else {
            return Err(NotifyError::OutOfTime {
                channel: channel.as_str(),
                cancellation_id: c.id.clone(),
            });
        };
        let now = crate::app::now();
        let (token, claim) = match self.store.claim(&key, now, lock).await? {
            Claim::Completed(e) => {
                self.count(channel, "already_done");
                tracing::info!(cancellation_id = %c.id, channel = channel.as_str(), "already notified; skipped");
                return Ok(ChannelReport::AlreadyDone(
                    e.outcome.unwrap_or(Outcome::Sent),
                ));
            }
            Claim::Busy { expires_at } => {
                return Err(NotifyError::Busy {
                    channel: channel.as_str(),
                    cancellation_id: c.id.clone(),
                    until: expires_at,
                });
            }
            Claim::Acquired { token, attempt } => {
                tracing::debug!(cancellation_id = %c.id, channel = channel.as_str(), attempt, "claimed");
                (token, attempt)
            }
        };
        let attempt = self.supervised(lock, move || act(claim)).await;
        let crashed = matches!(attempt, Attempt::Crashed(_));
        let (outcome, detail) = match attempt {
            Attempt::Done(d) => (Outcome::Sent, d),
            Attempt::Permanent(d) | Attempt::Crashed(d) => (Outcome::Failed, d),
            Attempt::Transient(d) => {
                self.count(channel, "retry");
                tracing::warn!(cancellation_id = %c.id, channel = channel.as_str(), error = %d, "notification failed; will be retried");
                if let Err(e) = self
                    .store
                    .release(&key, &token, &d, crate::app::now())
                    .await
                {
                    // The lock then expires by itself.
                    tracing::warn!(cancellation_id = %c.id, error = %e, "could not release the claim");
                }
                return Err(NotifyError::Retry {
                    channel: channel.as_str(),
                    cancellation_id: c.id.clone(),
                    detail: d,
                });
            }
        };
        let kept = self
            .store
            .complete(&key, &token, outcome, &detail, crate::app::now())
            .await?;
        if !kept {
            tracing::warn!(cancellation_id = %c.id, channel = channel.as_str(), "claim expired and was taken over before completion");
        }
        Ok(self.finished(c, channel, outcome, crashed, detail))
    }

    /// A completed attempt: counted, logged, reported.
    fn finished(
        &self,
        c: &Cancellation,
        channel: Channel,
        outcome: Outcome,
        crashed: bool,
        detail: String,
    ) -> ChannelReport {
        self.count(
            channel,
            match outcome {
                Outcome::Sent => "sent",
                Outcome::Failed => "failed",
            },
        );
        match (outcome, crashed) {
            (Outcome::Sent, _) => {
                tracing::info!(cancellation_id = %c.id, order_id = %c.order_id, channel = channel.as_str(), %detail, "notified");
                ChannelReport::Sent(detail)
            }
            (Outcome::Failed, true) => {
                tracing::error!(cancellation_id = %c.id, order_id = %c.order_id, channel = channel.as_str(), %detail, "notification panicked; recorded as failed");
                ChannelReport::Crashed(detail)
            }
            (Outcome::Failed, false) => {
                tracing::error!(cancellation_id = %c.id, order_id = %c.order_id, channel = channel.as_str(), %detail, "notification refused for good; recorded as failed");
                ChannelReport::Failed(detail)
            }
        }
    }

    /// Run one attempt so that nothing it does stops the caller: a panic
    /// becomes a permanent failure carrying the panic message, and an attempt
    /// that outlives its claim's lock is given up for a retry (another
    /// worker may hold the claim by then, and a platform that never answers
    /// must not hold up the notifications behind this one).
    ///
    /// Under `panic = "abort"` (the release profile) a panic is not caught:
    /// the process ends. The claim then expires and the notification is
    /// retried after `lock_for`; on Lambda the invocation fails, the stream
    /// retries and bisects the batch down to the record, and the ledger keeps
    /// the channels that completed from repeating.
    async fn supervised<F, Fut>(&self, lock: Duration, act: F) -> Attempt
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Attempt>,
    {
        // Nothing shared is left half-changed by an unwinding attempt: it
        // only reads the store and calls out; the ledger is written after.
        let attempt = AssertUnwindSafe(async move { act().await }).catch_unwind();
        let limit = lock.to_std().unwrap_or(std::time::Duration::ZERO);
        match tokio::time::timeout(limit, attempt).await {
            Ok(Ok(a)) => a,
            Ok(Err(panic)) => Attempt::Crashed(format!("panicked: {}", panic_message(&*panic))),
            Err(_) => Attempt::Transient(format!(
                "gave up after {} s, the claim's lock",
                lock.num_seconds()
            )),
        }
    }

    /// The lock of a claim taken now: `lock_for`, cut to what is left
    /// before the invocation's deadline less `DEADLINE_MARGIN`; `None` when
    /// that is under `need` (the next invocation does the work).
    pub(crate) fn claim_lock(&self, need: std::time::Duration) -> Option<Duration> {
        let Ok(left) =
            DEADLINE.try_with(|d| d.saturating_duration_since(tokio::time::Instant::now()))
        else {
            return Some(self.config.lock_for);
        };
        let usable = left
            .checked_sub(DEADLINE_MARGIN)
            .filter(|u| *u >= need.max(MIN_LOCK))?;
        Some(
            Duration::from_std(usable)
                .map_or(self.config.lock_for, |u| u.min(self.config.lock_for)),
        )
    }
}
