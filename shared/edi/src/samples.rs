//! The sample interchanges of `events/edi/`, read end to end.

use chrono::{NaiveDate, NaiveDateTime};

use crate::*;

const CANCEL_ORDER: &str = include_str!("../../../events/edi/860-cancel-order.x12");
const CHANGE_LINES: &str = include_str!("../../../events/edi/860-change-lines.x12");
const ACK_LINES: &str = include_str!("../../../events/edi/855-ack-lines.x12");
const SELLER_CHANGE: &str = include_str!("../../../events/edi/865-seller-change.x12");
const WRONG_SENDER: &str = include_str!("../../../events/edi/860-wrong-sender.x12");

fn acme() -> IsaId {
    IsaId::new("ZZ", "ACMEEDI").unwrap()
}

fn birch() -> IsaId {
    IsaId::new("ZZ", "BIRCHEDI").unwrap()
}

fn at() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 3, 15)
        .unwrap()
        .and_hms_opt(8, 5, 0)
        .unwrap()
}

fn pid(qualifier: ProductQualifier, id: &str) -> ProductId {
    ProductId {
        qualifier,
        id: id.to_owned(),
    }
}

fn line(
    id: &str,
    position: u32,
    segment_position: u32,
    code: ChangeCode,
    action: LineAction,
    ids: Vec<ProductId>,
) -> LineChange {
    LineChange {
        line_id: id.to_owned(),
        position,
        segment_position,
        product_ids: ids,
        code,
        action,
    }
}

/// A POC02 or ACK01 code as the reader names it.
fn code(c: &str) -> ChangeCode {
    let text = "ST*855*1~BAK*00*AC*P~PO1*1*1~ACK*CODE*1~SE*5*1~".replace("CODE", c);
    let set = crate::document::test_set(&text);
    let read = read_change(&set, PocReading::BeforeAfter).unwrap();
    match read.lines.first() {
        Some(l) => l.code.clone(),
        None => ChangeCode::poc(c),
    }
}

fn accepted(text: &str, sender: &IsaId) -> Validation {
    let ic = parse_interchange(text.as_bytes()).unwrap();
    let v = validate(&ic, sender, PocReading::BeforeAfter);
    assert_eq!(v.ack.error, None);
    assert_eq!(v.ack.groups.len(), 1);
    let g = &v.ack.groups[0];
    assert_eq!(g.status, GroupStatus::Accepted, "{g:?}");
    assert_eq!((g.included, g.received, g.accepted), (1, 1, 1));
    assert_eq!(g.sets.len(), 1);
    assert_eq!(g.sets[0].status, SetStatus::Accepted);
    assert!(g.sets[0].errors.is_empty() && g.sets[0].notes.is_empty());
    v
}

#[test]
fn cancel_order_860() {
    let ic = parse_interchange(CANCEL_ORDER.as_bytes()).unwrap();
    assert_eq!(ic.header.sender, acme());
    assert_eq!(ic.header.receiver, IsaId::dropship());
    assert_eq!(ic.header.control_number, 101);
    assert_eq!(ic.delimiters.repetition, None);
    let set = &ic.groups[0].sets[0];
    assert_eq!(set.segments.len(), 5);
    let v = accepted(CANCEL_ORDER, &acme());
    assert_eq!(v.ack.groups[0].functional_id, "PC");
    assert_eq!(v.ack.groups[0].control_number, "101");
    assert_eq!(v.changes.len(), 1);
    let doc = &v.changes[0];
    assert_eq!(
        (doc.set, doc.control_number.as_str(), doc.po_number.as_str()),
        (SetKind::PoChange860, "0001", "PO-1001")
    );
    assert_eq!(
        (
            doc.group_control_number.as_str(),
            doc.group_receiver.as_str()
        ),
        ("101", "DROPSHIP")
    );
    assert!(doc.whole_order && doc.lines.is_empty());
    assert_eq!(doc.reason.as_deref(), Some("Customer changed their mind"));
    assert_eq!(doc.reason_codes, ["CUSTOMER-REQUEST"]);
    assert_eq!(v.changes[0].order_reason(), "Customer changed their mind");
    assert_eq!(
        v.changes[0].default_reason(),
        "EDI 860: order cancelled (BCH01 01)"
    );
}

