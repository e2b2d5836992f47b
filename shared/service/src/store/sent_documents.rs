//! The EDI sent documents role: what we sent to EDI partners, until each
//! is acknowledged (see `edi::acks`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Pending;
use crate::error::StoreError;
use crate::ledger::{Channel, LedgerKey};

/// Where an acknowledgment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckState {
    /// Sent; nothing heard yet.
    Awaiting,
    /// The partner's 997 accepted it (`A` or `E`).
    Accepted,
    /// The partner's 997 or TA1 rejected it.
    Rejected,
    /// Nothing heard within the window.
    Overdue,
}

impl AckState {
    pub fn as_str(self) -> &'static str {
        match self {
            AckState::Awaiting => "awaiting",
            AckState::Accepted => "accepted",
            AckState::Rejected => "rejected",
            AckState::Overdue => "overdue",
        }
    }
}

/// A document we sent to an EDI partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentDocument {
    /// The partner it went to.
    pub company_id: String,
    /// Its ISA13, which is also its GS06 (the partner's AK102).
    pub control_number: u32,
    /// Its set (`860`, `865`).
    pub set: String,
    /// Its GS01 (`PC`, `CA`): what the partner's AK101 names.
    pub functional_id: String,
    pub order_id: String,
    pub cancellation_id: String,
    /// The notification claim that sent it: only that send is failed.
    pub attempt: u32,
    pub sent_at: DateTime<Utc>,
    pub state: AckState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<DateTime<Utc>>,
    /// What settled it, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl SentDocument {
    /// The notification record the document was sent under.
    pub fn ledger_key(&self) -> LedgerKey {
        LedgerKey::new(&self.order_id, &self.cancellation_id, Channel::Edi)
    }
}

/// The record of documents sent. Both stores implement it; the suite in
/// `testkit::sent_documents_contract` runs against each.
pub trait SentDocuments: Send + Sync + 'static {
    /// Record a document as it is sent (state `Awaiting`), or again under
    /// the same control number when a cut attempt is repeated.
    fn record<'a>(&'a self, doc: &'a SentDocument) -> Pending<'a, (), StoreError>;

    /// The document still awaiting its acknowledgment that was sent to
    /// `company_id` for `cancellation_id`: what a repeated attempt sends
    /// again under the same control number.
    fn awaiting_for<'a>(
        &'a self,
        company_id: &'a str,
        cancellation_id: &'a str,
    ) -> Pending<'a, Option<SentDocument>, StoreError>;

    /// The control numbers our replies to inbound file `source` (its
    /// identity, not its content) were given, if any were kept.
    fn reply_numbers<'a>(
        &'a self,
        company_id: &'a str,
        source: &'a str,
    ) -> Pending<'a, Option<Vec<u32>>, StoreError>;

    /// Keep `numbers` as the replies' control numbers of `source`, unless
    /// some were kept first: returns the numbers that stand.
    fn keep_reply_numbers<'a>(
        &'a self,
        company_id: &'a str,
        source: &'a str,
        numbers: &'a [u32],
    ) -> Pending<'a, Vec<u32>, StoreError>;

    /// The document sent to `company_id` under `control_number`.
    fn sent_document<'a>(
        &'a self,
        company_id: &'a str,
        control_number: u32,
    ) -> Pending<'a, Option<SentDocument>, StoreError>;

    /// Settle a document still awaiting its acknowledgment; `false` when
    /// there is none such (unknown, or settled already).
    fn settle<'a>(
        &'a self,
        company_id: &'a str,
        control_number: u32,
        state: AckState,
        note: &'a str,
        at: DateTime<Utc>,
    ) -> Pending<'a, bool, StoreError>;

    /// Documents still awaiting an acknowledgment sent before
    /// `sent_before`, oldest first, at most `limit`.
    fn awaiting(
        &self,
        sent_before: DateTime<Utc>,
        limit: usize,
    ) -> Pending<'_, Vec<SentDocument>, StoreError>;
}
