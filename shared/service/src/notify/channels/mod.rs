//! The notification channels: how a partner hears of a cancellation. Each
//! channel is one file here implementing `NotificationChannel`; `notify`
//! runs every channel in `registered` in turn. Adding a channel: its id in
//! `Channel`, its file, its line in `registered` (docs/architecture.md,
//! "Adding a notification channel").

use std::future::Future;
use std::pin::Pin;

use domain::{Cancellation, Company, Order, Role};

use crate::email::Mailer;
use crate::ledger::{Ledger, LedgerKey};
use crate::notify::{ChannelReport, Notifier, NotifyError};
use crate::store::WebhookStore;
use crate::store::{OrderRecord, Store};
use crate::sync::StoreSync;

mod edi;
mod email;
mod events;
mod store_sync;

pub use crate::ledger::Channel;

/// The channels `notify` runs, in order: `Channel::REGISTERED`, each id
/// mapped to its channel (the match keeps the two in step).
pub(crate) fn registered<S, M, Y>() -> [&'static dyn NotificationChannel<S, M, Y>; 4]
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    Channel::REGISTERED.map(channel::<S, M, Y>)
}

fn channel<S, M, Y>(id: Channel) -> &'static dyn NotificationChannel<S, M, Y>
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    match id {
        Channel::Email => &email::EmailChannel,
        Channel::StoreSync => &store_sync::StoreSyncChannel,
        Channel::Edi => &edi::EdiChannel,
        Channel::Webhook => &events::WebhookChannel,
    }
}

/// A future a channel returns (boxed: channels are kept as trait objects).
pub(crate) type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One cancellation to notify, as every channel sees it.
pub(crate) struct Case<'a> {
    pub c: &'a Cancellation,
    /// The order with all its cancellations, as read now.
    pub record: &'a OrderRecord,
    /// Who is told: the initiator's partner on the order.
    pub partner: &'a Company,
    pub partner_party: Role,
    pub initiator_id: &'a str,
    /// The initiator's name (its id when the company is unknown).
    pub initiator_name: &'a str,
}

impl Case<'_> {
    pub fn order(&self) -> &Order {
        &self.record.order
    }

    /// A company on both sides of its own order tells itself nothing.
    pub fn to_itself(&self) -> bool {
        self.partner.id == self.initiator_id
    }
}

/// A way to tell a partner of a cancellation.
pub(crate) trait NotificationChannel<S, M, Y>: Sync
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    /// Its id (`Channel::REGISTERED` holds each once).
    fn id(&self) -> Channel;

    /// Whether `case`'s partner hears of it on this channel; `notify`
    /// reports `NotApplicable` otherwise.
    fn applies(&self, n: &Notifier<S, M, Y>, case: &Case<'_>) -> bool;

    /// Send: most channels make one attempt under the (cancellation,
    /// channel) ledger claim, `n.claimed(case.c, self.id(), ..)`, so it
    /// takes effect once however often it is asked.
    fn send<'a>(
        &'a self,
        n: &'a Notifier<S, M, Y>,
        case: &'a Case<'a>,
    ) -> Boxed<'a, Result<ChannelReport, NotifyError>>;

    /// An operator's retry of `c` on this channel: reopen what failed for
    /// good, so the next `notify` sends it again.
    fn reopen<'a>(
        &'a self,
        n: &'a Notifier<S, M, Y>,
        c: &'a Cancellation,
    ) -> Boxed<'a, Result<(), NotifyError>> {
        Box::pin(reopen_record(n, c, self.id()))
    }
}

/// Reopen `c`'s record on `channel` if it failed for good.
pub(crate) async fn reopen_record<S, M, Y>(
    n: &Notifier<S, M, Y>,
    c: &Cancellation,
    channel: Channel,
) -> Result<(), NotifyError>
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    let key = LedgerKey::new(&c.order_id, &c.id, channel);
    if n.store.reopen_failed(&key).await? {
        tracing::info!(cancellation_id = %c.id, channel = channel.as_str(), "failed notification reopened for a retry");
    }
    Ok(())
}
