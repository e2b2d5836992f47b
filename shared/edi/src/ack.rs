//! Judging an inbound interchange as a 997 reports it, and reading a
//! partner's 997.
//!
//! An interchange from another sender than the expected partner, or whose
//! IEA disagrees with it, is rejected whole: every group is answered with
//! `AK9*R` and nothing in it is acted on. Otherwise each group is checked
//! (GS/GE agreement, supported functional id and version) and, when that
//! holds, each set (ST/SE agreement, unique control number, readable
//! content). A 997 never answers a 997, but the sets of an `FA` group are
//! read so that the caller can see what the partner acknowledged.

use std::collections::HashSet;

use thiserror::Error;

use crate::codes::{ElementErrorCode, GroupErrorCode, SegmentErrorCode, SetErrorCode};
use crate::document::{ChangeDocument, DocumentError, PocReading, Problem, read_change, required};
use crate::envelope::{
    Group, Interchange, MAX_ELEMENTS, MAX_SET_SEGMENTS, Segment, TransactionSet,
};
use crate::{IsaId, SetKind};

/// The most codes an AK5 or AK9 carries.
const MAX_CODES: usize = 5;

/// AK501.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetStatus {
    /// `A`.
    Accepted,
    /// `E`: accepted, but errors were noted (only read, never written).
    AcceptedWithErrors,
    /// `R` (and, when read, the security rejections `M`, `W`, `X`).
    Rejected,
}

/// AK901.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStatus {
    /// `A`.
    Accepted,
    /// `E` (only read, never written).
    AcceptedWithErrors,
    /// `P`: some sets accepted, some rejected.
    Partial,
    /// `R` (and `M`, `W`, `X` when read).
    Rejected,
}

impl SetStatus {
    pub fn code(self) -> &'static str {
        match self {
            SetStatus::Accepted => "A",
            SetStatus::AcceptedWithErrors => "E",
            SetStatus::Rejected => "R",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "A" => SetStatus::Accepted,
            "E" => SetStatus::AcceptedWithErrors,
            "R" | "M" | "W" | "X" => SetStatus::Rejected,
            _ => return None,
        })
    }
}

impl GroupStatus {
    pub fn code(self) -> &'static str {
        match self {
            GroupStatus::Accepted => "A",
            GroupStatus::AcceptedWithErrors => "E",
            GroupStatus::Partial => "P",
            GroupStatus::Rejected => "R",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "A" => GroupStatus::Accepted,
            "E" => GroupStatus::AcceptedWithErrors,
            "P" => GroupStatus::Partial,
            "R" | "M" | "W" | "X" => GroupStatus::Rejected,
            _ => return None,
        })
    }
}

/// An AK3 and its AK4s: where in a set something is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentNote {
    /// AK301.
    pub segment: String,
    /// AK302: position in the set, ST = 1.
    pub position: u32,
    /// AK304.
    pub code: Option<SegmentErrorCode>,
    pub elements: Vec<ElementNote>,
}

/// An AK4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementNote {
    /// AK401-1: position in the segment.
    pub position: u32,
    /// AK401-2: position in a composite.
    pub component: Option<u32>,
    /// AK403.
    pub code: ElementErrorCode,
    /// AK404: a copy of the bad value.
    pub value: Option<String>,
}

impl From<&DocumentError> for SegmentNote {
    fn from(e: &DocumentError) -> Self {
        let (code, elements) = match &e.problem {
            Problem::Segment(code) => (*code, Vec::new()),
            Problem::Element {
                element,
                component,
                code,
                value,
            } => (
                SegmentErrorCode::ElementErrors,
                vec![ElementNote {
                    position: *element,
                    component: *component,
                    code: *code,
                    value: value.clone(),
                }],
            ),
        };
        SegmentNote {
            segment: e.segment.clone(),
            position: e.position,
            code: Some(code),
            elements,
        }
    }
}

/// An AK2 loop: one set's acknowledgment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAck {
    /// AK201.
    pub set_id: String,
    /// AK202.
    pub control_number: String,
    pub notes: Vec<SegmentNote>,
    /// AK501.
    pub status: SetStatus,
    /// AK502-AK506.
    pub errors: Vec<SetErrorCode>,
}

