//! Calls to store platforms: one HTTP client, retries on 429 and 5xx with
//! backoff that honours `Retry-After` and BigCommerce's reset header, and
//! errors that say whether a retry can ever help.

use std::time::Duration;

use crate::{ApiDrift, PlatformError};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use service::metrics::{Event, Metrics};

/// A call to a platform, boxed so the platform traits can be used as
/// objects.
pub type Call<'a, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, PlatformError>> + Send + 'a>>;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base_delay: Duration,
    /// The longest single wait; a longer `Retry-After` gives up instead.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// A shared client for platform calls (connection pool, timeouts, TLS).
/// The underlying client (and with it the TLS root store) is built on the
/// first call, not at a Lambda's init: most invocations never call a
/// platform. Clones share it.
#[derive(Clone)]
pub struct PlatformHttp {
    client: std::sync::Arc<std::sync::OnceLock<reqwest::Client>>,
    pub policy: RetryPolicy,
    /// Repeat a request whose outcome is unknown (5xx, timeout, dropped
    /// connection). Safe for reads and absolute updates only.
    repeat_ambiguous: bool,
    metrics: Metrics,
    /// The last API version drift a platform reported (clones share it).
    drift: std::sync::Arc<std::sync::Mutex<Option<ApiDrift>>>,
}

impl Default for PlatformHttp {
    fn default() -> Self {
        Self::new(RetryPolicy::default())
    }
}

impl PlatformHttp {
    pub fn new(policy: RetryPolicy) -> Self {
        PlatformHttp {
            client: Default::default(),
            policy,
            repeat_ambiguous: true,
            metrics: Metrics::off(),
            drift: Default::default(),
        }
    }

    /// Count API version drift in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The last API version drift seen through this client or its clones.
    pub fn api_drift(&self) -> Option<ApiDrift> {
        self.drift.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Compare the version a platform says it served (`version_header`)
    /// and its deprecation header with what we asked for: a difference is
    /// logged as a warning, counted, and kept for `api_drift`.
    pub(crate) fn observe_version(
        &self,
        platform: &'static str,
        requested: &str,
        headers: &HeaderMap,
        version_header: &str,
        deprecated_header: &str,
    ) {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| clip(s.trim()))
                .filter(|s| !s.is_empty())
        };
        let served = text(version_header);
        let deprecated_reason = text(deprecated_header);
        let moved = served.as_deref().is_some_and(|s| s != requested);
        if !moved && deprecated_reason.is_none() {
            return;
        }
        let drift = ApiDrift {
            platform,
            requested: requested.to_owned(),
            served,
            deprecated_reason,
        };
        tracing::warn!(
            platform,
            requested_version = %drift.requested,
            served_version = drift.served.as_deref().unwrap_or(""),
            deprecated_reason = drift.deprecated_reason.as_deref().unwrap_or(""),
            "{}: move to a supported API version (docs/platforms.md)",
            drift.describe()
        );
        self.metrics.count(Event::PlatformApiDrift {
            platform,
            kind: if moved { "version" } else { "deprecated" },
        });
        *self.drift.lock().unwrap_or_else(|p| p.into_inner()) = Some(drift);
    }

    /// The same client for a call that must not run twice (a refund): it
    /// retries only refusals that prove nothing ran (429); an ambiguous
    /// failure is reported as transient at once, so the caller re-reads the
    /// platform's state before deciding to try again.
    pub(crate) fn for_non_idempotent(&self) -> PlatformHttp {
        PlatformHttp {
            repeat_ambiguous: false,
            ..self.clone()
        }
    }

    /// The client, built on the first call. A client that cannot be built
    /// (no TLS back end) is not kept: the next call tries again.
    fn client(&self) -> Result<&reqwest::Client, reqwest::Error> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let built = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(15))
            .user_agent(concat!(
                "dropship-cancellations/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(self.client.get_or_init(|| built))
    }

    /// Send the request `build` makes, retrying transient failures. Returns
    /// the first 2xx response.
    pub async fn send(
        &self,
        platform: &'static str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, PlatformError> {
        // Transient: nothing was sent, and a later invocation may build it.
        let client = self.client().map_err(|e| PlatformError::Unavailable {
            platform,
            detail: format!("building the HTTP client: {e}"),
        })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.policy.attempts;
            let (detail, wait, ambiguous) = match build(client).send().await {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) if retryable(r.status()) => {
                    let status = r.status();
                    let wait = server_delay(r.headers());
                    let body = error_text(platform, r).await;
                    let ambiguous = status != StatusCode::TOO_MANY_REQUESTS;
                    (format!("HTTP {status}: {body}"), wait, ambiguous)
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = error_text(platform, r).await;
                    return Err(PlatformError::Rejected {
                        platform,
                        status,
                        body,
                    });
                }
                // Refused before sending (connect) proves nothing ran.
                Err(e) => (e.to_string(), None, !e.is_connect()),
            };
            let delay = wait.unwrap_or_else(|| backoff(self.policy, attempt));
            if last || delay > self.policy.max_delay || (ambiguous && !self.repeat_ambiguous) {
                return Err(PlatformError::Unavailable {
                    platform,
                    detail: format!("{detail} (after {attempt} attempts)"),
                });
            }
            tracing::warn!(platform, attempt, delay_ms = delay.as_millis() as u64, %detail, "platform call failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }
}

/// The most of a platform's answer we read, per kind of answer. The
/// largest expected answers (a page of 250 order lines or products with
/// their titles, options and discounts) are well under 1 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// An order, a page of its lines or products, a GraphQL answer.
    Order,
    /// A list of webhooks, or one webhook.
    Webhooks,
    /// An error answer (we keep its first 500 characters).
    Error,
}

