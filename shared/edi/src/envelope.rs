//! Splitting an interchange into segments, groups and transaction sets.
//!
//! The ISA defines the delimiters: the element separator is its 4th byte,
//! ISA11 the repetition separator (when it is not a letter: in 004010 it is
//! usually `U`, the standards identifier), ISA16 the component separator and
//! the byte after it the segment terminator. CR and LF after a terminator
//! are skipped. The ISA is read fixed-width (106 bytes with its terminator)
//! or, as many translators accept, as exactly 16 elements whose text fields
//! (ISA02, ISA04, ISA06, ISA08) are padded short.
//!
//! Structure is enforced only as far as it is needed to tell sets apart: a
//! missing SE or GE is recorded (the 997 reports it) and the set or group
//! ends at the next header; anything else out of place is an error.

use chrono::{NaiveDate, NaiveTime};
use thiserror::Error;

use crate::IsaId;

/// The largest interchange accepted, in bytes. Hosts check a file's size
/// against it before reading the file.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// The most segments accepted in one interchange (ISA and IEA included).
pub const MAX_SEGMENTS: usize = 100_000;
/// The most elements in one segment (004010's longest segments here, ACK
/// and POC, have fewer than 30).
pub const MAX_ELEMENTS: usize = 64;
/// The most transaction sets in one interchange.
pub const MAX_SETS: usize = 5_000;
/// The most segments in one transaction set (ST and SE included).
pub const MAX_SET_SEGMENTS: usize = 10_000;

const ISA_LEN: usize = 106;
/// Byte offsets of the element separators inside a fixed-width ISA.
const ISA_SEPARATORS: [usize; 16] = [
    3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103,
];
/// The width of ISA01 to ISA15 (ISA16 is one byte). In an ISA that is not
/// fixed-width, the text fields (ISA02, ISA04, ISA06, ISA08) may be shorter;
/// the ids, codes, dates and numbers keep their width.
const ISA_WIDTHS: [usize; 15] = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1];
const ISA_PADDED: [usize; 4] = [2, 4, 6, 8];

/// The delimiters of an interchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub element: u8,
    /// `None` when ISA11 is a code (`U`) rather than a separator.
    pub repetition: Option<u8>,
    pub component: u8,
    pub segment: u8,
}

impl Delimiters {
    /// What we write: `*`, `^`, `>`, `~`.
    pub const OUTBOUND: Delimiters = Delimiters {
        element: b'*',
        repetition: Some(b'^'),
        component: b'>',
        segment: b'~',
    };

    pub fn check(&self) -> Result<(), EnvelopeError> {
        let mut all = vec![self.element, self.component, self.segment];
        all.extend(self.repetition);
        let usable = |b: u8| b.is_ascii() && !b.is_ascii_alphanumeric() && b != b' ';
        let not_line_end = |b: u8| b != b'\r' && b != b'\n';
        let mut distinct = all.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let ok = all.iter().all(|&b| usable(b))
            && distinct.len() == all.len()
            && [self.element, self.component]
                .into_iter()
                .chain(self.repetition)
                .all(not_line_end);
        if ok {
            Ok(())
        } else {
            Err(EnvelopeError::Delimiters(*self))
        }
    }
}

/// ISA15.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Production,
    Test,
}

impl Usage {
    pub fn code(self) -> char {
        match self {
            Usage::Production => 'P',
            Usage::Test => 'T',
        }
    }
}

/// The interchange control header (ISA), checked for form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsaHeader {
    /// ISA05/ISA06.
    pub sender: IsaId,
    /// ISA07/ISA08.
    pub receiver: IsaId,
    /// ISA09 (YYMMDD, read as 20YY).
    pub date: NaiveDate,
    /// ISA10.
    pub time: NaiveTime,
    /// ISA12, e.g. `00401`.
    pub version: String,
    /// ISA13.
    pub control_number: u32,
    /// ISA14 = `1`.
    pub ack_requested: bool,
    /// ISA15.
    pub usage: Usage,
}

