//! A partner's change document read as a target state of one of our
//! orders: which order line each of its lines names, and the quantities
//! the reconciliation brings the order to.

use thiserror::Error;

use domain::{Order, PlatformLine, PlatformState, ReasonCode};
use edi::{ChangeDocument, LineAction, SetKind};

use super::Refusal;

/// Why a document's line names no line of the order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
enum UnknownLine {
    #[error("line {line} is SKU {sku}, the document says {named}")]
    OtherSku {
        line: String,
        sku: String,
        named: String,
    },
    #[error("neither line {line} nor SKU {sku} is on the order")]
    NeitherLineNorSku { line: String, sku: String },
    #[error("line {0} is not on the order")]
    NotOnOrder(String),
}

/// The order line a document's line names: by its assigned id (the line's
/// buyer line ref, else its id), else by its SKU (`SK`). A line found by
/// id whose `SK` names another SKU is refused: the partner means another
/// line than the one the id names.
fn line_of<'a>(
    order: &'a Order,
    change: &edi::LineChange,
) -> Result<&'a domain::LineItem, UnknownLine> {
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
        (Some(l), Some(s)) if l.sku != s => Err(UnknownLine::OtherSku {
            line: change.line_id.clone(),
            sku: l.sku.clone(),
            named: s.to_owned(),
        }),
        (Some(l), _) => Ok(l),
        (None, Some(s)) => order.line_items.iter().find(|l| l.sku == s).ok_or_else(|| {
            UnknownLine::NeitherLineNorSku {
                line: change.line_id.clone(),
                sku: s.to_owned(),
            }
        }),
        (None, None) => Err(UnknownLine::NotOnOrder(change.line_id.clone())),
    }
}

fn line_segment(doc: &ChangeDocument, change: &edi::LineChange) -> (String, u32) {
    let id = if doc.set == SetKind::PoAck855 {
        "PO1"
    } else {
        "POC"
    };
    (id.to_owned(), change.segment_position)
}

/// The document as absolute line quantities (the reconciliation store
/// platforms use): `CancelOpen` keeps what was fulfilled, `SetTotal` is
/// the line's new total, `Reject(n)` the ordered quantity less `n`,
/// `NoChange` is left out. A line the order does not have, a quantity the
/// partner's reading needs but did not send, or a total below what has
/// shipped is refused. Every unit is coded `reason_code`
/// ([`super::reasons::document_code`]).
pub fn platform_state(
    order: &Order,
    doc: &ChangeDocument,
    reason_code: ReasonCode,
) -> Result<PlatformState, Refusal> {
    let mut lines = Vec::new();
    for change in &doc.lines {
        let segment = || line_segment(doc, change);
        match change.action {
            LineAction::NoChange => continue,
            LineAction::Unusable(why) => {
                return Err(Refusal::MissingQuantity {
                    line: change.line_id.clone(),
                    why,
                    segment: segment(),
                });
            }
            _ => {}
        }
        let line = line_of(order, change).map_err(|why| Refusal::UnknownLine {
            why: format!("{why} (PO {}, position {})", doc.po_number, change.position),
            segment: segment(),
        })?;
        let target = match change.action {
            LineAction::SetTotal(n) => n,
            LineAction::Reject(n) => line.quantity.saturating_sub(n),
            _ => line.fulfilled,
        };
        if target < line.fulfilled {
            return Err(Refusal::BeyondOpen {
                line: change.line_id.clone(),
                wanted: line.active().saturating_sub(target),
                fulfilled: line.fulfilled,
                segment: segment(),
            });
        }
        lines.push(PlatformLine {
            line_item_id: line.id.clone(),
            quantity: target,
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
        reason_code,
        reason,
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
            code: edi::ChangeCode::poc("DI"),
            action: LineAction::CancelOpen,
            segment_position: 3,
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