#[test]
fn change_lines_860() {
    let v = accepted(CHANGE_LINES, &acme());
    let doc = &v.changes[0];
    assert_eq!(doc.po_number, "PO-1002");
    assert!(!doc.whole_order);
    assert_eq!(doc.reason, None);
    assert_eq!(
        doc.lines,
        [
            line("1", 1, 3, code("DI"), LineAction::CancelOpen, vec![]),
            line(
                "2",
                2,
                4,
                code("QD"),
                LineAction::SetTotal(3),
                vec![
                    pid(ProductQualifier::BuyerPart, "ACME-TEE-BLU-M"),
                    pid(ProductQualifier::VendorPart, "BIRCH-TS-BLU-M"),
                ],
            ),
            line(
                "3",
                3,
                5,
                code("CA"),
                LineAction::SetTotal(1),
                vec![
                    pid(ProductQualifier::Upc, "012345678905"),
                    pid(ProductQualifier::Sku, "BIRCH-MUG-01"),
                ],
            ),
        ]
    );
    let reasons: Vec<_> = doc.lines.iter().map(|l| doc.line_reason(l)).collect();
    assert_eq!(
        reasons,
        [
            "EDI 860: item deleted (DI)",
            "EDI 860: quantity decreased (QD)",
            "EDI 860: line item changed (CA)",
        ]
    );
}

#[test]
fn ack_lines_855() {
    let v = accepted(ACK_LINES, &birch());
    let doc = &v.changes[0];
    assert_eq!(doc.set, SetKind::PoAck855);
    assert_eq!(doc.po_number, "PO-1003");
    assert!(!doc.whole_order);
    assert_eq!(doc.reason.as_deref(), Some("Line 2 is discontinued"));
    assert_eq!(doc.reason_codes, ["REASON"]);
    // The lines after the first PO1 start 2 segments later than a POC's.
    assert_eq!(
        doc.lines,
        [
            line(
                "1",
                1,
                5,
                code("IA"),
                LineAction::NoChange,
                vec![
                    pid(ProductQualifier::BuyerPart, "ACME-SOCK-01"),
                    pid(ProductQualifier::VendorPart, "BIRCH-SK-01"),
                ],
            ),
            line(
                "2",
                2,
                7,
                code("IR"),
                LineAction::Reject(1),
                vec![
                    pid(ProductQualifier::BuyerPart, "ACME-HAT-02"),
                    pid(ProductQualifier::VendorPart, "BIRCH-HT-02"),
                ],
            ),
            // No PO101: named by its position.
            line(
                "3",
                3,
                9,
                code("IQ"),
                LineAction::SetTotal(3),
                vec![pid(ProductQualifier::Sku, "BIRCH-PEN-05")],
            ),
        ]
    );
    assert_eq!(
        doc.lines[1].default_reason(doc.set),
        "EDI 855: item rejected (IR)"
    );
    assert_eq!(
        doc.lines[2].default_reason(doc.set),
        "EDI 855: quantity changed (IQ)"
    );
    assert_eq!(doc.line_reason(&doc.lines[1]), "Line 2 is discontinued");
}