/// One segment: its id and elements. The elements stay in one string as
/// received and are split when read, so a segment costs its bytes and a
/// few words however many (empty) elements it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: String,
    /// The elements after the id, separated by `separator`.
    data: String,
    separator: char,
    /// More than [`MAX_ELEMENTS`] elements were sent; the rest were not kept.
    pub overflow: bool,
    /// 1-based index in the interchange (ISA = 1), for error messages.
    pub index: u32,
    /// 1-based position in its transaction set (ST = 1), as a 997 counts
    /// it; 0 for envelope segments.
    pub position: u32,
}

impl Segment {
    /// A segment of these elements (`*` separated), for building one by hand.
    pub fn new(id: &str, elements: &[&str], position: u32) -> Self {
        Self {
            id: id.to_owned(),
            data: elements.join("*"),
            separator: '*',
            overflow: false,
            index: 0,
            position,
        }
    }

    /// Element `n` (1-based), trimmed; empty when absent.
    pub fn element(&self, n: usize) -> &str {
        n.checked_sub(1)
            .and_then(|i| self.data.split(self.separator).nth(i))
            .map_or("", str::trim)
    }

    /// How many elements the segment has (trailing empty ones included).
    pub fn element_count(&self) -> usize {
        if self.data.is_empty() {
            0
        } else {
            self.data.matches(self.separator).count() + 1
        }
    }
}

/// A transaction set: its segments from ST to SE (when SE is there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSet {
    pub segments: Vec<Segment>,
    /// Those of the interchange, for composite elements.
    pub delimiters: Delimiters,
}

impl TransactionSet {
    fn st(&self) -> Option<&Segment> {
        self.segments.first()
    }

    /// ST01.
    pub fn id(&self) -> &str {
        self.st().map_or("", |s| s.element(1))
    }

    /// ST02.
    pub fn control_number(&self) -> &str {
        self.st().map_or("", |s| s.element(2))
    }

    /// The SE segment, when the set has one.
    pub fn trailer(&self) -> Option<&Segment> {
        self.segments
            .last()
            .filter(|s| s.id == "SE" && self.segments.len() > 1)
    }

    /// The segments between ST and SE.
    pub fn body(&self) -> &[Segment] {
        let end = self.segments.len() - usize::from(self.trailer().is_some());
        self.segments.get(1..end).unwrap_or(&[])
    }
}

/// A functional group: GS, its sets, and GE when it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub header: Segment,
    pub sets: Vec<TransactionSet>,
    pub trailer: Option<Segment>,
}

impl Group {
    /// GS01.
    pub fn functional_id(&self) -> &str {
        self.header.element(1)
    }

    /// GS02.
    pub fn sender_code(&self) -> &str {
        self.header.element(2)
    }

    /// GS03.
    pub fn receiver_code(&self) -> &str {
        self.header.element(3)
    }

    /// GS06.
    pub fn control_number(&self) -> &str {
        self.header.element(6)
    }

    /// GS08, e.g. `004010`.
    pub fn version(&self) -> &str {
        self.header.element(8)
    }
}

/// A parsed interchange. Counts and control numbers in the trailers are kept
/// as sent; [`crate::validate`] compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interchange {
    pub delimiters: Delimiters,
    pub header: IsaHeader,
    /// TA1 segments (interchange acknowledgments) before the first group.
    pub ta1s: Vec<Segment>,
    pub groups: Vec<Group>,
    /// The IEA segment.
    pub trailer: Segment,
}

/// Why bytes are not an interchange we can read at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    #[error("the interchange has {bytes} bytes; at most {limit} are accepted")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the interchange has more than {limit} segments")]
    TooManySegments { limit: usize },
    #[error("the interchange has more than {limit} transaction sets")]
    TooManySets { limit: usize },
    #[error("not an X12 interchange: it does not start with ISA")]
    NotX12,
    #[error("the ISA segment is not fixed-width: byte {offset} should be the element separator")]
    IsaLayout { offset: usize },
    #[error("ISA{element:02}: {problem}")]
    Isa { element: u8, problem: IsaProblem },
    #[error("the delimiters are not distinct non-alphanumeric ASCII characters: {0:?}")]
    Delimiters(Delimiters),
    #[error("segment {index} (byte {offset}) has no segment terminator")]
    Unterminated { index: u32, offset: usize },
    #[error("segment {index} (byte {offset}) has no valid segment id")]
    InvalidSegmentId { index: u32, offset: usize },
    #[error("segment {index} ({id}, byte {offset}) is not where the envelope allows it")]
    Misplaced {
        index: u32,
        offset: usize,
        id: String,
    },
    #[error("the interchange ends without IEA")]
    MissingIea,
    #[error("data after IEA at byte {offset}")]
    TrailingData { offset: usize },
}

