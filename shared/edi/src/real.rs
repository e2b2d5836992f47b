//! Interchanges written by others (the X12 body's examples, retailers'
//! guides, open-source EDI projects' test data), kept with their sources
//! in `tests/tests/fixtures/edi/real/SOURCES.md`: what each one comes to
//! when read as its own sender's.

use std::fmt::Write;

use crate::*;

fn outcome(bytes: &[u8]) -> String {
    let ic = match parse_interchange(bytes) {
        Ok(ic) => ic,
        Err(e) => return format!("unreadable: {e}"),
    };
    let v = validate(&ic, &ic.header.sender, PocReading::BeforeAfter);
    let mut out = String::new();
    for g in &v.ack.groups {
        let _ = write!(out, "{} {}", g.functional_id, g.status.code());
        for s in &g.sets {
            let _ = write!(out, " [{} {}", s.set_id, s.status.code());
            for c in &s.errors {
                let _ = write!(out, " {}", c.code());
            }
            for n in &s.notes {
                let _ = write!(out, " {}@{}", n.segment, n.position);
            }
            out.push(']');
        }
        for c in &g.errors {
            let _ = write!(out, " g{}", c.code());
        }
        out.push(';');
    }
    for d in &v.changes {
        let _ = write!(out, " {} PO {:?} purpose {}", d.set, d.po_number, d.purpose);
        if d.whole_order {
            out.push_str(" whole");
        }
        if let Some(n) = d.no_effect {
            let _ = write!(out, " no-effect({n:?})");
        }
        for l in &d.lines {
            let _ = write!(out, " {}:{}={:?}", l.line_id, l.code.code(), l.action);
        }
        out.push(';');
    }
    out
}

/// Each file and what it comes to, checked against the documents' own
/// meaning as SOURCES.md describes it: Walmart's `BCH01 00` + `DI` and
/// McLane's `DI 504 to 0` cancel their lines, Advance Auto's `CA 65 to 40`
/// makes the line 40 (POC04 after), x12.org's `BCA02 RJ` changes nothing,
/// and an `IR*0` rejects no unit. A document that breaks X12's syntax
/// (Amazon's SE01 103 for 21 segments, Tyco's IEA02, GS01 `SC` or `PO`
/// for an 855 or 860, version 003060) is refused as its 997 says. The
/// three ISAs padded short are read by their 16 elements: OopFactory's
/// delete-items 860 is then rejected for SE01 10 (its N1 has no
/// terminator, so nine segments are found), Nissan's 860 for its version
/// 003010, and stupidedi's 997 is read as the partner's acceptance.
const EXPECTED: &[(&str, &str)] = &[
    ("824-edifabric-asn-reject.x12", "IN R g1 g5;"),
    ("824-oopfactory-cn-rail.x12", "AG R g1;"),
    ("855-bisac3060-complex-iq.x12", "PR R g2;"),
    (
        "855-nodex12-book-ia-ir.x12",
        "PR A [855 A]; 855 PO \"POTEST1112\" purpose 00 1:IA=NoChange 2:IR=Reject(0) 3:IR=Reject(0) 4:IA=NoChange;",
    ),
    (
        "855-oopfactory-simmons-two-sets.x12",
        "PR A [855 A] [855 A]; 855 PO \"7542\" purpose 00; 855 PO \"99035\" purpose 00;",
    ),
    (
        "855-stupidedi-shrader-accepted.x12",
        "PR A [855 A]; 855 PO \"1D711419\" purpose 00;",
    ),
    ("855-x12org-accepted-no-detail.x12", "SC R g1;"),
    ("855-x12org-minor-changes-multi-ack.x12", "SC R g1;"),
    ("855-x12org-rejected-no-detail.x12", "SC R g1;"),
    ("855-x12org-ship-details-sch.x12", "SC R g1;"),
    ("860-amazon-replace-abridged.x12", "PC R [860 R 4];"),
    (
        "860-microcenter-delete-item.x12",
        "PC A [860 A]; 860 PO \"193845\" purpose 04 1:DI=CancelOpen;",
    ),
    ("860-oopfactory-cancel-writer-test.x12", "PO R g1 g2 g4;"),
    ("860-oopfactory-delete-items.x12", "PC R [860 R 4];"),
    ("860-stupidedi-nissan-3010-ca.x12", "PC R g2;"),
    (
        "860-walmart-dsv-line-cancel.x12",
        "PC A [860 A]; 860 PO \"12845747\" purpose 00 0001:DI=CancelOpen;",
    ),
    (
        "865-oopfactory-advanceauto-confirmation.x12",
        "CA A [865 A]; 865 PO \"0025076\" purpose 06 1:CA=SetTotal(40);",
    ),
    (
        "865-oopfactory-mclane-original-at.x12",
        "CA A [865 A]; 865 PO \"3249785\" purpose 00 052575:PC=NoChange 054146:NC=NoChange 054448:DI=CancelOpen 054126:CT=NoChange 054149:CT=NoChange 053874:CT=NoChange 053875:CT=NoChange;",
    ),
    ("865-oopfactory-tyco-reschedule-ic.x12", "CA R;"),
    (
        "865-x12org-accepted-no-poc.x12",
        "CA A [865 A]; 865 PO \"XX1234\" purpose 11;",
    ),
    (
        "865-x12org-rejected-no-poc.x12",
        "CA A [865 A]; 865 PO \"XX1234\" purpose 11 no-effect(ChangeRejected);",
    ),
    ("997-edifabric-reject-ak3-ak4.x12", "FA A [997 A];"),
    ("997-stupidedi-accept-824.x12", "FA A [997 A];"),
];

