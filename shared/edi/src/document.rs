//! Reading an 860, 855 or 865 into what it asks of the order.
//!
//! - 860 (`BCH`) and 865 (`BCA`): purpose `01` cancels the whole order;
//!   `04` changes the lines named by `POC` segments: `DI` cancels the line's
//!   open units, `QD` and `CA` make `POC03` its new total quantity.
//! - 855 (`BAK`): each `PO1` loop is a line; its `ACK01` `IR` or `ID`
//!   cancels the open units, `IQ` makes `ACK02` the new total, `IA` and `IB`
//!   change nothing. A loop without `ACK` is left out.
//!
//! Lines are named by `POC01` / `PO101`, else by their 1-based position
//! among the set's lines. The reason is the set's first `MSG01` or `NTE02`.
//! Anything else this service could not act on (another code, a missing
//! quantity) is an error, which the 997 reports with its segment position.

use std::fmt;

use thiserror::Error;

use crate::SetKind;
use crate::codes::{ElementErrorCode, SegmentErrorCode};
use crate::envelope::{Segment, TransactionSet};

/// What one inbound change set asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeDocument {
    pub set: SetKind,
    /// ST02.
    pub control_number: String,
    /// `BCH03` / `BCA03` / `BAK03`: the buyer's order ref.
    pub po_number: String,
    /// `BCH01` / `BCA01` = `01`: cancel every open unit.
    pub whole_order: bool,
    pub lines: Vec<LineChange>,
    /// The first `MSG01` or `NTE02` of the set.
    pub reason: Option<String>,
}

impl ChangeDocument {
    /// The fixed text for the document as a whole, e.g.
    /// `EDI 860: order cancelled (BCH01 01)`.
    pub fn default_reason(&self) -> String {
        let (what, code) = match (self.set, self.whole_order) {
            (SetKind::PoChange860, true) => ("order cancelled", "BCH01 01"),
            (SetKind::PoChange860, false) => ("order changed", "BCH01 04"),
            (SetKind::SellerChange865, true) => ("order cancelled", "BCA01 01"),
            (SetKind::SellerChange865, false) => ("order changed", "BCA01 04"),
            (SetKind::PoAck855 | SetKind::FunctionalAck997, _) => ("order acknowledged", "BAK"),
        };
        format!("EDI {}: {what} ({code})", self.set)
    }

    /// The reason for the whole order: the document's, else the fixed text.
    pub fn order_reason(&self) -> String {
        self.reason.clone().unwrap_or_else(|| self.default_reason())
    }

    /// The reason for one line: the document's, else the line's fixed text.
    pub fn line_reason(&self, line: &LineChange) -> String {
        self.reason
            .clone()
            .unwrap_or_else(|| line.default_reason(self.set))
    }
}

/// One line of a change document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChange {
    /// `POC01` / `PO101`, else the position as text: matched against the
    /// line's buyer line ref, else its id.
    pub line_id: String,
    /// 1-based position among the set's `POC` segments or `PO1` loops.
    pub position: u32,
    /// The product ids of the line, for a cross-check.
    pub product_ids: Vec<ProductId>,
    pub code: ChangeCode,
    pub action: LineAction,
}

impl LineChange {
    /// The fixed text, e.g. `EDI 860: item deleted (DI)`.
    pub fn default_reason(&self, set: SetKind) -> String {
        format!("EDI {set}: {}", self.code)
    }
}

/// What a line change does to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineAction {
    /// Cancel every open unit of the line.
    CancelOpen,
    /// The line's new total quantity (absolute: a repeat is a no-op).
    SetTotal(u32),
    NoChange,
}

/// The code that asked for the change (`POC02` or `ACK01`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeCode {
    /// 860/865 `DI`: delete item.
    Di,
    /// 860/865 `QD`: quantity decrease.
    Qd,
    /// 860/865 `CA`: changes to line items.
    Ca,
    /// 855 `IR`: item rejected.
    Ir,
    /// 855 `ID`: item deleted.
    Id,
    /// 855 `IQ`: item accepted, quantity changed.
    Iq,
    /// 855 `IA`: item accepted.
    Ia,
    /// 855 `IB`: item backordered.
    Ib,
}

