//! Reading an 860, 855 or 865 into what it asks of the order, the way
//! 004010 defines the segments and trading partners use them.
//!
//! - 860 (`BCH`): purpose `01` cancels the whole order; `06`
//!   (confirmation), `07` (duplicate) and `22` (information copy) change
//!   nothing; any other (`04` change, `05` replace, and `00` as some
//!   retailers send line cancellations) changes the lines named by `POC`
//!   segments.
//! - 865 (`BCA`): purpose `01` cancels the whole order; otherwise its `POC`s
//!   (optional) change lines as an 860's do, unless `BCA02` says the seller
//!   rejects the buyer's change (`RJ`, `RD`, `RF`, `RO`): that changes
//!   nothing here, the buyer's cancellation already stands.
//! - `POC02`: `DI` cancels the line's open units; the quantity codes (`CA`,
//!   `PQ`, `QD`, `QI`, `RQ`, `RZ`) give the line's new total, read from
//!   `POC03`/`POC04` as the partner's [`PocReading`] says; every other code
//!   (`NC`, `PC`, `AI`, ...) is read and changes nothing.
//! - 855 (`BAK`): `BAK02 = RJ` rejects (cancels) the whole order. Each `PO1`
//!   loop is a line; each of its `ACK`s gives a status (`ACK01`) to a number
//!   of units (`ACK02`): units with a rejecting status (`IR`, `ID`, `R1` to
//!   `R8`) are cancelled, units with any other status are kept, and an `IQ`
//!   restates the line as the sum of its kept units. A loop without `ACK`
//!   changes nothing.
//!
//! Lines are named by `POC01` / `PO101`, else by their 1-based position
//! among the set's lines. The reason is the set's first `MSG01` or `NTE02`;
//! its code, if the partner gives one, an `N902` after `N9*L1` (letters or
//! notes: 004010 has no reason code list for these sets), kept as sent.
//! Only what breaks the syntax (a missing mandatory element, a quantity
//! that is not a number) is an error here, which the 997 reports; what the
//! service cannot act on is left to the caller, which answers it with an
//! 824.

use std::fmt;

use thiserror::Error;

use crate::SetKind;
use crate::codes::{ElementErrorCode, SegmentErrorCode};
use crate::envelope::{Segment, TransactionSet};

/// How a partner fills `POC03` and `POC04`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PocReading {
    /// X12's reading: `POC03` is the quantity ordered before the change,
    /// `POC04` the quantity after it.
    #[default]
    BeforeAfter,
    /// `POC03` is the line's new total and `POC04` what is left to
    /// receive, as some retailers' guides have it.
    NewTotal,
}

/// What one inbound change set asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeDocument {
    pub set: SetKind,
    /// ST02.
    pub control_number: String,
    /// GS06 and GS03 of its group (set when read within an interchange).
    pub group_control_number: String,
    pub group_receiver: String,
    /// `BCH03` / `BCA03` / `BAK03`: the buyer's order ref.
    pub po_number: String,
    /// `BCH01` / `BCA01` / `BAK01` as sent.
    pub purpose: String,
    /// `BCA02` / `BAK02` as sent (`BCH02` is the order type, not kept).
    pub ack_type: Option<String>,
    /// Cancel every open unit.
    pub whole_order: bool,
    pub lines: Vec<LineChange>,
    /// The first `MSG01` or `NTE02` of the set.
    pub reason: Option<String>,
    /// `N902` of each `N9` whose `N901` is `L1`, in order: the partner's
    /// reason codes, as sent.
    pub reason_codes: Vec<String>,
    /// The header's `N1` parties.
    pub parties: Vec<Party>,
    /// Why the document as a whole changes nothing, when it does not.
    pub no_effect: Option<NoEffect>,
}

/// Why a readable document changes nothing of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEffect {
    /// An 860 purpose other than cancel, change or replace.
    Purpose,
    /// An 865 whose `BCA02` rejects the buyer's change.
    ChangeRejected,
}

impl fmt::Display for NoEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoEffect::Purpose => "its purpose code changes no quantity",
            NoEffect::ChangeRejected => "the seller rejects a change; nothing is undone",
        })
    }
}

