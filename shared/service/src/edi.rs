//! EDI partners' documents, both ways. Inbound (`EdiService::edi_interchange`):
//! an interchange from a company's folder is checked whole (`edi::validate`:
//! envelopes, counts, control numbers, the sender is the folder's company)
//! and every functional group is answered with a 997, which speaks only of
//! syntax. Each accepted 860, 855 or 865 is then resolved to one order of
//! the sender's trading relationship and reconciled onto it (absolute
//! quantities, so a repeated document is a no-op); what cannot be applied
//! for a business reason is answered with an 824 and changes nothing. A bad
//! envelope is answered with a TA1 when the partner asked for one (ISA14).
//! Outbound (`Notifier`): a cancellation by its partner reaches an EDI
//! seller as an 860 and an EDI buyer as an 865, once, under the ledger,
//! with control numbers that never repeat.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use thiserror::Error;

use domain::{
    Company, Integration, Order, PartnerNamedBy, PlatformState, PocQuantities, Role, Source,
};
use edi::{
    ApplicationAdvice, ApplicationError, ChangeDocument, Delimiters, Envelope, ErrorCondition,
    IsaHeader, IsaId, PocReading, SetKind, SetRefusal, Syntax, Ta1,
};

pub(crate) mod acks;
mod document;
mod outbound;
pub mod reasons;
mod replies;
mod state;
#[cfg(test)]
mod tests;

pub use crate::ports::{ControlNumbers, EdiOutbox, EdiPorts, NumberError, OutboxError};
pub use crate::store::{AckState, SentDocument, SentDocuments};
pub use acks::{DEFAULT_ACK_WINDOW, REPLY_NUMBERS_KEPT};
pub use outbound::outbound_document;
pub use replies::{Inbound, Numbering};
pub use state::platform_state;

use crate::app::Core;
use crate::reconcile::ReconcileOutcome;
use crate::store::Store;

/// EDI intake: partners' interchanges read and answered, and the
/// acknowledgments of what we sent settled. Holds the EDI ports it needs.
pub struct EdiService<S> {
    core: Arc<Core<S>>,
    ports: EdiPorts,
}

impl<S> EdiService<S> {
    pub fn new(core: impl Into<Arc<Core<S>>>, ports: EdiPorts) -> Self {
        EdiService {
            core: core.into(),
            ports,
        }
    }
}

/// A document to put in a company's outbound folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdiFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Why a syntactically sound set changed nothing: what its 824 says.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("a {set} is not a {role}'s document")]
    WrongSender { set: SetKind, role: &'static str },
    #[error("no order with PO number {po} between the sender and the party it names")]
    UnknownPo { po: String },
    #[error("PO number {po} names {count} orders; name the other party (N1) to choose one")]
    AmbiguousPo { po: String, count: usize },
    #[error("{why}")]
    UnknownLine { why: String, segment: (String, u32) },
    #[error("line {line}: {wanted} units cannot be cancelled, {fulfilled} have shipped")]
    BeyondOpen {
        line: String,
        wanted: u32,
        fulfilled: u32,
        segment: (String, u32),
    },
    #[error("line {line}: {why}")]
    MissingQuantity {
        line: String,
        why: edi::Unusable,
        segment: (String, u32),
    },
    #[error("{0}")]
    NotPermitted(String),
}

impl Refusal {
    /// The refusal as an 824 `TED`.
    pub fn ted(&self) -> ApplicationError {
        let (condition, segment) = match self {
            Refusal::WrongSender { .. } => (ErrorCondition::InvalidCombination, None),
            Refusal::UnknownPo { .. } | Refusal::AmbiguousPo { .. } => {
                (ErrorCondition::PoInvalid, None)
            }
            Refusal::UnknownLine { segment, .. } => (ErrorCondition::InvalidId, Some(segment)),
            Refusal::BeyondOpen { segment, .. } => (ErrorCondition::InvalidQuantity, Some(segment)),
            Refusal::MissingQuantity { segment, .. } => {
                (ErrorCondition::MissingData, Some(segment))
            }
            Refusal::NotPermitted(_) => (ErrorCondition::Other, None),
        };
        ApplicationError {
            condition,
            message: self.to_string(),
            segment: segment.cloned(),
        }
    }
}

