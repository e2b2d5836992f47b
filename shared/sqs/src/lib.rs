//! The delivery queue (`service::events::DeliveryQueue`) over Amazon SQS.
//! A task is one message, its body the task's JSON, sent with the delay
//! until it is due; SQS delays at most 15 minutes, so a task due later is
//! received early and sent on again (`Notifier::run_task` does that) until
//! its time: a ten-hour wait is forty hops, each one message and one
//! invocation. The client is built on first use.

use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use service::events::{DeliveryQueue, DeliveryTask, Pending, QueueError};

/// SQS's longest message delay, in seconds.
pub const MAX_DELAY_SECONDS: i64 = 900;

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws::OnFirstUse<Client>,
    url: String,
}

impl SqsQueue {
    pub fn on_first_use(sdk: &SdkConfig, queue_url: impl Into<String>) -> Self {
        SqsQueue {
            client: aws::OnFirstUse::new(sdk, Client::new),
            url: queue_url.into(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get()
    }

    async fn send(&self, task: &DeliveryTask) -> Result<(), QueueError> {
        let body = serde_json::to_string(task).map_err(|e| QueueError(e.to_string()))?;
        self.client()
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay_seconds(task, chrono::Utc::now()))
            .send()
            .await
            .map_err(|e| {
                QueueError(match e.as_service_error() {
                    Some(se) => format!(
                        "SQS SendMessage: {}: {}",
                        se.code().unwrap_or("unknown error"),
                        se.message().unwrap_or("")
                    ),
                    None => format!("SQS SendMessage: {}", DisplayErrorContext(&e)),
                })
            })?;
        Ok(())
    }
}

/// The message delay for `task` at `now`: until it is due, at most 15 min.
pub fn delay_seconds(task: &DeliveryTask, now: chrono::DateTime<chrono::Utc>) -> i32 {
    let wait = (task.due_at - now)
        .num_seconds()
        .clamp(0, MAX_DELAY_SECONDS);
    i32::try_from(wait).unwrap_or(0)
}

impl DeliveryQueue for SqsQueue {
    fn schedule<'a>(&'a self, task: &'a DeliveryTask) -> Pending<'a, (), QueueError> {
        Box::pin(self.send(task))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    fn task(due_in: Duration) -> DeliveryTask {
        DeliveryTask {
            company_id: "c".into(),
            endpoint_id: "we_1".into(),
            event_id: "evt_1".into(),
            attempt: 2,
            due_at: Utc::now() + due_in,
            ping: None,
        }
    }

    #[test]
    fn delays_are_clamped_to_what_sqs_allows() {
        let now = Utc::now();
        let mut t = task(Duration::zero());
        t.due_at = now - Duration::minutes(1);
        assert_eq!(delay_seconds(&t, now), 0);
        t.due_at = now + Duration::seconds(61);
        assert_eq!(delay_seconds(&t, now), 61);
        t.due_at = now + Duration::hours(10);
        assert_eq!(delay_seconds(&t, now), 900);
    }

    /// Against ministack's SQS: a task sent is received as it was.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_is_sent_and_received_whole() {
        let local = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|e| {
            e.starts_with("http://127.0.0.1:") || e.starts_with("http://localhost:")
        });
        assert!(
            local,
            "AWS_ENDPOINT_URL must point at ministack: run through scripts/ministack.sh test"
        );
        let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
        let client = Client::new(&sdk);
        let name = format!("deliveries-{}", std::process::id());
        let url = client
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let q = SqsQueue::on_first_use(&sdk, &url);
        let t = task(Duration::zero());
        q.schedule(&t).await.unwrap();
        let got = client
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        let msgs = got.messages.unwrap_or_default();
        assert_eq!(msgs.len(), 1);
        let back: DeliveryTask = serde_json::from_str(msgs[0].body().unwrap()).unwrap();
        assert_eq!(back, t);
        client.delete_queue().queue_url(&url).send().await.unwrap();
    }
}
