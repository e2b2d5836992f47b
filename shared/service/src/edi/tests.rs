//! Reason codes through the service's EDI paths: a partner's settings, a
//! document read and applied to an order, a cancellation written out.

use chrono::{TimeZone, Utc};
use domain::{
    Actor, Cancellation, CancellationKind, CancelledItem, Company, Integration, ReasonCode, Role,
    Source,
};
use edi::{IsaId, SetKind};

use super::{EdiError, Partner, outbound_document, partner_of, platform_state, reasons};

/// An EDI company from its stored JSON, with `edi` settings as given.
fn edi_company(id: &str, role: Role, edi: serde_json::Value) -> Company {
    serde_json::from_value(serde_json::json!({
        "id": id, "name": id, "role": role.as_str(), "integration": "edi",
        "email": format!("{id}@example.com"), "edi": edi,
    }))
    .unwrap()
}

fn partner(edi: serde_json::Value) -> Partner {
    partner_of(&edi_company("seller-edi", Role::Seller, edi)).unwrap()
}

#[test]
fn a_partners_reason_codes_are_read_and_checked_with_its_settings() {
    let p = partner(serde_json::json!({
        "isa_qualifier": "ZZ", "isa_id": "BIRCHEDI",
        "reason_codes": {"out_of_stock": "OS", "discontinued": "03"},
    }));
    assert_eq!(
        p.reason_codes.into_iter().collect::<Vec<_>>(),
        [
            (ReasonCode::OutOfStock, "OS".to_owned()),
            (ReasonCode::Discontinued, "03".to_owned()),
        ]
    );
    assert!(
        partner(serde_json::json!({"isa_qualifier": "ZZ", "isa_id": "BIRCHEDI"}))
            .reason_codes
            .is_empty()
    );
    // Left out when empty, so stored companies keep their shape.
    let c = edi_company(
        "s",
        Role::Seller,
        serde_json::json!({"isa_qualifier": "ZZ", "isa_id": "BIRCHEDI"}),
    );
    assert!(!serde_json::to_string(&c).unwrap().contains("reason_codes"));

    for (value, separator) in [
        ("os", "*"),
        ("OUT_OF_STOCK", "*"),
        ("", "*"),
        ("A B", "*"),
        (&"X".repeat(31), "*"),
        ("OUT-OF-STOCK", "-"),
    ] {
        let c = edi_company(
            "s",
            Role::Seller,
            serde_json::json!({
                "isa_qualifier": "ZZ", "isa_id": "BIRCHEDI", "element_separator": separator,
                "reason_codes": {"out_of_stock": value},
            }),
        );
        match partner_of(&c) {
            Err(EdiError::Settings(_, why)) => {
                assert!(why.contains("reason_codes.out_of_stock"), "{why}")
            }
            other => panic!("{value:?} {separator:?}: {other:?}"),
        }
    }
    // A code of ours that does not exist is refused when the JSON is read.
    let bad = serde_json::from_value::<Company>(serde_json::json!({
        "id": "s", "name": "s", "role": "seller", "integration": "edi", "email": "s@example.com",
        "edi": {"isa_qualifier": "ZZ", "isa_id": "BIRCHEDI", "reason_codes": {"stock": "OS"}},
    }));
    assert!(bad.is_err());
}

/// An interchange from BIRCHEDI holding one 865 with `body` after its BCA.
fn seller_865(body: &[&str]) -> Vec<u8> {
    let mut set = vec!["ST*865*0001", "BCA*04*AC*PO-1***20260101"];
    set.extend_from_slice(body);
    let mut text = String::from(
        "ISA*00*          *00*          *ZZ*BIRCHEDI       *ZZ*DROPSHIP       *260110*0930*U*00401*000000201*0*P*>~GS*CA*BIRCHEDI*DROPSHIP*20260110*0930*201*X*004010~",
    );
    for s in &set {
        text.push_str(s);
        text.push('~');
    }
    text.push_str(&format!(
        "SE*{}*0001~GE*1*201~IEA*1*000000201~",
        set.len() + 1
    ));
    text.into_bytes()
}

/// What a document from the seller comes to on `order`, as the service
/// applies it: its code, its target state, the cancellation recorded.
fn applied(partner: &Partner, order: &domain::Order, bytes: &[u8]) -> Cancellation {
    let ic = edi::parse_interchange(bytes).unwrap();
    let v = edi::validate(&ic, &partner.id, partner.reading);
    assert!(v.ack.error.is_none(), "{:?}", v.ack);
    let doc = &v.changes[0];
    let code = reasons::document_code(doc, &partner.reason_codes);
    let state = platform_state(order, doc, code).unwrap();
    let actor = Actor {
        party: Role::Seller,
        integration: Integration::Edi,
        source: Source::Edi,
    };
    let at = Utc.with_ymd_and_hms(2026, 1, 10, 9, 30, 0).unwrap();
    domain::reconcile(order, actor, &state, "can_1".into(), at)
        .unwrap()
        .cancellation
        .unwrap()
}

fn order() -> domain::Order {
    let mut o = testkit::fixtures::order("o1", "buyer-api", "seller-edi", 0);
    o.buyer_order_ref = Some("PO-1".into());
    o
}

