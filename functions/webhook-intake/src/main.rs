//! Lambda `webhook-intake`: signed store-platform webhooks to cancellations,
//! over DynamoDB. Everything that can be done once is done at init.

use lambda_http::{Error, Request, service_fn};
use shared::platforms::client::HttpPlatformReader;
use shared::webhooks;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = shared::lambda::app_from_env()
        .await?
        .with_platform_reader(HttpPlatformReader::default());
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(webhooks::handle(app, req).await)
    }))
    .await
}
