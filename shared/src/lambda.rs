//! What every Lambda binary does at init: logging as Lambda configures it
//! (JSON with `AWS_LAMBDA_LOG_FORMAT=JSON`), and the DynamoDB store from the
//! standard AWS environment and `TABLE_NAME`.

use thiserror::Error;

use crate::app::App;
use crate::store::dynamodb::DynamoStore;

/// Why a function cannot start.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InitError {
    #[error("{0} is not set: the function needs it")]
    Missing(&'static str),
}

/// The table name, or a clear error naming what is missing.
pub fn table_name() -> Result<String, InitError> {
    std::env::var("TABLE_NAME")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or(InitError::Missing("TABLE_NAME"))
}

/// Init-time set-up shared by the functions: logging, then the store.
pub async fn app_from_env() -> Result<App<DynamoStore>, InitError> {
    lambda_http::tracing::init_default_subscriber();
    let table = table_name()?;
    Ok(App::new(DynamoStore::from_env(table).await))
}
