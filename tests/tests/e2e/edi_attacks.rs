//! EDI under attack, through the local host (SQLite and the folder
//! watcher): a partner's document reaches only its own trading
//! relationship, even when another buyer uses the same PO number; files
//! over the limits are refused without being held in memory; one
//! partner's large file does not hold up another's; what a partner sees
//! or sends cannot leak our paths nor forge our logs.
//!
//! The tests run one at a time (`SERIAL`): two of them measure the peak
//! memory of the process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::common::*;
use local::edi::EdiWatcher;
use local::seed::{self, SeedFile};
use local::worker::{OutboxWorker, local_notifier};
use platforms::client::PlatformHttp;
use serde_json::{Value, json};
use service::app::Core;
use service::edi::ControlNumbers;
use service::edi::EdiService;
use service::events::Pending;
use service::store::{Orders, StatusFilter};
use sqlite::EmbeddedStore;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Control numbers as the store gives them, with the order in which
/// partners asked for them: a partner asks once its file is worked
/// through, just before its answers are written.
struct Numbers {
    inner: Arc<dyn ControlNumbers>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ControlNumbers for Numbers {
    fn next<'a>(&'a self, company_id: &'a str) -> Pending<'a, u32, service::edi::NumberError> {
        self.asked.lock().unwrap().push(company_id.to_owned());
        self.inner.next(company_id)
    }
}

struct Host {
    app: Services<EmbeddedStore>,
    watcher: EdiWatcher<EmbeddedStore>,
    worker: OutboxWorker<local::outbox::EmlOutbox, local::sync::LocalStoreSync>,
    store: EmbeddedStore,
    edi: PathBuf,
    data: PathBuf,
    asked: Arc<Mutex<Vec<String>>>,
    _serial: tokio::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
}

/// The demo and EDI seeds, and `extra` (a seed file's JSON), in a store
/// on disk.
async fn host(extra: Value) -> Host {
    let serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = EmbeddedStore::open_dir(&data).unwrap();
    let app = seeded(store.clone()).await;
    let text = std::fs::read_to_string(events_dir().join("edi/seed.json")).unwrap();
    seed::apply(&store, &SeedFile::parse(&text).unwrap())
        .await
        .unwrap();
    seed::apply(&store, &SeedFile::parse(&extra.to_string()).unwrap())
        .await
        .unwrap();
    let edi = local::edi::edi_dir(dir.path());
    let mut ports = local::edi::ports(&store, &edi, edi::IsaId::dropship());
    let asked = Arc::new(Mutex::new(Vec::new()));
    ports.numbers = Arc::new(Numbers {
        inner: ports.numbers.clone(),
        asked: asked.clone(),
    });
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
        data,
        asked,
        _serial: serial,
        _dir: dir,
    }
}

fn no_extra() -> Value {
    json!({})
}

/// A seed order of one line `li_1` (buyer line ref `1`, SKU `sku`).
fn order(id: &str, buyer: &str, seller: &str, po: &str, sku: &str, quantity: u32) -> Value {
    json!({
        "id": id, "buyer_id": buyer, "seller_id": seller, "buyer_order_ref": po,
        "created_at": "2026-03-05T09:00:00Z",
        "line_items": [{"id": "li_1", "sku": sku, "title": sku, "quantity": quantity, "buyer_line_ref": "1"}]
    })
}

/// An interchange from `from` to `to` (ISA06/ISA08 and GS02/GS03), one
/// group of `sets` (each its segments between ST and SE) of `kind`.
fn interchange(from: &str, to: &str, kind: &str, sets: &[Vec<String>], ta1: bool) -> String {
    let functional = match kind {
        "860" => "PC",
        "855" => "PR",
        _ => "CA",
    };
    let mut x = format!(
        "ISA*00*          *00*          *ZZ*{from:<15}*ZZ*{to:<15}*260313*1100*U*00401*000000301*{}*P*>~\n\
         GS*{functional}*{from}*{to}*20260313*1100*301*X*004010~\n",
        u8::from(ta1)
    );
    for (n, body) in sets.iter().enumerate() {
        let control = format!("{:04}", n + 1);
        x.push_str(&format!("ST*{kind}*{control}~\n"));
        for s in body {
            x.push_str(s);
            x.push_str("~\n");
        }
        x.push_str(&format!("SE*{}*{control}~\n", body.len() + 2));
    }
    x.push_str(&format!("GE*{}*301~\nIEA*1*000000301~\n", sets.len()));
    x
}

