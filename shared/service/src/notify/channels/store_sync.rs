//! The partner's store platform: refund, order status, line quantities,
//! as `domain::sync` plans them, applied through the store-sync port.

use domain::sync;

use super::{Boxed, Case, Channel, NotificationChannel};
use crate::email::Mailer;
use crate::ledger::Ledger;
use crate::notify::{Attempt, ChannelReport, Notifier, NotifyError};
use crate::store::Store;
use crate::store::WebhookStore;
use crate::sync::{StoreSync, SyncError};

pub(super) struct StoreSyncChannel;

impl From<SyncError> for Attempt {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Rejected(d) => Attempt::Permanent(d),
            SyncError::Unavailable(d) => Attempt::Transient(d),
        }
    }
}

impl<S, M, Y> NotificationChannel<S, M, Y> for StoreSyncChannel
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    fn id(&self) -> Channel {
        Channel::StoreSync
    }

    fn applies(&self, _: &Notifier<S, M, Y>, case: &Case<'_>) -> bool {
        sync::syncs(case.partner, case.partner_party)
    }

    fn send<'a>(
        &'a self,
        n: &'a Notifier<S, M, Y>,
        case: &'a Case<'a>,
    ) -> Boxed<'a, Result<ChannelReport, NotifyError>> {
        Box::pin(n.claimed(case.c, Channel::StoreSync, move |_| async move {
            match sync::plan(case.partner, case.partner_party, case.order(), case.c) {
                Ok(Some(plan)) => match n.sync.apply(&plan).await {
                    Ok(detail) => Attempt::Done(detail),
                    Err(e) => e.into(),
                },
                Ok(None) => Attempt::Done("no store sync for this partner".into()),
                Err(e) => SyncError::from(e).into(),
            }
        }))
    }
}