/// One 997 transaction set: the acknowledgment of a functional group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAck {
    /// AK101 (GS01 of the group).
    pub functional_id: String,
    /// AK102 (GS06).
    pub control_number: String,
    /// One per set; none when the group is rejected as a whole.
    pub sets: Vec<SetAck>,
    /// AK901.
    pub status: GroupStatus,
    /// AK902: the sets the group says it includes (GE01).
    pub included: u32,
    /// AK903: the sets received.
    pub received: u32,
    /// AK904: the sets accepted.
    pub accepted: u32,
    /// AK905-AK909.
    pub errors: Vec<GroupErrorCode>,
}

/// Why a whole interchange is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InterchangeError {
    #[error("the interchange is from {found}, expected {expected}")]
    UnexpectedSender { expected: IsaId, found: IsaId },
    #[error("IEA01 is {declared:?} but the interchange has {actual} groups")]
    GroupCount { declared: String, actual: usize },
    #[error("IEA02 {trailer:?} does not match ISA13 {header:09}")]
    ControlNumber { header: u32, trailer: String },
}

impl InterchangeError {
    /// The TA1 note (TA105) for this refusal.
    pub fn ta1_note(&self) -> crate::codes::InterchangeNote {
        match self {
            InterchangeError::UnexpectedSender { .. } => {
                crate::codes::InterchangeNote::InvalidSender
            }
            InterchangeError::GroupCount { .. } => crate::codes::InterchangeNote::GroupCount,
            InterchangeError::ControlNumber { .. } => {
                crate::codes::InterchangeNote::ControlNumberMismatch
            }
        }
    }
}

/// A partner's TA1: its answer to one of our interchanges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedTa1 {
    /// TA101: our ISA13.
    pub control_number: u32,
    /// TA104 `A` (accepted) or `E` (accepted with errors) is `true`.
    pub accepted: bool,
    /// TA105.
    pub note: String,
}

/// Reads a TA1 segment; `None` when it is not one we can match.
pub fn read_ta1(seg: &Segment) -> Option<ReceivedTa1> {
    let control_number = control_number(seg.element(1))?;
    let accepted = match seg.element(4) {
        "A" | "E" => true,
        "R" => false,
        _ => return None,
    };
    Some(ReceivedTa1 {
        control_number,
        accepted,
        note: seg.element(5).to_owned(),
    })
}

/// The acknowledgment of one interchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeAck {
    /// ISA05/06 as received.
    pub sender: IsaId,
    /// ISA07/08 as received.
    pub receiver: IsaId,
    /// ISA13.
    pub control_number: u32,
    /// Set when the interchange is rejected whole.
    pub error: Option<InterchangeError>,
    pub groups: Vec<GroupAck>,
}

impl InterchangeAck {
    /// The groups a 997 answers: all but those of 997s.
    pub fn to_answer(&self) -> impl Iterator<Item = &GroupAck> {
        self.groups
            .iter()
            .filter(|g| g.functional_id != SetKind::FunctionalAck997.functional_id())
    }
}

/// What [`validate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    pub ack: InterchangeAck,
    /// The 860/855/865 documents of the accepted sets, in order.
    pub changes: Vec<ChangeDocument>,
    /// The partner's 997s (from accepted `FA` groups).
    pub acknowledgments: Vec<GroupAck>,
    /// The partner's TA1s (when the interchange is accepted).
    pub ta1s: Vec<ReceivedTa1>,
}

fn count(text: &str) -> Option<usize> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A control number as a partner writes it back (AK102, TA101): one to
/// nine digits, leading zeros or not.
pub fn control_number(text: &str) -> Option<u32> {
    count(text).map(to_u32)
}

fn interchange_error(ic: &Interchange, expected_sender: &IsaId) -> Option<InterchangeError> {
    if &ic.header.sender != expected_sender {
        return Some(InterchangeError::UnexpectedSender {
            expected: expected_sender.clone(),
            found: ic.header.sender.clone(),
        });
    }
    let declared = ic.trailer.element(1);
    if count(declared) != Some(ic.groups.len()) {
        return Some(InterchangeError::GroupCount {
            declared: declared.to_owned(),
            actual: ic.groups.len(),
        });
    }
    let trailer = ic.trailer.element(2);
    if trailer != format!("{:09}", ic.header.control_number) {
        return Some(InterchangeError::ControlNumber {
            header: ic.header.control_number,
            trailer: trailer.to_owned(),
        });
    }
    None
}

