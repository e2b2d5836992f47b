//! Partners' 997s matched to the 860s and 865s we sent them, on the local
//! host: a rejected document fails its notification and is sent again on
//! retry under a new control number; one never acknowledged turns overdue
//! (listed, counted) and is sent again too; an accepted one stays sent.

use std::path::PathBuf;

use crate::common::*;
use aws::emf::Captured;
use local::edi::EdiWatcher;
use local::seed::{self, SeedFile};
use local::worker::{OutboxWorker, local_notifier};
use platforms::client::PlatformHttp;
use serde_json::json;
use service::app::Core;
use service::edi::{AckState, EdiService, SentDocuments};
use service::ledger::{Channel, Ledger, LedgerEntry, Outcome};
use service::notify::Notifier;
use sqlite::EmbeddedStore;

type LocalNotifier = Notifier<EmbeddedStore, local::outbox::EmlOutbox, local::sync::LocalStoreSync>;

struct Host {
    app: Services<EmbeddedStore>,
    watcher: EdiWatcher<EmbeddedStore>,
    worker: OutboxWorker<local::outbox::EmlOutbox, local::sync::LocalStoreSync>,
    /// What an operator's `dropship notifications` runs.
    operator: LocalNotifier,
    store: EmbeddedStore,
    metrics: Captured,
    edi: PathBuf,
    _dir: tempfile::TempDir,
}

async fn host(ack_window: chrono::Duration) -> Host {
    let store = EmbeddedStore::in_memory().unwrap();
    let app = seeded(store.clone()).await;
    let text = std::fs::read_to_string(events_dir().join("edi/seed.json")).unwrap();
    seed::apply(&store, &SeedFile::parse(&text).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let edi = local::edi::edi_dir(dir.path());
    let mut ports = local::edi::ports(&store, &edi, edi::IsaId::dropship());
    ports.ack_window = ack_window;
    let (metrics, captured) = aws::emf::capture();
    let mut watcher = EdiWatcher::new(
        EdiService::new(
            Core::new(store.clone()).with_metrics(metrics),
            ports.clone(),
        ),
        &edi,
    );
    watcher.settle = std::time::Duration::ZERO;
    let notifier = |outbox: &str| {
        local_notifier(
            store.clone(),
            &dir.path().join(outbox),
            "from@dropship.example",
            PlatformHttp::default(),
        )
        .with_edi(ports.clone())
    };
    let worker = OutboxWorker::new(notifier("outbox"));
    let operator = notifier("outbox");
    Host {
        app,
        watcher,
        worker,
        operator,
        store,
        metrics: captured,
        edi,
        _dir: dir,
    }
}

/// buyer-api cancels units of PO-1003, whose seller is on EDI; the
/// cancellation's id.
async fn post_cancellation(h: &Host, units: u32) -> String {
    let body =
        json!({"items": [{"line_item_id": "li_3", "quantity": units, "reason": "Too many"}]});
    let r = call(
        &h.app,
        "POST",
        "/v1/orders/ord_edi_1003/cancellations",
        Some(BUYER),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A cancellation of PO-1003, notified: an 860 to its seller.
async fn cancel_a_line(h: &mut Host, units: u32) -> String {
    let c = post_cancellation(h, units).await;
    h.worker.drain().await.unwrap();
    c
}

/// The control numbers of the 860s in seller-edi's outbound folder.
fn sent_860s(h: &Host) -> Vec<u32> {
    let dir = h.edi.join("outbound/seller-edi");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-860.x12"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            edi::parse_interchange(&std::fs::read(dir.join(n)).unwrap())
                .unwrap()
                .header
                .control_number
        })
        .collect()
}

/// A 997 from seller-edi (BIRCHEDI) for our group `group` (GS06 = our
/// ISA13), with AK5/AK9 `status`, laid out as X12 004010 has it.
fn ack_997(own_control: u32, group: u32, status: &str) -> Vec<u8> {
    let accepted = if status == "R" { 0 } else { 1 };
    let ak5 = if status == "R" { "AK5*R*5" } else { "AK5*A" };
    format!(
        "ISA*00*          *00*          *ZZ*BIRCHEDI       *ZZ*DROPSHIP       *261207*1000*U*00401*{own_control:09}*0*P*>~\n\
         GS*FA*BIRCHEDI*DROPSHIP*20261207*1000*{own_control}*X*004010~\n\
         ST*997*0001~\n\
         AK1*PC*{group}~\n\
         AK2*860*0001~\n\
         {ak5}~\n\
         AK9*{status}*1*1*{accepted}~\n\
         SE*6*0001~\n\
         GE*1*{own_control}~\n\
         IEA*1*{own_control:09}~\n"
    )
    .into_bytes()
}

async fn deliver(h: &Host, name: &str, bytes: &[u8]) {
    let dir = h.edi.join("inbound/seller-edi");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    let pass = h.watcher.pass().await;
    assert_eq!((pass.processed, pass.retried), (1, 0));
}

async fn edi_entry(h: &Host, cancellation_id: &str) -> LedgerEntry {
    h.store
        .ledger_entries("ord_edi_1003")
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.cancellation_id == cancellation_id && e.channel == Channel::Edi)
        .expect("an EDI notification record")
}

