//! EDI partners' documents, both ways. Inbound (`App::edi_interchange`):
//! an interchange from a company's folder is checked whole (`edi::validate`:
//! envelopes, counts, control numbers, the sender is the folder's company),
//! each accepted 860, 855 or 865 is reconciled onto the sender's order with
//! its PO number (absolute quantities, so a repeated document is a no-op),
//! and every functional group is answered with a 997 that also rejects the
//! sets that could not be applied. Outbound (`Notifier`): a cancellation by
//! its partner reaches an EDI seller as an 860 and an EDI buyer as an 865,
//! once, under the ledger, with control numbers that never repeat.

use std::sync::Arc;

use chrono::Utc;
use thiserror::Error;

use domain::{Company, Integration, Order, PlatformLine, PlatformState, Role, Source};
use edi::{
    ChangeDocument, Envelope, IsaId, LineAction, OutboundChange, OutboundLine, OutboundScope,
    SetKind, SetStatus,
};

use crate::app::App;
use crate::reconcile::ReconcileOutcome;
use crate::store::{StatusFilter, Store};
use crate::webhooks::Pending;

/// Interchange control numbers per partner: each call a number never
/// given out for that partner before (1 to 999 999 999).
pub trait ControlNumbers: Send + Sync + 'static {
    fn next<'a>(&'a self, company_id: &'a str) -> Pending<'a, u32, String>;
}

/// Where documents for a company are put: `outbound/<company>/<name>` of
/// the EDI folder (local) or bucket (AWS).
pub trait EdiOutbox: Send + Sync + 'static {
    fn put<'a>(
        &'a self,
        company_id: &'a str,
        name: &'a str,
        bytes: &'a [u8],
    ) -> Pending<'a, String, String>;
}

/// What EDI needs: our interchange id (`DROPSHIP_ISA_ID`), control numbers,
/// the outbound folder.
#[derive(Clone)]
pub struct EdiPorts {
    pub our_id: IsaId,
    pub numbers: Arc<dyn ControlNumbers>,
    pub outbox: Arc<dyn EdiOutbox>,
}

/// A document to put in a company's outbound folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdiFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What one set of an interchange came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOutcome {
    Applied {
        set: SetKind,
        po_number: String,
        outcomes: Vec<ReconcileOutcome>,
    },
    Rejected {
        set: SetKind,
        po_number: String,
        why: String,
    },
}

/// What an interchange came to: its 997 (none when it held only 997s) and
/// each change set's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeReport {
    pub ack: Option<EdiFile>,
    /// Set when the whole interchange was refused (wrong sender, envelope).
    pub refused: Option<String>,
    pub sets: Vec<SetOutcome>,
}

#[derive(Debug, Error)]
pub enum EdiError {
    #[error("no EDI company {0}")]
    UnknownCompany(String),
    #[error("company {0} has no usable EDI interchange id")]
    NoIsaId(String),
    /// Not even an ISA to answer to: nothing is written back.
    #[error("the file is not an X12 interchange: {0}")]
    Unreadable(String),
    #[error("EDI is not set up on this host")]
    NotConfigured,
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    App(#[from] crate::app::AppError),
}

/// A company's interchange id.
pub fn isa_id_of(c: &Company) -> Result<IsaId, EdiError> {
    let e = c
        .edi
        .as_ref()
        .filter(|_| c.integration == Integration::Edi)
        .ok_or_else(|| EdiError::NoIsaId(c.id.clone()))?;
    IsaId::new(&e.isa_qualifier, &e.isa_id).map_err(|_| EdiError::NoIsaId(c.id.clone()))
}

/// The order line a document's line names: by its assigned id (the line's
/// buyer line ref, else its id), else by its SKU (`SK`). A line found by
/// id whose `SK` names another SKU is refused: the partner means another
/// line than the one the id names.
fn line_of<'a>(order: &'a Order, change: &edi::LineChange) -> Result<&'a domain::LineItem, String> {
    let sku = change
        .product_ids
        .iter()
        .find(|p| p.qualifier == edi::ProductQualifier::Sku)
        .map(|p| p.id.as_str());
    let by_id = order
        .line_items
        .iter()
        .find(|l| l.buyer_line_ref.as_deref() == Some(change.line_id.as_str()))
        .or_else(|| order.line_items.iter().find(|l| l.id == change.line_id));
    match (by_id, sku) {
        (Some(l), Some(s)) if l.sku != s => Err(format!(
            "line {} is SKU {}, the document says {s}",
            change.line_id, l.sku
        )),
        (Some(l), _) => Ok(l),
        (None, Some(s)) => order.line_items.iter().find(|l| l.sku == s).ok_or_else(|| {
            format!(
                "neither line {} nor SKU {s} is on the order",
                change.line_id
            )
        }),
        (None, None) => Err(format!("line {} is not on the order", change.line_id)),
    }
}