impl ChangeCode {
    pub fn code(self) -> &'static str {
        match self {
            ChangeCode::Di => "DI",
            ChangeCode::Qd => "QD",
            ChangeCode::Ca => "CA",
            ChangeCode::Ir => "IR",
            ChangeCode::Id => "ID",
            ChangeCode::Iq => "IQ",
            ChangeCode::Ia => "IA",
            ChangeCode::Ib => "IB",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ChangeCode::Di | ChangeCode::Id => "item deleted",
            ChangeCode::Qd => "quantity decreased",
            ChangeCode::Ca => "line item changed",
            ChangeCode::Ir => "item rejected",
            ChangeCode::Iq => "quantity changed",
            ChangeCode::Ia => "item accepted",
            ChangeCode::Ib => "item backordered",
        }
    }
}

impl fmt::Display for ChangeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.describe(), self.code())
    }
}

/// A product/service id and its qualifier (`POC08`/`POC09`, `PO106`/`PO107`
/// and the following pairs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductId {
    pub qualifier: ProductQualifier,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductQualifier {
    /// `BP`: buyer's part number.
    BuyerPart,
    /// `VP`: vendor's (seller's) part number.
    VendorPart,
    /// `UP`: UPC.
    Upc,
    /// `SK`: SKU.
    Sku,
    Other(String),
}

impl ProductQualifier {
    pub fn from_code(code: &str) -> Self {
        match code {
            "BP" => ProductQualifier::BuyerPart,
            "VP" => ProductQualifier::VendorPart,
            "UP" => ProductQualifier::Upc,
            "SK" => ProductQualifier::Sku,
            other => ProductQualifier::Other(other.to_owned()),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            ProductQualifier::BuyerPart => "BP",
            ProductQualifier::VendorPart => "VP",
            ProductQualifier::Upc => "UP",
            ProductQualifier::Sku => "SK",
            ProductQualifier::Other(code) => code,
        }
    }
}

/// Why a set cannot be acted on, and where: the 997's AK3 (and AK4).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{segment} at position {position}: {problem}")]
pub struct DocumentError {
    /// The segment id (AK301).
    pub segment: String,
    /// Its position in the set, ST = 1 (AK302).
    pub position: u32,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    #[error("{0}")]
    Segment(SegmentErrorCode),
    #[error("element {element}: {code}")]
    Element {
        /// 1-based position in the segment (AK401).
        element: u32,
        /// 1-based position in a composite element.
        component: Option<u32>,
        code: ElementErrorCode,
        /// A copy of the bad value (AK404), when there is one.
        value: Option<String>,
    },
}

impl DocumentError {
    pub(crate) fn segment(segment: &str, position: u32, code: SegmentErrorCode) -> Self {
        Self {
            segment: segment.to_owned(),
            position,
            problem: Problem::Segment(code),
        }
    }

    pub(crate) fn element(seg: &Segment, element: usize, code: ElementErrorCode) -> Self {
        let value = Some(seg.element(element))
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        Self {
            segment: seg.id.clone(),
            position: seg.position,
            problem: Problem::Element {
                element: u32::try_from(element).unwrap_or(u32::MAX),
                component: None,
                code,
                value,
            },
        }
    }
}

/// A mandatory element, or the error naming it.
pub(crate) fn required(seg: &Segment, n: usize) -> Result<&str, DocumentError> {
    match seg.element(n) {
        "" => Err(DocumentError::element(
            seg,
            n,
            ElementErrorCode::MandatoryMissing,
        )),
        v => Ok(v),
    }
}

/// A whole quantity: digits, optionally with a zero fraction (`3`, `3.0`).
fn quantity(seg: &Segment, n: usize) -> Result<u32, DocumentError> {
    let text = seg.element(n);
    if text.is_empty() {
        return Err(DocumentError::element(
            seg,
            n,
            ElementErrorCode::ConditionalMissing,
        ));
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let valid = text.len() <= 15
        && !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b == b'0');
    let bad = || DocumentError::element(seg, n, ElementErrorCode::InvalidCharacter);
    if !valid {
        return Err(bad());
    }
    whole.parse().map_err(|_| bad())
}

