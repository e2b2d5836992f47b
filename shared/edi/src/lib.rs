//! X12 004010 for the EDI integration: what an EDI partner sends us
//! (860, 855, 865 and their envelopes) and what we send back (997, and
//! 860/865 when the other side of an order cancels). Pure: no I/O, no
//! async, and no clock (dates and control numbers come from the caller).
//!
//! # Layout
//!
//! - [`envelope`]: [`parse_interchange`] splits bytes into the ISA/IEA
//!   interchange, its GS/GE functional groups and their ST/SE transaction
//!   sets. It takes the delimiters from the ISA (fixed-width, or 16
//!   elements padded short), tolerates CR/LF after segment terminators,
//!   refuses absurd sizes and never panics. It
//!   keeps what the trailers say rather than judging it, so that a wrong
//!   count can still be answered in a 997.
//! - [`ack`]: [`validate`] judges a parsed interchange the way a 997 reports
//!   it: the sender must be the expected partner, counts and control
//!   numbers must agree, and each 860/855/865 must be readable. It returns
//!   the acknowledgment and the documents of the accepted sets.
//!   [`read_997`] reads a partner's 997 back into the same types.
//! - [`document`]: [`read_change`] turns one 860, 855 or 865 into a
//!   [`ChangeDocument`]: the PO number, whether the whole order is
//!   cancelled, and per line what to do with its open units.
//! - [`advice`]: [`write_824`] and [`write_ta1`], the answers to what we
//!   cannot take.
//! - [`write`](mod@write): [`write_997`], [`write_860`] and [`write_865`] produce whole
//!   interchanges with `*` elements, `>` components, `^` repetitions and
//!   `~` + newline after each segment. Every data value goes through
//!   [`sanitize`], so text typed by a user cannot break the structure; a
//!   reason's code ([`write_860_coded`], `N9*L1*<code>`) is kept to X12's
//!   basic character set.
//! - [`codes`]: the 997 code lists (AK3, AK4, AK5, AK9).
//!
//! # Why not a crate
//!
//! The maintained X12 crates do not fit: `x12-types` binds 004010 only for
//! transport sets, 810 and 997 (no 860, 855 or 865), and does not check
//! envelope counts or control numbers; the `edi` crate of crates.io parses
//! without writing and panics on misplaced segments. The subset needed here
//! is small: a segment splitter, the envelope rules and five transaction
//! sets.

pub mod ack;
pub mod advice;
pub mod codes;
pub mod document;
pub mod envelope;
mod ids;
pub mod write;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod real;
#[cfg(test)]
mod samples;

pub use ack::{
    GroupAck, GroupStatus, InterchangeAck, InterchangeError, SegmentNote, SetAck, SetStatus,
    Validation, control_number, read_997, validate,
};
pub use advice::{
    ApplicationAdvice, ApplicationError, ErrorCondition, SetRefusal, Ta1, write_824, write_ta1,
};
pub use codes::{
    ElementErrorCode, GroupErrorCode, InterchangeNote, SegmentErrorCode, SetErrorCode,
};
pub use document::{
    ChangeCode, ChangeDocument, DocumentError, LineAction, LineChange, NoEffect, Party, PocReading,
    Problem, ProductId, ProductQualifier, Unusable, read_change,
};
pub use envelope::{
    Delimiters, EnvelopeError, Group, Interchange, IsaHeader, MAX_BYTES, MAX_ELEMENTS,
    MAX_SEGMENTS, MAX_SET_SEGMENTS, MAX_SETS, Segment, TransactionSet, Usage, parse_interchange,
    read_isa,
};
pub use ids::{
    DEFAULT_ISA_ID, DEFAULT_ISA_QUALIFIER, IsaId, IsaIdError, SetKind, file_name, ta1_file_name,
};
pub use write::{
    Envelope, MSG_MAX_CHARS, OutboundChange, OutboundLine, OutboundScope, ReasonLoop, Syntax,
    UNCODED_REASON, WriteError, sanitize, write_860, write_860_coded, write_865, write_865_coded,
    write_997,
};
