//! EDI on the local host: the sample documents of `events/edi/` dropped in
//! a company's inbound folder, picked up by the watcher of `dropship
//! serve`, answered with 997s; partners' cancellations sent out as 860s and
//! 865s by the notifier.

use std::path::{Path, PathBuf};

use crate::common::*;
use domain::{CancellationKind, ReasonCode, Role, Source};
use local::edi::EdiWatcher;
use local::seed::{self, SeedFile};
use local::worker::{OutboxWorker, local_notifier};
use platforms::client::PlatformHttp;
use serde_json::json;
use service::app::Core;
use service::edi::EdiService;
use service::store::Orders;
use sqlite::EmbeddedStore;

struct Host {
    app: Services<EmbeddedStore>,
    watcher: EdiWatcher<EmbeddedStore>,
    worker: OutboxWorker<local::outbox::EmlOutbox, local::sync::LocalStoreSync>,
    store: EmbeddedStore,
    edi: PathBuf,
    _dir: tempfile::TempDir,
}

async fn host() -> Host {
    let store = EmbeddedStore::in_memory().unwrap();
    let app = seeded(store.clone()).await;
    let text = std::fs::read_to_string(events_dir().join("edi/seed.json")).unwrap();
    seed::apply(&store, &SeedFile::parse(&text).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let edi = local::edi::edi_dir(dir.path());
    let ports = local::edi::ports(&store, &edi, edi::IsaId::dropship());
    let mut watcher = EdiWatcher::new(
        EdiService::new(Core::new(store.clone()), ports.clone()),
        &edi,
    );
    watcher.settle = std::time::Duration::ZERO;
    let worker = OutboxWorker::new(
        local_notifier(
            store.clone(),
            &dir.path().join("outbox"),
            "from@dropship.example",
            PlatformHttp::default(),
        )
        .with_edi(ports),
    );
    Host {
        app,
        watcher,
        worker,
        store,
        edi,
        _dir: dir,
    }
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(events_dir().join("edi").join(name)).unwrap()
}

fn drop_in(h: &Host, company: &str, name: &str, bytes: &[u8]) {
    let dir = h.edi.join("inbound").join(company);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The outbound documents of `company` whose names end in `-<set>.x12`,
/// parsed, in control-number order.
fn outbound(h: &Host, company: &str, set: &str) -> Vec<edi::Interchange> {
    let dir = h.edi.join("outbound").join(company);
    files(&dir)
        .into_iter()
        .filter(|f| f.ends_with(&format!("-{set}.x12")))
        .map(|f| edi::parse_interchange(&std::fs::read(dir.join(f)).unwrap()).unwrap())
        .collect()
}

/// AK9's status of a 997 interchange, and each AK5's.
fn ack_status(ic: &edi::Interchange) -> (String, Vec<String>) {
    let segs: Vec<&edi::Segment> = ic.groups[0].sets[0].segments.iter().collect();
    let of = |id: &str| -> Vec<String> {
        segs.iter()
            .filter(|s| s.id == id)
            .map(|s| s.element(1).to_owned())
            .collect()
    };
    (of("AK9").concat(), of("AK5"))
}

async fn cancelled(h: &Host, order: &str) -> Vec<u32> {
    h.store
        .order(order)
        .await
        .unwrap()
        .unwrap()
        .line_items
        .iter()
        .map(|l| l.cancelled)
        .collect()
}

#[tokio::test]
async fn each_sample_is_applied_once_and_answered_with_a_997() {
    let h = host().await;
    // The buyer cancels PO-1001 whole.
    drop_in(
        &h,
        "buyer-edi",
        "860-cancel-order.x12",
        &sample("860-cancel-order.x12"),
    );
    assert_eq!(h.watcher.pass().await.processed, 1);
    assert_eq!(cancelled(&h, "ord_edi_1001").await, [2, 1]);
    let rec = h.store.order_record("ord_edi_1001").await.unwrap().unwrap();
    let c = &rec.cancellations[0];
    assert_eq!(
        (c.source, c.initiated_by, c.kind),
        (Source::Edi, Role::Buyer, CancellationKind::Order)
    );
    assert_eq!(
        c.items[0].reason.as_deref(),
        Some("Customer changed their mind")
    );
    // Its N9*L1*CUSTOMER-REQUEST is our code in its X12 form.
    assert!(
        c.items
            .iter()
            .all(|i| i.reason_code == ReasonCode::CustomerRequest)
    );
    assert!(files(&h.edi.join("inbound/buyer-edi")).is_empty());
    assert_eq!(
        files(&h.edi.join("processed/buyer-edi")),
        ["860-cancel-order.x12"]
    );
    let acks = outbound(&h, "buyer-edi", "997");
    assert_eq!(acks.len(), 1);
    assert_eq!(ack_status(&acks[0]), ("A".into(), vec!["A".into()]));
    assert_eq!(acks[0].header.receiver.id(), "ACMEEDI");
    assert_eq!(acks[0].header.sender.id(), "DROPSHIP");

    // The same document again changes nothing, and is answered again.
    drop_in(
        &h,
        "buyer-edi",
        "860-cancel-order.x12",
        &sample("860-cancel-order.x12"),
    );
    h.watcher.pass().await;
    let rec = h.store.order_record("ord_edi_1001").await.unwrap().unwrap();
    assert_eq!(rec.cancellations.len(), 1, "a repeated document is a no-op");
    assert_eq!(outbound(&h, "buyer-edi", "997").len(), 2);

    // Line changes: DI cancels the open units, QD and CA set a new total.
    drop_in(
        &h,
        "buyer-edi",
        "860-change-lines.x12",
        &sample("860-change-lines.x12"),
    );
    h.watcher.pass().await;
    assert_eq!(cancelled(&h, "ord_edi_1002").await, [2, 2, 1]);

    // The seller's 855 (IA, IR, IQ by position) and 865 (DI, QD).
    drop_in(
        &h,
        "seller-edi",
        "855-ack-lines.x12",
        &sample("855-ack-lines.x12"),
    );
    drop_in(
        &h,
        "seller-edi",
        "865-seller-change.x12",
        &sample("865-seller-change.x12"),
    );
    assert_eq!(h.watcher.pass().await.processed, 2);
    assert_eq!(cancelled(&h, "ord_edi_1003").await, [0, 1, 2]);
    assert_eq!(cancelled(&h, "ord_edi_1004").await, [1, 3]);
    let rec = h.store.order_record("ord_edi_1004").await.unwrap().unwrap();
    assert_eq!(rec.cancellations[0].initiated_by, Role::Seller);
    assert_eq!(
        rec.cancellations[0].items[0].reason.as_deref(),
        Some("Discontinued by the manufacturer")
    );
    assert!(
        rec.cancellations[0]
            .items
            .iter()
            .all(|i| i.reason_code == ReasonCode::Discontinued)
    );
    // The 855 has no code of ours in its N9 and rejects by IR, whose cause
    // 004010 does not say; IQ neither.
    let rec = h.store.order_record("ord_edi_1003").await.unwrap().unwrap();
    assert!(
        rec.cancellations[0]
            .items
            .iter()
            .all(|i| i.reason_code == ReasonCode::Other)
    );
    let seller_acks = outbound(&h, "seller-edi", "997");
    assert_eq!(seller_acks.len(), 2);
    assert!(seller_acks.iter().all(|a| ack_status(a).0 == "A"));

    // Control numbers to a partner never repeat.
    let numbers: Vec<u32> = outbound(&h, "buyer-edi", "997")
        .iter()
        .map(|i| i.header.control_number)
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
}

#[tokio::test]
async fn a_wrong_sender_or_another_companys_order_is_rejected_and_changes_nothing() {
    let h = host().await;
    drop_in(
        &h,
        "buyer-edi",
        "860-wrong-sender.x12",
        &sample("860-wrong-sender.x12"),
    );
    h.watcher.pass().await;
    let acks = outbound(&h, "buyer-edi", "997");
    assert_eq!(ack_status(&acks[0]).0, "R");
    assert_eq!(cancelled(&h, "ord_edi_1001").await, [0, 0]);

    // PO-1003 is buyer-api's order, not buyer-edi's: the set is sound X12
    // (997 accepted) and refused for the business (824), nothing changes.
    let text = String::from_utf8(sample("860-cancel-order.x12"))
        .unwrap()
        .replace("PO-1001", "PO-1003");
    drop_in(&h, "buyer-edi", "860-other.x12", text.as_bytes());
    h.watcher.pass().await;
    let acks = outbound(&h, "buyer-edi", "997");
    assert_eq!(ack_status(&acks[1]), ("A".into(), vec!["A".into()]));
    assert_eq!(cancelled(&h, "ord_edi_1003").await, [0, 0, 0]);
    let advice = outbound(&h, "buyer-edi", "824");
    assert_eq!(advice.len(), 1);
    let segs = &advice[0].groups[0].sets[0].segments;
    let oti = segs.iter().find(|s| s.id == "OTI").unwrap();
    assert_eq!(
        (
            oti.element(1),
            oti.element(2),
            oti.element(3),
            oti.element(10)
        ),
        ("TR", "PO", "PO-1003", "860")
    );
    let ted = segs.iter().find(|s| s.id == "TED").unwrap();
    assert_eq!(ted.element(1), "POI");

    // A line whose SKU is not the one its id names: the set is refused
    // whole (824 naming the POC), none of its lines changes.
    let text = String::from_utf8(sample("860-change-lines.x12"))
        .unwrap()
        .replace("SK*BIRCH-MUG-01", "SK*BIRCH-CUP-09");
    drop_in(&h, "buyer-edi", "860-other-sku.x12", text.as_bytes());
    h.watcher.pass().await;
    let acks = outbound(&h, "buyer-edi", "997");
    assert_eq!(ack_status(&acks[2]).0, "A");
    assert_eq!(cancelled(&h, "ord_edi_1002").await, [0, 0, 0]);
    let advice = outbound(&h, "buyer-edi", "824");
    let ted = advice[1].groups[0].sets[0]
        .segments
        .iter()
        .find(|s| s.id == "TED")
        .unwrap();
    assert_eq!(
        (ted.element(1), ted.element(3), ted.element(4)),
        ("IID", "POC", "5")
    );

    // An 860 is a buyer's document: from a seller's folder it is refused.
    drop_in(&h, "seller-edi", "860.x12", &sample("860-cancel-order.x12"));
    h.watcher.pass().await;
    let acks = outbound(&h, "seller-edi", "997");
    assert_eq!(
        ack_status(&acks[0]).0,
        "R",
        "sent by BIRCHEDI's folder, from ACMEEDI"
    );

    // Not an interchange at all: set aside, nothing written back.
    drop_in(&h, "seller-edi", "junk.x12", b"hello");
    assert_eq!(h.watcher.pass().await.processed, 1);
    assert_eq!(outbound(&h, "seller-edi", "997").len(), 1);
    assert!(files(&h.edi.join("processed/seller-edi")).contains(&"junk.x12".to_owned()));
}

#[tokio::test]
async fn edi_partners_hear_of_cancellations_as_860s_and_865s_once() {
    let mut h = host().await;
    // buyer-api cancels a line of PO-1003: its EDI seller gets an 860.
    let body = json!({"items": [{"line_item_id": "li_3", "quantity": 2, "reason": "Too many"}]});
    let r = call(
        &h.app,
        "POST",
        "/v1/orders/ord_edi_1003/cancellations",
        Some(BUYER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // seller-api cancels PO-1002 whole, coded: its EDI buyer gets an 865.
    let r = call(
        &h.app,
        "POST",
        "/v1/orders/ord_edi_1002/cancellations",
        Some(SELLER),
        Some(&json!({"reason_code": "out_of_stock", "reason": "Warehouse empty"}).to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    h.worker.drain().await.unwrap();
    h.worker.drain().await.unwrap();

    let to_seller = outbound(&h, "seller-edi", "860");
    assert_eq!(to_seller.len(), 1, "once");
    let segs = &to_seller[0].groups[0].sets[0].segments;
    let bch = segs.iter().find(|s| s.id == "BCH").unwrap();
    assert_eq!((bch.element(1), bch.element(3)), ("04", "PO-1003"));
    let poc = segs.iter().find(|s| s.id == "POC").unwrap();
    // Line 3 (its buyer line ref) now 3 of 5: a quantity decrease from 5
    // to 3, POC03 before and POC04 after as X12 reads them.
    assert_eq!(
        (
            poc.element(1),
            poc.element(2),
            poc.element(3),
            poc.element(4)
        ),
        ("3", "QD", "5", "3")
    );
    assert_eq!(to_seller[0].header.control_number, 1);
    assert_eq!(to_seller[0].header.receiver.id(), "BIRCHEDI");

    let to_buyer = outbound(&h, "buyer-edi", "865");
    assert_eq!(to_buyer.len(), 1);
    let bca = to_buyer[0].groups[0].sets[0]
        .segments
        .iter()
        .find(|s| s.id == "BCA")
        .unwrap();
    assert_eq!((bca.element(1), bca.element(3)), ("01", "PO-1002"));
    // The reason as the partner reads it: the code's label, the note, and
    // the code; an uncoded one (from before codes, or only text) as `other`.
    let msg = |ic: &edi::Interchange| {
        let segs = &ic.groups[0].sets[0].segments;
        segs.iter()
            .find(|s| s.id == "MSG")
            .unwrap()
            .element(1)
            .to_owned()
    };
    assert_eq!(
        msg(&to_buyer[0]),
        "Out of stock: Warehouse empty (code out_of_stock)"
    );
    assert_eq!(msg(&to_seller[0]), "Too many (code other)");
    // The code in the reason loop's N9, in X12's basic character set.
    let n9 = |ic: &edi::Interchange| {
        let segs = &ic.groups[0].sets[0].segments;
        segs.iter()
            .filter(|s| s.id == "N9")
            .map(|s| format!("{}*{}", s.element(1), s.element(2)))
            .collect::<Vec<_>>()
    };
    assert_eq!(n9(&to_buyer[0]), ["L1*OUT-OF-STOCK"]);
    assert_eq!(n9(&to_seller[0]), ["L1*OTHER"]);
    // Each document read back is a valid interchange from us.
    for ic in to_seller.iter().chain(&to_buyer) {
        let v = edi::validate(ic, &ic.header.sender, edi::PocReading::default());
        assert!(v.ack.error.is_none(), "{:?}", v.ack.error);
    }
}

#[tokio::test]
async fn a_new_file_that_reuses_control_numbers_is_still_applied() {
    let h = host().await;
    drop_in(&h, "buyer-edi", "a.x12", &sample("860-cancel-order.x12"));
    h.watcher.pass().await;
    // The same ISA13, GS06 and ST02, another PO: not a repeat.
    let text = String::from_utf8(sample("860-cancel-order.x12"))
        .unwrap()
        .replace("PO-1001", "PO-1002");
    drop_in(&h, "buyer-edi", "b.x12", text.as_bytes());
    h.watcher.pass().await;
    assert_eq!(cancelled(&h, "ord_edi_1001").await, [2, 1]);
    assert_eq!(cancelled(&h, "ord_edi_1002").await, [2, 5, 2]);
}

#[tokio::test]
async fn a_file_processed_again_after_a_crash_is_answered_once() {
    let h = host().await;
    let bytes = sample("860-cancel-order.x12");
    drop_in(&h, "buyer-edi", "860.x12", &bytes);
    let inbound = h.edi.join("inbound/buyer-edi/860.x12");
    let written = std::fs::metadata(&inbound).unwrap().modified().unwrap();
    h.watcher.pass().await;
    assert_eq!(outbound(&h, "buyer-edi", "997").len(), 1);

    // The host died after answering, before moving the file aside: the
    // same file (name, size, time) is there again and processed again.
    std::fs::write(&inbound, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&inbound)
        .unwrap()
        .set_modified(written)
        .unwrap();
    h.watcher.pass().await;
    let acks = outbound(&h, "buyer-edi", "997");
    assert_eq!(
        acks.iter()
            .map(|i| i.header.control_number)
            .collect::<Vec<_>>(),
        [1],
        "a second 997 for one file"
    );
    assert_eq!(cancelled(&h, "ord_edi_1001").await, [2, 1]);

    // The partner sending the same bytes again is another file.
    drop_in(&h, "buyer-edi", "860.x12", &bytes);
    std::fs::File::options()
        .write(true)
        .open(&inbound)
        .unwrap()
        .set_modified(written - std::time::Duration::from_secs(1))
        .unwrap();
    h.watcher.pass().await;
    assert_eq!(outbound(&h, "buyer-edi", "997").len(), 2);
}

#[tokio::test]
async fn a_partners_own_reason_codes_are_read_and_written() {
    use service::store::Companies;
    let mut h = host().await;
    let mut seller = h.store.company("seller-edi").await.unwrap().unwrap();
    if let Some(e) = seller.edi.as_mut() {
        e.reason_codes = [
            (ReasonCode::Discontinued, "DC".to_owned()),
            (ReasonCode::Fraud, "FR".to_owned()),
        ]
        .into();
    }
    h.store.put_company(&seller).await.unwrap();

    // Its 865 names discontinued by its own code, in any case.
    let text = String::from_utf8(sample("865-seller-change.x12"))
        .unwrap()
        .replace("N9*L1*DISCONTINUED", "N9*L1*dc");
    drop_in(&h, "seller-edi", "865.x12", text.as_bytes());
    assert_eq!(h.watcher.pass().await.processed, 1);
    let rec = h.store.order_record("ord_edi_1004").await.unwrap().unwrap();
    assert!(
        rec.cancellations[0]
            .items
            .iter()
            .all(|i| i.reason_code == ReasonCode::Discontinued)
    );

    // Its buyer cancels for fraud: the 860 says so by its code.
    let body = json!({"items": [{"line_item_id": "li_3", "quantity": 1, "reason_code": "fraud"}]});
    let r = call(
        &h.app,
        "POST",
        "/v1/orders/ord_edi_1003/cancellations",
        Some(BUYER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    h.worker.drain().await.unwrap();
    let sent = outbound(&h, "seller-edi", "860");
    assert_eq!(sent.len(), 1);
    let segs = &sent[0].groups[0].sets[0].segments;
    let n9: Vec<_> = segs.iter().filter(|s| s.id == "N9").collect();
    assert_eq!(n9.len(), 1);
    assert_eq!((n9[0].element(1), n9[0].element(2)), ("L1", "FR"));
    let msg = segs.iter().find(|s| s.id == "MSG").unwrap();
    assert_eq!(msg.element(1), "Suspected fraud (code fraud)");
}
