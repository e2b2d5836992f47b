//! Writing 997, 860 and 865 interchanges, and the writer the 824 and TA1
//! of [`crate::advice`] share.
//!
//! One interchange holds one group (a TA1 none). The delimiters and the
//! ISA version are the partner's [`Syntax`]; for `00401` ISA11 is `U`, for
//! later versions the repetition separator. Every data value passes through
//! the writer's sanitizer: delimiters (ours and the partner's) and control
//! characters become spaces, runs of whitespace one space, and the ends are
//! trimmed, so no value can end an element or a segment early. Trailing
//! empty elements are left out.
//!
//! An 860 (to an EDI seller) or 865 (to an EDI buyer) says `01` for a
//! whole-order cancellation, else `04` with one `POC` per changed line:
//! `DI` when nothing remains, else `QD` with the quantities as the
//! partner reads them ([`PocReading`]). Each reason goes into its own
//! `N9*L1*<code>` loop (004010 repeats the header's `N9` loop up to 1000
//! times), its note as `MSG` lines of at most 264 characters; a reader that
//! takes the first `MSG01` (as ours does) gets its first line.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use thiserror::Error;

use crate::ack::{GroupAck, InterchangeAck};
use crate::document::{PocReading, ProductId};
use crate::envelope::{Delimiters, Usage};
use crate::ids::DELIMITER_BYTES;
use crate::{IsaId, IsaIdError, SetKind};

/// The longest `MSG01` (element 933 in 004010).
pub const MSG_MAX_CHARS: usize = 264;
/// The longest AK404 (copy of a bad data element).
const AK404_MAX_CHARS: usize = 99;
/// The longest TED02 (free-form message, element 3).
pub(crate) const TED02_MAX_CHARS: usize = 60;
/// The longest BGN02 / OTI03 / BCH03 (reference id, element 127).
pub(crate) const REFERENCE_MAX_CHARS: usize = 30;
/// The most product id pairs in a `POC` (`POC08` to `POC27`).
const POC_PRODUCT_IDS: usize = 10;
const MAX_CONTROL_NUMBER: u32 = 999_999_999;

/// A value made safe for an element with the default delimiters:
/// delimiters and control characters become spaces, whitespace runs
/// collapse to one space, the ends are trimmed.
pub fn sanitize(value: &str) -> String {
    clean(value, &DELIMITER_BYTES)
}

pub(crate) fn clean(value: &str, delimiters: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending_space = false;
    for c in value.chars() {
        let is_delimiter =
            u8::try_from(c).is_ok_and(|b| DELIMITER_BYTES.contains(&b) || delimiters.contains(&b));
        if c.is_whitespace() || c.is_control() || is_delimiter {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// How a partner wants its interchanges written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syntax {
    /// Element, component and segment separators; the repetition separator
    /// is written in ISA11 only for versions after `00401`.
    pub delimiters: Delimiters,
    /// ISA12, five digits: `00401` (ISA11 `U`) or later.
    pub isa_version: String,
    /// A line break after each segment terminator.
    pub line_breaks: bool,
}

impl Default for Syntax {
    /// `*`, `>`, `~` + newline, ISA12 `00401` with ISA11 `U`.
    fn default() -> Self {
        Self {
            delimiters: Delimiters::OUTBOUND,
            isa_version: "00401".to_owned(),
            line_breaks: true,
        }
    }
}

impl Syntax {
    /// Checks the settings: distinct, printable, non-alphanumeric
    /// delimiters and a five-digit version.
    pub fn check(&self) -> Result<(), WriteError> {
        let v = &self.isa_version;
        if v.len() != 5 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WriteError::Syntax(format!("ISA12 {v:?} is not 5 digits")));
        }
        let d = self.delimiters;
        let mut all = vec![d.element, d.component, d.segment];
        all.extend(d.repetition.filter(|_| !self.repetition_is_code()));
        let mut distinct = all.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let usable = |b: &u8| b.is_ascii_punctuation() || *b == b'\n' || *b == b'\r';
        if distinct.len() != all.len() || !all.iter().all(usable) {
            return Err(WriteError::Syntax(format!("unusable delimiters {d:?}")));
        }
        if [d.element, d.component]
            .iter()
            .any(|b| !b.is_ascii_punctuation())
        {
            return Err(WriteError::Syntax(format!("unusable delimiters {d:?}")));
        }
        Ok(())
    }

    /// `00401` and before have a code (`U`) in ISA11, not a separator.
    fn repetition_is_code(&self) -> bool {
        self.isa_version.as_str() <= "00401"
    }

    fn isa11(&self) -> char {
        match self.delimiters.repetition {
            Some(r) if !self.repetition_is_code() => char::from(r),
            _ => 'U',
        }
    }

    pub(crate) fn delimiter_bytes(&self) -> Vec<u8> {
        let d = self.delimiters;
        let mut v = vec![d.element, d.component, d.segment];
        v.extend(d.repetition);
        v
    }
}