/// An `N1` party: who the document names as buyer, seller, ship-to...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// `N101`, e.g. `BY` (buying party), `SE` (selling party), `ST`.
    pub entity: String,
    /// `N102`.
    pub name: String,
    /// `N103`, e.g. `92` (assigned by buyer), `ZZ`, `1` (DUNS).
    pub qualifier: String,
    /// `N104`.
    pub id: String,
}

impl ChangeDocument {
    /// The header's code in words, e.g. `BCH01 01`.
    fn header_code(&self) -> String {
        let seg = match self.set {
            SetKind::PoChange860 => "BCH",
            SetKind::SellerChange865 => "BCA",
            SetKind::PoAck855 | SetKind::FunctionalAck997 | SetKind::ApplicationAdvice824 => "BAK",
        };
        match (&self.ack_type, self.whole_order) {
            (Some(t), true) if self.purpose != "01" => format!("{seg}02 {t}"),
            _ => format!("{seg}01 {}", self.purpose),
        }
    }

    /// The fixed text for the document as a whole, e.g.
    /// `EDI 860: order cancelled (BCH01 01)`.
    pub fn default_reason(&self) -> String {
        let what = match (self.set, self.whole_order) {
            (SetKind::PoAck855, true) => "order rejected",
            (_, true) => "order cancelled",
            (SetKind::PoAck855, false) => "order acknowledged",
            (_, false) => "order changed",
        };
        format!("EDI {}: {what} ({})", self.set, self.header_code())
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
    /// Where its `POC` or `PO1` is in the set (ST = 1), for an 824.
    pub segment_position: u32,
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
    /// The line's new total is its ordered quantity less these units
    /// (an 855's rejected units: absolute too).
    Reject(u32),
    NoChange,
    /// A quantity change without the quantity the partner's reading needs:
    /// refused for the business (824), not the syntax.
    Unusable(Unusable),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// `POC04` (after the change) is missing.
    NoQuantityAfter,
    /// `POC03` (the new total) is missing.
    NoNewTotal,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unusable::NoQuantityAfter => "POC04, the quantity after the change, is missing",
            Unusable::NoNewTotal => "POC03, the line's new total, is missing",
        })
    }
}

/// What a `POC02` or `ACK01` code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeClass {
    /// `POC02 DI`.
    Delete,
    /// A `POC02` that gives a new quantity.
    Quantity,
    /// An `ACK01` that cancels its units.
    Rejects,
    /// `ACK01 IQ`.
    QuantityChanged,
    /// Known, and keeps the units / changes no quantity.
    Keeps,
}

/// `POC02` (element 670 of 004010) and what each changes.
const POC_CODES: &[(&str, CodeClass, &str)] = &[
    ("AI", CodeClass::Keeps, "item added"),
    ("CA", CodeClass::Quantity, "line item changed"),
    ("DI", CodeClass::Delete, "item deleted"),
    ("NC", CodeClass::Keeps, "no change"),
    ("PC", CodeClass::Keeps, "price changed"),
    ("PQ", CodeClass::Quantity, "price and quantity changed"),
    ("PR", CodeClass::Keeps, "price and schedule changed"),
    ("QD", CodeClass::Quantity, "quantity decreased"),
    ("QI", CodeClass::Quantity, "quantity increased"),
    ("RA", CodeClass::Keeps, "item replaced"),
    ("RE", CodeClass::Keeps, "item replaced with changes"),
    ("RQ", CodeClass::Quantity, "schedule and quantity changed"),
    ("RS", CodeClass::Keeps, "rescheduled"),
    ("RZ", CodeClass::Quantity, "all values replaced"),
];