/// Qualifier/id pairs from element `first` on, up to element `last`.
fn product_ids(seg: &Segment, first: usize, last: usize) -> Vec<ProductId> {
    (first..last)
        .step_by(2)
        .filter_map(|q| {
            let (qualifier, id) = (seg.element(q), seg.element(q + 1));
            (!qualifier.is_empty() && !id.is_empty()).then(|| ProductId {
                qualifier: ProductQualifier::from_code(qualifier),
                id: id.to_owned(),
            })
        })
        .collect()
}

fn first_reason(seg: &Segment) -> Option<String> {
    let text = match seg.id.as_str() {
        "MSG" => seg.element(1),
        "NTE" => seg.element(2),
        _ => "",
    };
    (!text.is_empty()).then(|| text.to_owned())
}

fn position_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The set's header segment, which must come right after ST.
fn header<'a>(set: &'a TransactionSet, id: &str) -> Result<&'a Segment, DocumentError> {
    set.body()
        .first()
        .filter(|s| s.id == id)
        .ok_or_else(|| DocumentError::segment(id, 2, SegmentErrorCode::MandatoryMissing))
}

/// Reads an 860, 855 or 865. Any other set is an error on its ST01.
pub fn read_change(set: &TransactionSet) -> Result<ChangeDocument, DocumentError> {
    match SetKind::from_id(set.id()) {
        Some(kind @ (SetKind::PoChange860 | SetKind::SellerChange865)) => read_poc_set(set, kind),
        Some(SetKind::PoAck855) => read_855(set),
        Some(SetKind::FunctionalAck997) | None => match set.segments.first() {
            Some(st) => Err(DocumentError::element(st, 1, ElementErrorCode::InvalidCode)),
            None => Err(DocumentError::segment(
                "ST",
                1,
                SegmentErrorCode::MandatoryMissing,
            )),
        },
    }
}

fn read_poc_set(set: &TransactionSet, kind: SetKind) -> Result<ChangeDocument, DocumentError> {
    let header_id = if kind == SetKind::PoChange860 {
        "BCH"
    } else {
        "BCA"
    };
    let head = header(set, header_id)?;
    let whole_order = match required(head, 1)? {
        "01" => true,
        "04" => false,
        _ => {
            return Err(DocumentError::element(
                head,
                1,
                ElementErrorCode::InvalidCode,
            ));
        }
    };
    let po_number = required(head, 3)?.to_owned();
    let mut lines = Vec::new();
    let mut reason = None;
    for seg in &set.body()[1..] {
        match seg.id.as_str() {
            id if id == header_id => {
                return Err(DocumentError::segment(
                    id,
                    seg.position,
                    SegmentErrorCode::ExceedsMaximumUse,
                ));
            }
            "POC" => lines.push(read_poc(seg, position_of(lines.len() + 1))?),
            _ if reason.is_none() => reason = first_reason(seg),
            _ => {}
        }
    }
    if !whole_order && lines.is_empty() {
        let at = set
            .trailer()
            .map_or(position_of(set.segments.len() + 1), |se| se.position);
        return Err(DocumentError::segment(
            "POC",
            at,
            SegmentErrorCode::MandatoryMissing,
        ));
    }
    Ok(ChangeDocument {
        set: kind,
        control_number: set.control_number().to_owned(),
        po_number,
        whole_order,
        lines,
        reason,
    })
}

fn line_id(seg: &Segment, position: u32) -> String {
    match seg.element(1) {
        "" => position.to_string(),
        id => id.to_owned(),
    }
}