/// Who an interchange is from and to, and its control numbers and time,
/// all chosen by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// ISA05/06, and GS02 (the id): us.
    pub sender: IsaId,
    /// ISA07/08, and GS03: the partner.
    pub receiver: IsaId,
    /// ISA13 and IEA02, unique per partner (1 to 999999999).
    pub control_number: u32,
    /// GS06 and GE02.
    pub group_control_number: u32,
    /// ISA09/10 and GS04/05.
    pub at: NaiveDateTime,
    pub usage: Usage,
    /// GS02 and GS03 when they differ from the ISA ids (a reply uses the
    /// application codes of the group it answers, swapped).
    pub group_ids: Option<(String, String)>,
    pub syntax: Syntax,
}

impl Envelope {
    /// A production envelope whose group control number is the
    /// interchange's.
    pub fn new(sender: IsaId, receiver: IsaId, control_number: u32, at: NaiveDateTime) -> Self {
        Self {
            sender,
            receiver,
            control_number,
            group_control_number: control_number,
            at,
            usage: Usage::Production,
            group_ids: None,
            syntax: Syntax::default(),
        }
    }

    /// The same envelope written with `syntax`.
    pub fn with_syntax(mut self, syntax: Syntax) -> Self {
        self.syntax = syntax;
        self
    }
}

/// `N902` of a reason written without a code of its own.
pub const UNCODED_REASON: &str = "OTHER";

/// An outbound 860 or 865.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundChange {
    /// The buyer's order ref, or our order id if none (`BCH03`/`BCA03`).
    pub po_number: String,
    /// The order's date (`BCH06`/`BCA06`).
    pub po_date: NaiveDate,
    pub scope: OutboundScope,
    /// The note of one reason loop coded [`UNCODED_REASON`], when no coded
    /// [`ReasonLoop`] is given; none when empty.
    pub reason: String,
    /// How the partner reads `POC03`/`POC04`.
    pub reading: PocReading,
}

/// One reason of an outbound change: `N9*L1*<code>` and its note in
/// `MSG`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonLoop {
    /// Written in X12's basic character set: letters upper-cased, `-` for
    /// `_` and spaces, anything else but digits and `-` left out, at most
    /// 30 characters.
    pub code: String,
    /// Left out when empty.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundScope {
    WholeOrder,
    Lines(Vec<OutboundLine>),
}

/// One changed line, as it stands after the cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundLine {
    /// The buyer's line ref, else our line id (`POC01`).
    pub line_id: String,
    /// Ordered.
    pub quantity: u32,
    /// Cancelled in all, this cancellation included.
    pub cancelled: u32,
    /// Cancelled by this cancellation.
    pub units: u32,
    /// Still to ship (`POC04`).
    pub open: u32,
    pub product_ids: Vec<ProductId>,
}