/// `ACK01` (element 668 of 004010) and what each does to its units.
const ACK_CODES: &[(&str, CodeClass, &str)] = &[
    ("AC", CodeClass::Keeps, "item accepted and shipped"),
    ("AR", CodeClass::Keeps, "item accepted and released"),
    ("BP", CodeClass::Keeps, "partly shipped, rest backordered"),
    ("DR", CodeClass::Keeps, "item accepted, date rescheduled"),
    ("IA", CodeClass::Keeps, "item accepted"),
    ("IB", CodeClass::Keeps, "item backordered"),
    ("IC", CodeClass::Keeps, "item accepted, changes made"),
    ("ID", CodeClass::Rejects, "item deleted"),
    ("IE", CodeClass::Keeps, "item accepted, price pending"),
    ("IF", CodeClass::Keeps, "item on hold"),
    ("IH", CodeClass::Keeps, "item on hold"),
    ("IP", CodeClass::Keeps, "item accepted, price changed"),
    ("IQ", CodeClass::QuantityChanged, "quantity changed"),
    ("IR", CodeClass::Rejects, "item rejected"),
    ("IS", CodeClass::Keeps, "item accepted, substituted"),
    ("IW", CodeClass::Keeps, "item on hold"),
    (
        "R1",
        CodeClass::Rejects,
        "item rejected, not a contract item",
    ),
    (
        "R2",
        CodeClass::Rejects,
        "item rejected, invalid product number",
    ),
    (
        "R3",
        CodeClass::Rejects,
        "item rejected, invalid unit of issue",
    ),
    ("R4", CodeClass::Rejects, "item rejected, not available"),
    ("R5", CodeClass::Rejects, "item rejected"),
    ("R6", CodeClass::Rejects, "item rejected"),
    ("R7", CodeClass::Rejects, "item rejected"),
    ("R8", CodeClass::Rejects, "item rejected"),
    ("SP", CodeClass::Keeps, "item accepted, schedule pending"),
];

/// `BCH01` purposes that restate rather than ask: confirmation,
/// duplicate, information copy.
const NO_ACTION_PURPOSES: [&str; 3] = ["06", "07", "22"];

/// `BCA02` codes by which the seller rejects the buyer's change.
const REJECTING_ACK_TYPES: [&str; 4] = ["RD", "RF", "RJ", "RO"];

fn lookup(
    table: &[(&str, CodeClass, &'static str)],
    code: &str,
) -> Option<(CodeClass, &'static str)> {
    table
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, class, text)| (class, text))
}

/// The code that asked for the change (`POC02` or `ACK01`), as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCode {
    code: String,
    text: &'static str,
}

impl ChangeCode {
    fn new(code: &str, text: &'static str) -> Self {
        Self {
            code: code.to_owned(),
            text,
        }
    }

    /// A `POC02` code with its meaning (`changed` when it is not in the list).
    pub fn poc(code: &str) -> Self {
        Self::new(code, lookup(POC_CODES, code).map_or("changed", |(_, t)| t))
    }

    pub fn code(&self) -> &str {
        &self.code
    }
}

impl fmt::Display for ChangeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.text, self.code)
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

/// Why a set cannot be read, and where: the 997's AK3 (and AK4).
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