/// Checks an interchange from the partner `expected_sender` (the folder it
/// came in), reading `POC03`/`POC04` as `reading` says. Never panics.
pub fn validate(ic: &Interchange, expected_sender: &IsaId, reading: PocReading) -> Validation {
    let error = interchange_error(ic, expected_sender);
    let ta1s = match error {
        Some(_) => Vec::new(),
        None => ic.ta1s.iter().filter_map(read_ta1).collect(),
    };
    let mut changes = Vec::new();
    let mut acknowledgments = Vec::new();
    let groups = ic
        .groups
        .iter()
        .map(|g| match error {
            Some(_) => rejected_group(g, Vec::new()),
            None => check_group(g, reading, &mut changes, &mut acknowledgments),
        })
        .collect();
    Validation {
        ack: InterchangeAck {
            sender: ic.header.sender.clone(),
            receiver: ic.header.receiver.clone(),
            control_number: ic.header.control_number,
            error,
            groups,
        },
        changes,
        acknowledgments,
        ta1s,
    }
}

fn included(g: &Group) -> u32 {
    g.trailer
        .as_ref()
        .and_then(|ge| count(ge.element(1)))
        .map_or(to_u32(g.sets.len()), to_u32)
}

fn rejected_group(g: &Group, mut errors: Vec<GroupErrorCode>) -> GroupAck {
    errors.truncate(MAX_CODES);
    GroupAck {
        functional_id: g.functional_id().to_owned(),
        control_number: g.control_number().to_owned(),
        sets: Vec::new(),
        status: GroupStatus::Rejected,
        included: included(g),
        received: to_u32(g.sets.len()),
        accepted: 0,
        errors,
    }
}

fn group_errors(g: &Group) -> (Option<SetKind>, Vec<GroupErrorCode>) {
    // 824s are only written.
    let kind = SetKind::from_functional_id(g.functional_id())
        .filter(|k| *k != SetKind::ApplicationAdvice824);
    let mut errors = Vec::new();
    if kind.is_none() {
        errors.push(GroupErrorCode::NotSupported);
    }
    if !g.version().starts_with("004010") {
        errors.push(GroupErrorCode::VersionNotSupported);
    }
    if count(g.control_number()).is_none() {
        errors.push(GroupErrorCode::InvalidControlNumber);
    }
    match &g.trailer {
        None => errors.push(GroupErrorCode::TrailerMissing),
        Some(ge) => {
            if ge.element(2) != g.control_number() {
                errors.push(GroupErrorCode::ControlNumberMismatch);
            }
            if count(ge.element(1)) != Some(g.sets.len()) {
                errors.push(GroupErrorCode::SetCountMismatch);
            }
        }
    }
    (kind, errors)
}

fn check_group(
    g: &Group,
    reading: PocReading,
    changes: &mut Vec<ChangeDocument>,
    acknowledgments: &mut Vec<GroupAck>,
) -> GroupAck {
    let (kind, errors) = group_errors(g);
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return rejected_group(g, errors);
    };
    let mut seen = HashSet::new();
    let mut sets = Vec::with_capacity(g.sets.len());
    let mut accepted = 0u32;
    for set in &g.sets {
        let (ack, content) = check_set(set, kind, reading, &mut seen);
        if ack.status == SetStatus::Accepted {
            accepted = accepted.saturating_add(1);
            match content {
                Some(Content::Change(mut doc)) => {
                    doc.group_control_number = g.control_number().to_owned();
                    doc.group_receiver = g.receiver_code().to_owned();
                    changes.push(doc);
                }
                Some(Content::Ack(a)) => acknowledgments.push(a),
                None => {}
            }
        }
        sets.push(ack);
    }
    let received = to_u32(g.sets.len());
    let status = if accepted == received {
        GroupStatus::Accepted
    } else if accepted == 0 {
        GroupStatus::Rejected
    } else {
        GroupStatus::Partial
    };
    GroupAck {
        functional_id: g.functional_id().to_owned(),
        control_number: g.control_number().to_owned(),
        sets,
        status,
        included: included(g),
        received,
        accepted,
        errors: Vec::new(),
    }
}

enum Content {
    Change(ChangeDocument),
    Ack(GroupAck),
}

