//! The notifier in-process, for `dropship serve`: drains the embedded
//! store's outbox (one row per committed cancellation, written in the same
//! transaction) through the same `Notifier` and ledger as the Lambda.
//! At-least-once like the DynamoDB stream: the outbox is read on start
//! (crash recovery) and every `poll` after; an entry whose notification
//! failed is retried with exponential backoff, capped at `max_backoff`.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::watch;

use super::outbox::{EmlOutbox, RecordingStoreSync};
use super::sync::LocalStoreSync;
use platforms::client::HttpStoreSync;
use platforms::client::PlatformHttp;
use service::email::Mailer;
use service::notify::{Notifier, NotifierConfig, panic_message};
use service::store::StoreError;
use service::sync::StoreSync;
use sqlite::{EmbeddedStore, OutboxAttempt};

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
    notifier: Notifier<EmbeddedStore, M, Y>,
    /// How often the outbox is read.
    pub poll: Duration,
    /// First retry delay after a failure; doubles per attempt.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Entries per pass.
    pub batch: usize,
    retry_at: HashMap<i64, Instant>,
}

impl<M: Mailer, Y: StoreSync> OutboxWorker<M, Y> {
    pub fn new(notifier: Notifier<EmbeddedStore, M, Y>) -> Self {
        OutboxWorker {
            notifier,
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

    /// Notify every pending entry that is due, oldest first.
    pub async fn drain(&mut self) -> Result<Drained, StoreError> {
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
                .map_err(|panic| format!("panicked: {}", panic_message(&*panic)))
                .and_then(|r| r.map_err(|e| e.to_string()));
            let finished = match result {
                Ok(report) => {
                    tracing::debug!(seq = entry.seq, ?report, "outbox entry notified");
                    self.retry_at.remove(&entry.seq);
                    done.notified += 1;
                    store
                        .finish_outbox(entry.seq, OutboxAttempt::Delivered, service::now())
                        .await
                }
                Err(e) => {
                    let attempts = entry.attempts.saturating_add(1);
                    let delay = self.backoff(attempts);
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
        done.deliveries = self.run_due_tasks().await?;
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

    /// Run the webhook deliveries that are due (retries and pings); a task
    /// that fails on our side is queued again a little later.
    async fn run_due_tasks(&self) -> Result<usize, StoreError> {
        use service::webhooks::DeliveryQueue;
        let store = &self.notifier.store;
        let due = store.due_delivery_tasks(service::now(), self.batch).await?;
        let ran = due.len();
        for (seq, task) in due {
            let result = AssertUnwindSafe(self.notifier.run_task(&task))
                .catch_unwind()
                .await
                .map_err(|panic| format!("panicked: {}", panic_message(&*panic)))
                .and_then(|r| r.map_err(|e| e.to_string()));
            match result {
                Ok(outcome) => {
                    tracing::debug!(seq, ?outcome, "delivery task ran");
                }
                Err(e) => {
                    tracing::warn!(seq, event_id = %task.event_id, error = %e, "delivery task failed; queued again");
                    let again = service::webhooks::DeliveryTask {
                        due_at: service::now() + chrono::Duration::seconds(30),
                        ..task.clone()
                    };
                    if let Err(q) = store.schedule(&again).await {
                        tracing::warn!(seq, error = %q, "could not queue the task again; it stays");
                        continue;
                    }
                }
            }
            if let Err(e) = store.finish_delivery_task(seq).await {
                tracing::warn!(seq, error = %e, "could not remove a delivery task that ran");
            }
        }
        Ok(ran)
    }

    /// Drain now (crash recovery) and every `poll` until `shutdown` is true.
    /// A pass that fails or panics is logged and the next one runs as usual.
    /// Under `panic = "abort"` (release builds) a panic ends the process
    /// instead; on restart the outbox is read again and the ledger keeps
    /// what completed from repeating.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            match AssertUnwindSafe(self.drain()).catch_unwind().await {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{self, SeedFile};
    use domain::{CancelledItem, Role, Source};
    use serde_json::{Value, json};
    use service::ledger::{Channel, Ledger, Outcome};
    use service::store::{Commit, Store};
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
                reason: "Out of stock".into(),
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