fn unacknowledged_counts(h: &Host) -> Vec<String> {
    h.metrics
        .documents()
        .iter()
        .filter(|d| d.get("EdiDocumentsUnacknowledged").is_some())
        .map(|d| d["Result"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_rejected_860_fails_and_is_sent_again_under_a_new_control_number() {
    let mut h = host(service::edi::DEFAULT_ACK_WINDOW).await;
    let c = cancel_a_line(&mut h, 1).await;
    assert_eq!(sent_860s(&h), [1]);
    let doc = h
        .store
        .sent_document("seller-edi", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            doc.state,
            doc.cancellation_id.as_str(),
            doc.functional_id.as_str()
        ),
        (AckState::Awaiting, c.as_str(), "PC")
    );

    // A 997 for a group we never sent it, and one under another group's
    // functional id, settle nothing.
    deliver(&h, "997-unknown.x12", &ack_997(501, 77, "R")).await;
    let other = String::from_utf8(ack_997(502, 1, "R"))
        .unwrap()
        .replace("AK1*PC*", "AK1*PR*");
    deliver(&h, "997-other-group.x12", other.as_bytes()).await;
    assert_eq!(edi_entry(&h, &c).await.outcome, Some(Outcome::Sent));

    // The seller's translator rejects our 860.
    deliver(&h, "997-reject.x12", &ack_997(503, 1, "R")).await;
    let doc = h
        .store
        .sent_document("seller-edi", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.state, AckState::Rejected);
    let entry = edi_entry(&h, &c).await;
    assert_eq!(entry.outcome, Some(Outcome::Failed));
    let detail = entry.detail.unwrap_or_default();
    assert!(
        detail.contains("860 000000001") && detail.contains("AK9 R"),
        "{detail}"
    );
    assert_eq!(unacknowledged_counts(&h), ["rejected"]);

    // The operator's retry sends it again, numbered anew.
    h.operator.retry(&c, Some(Channel::Edi)).await.unwrap();
    assert_eq!(sent_860s(&h), [1, 2]);
    let again = h
        .store
        .sent_document("seller-edi", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.state, again.attempt), (AckState::Awaiting, 2));

    // Accepted: it stays sent. The rejection repeated changes nothing.
    deliver(&h, "997-accept.x12", &ack_997(504, 2, "A")).await;
    deliver(&h, "997-reject-again.x12", &ack_997(505, 1, "R")).await;
    let doc = h
        .store
        .sent_document("seller-edi", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.state, AckState::Accepted);
    assert_eq!(edi_entry(&h, &c).await.outcome, Some(Outcome::Sent));
    assert_eq!(unacknowledged_counts(&h), ["rejected"]);
}

#[tokio::test]
async fn an_860_never_acknowledged_turns_overdue_is_listed_and_sent_again() {
    let mut h = host(chrono::Duration::zero()).await;
    let first = cancel_a_line(&mut h, 1).await;
    let second = cancel_a_line(&mut h, 1).await;
    assert_eq!(sent_860s(&h), [1, 2]);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    // What `notifications list` shows before the periodic check has run.
    let overdue = h.operator.overdue_documents(10).await.unwrap();
    assert_eq!(
        overdue.iter().map(|d| d.control_number).collect::<Vec<_>>(),
        [1, 2]
    );

    // The periodic check settles both: failed, counted.
    assert_eq!(h.watcher.overdue().await, 2);
    assert_eq!(h.watcher.overdue().await, 0, "settled once");
    for c in [&first, &second] {
        let entry = edi_entry(&h, c).await;
        assert_eq!(entry.outcome, Some(Outcome::Failed));
        assert!(entry.detail.unwrap_or_default().contains("no 997 within"));
    }
    assert_eq!(unacknowledged_counts(&h), ["overdue", "overdue"]);
    assert!(h.operator.overdue_documents(10).await.unwrap().is_empty());

    // A retry sends the first again; a late 997 for the old number no
    // longer fails the new send.
    h.operator.retry(&first, None).await.unwrap();
    assert_eq!(sent_860s(&h), [1, 2, 3]);
    deliver(&h, "997-late.x12", &ack_997(601, 1, "R")).await;
    assert_eq!(edi_entry(&h, &first).await.outcome, Some(Outcome::Sent));
}

#[tokio::test]
async fn an_operators_retry_sends_again_what_is_overdue_before_the_check_ran() {
    let mut h = host(chrono::Duration::zero()).await;
    let c = cancel_a_line(&mut h, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = h.operator.retry(&c, None).await.unwrap();
    assert_eq!(sent_860s(&h), [1, 2], "{r:?}");
    let old = h
        .store
        .sent_document("seller-edi", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.state, AckState::Overdue);
}

/// An outbox that writes each document, then answers the first write with
/// an error: a notifier cut after the file was put, before the ledger
/// recorded it.
struct CutOnce {
    inner: std::sync::Arc<dyn service::edi::EdiOutbox>,
    cut: std::sync::atomic::AtomicBool,
}

impl service::edi::EdiOutbox for CutOnce {
    fn put<'a>(
        &'a self,
        company_id: &'a str,
        name: &'a str,
        bytes: &'a [u8],
    ) -> service::events::Pending<'a, String, service::edi::OutboxError> {
        Box::pin(async move {
            let at = self.inner.put(company_id, name, bytes).await?;
            if !self.cut.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Err(service::edi::OutboxError::Failed(
                    "cut after the write".to_owned(),
                ));
            }
            Ok(at)
        })
    }
}

