//! Properties: what we write parses back to the same values, sanitized, and
//! no input makes the parser panic.

use chrono::NaiveDate;
use proptest::prelude::*;

use crate::ids::DELIMITER_BYTES;
use crate::*;

/// Text with the characters that break X12: all delimiters, CR/LF, other
/// control and Unicode whitespace, next to ordinary text.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[*~^>:|\r\n\t\u{0}\u{7}\u{1c}\u{1d}\u{1e}\u{1f}\u{85}\u{a0}\u{2028} a-zA-Z0-9é-]{0,40}",
        1 => any::<String>(),
        1 => "[a-z ]{250,600}",
        1 => "[x~]{255,600}",
    ]
}

fn qualifier() -> impl Strategy<Value = ProductQualifier> {
    prop_oneof![
        Just(ProductQualifier::BuyerPart),
        Just(ProductQualifier::VendorPart),
        Just(ProductQualifier::Upc),
        Just(ProductQualifier::Sku),
        "[A-Z*~]{2}".prop_map(ProductQualifier::Other),
    ]
}

fn line() -> impl Strategy<Value = OutboundLine> {
    (
        hostile(),
        0u32..20,
        0u32..20,
        0u32..20,
        0u32..20,
        prop::collection::vec((qualifier(), hostile()), 0..3),
    )
        .prop_map(|(line_id, quantity, cancelled, units, open, ids)| {
            let cancelled = cancelled.min(quantity);
            OutboundLine {
                line_id,
                quantity,
                cancelled,
                units: units.min(cancelled),
                open: open.min(quantity - cancelled),
                product_ids: ids
                    .into_iter()
                    .map(|(qualifier, id)| ProductId { qualifier, id })
                    .collect(),
            }
        })
}

fn scope() -> impl Strategy<Value = OutboundScope> {
    prop_oneof![
        Just(OutboundScope::WholeOrder),
        prop::collection::vec(line(), 1..4).prop_map(OutboundScope::Lines),
    ]
}

/// The partners' syntaxes: ours, and others seen in real interchanges.
fn syntax() -> impl Strategy<Value = Syntax> {
    let with = |element: u8, component: u8, segment: u8, line_breaks: bool| Syntax {
        delimiters: Delimiters {
            element,
            repetition: Some(b'^'),
            component,
            segment,
        },
        isa_version: "00401".to_owned(),
        line_breaks,
    };
    prop_oneof![
        Just(Syntax::default()),
        Just(with(b'|', b':', b'~', false)),
        Just(with(b'*', b'{', b'\n', false)),
        Just(with(b'*', b'>', b'!', true)),
        Just(Syntax {
            isa_version: "00501".to_owned(),
            ..Syntax::default()
        }),
    ]
}

fn reading() -> impl Strategy<Value = PocReading> {
    prop_oneof![Just(PocReading::BeforeAfter), Just(PocReading::NewTotal)]
}

fn envelope() -> Envelope {
    let at = NaiveDate::from_ymd_opt(2026, 3, 15)
        .and_then(|d| d.and_hms_opt(23, 59, 0))
        .unwrap();
    Envelope::new(
        IsaId::dropship(),
        IsaId::new("ZZ", "BIRCHEDI").unwrap(),
        123,
        at,
    )
}

