//! What the Lambda functions do at init, each part alone and repeated in one
//! warm process (so one-off costs such as page faults are not in it; see
//! `scripts/coldstart.sh` for real cold starts): loading the AWS config (the
//! SDK's default chains, and ours), the DynamoDB client, the whole
//! `DynamoStore::from_env`, and building lambda_runtime's default log
//! filter; then what the first request pays that later ones do not (the
//! HTTP client with its TLS set-up, built on first use). Dummy AWS
//! settings; requests go to a closed loopback port, without retries.

mod common;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use criterion::{Criterion, criterion_group, criterion_main};
use dynamodb::DynamoStore;
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
    c.bench_function("startup/sdk_config", |b| {
        b.iter(|| rt.block_on(aws::sdk_config(&aws::Settings::from_env())))
    });

    c.bench_function("startup/dynamodb_client_new", |b| {
        b.iter(|| aws_sdk_dynamodb::Client::new(&config))
    });

    c.bench_function("startup/dynamo_store_from_env", |b| {
        b.iter(|| rt.block_on(DynamoStore::from_env("bench")))
    });

    // One request to a closed port: with a fresh client each time (so it
    // builds the HTTP client, the trust store and the TLS connector), and
    // with one client reused (only the request). The difference is what the
    // lazy HTTP client moved from init to the first invocation.
    let sdk = rt.block_on(aws::sdk_config(&aws::Settings::from_env()));
    let no_retries = |sdk: &aws_config::SdkConfig| {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .build(),
        )
    };
    let request = |client: aws_sdk_dynamodb::Client| async move {
        let refused = client.describe_table().table_name("bench").send().await;
        assert!(refused.is_err(), "nothing listens on 127.0.0.1:9");
    };
    c.bench_function("startup/first_request_fresh_client", |b| {
        b.iter(|| {
            rt.block_on(async {
                let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
                request(no_retries(&sdk)).await
            })
        })
    });
    let warm = no_retries(&sdk);
    c.bench_function("startup/request_reused_client", |b| {
        b.iter(|| rt.block_on(request(warm.clone())))
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
