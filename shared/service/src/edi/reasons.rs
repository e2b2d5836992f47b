//! Reason codes in X12, both ways. 004010's 860 and 865 have no code list
//! for why an order changes, so the code travels in the reason loop's
//! `N9*L1*<code>`: the partner's own code when its settings list one (ours
//! -> its), else ours in X12's basic character set (`OUT-OF-STOCK`: upper
//! case, no `_`). Reading, an `N9*L1` names a code by either form; an 855
//! without one may still say why by its `ACK01`.

use std::collections::BTreeMap;

use domain::ReasonCode;
use edi::{ChangeDocument, LineAction, SetKind};

/// A partner's own codes: ours -> its.
pub type PartnerCodes = BTreeMap<ReasonCode, String>;

/// The longest `N902` (element 127).
const MAX_CODE_CHARS: usize = 30;

/// Our code in X12's basic character set, e.g. `OUT-OF-STOCK`.
pub fn default_code(code: ReasonCode) -> String {
    code.as_str().to_ascii_uppercase().replace('_', "-")
}

/// What we write in `N902` for `code` to a partner.
pub fn outbound_code(code: ReasonCode, partner: &PartnerCodes) -> String {
    partner
        .get(&code)
        .cloned()
        .unwrap_or_else(|| default_code(code))
}

/// The code an `N902` names: the partner's list read backwards, else our
/// default form (`_` read as `-`), case-insensitive. A partner code that
/// several of ours share names none of them.
pub fn inbound_code(value: &str, partner: &PartnerCodes) -> Option<ReasonCode> {
    let value = value.trim();
    let mut listed = partner
        .iter()
        .filter(|(_, theirs)| theirs.eq_ignore_ascii_case(value))
        .map(|(ours, _)| *ours);
    match (listed.next(), listed.next()) {
        (Some(one), None) => return Some(one),
        (Some(_), Some(_)) => return None,
        (None, _) => {}
    }
    let value = value.replace('_', "-");
    ReasonCode::ALL
        .into_iter()
        .find(|c| default_code(*c).eq_ignore_ascii_case(&value))
}

/// What an 855's `ACK01` (element 668; meanings as X12's code list has
/// them, docs/edi.md names where) says of why its units are rejected, where
/// 004010's meaning is plain. `R4` (contract item not
/// available) is stock; `R2` (invalid item product number) may be a wrong
/// number as well as a withdrawn item, and `IR`, `ID`, `R1`, `R3`, `R5`-`R8`
/// give no cause we have a code for.
pub fn ack_code(ack01: &str) -> Option<ReasonCode> {
    match ack01 {
        "R4" => Some(ReasonCode::OutOfStock),
        _ => None,
    }
}

/// The code a document's cancellation is recorded under: the first `N9*L1`
/// that names one; else, in an 855, the code every changed line's `ACK01`
/// agrees on; else `other`.
pub fn document_code(doc: &ChangeDocument, partner: &PartnerCodes) -> ReasonCode {
    if let Some(code) = doc
        .reason_codes
        .iter()
        .find_map(|v| inbound_code(v, partner))
    {
        return code;
    }
    if doc.set != SetKind::PoAck855 {
        return ReasonCode::Other;
    }
    let mut codes = doc
        .lines
        .iter()
        .filter(|l| l.action != LineAction::NoChange)
        .map(|l| ack_code(l.code.code()).unwrap_or(ReasonCode::Other));
    let Some(first) = codes.next() else {
        return ReasonCode::Other;
    };
    match codes.all(|c| c == first) {
        true => first,
        false => ReasonCode::Other,
    }
}