/// Why an interchange cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WriteError {
    #[error("control number {0} is not between 1 and 999999999")]
    ControlNumber(u32),
    #[error("{0}")]
    IsaId(#[from] IsaIdError),
    #[error("the date {0} has no four-digit year")]
    Date(NaiveDate),
    #[error("{element} is empty once delimiters and control characters are removed")]
    Empty { element: &'static str },
    #[error("line {line_id}: {cancelled} cancelled of {quantity} ordered")]
    CancelledExceedsQuantity {
        line_id: String,
        quantity: u32,
        cancelled: u32,
    },
    #[error("line {line_id}: {open} open but only {remaining} remain")]
    OpenExceedsRemaining {
        line_id: String,
        remaining: u32,
        open: u32,
    },
    #[error("line {line_id}: {units} cancelled now but {cancelled} in all")]
    UnitsExceedCancelled {
        line_id: String,
        cancelled: u32,
        units: u32,
    },
    #[error("a line change lists no lines")]
    NoLines,
    #[error("an application advice refuses no set")]
    NoRefusals,
    #[error("{0}")]
    Syntax(String),
}

pub(crate) fn date(d: NaiveDate) -> Result<(u32, u32, u32), WriteError> {
    match u32::try_from(d.year()) {
        Ok(y) if (1..=9999).contains(&y) => Ok((y, d.month(), d.day())),
        _ => Err(WriteError::Date(d)),
    }
}

pub(crate) fn ccyymmdd(d: NaiveDate) -> Result<String, WriteError> {
    let (y, m, d) = date(d)?;
    Ok(format!("{y:04}{m:02}{d:02}"))
}

/// An interchange being written.
pub(crate) struct Out {
    pub(crate) text: String,
    /// Segments of the open set, ST included.
    in_set: u32,
    sets: u32,
    syntax: Syntax,
    delimiters: Vec<u8>,
}

impl Out {
    /// A value made safe for this interchange's delimiters.
    pub(crate) fn clean(&self, value: &str) -> String {
        clean(value, &self.delimiters)
    }

    /// Writes one segment of already clean elements.
    pub(crate) fn push(&mut self, id: &str, mut elements: Vec<String>) {
        while elements.last().is_some_and(String::is_empty) {
            elements.pop();
        }
        let d = self.syntax.delimiters;
        self.text.push_str(id);
        for e in &elements {
            self.text.push(char::from(d.element));
            self.text.push_str(e);
        }
        self.end_segment();
        self.in_set = self.in_set.saturating_add(1);
    }

    fn end_segment(&mut self) {
        self.text.push(char::from(self.syntax.delimiters.segment));
        if self.syntax.line_breaks && !matches!(self.syntax.delimiters.segment, b'\n' | b'\r') {
            self.text.push('\n');
        }
    }

    /// Writes one segment of data values.
    pub(crate) fn seg(&mut self, id: &str, values: &[&str]) {
        let elements = values.iter().map(|v| self.clean(v)).collect();
        self.push(id, elements);
    }

    /// The ISA alone.
    pub(crate) fn isa(env: &Envelope) -> Result<Self, WriteError> {
        for n in [env.control_number, env.group_control_number] {
            if !(1..=MAX_CONTROL_NUMBER).contains(&n) {
                return Err(WriteError::ControlNumber(n));
            }
        }
        let sender = IsaId::new(env.sender.qualifier(), env.sender.id())?;
        let receiver = IsaId::new(env.receiver.qualifier(), env.receiver.id())?;
        let (y, m, d) = date(env.at.date())?;
        let (hh, mm) = (env.at.hour(), env.at.minute());
        env.syntax.check()?;
        let mut out = Out {
            text: String::new(),
            in_set: 0,
            sets: 0,
            syntax: env.syntax.clone(),
            delimiters: env.syntax.delimiter_bytes(),
        };
        let in_ids = [
            sender.id(),
            receiver.id(),
            sender.qualifier(),
            receiver.qualifier(),
        ];
        if in_ids
            .iter()
            .any(|t| t.bytes().any(|b| out.delimiters.contains(&b)))
        {
            return Err(WriteError::Syntax(
                "an ISA id contains one of the partner's delimiters".to_owned(),
            ));
        }
        let e = char::from(env.syntax.delimiters.element);
        let elements = [
            "00".to_owned(),
            format!("{:10}", ""),
            "00".to_owned(),
            format!("{:10}", ""),
            sender.qualifier().to_owned(),
            format!("{:<15}", sender.id()),
            receiver.qualifier().to_owned(),
            format!("{:<15}", receiver.id()),
            format!("{:02}{m:02}{d:02}", y % 100),
            format!("{hh:02}{mm:02}"),
            env.syntax.isa11().to_string(),
            env.syntax.isa_version.clone(),
            format!("{:09}", env.control_number),
            "0".to_owned(),
            env.usage.code().to_string(),
            char::from(env.syntax.delimiters.component).to_string(),
        ];
        out.text.push_str("ISA");
        for v in elements {
            out.text.push(e);
            out.text.push_str(&v);
        }
        out.end_segment();
        Ok(out)
    }

    pub(crate) fn begin(env: &Envelope, kind: SetKind) -> Result<Self, WriteError> {
        let mut out = Self::isa(env)?;
        let (y, m, d) = date(env.at.date())?;
        let (hh, mm) = (env.at.hour(), env.at.minute());
        let (gs02, gs03) = match &env.group_ids {
            Some((from, to)) => (from.clone(), to.clone()),
            None => (env.sender.id().to_owned(), env.receiver.id().to_owned()),
        };
        out.seg(
            "GS",
            &[
                kind.functional_id(),
                &gs02,
                &gs03,
                &format!("{y:04}{m:02}{d:02}"),
                &format!("{hh:02}{mm:02}"),
                &env.group_control_number.to_string(),
                "X",
                "004010",
            ],
        );
        Ok(out)
    }

    /// Opens a set; its control number is its 1-based place in the group.
    pub(crate) fn st(&mut self, kind: SetKind) -> String {
        self.sets = self.sets.saturating_add(1);
        let control = format!("{:04}", self.sets);
        self.in_set = 0;
        self.seg("ST", &[kind.id(), &control]);
        control
    }

    pub(crate) fn se(&mut self, control: &str) {
        let count = self.in_set.saturating_add(1);
        self.seg("SE", &[&count.to_string(), control]);
    }

    pub(crate) fn end(mut self, env: &Envelope) -> Vec<u8> {
        self.seg(
            "GE",
            &[
                &self.sets.to_string(),
                &env.group_control_number.to_string(),
            ],
        );
        self.seg("IEA", &["1", &format!("{:09}", env.control_number)]);
        self.text.into_bytes()
    }
}

/// The 997 answering `ack`, one set per answered group; `None` when there
/// is nothing to answer (no groups, or only 997s).
pub fn write_997(env: &Envelope, ack: &InterchangeAck) -> Result<Option<Vec<u8>>, WriteError> {
    let groups: Vec<&GroupAck> = ack.to_answer().collect();
    if groups.is_empty() {
        return Ok(None);
    }
    let mut out = Out::begin(env, SetKind::FunctionalAck997)?;
    for g in groups {
        let control = out.st(SetKind::FunctionalAck997);
        out.seg("AK1", &[&g.functional_id, &g.control_number]);
        for s in &g.sets {
            out.seg("AK2", &[&s.set_id, &s.control_number]);
            for note in &s.notes {
                let code = note.code.map(|c| c.code().to_string()).unwrap_or_default();
                out.seg(
                    "AK3",
                    &[&note.segment, &note.position.to_string(), "", &code],
                );
                for e in &note.elements {
                    let at = match e.component {
                        Some(c) => format!(
                            "{}{}{c}",
                            e.position,
                            char::from(out.syntax.delimiters.component)
                        ),
                        None => e.position.to_string(),
                    };
                    // The partner's delimiters too: the bad value may hold
                    // one that is not ours.
                    let value: String = out
                        .clean(e.value.as_deref().unwrap_or_default())
                        .chars()
                        .take(AK404_MAX_CHARS)
                        .collect();
                    out.push(
                        "AK4",
                        vec![
                            at,
                            String::new(),
                            e.code.code().to_string(),
                            out.clean(&value),
                        ],
                    );
                }
            }
            let mut ak5 = vec![s.status.code().to_owned()];
            ak5.extend(s.errors.iter().take(5).map(|c| c.code().to_string()));
            out.push("AK5", ak5);
        }
        let mut ak9 = vec![
            g.status.code().to_owned(),
            g.included.to_string(),
            g.received.to_string(),
            g.accepted.to_string(),
        ];
        ak9.extend(g.errors.iter().take(5).map(|c| c.code().to_string()));
        out.push("AK9", ak9);
        out.se(&control);
    }
    Ok(Some(out.end(env)))
}

/// An 860 to an EDI seller whose buyer cancelled, its reason uncoded.
pub fn write_860(env: &Envelope, change: &OutboundChange) -> Result<Vec<u8>, WriteError> {
    write_change(env, change, SetKind::PoChange860, &[])
}

/// An 865 to an EDI buyer whose seller cancelled, its reason uncoded.
pub fn write_865(env: &Envelope, change: &OutboundChange) -> Result<Vec<u8>, WriteError> {
    write_change(env, change, SetKind::SellerChange865, &[])
}

/// An 860 with one loop per reason (`change.reason` only when `reasons`
/// is empty).
pub fn write_860_coded(
    env: &Envelope,
    change: &OutboundChange,
    reasons: &[ReasonLoop],
) -> Result<Vec<u8>, WriteError> {
    write_change(env, change, SetKind::PoChange860, reasons)
}

/// An 865 with one loop per reason (`change.reason` only when `reasons`
/// is empty).
pub fn write_865_coded(
    env: &Envelope,
    change: &OutboundChange,
    reasons: &[ReasonLoop],
) -> Result<Vec<u8>, WriteError> {
    write_change(env, change, SetKind::SellerChange865, reasons)
}

/// A code made fit for `N902` in X12's basic character set: trimmed, ASCII
/// letters upper-cased, digits and `-` kept, `_` and spaces as `-` (none
/// when `-` is one of `delimiters`), anything else dropped; at most 30
/// characters. 004010's basic set has no lower case and no `_`; a code of
/// `A-Z`, `0-9` and `-` (a partner's) is written as it is.
fn n9_code(code: &str, delimiters: &[u8]) -> String {
    let hyphens = !delimiters.contains(&b'-');
    code.trim()
        .chars()
        .filter_map(|c| match c {
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_uppercase()),
            '-' | '_' | ' ' if hyphens => Some('-'),
            _ => None,
        })
        .take(REFERENCE_MAX_CHARS)
        .collect()
}