#[tokio::test]
async fn a_cut_attempt_is_sent_again_under_the_same_control_number() {
    let h = host(service::edi::DEFAULT_ACK_WINDOW).await;
    let mut ports = local::edi::ports(&h.store, &h.edi, edi::IsaId::dropship());
    ports.outbox = std::sync::Arc::new(CutOnce {
        inner: ports.outbox.clone(),
        cut: std::sync::atomic::AtomicBool::new(false),
    });
    let notifier = local_notifier(
        h.store.clone(),
        &h.edi.join("../cut-outbox"),
        "from@dropship.example",
        PlatformHttp::default(),
    )
    .with_edi(ports);
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let c = post_cancellation(&h, 1).await;

    // Cut: the 860 is in the folder, the ledger does not know it.
    let first = notifier.sweep(since).await.unwrap();
    assert!(first[0].1.is_err(), "{:?}", first[0].1);
    assert_eq!(sent_860s(&h), [1]);
    // The repeat writes the same document again: still one, numbered 1.
    let again = notifier.sweep(since).await.unwrap();
    assert!(again[0].1.is_ok(), "{:?}", again[0].1);
    assert_eq!(sent_860s(&h), [1], "a second document for one cancellation");
    let doc = h
        .store
        .sent_document("seller-edi", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((doc.attempt, doc.state), (2, AckState::Awaiting));
    let entry = edi_entry(&h, &c).await;
    assert_eq!((entry.outcome, entry.attempts), (Some(Outcome::Sent), 2));

    // Its 997 is matched to the repeat, which sent it.
    deliver(&h, "997-reject.x12", &ack_997(701, 1, "R")).await;
    assert_eq!(edi_entry(&h, &c).await.outcome, Some(Outcome::Failed));
}
