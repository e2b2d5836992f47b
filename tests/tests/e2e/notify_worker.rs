//! The local notifier behind the API handler: orders and cancellations made
//! through `api::handle`, then the outbox worker of `dropship serve`.
//! Whatever one notification does, the others are still sent.

use std::path::{Path, PathBuf};

use crate::common::*;
use handlers::api::Api;
use local::outbox::EmlOutbox;
use local::worker::{Drained, OutboxWorker, local_notifier};
use platforms::client::PlatformHttp;
use serde_json::{Value, json};
use service::email::{Email, MailError, Mailer};
use service::ledger::{Channel, Ledger, LedgerStatus, Outcome};
use service::notify::{Notifier, NotifierConfig};
use sqlite::EmbeddedStore;

const SENDER: &str = "from@dropship.example";

/// A new order of the API buyer with the API seller.
async fn create_order(app: &Api<EmbeddedStore>, lines: Value) -> String {
    let body = json!({"seller_id": "seller-api", "line_items": lines}).to_string();
    let r = call(app, "POST", "/v1/orders", Some(BUYER), Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// The buyer cancels these items; the cancellation's id.
async fn cancel(app: &Api<EmbeddedStore>, order_id: &str, items: Value) -> String {
    let body = json!({ "items": items }).to_string();
    let r = call(
        app,
        "POST",
        &format!("/v1/orders/{order_id}/cancellations"),
        Some(BUYER),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

fn eml(outbox: &Path, order_id: &str, cancellation_id: &str) -> Option<String> {
    let text = std::fs::read_to_string(outbox.join(format!("{order_id}-{cancellation_id}.eml")));
    // Quoted-printable soft line breaks undone.
    text.ok()
        .map(|t| t.replace("=\r\n", "").replace("=3D", "="))
}

fn outbox_dir(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("outbox")
}

#[tokio::test]
async fn a_cancellation_of_more_than_u32_max_units_is_emailed_with_its_count() {
    let app = demo_app().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox_dir(&dir);
    let big = create_order(
        &app,
        json!([
            {"id": "li_1", "sku": "BOLT-M3", "quantity": 4294967295u64},
            {"id": "li_2", "sku": "NUT-M3", "quantity": 2}
        ]),
    )
    .await;
    // Every unit of the order, in one cancellation.
    let whole = cancel(
        &app,
        &big,
        json!([
            {"line_item_id": "li_1", "quantity": 4294967295u64, "reason": "Wrong size"},
            {"line_item_id": "li_2", "quantity": 2, "reason": "Wrong size"}
        ]),
    )
    .await;
    let order = call(&app, "GET", &format!("/v1/orders/{big}"), Some(BUYER), None).await;
    assert_eq!(order.body["cancellation_status"], "cancelled");

    let mut worker = OutboxWorker::new(local_notifier(
        app.store.clone(),
        &outbox,
        SENDER,
        PlatformHttp::default(),
    ));
    let d = worker.drain().await.unwrap();
    assert_eq!((d.notified, d.failed), (1, 0));
    let text = eml(&outbox, &big, &whole).expect("the email is written");
    assert!(
        text.contains(&format!(
            "Subject: Order {big}: 4294967297 units cancelled by"
        )),
        "{text}"
    );
    assert!(text.contains("Quantity cancelled: 4294967295"), "{text}");

    // The worker is still at work for the next cancellation.
    let next = create_order(&app, json!([{"id": "li_1", "sku": "CUP", "quantity": 3}])).await;
    let later = cancel(
        &app,
        &next,
        json!([{"line_item_id": "li_1", "quantity": 1, "reason": "Broken"}]),
    )
    .await;
    assert_eq!(worker.drain().await.unwrap().notified, 1);
    let text = eml(&outbox, &next, &later).expect("the later email is written");
    assert!(
        text.contains(&format!("Subject: Order {next}: 1 unit cancelled by")),
        "{text}"
    );
    assert_eq!(worker.drain().await.unwrap(), Drained::default());
}

/// A mail relay that breaks on the emails of one order: the first call for
/// it panics inside the notifier, as a defect in rendering or sending would.
#[derive(Clone)]
struct PanicsOn {
    inner: EmlOutbox,
    order_id: String,
}

impl Mailer for PanicsOn {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        if email.reference.starts_with(&format!("{}-", self.order_id)) {
            panic!("the relay broke on {}", email.reference);
        }
        self.inner.send(email).await
    }
}

fn panicking_worker(
    app: &Api<EmbeddedStore>,
    outbox: &Path,
    poisoned_order: &str,
) -> OutboxWorker<PanicsOn, local::sync::LocalStoreSync> {
    let local = local_notifier(app.store.clone(), outbox, SENDER, PlatformHttp::default());
    OutboxWorker::new(Notifier::new(
        app.store.clone(),
        PanicsOn {
            inner: EmlOutbox::new(outbox),
            order_id: poisoned_order.to_owned(),
        },
        email::Letters,
        local.sync,
        NotifierConfig::new(SENDER),
    ))
}

#[tokio::test]
async fn a_panicking_notification_is_recorded_failed_and_the_others_go_out() {
    let app = demo_app().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox_dir(&dir);
    let line = json!([{"id": "li_1", "sku": "CUP", "quantity": 5}]);
    let one = json!([{"line_item_id": "li_1", "quantity": 1, "reason": "Broken"}]);
    // The poisoned cancellation is the oldest: it comes first in the outbox.
    let poisoned = create_order(&app, line.clone()).await;
    let bad = cancel(&app, &poisoned, one.clone()).await;
    let fine = create_order(&app, line.clone()).await;
    let good = cancel(&app, &fine, one.clone()).await;

    let mut worker = panicking_worker(&app, &outbox, &poisoned);
    let d = worker.drain().await.unwrap();
    assert_eq!((d.notified, d.failed, d.waiting), (2, 0, 0));
    assert!(eml(&outbox, &fine, &good).is_some(), "the other is emailed");
    assert!(eml(&outbox, &poisoned, &bad).is_none());

    // The ledger holds the failure and its reason; the partner (the
    // seller) sees it on the order.
    let entries = app.store.ledger_entries(&poisoned).await.unwrap();
    let email = entries
        .iter()
        .find(|e| e.channel == Channel::Email)
        .unwrap();
    assert_eq!(email.cancellation_id, bad);
    assert_eq!(
        (email.status, email.outcome),
        (LedgerStatus::Completed, Some(Outcome::Failed))
    );
    assert_eq!(
        email.detail.as_deref(),
        Some(format!("panicked: the relay broke on {poisoned}-{bad}").as_str())
    );
    let order = call(
        &app,
        "GET",
        &format!("/v1/orders/{poisoned}"),
        Some(SELLER),
        None,
    )
    .await;
    let seen = &order.body["cancellations"][0]["notifications"]["email"];
    assert_eq!(seen["status"], "failed", "{}", order.body);
    assert!(seen["detail"].as_str().unwrap().contains("the relay broke"));

    // Its outbox entry is done: it neither comes back nor holds up the
    // next cancellations, whoever made them.
    assert!(app.store.pending_outbox(10).await.unwrap().is_empty());
    assert_eq!(worker.drain().await.unwrap(), Drained::default());
    let again = cancel(&app, &poisoned, one.clone()).await;
    let later = cancel(&app, &fine, one.clone()).await;
    let d = worker.drain().await.unwrap();
    assert_eq!((d.notified, d.failed), (2, 0));
    assert!(eml(&outbox, &fine, &later).is_some());
    assert!(eml(&outbox, &poisoned, &again).is_none());
}

#[tokio::test]
async fn the_running_worker_outlives_a_panicking_notification() {
    let app = demo_app().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox_dir(&dir);
    let line = json!([{"id": "li_1", "sku": "CUP", "quantity": 5}]);
    let one = json!([{"line_item_id": "li_1", "quantity": 1, "reason": "Broken"}]);
    let poisoned = create_order(&app, line.clone()).await;
    let fine = create_order(&app, line).await;
    let mut worker = panicking_worker(&app, &outbox, &poisoned);
    worker.poll = std::time::Duration::from_millis(20);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(shutdown));
    for _ in 0..3 {
        cancel(&app, &poisoned, one.clone()).await;
        let good = cancel(&app, &fine, one.clone()).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while eml(&outbox, &fine, &good).is_none() {
            assert!(std::time::Instant::now() < deadline, "{good} never emailed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    stop.send(true).unwrap();
    running.await.expect("the worker ends normally");
    let failed = app
        .store
        .ledger_entries(&poisoned)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.outcome == Some(Outcome::Failed))
        .count();
    assert_eq!(failed, 3);
}

/// A mail relay that never answers for one order.
struct HangsOn {
    inner: EmlOutbox,
    order_id: String,
}

impl Mailer for HangsOn {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        if email.reference.starts_with(&format!("{}-", self.order_id)) {
            std::future::pending::<()>().await;
        }
        self.inner.send(email).await
    }
}

#[tokio::test]
async fn a_notification_that_never_finishes_is_given_up_when_its_lock_ends() {
    let app = demo_app().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox_dir(&dir);
    let line = json!([{"id": "li_1", "sku": "CUP", "quantity": 5}]);
    let one = json!([{"line_item_id": "li_1", "quantity": 1, "reason": "Broken"}]);
    let stuck = create_order(&app, line.clone()).await;
    let hung = cancel(&app, &stuck, one.clone()).await;
    let fine = create_order(&app, line).await;
    let good = cancel(&app, &fine, one).await;
    let local = local_notifier(app.store.clone(), &outbox, SENDER, PlatformHttp::default());
    let mut config = NotifierConfig::new(SENDER);
    config.lock_for = chrono::Duration::seconds(1);
    let mut worker = OutboxWorker::new(Notifier::new(
        app.store.clone(),
        HangsOn {
            inner: EmlOutbox::new(&outbox),
            order_id: stuck.clone(),
        },
        email::Letters,
        local.sync,
        config,
    ));
    // A guard against hanging the suite, far above the 1 s lock.
    let d = tokio::time::timeout(std::time::Duration::from_secs(60), worker.drain())
        .await
        .expect("the pass ends")
        .unwrap();
    assert_eq!((d.notified, d.failed), (1, 1));
    assert!(eml(&outbox, &fine, &good).is_some());
    // Released for a later retry, with the reason.
    let entries = app.store.ledger_entries(&stuck).await.unwrap();
    let email = entries
        .iter()
        .find(|e| e.cancellation_id == hung && e.channel == Channel::Email)
        .unwrap();
    assert_eq!(email.status, LedgerStatus::InProgress);
    assert!(
        email
            .last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 1 s"),
        "{email:?}"
    );
    assert_eq!(app.store.pending_outbox(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_claim_ends_with_the_invocation_that_took_it() {
    let app = demo_app().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox_dir(&dir);
    let order = create_order(&app, json!([{"id": "li_1", "sku": "CUP", "quantity": 2}])).await;
    let hung = cancel(
        &app,
        &order,
        json!([{"line_item_id": "li_1", "quantity": 1, "reason": "Broken"}]),
    )
    .await;
    let local = local_notifier(app.store.clone(), &outbox, SENDER, PlatformHttp::default());
    let notifier = Notifier::new(
        app.store.clone(),
        HangsOn {
            inner: EmlOutbox::new(&outbox),
            order_id: order.clone(),
        },
        email::Letters,
        local.sync,
        NotifierConfig::new(SENDER),
    );
    let c = app
        .store
        .pending_outbox(10)
        .await
        .unwrap()
        .remove(0)
        .cancellation;
    // An invocation with 6 s left: the email's claim ends before the
    // function does, however long the relay hangs.
    let left = std::time::Duration::from_secs(6);
    let ends = service::now() + chrono::Duration::from_std(left).unwrap();
    let deadline = std::time::Instant::now() + left;
    let r = service::notify::within_deadline(deadline, notifier.notify(&c)).await;
    assert!(r.is_err(), "{r:?}");
    let email = app
        .store
        .ledger_entries(&order)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.cancellation_id == hung && e.channel == Channel::Email)
        .unwrap();
    assert_eq!(email.status, LedgerStatus::InProgress);
    assert!(
        email.expires_at.unwrap() < ends.timestamp(),
        "{email:?} outlives the invocation ending at {ends}"
    );
    // With too little left, nothing is claimed: the next invocation does it.
    let late = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let r = service::notify::within_deadline(late, notifier.notify(&c)).await;
    assert!(
        matches!(r, Err(service::notify::NotifyError::OutOfTime { .. })),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_cut_attempt_is_taken_up_again_seconds_after_a_restart() {
    let app = demo_app().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox_dir(&dir);
    let order = create_order(&app, json!([{"id": "li_1", "sku": "CUP", "quantity": 2}])).await;
    let c = cancel(
        &app,
        &order,
        json!([{"line_item_id": "li_1", "quantity": 1, "reason": "Broken"}]),
    )
    .await;
    // A worker claimed the email as the notifier does and was killed
    // mid-send, just now.
    let lock = NotifierConfig::new(SENDER).lock_for;
    assert!(
        lock <= chrono::Duration::seconds(30),
        "a claim left by a killed worker holds its notification for {lock}"
    );
    let key = service::ledger::LedgerKey::new(&order, &c, Channel::Email);
    let started = service::now() - lock + chrono::Duration::seconds(2);
    assert!(matches!(
        app.store.claim(&key, started, lock).await.unwrap(),
        service::ledger::Claim::Acquired { .. }
    ));
    // The restarted worker finds it held, and tries again as soon as the
    // lock ends, not after its backoff has grown.
    let mut worker = OutboxWorker::new(local_notifier(
        app.store.clone(),
        &outbox,
        SENDER,
        PlatformHttp::default(),
    ));
    worker.base_backoff = std::time::Duration::from_millis(100);
    assert_eq!(worker.drain().await.unwrap().failed, 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while eml(&outbox, &order, &c).is_none() {
        assert!(std::time::Instant::now() < deadline, "not retried");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        worker.drain().await.unwrap();
    }
    let email = app
        .store
        .ledger_entries(&order)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.channel == Channel::Email)
        .unwrap();
    assert_eq!((email.outcome, email.attempts), (Some(Outcome::Sent), 2));
}