fn segs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn drop_in(h: &Host, company: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = h.edi.join("inbound").join(company);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    dir.join(name)
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

/// Every segment `id` of an answer's first set.
fn segments<'a>(ic: &'a edi::Interchange, id: &str) -> Vec<&'a edi::Segment> {
    ic.groups[0].sets[0]
        .segments
        .iter()
        .filter(|s| s.id == id)
        .collect()
}

/// AK9's status of a 997, and each AK5's.
fn ack_status(ic: &edi::Interchange) -> (String, Vec<String>) {
    let of = |id: &str| -> Vec<String> {
        segments(ic, id)
            .iter()
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

/// Every reason given on the order's cancellations.
async fn reasons(h: &Host, order: &str) -> Vec<String> {
    h.store
        .order_record(order)
        .await
        .unwrap()
        .unwrap()
        .cancellations
        .iter()
        .flat_map(|c| c.items.iter().map(domain::CancelledItem::reason_text))
        .collect()
}

/// The process's peak resident memory (VmHWM), in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Resets the peak to the current resident memory (Linux `clear_refs`).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

#[tokio::test]
async fn a_sellers_document_reaches_only_the_buyer_it_names() {
    // Two buyers have each an order PO-7777 and PO-8888 with seller-edi.
    let h = host(json!({"orders": [
        order("ord_7777_edi", "buyer-edi", "seller-edi", "PO-7777", "SKU-7", 4),
        order("ord_7777_api", "buyer-api", "seller-edi", "PO-7777", "SKU-7", 4),
        order("ord_8888_edi", "buyer-edi", "seller-edi", "PO-8888", "SKU-8", 2),
        order("ord_8888_api", "buyer-api", "seller-edi", "PO-8888", "SKU-8", 2),
    ]}))
    .await;

    // Naming no buyer: refused (824, PO invalid), applied to neither.
    let x = interchange(
        "BIRCHEDI",
        "DROPSHIP",
        "865",
        &[segs(&[
            "BCA*01*AC*PO-8888***20260304",
            "N9*L1*REASON",
            "MSG*Nobody named",
        ])],
        false,
    );
    drop_in(&h, "seller-edi", "1.x12", x.as_bytes());
    assert_eq!(h.watcher.pass().await.processed, 1);
    assert_eq!(cancelled(&h, "ord_8888_edi").await, [0]);
    assert_eq!(cancelled(&h, "ord_8888_api").await, [0]);
    let advice = outbound(&h, "seller-edi", "824");
    assert_eq!(advice.len(), 1);
    assert_eq!(segments(&advice[0], "OTI")[0].element(3), "PO-8888");
    assert_eq!(segments(&advice[0], "TED")[0].element(1), "POI");

    // An 855 rejecting the order, naming buyer-edi by its ISA id in N1.
    let x = interchange(
        "BIRCHEDI",
        "DROPSHIP",
        "855",
        &[segs(&[
            "BAK*00*RJ*PO-8888*20260304",
            "N1*BY*Big Box Stores*ZZ*ACMEEDI",
            "N9*L1*REASON",
            "MSG*Rejected for Big Box only",
        ])],
        false,
    );
    drop_in(&h, "seller-edi", "2.x12", x.as_bytes());
    h.watcher.pass().await;
    assert_eq!(cancelled(&h, "ord_8888_edi").await, [2]);
    assert_eq!(
        cancelled(&h, "ord_8888_api").await,
        [0],
        "the other buyer's"
    );
    assert!(reasons(&h, "ord_8888_api").await.is_empty());

    // An 865 cancelling PO-7777 addressed to buyer-edi (ISA08, GS03).
    let x = interchange(
        "BIRCHEDI",
        "ACMEEDI",
        "865",
        &[segs(&[
            "BCA*01*AC*PO-7777***20260304",
            "N9*L1*REASON",
            "MSG*Big Box account closed",
        ])],
        false,
    );
    drop_in(&h, "seller-edi", "3.x12", x.as_bytes());
    h.watcher.pass().await;
    assert_eq!(cancelled(&h, "ord_7777_edi").await, [4]);
    assert_eq!(
        reasons(&h, "ord_7777_edi").await,
        ["Big Box account closed"]
    );
    assert_eq!(
        cancelled(&h, "ord_7777_api").await,
        [0],
        "the other buyer's"
    );
    assert!(
        reasons(&h, "ord_7777_api").await.is_empty(),
        "no reason leaks"
    );

    // An 865 cancelling line 1 of PO-7777, naming buyer-api by its id.
    let x = interchange(
        "BIRCHEDI",
        "DROPSHIP",
        "865",
        &[segs(&[
            "BCA*04*AC*PO-7777***20260304",
            "N9*L1*REASON",
            "MSG*Discontinued for Acme",
            "N1*BY*Acme Home*92*buyer-api",
            "POC*1*DI*4*0*EA***SK*SKU-7",
        ])],
        false,
    );
    drop_in(&h, "seller-edi", "4.x12", x.as_bytes());
    h.watcher.pass().await;
    assert_eq!(cancelled(&h, "ord_7777_api").await, [4]);
    assert_eq!(reasons(&h, "ord_7777_api").await, ["Discontinued for Acme"]);
    assert_eq!(
        reasons(&h, "ord_7777_edi").await,
        ["Big Box account closed"]
    );

    // PO-1001 is between buyer-edi and seller-api: seller-edi does not
    // trade on it, even naming its buyer. Refused, nothing changes.
    let x = interchange(
        "BIRCHEDI",
        "DROPSHIP",
        "865",
        &[segs(&[
            "BCA*01*AC*PO-1001***20260304",
            "N1*BY*Big Box Stores*ZZ*ACMEEDI",
            "N9*L1*REASON",
            "MSG*Not my order",
        ])],
        false,
    );
    drop_in(&h, "seller-edi", "5.x12", x.as_bytes());
    h.watcher.pass().await;
    assert_eq!(cancelled(&h, "ord_edi_1001").await, [0, 0]);
    assert!(reasons(&h, "ord_edi_1001").await.is_empty());
    let advice = outbound(&h, "seller-edi", "824");
    assert_eq!(advice.len(), 2);
    assert_eq!(segments(&advice[1], "OTI")[0].element(3), "PO-1001");
    assert_eq!(segments(&advice[1], "TED")[0].element(1), "POI");

    // Every file was sound X12: each 997 accepts.
    let acks = outbound(&h, "seller-edi", "997");
    assert_eq!(acks.len(), 5);
    assert!(acks.iter().all(|a| ack_status(a).0 == "A"));
}

#[tokio::test]
async fn a_buyer_squatting_another_buyers_po_does_not_block_the_sellers_changes() {
    let h = host(json!({"companies": [{
        "id": "buyer-other", "name": "Other Buyer", "role": "buyer", "integration": "api",
        "email": "orders@other.example", "api_keys": ["other-buyer-key"]
    }]}))
    .await;
    // buyer-other orders from seller-edi under buyer-api's PO-1004, and
    // buyer-api under buyer-edi's PO-55120, with the same lines.
    let squat = |po: &str, lines: Value| json!({"seller_id": "seller-edi", "buyer_order_ref": po, "line_items": lines});
    let body = squat(
        "PO-1004",
        json!([
            {"id": "li_1", "sku": "LAMP-01", "quantity": 1, "buyer_line_ref": "1"},
            {"id": "li_2", "sku": "BULB-02", "quantity": 4, "buyer_line_ref": "2"}
        ]),
    );
    let r = call(
        &h.app,
        "POST",
        "/v1/orders",
        Some("other-buyer-key"),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let squatter_1004 = r.body["id"].as_str().unwrap().to_owned();
    let body = squat(
        "PO-55120",
        json!([
            {"id": "li_1", "sku": "TOWEL-GRY", "quantity": 12},
            {"id": "li_2", "sku": "MAT-BATH", "quantity": 6}
        ]),
    );
    let r = call(
        &h.app,
        "POST",
        "/v1/orders",
        Some(BUYER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let squatter_55120 = r.body["id"].as_str().unwrap().to_owned();

    // The seller's 865 for PO-1004 (the sample), naming buyer-api in N1.
    let text =
        String::from_utf8(std::fs::read(events_dir().join("edi/865-seller-change.x12")).unwrap())
            .unwrap()
            .replace("POC*1*", "N1*BY*Acme Home*92*buyer-api~\nPOC*1*")
            .replace("SE*8*0001", "SE*9*0001");
    drop_in(&h, "seller-edi", "865.x12", text.as_bytes());
    h.watcher.pass().await;
    assert_eq!(cancelled(&h, "ord_edi_1004").await, [1, 3]);
    assert_eq!(cancelled(&h, &squatter_1004).await, [0, 0]);
    assert!(reasons(&h, &squatter_1004).await.is_empty());

    // The seller's cancellation of PO-55120 addressed to buyer-edi.
    let x = interchange(
        "BIRCHEDI",
        "ACMEEDI",
        "865",
        &[segs(&[
            "BCA*01*AC*PO-55120***20260304",
            "N9*L1*REASON",
            "MSG*Out of stock",
        ])],
        false,
    );
    drop_in(&h, "seller-edi", "865-b.x12", x.as_bytes());
    h.watcher.pass().await;
    assert_eq!(cancelled(&h, "ord_demo_edi").await, [12, 6]);
    assert_eq!(cancelled(&h, &squatter_55120).await, [0, 0]);
    assert!(reasons(&h, &squatter_55120).await.is_empty());
    assert!(
        outbound(&h, "seller-edi", "824").is_empty(),
        "nothing refused"
    );
    let acks = outbound(&h, "seller-edi", "997");
    assert!(
        acks.iter()
            .all(|a| ack_status(a) == ("A".into(), vec!["A".into()]))
    );
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_from_its_size_without_being_read() {
    let h = host(no_extra()).await;
    // A valid ISA asking for a TA1, then 512 MiB of (sparse) zeros.
    let isa = interchange("ACMEEDI", "DROPSHIP", "860", &[], true);
    let path = drop_in(&h, "buyer-edi", "huge.x12", &isa.as_bytes()[..107]);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    reset_peak();
    let before = peak_kib();
    assert_eq!(h.watcher.pass().await.processed, 1);
    let grew = peak_kib().saturating_sub(before);
    assert!(grew < 128 << 10, "peak memory grew by {grew} KiB");

    assert_eq!(files(&h.edi.join("processed/buyer-edi")), ["huge.x12"]);
    assert!(outbound(&h, "buyer-edi", "997").is_empty());
    let ta1 = outbound(&h, "buyer-edi", "TA1");
    assert_eq!(ta1.len(), 1);
    let seg = &ta1[0].ta1s[0];
    assert_eq!(
        (seg.element(1), seg.element(4), seg.element(5)),
        ("000000301", "R", "024")
    );
}

#[tokio::test]
async fn a_segment_of_millions_of_empty_elements_is_refused_in_bounded_memory() {
    let h = host(no_extra()).await;
    // One N9 of about ten million empty elements, the file exactly at
    // the byte limit.
    let head = "ISA*00*          *00*          *ZZ*ACMEEDI        *ZZ*DROPSHIP       *260310*0930*U*00401*000000101*0*P*>~\
                GS*PC*ACMEEDI*DROPSHIP*20260310*0930*101*X*004010~\
                ST*860*0001~\
                BCH*01*SA*PO-1001***20260301~\
                N9*L1";
    let tail = "~SE*4*0001~GE*1*101~IEA*1*000000101~";
    let stars = edi::MAX_BYTES - head.len() - tail.len();
    let mut bytes = Vec::with_capacity(edi::MAX_BYTES);
    bytes.extend_from_slice(head.as_bytes());
    bytes.resize(head.len() + stars, b'*');
    bytes.extend_from_slice(tail.as_bytes());
    assert_eq!(bytes.len(), edi::MAX_BYTES);
    drop_in(&h, "buyer-edi", "wide.x12", &bytes);
    drop(bytes);

    reset_peak();
    let before = peak_kib();
    assert_eq!(h.watcher.pass().await.processed, 1);
    let grew = peak_kib().saturating_sub(before);
    assert!(grew < 100 << 10, "peak memory grew by {grew} KiB");

    // The set is rejected (AK4: too many data elements), nothing changes.
    let acks = outbound(&h, "buyer-edi", "997");
    assert_eq!(ack_status(&acks[0]), ("R".into(), vec!["R".into()]));
    let ak3 = segments(&acks[0], "AK3");
    assert_eq!((ak3[0].element(1), ak3[0].element(2)), ("N9", "3"));
    assert_eq!(segments(&acks[0], "AK4")[0].element(3), "3");
    assert_eq!(cancelled(&h, "ord_edi_1001").await, [0, 0]);
}

#[tokio::test]
async fn a_partners_large_file_does_not_hold_up_anothers() {
    let h = host(no_extra()).await;
    // buyer-edi (worked on first by name) sends 3,000 sets; seller-edi one.
    let set = segs(&[
        "BCH*01*SA*PO-1001***20260301",
        "N9*L1*REASON",
        "MSG*Customer changed their mind",
    ]);
    let big = interchange("ACMEEDI", "DROPSHIP", "860", &vec![set; 3000], false);
    drop_in(&h, "buyer-edi", "big.x12", big.as_bytes());
    drop_in(
        &h,
        "seller-edi",
        "small.x12",
        &std::fs::read(events_dir().join("edi/865-seller-change.x12")).unwrap(),
    );
    assert_eq!(h.watcher.pass().await.processed, 2, "both in one pass");
    // seller-edi's file was worked through (its 997 numbered) while
    // buyer-edi's sets were still being applied.
    let asked = h.asked.lock().unwrap().clone();
    assert_eq!(asked, ["seller-edi", "buyer-edi"]);

    assert_eq!(cancelled(&h, "ord_edi_1004").await, [1, 3]);
    assert_eq!(cancelled(&h, "ord_edi_1001").await, [2, 1]);
    let acks = outbound(&h, "buyer-edi", "997");
    let (group, sets) = ack_status(&acks[0]);
    assert_eq!((group.as_str(), sets.len()), ("A", 3000));
}

#[tokio::test]
async fn a_sellers_set_reads_only_the_orders_with_its_po() {
    // seller-edi has 300 more orders, all but three of which cannot be
    // read: a set passes only if it reads no order but its PO's.
    let orders: Vec<Value> = (0..300)
        .map(|n| {
            order(
                &format!("ord_bulk_{n:03}"),
                "buyer-api",
                "seller-edi",
                &format!("PO-B{n:03}"),
                "BULK",
                3,
            )
        })
        .collect();
    let h = host(json!({ "orders": orders })).await;
    let db = rusqlite::Connection::open(h.data.join("dropship.sqlite3")).unwrap();
    let poisoned = db
        .execute(
            "UPDATE orders SET doc = 'not an order' WHERE id LIKE 'ord_bulk_%' \
             AND id NOT IN ('ord_bulk_010', 'ord_bulk_149', 'ord_bulk_151')",
            [],
        )
        .unwrap();
    assert_eq!(poisoned, 297);
    // Listing the seller's orders reads them, and fails.
    assert!(
        h.store
            .list_orders("seller-edi", StatusFilter::Any, 100, None)
            .await
            .is_err()
    );

    // Three sets, each for another of those POs: each is looked up by its
    // PO alone, so the poisoned order is never read.
    let sets: Vec<Vec<String>> = [10, 149, 151]
        .iter()
        .map(|n| {
            vec![
                format!("BCA*04*AC*PO-B{n:03}***20260304"),
                "POC*1*QD*3*1*EA***SK*BULK".to_owned(),
            ]
        })
        .collect();
    let x = interchange("BIRCHEDI", "DROPSHIP", "865", &sets, false);
    drop_in(&h, "seller-edi", "three.x12", x.as_bytes());
    let pass = h.watcher.pass().await;
    assert_eq!((pass.processed, pass.retried), (1, 0));
    for n in [10, 149, 151] {
        assert_eq!(cancelled(&h, &format!("ord_bulk_{n:03}")).await, [2]);
    }
    let acks = outbound(&h, "seller-edi", "997");
    assert_eq!(
        ack_status(&acks[0]),
        ("A".into(), vec!["A".into(), "A".into(), "A".into()])
    );
}

#[tokio::test]
async fn the_partner_sees_control_numbers_never_our_paths() {
    let mut h = host(no_extra()).await;
    // buyer-api cancels a line of PO-1003: seller-edi gets an 860.
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
    h.worker.drain().await.unwrap();
    assert_eq!(outbound(&h, "seller-edi", "860").len(), 1);

    let r = call(
        &h.app,
        "GET",
        "/v1/orders/ord_edi_1003/cancellations",
        Some(EDI_SELLER),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let edi = &r.body["cancellations"][0]["notifications"]["edi"];
    assert_eq!(edi["status"], "sent", "{edi}");
    let detail = edi["detail"].as_str().unwrap();
    assert!(detail.contains("000000001"), "{detail}");
    let root = h._dir.path().to_string_lossy().into_owned();
    for leak in [root.as_str(), "outbound", "seller-edi", ".x12", "/"] {
        assert!(!detail.contains(leak), "{detail} shows {leak}");
    }
}

#[tokio::test]
async fn a_file_name_cannot_forge_a_log_line() {
    let h = host(no_extra()).await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let name = "po.x12\nERROR forged: all orders deleted";
    drop_in(
        &h,
        "buyer-edi",
        name,
        &std::fs::read(events_dir().join("edi/860-cancel-order.x12")).unwrap(),
    );
    drop_in(&h, "buyer-edi", "junk\nERROR forged too", b"hello");
    assert_eq!(h.watcher.pass().await.processed, 2);
    assert_eq!(cancelled(&h, "ord_edi_1001").await, [2, 1]);

    let log = captured.text();
    assert!(log.contains(r"po.x12\nERROR forged"), "{log}");
    assert!(log.contains(r"junk\nERROR forged too"), "{log}");
    assert!(
        !log.lines().any(|l| l.starts_with("ERROR forged")),
        "a line begun by a file name:\n{log}"
    );
}
