//! The HTTP side of event webhooks (`service::events::WebhookSender` and
//! `Resolver`). A delivery goes to a partner-chosen URL from inside our
//! network, so every connection is checked, not only the registration:
//!
//! - names resolve through `PublicResolver`, which refuses a name if any of
//!   its addresses is not public (`domain::events::address_allowed`), so
//!   a DNS answer that changed to 169.254.169.254 or 10.x after
//!   registration reaches nothing; literal addresses are checked before the
//!   request (the resolver is not asked for them);
//! - no proxy from the environment, no redirects followed (a 3xx is a
//!   failed delivery), a connect timeout of 3 s and 10 s in all;
//! - the response body is read no further than `MAX_RESPONSE_BYTES`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use domain::events::{UrlPolicy, address_allowed};
#[cfg(feature = "sender")]
pub use sender::{ClientError, HttpSender};
use service::events::{Pending, ResolveError, Resolver};
use thiserror::Error;

/// Why a name may not be connected to.
#[derive(Debug, Error)]
pub enum LookupError {
    #[error("{host} does not resolve: {source}")]
    NoAnswer {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} has no address")]
    NoAddress(String),
    #[error("{host} resolves to {address}, not a public address")]
    NotPublic { host: String, address: IpAddr },
}

/// How much of an endpoint's answer is read (for the log only).
pub const MAX_RESPONSE_BYTES: usize = 4096;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves names with the system resolver and refuses any name with an
/// address deliveries may not reach.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicResolver {
    pub policy: UrlPolicy,
}

impl PublicResolver {
    #[cfg_attr(not(feature = "sender"), allow(dead_code))]
    pub(crate) async fn lookup(
        self,
        host: String,
        port: u16,
    ) -> Result<Vec<SocketAddr>, LookupError> {
        let answer = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map(|found| found.collect::<Vec<SocketAddr>>());
        let found = match answer {
            Ok(found) => found,
            Err(source) => return Err(LookupError::NoAnswer { host, source }),
        };
        if found.is_empty() {
            return Err(LookupError::NoAddress(host));
        }
        if let Some(bad) = found.iter().find(|a| !address_allowed(a.ip(), self.policy)) {
            return Err(LookupError::NotPublic {
                host,
                address: bad.ip(),
            });
        }
        Ok(found)
    }
}

impl Resolver for PublicResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Pending<'a, Vec<IpAddr>, ResolveError> {
        let host = host.to_owned();
        Box::pin(async move {
            // Every address, so the caller can say which one is refused.
            let answer = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map(|found| found.map(|a| a.ip()).collect::<Vec<IpAddr>>());
            match answer {
                Ok(found) => Ok(found),
                Err(source) => Err(ResolveError { host, source }),
            }
        })
    }
}

#[cfg(feature = "sender")]
mod sender {
    use std::sync::{Arc, OnceLock};

    use domain::events::{UrlHost, UrlPolicy, address_allowed, check_url};
    use reqwest::dns::{Addrs, Name, Resolve, Resolving};
    use service::events::{Delivery, Pending, SendError, WebhookSender};

    use super::{CONNECT_TIMEOUT, MAX_RESPONSE_BYTES, PublicResolver, TIMEOUT};

    impl Resolve for PublicResolver {
        fn resolve(&self, name: Name) -> Resolving {
            let this = *self;
            let host = name.as_str().to_owned();
            Box::pin(async move {
                let addrs = this.lookup(host, 0).await?;
                Ok(Box::new(addrs.into_iter()) as Addrs)
            })
        }
    }

