//! The notifier's delivery queue source against ministack (DynamoDB for
//! the store, the ledger and the endpoints' leases): a batch of tasks runs
//! side by side, one attempt at a time per endpoint, and a task is started
//! only with an attempt's time left in the invocation. Receivers are
//! loopback listeners that answer after a pause and count the connections
//! open at once. Run through `scripts/ministack.sh test cargo test --workspace`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use aws_config::BehaviorVersion;
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::Duration;
use domain::events::{EndpointChange, EventType, UrlPolicy};
use dynamodb::DynamoStore;
use local::seed::{self, SeedFile};
use notifier::handle_deliveries;
use platforms::client::{HttpStoreSync, PlatformHttp};
use secretsmanager::SecretsManager;
use service::email::{Email, MailError, Mailer};
use service::events::{
    DeliveryPorts, DeliveryTask, EventRecord, StaticKey, WebhookStore, new_event_id,
};
use service::ledger::{Ledger, LedgerKey, Outcome};
use service::notify::{Notifier, NotifierConfig, within_deadline};
use service::secrets::WithSecrets;
use service::store::Companies;
use testkit::webhook_ports::KeptTasks;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEMO_SEED: &str = include_str!("../../../events/demo-seed.json");
const COMPANY: &str = "seller-api";

/// As deployed: the companies' secrets in (ministack's) Secrets Manager.
type TestStore = WithSecrets<DynamoStore, SecretsManager>;

/// A receiver that answers 200 after `pause`; counts what it received and
/// the connections open at once, here and across every receiver of `all`.
struct Slow {
    url: String,
    received: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

#[derive(Default, Clone)]
struct Open {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Open {
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(n, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Slow {
    async fn start(pause: StdDuration, all: Open) -> Slow {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(AtomicUsize::new(0));
        let here = Open::default();
        let most = Arc::clone(&here.most);
        let count = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (all, here, count) = (all.clone(), here.clone(), Arc::clone(&count));
                tokio::spawn(async move {
                    all.enter();
                    here.enter();
                    // The request's head and body (small: one read suffices
                    // for these events), then the pause, then the answer.
                    let mut buf = vec![0u8; 64 * 1024];
                    let _ = socket.read(&mut buf).await;
                    count.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(pause).await;
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    let _ = socket.shutdown().await;
                    here.leave();
                    all.leave();
                });
            }
        });
        Slow {
            url,
            received,
            most,
        }
    }

    fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

/// No email is sent by deliveries that succeed.
struct NoMail;

impl Mailer for NoMail {
    async fn send(&self, _: &Email) -> Result<String, MailError> {
        Err(MailError::Unavailable("no mail in this test".into()))
    }
}

async fn store() -> TestStore {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "AWS_ENDPOINT_URL={endpoint:?}: these tests need ministack on loopback. \
         Run them through `scripts/ministack.sh test cargo test --workspace`."
    );
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let name = format!("d-{}", ulid::Ulid::generate().to_string().to_lowercase());
    let table = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), name.clone());
    table.ensure_table().await.unwrap();
    let secrets = SecretsManager::on_first_use(&sdk, format!("dropship/{name}/companies/"));
    let store = WithSecrets::cached(table, secrets, notifier::SECRET_CACHE);
    seed::apply(&store, &SeedFile::parse(DEMO_SEED).unwrap())
        .await
        .unwrap();
    store
}

async fn register(store: &TestStore, id: &str, url: &str) {
    let e = testkit::fixtures::webhook_endpoint(id, url);
    store
        .change_endpoints(COMPANY, &EndpointChange::Add(e))
        .await
        .unwrap()
        .unwrap();
}