#[test]
fn seller_change_865() {
    let v = accepted(SELLER_CHANGE, &birch());
    assert_eq!(v.ack.groups[0].functional_id, "CA");
    let doc = &v.changes[0];
    assert_eq!(
        (doc.set, doc.po_number.as_str(), doc.whole_order),
        (SetKind::SellerChange865, "PO-1004", false)
    );
    assert_eq!(
        doc.reason.as_deref(),
        Some("Discontinued by the manufacturer")
    );
    assert_eq!(doc.reason_codes, ["DISCONTINUED"]);
    assert_eq!(
        doc.lines,
        vec![
            line(
                "1",
                1,
                5,
                code("DI"),
                LineAction::CancelOpen,
                vec![pid(ProductQualifier::VendorPart, "BIRCH-LAMP-01")],
            ),
            line(
                "2",
                2,
                6,
                code("QD"),
                LineAction::SetTotal(1),
                vec![
                    pid(ProductQualifier::VendorPart, "BIRCH-BULB-02"),
                    pid(ProductQualifier::BuyerPart, "ACME-BULB-02"),
                ],
            ),
        ],
    );
}

#[test]
fn the_wrong_sender_is_rejected_whole() {
    let ic = parse_interchange(WRONG_SENDER.as_bytes()).unwrap();
    let v = validate(&ic, &acme(), PocReading::BeforeAfter);
    assert_eq!(
        v.ack.error,
        Some(InterchangeError::UnexpectedSender {
            expected: acme(),
            found: IsaId::new("ZZ", "OTHEREDI").unwrap(),
        })
    );
    assert!(v.changes.is_empty());
    assert_eq!(
        v.ack.groups,
        [GroupAck {
            functional_id: "PC".into(),
            control_number: "103".into(),
            sets: vec![],
            status: GroupStatus::Rejected,
            included: 1,
            received: 1,
            accepted: 0,
            errors: vec![],
        }]
    );
    // The same file from its own folder is fine.
    assert_eq!(
        accepted(WRONG_SENDER, &IsaId::new("ZZ", "OTHEREDI").unwrap())
            .changes
            .len(),
        1
    );

    let env = Envelope::new(IsaId::dropship(), acme(), 7, at());
    let text = String::from_utf8(write_997(&env, &v.ack).unwrap().unwrap()).unwrap();
    assert_eq!(
        text,
        concat!(
            "ISA*00*          *00*          *ZZ*DROPSHIP       *ZZ*ACMEEDI        *260315*0805*U*00401*000000007*0*P*>~\n",
            "GS*FA*DROPSHIP*ACMEEDI*20260315*0805*7*X*004010~\n",
            "ST*997*0001~\n",
            "AK1*PC*103~\n",
            "AK9*R*1*1*0~\n",
            "SE*4*0001~\n",
            "GE*1*7~\n",
            "IEA*1*000000007~\n",
        )
    );
}

#[test]
fn every_sample_gets_an_accepting_997_that_reads_back() {
    for (text, sender) in [
        (CANCEL_ORDER, acme()),
        (CHANGE_LINES, acme()),
        (ACK_LINES, birch()),
        (SELLER_CHANGE, birch()),
    ] {
        let v = accepted(text, &sender);
        let env = Envelope::new(IsaId::dropship(), sender.clone(), 42, at());
        let bytes = write_997(&env, &v.ack).unwrap().unwrap();
        let back = parse_interchange(&bytes).unwrap();
        assert_eq!(back.header.sender, IsaId::dropship());
        assert_eq!(back.header.receiver, sender);
        let checked = validate(&back, &IsaId::dropship(), PocReading::BeforeAfter);
        assert_eq!(checked.ack.error, None);
        assert_eq!(checked.ack.groups[0].status, GroupStatus::Accepted);
        // A 997 is not answered.
        assert_eq!(write_997(&env, &checked.ack), Ok(None));
        assert_eq!(checked.acknowledgments, v.ack.groups);
    }
}

