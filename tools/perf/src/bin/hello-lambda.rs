//! The cold-start baseline: a hello-world `lambda_runtime` function, built
//! with the same release profile as the real functions. It does nothing at
//! init; run under a function name ending in `-tracing` (coldstart's
//! `hello-tracing=...`) it also installs lambda_runtime's default tracing
//! subscriber, to price that alone.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok_and(|n| n.ends_with("-tracing")) {
        lambda_runtime::tracing::init_default_subscriber();
    }
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"statusCode": 200, "body": "hello"}))
    }))
    .await
}
