//! The AWS SDK set-up every function shares: the standard environment
//! (credentials, region, `AWS_ENDPOINT_URL` for a local stand-in), the
//! HTTP client the SDK calls go through (`http_client`), SDK clients built
//! on first use (`OnFirstUse`), the settings every host reads once at init
//! (`lambda::Settings`), and the counts as CloudWatch embedded metrics
//! (`emf`).

use aws_config::BehaviorVersion;

pub mod emf;
mod http_client;
pub mod lambda;
mod on_first_use;

pub use aws_config::SdkConfig;
pub use lambda::Settings;
pub use on_first_use::OnFirstUse;

/// The SDK configuration every function shares: the standard AWS
/// environment, and the HTTP client that builds its TLS set-up on first use
/// (see `http_client`).
///
/// Credentials and region come first from the environment in the SDK's
/// default chains, and Lambda always sets them there. When they are present
/// the rest of each chain (profile, web identity, ECS, IMDS) would never be
/// asked, so it is not built: building it creates STS and IMDS clients and
/// parses their endpoint rules, which was a measurable part of init (see
/// BENCHMARKS.md). Without them the standard chains apply unchanged.
pub async fn sdk_config(settings: &Settings) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client::client(settings.native_roots));
    if settings.credentials_in_env {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    if settings.region_in_env {
        loader = loader.region(aws_config::environment::EnvironmentVariableRegionProvider::new());
    }
    loader.load().await
}