#[test]
fn envelope_errors_are_answered() {
    let cases: Vec<(String, GroupStatus, Vec<GroupErrorCode>, Vec<SetErrorCode>)> = vec![
        (
            CHANGE_LINES.replace("SE*7*0001", "SE*6*0001"),
            GroupStatus::Rejected,
            vec![],
            vec![SetErrorCode::SegmentCountMismatch],
        ),
        (
            CHANGE_LINES.replace("SE*7*0001", "SE*7*0002"),
            GroupStatus::Rejected,
            vec![],
            vec![SetErrorCode::ControlNumberMismatch],
        ),
        (
            CHANGE_LINES.replace("SE*7*0001~\n", ""),
            GroupStatus::Rejected,
            vec![],
            vec![SetErrorCode::TrailerMissing],
        ),
        (
            CHANGE_LINES.replace("ST*860*0001", "ST*855*0001"),
            GroupStatus::Rejected,
            vec![],
            vec![SetErrorCode::NotSupported],
        ),
        (
            CHANGE_LINES.replace("ST*860*0001", "ST*86*0001"),
            GroupStatus::Rejected,
            vec![],
            vec![SetErrorCode::InvalidSetId],
        ),
        (
            CHANGE_LINES.replace("GE*1*102", "GE*2*102"),
            GroupStatus::Rejected,
            vec![GroupErrorCode::SetCountMismatch],
            vec![],
        ),
        (
            CHANGE_LINES.replace("GE*1*102", "GE*1*103"),
            GroupStatus::Rejected,
            vec![GroupErrorCode::ControlNumberMismatch],
            vec![],
        ),
        (
            CHANGE_LINES.replace("GE*1*102~\n", ""),
            GroupStatus::Rejected,
            vec![GroupErrorCode::TrailerMissing],
            vec![],
        ),
        (
            CHANGE_LINES.replace("*X*004010~", "*X*005010~"),
            GroupStatus::Rejected,
            vec![GroupErrorCode::VersionNotSupported],
            vec![],
        ),
        (
            CHANGE_LINES.replace("GS*PC", "GS*IN"),
            GroupStatus::Rejected,
            vec![GroupErrorCode::NotSupported],
            vec![],
        ),
    ];
    for (text, status, group_errors, set_errors) in cases {
        let ic = parse_interchange(text.as_bytes()).unwrap();
        let v = validate(&ic, &acme(), PocReading::BeforeAfter);
        assert!(v.changes.is_empty(), "{text}");
        let g = &v.ack.groups[0];
        assert_eq!((g.status, &g.errors), (status, &group_errors), "{text}");
        let sets: Vec<_> = g.sets.iter().flat_map(|s| s.errors.clone()).collect();
        assert_eq!(sets, set_errors, "{text}");
        // Whatever went wrong, the 997 says so and reads back.
        let env = Envelope::new(IsaId::dropship(), acme(), 9, at());
        let bytes = write_997(&env, &v.ack).unwrap().unwrap();
        let back = validate(
            &parse_interchange(&bytes).unwrap(),
            &IsaId::dropship(),
            PocReading::BeforeAfter,
        );
        assert_eq!(back.acknowledgments, v.ack.groups, "{text}");
    }
}

#[test]
fn interchange_trailer_errors_reject_everything() {
    let ic = parse_interchange(CHANGE_LINES.replace("IEA*1*", "IEA*2*").as_bytes()).unwrap();
    let v = validate(&ic, &acme(), PocReading::BeforeAfter);
    assert_eq!(
        v.ack.error,
        Some(InterchangeError::GroupCount {
            declared: "2".into(),
            actual: 1
        })
    );
    assert!(v.changes.is_empty());
    assert_eq!(v.ack.groups[0].status, GroupStatus::Rejected);
    let ic = parse_interchange(
        CHANGE_LINES
            .replace("IEA*1*000000102", "IEA*1*102")
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        validate(&ic, &acme(), PocReading::BeforeAfter).ack.error,
        Some(InterchangeError::ControlNumber {
            header: 102,
            trailer: "102".into()
        })
    );
}

