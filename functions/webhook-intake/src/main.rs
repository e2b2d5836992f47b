//! Lambda `webhook-intake`: signed store-platform webhooks to cancellations,
//! over DynamoDB, with the companies' secrets from Secrets Manager.
//! Everything that can be done once is set up at init; its clients are
//! built on first use.

use dynamodb::DynamoStore;
use handlers::intake;
use lambda_http::{Error, Request, service_fn};
use platforms::client::{HttpPlatformReader, PlatformHttp};
use secretsmanager::SecretsManager;
use service::secrets::WithSecrets;
use service::{Core, IntakeService};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let settings = aws::Settings::from_env();
    settings.init_logging();
    let (table, prefix) = (settings.table_name()?, settings.secrets_prefix()?);
    // One SDK configuration for both clients: init pays for it once.
    let sdk = aws::sdk_config(&settings).await;
    let store = DynamoStore::on_first_use(&sdk, table);
    // No secret cache here: the companies themselves are kept (with their
    // secrets) for a while, and read again when a signature fails.
    let secrets = SecretsManager::on_first_use(&sdk, prefix);
    let core = Core::new(WithSecrets::new(store, secrets)).with_metrics(aws::emf::metrics());
    let app = IntakeService::new(
        core.shared(),
        HttpPlatformReader::new(PlatformHttp::default().with_metrics(aws::emf::metrics())),
    );
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(intake::handle(app, req).await)
    }))
    .await
}
