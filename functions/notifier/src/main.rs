//! The `notifier` Lambda entry point: configuration and clients once per
//! execution environment, then one `handle` per stream batch.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use notifier::{Config, Invocation, build, deadline_of, handle_invocation};

// One thread, as the other functions: a batch is handled record by record,
// and a multi-thread runtime costs worker threads and cgroup reads at init.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let settings = aws::Settings::from_env();
    // JSON logs when the function's log format is JSON (AWS_LAMBDA_LOG_FORMAT).
    settings.init_logging();
    let config = Config::from_settings(&settings)?;
    let sdk = aws::sdk_config(&settings).await;
    let notifier = Arc::new(build(&sdk, &config)?);
    // Two event sources: the table's stream and the webhook delivery queue.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let notifier = Arc::clone(&notifier);
        async move {
            // Every claim taken in this invocation ends before it does.
            let deadline = deadline_of(event.context.deadline());
            let invocation = Invocation::parse(event.payload)?;
            let work = handle_invocation(&notifier, invocation);
            Ok::<_, Error>(match deadline {
                Some(d) => service::notify::within_deadline(d, work).await,
                None => work.await,
            })
        }
    }))
    .await
}