fn read_poc(seg: &Segment, position: u32) -> Result<LineChange, DocumentError> {
    let (code, action) = match required(seg, 2)? {
        "DI" => (ChangeCode::Di, LineAction::CancelOpen),
        "QD" => (ChangeCode::Qd, LineAction::SetTotal(quantity(seg, 3)?)),
        "CA" => (ChangeCode::Ca, LineAction::SetTotal(quantity(seg, 3)?)),
        _ => {
            return Err(DocumentError::element(
                seg,
                2,
                ElementErrorCode::InvalidCode,
            ));
        }
    };
    Ok(LineChange {
        line_id: line_id(seg, position),
        position,
        product_ids: product_ids(seg, 8, 27),
        code,
        action,
    })
}

/// One `PO1` loop of an 855 while it is read.
struct AckLoop {
    line: LineChange,
    acks: u32,
}

fn read_ack(seg: &Segment) -> Result<(ChangeCode, LineAction), DocumentError> {
    Ok(match required(seg, 1)? {
        "IR" => (ChangeCode::Ir, LineAction::CancelOpen),
        "ID" => (ChangeCode::Id, LineAction::CancelOpen),
        "IQ" => (ChangeCode::Iq, LineAction::SetTotal(quantity(seg, 2)?)),
        "IA" => (ChangeCode::Ia, LineAction::NoChange),
        "IB" => (ChangeCode::Ib, LineAction::NoChange),
        _ => {
            return Err(DocumentError::element(
                seg,
                1,
                ElementErrorCode::InvalidCode,
            ));
        }
    })
}

