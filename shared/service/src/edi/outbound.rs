//! The 860 or 865 that tells an EDI partner of its partner's cancellation.

use chrono::Utc;

use domain::{Order, Role};
use edi::{Envelope, IsaId, OutboundChange, OutboundLine, OutboundScope, ReasonLoop, SetKind};

use super::{EdiFile, Partner};

/// The document telling an EDI partner of cancellation `c` on `order`: an
/// 860 to a seller, an 865 to a buyer, from our id as the partner knows
/// us, in its syntax.
pub fn outbound_document(
    ports_our_id: &IsaId,
    partner: &Partner,
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
                .filter_map(|i| {
                    order
                        .line_items
                        .iter()
                        .find(|l| l.id == i.line_item_id)
                        .map(|l| (l, i.quantity))
                })
                .map(|(l, units)| OutboundLine {
                    line_id: l.buyer_line_ref.clone().unwrap_or_else(|| l.id.clone()),
                    quantity: l.quantity,
                    cancelled: l.cancelled,
                    units,
                    open: l.open(),
                    product_ids: vec![edi::ProductId {
                        qualifier: edi::ProductQualifier::Sku,
                        id: l.sku.clone(),
                    }],
                })
                .collect(),
        ),
    };
    // One loop per code, in the items' order, each with the note of its
    // first item.
    let reasons: Vec<ReasonLoop> = c
        .reason_codes()
        .into_iter()
        .filter_map(|code| c.items.iter().find(|i| i.reason_code == code))
        .map(|i| ReasonLoop {
            code: super::reasons::outbound_code(i.reason_code, &partner.reason_codes),
            note: format!("{} (code {})", i.reason_text(), i.reason_code),
        })
        .collect();
    let reason = reasons
        .first()
        .map_or_else(|| "Cancelled".to_owned(), |r| r.note.clone());
    let change = OutboundChange {
        po_number: order
            .buyer_order_ref
            .clone()
            .unwrap_or_else(|| order.id.clone()),
        po_date: order.created_at.date_naive(),
        scope,
        reason,
        reading: partner.reading,
    };
    let from = partner
        .our_id
        .clone()
        .unwrap_or_else(|| ports_our_id.clone());
    let env = Envelope::new(from, partner.id.clone(), control, Utc::now().naive_utc())
        .with_syntax(partner.syntax.clone());
    let (bytes, set) = match partner_role {
        Role::Seller => (
            edi::write_860_coded(&env, &change, &reasons)?,
            SetKind::PoChange860,
        ),
        Role::Buyer => (
            edi::write_865_coded(&env, &change, &reasons)?,
            SetKind::SellerChange865,
        ),
    };
    Ok(EdiFile {
        name: edi::file_name(control, set),
        bytes,
    })
}
