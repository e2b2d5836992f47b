//! Lambda `cancellation-api`: API Gateway HTTP API events to the shared
//! handlers, over DynamoDB: the API's routes to `handlers::api`, and the web
//! app's (`handlers::assets::ROUTES`) to its embedded files, so the app is
//! served from the API's own origin. Everything that can be done once is
//! set up at init; its clients are built on first use.

use std::sync::Arc;

use dynamodb::DynamoStore;
use handlers::{api, assets};
use lambda_http::{Error, Request, service_fn};
use secretsmanager::SigningKeySecret;
use service::events::WebhookPorts;
use service::{Core, OrdersService};
use sqs::SqsQueue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let settings = aws::Settings::from_env();
    settings.init_logging();
    // Counts as CloudWatch embedded metrics, one JSON line on stdout each.
    let sdk = aws::sdk_config(&settings).await;
    let hooks = settings.webhook_settings()?;
    let policy = domain::events::UrlPolicy {
        allow_insecure: hooks.allow_insecure,
    };
    let store = DynamoStore::on_first_use(&sdk, settings.table_name()?);
    let core = Core::new(store).with_metrics(aws::emf::metrics()).shared();
    let api = api::Api::new(
        OrdersService::on(core),
        WebhookPorts {
            policy,
            resolver: Arc::new(event_sender::PublicResolver { policy }),
            keys: Arc::new(SigningKeySecret::on_first_use(&sdk, &hooks.signing_key)),
            queue: Arc::new(SqsQueue::on_first_use(&sdk, &hooks.queue_url)),
        },
    );
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        let reply = if assets::serves(req.uri().path()) {
            assets::handle(&req)
        } else {
            api::handle(api, req).await
        };
        Ok::<_, std::convert::Infallible>(reply)
    }))
    .await
}