fn msg_lines(bytes: &[u8]) -> Vec<String> {
    let ic = parse_interchange(bytes).unwrap();
    ic.groups[0].sets[0]
        .segments
        .iter()
        .filter(|s| s.id == "MSG")
        .map(|s| s.element(1).to_owned())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sanitized_text_is_safe_and_stable(text in hostile()) {
        let clean = sanitize(&text);
        prop_assert_eq!(sanitize(&clean), clean.clone());
        prop_assert!(!clean.starts_with(' ') && !clean.ends_with(' ') && !clean.contains("  "));
        prop_assert!(!clean.chars().any(|c| c.is_control()
            || (c.is_whitespace() && c != ' ')
            || u8::try_from(c).is_ok_and(|b| DELIMITER_BYTES.contains(&b))));
    }

    #[test]
    fn what_we_write_reads_back(
        po in hostile(),
        reason in hostile(),
        scope in scope(),
        seller in any::<bool>(),
        syntax in syntax(),
        reading in reading(),
    ) {
        let change = OutboundChange {
            po_number: po.clone(),
            po_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            scope: scope.clone(),
            reason: reason.clone(),
            reading,
        };
        let delimiters = syntax.delimiter_bytes();
        let sanitize = |t: &str| crate::write::clean(t, &delimiters);
        let env = envelope().with_syntax(syntax);
        let written = if seller { write_865(&env, &change) } else { write_860(&env, &change) };
        let lines = match &scope {
            OutboundScope::Lines(lines) => lines.clone(),
            OutboundScope::WholeOrder => vec![],
        };
        let bytes = match written {
            Ok(bytes) => bytes,
            Err(WriteError::Empty { .. }) => {
                prop_assert!(sanitize(&po).is_empty()
                    || lines.iter().any(|l| sanitize(&l.line_id).is_empty()));
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        };
        let ic = parse_interchange(&bytes).unwrap();
        let v = validate(&ic, &IsaId::dropship(), reading);
        prop_assert_eq!(v.ack.groups[0].status, GroupStatus::Accepted, "{:?}", v.ack);
        prop_assert_eq!(v.changes.len(), 1);
        let doc = &v.changes[0];
        prop_assert_eq!(doc.set, if seller { SetKind::SellerChange865 } else { SetKind::PoChange860 });
        prop_assert_eq!(&doc.po_number, &sanitize(&po));
        prop_assert_eq!(doc.whole_order, scope == OutboundScope::WholeOrder);
        prop_assert_eq!(doc.lines.len(), lines.len());
        for (read, sent) in doc.lines.iter().zip(&lines) {
            prop_assert_eq!(&read.line_id, &sanitize(&sent.line_id));
            let remaining = sent.quantity - sent.cancelled;
            let action = if remaining == 0 { LineAction::CancelOpen } else { LineAction::SetTotal(remaining) };
            prop_assert_eq!(read.action, action);
            let ids: Vec<ProductId> = sent.product_ids.iter()
                .map(|p| ProductId {
                    qualifier: ProductQualifier::from_code(&sanitize(p.qualifier.code())),
                    id: sanitize(&p.id),
                })
                .filter(|p| !p.qualifier.code().is_empty() && !p.id.is_empty())
                .collect();
            prop_assert_eq!(&read.product_ids, &ids);
        }

        // The reason: whole when it fits one MSG, else its first line; the
        // lines together lose no character.
        let clean = sanitize(&reason);
        let msgs = msg_lines(&bytes);
        prop_assert!(msgs.iter().all(|m| !m.is_empty() && m.chars().count() <= MSG_MAX_CHARS));
        let squeeze = |s: &str| s.replace(' ', "");
        prop_assert_eq!(squeeze(&msgs.concat()), squeeze(&clean));
        if clean.is_empty() {
            prop_assert_eq!(&doc.reason, &None);
        } else if clean.chars().count() <= MSG_MAX_CHARS {
            prop_assert_eq!(doc.reason.as_deref(), Some(clean.as_str()));
        } else {
            let first = doc.reason.clone().unwrap_or_default();
            prop_assert!(clean.starts_with(&first) && !first.is_empty());
            prop_assert_eq!(Some(&first), msgs.first());
        }
    }

    #[test]
    fn reason_codes_are_written_in_the_basic_character_set(
        reasons in prop::collection::vec((hostile(), hostile()), 1..4),
        seller in any::<bool>(),
        syntax in syntax(),
    ) {
        let reasons: Vec<ReasonLoop> = reasons
            .into_iter()
            .map(|(code, note)| ReasonLoop { code, note })
            .collect();
        let change = OutboundChange {
            po_number: "PO-1".into(),
            po_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            scope: OutboundScope::WholeOrder,
            reason: String::new(),
            reading: PocReading::BeforeAfter,
        };
        let env = envelope().with_syntax(syntax);
        let written = if seller {
            write_865_coded(&env, &change, &reasons)
        } else {
            write_860_coded(&env, &change, &reasons)
        };
        let bytes = match written {
            Ok(bytes) => bytes,
            Err(e) => {
                prop_assert_eq!(e, WriteError::Empty { element: "N902" });
                return Ok(());
            }
        };
        let ic = parse_interchange(&bytes).unwrap();
        let v = validate(&ic, &IsaId::dropship(), PocReading::BeforeAfter);
        prop_assert_eq!(v.ack.groups[0].status, GroupStatus::Accepted, "{:?}", v.ack);
        let codes = &v.changes[0].reason_codes;
        prop_assert_eq!(codes.len(), reasons.len());
        for code in codes {
            prop_assert!((1..=30).contains(&code.len()), "{code:?}");
            prop_assert!(
                code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'),
                "{code:?}"
            );
        }
    }

    #[test]
    fn parsing_never_panics_and_is_deterministic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let first = parse_interchange(&bytes);
        prop_assert_eq!(&first, &parse_interchange(&bytes));
        if let Ok(ic) = first {
            let _ = validate(&ic, &ic.header.sender, PocReading::BeforeAfter);
        }
    }
}
