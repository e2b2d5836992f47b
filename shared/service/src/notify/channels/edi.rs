//! An X12 document to an EDI partner: an 860 to a seller, an 865 to a
//! buyer, written to the partner's outbound folder through `EdiPorts`.

use super::{Boxed, Case, Channel, NotificationChannel, reopen_record};
use crate::edi::{AckState, SentDocument, acks};
use crate::email::Mailer;
use crate::ledger::Ledger;
use crate::notify::{Attempt, ChannelReport, Notifier, NotifyError, RETRY_SCAN};
use crate::store::Store;
use crate::store::WebhookStore;
use crate::sync::StoreSync;
use domain::Cancellation;

pub(super) struct EdiChannel;

impl<S, M, Y> NotificationChannel<S, M, Y> for EdiChannel
where
    S: Store + Ledger + WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    fn id(&self) -> Channel {
        Channel::Edi
    }

    fn applies(&self, n: &Notifier<S, M, Y>, case: &Case<'_>) -> bool {
        n.edi.is_some() && case.partner.integration == domain::Integration::Edi && !case.to_itself()
    }

    fn send<'a>(
        &'a self,
        n: &'a Notifier<S, M, Y>,
        case: &'a Case<'a>,
    ) -> Boxed<'a, Result<ChannelReport, NotifyError>> {
        let Some(ports) = &n.edi else {
            return Box::pin(async { Ok(ChannelReport::NotApplicable) });
        };
        let (c, partner, partner_party) = (case.c, case.partner, case.partner_party);
        Box::pin(n.claimed(c, Channel::Edi, move |attempt| async move {
            let settings = match crate::edi::partner_of(partner) {
                Ok(p) => p,
                Err(e) => return Attempt::Permanent(e.to_string()),
            };
            // A repeat of a cut attempt sends the same document under
            // the numbers it was first given: the partner may see it
            // twice, never as two documents.
            let earlier = match ports.sent.awaiting_for(&partner.id, &c.id).await {
                Ok(d) => d,
                Err(e) => return Attempt::Transient(e.to_string()),
            };
            let (control, sent_at) = match &earlier {
                Some(d) => (d.control_number, d.sent_at),
                None => match ports.numbers.next(&partner.id).await {
                    Ok(n) => (n, crate::app::now()),
                    Err(e) => return Attempt::Transient(e.to_string()),
                },
            };
            let (order_then, _) = crate::store::as_of(case.record, c);
            let file = match crate::edi::outbound_document(
                &ports.our_id,
                &settings,
                partner_party,
                &order_then,
                c,
                control,
            ) {
                Ok(f) => f,
                Err(e) => return Attempt::Permanent(format!("writing the document: {e}")),
            };
            let set = match partner_party {
                domain::Role::Seller => edi::SetKind::PoChange860,
                domain::Role::Buyer => edi::SetKind::SellerChange865,
            };
            // Recorded before it is written: a 997 for it can then
            // always be matched, and one never sent turns overdue.
            let sent = SentDocument {
                company_id: partner.id.clone(),
                control_number: control,
                set: set.id().to_owned(),
                functional_id: set.functional_id().to_owned(),
                order_id: c.order_id.clone(),
                cancellation_id: c.id.clone(),
                attempt,
                sent_at,
                state: AckState::Awaiting,
                settled_at: None,
                note: None,
            };
            if let Err(e) = ports.sent.record(&sent).await {
                return Attempt::Transient(e.to_string());
            }
            // The partner sees this detail: it names the document by
            // its control number, never where it was written.
            match ports.outbox.put(&partner.id, &file.name, &file.bytes).await {
                Ok(at) => {
                    tracing::info!(company_id = %partner.id, file = %file.name, at = ?at, "EDI document written");
                    Attempt::Done(format!(
                        "X12 {set} sent, interchange control number {control:09}"
                    ))
                }
                Err(e) => Attempt::Transient(e.to_string()),
            }
        }))
    }

    /// A document overdue for its 997 counts as failed: it is settled so,
    /// then sent again under a new control number.
    fn reopen<'a>(
        &'a self,
        n: &'a Notifier<S, M, Y>,
        c: &'a Cancellation,
    ) -> Boxed<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            if let Some(ports) = &n.edi {
                let overdue: Vec<_> = acks::overdue_documents(ports, crate::app::now(), RETRY_SCAN)
                    .await?
                    .into_iter()
                    .filter(|d| d.cancellation_id == c.id)
                    .collect();
                acks::settle_overdue(ports, &n.store, &n.metrics, &overdue).await;
            }
            reopen_record(n, c, Channel::Edi).await
        })
    }
}