/// A line's POC elements, checked: `DI` when nothing remains, else `QD`
/// with the quantities as the partner reads them.
fn poc(out: &Out, line: &OutboundLine, reading: PocReading) -> Result<Vec<String>, WriteError> {
    let line_id = out.clean(&line.line_id);
    if line_id.is_empty() {
        return Err(WriteError::Empty { element: "POC01" });
    }
    let remaining = line.quantity.checked_sub(line.cancelled).ok_or_else(|| {
        WriteError::CancelledExceedsQuantity {
            line_id: line_id.clone(),
            quantity: line.quantity,
            cancelled: line.cancelled,
        }
    })?;
    if line.open > remaining {
        return Err(WriteError::OpenExceedsRemaining {
            line_id,
            remaining,
            open: line.open,
        });
    }
    if line.units > line.cancelled {
        return Err(WriteError::UnitsExceedCancelled {
            line_id,
            cancelled: line.cancelled,
            units: line.units,
        });
    }
    // Cannot overflow: units <= cancelled <= quantity.
    let before = remaining + line.units;
    let code = if remaining == 0 { "DI" } else { "QD" };
    let (poc03, poc04) = match reading {
        PocReading::BeforeAfter => (before, remaining),
        PocReading::NewTotal => (remaining, line.open),
    };
    let mut elements = vec![
        line_id,
        code.to_owned(),
        poc03.to_string(),
        poc04.to_string(),
        "EA".to_owned(),
        String::new(),
        String::new(),
    ];
    let pairs = line
        .product_ids
        .iter()
        .map(|p| (out.clean(p.qualifier.code()), out.clean(&p.id)))
        .filter(|(q, id)| !q.is_empty() && !id.is_empty())
        .take(POC_PRODUCT_IDS);
    for (q, id) in pairs {
        elements.push(q);
        elements.push(id);
    }
    Ok(elements)
}