/// What one set of an interchange came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOutcome {
    Applied {
        set: SetKind,
        po_number: String,
        outcomes: Vec<ReconcileOutcome>,
    },
    /// Read and accepted, with no effect of its own (e.g. an 865 rejecting
    /// a change).
    NoEffect {
        set: SetKind,
        po_number: String,
        why: edi::NoEffect,
    },
    /// Refused for a business reason: answered with an 824.
    Refused {
        set: SetKind,
        po_number: String,
        why: Refusal,
    },
}

/// What an interchange came to: the files answering it (997, 824, TA1)
/// and each change set's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeReport {
    pub replies: Vec<EdiFile>,
    /// Set when the whole interchange was refused (wrong sender, envelope).
    pub refused: Option<String>,
    pub sets: Vec<SetOutcome>,
}

#[derive(Debug, Error)]
pub enum EdiError {
    #[error("no EDI company {0}")]
    UnknownCompany(String),
    #[error("company {0} has no usable EDI settings: {1}")]
    Settings(String, String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    App(#[from] crate::app::AppError),
}

/// An EDI company as its documents are read and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// Its ISA05/06.
    pub id: IsaId,
    /// Our id as it knows us, when set.
    pub our_id: Option<IsaId>,
    pub reading: PocReading,
    pub syntax: Syntax,
    pub named_by: PartnerNamedBy,
    /// Its own reason codes, ours -> its (`N9*L1`).
    pub reason_codes: reasons::PartnerCodes,
}

/// A company's EDI settings, checked.
pub fn partner_of(c: &Company) -> Result<Partner, EdiError> {
    let bad = |why: String| EdiError::Settings(c.id.clone(), why);
    let e = c
        .edi
        .as_ref()
        .filter(|_| c.integration == Integration::Edi)
        .ok_or_else(|| bad("not an EDI company".into()))?;
    let id = IsaId::new(&e.isa_qualifier, &e.isa_id).map_err(|x| bad(x.to_string()))?;
    let our_id = match (&e.our_isa_qualifier, &e.our_isa_id) {
        (None, None) => None,
        (q, Some(i)) => Some(
            IsaId::new(q.as_deref().unwrap_or(edi::DEFAULT_ISA_QUALIFIER), i)
                .map_err(|x| bad(x.to_string()))?,
        ),
        (Some(_), None) => return Err(bad("our_isa_qualifier without our_isa_id".into())),
    };
    let byte = |c: Option<char>, default: u8| -> Result<u8, EdiError> {
        match c {
            None => Ok(default),
            Some(c) => u8::try_from(c)
                .ok()
                .filter(u8::is_ascii)
                .ok_or_else(|| bad(format!("separator {c:?} is not ASCII"))),
        }
    };
    let d = Delimiters::OUTBOUND;
    let syntax = Syntax {
        delimiters: Delimiters {
            element: byte(e.element_separator, d.element)?,
            component: byte(e.component_separator, d.component)?,
            segment: byte(e.segment_terminator, d.segment)?,
            repetition: Some(byte(e.repetition_separator, d.repetition.unwrap_or(b'^'))?),
        },
        isa_version: e.isa_version.clone().unwrap_or_else(|| "00401".into()),
        line_breaks: true,
    };
    syntax.check().map_err(|x| bad(x.to_string()))?;
    let delimiters = [
        syntax.delimiters.element,
        syntax.delimiters.component,
        syntax.delimiters.segment,
    ]
    .into_iter()
    .chain(syntax.delimiters.repetition)
    .collect::<Vec<u8>>();
    for (ours, theirs) in &e.reason_codes {
        reasons::check_partner_code(theirs, &delimiters)
            .map_err(|why| bad(format!("reason_codes.{ours}: {why}")))?;
    }
    Ok(Partner {
        id,
        our_id,
        reading: match e.poc_quantities {
            PocQuantities::BeforeAfter => PocReading::BeforeAfter,
            PocQuantities::NewTotal => PocReading::NewTotal,
        },
        syntax,
        named_by: e.partner_named_by,
        reason_codes: e.reason_codes.clone(),
    })
}

/// Who may send which set: 860 from a buyer, 855 and 865 from a seller.
fn sent_by(set: SetKind) -> Option<Role> {
    match set {
        SetKind::PoChange860 => Some(Role::Buyer),
        SetKind::PoAck855 | SetKind::SellerChange865 => Some(Role::Seller),
        SetKind::FunctionalAck997 | SetKind::ApplicationAdvice824 => None,
    }
}

/// `N101` codes naming the other party: the buyer in a seller's document,
/// the seller in a buyer's.
fn other_party_codes(sender: Role) -> &'static [&'static str] {
    match sender {
        Role::Seller => &["BY"],
        Role::Buyer => &["SE", "SU", "VN"],
    }
}

