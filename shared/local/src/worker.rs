//! The notifier in-process, for `dropship serve`: drains the embedded
//! store's outbox (one row per committed cancellation, written in the same
//! transaction) through the same `Notifier` and ledger as the Lambda.
//! At-least-once like the DynamoDB stream: the outbox is read on start
//! (crash recovery) and every `poll` after; an entry whose notification
//! failed is retried with exponential backoff, capped at `max_backoff`, or
//! as soon as the claim that held it ends.
//!
//! Webhook deliveries run in a loop of their own, never in the outbox's:
//! an endpoint that never answers holds up no email, store sync or EDI
//! document, and no other endpoint (one attempt in flight per endpoint).

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;

use super::outbox::{EmlOutbox, RecordingStoreSync};
use super::sync::LocalStoreSync;
use platforms::client::HttpStoreSync;
use platforms::client::PlatformHttp;
use service::email::Mailer;
use service::events::{DeliveryTask, TaskOutcome};
use service::notify::{Notifier, NotifierConfig, NotifyError, panic_message};
use service::store::StoreError;
use service::sync::StoreSync;
use sqlite::{EmbeddedStore, OutboxAttempt};

/// Deliveries in flight at once (each to a different endpoint).
pub const DELIVERIES_AT_ONCE: usize = 16;

/// The local notifier: `.eml` files and store-sync records under
/// `outbox_dir`, platform calls to companies with an `api_base_url`.
pub fn local_notifier(
    store: EmbeddedStore,
    outbox_dir: &Path,
    sender: &str,
    http: PlatformHttp,
) -> Notifier<EmbeddedStore, EmlOutbox, LocalStoreSync> {
    Notifier::new(
        store,
        EmlOutbox::new(outbox_dir),
        email::Letters,
        LocalStoreSync {
            http: HttpStoreSync::new(http),
            record: RecordingStoreSync::new(outbox_dir),
        },
        NotifierConfig::new(sender),
    )
}

/// What one pass over the outbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub notified: usize,
    pub failed: usize,
    /// Entries still waiting for their backoff to pass.
    pub waiting: usize,
    /// Webhook delivery tasks run (retries, pings).
    pub deliveries: usize,
}

pub struct OutboxWorker<M, Y> {
    notifier: Arc<Notifier<EmbeddedStore, M, Y>>,
    /// How often the outbox is read.
    pub poll: Duration,
    /// First retry delay after a failure; doubles per attempt.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Entries per pass.
    pub batch: usize,
    retry_at: HashMap<i64, Instant>,
}

/// A delivery task that ran: its queue row, the task, what it came to.
type Ran = (i64, DeliveryTask, Result<TaskOutcome, TaskFailed>);

/// Why a delivery task did not run to an outcome.
#[derive(Debug, thiserror::Error)]
enum TaskFailed {
    #[error("panicked: {0}")]
    Panicked(String),
    #[error(transparent)]
    Failed(#[from] service::notify::NotifyError),
}

impl<M: Mailer, Y: StoreSync> OutboxWorker<M, Y> {
    pub fn new(notifier: Notifier<EmbeddedStore, M, Y>) -> Self {
        OutboxWorker {
            notifier: Arc::new(notifier),
            poll: Duration::from_millis(200),
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            batch: 500,
            retry_at: HashMap::new(),
        }
    }

    pub fn notifier(&self) -> &Notifier<EmbeddedStore, M, Y> {
        &self.notifier
    }

    fn backoff(&self, attempts: u32) -> Duration {
        self.base_backoff
            .saturating_mul(1 << attempts.saturating_sub(1).min(16))
            .min(self.max_backoff)
    }

    /// When to try a failed entry again: right after the claim that held
    /// it ends (a worker killed mid-attempt, restarted), else its backoff.
    fn retry_delay(&self, attempts: u32, error: Option<&NotifyError>) -> Duration {
        match error {
            Some(NotifyError::Busy { until, .. }) => {
                let left = until
                    .saturating_add(1)
                    .saturating_sub(service::now().timestamp());
                Duration::from_secs(u64::try_from(left).unwrap_or(0))
                    .clamp(self.base_backoff, self.max_backoff)
            }
            _ => self.backoff(attempts),
        }
    }

