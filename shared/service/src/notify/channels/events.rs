//! Event webhooks: the partner's events recorded and their deliveries
//! queued, each (event, endpoint) under a claim of its own
//! (`events::deliver`), not one per cancellation.

use domain::Cancellation;

use super::{Boxed, Case, Channel, NotificationChannel};
use crate::email::Mailer;
use crate::ledger::{Ledger, LedgerKey, Outcome};
use crate::notify::{ChannelReport, Notifier, NotifyError};
use crate::store::Store;
use crate::store::WebhookStore;
use crate::sync::StoreSync;

pub(super) struct WebhookChannel;

impl<S, M, Y> NotificationChannel<S, M, Y> for WebhookChannel
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    fn id(&self) -> Channel {
        Channel::Webhook
    }

    fn applies(&self, _: &Notifier<S, M, Y>, case: &Case<'_>) -> bool {
        !case.to_itself()
    }

    fn send<'a>(
        &'a self,
        n: &'a Notifier<S, M, Y>,
        case: &'a Case<'a>,
    ) -> Boxed<'a, Result<ChannelReport, NotifyError>> {
        Box::pin(n.push_events(case.c, case.record, case.partner))
    }

    /// Deliveries are keyed by event and endpoint: the failed ones of the
    /// order's events are reopened, and `notify` queues them again.
    fn reopen<'a>(
        &'a self,
        n: &'a Notifier<S, M, Y>,
        c: &'a Cancellation,
    ) -> Boxed<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            if n.webhooks.is_some() {
                reopen_failed_deliveries(n, &c.order_id).await?;
            }
            Ok(())
        })
    }
}

/// The failed deliveries of the order's events reopened (a delivered one
/// never is).
async fn reopen_failed_deliveries<S, M, Y>(
    n: &Notifier<S, M, Y>,
    order_id: &str,
) -> Result<(), NotifyError>
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    let failed = n
        .store
        .ledger_entries(order_id)
        .await?
        .into_iter()
        .filter(|e| e.channel == Channel::Webhook && e.outcome == Some(Outcome::Failed));
    for e in failed {
        let Some(endpoint) = e.endpoint_id.as_deref() else {
            continue;
        };
        let key = LedgerKey::webhook(order_id, &e.cancellation_id, endpoint);
        if n.store.reopen_failed(&key).await? {
            tracing::info!(order_id, event_id = %e.cancellation_id, endpoint_id = endpoint, "failed event delivery reopened for a retry");
        }
    }
    Ok(())
}