/// The ids a document names the other party of its order by.
struct Named {
    /// `N104`s of the other party's `N1`s: when there are any, the order
    /// must be with one of them.
    n1: Vec<String>,
    /// The group and interchange receivers that are not us: used when they
    /// name one of the candidates' partners, else ignored (many partners
    /// address every document to the hub).
    receivers: Vec<String>,
}

impl<S: Store + crate::ledger::Ledger> EdiService<S> {
    fn named_in(
        &self,
        partner: &Partner,
        sender: Role,
        doc: &ChangeDocument,
        header: &IsaHeader,
    ) -> Named {
        let ours: Vec<&str> = std::iter::once(self.ports.our_id.id())
            .chain(partner.our_id.as_ref().map(IsaId::id))
            .collect();
        let n1 = match partner.named_by {
            PartnerNamedBy::Receiver => Vec::new(),
            _ => doc
                .parties
                .iter()
                .filter(|p| other_party_codes(sender).contains(&p.entity.as_str()))
                .filter(|p| !p.id.is_empty())
                .map(|p| p.id.clone())
                .collect(),
        };
        let receivers = match partner.named_by {
            PartnerNamedBy::N1 => Vec::new(),
            _ => [doc.group_receiver.as_str(), header.receiver.id()]
                .into_iter()
                .filter(|r| !r.is_empty() && !ours.contains(r))
                .map(str::to_owned)
                .collect(),
        };
        Named { n1, receivers }
    }

    /// The one order a document's PO number names within the sender's
    /// trading relationship: among the sender's orders with that PO
    /// (indexed, for buyers and sellers alike), those with the party the
    /// document names; more than one is refused, never applied to all.
    async fn order_for_po(
        &self,
        company: &Company,
        doc: &ChangeDocument,
        named: &Named,
    ) -> Result<Result<Order, Refusal>, EdiError> {
        let app = |e| EdiError::App(crate::app::AppError::Store(e));
        let po = &doc.po_number;
        let mut candidates: Vec<Order> = match company.role {
            Role::Buyer => self
                .core
                .store
                .orders_by_ref(&company.id, Role::Buyer, po)
                .await
                .map_err(app)?
                .into_iter()
                .filter(|o| o.buyer_id == company.id)
                .collect(),
            Role::Seller => self
                .core
                .store
                .seller_orders_by_po(&company.id, po)
                .await
                .map_err(app)?
                .into_iter()
                .filter(|o| o.seller_id == company.id)
                .collect(),
        };
        if !named.n1.is_empty() || !named.receivers.is_empty() {
            let mut ids_of: HashMap<String, Vec<String>> = HashMap::new();
            for o in &candidates {
                let other = match company.role {
                    Role::Buyer => &o.seller_id,
                    Role::Seller => &o.buyer_id,
                };
                if ids_of.contains_key(other) {
                    continue;
                }
                let c = self
                    .core
                    .store
                    .company(other)
                    .await
                    .map_err(|e| EdiError::App(e.into()))?;
                let mut ids = vec![other.clone()];
                ids.extend(c.and_then(|c| c.edi).map(|e| e.isa_id));
                ids_of.insert(other.clone(), ids);
            }
            let with = |names: &[String], o: &Order| {
                let other = match company.role {
                    Role::Buyer => &o.seller_id,
                    Role::Seller => &o.buyer_id,
                };
                ids_of
                    .get(other)
                    .is_some_and(|ids| ids.iter().any(|i| names.contains(i)))
            };
            if !named.n1.is_empty() {
                candidates.retain(|o| with(&named.n1, o));
            } else if candidates.iter().any(|o| with(&named.receivers, o)) {
                candidates.retain(|o| with(&named.receivers, o));
            }
        }
        let count = candidates.len();
        Ok(match candidates.pop() {
            None => Err(Refusal::UnknownPo { po: po.clone() }),
            Some(o) if count == 1 => Ok(o),
            Some(_) => Err(Refusal::AmbiguousPo {
                po: po.clone(),
                count,
            }),
        })
    }

