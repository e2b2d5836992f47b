//! What the Lambda functions do at init, each part alone and repeated in one
//! warm process (so one-off costs such as page faults are not in it; see
//! `scripts/coldstart.sh` for real cold starts): loading the AWS config, the
//! DynamoDB client, the whole `DynamoStore::from_env`, and building
//! lambda_runtime's default log filter. Dummy AWS settings; nothing is sent.

mod common;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use criterion::{Criterion, criterion_group, criterion_main};
use shared::store::dynamodb::DynamoStore;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};

fn startup(c: &mut Criterion) {
    // SAFETY: set before any other thread of this process reads the environment.
    unsafe {
        for (k, v) in [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDBENCH"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_SESSION_TOKEN", "bench"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            std::env::set_var(k, v);
        }
    }
    let rt = common::runtime();

    c.bench_function("startup/aws_config_load", |b| {
        b.iter(|| {
            rt.block_on(
                aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(SharedHttpClient::new(NoHttp))
                    .load(),
            )
        })
    });

    let config = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(SharedHttpClient::new(NoHttp))
            .load(),
    );
    c.bench_function("startup/dynamodb_client_new", |b| {
        b.iter(|| aws_sdk_dynamodb::Client::new(&config))
    });

    c.bench_function("startup/dynamo_store_from_env", |b| {
        b.iter(|| rt.block_on(DynamoStore::from_env("bench")))
    });

    c.bench_function("startup/lambda_default_env_filter", |b| {
        b.iter(|| {
            EnvFilter::builder()
                .with_default_directive(LevelFilter::INFO.into())
                .from_env_lossy()
        })
    });
}

/// An HTTP client that is never called (config loading alone).
#[derive(Debug)]
struct NoHttp;

impl HttpClient for NoHttp {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        unreachable!("config loading sends nothing")
    }
}

criterion_group!(benches, startup);
criterion_main!(benches);