    /// One pass as `dropship serve` runs them, then the deliveries that are
    /// due, one after the other (tests, `notifications` commands).
    pub async fn drain(&mut self) -> Result<Drained, StoreError> {
        let mut done = self.drain_outbox().await?;
        done.deliveries = self.run_due_tasks().await?;
        Ok(done)
    }

    /// Notify every pending entry that is due, oldest first, and the
    /// completions; no webhook delivery runs here.
    async fn drain_outbox(&mut self) -> Result<Drained, StoreError> {
        let store = self.notifier.store.clone();
        let pending = store.pending_outbox(self.batch).await?;
        let mut done = Drained::default();
        let now = Instant::now();
        self.retry_at
            .retain(|seq, _| pending.iter().any(|e| e.seq == *seq));
        for entry in pending {
            if self.retry_at.get(&entry.seq).is_some_and(|t| *t > now) {
                done.waiting += 1;
                continue;
            }
            // Supervised: a panic outside the channels' own supervision
            // (reading the order, the ledger) fails this entry alone, which
            // is retried with backoff like any other failure.
            let result = AssertUnwindSafe(self.notifier.notify(&entry.cancellation))
                .catch_unwind()
                .await
                .map_err(|panic| (format!("panicked: {}", panic_message(&*panic)), None))
                .and_then(|r| r.map_err(|e| (e.to_string(), Some(e))));
            let finished = match result {
                Ok(report) => {
                    tracing::debug!(seq = entry.seq, ?report, "outbox entry notified");
                    self.retry_at.remove(&entry.seq);
                    done.notified += 1;
                    store
                        .finish_outbox(entry.seq, OutboxAttempt::Delivered, service::now())
                        .await
                }
                Err((e, error)) => {
                    let attempts = entry.attempts.saturating_add(1);
                    let delay = self.retry_delay(attempts, error.as_ref());
                    tracing::warn!(
                        seq = entry.seq,
                        cancellation_id = %entry.cancellation.id,
                        attempts,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %e,
                        "notification failed; will retry"
                    );
                    let now = Instant::now();
                    self.retry_at
                        .insert(entry.seq, now.checked_add(delay).unwrap_or(now));
                    done.failed += 1;
                    store
                        .finish_outbox(entry.seq, OutboxAttempt::Failed(e), service::now())
                        .await
                }
            };
            // The entry stays pending and is taken up again on a later pass;
            // the ledger keeps what was sent from repeating. The rest of
            // this pass goes on.
            if let Err(e) = finished {
                tracing::warn!(seq = entry.seq, error = %e, "could not update the outbox entry");
            }
        }
        self.run_completions().await?;
        Ok(done)
    }

    /// `order.completed` for the orders a fulfilment completed; one that
    /// fails on our side is tried again on the next pass.
    async fn run_completions(&self) -> Result<(), StoreError> {
        let store = &self.notifier.store;
        for (seq, order_id) in store.pending_completions(self.batch).await? {
            match self.notifier.notify_completion(&order_id).await {
                Ok(r) => {
                    tracing::debug!(seq, %order_id, report = ?r, "completion notified");
                    store.finish_completion(seq, service::now()).await?;
                }
                Err(e) => {
                    tracing::warn!(seq, %order_id, error = %e, "completion not notified; tried again");
                }
            }
        }
        Ok(())
    }

    /// Run the webhook deliveries that are due, one after the other.
    async fn run_due_tasks(&self) -> Result<usize, StoreError> {
        let store = &self.notifier.store;
        let due = store.due_delivery_tasks(service::now(), self.batch).await?;
        let ran = due.len();
        for (seq, task) in due {
            settle(store, run_task(&self.notifier, seq, task).await).await;
        }
        Ok(ran)
    }

