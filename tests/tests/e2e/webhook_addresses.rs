//! Where an endpoint may point (docs/webhooks.md), at registration through
//! the API: a literal address, and every address a name resolves to, are
//! judged by the same rules (`domain::addresses`), so an IPv6 form that
//! holds a private or metadata IPv4 address is refused either way.

use std::net::IpAddr;
use std::sync::Arc;

use crate::common::*;
use domain::events::UrlPolicy;
use handlers::api::Api;
use serde_json::json;
use service::events::{Pending, Resolver, WebhookPorts};
use sqlite::EmbeddedStore;

/// Answers every name with the same addresses, as a DNS server an
/// attacker runs may.
struct Answers(Vec<IpAddr>);

impl Resolver for Answers {
    fn resolve<'a>(
        &'a self,
        _host: &'a str,
        _port: u16,
    ) -> Pending<'a, Vec<IpAddr>, service::events::ResolveError> {
        let answer = self.0.clone();
        Box::pin(async move { Ok(answer) })
    }
}

async fn app(answers: Vec<IpAddr>) -> (Services<EmbeddedStore>, tempfile::TempDir) {
    let store = EmbeddedStore::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = local::events::signing_key(dir.path()).unwrap();
    let (ports, _) = local::events::ports(&store, key, UrlPolicy::default()).unwrap();
    let ports = WebhookPorts {
        resolver: Arc::new(Answers(answers)),
        ..ports
    };
    (with_ports(seeded(store).await, ports), dir)
}

async fn register(app: &Api<EmbeddedStore>, url: &str) -> Reply {
    let body = json!({"url": url, "events": ["*"]}).to_string();
    call(
        app,
        "POST",
        "/v1/webhook-endpoints",
        Some(SELLER),
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn ipv4_inside_ipv6_is_refused_literal_or_resolved() {
    for form in [
        // The two reported: local-use NAT64 and IPv4-translated forms of
        // 169.254.169.254.
        "64:ff9b:1:a9fe:a9:fe00::",
        "::ffff:0:a9fe:a9fe",
        // Local-use NAT64 and IPv4-translated do not route publicly, so a
        // public address inside them is refused too.
        "64:ff9b:1::808:808",
        "::ffff:0:808:808",
        "64:ff9b::a9fe:a9fe",
        "::ffff:10.0.0.1",
        "::a9fe:a9fe",
        "2002:a00:1::1",
        "2001:0:a9fe:a9fe::5601:5601",
    ] {
        let addr: IpAddr = form.parse().unwrap();
        let (app, _dir) = app(vec![addr]).await;
        for url in [
            format!("https://[{form}]/hook"),
            "https://hooks.example.com/hook".to_owned(),
        ] {
            let r = register(&app, &url).await;
            assert_eq!(
                (r.status, r.code()),
                (422, "invalid_webhook_url"),
                "{url} ({form}): {}",
                r.body
            );
        }
        let r = call(&app, "GET", "/v1/webhook-endpoints", Some(SELLER), None).await;
        assert_eq!(r.body, json!({"webhook_endpoints": []}), "{form}");
    }
    // A name answering with forms that reach a public address is accepted.
    let public = ["2606:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"];
    let (app, _dir) = app(public.iter().map(|a| a.parse().unwrap()).collect()).await;
    let r = register(&app, "https://hooks.example.com/hook").await;
    assert_eq!(r.status, 201, "{}", r.body);
}
