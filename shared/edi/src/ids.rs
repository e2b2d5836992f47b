//! Who an interchange is between (the ISA ids), which transaction sets we
//! read and write, and the names of the files they are kept in.

use std::fmt;

use thiserror::Error;

/// The delimiters we write by default, which no data value (an ISA id
/// included) may contain.
pub(crate) const DELIMITER_BYTES: [u8; 4] = [b'*', b'^', b'>', b'~'];

/// The service's own ISA id unless configured otherwise.
pub const DEFAULT_ISA_ID: &str = "DROPSHIP";
/// The qualifier of [`DEFAULT_ISA_ID`] (`ZZ`: mutually defined).
pub const DEFAULT_ISA_QUALIFIER: &str = "ZZ";

/// Who sends or receives an interchange: the ISA qualifier and id (ISA05/06
/// or ISA07/08), without the padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IsaId {
    qualifier: String,
    id: String,
}

/// Why an ISA id cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IsaIdError {
    #[error("an ISA id qualifier is 2 letters or digits, not {0:?}")]
    Qualifier(String),
    #[error(
        "an ISA id is 1 to 15 printable ASCII characters without `*`, `>`, `^` or `~`, not {0:?}"
    )]
    Id(String),
}

impl IsaId {
    /// An id we can write into an ISA (checked, as it is configuration and a
    /// wrong one should fail loudly rather than be sanitized).
    pub fn new(qualifier: &str, id: &str) -> Result<Self, IsaIdError> {
        let qualifier = qualifier.trim();
        let id = id.trim();
        if qualifier.len() != 2 || !qualifier.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IsaIdError::Qualifier(qualifier.to_owned()));
        }
        let printable = id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !DELIMITER_BYTES.contains(&b));
        if id.is_empty() || id.len() > 15 || !printable {
            return Err(IsaIdError::Id(id.to_owned()));
        }
        Ok(Self {
            qualifier: qualifier.to_owned(),
            id: id.to_owned(),
        })
    }

    /// `ZZ` / `DROPSHIP`.
    pub fn dropship() -> Self {
        Self {
            qualifier: DEFAULT_ISA_QUALIFIER.to_owned(),
            id: DEFAULT_ISA_ID.to_owned(),
        }
    }

    /// As received: trimmed, not checked (it is only compared).
    pub(crate) fn received(qualifier: &str, id: &str) -> Self {
        Self {
            qualifier: qualifier.trim().to_owned(),
            id: id.trim().to_owned(),
        }
    }

    pub fn qualifier(&self) -> &str {
        &self.qualifier
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for IsaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.qualifier, self.id)
    }
}

/// The transaction sets this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetKind {
    /// 860, Purchase Order Change Request - Buyer Initiated (group `PC`).
    PoChange860,
    /// 855, Purchase Order Acknowledgment (group `PR`).
    PoAck855,
    /// 865, Purchase Order Change Acknowledgment/Request - Seller Initiated
    /// (group `CA`).
    SellerChange865,
    /// 997, Functional Acknowledgment (group `FA`).
    FunctionalAck997,
    /// 824, Application Advice (group `AG`): written, not read.
    ApplicationAdvice824,
}

impl SetKind {
    pub const ALL: [SetKind; 5] = [
        SetKind::PoChange860,
        SetKind::PoAck855,
        SetKind::SellerChange865,
        SetKind::FunctionalAck997,
        SetKind::ApplicationAdvice824,
    ];

    /// The transaction set identifier (ST01).
    pub fn id(self) -> &'static str {
        match self {
            SetKind::PoChange860 => "860",
            SetKind::PoAck855 => "855",
            SetKind::SellerChange865 => "865",
            SetKind::FunctionalAck997 => "997",
            SetKind::ApplicationAdvice824 => "824",
        }
    }

    /// The functional identifier code of its group (GS01).
    pub fn functional_id(self) -> &'static str {
        match self {
            SetKind::PoChange860 => "PC",
            SetKind::PoAck855 => "PR",
            SetKind::SellerChange865 => "CA",
            SetKind::FunctionalAck997 => "FA",
            SetKind::ApplicationAdvice824 => "AG",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }

    pub fn from_functional_id(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.functional_id() == code)
    }
}

impl fmt::Display for SetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The file name of an outbound interchange: `<ISA13>-<set>.x12`, the
/// control number zero-padded to 9 digits (e.g. `000000007-997.x12`).
pub fn file_name(control_number: u32, set: SetKind) -> String {
    format!("{control_number:09}-{}.x12", set.id())
}

/// The file name of an outbound TA1: `<ISA13>-TA1.x12`.
pub fn ta1_file_name(control_number: u32) -> String {
    format!("{control_number:09}-TA1.x12")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_pad_the_control_number() {
        assert_eq!(file_name(7, SetKind::FunctionalAck997), "000000007-997.x12");
        assert_eq!(
            file_name(999_999_999, SetKind::PoChange860),
            "999999999-860.x12"
        );
        assert_eq!(file_name(12, SetKind::SellerChange865), "000000012-865.x12");
    }

    #[test]
    fn isa_ids_are_checked_for_writing() {
        let id = IsaId::new(" ZZ ", " ACMEEDI ").unwrap();
        assert_eq!((id.qualifier(), id.id()), ("ZZ", "ACMEEDI"));
        assert_eq!(IsaId::dropship(), IsaId::new("ZZ", "DROPSHIP").unwrap());
        assert!(matches!(
            IsaId::new("Z", "A"),
            Err(IsaIdError::Qualifier(_))
        ));
        assert!(matches!(
            IsaId::new("Z*", "A"),
            Err(IsaIdError::Qualifier(_))
        ));
        for bad in ["", "A*B", "A~", "A B", "SIXTEENCHARSLONG", "É"] {
            assert!(
                matches!(IsaId::new("ZZ", bad), Err(IsaIdError::Id(_))),
                "{bad}"
            );
        }
        assert_eq!(IsaId::dropship().to_string(), "ZZ/DROPSHIP");
    }

    #[test]
    fn set_kinds_map_to_their_groups() {
        for k in SetKind::ALL {
            assert_eq!(SetKind::from_id(k.id()), Some(k));
            assert_eq!(SetKind::from_functional_id(k.functional_id()), Some(k));
        }
        assert_eq!(SetKind::from_id("850"), None);
        assert_eq!(SetKind::from_functional_id("PO"), None);
    }
}