/// A whole quantity when the element is there: digits, optionally with a
/// zero fraction (`3`, `3.0`).
fn quantity(seg: &Segment, n: usize) -> Result<Option<u32>, DocumentError> {
    let text = seg.element(n);
    if text.is_empty() {
        return Ok(None);
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
    whole.parse().map(Some).map_err(|_| bad())
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

/// `N902` of an `N9*L1`, when there is one.
fn reason_code(seg: &Segment) -> Option<String> {
    let code = seg.element(2);
    (seg.element(1) == "L1" && !code.is_empty()).then(|| code.to_owned())
}

fn party(seg: &Segment) -> Party {
    Party {
        entity: seg.element(1).to_owned(),
        name: seg.element(2).to_owned(),
        qualifier: seg.element(3).to_owned(),
        id: seg.element(4).to_owned(),
    }
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

/// Reads an 860, 855 or 865, with `POC03`/`POC04` read as `reading`
/// says. Any other set is an error on its ST01.
pub fn read_change(
    set: &TransactionSet,
    reading: PocReading,
) -> Result<ChangeDocument, DocumentError> {
    match SetKind::from_id(set.id()) {
        Some(kind @ (SetKind::PoChange860 | SetKind::SellerChange865)) => {
            read_poc_set(set, kind, reading)
        }
        Some(SetKind::PoAck855) => read_855(set),
        _ => match set.segments.first() {
            Some(st) => Err(DocumentError::element(st, 1, ElementErrorCode::InvalidCode)),
            None => Err(DocumentError::segment(
                "ST",
                1,
                SegmentErrorCode::MandatoryMissing,
            )),
        },
    }
}

fn read_poc_set(
    set: &TransactionSet,
    kind: SetKind,
    reading: PocReading,
) -> Result<ChangeDocument, DocumentError> {
    let is_860 = kind == SetKind::PoChange860;
    let header_id = if is_860 { "BCH" } else { "BCA" };
    let head = header(set, header_id)?;
    let purpose = required(head, 1)?.to_owned();
    let ack_type = if is_860 {
        None
    } else {
        Some(required(head, 2)?.to_owned())
    };
    let po_number = required(head, 3)?.to_owned();
    let whole_order = purpose == "01";
    let no_effect = match (is_860, whole_order, ack_type.as_deref()) {
        (_, true, _) => None,
        (true, false, _) if NO_ACTION_PURPOSES.contains(&purpose.as_str()) => {
            Some(NoEffect::Purpose)
        }
        (false, false, Some(t)) if REJECTING_ACK_TYPES.contains(&t) => {
            Some(NoEffect::ChangeRejected)
        }
        _ => None,
    };
    let mut lines = Vec::new();
    let mut reason = None;
    let mut reason_codes = Vec::new();
    let mut parties = Vec::new();
    for seg in &set.body()[1..] {
        match seg.id.as_str() {
            id if id == header_id => {
                return Err(DocumentError::segment(
                    id,
                    seg.position,
                    SegmentErrorCode::ExceedsMaximumUse,
                ));
            }
            "POC" => lines.push(read_poc(seg, position_of(lines.len() + 1), reading)?),
            "N1" if lines.is_empty() => parties.push(party(seg)),
            "N9" => reason_codes.extend(reason_code(seg)),
            _ if reason.is_none() => reason = first_reason(seg),
            _ => {}
        }
    }
    if whole_order || no_effect.is_some() {
        lines.clear();
    }
    Ok(ChangeDocument {
        set: kind,
        control_number: set.control_number().to_owned(),
        group_control_number: String::new(),
        group_receiver: String::new(),
        po_number,
        purpose,
        ack_type,
        whole_order,
        lines,
        reason,
        reason_codes,
        parties,
        no_effect,
    })
}

fn line_id(seg: &Segment, position: u32) -> String {
    match seg.element(1) {
        "" => position.to_string(),
        id => id.to_owned(),
    }
}

fn read_poc(
    seg: &Segment,
    position: u32,
    reading: PocReading,
) -> Result<LineChange, DocumentError> {
    let code = required(seg, 2)?;
    let (class, text) = lookup(POC_CODES, code).unwrap_or((CodeClass::Keeps, "changed"));
    // Both quantities are checked for form whichever one is used.
    let (before, after) = (quantity(seg, 3)?, quantity(seg, 4)?);
    let action = match class {
        CodeClass::Delete => LineAction::CancelOpen,
        CodeClass::Quantity => match reading {
            PocReading::BeforeAfter => after.map_or(
                LineAction::Unusable(Unusable::NoQuantityAfter),
                LineAction::SetTotal,
            ),
            PocReading::NewTotal => before.map_or(
                LineAction::Unusable(Unusable::NoNewTotal),
                LineAction::SetTotal,
            ),
        },
        _ => LineAction::NoChange,
    };
    Ok(LineChange {
        line_id: line_id(seg, position),
        position,
        segment_position: seg.position,
        product_ids: product_ids(seg, 8, 27),
        code: ChangeCode::new(code, text),
        action,
    })
}

/// One `PO1` loop of an 855 while it is read.
struct AckLoop {
    line: LineChange,
    /// `(class, ACK02)` of each known `ACK`.
    acks: Vec<(CodeClass, Option<u32>)>,
    /// The first rejecting, else quantity-changing, else first code.
    code: Option<(CodeClass, ChangeCode)>,
}

impl AckLoop {
    fn note(&mut self, class: CodeClass, code: ChangeCode, units: Option<u32>) {
        let rank = |c: CodeClass| match c {
            CodeClass::Rejects => 0,
            CodeClass::QuantityChanged => 1,
            _ => 2,
        };
        if self
            .code
            .as_ref()
            .is_none_or(|(c, _)| rank(class) < rank(*c))
        {
            self.code = Some((class, code));
        }
        self.acks.push((class, units));
    }

    /// ACK02 is the number of units its status applies to.
    fn finish(mut self) -> Option<LineChange> {
        let (_, code) = self.code.take()?;
        let sum = |keep: fn(CodeClass) -> bool| {
            self.acks
                .iter()
                .filter(|(c, _)| keep(*c))
                .filter_map(|(_, q)| *q)
                .fold(0u32, u32::saturating_add)
        };
        let rejects = |c: CodeClass| c == CodeClass::Rejects;
        let restated = self
            .acks
            .iter()
            .any(|&(c, q)| c == CodeClass::QuantityChanged && q.is_some());
        let whole_line_rejected = self.acks.iter().any(|&(c, q)| rejects(c) && q.is_none());
        self.line.action = if restated {
            // IQ: the line is now what is kept, whatever its status.
            LineAction::SetTotal(sum(|c| c != CodeClass::Rejects))
        } else if whole_line_rejected {
            LineAction::CancelOpen
        } else if self.acks.iter().any(|&(c, _)| rejects(c)) {
            LineAction::Reject(sum(rejects))
        } else {
            LineAction::NoChange
        };
        self.line.code = code;
        Some(self.line)
    }
}

fn read_855(set: &TransactionSet) -> Result<ChangeDocument, DocumentError> {
    let head = header(set, "BAK")?;
    let purpose = required(head, 1)?.to_owned();
    let ack_type = required(head, 2)?.to_owned();
    let po_number = required(head, 3)?.to_owned();
    let whole_order = ack_type == "RJ";
    let mut loops: Vec<AckLoop> = Vec::new();
    let mut reason = None;
    let mut reason_codes = Vec::new();
    let mut parties = Vec::new();
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
                quantity(seg, 2)?;
                loops.push(AckLoop {
                    line: LineChange {
                        line_id: line_id(seg, position),
                        position,
                        segment_position: seg.position,
                        product_ids: product_ids(seg, 6, 25),
                        code: ChangeCode::new("", ""),
                        action: LineAction::NoChange,
                    },
                    acks: Vec::new(),
                    code: None,
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
                let code = required(seg, 1)?;
                let units = quantity(seg, 2)?;
                // Codes outside 004010's list are read and left out.
                if let Some((class, text)) = lookup(ACK_CODES, code) {
                    current.note(class, ChangeCode::new(code, text), units);
                }
                for id in product_ids(seg, 7, 28) {
                    if !current.line.product_ids.contains(&id) {
                        current.line.product_ids.push(id);
                    }
                }
            }
            "N1" if loops.is_empty() => parties.push(party(seg)),
            "N9" => reason_codes.extend(reason_code(seg)),
            _ if reason.is_none() => reason = first_reason(seg),
            _ => {}
        }
    }
    let lines = match whole_order {
        true => Vec::new(),
        false => loops.into_iter().filter_map(AckLoop::finish).collect(),
    };
    Ok(ChangeDocument {
        set: SetKind::PoAck855,
        control_number: set.control_number().to_owned(),
        group_control_number: String::new(),
        group_receiver: String::new(),
        po_number,
        purpose,
        ack_type: Some(ack_type),
        whole_order,
        lines,
        reason,
        reason_codes,
        parties,
        no_effect: None,
    })
}

/// A set from `ST` to `SE`, segments separated by `~`, elements by `*`.
#[cfg(test)]
pub(crate) fn test_set(text: &str) -> TransactionSet {
    tests::set(text)
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
                let id = parts.next().unwrap_or_default();
                let elements: Vec<&str> = parts.collect();
                Segment::new(id, &elements, u32::try_from(i + 1).unwrap())
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

    fn read(text: &str) -> Result<ChangeDocument, DocumentError> {
        read_change(&set(text), PocReading::BeforeAfter)
    }

    fn actions(doc: &ChangeDocument) -> Vec<(&str, u32, &str, LineAction)> {
        doc.lines
            .iter()
            .map(|l| (l.line_id.as_str(), l.position, l.code.code(), l.action))
            .collect()
    }

    #[test]
    fn an_860_reads_poc03_and_poc04_as_the_partner_does() {
        let text = "ST*860*0001~BCH*04*SA*PO-9**20260301~POC**DI~POC*B7*QD*5*2.00*EA***SK*S-1*VP~POC*C*CA*3*0~POC*D*QI*25*50~POC*E*PC*4*4~POC*F*NC~SE*8*0001~";
        let doc = read(text).unwrap();
        assert_eq!((doc.po_number.as_str(), doc.whole_order), ("PO-9", false));
        assert_eq!(
            actions(&doc),
            [
                ("1", 1, "DI", LineAction::CancelOpen),
                ("B7", 2, "QD", LineAction::SetTotal(2)),
                ("C", 3, "CA", LineAction::SetTotal(0)),
                ("D", 4, "QI", LineAction::SetTotal(50)),
                ("E", 5, "PC", LineAction::NoChange),
                ("F", 6, "NC", LineAction::NoChange),
            ]
        );
        assert_eq!(doc.lines[1].segment_position, 4);
        let doc = read_change(&set(text), PocReading::NewTotal).unwrap();
        let totals: Vec<LineAction> = doc.lines.iter().map(|l| l.action).collect();
        assert_eq!(
            totals,
            [
                LineAction::CancelOpen,
                LineAction::SetTotal(5),
                LineAction::SetTotal(3),
                LineAction::SetTotal(25),
                LineAction::NoChange,
                LineAction::NoChange,
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
    fn a_quantity_change_without_the_quantity_it_needs_is_unusable_not_a_syntax_error() {
        let doc = read("ST*860*1~BCH*04*SA*P~POC*1*QD*3~SE*4*1~").unwrap();
        assert_eq!(
            doc.lines[0].action,
            LineAction::Unusable(Unusable::NoQuantityAfter)
        );
        let doc = read_change(
            &set("ST*860*1~BCH*04*SA*P~POC*1*QD**3~SE*4*1~"),
            PocReading::NewTotal,
        )
        .unwrap();
        assert_eq!(
            doc.lines[0].action,
            LineAction::Unusable(Unusable::NoNewTotal)
        );
    }

    #[test]
    fn purposes_replace_and_others() {
        let doc = read("ST*860*1~BCH*05*SA*P~POC*1*DI~SE*4*1~").unwrap();
        assert_eq!(actions(&doc), [("1", 1, "DI", LineAction::CancelOpen)]);
        let doc = read("ST*860*1~BCH*04*SA*P~SE*3*1~").unwrap();
        assert!(doc.lines.is_empty() && doc.no_effect.is_none());
        let doc = read("ST*860*1~BCH*00*DS*P~POC*1*DI~SE*4*1~").unwrap();
        assert_eq!(actions(&doc), [("1", 1, "DI", LineAction::CancelOpen)]);
        for other in ["06", "07", "22"] {
            let doc = read(&format!("ST*860*1~BCH*{other}*SA*P~POC*1*DI~SE*4*1~")).unwrap();
            assert_eq!(doc.no_effect, Some(NoEffect::Purpose), "{other}");
            assert!(doc.lines.is_empty());
        }
    }

    #[test]
    fn an_865_without_poc_or_rejecting_a_change_changes_nothing() {
        let doc = read("ST*865*1~BCA*11*AT*XX1234***20260301~SE*3*1~").unwrap();
        assert_eq!((doc.whole_order, doc.no_effect), (false, None));
        assert!(doc.lines.is_empty());
        for t in ["RJ", "RD", "RF", "RO"] {
            let doc = read(&format!("ST*865*1~BCA*06*{t}*X~POC*1*DI~SE*4*1~")).unwrap();
            assert_eq!(doc.no_effect, Some(NoEffect::ChangeRejected), "{t}");
            assert!(doc.lines.is_empty());
        }
        let doc =
            read("ST*865*1~BCA*00*AC*X~N1*BY*Birch*92*birch~POC*1*DI~N1*ST*Dock~SE*6*1~").unwrap();
        assert_eq!(actions(&doc), [("1", 1, "DI", LineAction::CancelOpen)]);
        assert_eq!(
            doc.parties,
            [Party {
                entity: "BY".into(),
                name: "Birch".into(),
                qualifier: "92".into(),
                id: "birch".into()
            }]
        );
    }

    #[test]
    fn the_first_msg_or_nte_is_the_reason() {
        let doc = read(
            "ST*865*1~BCA*01*RJ*PO-9***20260301~NTE*GEN*  ~NTE*GEN*Out of stock~MSG*later~SE*5*1~",
        )
        .unwrap();
        assert!(doc.whole_order);
        assert_eq!(doc.reason.as_deref(), Some("Out of stock"));
        assert_eq!(doc.order_reason(), "Out of stock");
        let doc = read("ST*865*1~BCA*01*RJ*PO-9~SE*3*1~").unwrap();
        assert_eq!(doc.order_reason(), "EDI 865: order cancelled (BCA01 01)");
    }

    #[test]
    fn reason_codes_are_the_n902s_of_n9_l1_in_order() {
        let doc = read(
            "ST*860*1~BCH*04*SA*P~N9*L1*OUT-OF-STOCK~MSG*gone~N9*PO*123~N9*L1~N9*L1**notes~N9*l1*x~POC*1*DI~N9*L1*os~SE*10*1~",
        )
        .unwrap();
        // Only L1 with an N902: PO refs, an empty N902 and a lower-case
        // qualifier are not reason codes; a POC loop's N9 counts too.
        assert_eq!(doc.reason_codes, ["OUT-OF-STOCK", "os"]);
        assert_eq!(doc.reason.as_deref(), Some("gone"));
        let doc = read("ST*865*1~BCA*01*RJ*P~N9*L1*FRAUD~SE*4*1~").unwrap();
        assert_eq!(
            (doc.reason_codes.as_slice(), doc.reason.as_deref()),
            (["FRAUD".to_owned()].as_slice(), None)
        );
        let doc = read("ST*855*1~BAK*00*AC*P~N9*L1*DELAYED~PO1*1*2~ACK*R4*2~SE*6*1~").unwrap();
        assert_eq!(doc.reason_codes, ["DELAYED"]);
        let doc = read("ST*860*1~BCH*01*SA*P~SE*3*1~").unwrap();
        assert!(doc.reason_codes.is_empty());
    }

    #[test]
    fn an_855_reads_each_ack_as_a_status_of_its_units() {
        let doc = read(
            "ST*855*0001~BAK*00*AC*PO-9*20260301~PO1*10*90*EA*1**BP*B-1~ACK*IR*1*EA~PO1**1~ACK*ID~PO1*30*4~ACK*IQ*3*EA~ACK*IB*1~PO1*40*1~PO1*50*5~ACK*IA*2~ACK*IB*1~ACK*IR*2***2026****VP*V-5~PO1*60*3~ACK*IA*3~ACK*ZZ*1~PO1*70*3~ACK*R2~SE*20*0001~",
        )
        .unwrap();
        assert_eq!(
            actions(&doc),
            [
                ("10", 1, "IR", LineAction::Reject(1)),
                ("2", 2, "ID", LineAction::CancelOpen),
                ("30", 3, "IQ", LineAction::SetTotal(4)),
                ("50", 5, "IR", LineAction::Reject(2)),
                ("60", 6, "IA", LineAction::NoChange),
                ("70", 7, "R2", LineAction::CancelOpen),
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
        let doc = read("ST*855*1~BAK*00*RJ*PO-9*20260301~PO1*1*2~ACK*IA*2~SE*5*1~").unwrap();
        assert!(doc.whole_order && doc.lines.is_empty());
        assert_eq!(doc.order_reason(), "EDI 855: order rejected (BAK02 RJ)");
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
                "ST*860*1~BCH*01*SA~SE*3*1~",
                element_error("BCH", 2, 3, E::MandatoryMissing, None),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1~SE*4*1~",
                element_error("POC", 3, 2, E::MandatoryMissing, None),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QD*-1*1~SE*4*1~",
                element_error("POC", 3, 3, E::InvalidCharacter, Some("-1")),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QD*1*1.5~SE*4*1~",
                element_error("POC", 3, 4, E::InvalidCharacter, Some("1.5")),
            ),
            (
                "ST*860*1~BCH*04*SA*P~POC*1*QD*1*4294967296~SE*4*1~",
                element_error("POC", 3, 4, E::InvalidCharacter, Some("4294967296")),
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
                "ST*865*1~BCA*01**P~SE*3*1~",
                element_error("BCA", 2, 2, E::MandatoryMissing, None),
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
                "ST*855*1~BAK*00*AC*P~PO1*1~ACK~SE*5*1~",
                element_error("ACK", 4, 1, E::MandatoryMissing, None),
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
            assert_eq!(read(text), Err(want), "{text}");
        }
    }
}
