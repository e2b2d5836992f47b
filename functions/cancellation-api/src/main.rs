//! Lambda `cancellation-api`: API Gateway HTTP API events to the shared
//! handler, over DynamoDB. Everything that can be done once is done at init.

use lambda_http::{Error, Request, service_fn};
use shared::api;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = shared::lambda::app_from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(api::handle(app, req).await)
    }))
    .await
}