#[test]
fn a_bad_line_rejects_its_set_with_ak3_and_ak4() {
    let two_sets = CHANGE_LINES.replace(
        "GE*1*102",
        "ST*860*0002~\nBCH*04*SA*PO-1009***20260302~\nPOC*7*QD*2.5*2*EA~\nSE*4*0002~\nGE*2*102",
    );
    let ic = parse_interchange(two_sets.as_bytes()).unwrap();
    let v = validate(&ic, &acme(), PocReading::BeforeAfter);
    let g = &v.ack.groups[0];
    assert_eq!(g.status, GroupStatus::Partial);
    assert_eq!((g.included, g.received, g.accepted), (2, 2, 1));
    assert_eq!(v.changes.len(), 1);
    assert_eq!(v.changes[0].po_number, "PO-1002");
    assert_eq!(
        g.sets[1],
        SetAck {
            set_id: "860".into(),
            control_number: "0002".into(),
            notes: vec![SegmentNote {
                segment: "POC".into(),
                position: 3,
                code: Some(SegmentErrorCode::ElementErrors),
                elements: vec![crate::ack::ElementNote {
                    position: 3,
                    component: None,
                    code: ElementErrorCode::InvalidCharacter,
                    value: Some("2.5".into()),
                }],
            }],
            status: SetStatus::Rejected,
            errors: vec![SetErrorCode::SegmentsInError],
        }
    );
    let env = Envelope::new(IsaId::dropship(), acme(), 8, at());
    let text = String::from_utf8(write_997(&env, &v.ack).unwrap().unwrap()).unwrap();
    let body: Vec<_> = text.lines().skip(2).collect();
    assert_eq!(
        body,
        [
            "ST*997*0001~",
            "AK1*PC*102~",
            "AK2*860*0001~",
            "AK5*A~",
            "AK2*860*0002~",
            "AK3*POC*3**8~",
            "AK4*3**6*2.5~",
            "AK5*R*5~",
            "AK9*P*2*2*1~",
            "SE*10*0001~",
            "GE*1*8~",
            "IEA*1*000000008~",
        ]
    );
}

#[test]
fn duplicate_set_control_numbers_are_refused() {
    let twice = CANCEL_ORDER.replace(
        "GE*1*101",
        "ST*860*0001~\r\nBCH*01*SA*PO-1001~\r\nSE*3*0001~\r\nGE*2*101",
    );
    let v = validate(
        &parse_interchange(twice.as_bytes()).unwrap(),
        &acme(),
        PocReading::BeforeAfter,
    );
    let g = &v.ack.groups[0];
    assert_eq!(g.status, GroupStatus::Partial);
    assert_eq!(g.sets[1].errors, [SetErrorCode::DuplicateControlNumber]);
    assert_eq!(v.changes.len(), 1);
}