/// Splits a sanitized text into `MSG01` lines, at spaces where it can.
fn msg_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some((cut, _)) = rest.char_indices().nth(MSG_MAX_CHARS) else {
            lines.push(rest);
            break;
        };
        let (line, next) = if rest[cut..].starts_with(' ') {
            (&rest[..cut], &rest[cut + 1..])
        } else {
            match rest[..cut].rfind(' ') {
                Some(space) if space > 0 => (&rest[..space], &rest[space + 1..]),
                _ => (&rest[..cut], &rest[cut..]),
            }
        };
        lines.push(line);
        rest = next;
    }
    lines
}

/// The reason loops as written: `(N902, MSG01 lines)`.
fn reason_loops(
    out: &Out,
    change: &OutboundChange,
    reasons: &[ReasonLoop],
) -> Result<Vec<(String, String)>, WriteError> {
    if reasons.is_empty() {
        let note = out.clean(&change.reason);
        return Ok(match note.is_empty() {
            true => Vec::new(),
            false => vec![(UNCODED_REASON.to_owned(), note)],
        });
    }
    reasons
        .iter()
        .map(|r| match n9_code(&r.code, &out.delimiters) {
            code if code.is_empty() => Err(WriteError::Empty { element: "N902" }),
            code => Ok((code, out.clean(&r.note))),
        })
        .collect()
}

