//! Writing the answers to what we cannot take: the 824 Application Advice
//! (a sound set refused for a business reason) and the TA1 (a bad
//! interchange envelope), with the writer of [`crate::write`].

use chrono::{NaiveDate, Timelike};

use crate::SetKind;
use crate::codes::InterchangeNote;
use crate::write::{
    Envelope, Out, REFERENCE_MAX_CHARS, TED02_MAX_CHARS, WriteError, ccyymmdd, date,
};

/// TED01 (element 647): why an application refuses data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCondition {
    /// `007`: missing data.
    MissingData,
    /// `012`: invalid combination.
    InvalidCombination,
    /// `024`: other unlisted reason.
    Other,
    /// `848`: incorrect data.
    IncorrectData,
    /// `IID`: invalid identification code.
    InvalidId,
    /// `POI`: purchase order number invalid.
    PoInvalid,
    /// `IQT`: invalid quantity.
    InvalidQuantity,
}

impl ErrorCondition {
    pub fn code(self) -> &'static str {
        match self {
            ErrorCondition::MissingData => "007",
            ErrorCondition::InvalidCombination => "012",
            ErrorCondition::Other => "024",
            ErrorCondition::IncorrectData => "848",
            ErrorCondition::InvalidId => "IID",
            ErrorCondition::PoInvalid => "POI",
            ErrorCondition::InvalidQuantity => "IQT",
        }
    }
}

/// One reason in an 824 (a `TED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationError {
    pub condition: ErrorCondition,
    /// TED02, cut to 60 characters.
    pub message: String,
    /// TED03/TED04: the segment id and its position in the set.
    pub segment: Option<(String, u32)>,
}

/// One set we refused for a business reason (an `OTI` loop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetRefusal {
    /// OTI03: the PO number (`OTI02 = PO`).
    pub po_number: String,
    /// OTI08, OTI09, OTI10: the refused set's GS06, ST02 and ST01.
    pub group_control_number: String,
    pub set_control_number: String,
    pub set: SetKind,
    pub errors: Vec<ApplicationError>,
}

/// An 824 Application Advice: the sets of one interchange that were
/// syntactically sound (the 997 accepted them) but changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationAdvice {
    /// BGN02: our reference for the advice.
    pub reference: String,
    pub refusals: Vec<SetRefusal>,
}

/// The 824 carrying `advice`, one `OTI` loop per refused set, each with
/// its `TED`s.
pub fn write_824(env: &Envelope, advice: &ApplicationAdvice) -> Result<Vec<u8>, WriteError> {
    if advice.refusals.is_empty() {
        return Err(WriteError::NoRefusals);
    }
    let mut out = Out::begin(env, SetKind::ApplicationAdvice824)?;
    let control = out.st(SetKind::ApplicationAdvice824);
    let day = ccyymmdd(env.at.date())?;
    let reference: String = out
        .clean(&advice.reference)
        .chars()
        .take(REFERENCE_MAX_CHARS)
        .collect();
    if reference.is_empty() {
        return Err(WriteError::Empty { element: "BGN02" });
    }
    out.seg("BGN", &["00", &reference, &day]);
    for r in &advice.refusals {
        let po: String = out
            .clean(&r.po_number)
            .chars()
            .take(REFERENCE_MAX_CHARS)
            .collect();
        // OTI03 is mandatory: a set without a PO number is named by its
        // control number instead.
        let (qualifier, id) = match po.is_empty() {
            false => ("PO", po),
            true => ("TN", out.clean(&r.set_control_number)),
        };
        out.seg(
            "OTI",
            &[
                "TR",
                qualifier,
                &id,
                "",
                "",
                "",
                "",
                &r.group_control_number,
                &r.set_control_number,
                r.set.id(),
            ],
        );
        for e in &r.errors {
            let message: String = out
                .clean(&e.message)
                .chars()
                .take(TED02_MAX_CHARS)
                .collect();
            let (segment, position) = match &e.segment {
                Some((id, at)) => (out.clean(id), at.to_string()),
                None => (String::new(), String::new()),
            };
            out.push(
                "TED",
                vec![e.condition.code().to_owned(), message, segment, position],
            );
        }
    }
    out.se(&control);
    Ok(out.end(env))
}

/// The interchange a TA1 answers (its ISA13, ISA09 and ISA10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ta1 {
    pub control_number: u32,
    pub date: NaiveDate,
    pub time: chrono::NaiveTime,
    pub note: InterchangeNote,
}

/// An interchange holding one TA1 that rejects the interchange `ta1`
/// names (TA104 `R`).
pub fn write_ta1(env: &Envelope, ta1: &Ta1) -> Result<Vec<u8>, WriteError> {
    let mut out = Out::isa(env)?;
    let (y, m, d) = date(ta1.date)?;
    let (hh, mm) = (ta1.time.hour(), ta1.time.minute());
    out.seg(
        "TA1",
        &[
            &format!("{:09}", ta1.control_number),
            &format!("{:02}{m:02}{d:02}", y % 100),
            &format!("{hh:02}{mm:02}"),
            "R",
            ta1.note.code(),
        ],
    );
    out.seg("IEA", &["0", &format!("{:09}", env.control_number)]);
    Ok(out.text.into_bytes())
}
