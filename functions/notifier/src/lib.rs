//! The `notifier` Lambda: a DynamoDB stream handler. For each new
//! cancellation item (INSERT with `type = cancellation`; everything else is
//! skipped) it runs the shared `Notifier`: email the partner through SES and
//! sync the partner's store. It answers with a partial batch response: the
//! sequence numbers of the records that must be retried, so one failing
//! record neither blocks nor repeats the others (records that are redelivered
//! anyway find their notifications done in the ledger and repeat nothing).

use std::panic::AssertUnwindSafe;

use aws_config::SdkConfig;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::Cancellation;
use dynamodb::{DynamoStore, schema};
use futures::{FutureExt, StreamExt};
use platforms::client::HttpStoreSync;
use platforms::client::PlatformHttp;
use secretsmanager::SecretsManager;
use secretsmanager::SigningKeySecret;
use service::CacheLimits;
use service::edi::EdiPorts;
use service::email::Mailer;
use service::events::{DeliveryPorts, DeliveryTask};
use service::ledger::Ledger;
use service::notify::{Notifier, NotifierConfig, NotifyError, Report, panic_message};
use service::secrets::WithSecrets;
use service::store::Store;
use service::sync::StoreSync;
use ses::SesMailer;
use sqs::SqsQueue;
use thiserror::Error;

/// The notifier as deployed: DynamoDB store and ledger, the companies'
/// secrets from Secrets Manager, SES, platform APIs.
pub type LambdaNotifier =
    Notifier<WithSecrets<DynamoStore, SecretsManager>, SesMailer, HttpStoreSync>;

/// How long the notifier keeps a company's secrets: a rotated secret is
/// used for store sync at the latest this much later.
pub const SECRET_CACHE: CacheLimits = CacheLimits {
    ttl: std::time::Duration::from_secs(60),
    capacity: 1024,
};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("{0}")]
    Client(String),
}

/// `TABLE_NAME`, `SENDER_EMAIL`, `SECRETS_PREFIX` and the webhook settings
/// (`aws::Settings::webhook_settings`).
#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub sender: String,
    pub secrets_prefix: String,
    pub webhooks: aws::lambda::WebhookSettings,
    /// `EDI_BUCKET`: where 860s and 865s for EDI partners go.
    pub edi_bucket: String,
    /// `DROPSHIP_ISA_ID` (default `DROPSHIP`, qualifier `ZZ`).
    pub isa_id: String,
}

impl Config {
    pub fn from_settings(settings: &aws::Settings) -> Result<Self, ConfigError> {
        let missing = |aws::lambda::InitError::Missing(name)| ConfigError::Missing(name);
        Ok(Config {
            table: settings.table_name().map_err(missing)?,
            sender: settings.sender_email().map_err(missing)?,
            secrets_prefix: settings.secrets_prefix().map_err(missing)?,
            webhooks: settings.webhook_settings().map_err(missing)?,
            edi_bucket: settings.edi_bucket().map_err(missing)?,
            isa_id: settings.isa_id.clone(),
        })
    }
}

/// The notifier once per execution environment; its clients are built on
/// first use.
pub fn build(sdk: &SdkConfig, config: &Config) -> Result<LambdaNotifier, ConfigError> {
    let policy = domain::events::UrlPolicy {
        allow_insecure: config.webhooks.allow_insecure,
    };
    let webhooks = DeliveryPorts {
        policy,
        // Its TLS set-up is built with the first delivery.
        sender: Arc::new(event_sender::HttpSender::on_first_use(policy)),
        keys: Arc::new(SigningKeySecret::on_first_use(
            sdk,
            &config.webhooks.signing_key,
        )),
        queue: Arc::new(SqsQueue::on_first_use(sdk, &config.webhooks.queue_url)),
    };
    // One DynamoDB client for the store and the EDI control numbers, built
    // with the first request.
    let store = DynamoStore::on_first_use(sdk, &config.table);
    let our_id = edi::IsaId::new("ZZ", &config.isa_id)
        .map_err(|e| ConfigError::Client(format!("DROPSHIP_ISA_ID: {e}")))?;
    let edi = EdiPorts {
        our_id,
        numbers: Arc::new(store.clone()),
        outbox: Arc::new(s3::S3Edi::on_first_use(sdk, &config.edi_bucket)),
        sent: Arc::new(store.clone()),
        ack_window: service::edi::DEFAULT_ACK_WINDOW,
    };
    Ok(Notifier::new(
        WithSecrets::cached(
            store,
            SecretsManager::on_first_use(sdk, &config.secrets_prefix),
            SECRET_CACHE,
        ),
        SesMailer::on_first_use(sdk),
        email::Letters,
        HttpStoreSync::new(PlatformHttp::default().with_metrics(aws::emf::metrics())),
        NotifierConfig::new(&config.sender),
    )
    .with_metrics(aws::emf::metrics())
    .with_webhooks(webhooks)
    .with_edi(edi))
}

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("the new image does not hold the cancellation it names: {0}")]
    Decode(String),
}