#[test]
fn outbound_860_and_865_read_back() {
    let change = OutboundChange {
        po_number: "PO-1002".into(),
        po_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        scope: OutboundScope::Lines(vec![
            OutboundLine {
                line_id: "1".into(),
                quantity: 2,
                cancelled: 2,
                units: 2,
                open: 0,
                product_ids: vec![],
            },
            OutboundLine {
                line_id: "2".into(),
                quantity: 5,
                cancelled: 2,
                units: 1,
                open: 1,
                product_ids: vec![pid(ProductQualifier::Sku, "BIRCH-TS-BLU-M")],
            },
        ]),
        reason: "Out of stock".into(),
        reading: PocReading::BeforeAfter,
    };
    let env = Envelope::new(IsaId::dropship(), birch(), 7, at());
    let coded = [ReasonLoop {
        code: "OUT-OF-STOCK".into(),
        note: "Out of stock".into(),
    }];
    let text = String::from_utf8(write_860_coded(&env, &change, &coded).unwrap()).unwrap();
    assert_eq!(
        text,
        concat!(
            "ISA*00*          *00*          *ZZ*DROPSHIP       *ZZ*BIRCHEDI       *260315*0805*U*00401*000000007*0*P*>~\n",
            "GS*PC*DROPSHIP*BIRCHEDI*20260315*0805*7*X*004010~\n",
            "ST*860*0001~\n",
            "BCH*04*SA*PO-1002***20260302~\n",
            "N9*L1*OUT-OF-STOCK~\n",
            "MSG*Out of stock~\n",
            "POC*1*DI*2*0*EA~\n",
            "POC*2*QD*4*3*EA***SK*BIRCH-TS-BLU-M~\n",
            "CTT*2~\n",
            "SE*8*0001~\n",
            "GE*1*7~\n",
            "IEA*1*000000007~\n",
        )
    );
    let ic = parse_interchange(text.as_bytes()).unwrap();
    let v = validate(&ic, &IsaId::dropship(), PocReading::BeforeAfter);
    assert_eq!(v.ack.groups[0].status, GroupStatus::Accepted);
    let doc = &v.changes[0];
    assert_eq!(doc.reason.as_deref(), Some("Out of stock"));
    assert_eq!(doc.reason_codes, ["OUT-OF-STOCK"]);
    assert_eq!(
        doc.lines.iter().map(|l| l.action).collect::<Vec<_>>(),
        [LineAction::CancelOpen, LineAction::SetTotal(3)]
    );

    let whole = OutboundChange {
        scope: OutboundScope::WholeOrder,
        ..change
    };
    let env = Envelope::new(IsaId::dropship(), acme(), 8, at());
    let text = String::from_utf8(write_865(&env, &whole).unwrap()).unwrap();
    let body: Vec<_> = text.lines().skip(1).take(6).collect();
    assert_eq!(
        body,
        [
            "GS*CA*DROPSHIP*ACMEEDI*20260315*0805*8*X*004010~",
            "ST*865*0001~",
            "BCA*01*RJ*PO-1002***20260302~",
            "N9*L1*OTHER~",
            "MSG*Out of stock~",
            "SE*5*0001~",
        ]
    );
    let doc = &validate(
        &parse_interchange(text.as_bytes()).unwrap(),
        &IsaId::dropship(),
        PocReading::BeforeAfter,
    )
    .changes[0];
    assert!(doc.whole_order);
    assert_eq!(doc.set, SetKind::SellerChange865);
}

#[test]
fn outbound_refusals() {
    let env = Envelope::new(IsaId::dropship(), acme(), 7, at());
    let line = |quantity, cancelled, open| OutboundLine {
        line_id: "1".into(),
        quantity,
        cancelled,
        units: 0,
        open,
        product_ids: vec![],
    };
    let change = |po: &str, scope| OutboundChange {
        po_number: po.into(),
        po_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        scope,
        reason: String::new(),
        reading: PocReading::BeforeAfter,
    };
    assert_eq!(
        write_860(&env, &change(" ~* ", OutboundScope::WholeOrder)),
        Err(WriteError::Empty { element: "BCH03" })
    );
    assert_eq!(
        write_865(&env, &change("P", OutboundScope::Lines(vec![]))),
        Err(WriteError::NoLines)
    );
    assert!(matches!(
        write_860(
            &env,
            &change("P", OutboundScope::Lines(vec![line(1, 2, 0)]))
        ),
        Err(WriteError::CancelledExceedsQuantity { .. })
    ));
    assert!(matches!(
        write_860(
            &env,
            &change("P", OutboundScope::Lines(vec![line(3, 1, 3)]))
        ),
        Err(WriteError::OpenExceedsRemaining { .. })
    ));
    let mut bad = env.clone();
    bad.control_number = 1_000_000_000;
    assert_eq!(
        write_860(&bad, &change("P", OutboundScope::WholeOrder)),
        Err(WriteError::ControlNumber(1_000_000_000))
    );
    let mut bad = env.clone();
    bad.receiver = IsaId::received("ZZ", "A*B");
    assert!(matches!(
        write_860(&bad, &change("P", OutboundScope::WholeOrder)),
        Err(WriteError::IsaId(_))
    ));
    // No reason: no N9 loop.
    let text = String::from_utf8(write_860(&env, &change("P", OutboundScope::WholeOrder)).unwrap())
        .unwrap();
    assert!(!text.contains("N9*") && !text.contains("MSG*"));
}
