//! The HTTP client the AWS SDK calls go through: the SDK's own hyper + rustls
//! client, trusting the Mozilla roots compiled into the binary
//! (`webpki-root-certs`), built on the first request rather than at init.
//!
//! Why (measured with `scripts/coldstart.sh`, see BENCHMARKS.md): the default
//! client reads the platform's root store (the bundle and every file of the
//! certificate directory), parses it, and builds a TLS connector while the
//! client is created, i.e. in the Lambda's init, only to throw that
//! connector away and build it again on the first request. That was over
//! half of the functions' init time.
//!
//! The platform store is still trusted as well when `SSL_CERT_FILE` or
//! `SSL_CERT_DIR` is set (a private CA in front of a local endpoint).

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::borrow::Cow;
use std::sync::OnceLock;

/// The Mozilla roots (`webpki-root-certs`), written as one PEM bundle by
/// the build script: the form the SDK's trust store takes, without
/// encoding ~150 certificates at run time.
const ROOTS_PEM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/webpki-roots.pem"));

fn trust_store(native_too: bool) -> TrustStore {
    TrustStore::empty()
        .with_native_roots(native_too)
        .with_pem_certificate(ROOTS_PEM)
}

/// The SDK's hyper + rustls client, built on the first request: the trust
/// store (a ~280 KB heap copy of the PEM bundle, which the SDK then decodes
/// and parses) and the TLS connector are paid by the first call that needs
/// them, not by init.
/// (The SDK's client itself builds one connector at creation, to validate
/// it, and discards it; that is avoided too.)
#[derive(Debug)]
struct OnFirstUse(OnceLock<SharedHttpClient>, bool);

impl OnFirstUse {
    fn get(&self) -> &SharedHttpClient {
        self.0.get_or_init(|| build(self.1))
    }
}

impl HttpClient for OnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.get().http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        // What the SDK's hyper 1.x client reports (pinned by a test), without
        // building it.
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

fn build(native_too: bool) -> SharedHttpClient {
    let mut builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    // Building a context from a trust store cannot fail today; if it ever
    // does, keep the SDK's default context (the platform store).
    if let Ok(ctx) = TlsContext::builder()
        .with_trust_store(trust_store(native_too))
        .build()
    {
        builder = builder.tls_context(ctx);
    }
    builder.build_https()
}

/// The client for `aws_config::ConfigLoader::http_client`; `native_too`:
/// trust the platform's store as well (`SSL_CERT_FILE` or `SSL_CERT_DIR`).
pub fn client(native_too: bool) -> SharedHttpClient {
    SharedHttpClient::new(OnFirstUse(OnceLock::new(), native_too))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn the_pem_bundle_holds_every_mozilla_root_in_order() {
        let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        assert!(roots.len() > 100, "the Mozilla set: {}", roots.len());
        let back: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(ROOTS_PEM)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back.len(), roots.len());
        for (parsed, der) in back.iter().zip(roots) {
            assert_eq!(parsed.as_ref(), der.as_ref());
        }
    }

    #[test]
    fn the_lazy_client_reports_what_the_sdk_connector_reports() {
        let lazy = client(false)
            .connector_metadata()
            .expect("connector metadata");
        let built = build(false)
            .connector_metadata()
            .expect("connector metadata");
        assert_eq!(lazy.name(), built.name());
        assert_eq!(lazy.version(), built.version());
        assert_eq!(lazy.to_string(), built.to_string());
    }
}