/// The first segment over a limit of the set: too many segments, or a
/// segment with more elements than were kept.
fn over_limits(set: &TransactionSet) -> Option<SegmentNote> {
    if let Some(seg) = set.segments.get(MAX_SET_SEGMENTS) {
        return Some(SegmentNote {
            segment: seg.id.clone(),
            position: seg.position,
            code: Some(SegmentErrorCode::ExceedsMaximumUse),
            elements: Vec::new(),
        });
    }
    set.segments
        .iter()
        .find(|s| s.overflow)
        .map(|seg| SegmentNote {
            segment: seg.id.clone(),
            position: seg.position,
            code: Some(SegmentErrorCode::ElementErrors),
            elements: vec![ElementNote {
                position: to_u32(MAX_ELEMENTS + 1),
                component: None,
                code: ElementErrorCode::TooMany,
                value: None,
            }],
        })
}

fn check_set<'a>(
    set: &'a TransactionSet,
    kind: SetKind,
    reading: PocReading,
    seen: &mut HashSet<&'a str>,
) -> (SetAck, Option<Content>) {
    let id = set.id();
    let control = set.control_number();
    let mut errors = Vec::new();
    if id.len() != 3 || !id.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(SetErrorCode::InvalidSetId);
    } else if SetKind::from_id(id) != Some(kind) {
        errors.push(SetErrorCode::NotSupported);
    }
    if !(4..=9).contains(&control.len()) {
        errors.push(SetErrorCode::InvalidControlNumber);
    } else if !seen.insert(control) {
        errors.push(SetErrorCode::DuplicateControlNumber);
    }
    match set.trailer() {
        None => errors.push(SetErrorCode::TrailerMissing),
        Some(se) => {
            if se.element(2) != control {
                errors.push(SetErrorCode::ControlNumberMismatch);
            }
            if count(se.element(1)) != Some(set.segments.len()) {
                errors.push(SetErrorCode::SegmentCountMismatch);
            }
        }
    }
    let mut notes = Vec::new();
    let mut content = None;
    if let Some(note) = over_limits(set) {
        errors.push(SetErrorCode::SegmentsInError);
        notes.push(note);
    }
    if errors.is_empty() {
        let read = match kind {
            SetKind::FunctionalAck997 => read_997(set).map(Content::Ack),
            _ => read_change(set, reading).map(Content::Change),
        };
        match read {
            Ok(c) => content = Some(c),
            Err(e) => {
                errors.push(SetErrorCode::SegmentsInError);
                notes.push(SegmentNote::from(&e));
            }
        }
    }
    errors.truncate(MAX_CODES);
    let status = if errors.is_empty() {
        SetStatus::Accepted
    } else {
        SetStatus::Rejected
    };
    let ack = SetAck {
        set_id: id.to_owned(),
        control_number: control.to_owned(),
        notes,
        status,
        errors,
    };
    (ack, content)
}