/// The cancellation a stream record announces: an order item written by a
/// change that created one names it in `new_cancellation` and holds it in
/// its `cancellations`. `None` for anything else (other writes, removals,
/// other item types).
pub fn cancellation_of(record: &EventRecord) -> Result<Option<Cancellation>, RecordError> {
    use serde_dynamo::AttributeValue as Av;
    if !matches!(record.event_name.as_str(), "INSERT" | "MODIFY") {
        return Ok(None);
    }
    let image = &record.change.new_image;
    let is_order = matches!(
        image.get(schema::TYPE_ATTRIBUTE),
        Some(Av::S(t)) if t == schema::ORDER_TYPE
    );
    let Some(Av::S(id)) = image
        .get(schema::NEW_CANCELLATION_ATTRIBUTE)
        .filter(|_| is_order)
    else {
        return Ok(None);
    };
    let named = |v: &&Av| matches!(v, Av::M(m) if matches!(m.get("id"), Some(Av::S(i)) if i == id));
    let found = match image.get(schema::CANCELLATIONS_ATTRIBUTE) {
        Some(Av::L(list)) => list.iter().find(named),
        _ => None,
    }
    .ok_or_else(|| RecordError::Decode(format!("{id} is not among its cancellations")))?;
    serde_dynamo::from_attribute_value(found.clone())
        .map(Some)
        .map_err(|e| RecordError::Decode(e.to_string()))
}

/// The invocation's deadline (the runtime's, wall-clock) on the monotonic
/// clock, for `service::notify::within_deadline`. `None` when it has passed
/// already as the invocation starts: that is no deadline Lambda gives (an
/// emulator's stand-in, such as `cargo lambda watch`'s fixed 600,000 ms
/// after the epoch), and claims then keep their own lock.
pub fn deadline_of(ends: std::time::SystemTime) -> Option<std::time::Instant> {
    let left = ends
        .duration_since(std::time::SystemTime::now())
        .ok()
        .filter(|left| !left.is_zero())?;
    let now = std::time::Instant::now();
    Some(now.checked_add(left).unwrap_or(now))
}

/// An invocation's event: a stream batch, or a batch of queued webhook
/// deliveries (the function's two event sources).
pub enum Invocation {
    Stream(Event),
    Deliveries(SqsEvent),
}

impl Invocation {
    /// Tell the two apart by their records' `eventSource`.
    pub fn parse(v: serde_json::Value) -> Result<Self, serde_json::Error> {
        let source = v
            .pointer("/Records/0/eventSource")
            .and_then(|s| s.as_str())
            .unwrap_or_default();
        if source == "aws:sqs" {
            serde_json::from_value(v).map(Invocation::Deliveries)
        } else {
            serde_json::from_value(v).map(Invocation::Stream)
        }
    }
}

/// Handle an invocation of either kind; the partial batch response (the
/// same shape for both sources).
pub async fn handle_invocation<S, M, Y>(
    notifier: &Notifier<S, M, Y>,
    invocation: Invocation,
) -> serde_json::Value
where
    S: Store + Ledger + service::events::WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    // Boxed: each source's work nests every channel's adapters, a type too
    // deep to lay out inside the runtime's own future.
    let response = match invocation {
        Invocation::Stream(e) => serde_json::to_value(Box::pin(handle(notifier, e)).await),
        Invocation::Deliveries(e) => {
            serde_json::to_value(Box::pin(handle_deliveries(notifier, e)).await)
        }
    };
    response.unwrap_or_else(|_| serde_json::json!({"batchItemFailures": []}))
}