/// The document as absolute line quantities (the reconciliation store
/// platforms use): `CancelOpen` keeps what was fulfilled, `SetTotal` is
/// the line's new total, `NoChange` is left out. `Err` names a line the
/// order does not have.
pub fn platform_state(order: &Order, doc: &ChangeDocument) -> Result<PlatformState, String> {
    let mut lines = Vec::new();
    for change in &doc.lines {
        let target = match change.action {
            LineAction::NoChange => continue,
            LineAction::CancelOpen => None,
            LineAction::SetTotal(n) => Some(n),
        };
        let line = line_of(order, change)
            .map_err(|why| format!("{why} (PO {}, position {})", doc.po_number, change.position))?;
        lines.push(PlatformLine {
            line_item_id: line.id.clone(),
            quantity: target.unwrap_or(line.fulfilled),
        });
    }
    let reason = match (&doc.reason, doc.whole_order, doc.lines.first()) {
        (Some(r), _, _) => r.clone(),
        (None, true, _) | (None, false, None) => doc.order_reason(),
        (None, false, Some(first)) => doc.line_reason(first),
    };
    Ok(PlatformState {
        whole_order_cancelled: doc.whole_order,
        lines,
        reason,
    })
}

/// Who may send which set: 860 from a buyer, 855 and 865 from a seller.
fn sent_by(set: SetKind) -> Option<Role> {
    match set {
        SetKind::PoChange860 => Some(Role::Buyer),
        SetKind::PoAck855 | SetKind::SellerChange865 => Some(Role::Seller),
        SetKind::FunctionalAck997 => None,
    }
}

/// Mark the first accepted set `set`/`control` rejected and recount its
/// group, so the 997 says the set changed nothing.
fn reject_in_ack(ack: &mut edi::InterchangeAck, set: SetKind, control: &str) {
    for g in &mut ack.groups {
        let Some(s) = g.sets.iter_mut().find(|s| {
            s.set_id == set.id() && s.control_number == control && s.status == SetStatus::Accepted
        }) else {
            continue;
        };
        s.status = SetStatus::Rejected;
        s.errors.push(edi::SetErrorCode::SegmentsInError);
        let accepted = g
            .sets
            .iter()
            .filter(|s| s.status == SetStatus::Accepted)
            .count();
        g.accepted = u32::try_from(accepted).unwrap_or(u32::MAX);
        g.status = match accepted {
            0 => edi::GroupStatus::Rejected,
            n if n == g.sets.len() => edi::GroupStatus::Accepted,
            _ => edi::GroupStatus::Partial,
        };
        return;
    }
}

impl<S: Store> App<S> {
    fn edi_ports(&self) -> Result<&EdiPorts, EdiError> {
        self.edi.as_ref().ok_or(EdiError::NotConfigured)
    }