fn code_at<T>(
    seg: &Segment,
    n: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, DocumentError> {
    parse(required(seg, n)?)
        .ok_or_else(|| DocumentError::element(seg, n, ElementErrorCode::InvalidCode))
}

fn number_at(seg: &Segment, n: usize) -> Result<u32, DocumentError> {
    code_at(seg, n, |v| count(v).map(to_u32))
}

/// Optional codes from element `first` to `last`.
fn codes<T>(
    seg: &Segment,
    first: usize,
    last: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, DocumentError> {
    (first..=last)
        .filter(|&n| !seg.element(n).is_empty())
        .map(|n| code_at(seg, n, &parse))
        .collect()
}

fn unexpected(seg: &Segment) -> DocumentError {
    DocumentError::segment(&seg.id, seg.position, SegmentErrorCode::OutOfSequence)
}

fn read_ak4(seg: &Segment, component: u8) -> Result<ElementNote, DocumentError> {
    let at = required(seg, 1)?;
    let mut parts = at.split(char::from(component));
    let mut part = || parts.next().map(str::trim).and_then(count).map(to_u32);
    let bad = || DocumentError::element(seg, 1, ElementErrorCode::InvalidCharacter);
    let position = part().ok_or_else(bad)?;
    let component = match at.contains(char::from(component)) {
        true => Some(part().ok_or_else(bad)?),
        false => None,
    };
    Ok(ElementNote {
        position,
        component,
        code: code_at(seg, 3, ElementErrorCode::from_code)?,
        value: Some(seg.element(4))
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    })
}

/// Reads a 997 into the acknowledgment it carries. The ids it echoes
/// (AK101/AK102, AK201/AK202) are taken as they are, even blank: they are
/// the partner's copy of what we sent, and only compared.
pub fn read_997(set: &TransactionSet) -> Result<GroupAck, DocumentError> {
    if set.id() != SetKind::FunctionalAck997.id() {
        return Err(match set.segments.first() {
            Some(st) => DocumentError::element(st, 1, ElementErrorCode::InvalidCode),
            None => DocumentError::segment("ST", 1, SegmentErrorCode::MandatoryMissing),
        });
    }
    let body = set.body();
    let Some(ak1) = body.first().filter(|s| s.id == "AK1") else {
        return Err(DocumentError::segment(
            "AK1",
            2,
            SegmentErrorCode::MandatoryMissing,
        ));
    };
    let component = set.delimiters.component;
    let mut sets: Vec<SetAck> = Vec::new();
    // The AK2 loop being read: AK5 closes it.
    let mut open: Option<SetAck> = None;
    let mut ak9 = None;
    for seg in &body[1..] {
        if ak9.is_some() {
            return Err(unexpected(seg));
        }
        match seg.id.as_str() {
            "AK2" => {
                if open.is_some() {
                    return Err(unexpected(seg));
                }
                open = Some(SetAck {
                    set_id: seg.element(1).to_owned(),
                    control_number: seg.element(2).to_owned(),
                    notes: Vec::new(),
                    status: SetStatus::Rejected,
                    errors: Vec::new(),
                });
            }
            "AK3" => {
                let Some(s) = open.as_mut() else {
                    return Err(unexpected(seg));
                };
                s.notes.push(SegmentNote {
                    segment: required(seg, 1)?.to_owned(),
                    position: number_at(seg, 2)?,
                    code: match seg.element(4) {
                        "" => None,
                        _ => Some(code_at(seg, 4, SegmentErrorCode::from_code)?),
                    },
                    elements: Vec::new(),
                });
            }
            "AK4" => {
                let note = open.as_mut().and_then(|s| s.notes.last_mut());
                let Some(note) = note else {
                    return Err(unexpected(seg));
                };
                note.elements.push(read_ak4(seg, component)?);
            }
            "AK5" => {
                let Some(mut s) = open.take() else {
                    return Err(unexpected(seg));
                };
                s.status = code_at(seg, 1, SetStatus::from_code)?;
                s.errors = codes(seg, 2, 6, SetErrorCode::from_code)?;
                sets.push(s);
            }
            "AK9" => {
                if open.is_some() {
                    return Err(unexpected(seg));
                }
                ak9 = Some(seg);
            }
            _ => {
                return Err(DocumentError::segment(
                    &seg.id,
                    seg.position,
                    SegmentErrorCode::NotInSet,
                ));
            }
        }
    }
    // A missing segment is reported where it was expected: at SE.
    let end = set
        .trailer()
        .map_or(to_u32(set.segments.len() + 1), |se| se.position);
    if open.is_some() {
        return Err(DocumentError::segment(
            "AK5",
            end,
            SegmentErrorCode::MandatoryMissing,
        ));
    }
    let Some(ak9) = ak9 else {
        return Err(DocumentError::segment(
            "AK9",
            end,
            SegmentErrorCode::MandatoryMissing,
        ));
    };
    Ok(GroupAck {
        functional_id: ak1.element(1).to_owned(),
        control_number: ak1.element(2).to_owned(),
        sets,
        status: code_at(ak9, 1, GroupStatus::from_code)?,
        included: number_at(ak9, 2)?,
        received: number_at(ak9, 3)?,
        accepted: number_at(ak9, 4)?,
        errors: codes(ak9, 5, 9, GroupErrorCode::from_code)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_numbers_are_read_with_or_without_leading_zeros() {
        assert_eq!(control_number("000000007"), Some(7));
        assert_eq!(control_number("7"), Some(7));
        assert_eq!(control_number(""), None);
        assert_eq!(control_number("1234567890"), None);
        assert_eq!(control_number("7A"), None);
    }
}