/// Run the batch's delivery tasks side by side (each a different endpoint
/// at a time, each attempt bounded by `service::events::ATTEMPT_LIMIT`,
/// so the invocation takes about one attempt's time, not the batch's);
/// the ids of messages to retry (a task that failed on our side). A task
/// that is not due yet, or whose endpoint is busy, was queued again and
/// counts as done.
pub async fn handle_deliveries<S, M, Y>(
    notifier: &Notifier<S, M, Y>,
    event: SqsEvent,
) -> SqsBatchResponse
where
    S: Store + Ledger + service::events::WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    let failures: Vec<BatchItemFailure> = futures::stream::iter(&event.records)
        .map(|m| delivery(notifier, m))
        .buffer_unordered(event.records.len().max(1))
        .filter_map(|f| async move { f })
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// Why a queued message holds no task.
#[derive(Debug, Error)]
enum Undecodable {
    #[error("a message without a body")]
    NoBody,
    #[error(transparent)]
    Json(serde_json::Error),
}

/// One queued task; the message's failure when SQS must retry it.
async fn delivery<S, M, Y>(notifier: &Notifier<S, M, Y>, m: &SqsMessage) -> Option<BatchItemFailure>
where
    S: Store + Ledger + service::events::WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    let id = m.message_id.clone().unwrap_or_default();
    let task: Result<DeliveryTask, Undecodable> = m
        .body
        .as_deref()
        .ok_or(Undecodable::NoBody)
        .and_then(|b| serde_json::from_str(b).map_err(Undecodable::Json));
    let task = match task {
        Ok(t) => t,
        Err(error) => {
            // Never becomes readable: dropped (the DLQ would keep it
            // forever for nothing), logged.
            tracing::error!(message_id = %id, %error, "an undecodable delivery task; dropped");
            return None;
        }
    };
    let outcome = AssertUnwindSafe(notifier.run_task(&task))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(NotifyError::task_panicked(&task, &panic_message(&*panic))));
    match outcome {
        Ok(o) => {
            tracing::info!(message_id = %id, event_id = %task.event_id, endpoint_id = %task.endpoint_id, outcome = ?o, "delivery task ran");
            None
        }
        Err(error) => {
            tracing::error!(message_id = %id, event_id = %task.event_id, %error, "delivery task failed; SQS will retry it");
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            Some(f)
        }
    }
}

/// Handle one batch; never fails as a whole.
pub async fn handle<S, M, Y>(notifier: &Notifier<S, M, Y>, event: Event) -> DynamoDbEventResponse
where
    S: Store + Ledger + service::events::WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    let mut failures = Vec::new();
    for record in &event.records {
        let seq = record.change.sequence_number.clone();
        // Each record is supervised: a panic while handling it fails that
        // record alone. Under `panic = "abort"` (release builds) nothing is
        // caught: the invocation fails, the stream retries and bisects the
        // batch down to the record, and the ledger keeps the channels that
        // completed meanwhile from repeating.
        let outcome = AssertUnwindSafe(handle_record(notifier, record))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(RecordFailure::Panicked(panic_message(&*panic))));
        let result = match outcome {
            Ok(None) => {
                tracing::debug!(event_id = %record.event_id, event_name = %record.event_name, "not a new cancellation; skipped");
                continue;
            }
            // A panic is a defect, not a refusal: the record is reported as
            // the abort build would have it, so the stream's failure handling
            // sees it; its redelivery finds the failure in the ledger and
            // repeats nothing.
            Ok(Some(report)) if report.crashed() => Err(RecordFailure::Crashed(Box::new(report))),
            Ok(Some(report)) => Ok(report),
            Err(e) => Err(e),
        };
        match result {
            Ok(report) => {
                tracing::info!(event_id = %record.event_id, ?report, "cancellation notified");
            }
            Err(error) => {
                tracing::error!(event_id = %record.event_id, sequence_number = ?seq, %error, "record failed; reported for retry");
                // A failure without a sequence number fails the whole batch
                // (an empty identifier), which is the safe reading.
                let mut f = DynamoDbBatchItemFailure::default();
                f.item_identifier = seq;
                failures.push(f);
            }
        }
    }
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}

