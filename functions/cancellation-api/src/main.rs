//! Lambda `cancellation-api`: API Gateway HTTP API events to the shared
//! handlers, over DynamoDB: the API's routes to `handlers::api`, and the web
//! app's (`handlers::assets::ROUTES`) to its embedded files, so the app is
//! served from the API's own origin. Everything that can be done once is
//! done at init.

use dynamodb::DynamoStore;
use handlers::{api, assets};
use lambda_http::{Error, Request, service_fn};
use service::App;
use service::metrics::Metrics;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    // Counts as CloudWatch embedded metrics, one JSON line on stdout each.
    let app = App::new(DynamoStore::from_env(aws::lambda::table_name()?).await)
        .with_metrics(Metrics::emf());
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        let reply = if assets::serves(req.uri().path()) {
            assets::handle(&req)
        } else {
            api::handle(app, req).await
        };
        Ok::<_, std::convert::Infallible>(reply)
    }))
    .await
}