    /// Drain now (crash recovery) and every `poll` until `shutdown` is true,
    /// with the deliveries in their own loop beside it. A pass that fails
    /// or panics is logged and the next one runs as usual. Under `panic =
    /// "abort"` (release builds) a panic ends the process instead; on
    /// restart the outbox is read again and the ledger keeps what completed
    /// from repeating.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let deliveries = tokio::spawn(deliver(
            Arc::clone(&self.notifier),
            self.poll,
            self.batch,
            shutdown.clone(),
        ));
        loop {
            match AssertUnwindSafe(self.drain_outbox()).catch_unwind().await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "reading the outbox failed"),
                Err(panic) => {
                    tracing::error!(panic = %panic_message(&*panic), "an outbox pass panicked; going on");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        if let Err(e) = deliveries.await {
            tracing::error!(error = %e, "the delivery loop ended abnormally");
        }
    }
}

/// Run one delivery task, supervised: a panic fails this task alone.
async fn run_task<M: Mailer, Y: StoreSync>(
    notifier: &Notifier<EmbeddedStore, M, Y>,
    seq: i64,
    task: DeliveryTask,
) -> Ran {
    let result = AssertUnwindSafe(notifier.run_task(&task))
        .catch_unwind()
        .await
        .map_err(|panic| TaskFailed::Panicked(panic_message(&*panic)))
        .and_then(|r| r.map_err(TaskFailed::from));
    (seq, task, result)
}

/// Take a task that ran off the queue; one that failed on our side is
/// queued again a little later.
async fn settle(store: &EmbeddedStore, (seq, task, result): Ran) {
    use service::events::DeliveryQueue;
    match result {
        Ok(outcome) => {
            tracing::debug!(seq, ?outcome, "delivery task ran");
        }
        Err(e) => {
            tracing::warn!(seq, event_id = %task.event_id, error = %e, "delivery task failed; queued again");
            let again = DeliveryTask {
                due_at: service::now() + chrono::Duration::seconds(30),
                ..task
            };
            if let Err(q) = store.schedule(&again).await {
                tracing::warn!(seq, error = %q, "could not queue the task again; it stays");
                return;
            }
        }
    }
    if let Err(e) = store.finish_delivery_task(seq).await {
        tracing::warn!(seq, error = %e, "could not remove a delivery task that ran");
    }
}

/// Queue a task again a few seconds later, in place of its row.
async fn defer(store: &EmbeddedStore, seq: i64, task: DeliveryTask) {
    use service::events::DeliveryQueue;
    let later = DeliveryTask {
        due_at: service::now() + chrono::Duration::seconds(5),
        ..task
    };
    match store.schedule(&later).await {
        Ok(()) => {
            if let Err(e) = store.finish_delivery_task(seq).await {
                tracing::warn!(seq, error = %e, "could not remove a deferred delivery task");
            }
        }
        Err(e) => tracing::warn!(seq, error = %e, "could not defer a delivery task; it stays"),
    }
}

