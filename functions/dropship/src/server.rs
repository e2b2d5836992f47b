//! The local host: a small HTTP/1 server on loopback that turns each request
//! into the same `lambda_http::Request` API Gateway would hand the Lambda, and
//! calls the same handler function. `/v1/*` goes to the API handler,
//! `/webhooks/*` to the webhook handler, and `/`, `/app` and `/app/...` to
//! the web app's (`handlers::assets`), as on the stack's HttpApi.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use handlers::api::{self, Api};
use handlers::assets;
use handlers::intake::{self, MAX_WEBHOOK_BYTES};
use handlers::response::{Code, MAX_BODY_BYTES, Problem};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use service::IntakeService;
use service::store::Store;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// What `dropship serve` hosts: the API's services and platform intake,
/// over one core.
pub struct Host<S> {
    pub api: Api<S>,
    pub intake: IntakeService<S>,
}

/// How long and how many clients may hold the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the moment a connection waits for a request (a new connection,
    /// or an idle keep-alive one after its last response) until the whole
    /// header has arrived; then the connection is closed.
    pub header_read_timeout: Duration,
    /// For the whole body, once the header is in; then `408`.
    pub body_read_timeout: Duration,
    /// Connections served at once. Beyond it, new connections wait in the
    /// listen backlog, unread, until one ends.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

type Reply = Response<Full<Bytes>>;

fn to_hyper(r: lambda_http::Response<lambda_http::Body>) -> Reply {
    let (parts, body) = r.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Full::new(bytes))
}

fn problem(p: Problem) -> Reply {
    to_hyper(p.into_response())
}

/// Read the body (at most `limit` bytes, within `timeout`) and rebuild the
/// request as the Lambda would see it.
async fn to_lambda(
    req: Request<Incoming>,
    limit: usize,
    timeout: Duration,
) -> Result<lambda_http::Request, Reply> {
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await;
    let Ok(read) = read else {
        // The rest of the body may still come: do not read it as a request.
        let mut reply = problem(Problem::new(
            Code::RequestTimeout,
            format!("the body did not arrive within {} s", timeout.as_secs_f64()),
        ));
        reply.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
        return Err(reply);
    };
    let collected = read.map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            problem(Problem::new(
                Code::PayloadTooLarge,
                format!("the body is over {limit} bytes"),
            ))
        } else {
            problem(Problem::new(
                Code::InvalidBody,
                format!("could not read the body: {e}"),
            ))
        }
    })?;
    let bytes = collected.to_bytes();
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(t) => lambda_http::Body::Text(t),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    Ok(lambda_http::Request::from_parts(parts, body))
}

async fn route<S: Store + service::events::WebhookStore>(
    host: Arc<Host<S>>,
    limits: Limits,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_owned();
    if path == "/healthz" {
        return Ok(Response::new(Full::new(Bytes::from_static(b"ok\n"))));
    }
    if assets::serves(&path) {
        // The app's files read no body: it is left unread.
        let (parts, _) = req.into_parts();
        let req = lambda_http::Request::from_parts(parts, lambda_http::Body::Empty);
        return Ok(to_hyper(assets::handle(&req)));
    }
    let webhook = path.starts_with("/webhooks/");
    if !webhook && !path.starts_with("/v1/") {
        return Ok(problem(Problem::new(
            Code::NotFound,
            format!("no route for {path}"),
        )));
    }
    let limit = if webhook {
        MAX_WEBHOOK_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let req = match to_lambda(req, limit, limits.body_read_timeout).await {
        Ok(r) => r,
        Err(reply) => return Ok(reply),
    };
    let reply = if webhook {
        intake::handle(&host.intake, req).await
    } else {
        api::handle(&host.api, req).await
    };
    Ok(to_hyper(reply))
}

/// Serve until `shutdown` turns true; connections in flight are finished.
pub async fn serve<S: Store + service::events::WebhookStore>(
    listener: TcpListener,
    host: Arc<Host<S>>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // A slot first, then the connection: at the limit, clients wait in
        // the listen backlog rather than being read by nobody.
        let next = async {
            let slot = Arc::clone(&slots).acquire_owned().await;
            (slot, listener.accept().await)
        };
        tokio::select! {
            (slot, accepted) = next => {
                let Ok(slot) = slot else { break };
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let host = Arc::clone(&host);
                connections.spawn(async move {
                    let _slot = slot;
                    let svc = service_fn(move |req| route(Arc::clone(&host), limits, req));
                    if let Err(e) = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(limits.header_read_timeout)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                    {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Let requests in flight finish; idle keep-alive connections are dropped.
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        tracing::info!("closing idle connections");
    }
    Ok(())
}
