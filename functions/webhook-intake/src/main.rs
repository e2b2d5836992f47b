//! Lambda `webhook-intake`: signed store-platform webhooks to cancellations,
//! over DynamoDB. Everything that can be done once is done at init.

use dynamodb::DynamoStore;
use handlers::webhooks;
use lambda_http::{Error, Request, service_fn};
use platforms::client::HttpPlatformReader;
use service::App;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let store = DynamoStore::from_env(aws::lambda::table_name()?).await;
    let app = App::new(store).with_platform_reader(HttpPlatformReader::default());
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(webhooks::handle(app, req).await)
    }))
    .await
}
