//! What partners say of the documents we send them. Each 860 or 865 is
//! recorded under its control number as it is sent; the partner's 997
//! settles it (a TA1 only when it rejects the envelope: accepting one says
//! nothing of the sets inside). A rejected document, or one not
//! acknowledged within `EdiPorts::ack_window`, turns its notification
//! record failed: `dropship notifications list` shows it, the
//! `EdiDocumentsUnacknowledged` metric counts it, and `dropship
//! notifications retry` sends it again under a new control number.

use chrono::{DateTime, Utc};

use super::EdiService;
use crate::ledger::Ledger;
use crate::metrics::{Event, Metrics};
use crate::ports::EdiPorts;
use crate::store::{AckState, SentDocument, Store, StoreError};

/// How long the control numbers of our replies to an inbound file are
/// kept: longer than any retry of the file (the watcher's, S3's).
pub const REPLY_NUMBERS_KEPT: chrono::Duration = chrono::Duration::days(30);

/// The most overdue documents settled by one `edi_overdue` call.
const OVERDUE_BATCH: usize = 100;

/// What a partner's acknowledgment says of one of our documents.
struct Verdict<'a> {
    control_number: u32,
    /// AK101 for a 997; none for a TA1.
    functional_id: Option<&'a str>,
    state: AckState,
    note: String,
}

fn verdicts(v: &edi::Validation) -> Vec<Verdict<'_>> {
    let mut out = Vec::new();
    for g in &v.acknowledgments {
        let Some(control_number) = edi::control_number(&g.control_number) else {
            tracing::info!(control_number = %g.control_number, "a 997 for a group that is not ours; ignored");
            continue;
        };
        let rejected = match g.status {
            edi::GroupStatus::Accepted | edi::GroupStatus::AcceptedWithErrors => false,
            edi::GroupStatus::Rejected => true,
            // Ours carry one set each: partial means that set's AK5 decides.
            edi::GroupStatus::Partial => {
                g.sets.iter().any(|s| s.status == edi::SetStatus::Rejected)
            }
        };
        let codes: Vec<String> = g.errors.iter().map(|c| c.code().to_string()).collect();
        out.push(Verdict {
            control_number,
            functional_id: Some(&g.functional_id),
            state: if rejected {
                AckState::Rejected
            } else {
                AckState::Accepted
            },
            note: format!(
                "the partner's 997 says AK9 {}{}",
                g.status.code(),
                if codes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", codes.join(", "))
                }
            ),
        });
    }
    for t in v.ta1s.iter().filter(|t| !t.accepted) {
        out.push(Verdict {
            control_number: t.control_number,
            functional_id: None,
            state: AckState::Rejected,
            note: format!(
                "the partner's TA1 rejects the interchange (TA105 {})",
                t.note
            ),
        });
    }
    out
}

/// The window partners have to acknowledge our documents, unless the host
/// sets another (`EdiPorts::ack_window`).
pub const DEFAULT_ACK_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// Settle `doc` as `state`; a rejected or overdue one fails its
/// notification record first, so a crash in between leaves it awaiting
/// (settled again later), never settled with the record still sent.
pub(crate) async fn conclude<L: Ledger>(
    ports: &EdiPorts,
    ledger: &L,
    metrics: &Metrics,
    doc: &SentDocument,
    state: AckState,
    note: &str,
) -> Result<(), StoreError> {
    let now = crate::app::now();
    if matches!(state, AckState::Rejected | AckState::Overdue) {
        let what = format!("X12 {} {:09}: {note}", doc.set, doc.control_number);
        let failed = ledger
            .fail_sent(&doc.ledger_key(), doc.attempt, &what, now)
            .await?;
        metrics.count(Event::EdiUnacknowledged {
            result: state.as_str(),
        });
        tracing::warn!(company_id = %doc.company_id, control_number = doc.control_number, order_id = %doc.order_id, cancellation_id = %doc.cancellation_id, state = state.as_str(), ledger_failed = failed, note, "our EDI document was not taken; `dropship notifications retry` sends it again");
    } else {
        tracing::info!(company_id = %doc.company_id, control_number = doc.control_number, order_id = %doc.order_id, note, "the partner accepted our EDI document");
    }
    ports
        .sent
        .settle(&doc.company_id, doc.control_number, state, note, now)
        .await?;
    Ok(())
}

/// Documents sent more than the window before `now` and still awaiting
/// their acknowledgment (at most `limit`, oldest first).
pub(crate) async fn overdue_documents(
    ports: &EdiPorts,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<SentDocument>, StoreError> {
    ports.sent.awaiting(now - ports.ack_window, limit).await
}

/// Settle overdue `docs`, one failure not stopping the others; how many
/// were settled.
pub(crate) async fn settle_overdue<L: Ledger>(
    ports: &EdiPorts,
    ledger: &L,
    metrics: &Metrics,
    docs: &[SentDocument],
) -> usize {
    let note = format!(
        "no 997 within {} h of sending",
        ports.ack_window.num_hours()
    );
    let mut settled = 0;
    for doc in docs {
        match conclude(ports, ledger, metrics, doc, AckState::Overdue, &note).await {
            Ok(()) => settled += 1,
            Err(e) => {
                tracing::warn!(company_id = %doc.company_id, control_number = doc.control_number, error = %e, "could not settle an overdue document; tried again next time");
            }
        }
    }
    settled
}

impl<S: Store + Ledger> EdiService<S> {
    /// Settle what the partner's 997s and TA1s in an accepted interchange
    /// say of our documents. A failure is logged, never fatal: the
    /// document then stays awaiting and turns overdue, which re-sends it.
    pub(crate) async fn settle_acknowledgments(&self, company_id: &str, v: &edi::Validation) {
        for verdict in verdicts(v) {
            if let Err(e) = self.settle_one(company_id, &verdict).await {
                tracing::warn!(company_id, control_number = verdict.control_number, error = %e, "could not record the partner's acknowledgment; the document will turn overdue");
            }
        }
    }

    async fn settle_one(&self, company_id: &str, verdict: &Verdict<'_>) -> Result<(), StoreError> {
        let ports = &self.ports;
        let control = verdict.control_number;
        let Some(doc) = ports.sent.sent_document(company_id, control).await? else {
            tracing::info!(
                company_id,
                control_number = control,
                "the partner acknowledged a document we did not send it; ignored"
            );
            return Ok(());
        };
        if verdict
            .functional_id
            .is_some_and(|f| f != doc.functional_id)
        {
            tracing::warn!(company_id, control_number = control, expected = %doc.functional_id, found = ?verdict.functional_id, "a 997 names our control number under another group; ignored");
            return Ok(());
        }
        if doc.state != AckState::Awaiting {
            tracing::info!(
                company_id,
                control_number = control,
                state = doc.state.as_str(),
                "acknowledged again; kept as it was"
            );
            return Ok(());
        }
        conclude(
            ports,
            &self.core.store,
            &self.core.metrics,
            &doc,
            verdict.state,
            &verdict.note,
        )
        .await
    }

    /// Settle as overdue the documents sent more than the window ago with
    /// no acknowledgment (at most a batch per call: hosts call it
    /// periodically). Returns how many were settled.
    pub async fn edi_overdue(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let ports = &self.ports;
        let docs = overdue_documents(ports, now, OVERDUE_BATCH).await?;
        Ok(settle_overdue(ports, &self.core.store, &self.core.metrics, &docs).await)
    }
}