    /// The HTTP client could not be built (no TLS back end).
    #[derive(Debug, thiserror::Error)]
    #[error("building the webhook HTTP client: {0}")]
    pub struct ClientError(#[source] reqwest::Error);

    /// Sends deliveries; cheap to clone (one connection pool).
    #[derive(Clone)]
    pub struct HttpSender {
        /// Built on first use (`client`); clones share it.
        client: Arc<OnceLock<reqwest::Client>>,
        policy: UrlPolicy,
    }

    impl HttpSender {
        /// A sender whose client is built now: a broken TLS set-up fails
        /// the host at start.
        pub fn new(policy: UrlPolicy) -> Result<Self, ClientError> {
            let sender = Self::on_first_use(policy);
            sender.client()?;
            Ok(sender)
        }

        /// A sender whose client (its TLS configuration and root store) is
        /// built with the first delivery, not at a Lambda's init: most
        /// notifier invocations deliver nothing. If it cannot be built
        /// then, that delivery fails as transient (`SendError::Failed`) and
        /// the next one tries again.
        pub fn on_first_use(policy: UrlPolicy) -> Self {
            HttpSender {
                client: Arc::new(OnceLock::new()),
                policy,
            }
        }

        #[cfg(test)]
        pub(crate) fn is_built(&self) -> bool {
            self.client.get().is_some()
        }

        fn client(&self) -> Result<&reqwest::Client, ClientError> {
            if let Some(client) = self.client.get() {
                return Ok(client);
            }
            let policy = self.policy;
            let built = reqwest::Client::builder()
                .dns_resolver(Arc::new(PublicResolver { policy }))
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(TIMEOUT)
                .https_only(!policy.allow_insecure)
                .user_agent(concat!("dropship-webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(ClientError)?;
            Ok(self.client.get_or_init(|| built))
        }

        async fn post(&self, d: &Delivery) -> Result<u16, SendError> {
            // The URL as stored passed these checks; they are repeated because
            // the policy may have changed, and a literal address never reaches
            // the resolver.
            let checked =
                check_url(&d.url, self.policy).map_err(|e| SendError::Refused(e.to_string()))?;
            if let UrlHost::Address(a) = checked.host
                && !address_allowed(a, self.policy)
            {
                return Err(SendError::Refused(format!("{a} is not a public address")));
            }
            let client = self
                .client()
                .map_err(|e| SendError::Failed(error_chain(&e)))?;
            let mut response = client
                .post(&checked.url)
                .header("content-type", "application/json")
                .header("dropship-event-id", &d.event_id)
                .header("dropship-signature", &d.signature)
                .body(d.body.clone())
                .send()
                .await
                .map_err(|e| {
                    // The resolver's refusal arrives as a connect error. The
                    // URL is left out: its path or query may hold a token.
                    let text = error_chain(&e.without_url());
                    if text.contains("not a public address") {
                        SendError::Refused(text)
                    } else {
                        SendError::Failed(text)
                    }
                })?;
            let status = response.status().as_u16();
            let mut read = 0usize;
            while read < MAX_RESPONSE_BYTES {
                match response.chunk().await {
                    Ok(Some(c)) => read = read.saturating_add(c.len()),
                    Ok(None) | Err(_) => break,
                }
            }
            Ok(status)
        }
    }

    fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }

    impl WebhookSender for HttpSender {
        fn send<'a>(&'a self, delivery: &'a Delivery) -> Pending<'a, u16, SendError> {
            Box::pin(self.post(delivery))
        }
    }
}

#[cfg(all(test, feature = "sender"))]
mod tests {
    use super::*;
    use service::events::{Delivery, SendError, WebhookSender};
    use wiremock::matchers::{header, header_regex, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const INSECURE: UrlPolicy = UrlPolicy {
        allow_insecure: true,
    };

    fn delivery(url: String) -> Delivery {
        Delivery {
            url,
            event_id: "evt_1".into(),
            signature: "t=1,v1=00".into(),
            body: "{}".into(),
        }
    }

    #[tokio::test]
    async fn posts_with_the_headers_and_follows_no_redirect() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .and(header("dropship-event-id", "evt_1"))
            .and(header_regex("dropship-signature", "^t=1,v1=00$"))
            .and(header("content-type", "application/json"))
            .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(100_000)))
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/moved"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/hook", server.uri())),
            )
            .mount(&server)
            .await;
        let sender = HttpSender::new(INSECURE).unwrap();
        assert_eq!(
            sender
                .send(&delivery(format!("{}/hook", server.uri())))
                .await,
            Ok(200)
        );
        // Built on first use, clones sharing it: the same answers.
        let lazy = HttpSender::on_first_use(INSECURE);
        assert!(!lazy.is_built(), "nothing built before a delivery");
        let clone = lazy.clone();
        assert_eq!(
            lazy.send(&delivery(format!("{}/hook", server.uri()))).await,
            Ok(200)
        );
        assert!(clone.is_built(), "clones share the client");
        assert_eq!(
            sender
                .send(&delivery(format!("{}/moved", server.uri())))
                .await,
            Ok(302),
            "the redirect is answered, not followed"
        );
    }

    #[tokio::test]
    async fn private_and_metadata_addresses_are_never_called() {
        let secure = HttpSender::new(UrlPolicy::default()).unwrap();
        let insecure = HttpSender::new(INSECURE).unwrap();
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/",
            "https://127.0.0.1/",
            "https://[::1]/",
        ] {
            let r = secure.send(&delivery(url.into())).await;
            assert!(matches!(r, Err(SendError::Refused(_))), "{url}: {r:?}");
        }
        for url in ["http://169.254.169.254/", "http://192.168.1.1/"] {
            let r = insecure.send(&delivery(url.into())).await;
            assert!(matches!(r, Err(SendError::Refused(_))), "{url}: {r:?}");
        }
        // A name that resolves to loopback is refused at connection time.
        let r = secure.send(&delivery("https://localhost.:9/".into())).await;
        assert!(matches!(r, Err(SendError::Refused(_))), "{r:?}");
    }

    /// IPv6 forms that hold the metadata address: a stored URL is refused
    /// before any connection, and a name whose answer is one of them (here
    /// the literal, which the system resolver hands back as it is) reaches
    /// nothing, whatever the URL passed at registration.
    #[tokio::test]
    async fn ipv4_inside_ipv6_is_refused_on_every_connection() {
        let secure = HttpSender::new(UrlPolicy::default()).unwrap();
        let insecure = HttpSender::new(INSECURE).unwrap();
        for form in [
            "64:ff9b:1:a9fe:a9:fe00::",
            "::ffff:0:a9fe:a9fe",
            "64:ff9b::a9fe:a9fe",
            "::ffff:a9fe:a9fe",
            "::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
        ] {
            for sender in [&secure, &insecure] {
                let r = sender
                    .send(&delivery(format!("https://[{form}]/hook")))
                    .await;
                assert!(matches!(r, Err(SendError::Refused(_))), "{form}: {r:?}");
            }
            for policy in [UrlPolicy::default(), INSECURE] {
                let r = PublicResolver { policy }.lookup(form.into(), 443).await;
                assert!(
                    r.unwrap_err().to_string().contains("not a public address"),
                    "{form}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_failure_never_repeats_the_url_which_may_hold_a_token() {
        let sender = HttpSender::new(INSECURE).unwrap();
        // Nothing listens on port 1.
        let r = sender
            .send(&delivery("http://127.0.0.1:1/hook?token=s3cret".into()))
            .await;
        match r {
            Err(SendError::Failed(text)) => assert!(!text.contains("s3cret"), "{text}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_with_a_non_public_address() {
        let r = PublicResolver::default()
            .lookup("localhost".into(), 443)
            .await;
        assert!(r.unwrap_err().to_string().contains("not a public address"));
        let ok = PublicResolver { policy: INSECURE }
            .lookup("localhost".into(), 443)
            .await
            .unwrap();
        assert!(ok.iter().all(|a| a.ip().is_loopback()));
    }
}
