//! The notifier in-process, for `dropship serve`: drains the embedded
//! store's outbox (one row per committed cancellation, written in the same
//! transaction) through the same `Notifier` and ledger as the Lambda.
//! At-least-once like the DynamoDB stream: the outbox is read on start
//! (crash recovery) and every `poll` after; an entry whose notification
//! failed is retried with exponential backoff, capped at `max_backoff`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::outbox::{EmlOutbox, RecordingStoreSync};
use super::sync::{HttpStoreSync, LocalStoreSync, StoreSync};
use super::{Notifier, NotifierConfig, email::Mailer};
use crate::platforms::PlatformHttp;
use crate::store::StoreError;
use crate::store::embedded::EmbeddedStore;

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
            match self.notifier.notify(&entry.cancellation).await {
                Ok(report) => {
                    tracing::debug!(seq = entry.seq, ?report, "outbox entry notified");
                    store
                        .finish_outbox(entry.seq, Ok(()), crate::app::now())
                        .await?;
                    self.retry_at.remove(&entry.seq);
                    done.notified += 1;
                }
                Err(e) => {
                    let attempts = entry.attempts.saturating_add(1);
                    let delay = self.backoff(attempts);
                    tracing::warn!(
                        seq = entry.seq,
                        cancellation_id = %entry.cancellation.id,
                        attempts,
                        retry_in_ms = delay.as_millis() as u64,
                        error = %e,
                        "notification failed; will retry"
                    );
                    store
                        .finish_outbox(entry.seq, Err(e.to_string()), crate::app::now())
                        .await?;
                    self.retry_at.insert(entry.seq, Instant::now() + delay);
                    done.failed += 1;
                }
            }
        }
        Ok(done)
    }

    /// Drain now (crash recovery) and every `poll` until `shutdown` is true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.drain().await {
                tracing::warn!(error = %e, "reading the outbox failed");
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