    /// Apply one accepted change set from `company`.
    async fn apply_change(
        &self,
        company: &Company,
        partner: &Partner,
        header: &IsaHeader,
        doc: &ChangeDocument,
        delivery: &str,
    ) -> Result<SetOutcome, EdiError> {
        let refused = |why: Refusal| SetOutcome::Refused {
            set: doc.set,
            po_number: doc.po_number.clone(),
            why,
        };
        if sent_by(doc.set) != Some(company.role) {
            return Ok(refused(Refusal::WrongSender {
                set: doc.set,
                role: company.role.as_str(),
            }));
        }
        let named = self.named_in(partner, company.role, doc, header);
        let order = match self.order_for_po(company, doc, &named).await? {
            Ok(o) => o,
            Err(why) => return Ok(refused(why)),
        };
        if let Some(why) = doc.no_effect {
            return Ok(SetOutcome::NoEffect {
                set: doc.set,
                po_number: doc.po_number.clone(),
                why,
            });
        }
        let reason_code = reasons::document_code(doc, &partner.reason_codes);
        // Every line must be usable before anything changes.
        if let Err(why) = platform_state(&order, doc, reason_code) {
            return Ok(refused(why));
        }
        let (set, po_number) = (doc.set, doc.po_number.clone());
        let doc = Arc::new(doc.clone());
        let outcomes = self
            .core
            .reconcile_to(
                company,
                Source::Edi,
                delivery,
                vec![order],
                move |order: &Order| {
                    // The order may have moved on since the check (a
                    // shipment): then nothing is asked of it.
                    platform_state(order, &doc, reason_code).unwrap_or_else(|_| PlatformState {
                        whole_order_cancelled: false,
                        lines: Vec::new(),
                        reason_code,
                        reason: doc.order_reason(),
                    })
                },
            )
            .await;
        match outcomes {
            Ok(outcomes) => Ok(SetOutcome::Applied {
                set,
                po_number,
                outcomes,
            }),
            Err(crate::app::AppError::Domain(d)) => {
                Ok(refused(Refusal::NotPermitted(d.to_string())))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The envelope of a reply to `header` (from the id the partner
    /// addressed, to the partner, in its syntax).
    async fn reply_envelope(
        &self,
        company: &Company,
        partner: &Partner,
        header: &IsaHeader,
        group_ids: Option<(String, String)>,
        numbering: &Numbering,
    ) -> Result<Envelope, EdiError> {
        let ports = &self.ports;
        let control = match numbering.kept() {
            Some(n) => n,
            None => ports
                .numbers
                .next(&company.id)
                .await
                .map_err(|e| EdiError::Unavailable(e.to_string()))?,
        };
        numbering.used(control);
        let from =
            IsaId::new(header.receiver.qualifier(), header.receiver.id()).unwrap_or_else(|_| {
                partner
                    .our_id
                    .clone()
                    .unwrap_or_else(|| ports.our_id.clone())
            });
        let mut env = Envelope::new(from, partner.id.clone(), control, Utc::now().naive_utc())
            .with_syntax(partner.syntax.clone());
        env.group_ids = group_ids;
        Ok(env)
    }

    /// A TA1 rejecting the interchange `header` names, when it asked for
    /// one.
    async fn ta1(
        &self,
        company: &Company,
        partner: &Partner,
        header: &IsaHeader,
        note: edi::InterchangeNote,
        numbering: &Numbering,
    ) -> Result<Option<EdiFile>, EdiError> {
        if !header.ack_requested {
            return Ok(None);
        }
        let env = self
            .reply_envelope(company, partner, header, None, numbering)
            .await?;
        let ta1 = Ta1 {
            control_number: header.control_number,
            date: header.date,
            time: header.time,
            note,
        };
        let bytes = edi::write_ta1(&env, &ta1).map_err(|e| EdiError::Unavailable(e.to_string()))?;
        Ok(Some(EdiFile {
            name: edi::ta1_file_name(env.control_number),
            bytes,
        }))
    }

    async fn edi_company(&self, company_id: &str) -> Result<(Company, Partner), EdiError> {
        let company = self
            .core
            .store
            .company(company_id)
            .await
            .map_err(|e| EdiError::App(e.into()))?
            .ok_or_else(|| EdiError::UnknownCompany(company_id.to_owned()))?;
        let partner = partner_of(&company)?;
        Ok((company, partner))
    }

    /// A file too large to read: only its ISA (`head`, its first bytes)
    /// is looked at, to answer with a TA1 when the partner asked for one.
    pub async fn edi_too_large(
        &self,
        company_id: &str,
        head: &[u8],
        size: u64,
    ) -> Result<InterchangeReport, EdiError> {
        self.edi_too_large_numbered(company_id, head, size, &Numbering::default())
            .await
    }

    pub(crate) async fn edi_too_large_numbered(
        &self,
        company_id: &str,
        head: &[u8],
        size: u64,
        numbering: &Numbering,
    ) -> Result<InterchangeReport, EdiError> {
        let (company, partner) = self.edi_company(company_id).await?;
        let refused = format!(
            "the file has {size} bytes; at most {} are read",
            edi::MAX_BYTES
        );
        let mut replies = Vec::new();
        if let Some(header) = edi::read_isa(head).ok().filter(|h| h.sender == partner.id) {
            replies.extend(
                self.ta1(
                    &company,
                    &partner,
                    &header,
                    edi::InterchangeNote::InvalidContent,
                    numbering,
                )
                .await?,
            );
        }
        Ok(InterchangeReport {
            replies,
            refused: Some(refused),
            sets: Vec::new(),
        })
    }

    /// Process one interchange from `company_id`'s inbound folder.
    pub async fn edi_interchange(
        &self,
        company_id: &str,
        bytes: &[u8],
    ) -> Result<InterchangeReport, EdiError> {
        self.edi_interchange_numbered(company_id, bytes, &Numbering::default())
            .await
    }

    async fn edi_interchange_in_span(
        &self,
        company_id: &str,
        bytes: &[u8],
        numbering: &Numbering,
    ) -> Result<InterchangeReport, EdiError> {
        let (company, partner) = self.edi_company(company_id).await?;
        let ic = match edi::parse_interchange(bytes) {
            Ok(ic) => ic,
            Err(e) => {
                tracing::warn!(company_id, error = %e, "EDI file is not a readable interchange");
                let mut replies = Vec::new();
                let header = edi::read_isa(bytes).ok().filter(|h| h.sender == partner.id);
                if let (Some(note), Some(header)) = (e.ta1_note(), header) {
                    replies.extend(
                        self.ta1(&company, &partner, &header, note, numbering)
                            .await?,
                    );
                }
                return Ok(InterchangeReport {
                    replies,
                    refused: Some(e.to_string()),
                    sets: Vec::new(),
                });
            }
        };
        let v = edi::validate(&ic, &partner.id, partner.reading);
        let group_ids = ic
            .groups
            .first()
            .map(|g| (g.receiver_code().to_owned(), g.sender_code().to_owned()))
            .filter(|(a, b)| !a.is_empty() && !b.is_empty());
        let mut replies = Vec::new();
        let refused = v.ack.error.as_ref().map(|e| e.to_string());
        let mut sets = Vec::new();
        let mut refusals = Vec::new();
        if let Some(e) = &v.ack.error {
            tracing::warn!(company_id, control_number = v.ack.control_number, error = %e, "EDI interchange refused whole");
            replies.extend(
                self.ta1(&company, &partner, &ic.header, e.ta1_note(), numbering)
                    .await?,
            );
        } else {
            let digest = crate::app::sha256_hex(bytes);
            for doc in &v.changes {
                // The file's digest, not only its control numbers: a partner
                // that reuses numbers for a new file is not taken for a repeat.
                let delivery = format!(
                    "edi:{}:{}:{}:{}",
                    company.id,
                    &digest[..32],
                    doc.set.id(),
                    doc.control_number
                );
                let outcome = self
                    .apply_change(&company, &partner, &ic.header, doc, &delivery)
                    .await?;
                match &outcome {
                    SetOutcome::Refused { why, .. } => {
                        tracing::warn!(company_id, set = doc.set.id(), control_number = %doc.control_number, po_number = %doc.po_number, error = %why, "EDI set refused; nothing changed, an 824 says why");
                        refusals.push(SetRefusal {
                            po_number: doc.po_number.clone(),
                            group_control_number: doc.group_control_number.clone(),
                            set_control_number: doc.control_number.clone(),
                            set: doc.set,
                            errors: vec![why.ted()],
                        });
                    }
                    SetOutcome::NoEffect { why, .. } => {
                        tracing::info!(company_id, set = doc.set.id(), po_number = %doc.po_number, reason = %why, "EDI set read; it changes nothing");
                    }
                    SetOutcome::Applied { .. } => {
                        tracing::info!(company_id, set = doc.set.id(), po_number = %doc.po_number, ?outcome, "EDI set applied");
                    }
                }
                sets.push(outcome);
            }
        }
        if v.ack.to_answer().next().is_some() {
            let env = self
                .reply_envelope(&company, &partner, &ic.header, group_ids.clone(), numbering)
                .await?;
            let bytes =
                edi::write_997(&env, &v.ack).map_err(|e| EdiError::Unavailable(e.to_string()))?;
            replies.extend(bytes.map(|bytes| EdiFile {
                name: edi::file_name(env.control_number, SetKind::FunctionalAck997),
                bytes,
            }));
        }
        if !refusals.is_empty() {
            let env = self
                .reply_envelope(&company, &partner, &ic.header, group_ids, numbering)
                .await?;
            let advice = ApplicationAdvice {
                reference: format!("{:09}", ic.header.control_number),
                refusals,
            };
            let bytes =
                edi::write_824(&env, &advice).map_err(|e| EdiError::Unavailable(e.to_string()))?;
            replies.push(EdiFile {
                name: edi::file_name(env.control_number, SetKind::ApplicationAdvice824),
                bytes,
            });
        }
        log_acknowledgments(company_id, &v);
        self.settle_acknowledgments(company_id, &v).await;
        Ok(InterchangeReport {
            replies,
            refused,
            sets,
        })
    }
}

/// What the partner's own 997s and TA1s say, in the log.
fn log_acknowledgments(company_id: &str, v: &edi::Validation) {
    for g in &v.acknowledgments {
        tracing::info!(company_id, group = %g.functional_id, control_number = %g.control_number, status = g.status.code(), "the partner acknowledged a group");
    }
    for t in &v.ta1s {
        tracing::info!(company_id, control_number = t.control_number, accepted = t.accepted, note = %t.note, "the partner acknowledged an interchange (TA1)");
    }
}