fn read_855(set: &TransactionSet) -> Result<ChangeDocument, DocumentError> {
    let head = header(set, "BAK")?;
    let po_number = required(head, 3)?.to_owned();
    let mut loops: Vec<AckLoop> = Vec::new();
    let mut reason = None;
    for seg in &set.body()[1..] {
        match seg.id.as_str() {
            "BAK" => {
                return Err(DocumentError::segment(
                    "BAK",
                    seg.position,
                    SegmentErrorCode::ExceedsMaximumUse,
                ));
            }
            "PO1" => {
                let position = position_of(loops.len() + 1);
                loops.push(AckLoop {
                    line: LineChange {
                        line_id: line_id(seg, position),
                        position,
                        product_ids: product_ids(seg, 6, 25),
                        code: ChangeCode::Ia,
                        action: LineAction::NoChange,
                    },
                    acks: 0,
                });
            }
            "ACK" => {
                let Some(current) = loops.last_mut() else {
                    return Err(DocumentError::segment(
                        "ACK",
                        seg.position,
                        SegmentErrorCode::OutOfSequence,
                    ));
                };
                let (code, action) = read_ack(seg)?;
                // Several ACKs split a line's quantity; only "nothing
                // changes" can be combined without guessing.
                let both_unchanged =
                    action == LineAction::NoChange && current.line.action == LineAction::NoChange;
                if current.acks > 0 && !both_unchanged {
                    return Err(DocumentError::segment(
                        "ACK",
                        seg.position,
                        SegmentErrorCode::ExceedsMaximumUse,
                    ));
                }
                if current.acks == 0 {
                    current.line.code = code;
                    current.line.action = action;
                }
                current.acks = current.acks.saturating_add(1);
                for id in product_ids(seg, 7, 28) {
                    if !current.line.product_ids.contains(&id) {
                        current.line.product_ids.push(id);
                    }
                }
            }
            _ if reason.is_none() => reason = first_reason(seg),
            _ => {}
        }
    }
    Ok(ChangeDocument {
        set: SetKind::PoAck855,
        control_number: set.control_number().to_owned(),
        po_number,
        whole_order: false,
        lines: loops
            .into_iter()
            .filter(|l| l.acks > 0)
            .map(|l| l.line)
            .collect(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Delimiters;

    /// A set from `ST` to `SE`, segments separated by `~`, elements by `*`.
    pub(crate) fn set(text: &str) -> TransactionSet {
        let segments = text
            .split('~')
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| {
                let mut parts = s.split('*');
                Segment {
                    id: parts.next().unwrap_or_default().to_owned(),
                    elements: parts.map(str::to_owned).collect(),
                    index: 0,
                    position: u32::try_from(i + 1).unwrap(),
                }
            })
            .collect();
        TransactionSet {
            segments,
            delimiters: Delimiters::OUTBOUND,
        }
    }

    fn element_error(
        segment: &str,
        position: u32,
        element: u32,
        code: ElementErrorCode,
        value: Option<&str>,
    ) -> DocumentError {
        DocumentError {
            segment: segment.into(),
            position,
            problem: Problem::Element {
                element,
                component: None,
                code,
                value: value.map(str::to_owned),
            },
        }
    }

    #[test]
    fn an_860_names_lines_by_poc01_else_position() {
        let doc = read_change(&set(
            "ST*860*0001~BCH*04*SA*PO-9**20260301~POC**DI~POC*B7*QD*2.00*2*EA***SK*S-1*VP~POC*C*CA*0~SE*6*0001~",
        ))
        .unwrap();
        assert_eq!(doc.po_number, "PO-9");
        assert!(!doc.whole_order);
        let lines: Vec<_> = doc
            .lines
            .iter()
            .map(|l| (l.line_id.as_str(), l.position, l.code, l.action))
            .collect();
        assert_eq!(
            lines,
            [
                ("1", 1, ChangeCode::Di, LineAction::CancelOpen),
                ("B7", 2, ChangeCode::Qd, LineAction::SetTotal(2)),
                ("C", 3, ChangeCode::Ca, LineAction::SetTotal(0)),
            ]
        );
        // An id without its qualifier's partner is left out.
        assert_eq!(
            doc.lines[1].product_ids,
            [ProductId {
                qualifier: ProductQualifier::Sku,
                id: "S-1".into()
            }]
        );
        assert_eq!(doc.reason, None);
        assert_eq!(
            doc.line_reason(&doc.lines[1]),
            "EDI 860: quantity decreased (QD)"
        );
        assert_eq!(doc.default_reason(), "EDI 860: order changed (BCH01 04)");
    }

    #[test]
    fn the_first_msg_or_nte_is_the_reason() {
        let doc = read_change(&set(
            "ST*865*1~BCA*01*RJ*PO-9***20260301~NTE*GEN*  ~NTE*GEN*Out of stock~MSG*later~SE*5*1~",
        ))
        .unwrap();
        assert!(doc.whole_order);
        assert_eq!(doc.reason.as_deref(), Some("Out of stock"));
        assert_eq!(doc.order_reason(), "Out of stock");
        let doc = read_change(&set("ST*865*1~BCA*01*RJ*PO-9~SE*3*1~")).unwrap();
        assert_eq!(doc.order_reason(), "EDI 865: order cancelled (BCA01 01)");
    }

    #[test]
    fn an_855_reads_ack_loops() {
        let doc = read_change(&set(
            "ST*855*0001~BAK*00*AC*PO-9*20260301~PO1*10*2*EA*1**BP*B-1~ACK*IA*2*EA~PO1**1~ACK*ID~PO1*30*4~ACK*IQ*3*EA~ACK*IA*3~PO1*40*1~PO1*50*1~ACK*IB*1~ACK*IA*1~ACK*IA*1***2026****VP*V-5~SE*13*0001~",
        ));
        let err = doc.unwrap_err();
        assert_eq!(
            err,
            DocumentError::segment("ACK", 9, SegmentErrorCode::ExceedsMaximumUse)
        );

        let doc = read_change(&set(
            "ST*855*0001~BAK*00*AC*PO-9*20260301~PO1*10*2*EA*1**BP*B-1~ACK*IA*2*EA~PO1**1~ACK*ID~PO1*30*4~ACK*IQ*3*EA~PO1*40*1~PO1*50*1~ACK*IB*1~ACK*IA*1***2026****VP*V-5~SE*12*0001~",
        ))
        .unwrap();
        let lines: Vec<_> = doc
            .lines
            .iter()
            .map(|l| (l.line_id.as_str(), l.position, l.code, l.action))
            .collect();
        assert_eq!(
            lines,
            [
                ("10", 1, ChangeCode::Ia, LineAction::NoChange),
                ("2", 2, ChangeCode::Id, LineAction::CancelOpen),
                ("30", 3, ChangeCode::Iq, LineAction::SetTotal(3)),
                ("50", 5, ChangeCode::Ib, LineAction::NoChange),
            ]
        );
        assert_eq!(
            doc.lines[3].product_ids,
            [ProductId {
                qualifier: ProductQualifier::VendorPart,
                id: "V-5".into()
            }]
        );
        assert_eq!(doc.line_reason(&doc.lines[1]), "EDI 855: item deleted (ID)");
    }

    #[test]
    fn errors_name_the_segment_and_element() {
        use ElementErrorCode as E;
        let cases = [
            (
                "ST*860*1~SE*2*1~",
                DocumentError::segment("BCH", 2, SegmentErrorCode::MandatoryMissing),
            ),
            (
                "ST*860*1~REF*ZZ~BCH*01*SA*P~SE*4*1~",
                DocumentError::segment("BCH", 2, SegmentErrorCode::MandatoryMissing),
            ),
            (
                "ST*860*1~BCH**SA*P~SE*3*1~",
                element_error("BCH", 2, 1, E::MandatoryMissing, None),
            ),
            (
                "ST*860*1~BCH*05*SA*P~SE*3*1~",
                element_error("BCH", 2, 1, E::InvalidCode, Some("05")),
            ),
            (
                "ST*860*1~BCH*01*SA~SE*3*1~",
                element_error("BCH", 2, 3, E::MandatoryMissing, None),
            ),
            (
                "ST*860*1~BCH*04*SA*P~SE*3*1~",
                DocumentError::segment("POC", 3, SegmentErrorCode::MandatoryMissing),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QI*3~SE*4*1~",
                element_error("POC", 3, 2, E::InvalidCode, Some("QI")),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QD~SE*4*1~",
                element_error("POC", 3, 3, E::ConditionalMissing, None),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QD*-1~SE*4*1~",
                element_error("POC", 3, 3, E::InvalidCharacter, Some("-1")),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QD*1.5~SE*4*1~",
                element_error("POC", 3, 3, E::InvalidCharacter, Some("1.5")),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QD*4294967296~SE*4*1~",
                element_error("POC", 3, 3, E::InvalidCharacter, Some("4294967296")),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QD*.0~SE*4*1~",
                element_error("POC", 3, 3, E::InvalidCharacter, Some(".0")),
            ),
            (
                "ST*860*1~BCH*01*SA*P~BCH*01*SA*P~SE*4*1~",
                DocumentError::segment("BCH", 3, SegmentErrorCode::ExceedsMaximumUse),
            ),
            (
                "ST*865*1~BCH*01*SA*P~SE*3*1~",
                DocumentError::segment("BCA", 2, SegmentErrorCode::MandatoryMissing),
            ),
            (
                "ST*855*1~BAK*00*AC~SE*3*1~",
                element_error("BAK", 2, 3, E::MandatoryMissing, None),
            ),
            (
                "ST*855*1~BAK*00*AC*P~ACK*IA~SE*4*1~",
                DocumentError::segment("ACK", 3, SegmentErrorCode::OutOfSequence),
            ),
            (
                "ST*855*1~BAK*00*AC*P~PO1*1~ACK*R2~SE*5*1~",
                element_error("ACK", 4, 1, E::InvalidCode, Some("R2")),
            ),
            (
                "ST*855*1~BAK*00*AC*P~PO1*1~ACK*IQ*x~SE*5*1~",
                element_error("ACK", 4, 2, E::InvalidCharacter, Some("x")),
            ),
            (
                "ST*997*1~AK1*PC*1~SE*3*1~",
                element_error("ST", 1, 1, E::InvalidCode, Some("997")),
            ),
            (
                "ST*850*1~BEG~SE*3*1~",
                element_error("ST", 1, 1, E::InvalidCode, Some("850")),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(read_change(&set(text)), Err(want), "{text}");
        }
    }
}