impl BodyLimit {
    pub const fn bytes(self) -> usize {
        match self {
            BodyLimit::Order => 4 << 20,
            BodyLimit::Webhooks => 2 << 20,
            BodyLimit::Error => 64 << 10,
        }
    }

    fn what(self) -> &'static str {
        match self {
            BodyLimit::Order => "an order",
            BodyLimit::Webhooks => "webhooks",
            BodyLimit::Error => "an error answer",
        }
    }
}

/// Read a response's body up to `limit`: refused as soon as the declared
/// length or the bytes received pass it, so a huge answer is never held.
pub async fn read_body(
    platform: &'static str,
    mut resp: Response,
    limit: BodyLimit,
) -> Result<Vec<u8>, PlatformError> {
    let max = limit.bytes();
    let too_large = || PlatformError::TooLarge {
        platform,
        what: limit.what(),
        limit: max,
    };
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| PlatformError::Unavailable {
        platform,
        detail: format!("reading the answer: {e}"),
    })? {
        if out.len().saturating_add(chunk.len()) > max {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A 2xx answer's JSON, or an error saying what could not be read.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    platform: &'static str,
    bytes: &[u8],
) -> Result<T, PlatformError> {
    serde_json::from_slice(bytes).map_err(|e| decode_error(platform, &e.to_string()))
}

pub(crate) fn decode_error(platform: &'static str, detail: &str) -> PlatformError {
    PlatformError::Decode {
        platform,
        detail: detail.to_owned(),
    }
}

/// An error answer's text, bounded, for the error we report.
async fn error_text(platform: &'static str, resp: Response) -> String {
    match read_body(platform, resp, BodyLimit::Error).await {
        Ok(b) => clip(&String::from_utf8_lossy(&b)),
        Err(e) => e.to_string(),
    }
}

fn retryable(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
}

/// Exponential backoff with full jitter derived from the clock (no RNG needed).
fn backoff(p: RetryPolicy, attempt: u32) -> Duration {
    let exp = p
        .base_delay
        .saturating_mul(1 << attempt.min(10).saturating_sub(1));
    let capped = exp.min(p.max_delay);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // Between half and all of the capped delay.
    capped / 2 + capped.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// The wait a platform asks for: `Retry-After` (seconds, as Shopify and
/// WooCommerce send it) or BigCommerce's `X-Rate-Limit-Time-Reset-Ms`.
pub(crate) fn server_delay(h: &HeaderMap) -> Option<Duration> {
    let num = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    // A wait beyond what a Duration holds is longer than any we keep to.
    let secs = |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX);
    num("retry-after")
        .map(secs)
        .or_else(|| num("x-rate-limit-time-reset-ms").map(|ms| secs(ms / 1000.0)))
}

fn clip(s: &str) -> String {
    const MAX: usize = 500;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// A server that answers `head` then streams `chunk` up to `total`
    /// bytes (chunked, no length), counting what it managed to send.
    async fn streaming_server(total: usize) -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return 0;
            }
            let chunk = vec![b' '; 64 << 10];
            let mut sent = 0;
            while sent < total {
                let frame = format!("{:x}\r\n", chunk.len());
                if sock.write_all(frame.as_bytes()).await.is_err()
                    || sock.write_all(&chunk).await.is_err()
                    || sock.write_all(b"\r\n").await.is_err()
                {
                    break;
                }
                sent += chunk.len();
            }
            let _ = sock.write_all(b"0\r\n\r\n").await;
            sent
        });
        (format!("http://{addr}/"), task)
    }

    #[tokio::test]
    async fn a_huge_answer_is_refused_at_the_limit_not_held() {
        // 64 MiB offered without a length: reading stops past 4 MiB.
        let (url, server) = streaming_server(64 << 20).await;
        let http = PlatformHttp::default();
        let resp = http.send("shopify", |c| c.get(url.as_str())).await.unwrap();
        let err = read_body("shopify", resp, BodyLimit::Order)
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::TooLarge { limit, .. } if limit == 4 << 20));
        assert!(err.to_string().contains("4194304-byte limit"), "{err}");
        assert!(!err.is_transient(), "the same answer would come again");
        drop(http);
        let sent = server.await.unwrap();
        assert!(sent < 64 << 20, "the rest was never read: {sent}");
        // A declared length over the limit is refused before any read.
        let big = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_bytes(vec![b'x'; (2 << 20) + 1]),
            )
            .mount(&big)
            .await;
        let resp = PlatformHttp::default()
            .send("woocommerce", |c| c.get(big.uri()))
            .await
            .unwrap();
        let err = read_body("woocommerce", resp, BodyLimit::Webhooks)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                PlatformError::TooLarge {
                    what: "webhooks",
                    ..
                }
            ),
            "{err}"
        );
        // Within the limit: read whole.
        let ok = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&ok)
            .await;
        let resp = PlatformHttp::default()
            .send("woocommerce", |c| c.get(ok.uri()))
            .await
            .unwrap();
        assert_eq!(
            read_body("woocommerce", resp, BodyLimit::Order)
                .await
                .unwrap(),
            b"{}"
        );
    }

    #[test]
    fn delays_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(server_delay(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(server_delay(&h), Some(Duration::from_secs(2)));
        let mut h = HeaderMap::new();
        h.insert(
            "x-rate-limit-time-reset-ms",
            HeaderValue::from_static("1500"),
        );
        assert_eq!(server_delay(&h), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("-1"));
        assert_eq!(server_delay(&h), None);
        // The platform's numbers, however large: no panic.
        for (name, value) in [
            ("retry-after", "1e20"),
            ("retry-after", "1e308"),
            ("x-rate-limit-time-reset-ms", "1e300"),
        ] {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            assert_eq!(server_delay(&h), Some(Duration::MAX), "{name}: {value}");
        }
    }

    #[tokio::test]
    async fn a_wait_beyond_any_duration_gives_up_for_a_later_retry() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1e20"))
            .mount(&server)
            .await;
        let url = server.uri();
        let e = PlatformHttp::default()
            .send("test", |c| c.put(&url))
            .await
            .unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        let b1 = backoff(p, 1);
        assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
        let b3 = backoff(p, 3);
        assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
        assert!(backoff(p, 30) <= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn ambiguous_failures_are_repeated_only_where_safe() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let http = PlatformHttp::new(RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(1),
        });
        let call = |h: PlatformHttp| {
            let url = server.uri();
            async move { h.send("test", |c| c.post(&url)).await }
        };
        // The server answers `first` once, then 200.
        let first_then_ok = async |first: ResponseTemplate| {
            server.reset().await;
            Mock::given(method("POST"))
                .respond_with(first)
                .up_to_n_times(1)
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(200))
                .mount(&server)
                .await;
        };
        // 503 then 200: a read or an absolute update is repeated...
        first_then_ok(ResponseTemplate::new(503)).await;
        assert!(call(http.clone()).await.is_ok());
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
        // ...a non-idempotent call is not: the caller re-reads first.
        first_then_ok(ResponseTemplate::new(503)).await;
        let e = call(http.for_non_idempotent()).await.unwrap_err();
        assert!(e.is_transient());
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
        // A 429 proves nothing ran: repeated even for a non-idempotent call.
        first_then_ok(ResponseTemplate::new(429).insert_header("Retry-After", "0")).await;
        assert!(call(http.for_non_idempotent()).await.is_ok());
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
        // A permanent refusal is never repeated.
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(422))
            .mount(&server)
            .await;
        let e = call(http).await.unwrap_err();
        assert!(matches!(e, PlatformError::Rejected { status: 422, .. }));
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[test]
    fn long_bodies_are_clipped_on_char_boundaries() {
        let s = "é".repeat(400);
        let c = clip(&s);
        assert!(c.len() <= 504 && c.ends_with('…'));
    }
}