/// Why a record is reported for retry.
#[derive(Debug, Error)]
pub enum RecordFailure {
    #[error(transparent)]
    Decode(#[from] RecordError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error("handling the record panicked: {0}")]
    Panicked(String),
    #[error("a notification panicked (recorded as failed): {0:?}")]
    Crashed(Box<Report>),
}

/// One record: `None` when it announces no new cancellation.
async fn handle_record<S, M, Y>(
    notifier: &Notifier<S, M, Y>,
    record: &EventRecord,
) -> Result<Option<Report>, RecordFailure>
where
    S: Store + Ledger + service::events::WebhookStore,
    M: Mailer,
    Y: StoreSync,
{
    if let Some(c) = cancellation_of(record)? {
        return Ok(Some(notifier.notify(&c).await?));
    }
    if let Some(order_id) = completion_of(record) {
        let r = notifier.notify_completion(&order_id).await?;
        tracing::info!(event_id = %record.event_id, %order_id, report = ?r, "order completed by a fulfilment");
    }
    Ok(None)
}

/// The order a stream record says a fulfilment completed: an order item
/// naming the fulfilment in `completed_by`. `None` for anything else.
pub fn completion_of(record: &EventRecord) -> Option<String> {
    use serde_dynamo::AttributeValue as Av;
    if record.event_name != "MODIFY" {
        return None;
    }
    let image = &record.change.new_image;
    let is_order = matches!(
        image.get(schema::TYPE_ATTRIBUTE),
        Some(Av::S(t)) if t == schema::ORDER_TYPE
    );
    match (
        is_order,
        image.get(schema::COMPLETED_BY_ATTRIBUTE),
        image.get("id"),
    ) {
        (true, Some(Av::S(_)), Some(Av::S(id))) => Some(id.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> Event {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/notifier")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    }

    #[test]
    fn a_deadline_already_past_is_none() {
        let now = std::time::SystemTime::now();
        let later = deadline_of(now + std::time::Duration::from_secs(60)).unwrap();
        let left = later.duration_since(std::time::Instant::now());
        assert!(
            left > std::time::Duration::from_secs(58) && left <= std::time::Duration::from_secs(60)
        );
        // `cargo lambda watch` sends 600,000 ms after the epoch.
        let emulator = std::time::UNIX_EPOCH + std::time::Duration::from_millis(600_000);
        assert_eq!(deadline_of(emulator), None);
    }

    #[test]
    fn every_sample_event_decodes() {
        for (name, cancellations) in [
            ("whole-order.json", 1),
            ("partial.json", 1),
            ("shopify-buyer.json", 1),
            ("shopify-seller.json", 1),
            ("woocommerce-seller.json", 1),
            ("bigcommerce-seller.json", 1),
        ] {
            let e = event(name);
            let found: Vec<Cancellation> = e
                .records
                .iter()
                .filter_map(|r| cancellation_of(r).unwrap())
                .collect();
            assert_eq!(found.len(), cancellations, "{name}");
            assert!(e.records.iter().all(|r| r.change.sequence_number.is_some()));
        }
    }

    #[test]
    fn the_poison_batch_holds_two_cancellations_two_skips_and_one_poison() {
        let e = event("batch-with-poison.json");
        let kinds: Vec<&str> = e
            .records
            .iter()
            .map(|r| match cancellation_of(r) {
                Ok(Some(_)) => "cancellation",
                Ok(None) => "skip",
                Err(_) => "poison",
            })
            .collect();
        assert_eq!(
            kinds,
            ["cancellation", "skip", "poison", "skip", "cancellation"]
        );
    }

    #[test]
    fn a_delivery_queue_batch_is_told_from_a_stream_batch() {
        let read = |rel: &str| -> serde_json::Value {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../events")
                .join(rel);
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
        };
        match Invocation::parse(read("deliveries/ping.json")).unwrap() {
            Invocation::Deliveries(e) => {
                let task: DeliveryTask =
                    serde_json::from_str(e.records[0].body.as_deref().unwrap()).unwrap();
                assert_eq!(task.endpoint_id, "we_sample");
                assert!(task.ping.is_some());
            }
            Invocation::Stream(_) => panic!("an SQS batch read as a stream batch"),
        }
        assert!(matches!(
            Invocation::parse(read("notifier/partial.json")).unwrap(),
            Invocation::Stream(_)
        ));
    }

    #[test]
    fn a_completing_fulfilment_is_told_from_other_writes() {
        let mut e = event("partial.json");
        let r = &mut e.records[0];
        assert_eq!(completion_of(r), None, "a cancellation's write");
        r.event_name = "MODIFY".into();
        r.change.new_image.insert(
            schema::COMPLETED_BY_ATTRIBUTE.into(),
            serde_dynamo::AttributeValue::S("ful_1".into()),
        );
        let id = match r.change.new_image.get("id") {
            Some(serde_dynamo::AttributeValue::S(id)) => id.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(completion_of(r), Some(id));
        r.event_name = "REMOVE".into();
        assert_eq!(completion_of(r), None);
    }

    #[test]
    fn the_response_is_the_partial_batch_shape_lambda_reads() {
        let mut f = DynamoDbBatchItemFailure::default();
        f.item_identifier = Some("42".into());
        let mut r = DynamoDbEventResponse::default();
        r.batch_item_failures = vec![f];
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "42"}]})
        );
    }
}