impl EnvelopeError {
    /// The TA1 note for an interchange refused for this reason, when its
    /// ISA could be read (a TA1 answers an ISA).
    pub fn ta1_note(&self) -> Option<crate::codes::InterchangeNote> {
        use crate::codes::InterchangeNote as N;
        match self {
            EnvelopeError::TooLarge { .. }
            | EnvelopeError::TooManySegments { .. }
            | EnvelopeError::TooManySets { .. } => Some(N::InvalidContent),
            EnvelopeError::Unterminated { .. } | EnvelopeError::MissingIea => Some(N::PrematureEnd),
            EnvelopeError::InvalidSegmentId { .. }
            | EnvelopeError::Misplaced { .. }
            | EnvelopeError::TrailingData { .. } => Some(N::ControlStructure),
            EnvelopeError::NotX12
            | EnvelopeError::IsaLayout { .. }
            | EnvelopeError::Isa { .. }
            | EnvelopeError::Delimiters(_) => None,
        }
    }
}

/// What is wrong with an ISA element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IsaProblem {
    #[error("blank")]
    Blank,
    #[error("not digits")]
    NotDigits,
    #[error("not a valid date")]
    Date,
    #[error("not a valid time")]
    Time,
    #[error("not a valid code")]
    Code,
}

/// Where the ISA's element separators are: ISA16 is the byte after the
/// last, the segment terminator the one after it.
#[derive(Clone, Copy)]
struct IsaShape {
    separators: [usize; 16],
}

impl IsaShape {
    const FIXED: IsaShape = IsaShape {
        separators: ISA_SEPARATORS,
    };

    // The offsets are at most 105: both readings bound each element.
    fn component(&self) -> usize {
        self.separators[15].saturating_add(1)
    }

    fn terminator(&self) -> usize {
        self.separators[15].saturating_add(2)
    }

    /// The ISA's length, its terminator included.
    fn len(&self) -> usize {
        self.separators[15].saturating_add(3)
    }

    /// The fixed-width reading: every separator where 004010 puts it.
    fn fixed(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let Some(isa) = bytes.get(..ISA_LEN) else {
            return Err(EnvelopeError::IsaLayout {
                offset: bytes.len(),
            });
        };
        let element = isa[3];
        for (offset, &b) in isa.iter().enumerate().take(ISA_LEN - 2) {
            if (b == element) != ISA_SEPARATORS.contains(&offset) {
                return Err(EnvelopeError::IsaLayout { offset });
            }
        }
        Ok(Self::FIXED)
    }

    /// The element reading: exactly 16 elements, each no wider than its
    /// fixed width (only the text fields narrower), a one-byte ISA16 and a
    /// terminator that is not the element separator. At most 106 bytes
    /// are looked at.
    fn elements(bytes: &[u8]) -> Option<Self> {
        let element = *bytes.get(3)?;
        let mut separators = [3usize; 16];
        let mut start = 4;
        for (i, width) in ISA_WIDTHS.iter().enumerate() {
            let rest = bytes.get(start..)?;
            let len = rest.iter().take(width + 1).position(|&b| b == element)?;
            let padded = ISA_PADDED.contains(&(i + 1));
            if len != *width && !padded {
                return None;
            }
            let at = start.checked_add(len)?;
            *separators.get_mut(i + 1)? = at;
            start = at.checked_add(1)?;
        }
        let layout = Self { separators };
        let component = *bytes.get(layout.component())?;
        let terminator = *bytes.get(layout.terminator())?;
        (component != element && terminator != element).then_some(layout)
    }
}