/// A partner's code as its settings may hold it: 1 to 30 of `A-Z`, `0-9`
/// and `-` (alphanumeric in X12's basic character set), and no delimiter
/// the partner reads us with.
pub(crate) fn check_partner_code(code: &str, delimiters: &[u8]) -> Result<(), String> {
    let fits = (1..=MAX_CODE_CHARS).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if !fits {
        return Err(format!(
            "reason code {code:?} is not 1 to {MAX_CODE_CHARS} of A-Z, 0-9 and -"
        ));
    }
    if code.bytes().any(|b| delimiters.contains(&b)) {
        return Err(format!(
            "reason code {code:?} holds one of the partner's delimiters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(pairs: &[(ReasonCode, &str)]) -> PartnerCodes {
        pairs.iter().map(|(c, v)| (*c, (*v).to_owned())).collect()
    }

    #[test]
    fn default_codes_are_upper_case_with_hyphens() {
        assert_eq!(default_code(ReasonCode::OutOfStock), "OUT-OF-STOCK");
        assert_eq!(default_code(ReasonCode::Fraud), "FRAUD");
        assert_eq!(
            default_code(ReasonCode::AddressUndeliverable),
            "ADDRESS-UNDELIVERABLE"
        );
        for c in ReasonCode::ALL {
            let d = default_code(c);
            assert!(check_partner_code(&d, b"*>~^").is_ok(), "{d}");
            // Every default form reads back as its code, whatever the case.
            assert_eq!(inbound_code(&d, &PartnerCodes::new()), Some(c));
            assert_eq!(
                inbound_code(&d.to_ascii_lowercase(), &PartnerCodes::new()),
                Some(c)
            );
            assert_eq!(inbound_code(c.as_str(), &PartnerCodes::new()), Some(c));
        }
    }

    #[test]
    fn a_partners_list_is_used_both_ways() {
        let list = partner(&[
            (ReasonCode::OutOfStock, "OS"),
            (ReasonCode::Discontinued, "03"),
            (ReasonCode::Delayed, "LATE"),
            (ReasonCode::PricingError, "LATE"),
        ]);
        assert_eq!(outbound_code(ReasonCode::OutOfStock, &list), "OS");
        assert_eq!(outbound_code(ReasonCode::Fraud, &list), "FRAUD");
        assert_eq!(inbound_code("OS", &list), Some(ReasonCode::OutOfStock));
        assert_eq!(inbound_code(" os ", &list), Some(ReasonCode::OutOfStock));
        assert_eq!(inbound_code("03", &list), Some(ReasonCode::Discontinued));
        // Our default form is still read.
        assert_eq!(inbound_code("FRAUD", &list), Some(ReasonCode::Fraud));
        assert_eq!(
            inbound_code("OUT-OF-STOCK", &list),
            Some(ReasonCode::OutOfStock)
        );
        // One of its codes for two of ours says neither.
        assert_eq!(inbound_code("LATE", &list), None);
        for unknown in ["REASON", "", "OS1", "OUT OF STOCK", "04"] {
            assert_eq!(inbound_code(unknown, &list), None, "{unknown:?}");
        }
    }

    #[test]
    fn ack01_codes_map_only_where_their_meaning_is_plain() {
        assert_eq!(ack_code("R4"), Some(ReasonCode::OutOfStock));
        for other in [
            "R1", "R2", "R3", "R5", "R6", "R7", "R8", "IR", "ID", "IB", "IQ", "IA", "",
        ] {
            assert_eq!(ack_code(other), None, "{other}");
        }
    }

    fn doc(text: &str) -> ChangeDocument {
        let ic = edi::parse_interchange(text.as_bytes()).unwrap();
        let v = edi::validate(&ic, &ic.header.sender, edi::PocReading::default());
        assert!(v.ack.error.is_none(), "{:?}", v.ack);
        v.changes.into_iter().next().unwrap()
    }

    /// An interchange from ACMEEDI holding one set (`ST` to `SE` excluded).
    fn set(id: &str, body: &[&str]) -> String {
        let group = match id {
            "855" => "PR",
            "860" => "PC",
            _ => "CA",
        };
        let mut text = format!(
            "ISA*00*          *00*          *ZZ*ACMEEDI        *ZZ*DROPSHIP       *260310*0930*U*00401*000000101*0*P*>~GS*{group}*ACMEEDI*DROPSHIP*20260310*0930*101*X*004010~ST*{id}*0001~"
        );
        for s in body {
            text.push_str(s);
            text.push('~');
        }
        text.push_str(&format!(
            "SE*{}*0001~GE*1*101~IEA*1*000000101~",
            body.len() + 2
        ));
        text
    }

    #[test]
    fn a_documents_code_comes_from_n9_then_ack01_then_other() {
        let none = PartnerCodes::new();
        let list = partner(&[(ReasonCode::OutOfStock, "OS")]);
        let cases: [(&str, &[&str], &PartnerCodes, ReasonCode); 10] = [
            (
                "865",
                &["BCA*01*RJ*PO-1", "N9*L1*OUT-OF-STOCK", "MSG*gone"],
                &none,
                ReasonCode::OutOfStock,
            ),
            (
                "860",
                &["BCH*01*SA*PO-1", "N9*L1*fraud"],
                &none,
                ReasonCode::Fraud,
            ),
            (
                "860",
                &["BCH*01*SA*PO-1", "N9*L1*os"],
                &list,
                ReasonCode::OutOfStock,
            ),
            (
                "860",
                &["BCH*01*SA*PO-1", "N9*L1*os"],
                &none,
                ReasonCode::Other,
            ),
            // The first that names one of ours.
            (
                "860",
                &["BCH*01*SA*PO-1", "N9*L1*REASON", "N9*L1*DELAYED"],
                &none,
                ReasonCode::Delayed,
            ),
            (
                "865",
                &["BCA*01*RJ*PO-1", "MSG*gone"],
                &none,
                ReasonCode::Other,
            ),
            // An 855: the ACK01 of the lines it changes, when they agree.
            (
                "855",
                &[
                    "BAK*00*AC*PO-1",
                    "PO1*1*2",
                    "ACK*R4*2",
                    "PO1*2*1",
                    "ACK*IA*1",
                ],
                &none,
                ReasonCode::OutOfStock,
            ),
            (
                "855",
                &[
                    "BAK*00*AC*PO-1",
                    "PO1*1*2",
                    "ACK*R4*2",
                    "PO1*2*1",
                    "ACK*IR*1",
                ],
                &none,
                ReasonCode::Other,
            ),
            (
                "855",
                &["BAK*00*AC*PO-1", "PO1*1*2", "ACK*R2*2"],
                &none,
                ReasonCode::Other,
            ),
            // N9 first.
            (
                "855",
                &[
                    "BAK*00*AC*PO-1",
                    "N9*L1*DISCONTINUED",
                    "PO1*1*2",
                    "ACK*R4*2",
                ],
                &none,
                ReasonCode::Discontinued,
            ),
        ];
        for (id, body, partner, want) in cases {
            let d = doc(&set(id, body));
            assert_eq!(document_code(&d, partner), want, "{id} {body:?}");
        }
    }

    #[test]
    fn partner_codes_are_checked() {
        for ok in ["OS", "03", "OUT-OF-STOCK", &"X".repeat(30)] {
            assert_eq!(check_partner_code(ok, b"*>~^"), Ok(()), "{ok}");
        }
        for bad in ["", "os", "OUT_OF_STOCK", "A B", "A*B", "É", &"X".repeat(31)] {
            assert!(check_partner_code(bad, b"*>~^").is_err(), "{bad:?}");
        }
        assert!(check_partner_code("OUT-OF-STOCK", b"->~^").is_err());
    }
}