#[test]
fn real_documents_come_to_what_they_say() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/tests/fixtures/edi/real");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".x12"))
        .collect();
    names.sort();
    let mut report = String::new();
    for n in &names {
        let bytes = std::fs::read(dir.join(n)).unwrap();
        let _ = writeln!(
            report,
            "(\"{n}\", \"{}\"),",
            outcome(&bytes).replace('"', "\\\"")
        );
    }
    let want: String = EXPECTED
        .iter()
        .map(|(n, o)| format!("(\"{n}\", \"{}\"),\n", o.replace('"', "\\\"")))
        .collect();
    assert_eq!(report, want, "\n{report}");
    assert!(names.len() >= 10);
}

/// The three ISAs padded short, read element by element: the ids and
/// delimiters their senders meant, and the 997's acknowledgment.
#[test]
fn short_isas_read_as_their_senders_wrote_them() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/tests/fixtures/edi/real");
    let read = |name: &str| parse_interchange(&std::fs::read(dir.join(name)).unwrap()).unwrap();

    let ic = read("860-oopfactory-delete-items.x12");
    assert_eq!(ic.header.sender, IsaId::received("12", "SENDERID"));
    assert_eq!(ic.header.receiver, IsaId::received("01", "787347434"));
    assert_eq!(
        (ic.delimiters.component, ic.delimiters.segment),
        (b'>', b'~')
    );
    assert_eq!(ic.groups[0].sets[0].segments.len(), 9);

    let ic = read("860-stupidedi-nissan-3010-ca.x12");
    assert_eq!(ic.header.sender, IsaId::received("01", "054481205PURP"));
    assert_eq!(
        (ic.delimiters.component, ic.delimiters.segment),
        (b'@', b'!')
    );
    assert!(ic.header.ack_requested);
    assert_eq!(ic.groups[0].version(), "003010");

    let ic = read("997-stupidedi-accept-824.x12");
    assert_eq!(ic.header.sender, IsaId::received("01", "XXXXXX"));
    assert_eq!(
        (ic.delimiters.component, ic.delimiters.segment),
        (b'`', b'\n')
    );
    let v = validate(&ic, &ic.header.sender, PocReading::BeforeAfter);
    let [ack] = v.acknowledgments.as_slice() else {
        panic!("{:?}", v.acknowledgments);
    };
    assert_eq!(
        (ack.functional_id.as_str(), ack.control_number.as_str()),
        ("AG", "160")
    );
    assert_eq!(
        (ack.status, ack.included, ack.received, ack.accepted),
        (GroupStatus::Accepted, 1, 1, 1)
    );
    assert_eq!(
        ack.sets
            .iter()
            .map(|s| (s.set_id.as_str(), s.control_number.as_str(), s.status))
            .collect::<Vec<_>>(),
        [("824", "0160", SetStatus::Accepted)]
    );
}