/// The delivery loop of `run`: due tasks start as they come, up to
/// `DELIVERIES_AT_ONCE`, one per endpoint; a task whose endpoint is busy
/// waits in the queue for the attempt ahead of it.
async fn deliver<M: Mailer, Y: StoreSync>(
    notifier: Arc<Notifier<EmbeddedStore, M, Y>>,
    poll: Duration,
    batch: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let store = notifier.store.clone();
    let mut running = FuturesUnordered::new();
    let mut endpoints: HashSet<(String, String)> = HashSet::new();
    let mut rows: HashSet<i64> = HashSet::new();
    loop {
        match store.due_delivery_tasks(service::now(), batch).await {
            Ok(due) => {
                // A full window may be one busy endpoint's backlog: its
                // tasks step aside, so others' come into view.
                let full = due.len() >= batch;
                for (seq, task) in due {
                    let endpoint = (task.company_id.clone(), task.endpoint_id.clone());
                    if full && !rows.contains(&seq) && endpoints.contains(&endpoint) {
                        defer(&store, seq, task).await;
                        continue;
                    }
                    if running.len() >= DELIVERIES_AT_ONCE
                        || rows.contains(&seq)
                        || endpoints.contains(&endpoint)
                    {
                        continue;
                    }
                    endpoints.insert(endpoint.clone());
                    rows.insert(seq);
                    let n = Arc::clone(&notifier);
                    running.push(async move { (endpoint, run_task(&n, seq, task).await) });
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the delivery queue failed"),
        }
        tokio::select! {
            Some((endpoint, ran)) = running.next(), if !running.is_empty() => {
                endpoints.remove(&endpoint);
                rows.remove(&ran.0);
                settle(&store, ran).await;
            }
            _ = tokio::time::sleep(poll) => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{self, SeedFile};
    use domain::{CancelledItem, Role, Source};
    use serde_json::{Value, json};
    use service::ledger::{Channel, Ledger, Outcome};
    use service::store::{Commit, Companies, Orders};
    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const DEMO_SEED: &str = include_str!("../../../events/demo-seed.json");

    async fn store() -> EmbeddedStore {
        let s = EmbeddedStore::in_memory().unwrap();
        seed::apply(&s, &SeedFile::parse(DEMO_SEED).unwrap())
            .await
            .unwrap();
        s
    }

    /// Commit a partial cancellation by `by` as the API would.
    async fn cancel(s: &EmbeddedStore, order_id: &str, id: &str, by: Role, line: &str) {
        let mut order = s.order(order_id).await.unwrap().unwrap();
        order.version += 1;
        for l in &mut order.line_items {
            if l.id == line {
                l.cancelled += 1;
            }
        }
        let mut c = Commit::update(order);
        c.cancellation = Some(domain::Cancellation {
            id: id.into(),
            order_id: order_id.into(),
            initiated_by: by,
            source: Source::Api,
            kind: domain::CancellationKind::Items,
            items: vec![CancelledItem {
                line_item_id: line.into(),
                quantity: 1,
                reason_code: domain::ReasonCode::Other,
                reason: Some("Out of stock".into()),
            }],
            created_at: service::now(),
        });
        s.commit(&c).await.unwrap();
    }

    fn fast_http() -> PlatformHttp {
        PlatformHttp::new(platforms::client::RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        })
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[tokio::test]
    async fn drains_to_eml_files_and_request_records_once() {
        let s = store().await;
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        cancel(&s, "ord_demo_api_bc", "can_a", Role::Buyer, "li_1").await;
        cancel(&s, "ord_demo_api", "can_b", Role::Seller, "li_2").await;
        let mut w = OutboxWorker::new(local_notifier(
            s.clone(),
            &outbox,
            "from@dropship.example",
            fast_http(),
        ));
        let d = w.drain().await.unwrap();
        assert_eq!((d.notified, d.failed), (2, 0));
        assert_eq!(
            files(&outbox),
            [
                "ord_demo_api-can_b.eml",
                "ord_demo_api_bc-can_a.eml",
                "ord_demo_api_bc-can_a.store-sync.json"
            ]
        );
        let eml = std::fs::read_to_string(outbox.join("ord_demo_api_bc-can_a.eml")).unwrap();
        assert!(eml.contains("To: store@birch-supply.example"));
        assert!(eml.contains("From: from@dropship.example"));
        assert!(
            eml.contains("Subject: Order ord_demo_api_bc (your order 120): 1 unit cancelled by")
        );
        let eml_b = std::fs::read_to_string(outbox.join("ord_demo_api-can_b.eml")).unwrap();
        assert!(
            eml_b.contains("To: orders@acme-home.example"),
            "the buyer hears of the seller's cancellation"
        );
        let rec: Value = serde_json::from_str(
            &std::fs::read_to_string(outbox.join("ord_demo_api_bc-can_a.store-sync.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(rec["requests"][0]["method"], "PUT");
        assert_eq!(
            rec["requests"][0]["url"],
            "https://api.bigcommerce.com/stores/birch123/v2/orders/120"
        );
        assert_eq!(rec["requests"][0]["headers"]["X-Auth-Token"], "<redacted>");
        assert_eq!(
            rec["requests"][0]["body"],
            json!({"products": [{"id": 501, "quantity": 1}]})
        );
        assert!(s.pending_outbox(10).await.unwrap().is_empty());
        // Nothing pending, nothing written again; a second worker (a
        // restart) finds nothing to do either.
        std::fs::remove_dir_all(&outbox).unwrap();
        assert_eq!(w.drain().await.unwrap(), Drained::default());
        let mut again = OutboxWorker::new(local_notifier(
            s.clone(),
            &outbox,
            "from@dropship.example",
            fast_http(),
        ));
        assert_eq!(again.drain().await.unwrap(), Drained::default());
        assert!(files(&outbox).is_empty());
    }

    #[tokio::test]
    async fn an_entry_left_pending_by_a_crash_is_finished_once_on_restart() {
        let s = store().await;
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        cancel(&s, "ord_demo_api", "can_c", Role::Buyer, "li_1").await;
        // The email went out, then the process died before the outbox
        // entry was marked done: the ledger says sent, the outbox pending.
        let first = local_notifier(s.clone(), &outbox, "from@dropship.example", fast_http());
        let entry = s.pending_outbox(10).await.unwrap().remove(0);
        first.notify(&entry.cancellation).await.unwrap();
        std::fs::remove_dir_all(&outbox).unwrap();
        let mut w = OutboxWorker::new(local_notifier(
            s.clone(),
            &outbox,
            "from@dropship.example",
            fast_http(),
        ));
        assert_eq!(w.drain().await.unwrap().notified, 1);
        assert!(files(&outbox).is_empty(), "the email is not written twice");
        assert!(s.pending_outbox(10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn failing_store_sync_backs_off_then_succeeds_once() {
        let s = store().await;
        let platform = MockServer::start().await;
        let mut woo = s.company("seller-woo").await.unwrap().unwrap();
        if let Some(c) = woo.connection.as_mut() {
            c.api_base_url = Some(platform.uri());
        }
        s.put_company(&woo).await.unwrap();
        Mock::given(method("PUT"))
            .and(path("/wp-json/wc/v3/orders/731"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&platform)
            .await;
        // The partial update reads the order's lines first.
        Mock::given(method("GET"))
            .and(path("/wp-json/wc/v3/orders/731"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": 731, "currency": "USD",
                "line_items": [{"id": 42, "quantity": 3, "subtotal": "30.00", "total": "27.00"}]
            })))
            .mount(&platform)
            .await;
        Mock::given(method("PUT"))
            .and(path("/wp-json/wc/v3/orders/731"))
            .and(header("authorization", "Basic Y2tfZGVtbzpjc19kZW1v"))
            .and(body_json(json!({"line_items": [
                {"id": 42, "quantity": 2, "subtotal": "20.00", "total": "18.00"}
            ]})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .with_priority(2)
            .expect(1)
            .mount(&platform)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        cancel(&s, "ord_demo_shopify_woo", "can_d", Role::Buyer, "li_2").await;
        let mut w = OutboxWorker::new(local_notifier(
            s.clone(),
            &outbox,
            "from@dropship.example",
            fast_http(),
        ));
        w.base_backoff = Duration::from_millis(300);
        let d = w.drain().await.unwrap();
        assert_eq!((d.notified, d.failed), (0, 1));
        // The email went out on the first pass and is not repeated.
        assert_eq!(files(&outbox), ["ord_demo_shopify_woo-can_d.eml"]);
        // Backing off: not retried at once.
        assert_eq!(w.drain().await.unwrap().waiting, 1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(w.drain().await.unwrap().notified, 1);
        assert!(s.pending_outbox(10).await.unwrap().is_empty());
        let entries = s.ledger_entries("ord_demo_shopify_woo").await.unwrap();
        let sync = entries
            .iter()
            .find(|e| e.channel == Channel::StoreSync)
            .unwrap();
        assert_eq!((sync.outcome, sync.attempts), (Some(Outcome::Sent), 2));
        let email = entries
            .iter()
            .find(|e| e.channel == Channel::Email)
            .unwrap();
        assert_eq!(email.attempts, 1);
        assert_eq!(
            files(&outbox),
            ["ord_demo_shopify_woo-can_d.eml"],
            "sent to the API, not recorded"
        );
    }
}