#[test]
fn an_inbound_865_coded_out_of_stock_records_a_cancellation_coded_out_of_stock() {
    let p = partner(serde_json::json!({"isa_qualifier": "ZZ", "isa_id": "BIRCHEDI"}));
    let c = applied(
        &p,
        &order(),
        &seller_865(&[
            "N9*L1*OUT-OF-STOCK",
            "MSG*Warehouse empty",
            "POC*li_1*DI*3*0*EA",
            "CTT*1",
        ]),
    );
    assert_eq!(
        c.items,
        [CancelledItem {
            line_item_id: "li_1".into(),
            quantity: 3,
            reason_code: ReasonCode::OutOfStock,
            reason: Some("Warehouse empty".into()),
        }]
    );

    // The partner's own code, read through its list; an unknown one is
    // `other`, with the document's words as the note.
    let p = partner(serde_json::json!({
        "isa_qualifier": "ZZ", "isa_id": "BIRCHEDI", "reason_codes": {"discontinued": "D1"},
    }));
    let c = applied(&p, &order(), &seller_865(&["N9*L1*d1", "POC*li_2*DI"]));
    assert_eq!(c.items[0].reason_code, ReasonCode::Discontinued);
    assert_eq!(
        c.items[0].reason.as_deref(),
        Some("EDI 865: item deleted (DI)")
    );
    let c = applied(
        &p,
        &order(),
        &seller_865(&["N9*L1*REASON", "MSG*No idea", "POC*li_2*DI"]),
    );
    assert_eq!(
        (c.items[0].reason_code, c.items[0].reason.as_deref()),
        (ReasonCode::Other, Some("No idea"))
    );
}

fn cancellation(items: &[(&str, ReasonCode, Option<&str>)]) -> Cancellation {
    Cancellation {
        id: "can_1".into(),
        order_id: "o1".into(),
        initiated_by: Role::Buyer,
        source: Source::Api,
        kind: CancellationKind::Items,
        items: items
            .iter()
            .map(|(line, code, note)| CancelledItem {
                line_item_id: (*line).into(),
                quantity: 1,
                reason_code: *code,
                reason: note.map(str::to_owned),
            })
            .collect(),
        created_at: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
    }
}

/// The `N9` and `MSG` segments of a document we wrote, without terminators.
fn reason_segments(bytes: &[u8]) -> Vec<String> {
    let ic = edi::parse_interchange(bytes).unwrap();
    ic.groups[0].sets[0]
        .segments
        .iter()
        .filter(|s| s.id == "N9" || s.id == "MSG")
        .map(|s| format!("{}*{}*{}", s.id, s.element(1), s.element(2)))
        .map(|s| s.trim_end_matches('*').to_owned())
        .collect()
}

#[test]
fn an_outbound_860_for_a_cancellation_coded_fraud_carries_n9_l1_fraud() {
    let p = partner(serde_json::json!({"isa_qualifier": "ZZ", "isa_id": "BIRCHEDI"}));
    let mut o = order();
    o.line_items[0].cancelled = 1;
    let c = cancellation(&[("li_1", ReasonCode::Fraud, None)]);
    let file = outbound_document(&IsaId::dropship(), &p, Role::Seller, &o, &c, 7).unwrap();
    assert_eq!(file.name, edi::file_name(7, SetKind::PoChange860));
    let text = String::from_utf8(file.bytes.clone()).unwrap();
    assert!(text.contains("ST*860*0001~"), "{text}");
    assert!(
        text.contains("\nN9*L1*FRAUD~\nMSG*Suspected fraud (code fraud)~\n"),
        "{text}"
    );

    // The partner's own code when its list has one; one loop per code,
    // in the items' order, each with its first item's note.
    let p = partner(serde_json::json!({
        "isa_qualifier": "ZZ", "isa_id": "BIRCHEDI", "reason_codes": {"out_of_stock": "OS"},
    }));
    o.line_items[1].cancelled = 2;
    let c = cancellation(&[
        ("li_1", ReasonCode::OutOfStock, Some("Warehouse empty")),
        ("li_2", ReasonCode::PricingError, None),
        ("li_2", ReasonCode::OutOfStock, Some("Also gone")),
    ]);
    let file = outbound_document(&IsaId::dropship(), &p, Role::Buyer, &o, &c, 8).unwrap();
    assert_eq!(file.name, edi::file_name(8, SetKind::SellerChange865));
    assert_eq!(
        reason_segments(&file.bytes),
        [
            "N9*L1*OS",
            "MSG*Out of stock: Warehouse empty (code out_of_stock)",
            "N9*L1*PRICING-ERROR",
            "MSG*Pricing error (code pricing_error)",
        ]
    );
    // Read back by the same partner's settings: the first loop's code.
    let ic = edi::parse_interchange(&file.bytes).unwrap();
    let v = edi::validate(&ic, &ic.header.sender, p.reading);
    assert_eq!(
        reasons::document_code(&v.changes[0], &p.reason_codes),
        ReasonCode::OutOfStock
    );
}
