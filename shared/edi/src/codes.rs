//! The 997 error code lists of 004010: AK304 (720), AK403 (723), AK502
//! (718) and AK905 (716), and the TA1's note codes (TA105, I18). Only the codes we emit are named; a partner's 997
//! may carry others (security codes), kept as `Other`.

use std::fmt;

macro_rules! code_list {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal, $text:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[doc = $text] $variant,)+
            /// A code of the list that we never emit.
            Other(u16),
        }

        impl $name {
            /// The code as written in the 997.
            pub fn code(self) -> u16 {
                match self {
                    $($name::$variant => $code,)+
                    $name::Other(c) => c,
                }
            }

            /// Reads a code: 1 to 3 digits.
            pub fn from_code(code: &str) -> Option<Self> {
                if code.is_empty() || code.len() > 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let n: u16 = code.parse().ok()?;
                Some(match n {
                    $($code => $name::$variant,)+
                    other => $name::Other(other),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant => f.write_str($text),)+
                    $name::Other(c) => write!(f, "code {c}"),
                }
            }
        }
    };
}

code_list! {
    /// AK905-AK909: what is wrong with a functional group's envelope.
    GroupErrorCode {
        NotSupported = 1, "functional group not supported";
        VersionNotSupported = 2, "functional group version not supported";
        TrailerMissing = 3, "functional group trailer missing";
        ControlNumberMismatch = 4, "group control number in the header and trailer do not agree";
        SetCountMismatch = 5, "number of included transaction sets does not match actual count";
        InvalidControlNumber = 6, "group control number violates syntax";
    }
}

code_list! {
    /// AK502-AK506: what is wrong with a transaction set.
    SetErrorCode {
        NotSupported = 1, "transaction set not supported";
        TrailerMissing = 2, "transaction set trailer missing";
        ControlNumberMismatch = 3, "transaction set control number in header and trailer do not match";
        SegmentCountMismatch = 4, "number of included segments does not match actual count";
        SegmentsInError = 5, "one or more segments in error";
        InvalidSetId = 6, "missing or invalid transaction set identifier";
        InvalidControlNumber = 7, "missing or invalid transaction set control number";
        DuplicateControlNumber = 23, "transaction set control number not unique within the functional group";
    }
}

code_list! {
    /// AK304: what is wrong with a segment.
    SegmentErrorCode {
        Unrecognized = 1, "unrecognized segment id";
        Unexpected = 2, "unexpected segment";
        MandatoryMissing = 3, "mandatory segment missing";
        LoopOverMaximum = 4, "loop occurs over maximum times";
        ExceedsMaximumUse = 5, "segment exceeds maximum use";
        NotInSet = 6, "segment not in defined transaction set";
        OutOfSequence = 7, "segment not in proper sequence";
        ElementErrors = 8, "segment has data element errors";
    }
}

code_list! {
    /// AK403: what is wrong with a data element.
    ElementErrorCode {
        MandatoryMissing = 1, "mandatory data element missing";
        ConditionalMissing = 2, "conditional required data element missing";
        TooMany = 3, "too many data elements";
        TooShort = 4, "data element too short";
        TooLong = 5, "data element too long";
        InvalidCharacter = 6, "invalid character in data element";
        InvalidCode = 7, "invalid code value";
        InvalidDate = 8, "invalid date";
        InvalidTime = 9, "invalid time";
        Exclusion = 10, "exclusion condition violated";
    }
}

/// TA105 (element I18): what is wrong with an interchange envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterchangeNote {
    /// `001`: the control numbers in the header and trailer do not match.
    ControlNumberMismatch,
    /// `006`: invalid interchange sender id.
    InvalidSender,
    /// `021`: invalid number of included groups.
    GroupCount,
    /// `022`: invalid control structure.
    ControlStructure,
    /// `023`: improper (premature) end of file.
    PrematureEnd,
    /// `024`: invalid interchange content (e.g. over our limits).
    InvalidContent,
}

impl InterchangeNote {
    pub fn code(self) -> &'static str {
        match self {
            InterchangeNote::ControlNumberMismatch => "001",
            InterchangeNote::InvalidSender => "006",
            InterchangeNote::GroupCount => "021",
            InterchangeNote::ControlStructure => "022",
            InterchangeNote::PrematureEnd => "023",
            InterchangeNote::InvalidContent => "024",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in ["1", "5", "23", "17", "999"] {
            let code = SetErrorCode::from_code(c).unwrap();
            assert_eq!(code.code().to_string(), c);
        }
        assert_eq!(
            SetErrorCode::from_code("23"),
            Some(SetErrorCode::DuplicateControlNumber)
        );
        assert_eq!(SetErrorCode::from_code("17"), Some(SetErrorCode::Other(17)));
        for bad in ["", "A", "1000", "-1", " 1"] {
            assert_eq!(GroupErrorCode::from_code(bad), None, "{bad}");
        }
        assert_eq!(ElementErrorCode::InvalidCode.code(), 7);
        assert_eq!(
            SegmentErrorCode::ElementErrors.to_string(),
            "segment has data element errors"
        );
    }
}