async fn event(store: &TestStore, subject: &str) -> EventRecord {
    let id = new_event_id();
    let e = EventRecord {
        body: format!(r#"{{"id":"{id}","type":"cancellation.created"}}"#),
        id,
        company_id: COMPANY.into(),
        event_type: EventType::CancellationCreated,
        created_at: service::now(),
        order_id: "ord_deliveries".into(),
    };
    store
        .record_event(&e, subject, service::now() + Duration::days(1))
        .await
        .unwrap()
        .event()
        .clone()
}

fn task(event: &EventRecord, endpoint: &str) -> DeliveryTask {
    DeliveryTask {
        company_id: COMPANY.into(),
        endpoint_id: endpoint.into(),
        event_id: event.id.clone(),
        attempt: 1,
        due_at: service::now(),
        ping: None,
    }
}

fn batch(tasks: &[DeliveryTask]) -> SqsEvent {
    let records: Vec<_> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"messageId": format!("m{i}"), "eventSource": "aws:sqs",
                               "body": serde_json::to_string(t).unwrap()})
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn notifier(
    store: &TestStore,
    queue: &Arc<KeptTasks>,
) -> Notifier<TestStore, NoMail, HttpStoreSync> {
    let policy = UrlPolicy {
        allow_insecure: true,
    };
    Notifier::new(
        store.clone(),
        NoMail,
        email::Letters,
        HttpStoreSync::new(PlatformHttp::default()),
        NotifierConfig::new("n@dropship.example"),
    )
    .with_webhooks(DeliveryPorts {
        policy,
        sender: Arc::new(event_sender::HttpSender::new(policy).unwrap()),
        keys: Arc::new(StaticKey::new(Arc::from(&[7u8; 32][..])).unwrap()),
        queue: queue.clone(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_runs_side_by_side_one_attempt_per_endpoint() {
    let store = store().await;
    let all = Open::default();
    let pause = StdDuration::from_millis(800);
    let a = Slow::start(pause, all.clone()).await;
    let b = Slow::start(pause, all.clone()).await;
    register(&store, "we_a", &a.url).await;
    register(&store, "we_b", &b.url).await;
    let (first, second) = (event(&store, "s:1").await, event(&store, "s:2").await);
    let queue = Arc::new(KeptTasks::default());
    let n = notifier(&store, &queue);
    let tasks = [
        task(&first, "we_a"),
        task(&second, "we_a"),
        task(&first, "we_b"),
    ];
    let deadline = std::time::Instant::now() + StdDuration::from_secs(60);
    let r = within_deadline(deadline, handle_deliveries(&n, batch(&tasks))).await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    assert_eq!(
        all.most.load(Ordering::SeqCst),
        2,
        "the two endpoints' attempts ran at once"
    );
    assert_eq!(
        (a.received(), a.most()),
        (1, 1),
        "one attempt at a time to we_a"
    );
    assert_eq!(b.received(), 1);
    // One of the two events to we_a was sent; the other waits in the queue
    // for the endpoint, a few seconds at most.
    let queued = queue.tasks();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].endpoint_id, "we_a");
    assert!(queued[0].due_at <= service::now() + Duration::seconds(6));
    let sent = |e: &EventRecord, endpoint: &str| {
        let (store, key) = (
            store.clone(),
            LedgerKey::webhook(&e.order_id, &e.id, endpoint),
        );
        async move {
            store
                .ledger_entries(&key.order_id)
                .await
                .unwrap()
                .into_iter()
                .any(|l| {
                    l.cancellation_id == key.cancellation_id
                        && l.endpoint_id == key.endpoint_id
                        && l.outcome == Some(Outcome::Sent)
                })
        }
    };
    let waiting = if queued[0].event_id == first.id {
        &first
    } else {
        &second
    };
    let went = if queued[0].event_id == first.id {
        &second
    } else {
        &first
    };
    assert!(sent(went, "we_a").await && sent(&first, "we_b").await);
    assert!(!sent(waiting, "we_a").await);
    // Its turn come: delivered, and every lease given back.
    let due = [DeliveryTask {
        due_at: service::now(),
        ..queued[0].clone()
    }];
    let r = within_deadline(deadline, handle_deliveries(&n, batch(&due))).await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    assert_eq!(a.received(), 2);
    assert!(sent(waiting, "we_a").await);
    let leased = store
        .company(COMPANY)
        .await
        .unwrap()
        .unwrap()
        .webhook_endpoints
        .iter()
        .any(|e| e.lease.is_some());
    assert!(!leased, "every lease given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_not_started_without_an_attempts_time_left() {
    let store = store().await;
    let a = Slow::start(StdDuration::from_millis(10), Open::default()).await;
    register(&store, "we_a", &a.url).await;
    let e = event(&store, "s:1").await;
    let queue = Arc::new(KeptTasks::default());
    let n = notifier(&store, &queue);
    // An invocation with 10 s left: less than an attempt may take.
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    let r = within_deadline(deadline, handle_deliveries(&n, batch(&[task(&e, "we_a")]))).await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    assert_eq!(a.received(), 0);
    let queued = queue.tasks();
    assert_eq!(queued.len(), 1, "queued again for the next invocation");
    assert_eq!(queued[0].event_id, e.id);
}
