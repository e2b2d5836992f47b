//! The partner company's notification email, written by the letters port
//! and sent through the mailer port.

use super::{Boxed, Case, Channel, NotificationChannel};
use crate::email::{CancellationNotice, MailError, Mailer};
use crate::ledger::Ledger;
use crate::notify::{Attempt, ChannelReport, Notifier, NotifyError};
use crate::store::Store;
use crate::store::WebhookStore;
use crate::sync::StoreSync;

pub(super) struct EmailChannel;

impl From<MailError> for Attempt {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Rejected(d) => Attempt::Permanent(d),
            MailError::Unavailable(d) => Attempt::Transient(d),
        }
    }
}

impl<S, M, Y> NotificationChannel<S, M, Y> for EmailChannel
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    fn id(&self) -> Channel {
        Channel::Email
    }

    fn applies(&self, _: &Notifier<S, M, Y>, case: &Case<'_>) -> bool {
        !case.to_itself()
    }

    fn send<'a>(
        &'a self,
        n: &'a Notifier<S, M, Y>,
        case: &'a Case<'a>,
    ) -> Boxed<'a, Result<ChannelReport, NotifyError>> {
        let partner = case.partner;
        Box::pin(n.claimed(case.c, Channel::Email, move |_| async move {
            if partner.email.trim().is_empty() {
                return Attempt::Permanent(format!("company {} has no email", partner.id));
            }
            let notice = CancellationNotice {
                order: case.order(),
                cancellation: case.c,
                partner,
                partner_party: case.partner_party,
                initiator_name: case.initiator_name,
            };
            let mail = match n
                .letters
                .cancellation(&notice, &n.config.sender, &partner.email)
            {
                Ok(m) => m,
                Err(e) => return e.into(),
            };
            match n.mailer.send(&mail).await {
                Ok(id) => Attempt::Done(format!("to {}: {id}", partner.email)),
                Err(e) => e.into(),
            }
        }))
    }
}