    /// The orders a document's PO number names among the sender's: a
    /// buyer's by its order ref (indexed); a seller's from its listing.
    async fn orders_for_po(&self, company: &Company, po: &str) -> Result<Vec<Order>, EdiError> {
        let app = |e| EdiError::App(crate::app::AppError::Store(e));
        if company.role == Role::Buyer {
            return self
                .store
                .orders_by_ref(&company.id, Role::Buyer, po)
                .await
                .map_err(app);
        }
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_orders(&company.id, StatusFilter::Any, 100, after.as_ref())
                .await
                .map_err(app)?;
            found.extend(
                page.orders.into_iter().map(|r| r.order).filter(|o| {
                    o.seller_id == company.id && o.buyer_order_ref.as_deref() == Some(po)
                }),
            );
            match page.next {
                Some(n) => after = Some(n),
                None => return Ok(found),
            }
        }
    }

    /// Apply one accepted change set from `company`.
    async fn apply_change(
        &self,
        company: &Company,
        doc: &ChangeDocument,
        delivery: &str,
    ) -> Result<SetOutcome, EdiError> {
        let rejected = |why: String| SetOutcome::Rejected {
            set: doc.set,
            po_number: doc.po_number.clone(),
            why,
        };
        if sent_by(doc.set) != Some(company.role) {
            return Ok(rejected(format!(
                "a {} is not a {}'s document",
                doc.set,
                company.role.as_str()
            )));
        }
        let orders = self.orders_for_po(company, &doc.po_number).await?;
        if orders.is_empty() {
            return Ok(rejected(format!(
                "no order with PO number {} of {}",
                doc.po_number, company.id
            )));
        }
        // Every line must be on every order before anything changes.
        for o in &orders {
            if let Err(why) = platform_state(o, doc) {
                return Ok(rejected(why));
            }
        }
        let (set, po_number) = (doc.set, doc.po_number.clone());
        let doc = Arc::new(doc.clone());
        let outcomes = self
            .reconcile_to(
                company,
                Source::Edi,
                delivery,
                orders,
                move |order: &Order| {
                    platform_state(order, &doc).unwrap_or_else(|_| PlatformState {
                        whole_order_cancelled: false,
                        lines: Vec::new(),
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
            Err(crate::app::AppError::Domain(d)) => Ok(rejected(d.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Process one interchange from `company_id`'s inbound folder.
    pub async fn edi_interchange(
        &self,
        company_id: &str,
        bytes: &[u8],
    ) -> Result<InterchangeReport, EdiError> {
        let ports = self.edi_ports()?;
        let company = self
            .store
            .company(company_id)
            .await
            .map_err(|e| EdiError::App(e.into()))?
            .ok_or_else(|| EdiError::UnknownCompany(company_id.to_owned()))?;
        let partner = isa_id_of(&company)?;
        let ic = edi::parse_interchange(bytes).map_err(|e| EdiError::Unreadable(e.to_string()))?;
        let mut v = edi::validate(&ic, &partner);
        let digest = crate::app::sha256_hex(bytes);
        let refused = v.ack.error.as_ref().map(|e| e.to_string());
        let mut sets = Vec::new();
        if let Some(why) = &refused {
            tracing::warn!(company_id, control_number = v.ack.control_number, error = %why, "EDI interchange refused whole");
        } else {
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
                let outcome = self.apply_change(&company, doc, &delivery).await?;
                if let SetOutcome::Rejected { why, .. } = &outcome {
                    tracing::warn!(company_id, set = doc.set.id(), po_number = %doc.po_number, error = %why, "EDI set rejected; nothing changed");
                    reject_in_ack(&mut v.ack, doc.set, &doc.control_number);
                } else {
                    tracing::info!(company_id, set = doc.set.id(), po_number = %doc.po_number, ?outcome, "EDI set applied");
                }
                sets.push(outcome);
            }
        }
        let ack = if v.ack.to_answer().next().is_some() {
            let control = ports
                .numbers
                .next(&company.id)
                .await
                .map_err(EdiError::Unavailable)?;
            let env = Envelope::new(
                ports.our_id.clone(),
                partner.clone(),
                control,
                Utc::now().naive_utc(),
            );
            edi::write_997(&env, &v.ack)
                .map_err(|e| EdiError::Unavailable(e.to_string()))?
                .map(|bytes| EdiFile {
                    name: edi::file_name(control, SetKind::FunctionalAck997),
                    bytes,
                })
        } else {
            None
        };
        Ok(InterchangeReport { ack, refused, sets })
    }
}

/// The document telling an EDI partner of cancellation `c` on `order`: an
/// 860 to a seller, an 865 to a buyer.
pub fn outbound_document(
    ports_our_id: &IsaId,
    partner: &IsaId,
    partner_role: Role,
    order: &Order,
    c: &domain::Cancellation,
    control: u32,
) -> Result<EdiFile, edi::WriteError> {
    let scope = match c.kind {
        domain::CancellationKind::Order => OutboundScope::WholeOrder,
        domain::CancellationKind::Items => OutboundScope::Lines(
            c.items
                .iter()
                .filter_map(|i| order.line_items.iter().find(|l| l.id == i.line_item_id))
                .map(|l| OutboundLine {
                    line_id: l.buyer_line_ref.clone().unwrap_or_else(|| l.id.clone()),
                    quantity: l.quantity,
                    cancelled: l.cancelled,
                    open: l.open(),
                    product_ids: vec![edi::ProductId {
                        qualifier: edi::ProductQualifier::Sku,
                        id: l.sku.clone(),
                    }],
                })
                .collect(),
        ),
    };
    let reason = c
        .items
        .first()
        .map(|i| i.reason.clone())
        .unwrap_or_else(|| "Cancelled".to_owned());
    let change = OutboundChange {
        po_number: order
            .buyer_order_ref
            .clone()
            .unwrap_or_else(|| order.id.clone()),
        po_date: order.created_at.date_naive(),
        scope,
        reason,
    };
    let env = Envelope::new(
        ports_our_id.clone(),
        partner.clone(),
        control,
        Utc::now().naive_utc(),
    );
    let (bytes, set) = match partner_role {
        Role::Seller => (edi::write_860(&env, &change)?, SetKind::PoChange860),
        Role::Buyer => (edi::write_865(&env, &change)?, SetKind::SellerChange865),
    };
    Ok(EdiFile {
        name: edi::file_name(control, set),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(line_id: &str, sku: Option<&str>) -> edi::LineChange {
        edi::LineChange {
            line_id: line_id.into(),
            position: 1,
            product_ids: sku
                .map(|s| edi::ProductId {
                    qualifier: edi::ProductQualifier::Sku,
                    id: s.into(),
                })
                .into_iter()
                .collect(),
            code: edi::ChangeCode::Di,
            action: LineAction::CancelOpen,
        }
    }

    #[test]
    fn lines_are_found_by_id_then_by_sku_and_cross_checked() {
        let mut order = testkit::fixtures::order("o1", "b1", "s1", 0);
        order.line_items[0].buyer_line_ref = Some("10".into());
        let first = order.line_items[0].sku.clone();
        let second = order.line_items[1].sku.clone();
        assert_eq!(line_of(&order, &change("10", None)).unwrap().id, "li_1");
        assert_eq!(line_of(&order, &change("li_2", None)).unwrap().id, "li_2");
        assert_eq!(
            line_of(&order, &change("99", Some(&second))).unwrap().id,
            "li_2"
        );
        assert_eq!(
            line_of(&order, &change("10", Some(&first))).unwrap().id,
            "li_1"
        );
        assert!(
            line_of(&order, &change("10", Some(&second))).is_err(),
            "id and SKU disagree"
        );
        assert!(line_of(&order, &change("99", Some("NOPE"))).is_err());
        assert!(line_of(&order, &change("99", None)).is_err());
    }
}