fn write_change(
    env: &Envelope,
    change: &OutboundChange,
    kind: SetKind,
    reasons: &[ReasonLoop],
) -> Result<Vec<u8>, WriteError> {
    let (header, po_element) = match kind {
        SetKind::SellerChange865 => ("BCA", "BCA03"),
        _ => ("BCH", "BCH03"),
    };
    let mut out = Out::begin(env, kind)?;
    let po = out.clean(&change.po_number);
    if po.is_empty() {
        return Err(WriteError::Empty {
            element: po_element,
        });
    }
    let po_date = ccyymmdd(change.po_date)?;
    let lines = match &change.scope {
        OutboundScope::WholeOrder => Vec::new(),
        OutboundScope::Lines(lines) if lines.is_empty() => return Err(WriteError::NoLines),
        OutboundScope::Lines(lines) => lines
            .iter()
            .map(|l| poc(&out, l, change.reading))
            .collect::<Result<_, _>>()?,
    };
    let reasons = reason_loops(&out, change, reasons)?;
    let whole = change.scope == OutboundScope::WholeOrder;
    let purpose = if whole { "01" } else { "04" };
    // BCH02: a stand-alone order; BCA02: rejected (whole) or changed.
    let second = match (kind, whole) {
        (SetKind::SellerChange865, true) => "RJ",
        (SetKind::SellerChange865, false) => "AC",
        _ => "SA",
    };

    let control = out.st(kind);
    out.seg(header, &[purpose, second, &po, "", "", &po_date]);
    for (code, note) in &reasons {
        out.push("N9", vec!["L1".to_owned(), code.clone()]);
        for line in msg_lines(note) {
            out.seg("MSG", &[line]);
        }
    }
    let count = lines.len();
    for poc in lines {
        out.push("POC", poc);
    }
    if count > 0 {
        out.seg("CTT", &[&count.to_string()]);
    }
    out.se(&control);
    Ok(out.end(env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_structure() {
        assert_eq!(
            sanitize("  a*b~c^d>e\r\nf\u{0}g\u{2028}h  "),
            "a b c d e f g h"
        );
        assert_eq!(sanitize("PO-1001"), "PO-1001");
        assert_eq!(sanitize("~*~"), "");
        assert_eq!(sanitize("Ünïcode ok"), "Ünïcode ok");
    }

    #[test]
    fn msg_lines_break_at_spaces() {
        let word = "x".repeat(200);
        let text = format!("{word} {word}");
        assert_eq!(msg_lines(&text), [word.as_str(), word.as_str()]);
        let long = "y".repeat(MSG_MAX_CHARS + 10);
        assert_eq!(
            msg_lines(&long),
            [&long[..MSG_MAX_CHARS], &long[MSG_MAX_CHARS..]]
        );
        let exact = "z".repeat(MSG_MAX_CHARS);
        assert_eq!(msg_lines(&exact), [exact.as_str()]);
        let at_cut = format!("{} tail", "w".repeat(MSG_MAX_CHARS));
        assert_eq!(msg_lines(&at_cut), [&at_cut[..MSG_MAX_CHARS], "tail"]);
        assert!(msg_lines("").is_empty());
    }

    #[test]
    fn n9_codes_are_in_x12s_basic_character_set() {
        let plain: &[u8] = &[];
        for as_is in ["OUT-OF-STOCK", "OS", "03", "-A--B-"] {
            assert_eq!(n9_code(as_is, plain), as_is);
        }
        assert_eq!(n9_code("out_of_stock", plain), "OUT-OF-STOCK");
        assert_eq!(n9_code("  os 1~*^>é!\n", plain), "OS-1");
        assert_eq!(n9_code("~*\r\n", plain), "");
        let long = "X".repeat(40);
        assert_eq!(n9_code(&long, plain), "X".repeat(30));
        // A partner whose delimiter is `-` gets codes without one.
        assert_eq!(n9_code("OUT-OF_STOCK", b"-"), "OUTOFSTOCK");
    }

    fn change(scope: OutboundScope, reason: &str) -> OutboundChange {
        OutboundChange {
            po_number: "PO-7".into(),
            po_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            scope,
            reason: reason.into(),
            reading: PocReading::BeforeAfter,
        }
    }

    fn env() -> Envelope {
        let at = NaiveDate::from_ymd_opt(2026, 3, 15)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap();
        Envelope::new(
            IsaId::dropship(),
            IsaId::new("ZZ", "ACMEEDI").unwrap(),
            9,
            at,
        )
    }

    /// The `N9` and `MSG` segments, without terminators.
    fn reason_segments(bytes: &[u8]) -> Vec<String> {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        text.lines()
            .filter(|l| l.starts_with("N9*") || l.starts_with("MSG*"))
            .map(|l| l.trim_end_matches('~').to_owned())
            .collect()
    }

    fn reason(code: &str, note: &str) -> ReasonLoop {
        ReasonLoop {
            code: code.into(),
            note: note.into(),
        }
    }

    #[test]
    fn each_reason_is_its_own_n9_loop_with_its_code() {
        let whole = change(OutboundScope::WholeOrder, "ignored when coded");
        // Our default form and a partner's own code, as given.
        let bytes = write_860_coded(
            &env(),
            &whole,
            &[
                reason("FRAUD", "Suspected fraud (code fraud)"),
                reason("OS", "Out of stock: gone (code out_of_stock)"),
            ],
        )
        .unwrap();
        assert_eq!(
            reason_segments(&bytes),
            [
                "N9*L1*FRAUD",
                "MSG*Suspected fraud (code fraud)",
                "N9*L1*OS",
                "MSG*Out of stock: gone (code out_of_stock)",
            ]
        );
        let back = crate::parse_interchange(&bytes).unwrap();
        let v = crate::validate(&back, &IsaId::dropship(), PocReading::default());
        assert_eq!(v.changes[0].reason_codes, ["FRAUD", "OS"]);
        assert_eq!(
            v.changes[0].reason.as_deref(),
            Some("Suspected fraud (code fraud)")
        );

        // Sanitised: a code cannot end the element or the segment; a note
        // may be empty (N9 alone), a code may not.
        let bytes = write_865_coded(
            &env(),
            &whole,
            &[reason("os*~ X", ""), reason("out_of_stock", "a~b")],
        )
        .unwrap();
        assert_eq!(
            reason_segments(&bytes),
            ["N9*L1*OS-X", "N9*L1*OUT-OF-STOCK", "MSG*a b"]
        );
        assert_eq!(
            write_860_coded(&env(), &whole, &[reason("*~é", "note")]),
            Err(WriteError::Empty { element: "N902" })
        );

        // No coded reason: the text alone, coded OTHER; no text, no loop.
        let bytes = write_860(&env(), &change(OutboundScope::WholeOrder, "Too many")).unwrap();
        assert_eq!(reason_segments(&bytes), ["N9*L1*OTHER", "MSG*Too many"]);
        let bytes = write_860_coded(&env(), &change(OutboundScope::WholeOrder, " "), &[]).unwrap();
        assert!(reason_segments(&bytes).is_empty());
    }

    /// An AK4 copies a bad value the partner sent with its own delimiters:
    /// the ones it configured for our answers are taken out of it too.
    #[test]
    fn a_997_keeps_the_partners_delimiters_out_of_ak4() {
        use crate::ack::{ElementNote, GroupStatus, SegmentNote, SetAck, SetStatus};
        use crate::{ElementErrorCode, IsaId, SegmentErrorCode, SetErrorCode};
        let note = SegmentNote {
            segment: "POC".to_owned(),
            position: 6,
            code: Some(SegmentErrorCode::ElementErrors),
            elements: vec![ElementNote {
                position: 3,
                component: Some(2),
                code: ElementErrorCode::InvalidCharacter,
                value: Some("|F\\x".to_owned()),
            }],
        };
        let ack = InterchangeAck {
            sender: IsaId::new("ZZ", "ACMEEDI").unwrap(),
            receiver: IsaId::dropship(),
            control_number: 1,
            error: None,
            groups: vec![GroupAck {
                functional_id: "CA".to_owned(),
                control_number: "1".to_owned(),
                sets: vec![SetAck {
                    set_id: "865".to_owned(),
                    control_number: "0001".to_owned(),
                    notes: vec![note],
                    status: SetStatus::Rejected,
                    errors: vec![SetErrorCode::SegmentsInError],
                }],
                status: GroupStatus::Rejected,
                included: 1,
                received: 1,
                accepted: 0,
                errors: Vec::new(),
            }],
        };
        let at = NaiveDate::from_ymd_opt(2026, 3, 15)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap();
        let syntax = Syntax {
            delimiters: Delimiters {
                element: b'^',
                repetition: Some(b'}'),
                component: b'\\',
                segment: b'|',
            },
            isa_version: "00401".to_owned(),
            line_breaks: false,
        };
        let env = Envelope::new(IsaId::dropship(), ack.sender.clone(), 2, at).with_syntax(syntax);
        let bytes = write_997(&env, &ack).unwrap().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("AK4^3\\2^^6^F x|"), "{text}");
        let back = crate::parse_interchange(&bytes).unwrap();
        let read = crate::validate(&back, &IsaId::dropship(), PocReading::default());
        let notes = &read.acknowledgments[0].sets[0].notes[0];
        assert_eq!(notes.elements[0].component, Some(2));
        assert_eq!(notes.elements[0].value.as_deref(), Some("F x"));
    }
}