fn isa_field(isa: &[u8], layout: IsaShape, element: u8) -> &[u8] {
    let i = usize::from(element);
    let start = i
        .checked_sub(1)
        .and_then(|i| layout.separators.get(i))
        .map_or(0, |s| s + 1);
    let end = layout
        .separators
        .get(i)
        .copied()
        .unwrap_or(layout.terminator());
    isa.get(start..end).unwrap_or_default()
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    bytes.iter().try_fold(0u32, |n, &b| {
        n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

fn isa_digits(isa: &[u8], layout: IsaShape, element: u8) -> Result<u32, EnvelopeError> {
    digits(isa_field(isa, layout, element)).ok_or(EnvelopeError::Isa {
        element,
        problem: IsaProblem::NotDigits,
    })
}

fn isa_text(isa: &[u8], layout: IsaShape, element: u8) -> Result<String, EnvelopeError> {
    let text = String::from_utf8_lossy(isa_field(isa, layout, element))
        .trim()
        .to_owned();
    if text.is_empty() {
        return Err(EnvelopeError::Isa {
            element,
            problem: IsaProblem::Blank,
        });
    }
    Ok(text)
}

/// Reads the ISA at the start of `bytes`: its header, its delimiters and
/// its length.
fn parse_isa(bytes: &[u8]) -> Result<(IsaHeader, Delimiters, usize), EnvelopeError> {
    if !bytes.starts_with(b"ISA") {
        return Err(EnvelopeError::NotX12);
    }
    // An ISA neither reading takes is refused as the fixed-width one is.
    let layout = match IsaShape::fixed(bytes) {
        Ok(layout) => layout,
        Err(e) => IsaShape::elements(bytes).ok_or(e)?,
    };
    let Some(isa) = bytes.get(..layout.len()) else {
        return Err(EnvelopeError::IsaLayout {
            offset: bytes.len(),
        });
    };
    let byte = |at: usize| isa.get(at).copied().unwrap_or_default();
    let repetition = byte(layout.separators[10] + 1);
    let delimiters = Delimiters {
        element: byte(3),
        repetition: (!repetition.is_ascii_alphanumeric()).then_some(repetition),
        component: byte(layout.component()),
        segment: byte(layout.terminator()),
    };
    delimiters.check()?;

    let ymd = isa_digits(isa, layout, 9)?;
    let year = i32::try_from(ymd / 10_000)
        .ok()
        .and_then(|y| y.checked_add(2000));
    let date = year
        .and_then(|y| NaiveDate::from_ymd_opt(y, ymd / 100 % 100, ymd % 100))
        .ok_or(EnvelopeError::Isa {
            element: 9,
            problem: IsaProblem::Date,
        })?;
    let hhmm = isa_digits(isa, layout, 10)?;
    let time = NaiveTime::from_hms_opt(hhmm / 100, hhmm % 100, 0).ok_or(EnvelopeError::Isa {
        element: 10,
        problem: IsaProblem::Time,
    })?;
    let code = |element: u8| EnvelopeError::Isa {
        element,
        problem: IsaProblem::Code,
    };
    let ack_requested = match isa_field(isa, layout, 14) {
        b"0" => false,
        b"1" => true,
        _ => return Err(code(14)),
    };
    let usage = match isa_field(isa, layout, 15) {
        b"P" => Usage::Production,
        b"T" => Usage::Test,
        _ => return Err(code(15)),
    };
    let header = IsaHeader {
        sender: IsaId::received(&isa_text(isa, layout, 5)?, &isa_text(isa, layout, 6)?),
        receiver: IsaId::received(&isa_text(isa, layout, 7)?, &isa_text(isa, layout, 8)?),
        date,
        time,
        version: isa_text(isa, layout, 12)?,
        control_number: isa_digits(isa, layout, 13)?,
        ack_requested,
        usage,
    };
    Ok((header, delimiters, layout.len()))
}

/// One raw segment and where it starts.
struct Raw {
    segment: Segment,
    offset: usize,
}

/// Splits what follows the ISA into segments.
struct Splitter<'a> {
    bytes: &'a [u8],
    pos: usize,
    index: u32,
    delimiters: Delimiters,
}

impl Splitter<'_> {
    /// Line breaks and indentation between segments, as many partners'
    /// files have them.
    fn skip_line_ends(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|&b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        {
            self.pos += 1;
        }
    }

    fn next(&mut self) -> Result<Option<Raw>, EnvelopeError> {
        self.skip_line_ends();
        let offset = self.pos;
        if offset >= self.bytes.len() {
            return Ok(None);
        }
        self.index = self.index.saturating_add(1);
        let index = self.index;
        if usize::try_from(index).map_or(true, |i| i > MAX_SEGMENTS) {
            return Err(EnvelopeError::TooManySegments {
                limit: MAX_SEGMENTS,
            });
        }
        let rest = &self.bytes[offset..];
        // A line break as terminator may be missing after the last segment.
        let line_terminated = matches!(self.delimiters.segment, b'\n' | b'\r');
        let len = match rest.iter().position(|&b| b == self.delimiters.segment) {
            Some(len) => len,
            None if line_terminated => rest.len(),
            None => return Err(EnvelopeError::Unterminated { index, offset }),
        };
        self.pos = offset + len + 1;
        let raw = &rest[..len];
        let id_len = raw
            .iter()
            .position(|&b| b == self.delimiters.element)
            .unwrap_or(raw.len());
        let id = &raw[..id_len];
        let valid_id = (2..=3).contains(&id.len())
            && id[0].is_ascii_uppercase()
            && id
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !valid_id {
            return Err(EnvelopeError::InvalidSegmentId { index, offset });
        }
        let mut data = raw.get(id_len + 1..).unwrap_or_default();
        // Only the first MAX_ELEMENTS are kept; the set is refused for the
        // rest (AK4 code 3) without them costing memory.
        let cut = data
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == self.delimiters.element)
            .nth(MAX_ELEMENTS - 1)
            .map(|(i, _)| i);
        if let Some(cut) = cut {
            data = &data[..cut];
        }
        let segment = Segment {
            id: String::from_utf8_lossy(id).into_owned(),
            data: String::from_utf8_lossy(data).into_owned(),
            separator: char::from(self.delimiters.element),
            overflow: cut.is_some(),
            index,
            position: 0,
        };
        Ok(Some(Raw { segment, offset }))
    }
}

