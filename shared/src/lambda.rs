//! What every Lambda binary does at init: logging as Lambda configures it
//! (JSON with `AWS_LAMBDA_LOG_FORMAT=JSON`), and the DynamoDB store from the
//! standard AWS environment and `TABLE_NAME`.

use crate::app::App;
use crate::store::dynamodb::DynamoStore;

/// The table name, or a clear error naming what is missing.
pub fn table_name() -> Result<String, String> {
    std::env::var("TABLE_NAME")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| "TABLE_NAME is not set: the function needs its DynamoDB table".to_owned())
}

/// Init-time set-up shared by the functions: logging, then the store.
pub async fn app_from_env() -> Result<App<DynamoStore>, String> {
    lambda_http::tracing::init_default_subscriber();
    let table = table_name()?;
    Ok(App::new(DynamoStore::from_env(table).await))
}