/// Reads only the ISA at the start of `bytes` (106 bytes are enough):
/// who sent an interchange too large to read, and whether it asked for a
/// TA1.
pub fn read_isa(bytes: &[u8]) -> Result<IsaHeader, EnvelopeError> {
    parse_isa(start(bytes)).map(|(header, _, _)| header)
}

/// The interchange without a UTF-8 byte order mark or blank lines before
/// it (editors on Windows add them).
fn start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let blank = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[blank..]
}

/// Parses one interchange. Never panics; the work is linear in the input,
/// which is refused beyond [`MAX_BYTES`] or [`MAX_SEGMENTS`].
pub fn parse_interchange(bytes: &[u8]) -> Result<Interchange, EnvelopeError> {
    if bytes.len() > MAX_BYTES {
        return Err(EnvelopeError::TooLarge {
            bytes: bytes.len(),
            limit: MAX_BYTES,
        });
    }
    let bytes = start(bytes);
    let (header, delimiters, isa_len) = parse_isa(bytes)?;
    let mut split = Splitter {
        bytes,
        pos: isa_len,
        index: 1,
        delimiters,
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut group: Option<Group> = None;
    let mut set: Option<TransactionSet> = None;
    let mut sets = 0usize;
    let mut ta1s = Vec::new();

    // Closes the open set (and group) when a header or trailer arrives
    // without their own trailer.
    fn close_set(set: &mut Option<TransactionSet>, group: &mut Option<Group>) {
        if let (Some(s), Some(g)) = (set.take(), group.as_mut()) {
            g.sets.push(s);
        }
    }

    loop {
        let Some(Raw {
            mut segment,
            offset,
        }) = split.next()?
        else {
            return Err(EnvelopeError::MissingIea);
        };
        let misplaced = |segment: Segment| EnvelopeError::Misplaced {
            index: segment.index,
            offset,
            id: segment.id,
        };
        match segment.id.as_str() {
            "ISA" => return Err(misplaced(segment)),
            "TA1" if group.is_none() && groups.is_empty() => ta1s.push(segment),
            "GS" => {
                close_set(&mut set, &mut group);
                groups.extend(group.take());
                group = Some(Group {
                    header: segment,
                    sets: Vec::new(),
                    trailer: None,
                });
            }
            "ST" => {
                if group.is_none() {
                    return Err(misplaced(segment));
                }
                close_set(&mut set, &mut group);
                sets += 1;
                if sets > MAX_SETS {
                    return Err(EnvelopeError::TooManySets { limit: MAX_SETS });
                }
                segment.position = 1;
                set = Some(TransactionSet {
                    segments: vec![segment],
                    delimiters,
                });
            }
            "GE" => {
                close_set(&mut set, &mut group);
                let Some(mut g) = group.take() else {
                    return Err(misplaced(segment));
                };
                g.trailer = Some(segment);
                groups.push(g);
            }
            "IEA" => {
                close_set(&mut set, &mut group);
                groups.extend(group.take());
                let rest = bytes.get(split.pos..).unwrap_or_default();
                if let Some(extra) = rest.iter().position(|b| !b.is_ascii_whitespace()) {
                    return Err(EnvelopeError::TrailingData {
                        offset: split.pos + extra,
                    });
                }
                return Ok(Interchange {
                    delimiters,
                    header,
                    ta1s,
                    groups,
                    trailer: segment,
                });
            }
            _ => {
                let Some(s) = set.as_mut() else {
                    return Err(misplaced(segment));
                };
                segment.position = u32::try_from(s.segments.len() + 1).unwrap_or(u32::MAX);
                let is_trailer = segment.id == "SE";
                s.segments.push(segment);
                if is_trailer {
                    close_set(&mut set, &mut group);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn isa(sender: &str, control: u32, rep: char) -> String {
        format!(
            "ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*{:<15}*260310*0930*{rep}*00401*{control:09}*0*P*>~",
            "DROPSHIP"
        )
    }

    fn body() -> String {
        "GS*PC*ACMEEDI*DROPSHIP*20260310*0930*7*X*004010~ST*860*0001~BCH*01*SA*PO-1**20260301~SE*3*0001~GE*1*7~IEA*1*000000007~".to_owned()
    }

    #[test]
    fn the_isa_is_106_bytes() {
        assert_eq!(isa("ACMEEDI", 7, 'U').len(), ISA_LEN);
    }

    #[test]
    fn parses_delimiters_and_header() {
        let text = format!("{}{}", isa("ACMEEDI", 7, 'U'), body());
        let ic = parse_interchange(text.as_bytes()).unwrap();
        assert_eq!(
            ic.delimiters,
            Delimiters {
                element: b'*',
                repetition: None,
                component: b'>',
                segment: b'~'
            }
        );
        assert_eq!(ic.header.sender, IsaId::new("ZZ", "ACMEEDI").unwrap());
        assert_eq!(ic.header.receiver, IsaId::dropship());
        assert_eq!(ic.header.control_number, 7);
        assert_eq!(
            ic.header.date,
            NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()
        );
        assert_eq!(ic.header.time, NaiveTime::from_hms_opt(9, 30, 0).unwrap());
        assert_eq!(ic.header.version, "00401");
        assert_eq!(ic.header.usage, Usage::Production);
        assert!(!ic.header.ack_requested);
        assert_eq!(ic.groups.len(), 1);
        let g = &ic.groups[0];
        assert_eq!(
            (g.functional_id(), g.control_number(), g.version()),
            ("PC", "7", "004010")
        );
        assert_eq!(
            (g.sender_code(), g.receiver_code()),
            ("ACMEEDI", "DROPSHIP")
        );
        let s = &g.sets[0];
        assert_eq!((s.id(), s.control_number()), ("860", "0001"));
        let positions: Vec<_> = s
            .segments
            .iter()
            .map(|x| (x.id.as_str(), x.position))
            .collect();
        assert_eq!(positions, [("ST", 1), ("BCH", 2), ("SE", 3)]);
        assert_eq!(s.body().len(), 1);
        assert_eq!(s.segments[1].index, 4);
        assert_eq!(ic.trailer.element(2), "000000007");
    }

    #[test]
    fn other_delimiters_and_line_ends() {
        let text = format!("{}{}", isa("ACMEEDI", 7, '^'), body())
            .replace('*', "|")
            .replace('>', ":")
            .replace('~', "\n");
        let ic = parse_interchange(text.as_bytes()).unwrap();
        assert_eq!(ic.delimiters.element, b'|');
        assert_eq!(ic.delimiters.repetition, Some(b'^'));
        assert_eq!(ic.delimiters.segment, b'\n');
        assert_eq!(ic.groups[0].sets[0].segments[1].element(3), "PO-1");

        let crlf = format!("{}{}", isa("ACMEEDI", 7, '^'), body()).replace('~', "~\r\n");
        let ic = parse_interchange(crlf.as_bytes()).unwrap();
        assert_eq!(ic.groups[0].sets[0].segments.len(), 3);
    }

    #[test]
    fn missing_trailers_are_kept_for_the_997() {
        let text = format!(
            "{}GS*PC*A*B*20260310*0930*7*X*004010~ST*860*0001~BCH*01~ST*860*0002~BCH*01~SE*3*0002~IEA*1*000000007~",
            isa("ACMEEDI", 7, 'U')
        );
        let ic = parse_interchange(text.as_bytes()).unwrap();
        let g = &ic.groups[0];
        assert!(g.trailer.is_none());
        assert_eq!(g.sets.len(), 2);
        assert!(g.sets[0].trailer().is_none());
        assert_eq!(g.sets[0].body().len(), 1);
        assert!(g.sets[1].trailer().is_some());
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let ok = format!("{}{}", isa("ACMEEDI", 7, 'U'), body());
        let cases: Vec<(String, EnvelopeError)> = vec![
            ("".into(), EnvelopeError::NotX12),
            ("GS*PC~".into(), EnvelopeError::NotX12),
            (ok[..50].into(), EnvelopeError::IsaLayout { offset: 50 }),
            (
                ok.replacen("*00*", "*000*", 1),
                EnvelopeError::IsaLayout { offset: 6 },
            ),
            (
                ok.replacen("260310", "26031X", 1),
                EnvelopeError::Isa {
                    element: 9,
                    problem: IsaProblem::NotDigits,
                },
            ),
            (
                ok.replacen("260310", "261310", 1),
                EnvelopeError::Isa {
                    element: 9,
                    problem: IsaProblem::Date,
                },
            ),
            (
                ok.replacen("*0930*", "*2460*", 1),
                EnvelopeError::Isa {
                    element: 10,
                    problem: IsaProblem::Time,
                },
            ),
            (
                ok.replacen("*0*P*", "*0*X*", 1),
                EnvelopeError::Isa {
                    element: 15,
                    problem: IsaProblem::Code,
                },
            ),
            (
                ok.replacen("ACMEEDI        ", "               ", 1),
                EnvelopeError::Isa {
                    element: 6,
                    problem: IsaProblem::Blank,
                },
            ),
            (
                ok.replacen("*P*>~", "*P*~~", 1),
                EnvelopeError::Delimiters(Delimiters {
                    element: b'*',
                    repetition: None,
                    component: b'~',
                    segment: b'~',
                }),
            ),
            (
                ok.replace("IEA*1*000000007~", ""),
                EnvelopeError::MissingIea,
            ),
            (
                ok.replace("IEA*1*000000007~", "IEA*1*000000007"),
                EnvelopeError::Unterminated {
                    index: 7,
                    offset: 208,
                },
            ),
            (
                format!("{ok}\r\nX"),
                EnvelopeError::TrailingData {
                    offset: ok.len() + 2,
                },
            ),
            (
                ok.replace("BCH", "bch"),
                EnvelopeError::InvalidSegmentId {
                    index: 4,
                    offset: 166,
                },
            ),
            (
                ok.replace("BCH*01", "~BCH*01"),
                EnvelopeError::InvalidSegmentId {
                    index: 4,
                    offset: 166,
                },
            ),
            (
                ok.replace("SE*3*0001~", "SE*3*0001~N1*ST~"),
                EnvelopeError::Misplaced {
                    index: 6,
                    offset: 201,
                    id: "N1".into(),
                },
            ),
            (
                ok.replacen("GS*", "ST*860*1~GS*", 1),
                EnvelopeError::Misplaced {
                    index: 2,
                    offset: 106,
                    id: "ST".into(),
                },
            ),
            (
                format!("{ok}{ok}"),
                EnvelopeError::TrailingData { offset: ok.len() },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_interchange(text.as_bytes()), Err(want), "{text}");
        }
    }

    /// An ISA whose text fields are not padded to their width.
    fn short_isa(sender: &str) -> String {
        format!("ISA*00* *00**ZZ*{sender}*ZZ*DROPSHIP   *260310*0930*U*00401*000000007*1*P*>~")
    }

    #[test]
    fn an_isa_of_16_elements_is_read_whatever_its_padding() {
        let text = format!("{}\r\n{}", short_isa("ACMEEDI"), body());
        let ic = parse_interchange(text.as_bytes()).unwrap();
        let fixed =
            parse_interchange(format!("{}{}", isa("ACMEEDI", 7, 'U'), body()).as_bytes()).unwrap();
        assert_eq!(ic.delimiters, fixed.delimiters);
        assert_eq!(ic.header.sender, IsaId::new("ZZ", "ACMEEDI").unwrap());
        assert_eq!(ic.header.receiver, IsaId::dropship());
        assert!(ic.header.ack_requested);
        assert_eq!(ic.header.control_number, 7);
        assert_eq!(ic.groups, fixed.groups);
        assert_eq!(read_isa(text.as_bytes()).unwrap(), ic.header);

        // Other delimiters, a line feed as terminator, no padding at all.
        let lf = format!("{}{}", short_isa("A"), body())
            .replace('*', "|")
            .replace('>', "`")
            .replace('~', "\n");
        let ic = parse_interchange(lf.as_bytes()).unwrap();
        assert_eq!(
            (ic.delimiters.component, ic.delimiters.segment),
            (b'`', b'\n')
        );
        assert_eq!(ic.header.sender.id(), "A");
        assert_eq!(ic.groups[0].sets[0].segments[1].element(3), "PO-1");
    }

    #[test]
    fn an_isa_of_another_shape_is_still_refused() {
        let ok = format!("{}{}", short_isa("ACMEEDI"), body());
        // Each is refused as the fixed-width reading sees it.
        let cases: Vec<(String, EnvelopeError)> = vec![
            // Short: it ends before ISA16.
            (ok[..60].into(), EnvelopeError::IsaLayout { offset: 60 }),
            // 15 elements, 17 elements, an empty ISA16.
            (
                ok.replacen("*P*>~", "*P~", 1),
                EnvelopeError::IsaLayout { offset: 8 },
            ),
            (
                ok.replacen("*P*>~", "*P*>*X~", 1),
                EnvelopeError::IsaLayout { offset: 8 },
            ),
            (
                ok.replacen("*P*>~", "*P**~", 1),
                EnvelopeError::IsaLayout { offset: 8 },
            ),
            // Only the text fields may be narrower, and none wider.
            (
                ok.replacen("*000000007*", "*7*", 1),
                EnvelopeError::IsaLayout { offset: 8 },
            ),
            (
                ok.replacen("*ZZ*ACMEEDI*", "*Z*ACMEEDI*", 1),
                EnvelopeError::IsaLayout { offset: 8 },
            ),
            (
                ok.replacen("ACMEEDI", "ACMEEDI-SIXTEEN!", 1),
                EnvelopeError::IsaLayout { offset: 8 },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_interchange(text.as_bytes()),
                Err(want.clone()),
                "{text}"
            );
            assert_eq!(read_isa(text.as_bytes()), Err(want), "{text}");
        }
        // Read, its elements are judged as a fixed-width ISA's.
        assert_eq!(
            parse_interchange(ok.replacen("*ZZ*ACMEEDI*", "*ZZ* *", 1).as_bytes()),
            Err(EnvelopeError::Isa {
                element: 6,
                problem: IsaProblem::Blank
            })
        );
        assert!(matches!(
            parse_interchange(ok.replacen("*P*>~", "*P*~~", 1).as_bytes()),
            Err(EnvelopeError::Delimiters(_))
        ));
        assert_eq!(
            parse_interchange(ok.replacen("*0930*", "*2460*", 1).as_bytes()),
            Err(EnvelopeError::Isa {
                element: 10,
                problem: IsaProblem::Time
            })
        );
    }

    #[test]
    fn bounded() {
        let big = vec![b'A'; MAX_BYTES + 1];
        assert!(matches!(
            parse_interchange(&big),
            Err(EnvelopeError::TooLarge { .. })
        ));
        let mut many = format!(
            "{}GS*PC*A*B*20260310*0930*7*X*004010~ST*860*0001~",
            isa("A", 1, 'U')
        );
        many.push_str(&"N9*L1~".repeat(MAX_SEGMENTS));
        assert_eq!(
            parse_interchange(many.as_bytes()),
            Err(EnvelopeError::TooManySegments {
                limit: MAX_SEGMENTS
            })
        );
    }
}
