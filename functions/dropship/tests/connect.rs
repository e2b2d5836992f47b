//! `dropship connect`, `connect --check` and `disconnect` against stateful
//! fakes of Shopify, WooCommerce and BigCommerce on loopback: each keeps
//! its webhooks, pages its list and answers as the platform does, so a
//! list after a create shows what was created. Each platform's store also
//! holds 101 webhooks that are not ours (the list takes two pages), which
//! no command may touch.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_dropship");
const BASE: &str = "http://127.0.0.1:3000/";

/// The demo seed's secrets, keys and tokens (and WooCommerce's Basic
/// credentials as sent): none may ever be printed.
const SECRETS: [&str; 12] = [
    "demo-shopify-seller-secret",
    "shpat_demo_seller",
    "demo-woo-secret",
    "ck_demo",
    "cs_demo",
    "Y2tfZGVtbzpjc19kZW1v",
    "demo-bc-secret",
    "bc_demo_token",
    "demo-seller-woo-key",
    "demo-seller-bc-key",
    "demo-seller-shopify-key",
    "demo-buyer-api-key",
];

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Shopify,
    Woo,
    Bc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Hook {
    id: u64,
    topic: String,
    address: String,
    active: bool,
    /// WooCommerce's secret, BigCommerce's X-Webhook-Token.
    secret: Option<String>,
    /// Shopify's format.
    format: String,
}

#[derive(Default)]
struct Hooks {
    hooks: Vec<Hook>,
    next: u64,
}

/// A platform's webhooks API, in memory.
#[derive(Clone)]
struct Fake {
    kind: Kind,
    state: Arc<Mutex<Hooks>>,
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn query(req: &Request, name: &str) -> Option<usize> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

fn page_of<T: Clone>(items: &[T], page: usize, per: usize) -> Vec<T> {
    items
        .iter()
        .skip(page.saturating_sub(1) * per)
        .take(per)
        .cloned()
        .collect()
}

impl Fake {
    fn new(kind: Kind) -> Fake {
        Fake {
            kind,
            state: Arc::default(),
        }
    }

    fn add(&self, topic: &str, address: &str, secret: Option<&str>) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let id = s.next;
        s.hooks.push(Hook {
            id,
            topic: topic.into(),
            address: address.into(),
            active: true,
            secret: secret.map(str::to_owned),
            format: "JSON".into(),
        });
        id
    }

    fn hooks(&self) -> Vec<Hook> {
        self.state.lock().unwrap().hooks.clone()
    }

    fn ours(&self) -> Vec<Hook> {
        let mut h: Vec<Hook> = self
            .hooks()
            .into_iter()
            .filter(|h| h.address.starts_with(BASE))
            .collect();
        h.sort_by(|a, b| a.topic.cmp(&b.topic));
        h
    }

    fn change(&self, id: u64, f: impl FnOnce(&mut Hook)) {
        let mut s = self.state.lock().unwrap();
        f(s.hooks.iter_mut().find(|h| h.id == id).unwrap());
    }

    fn remove(&self, id: u64) -> bool {
        let mut s = self.state.lock().unwrap();
        let before = s.hooks.len();
        s.hooks.retain(|h| h.id != id);
        s.hooks.len() < before
    }

    fn gid(id: u64) -> String {
        format!("gid://shopify/WebhookSubscription/{id}")
    }

    fn shopify(&self, req: &Request) -> ResponseTemplate {
        if header(req, "x-shopify-access-token") != Some("shpat_demo_seller") {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"errors": "[API] Invalid API key or access token"}));
        }
        if req.method.as_str() != "POST" || req.url.path() != "/admin/api/2026-10/graphql.json" {
            return ResponseTemplate::new(404);
        }
        let body: Value = req.body_json().unwrap();
        let (q, vars) = (body["query"].as_str().unwrap(), &body["variables"]);
        let sub = |h: &Hook| {
            json!({"id": Fake::gid(h.id), "topic": h.topic, "uri": h.address, "format": h.format,
                   "filter": null, "includeFields": []})
        };
        let data = if let Some(rest) = q.split("webhookSubscriptions(first: ").nth(1) {
            let first: usize = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let start: usize = vars["after"].as_str().map_or(0, |c| c.parse().unwrap());
            let hooks = self.hooks();
            let nodes: Vec<Value> = hooks.iter().skip(start).take(first).map(sub).collect();
            let end = start + nodes.len();
            json!({"webhookSubscriptions": {"nodes": nodes,
                "pageInfo": {"hasNextPage": end < hooks.len(), "endCursor": end.to_string()}}})
        } else if q.contains("webhookSubscriptionCreate(") {
            let topic = vars["topic"].as_str().unwrap();
            let uri = vars["webhookSubscription"]["uri"].as_str().unwrap();
            if self
                .hooks()
                .iter()
                .any(|h| h.topic == topic && h.address == uri)
            {
                json!({"webhookSubscriptionCreate": {"webhookSubscription": null, "userErrors": [
                    {"field": ["webhookSubscription", "callbackUrl"], "message": "Address for this topic has already been taken"}]}})
            } else {
                let id = self.add(topic, uri, None);
                self.change(id, |h| {
                    h.format = vars["webhookSubscription"]["format"]
                        .as_str()
                        .unwrap_or("JSON")
                        .into()
                });
                json!({"webhookSubscriptionCreate": {"webhookSubscription": {"id": Fake::gid(id), "topic": topic, "uri": uri}, "userErrors": []}})
            }
        } else if q.contains("webhookSubscriptionDelete(") {
            let gid = vars["id"].as_str().unwrap();
            let id = gid.rsplit('/').next().unwrap().parse().unwrap_or(0);
            if self.remove(id) {
                json!({"webhookSubscriptionDelete": {"deletedWebhookSubscriptionId": gid, "userErrors": []}})
            } else {
                json!({"webhookSubscriptionDelete": {"deletedWebhookSubscriptionId": null,
                    "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}})
            }
        } else {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"errors": [{"message": "unknown operation"}]}));
        };
        ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
    }

    fn woo(&self, req: &Request) -> ResponseTemplate {
        if header(req, "authorization") != Some("Basic Y2tfZGVtbzpjc19kZW1v") {
            return ResponseTemplate::new(401).set_body_json(
                json!({"code": "woocommerce_rest_cannot_view", "data": {"status": 401}}),
            );
        }
        let one = |h: &Hook| {
            json!({"id": h.id, "name": "hook", "status": if h.active { "active" } else { "disabled" },
                   "topic": h.topic, "resource": "order", "event": "updated", "hooks": [],
                   "delivery_url": h.address, "date_created": "2026-11-01T09:00:00"})
        };
        let not_found = || {
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": "woocommerce_rest_shop_webhook_invalid_id", "data": {"status": 404}}))
        };
        let Some(rest) = req.url.path().strip_prefix("/wp-json/wc/v3/webhooks") else {
            return ResponseTemplate::new(404);
        };
        let id: Option<u64> = rest.strip_prefix('/').map(|i| i.parse().unwrap_or(0));
        match (req.method.as_str(), id) {
            ("GET", None) => {
                let per = query(req, "per_page").unwrap_or(10).min(100);
                let page = query(req, "page").unwrap_or(1);
                let items: Vec<Value> = page_of(&self.hooks(), page, per).iter().map(one).collect();
                ResponseTemplate::new(200).set_body_json(items)
            }
            ("POST", None) => {
                let b: Value = req.body_json().unwrap();
                let id = self.add(
                    b["topic"].as_str().unwrap(),
                    b["delivery_url"].as_str().unwrap(),
                    b["secret"].as_str(),
                );
                self.change(id, |h| h.active = b["status"] == "active");
                let h = self.hooks().into_iter().find(|h| h.id == id).unwrap();
                ResponseTemplate::new(201).set_body_json(one(&h))
            }
            ("PUT", Some(id)) => {
                let b: Value = req.body_json().unwrap();
                if !self.hooks().iter().any(|h| h.id == id) {
                    return not_found();
                }
                self.change(id, |h| {
                    if let Some(s) = b["status"].as_str() {
                        h.active = s == "active";
                    }
                    if let Some(s) = b["secret"].as_str() {
                        h.secret = Some(s.into());
                    }
                });
                let h = self.hooks().into_iter().find(|h| h.id == id).unwrap();
                ResponseTemplate::new(200).set_body_json(one(&h))
            }
            ("DELETE", Some(id)) => {
                if req.url.query() != Some("force=true") {
                    return ResponseTemplate::new(501)
                        .set_body_json(json!({"code": "woocommerce_rest_trash_not_supported"}));
                }
                let h = self.hooks().into_iter().find(|h| h.id == id);
                match h {
                    Some(h) if self.remove(id) => ResponseTemplate::new(200).set_body_json(one(&h)),
                    _ => not_found(),
                }
            }
            _ => ResponseTemplate::new(404),
        }
    }

    fn bc(&self, req: &Request) -> ResponseTemplate {
        if header(req, "x-auth-token") != Some("bc_demo_token") {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"status": 401, "title": "Unauthorized"}));
        }
        let one = |h: &Hook| {
            let headers = h
                .secret
                .as_ref()
                .map_or(json!({}), |t| json!({"X-Webhook-Token": t}));
            json!({"id": h.id, "client_id": "c1", "store_hash": "birch123", "scope": h.topic,
                   "destination": h.address, "headers": headers, "is_active": h.active,
                   "created_at": 1795579200, "updated_at": 1795579200})
        };
        let not_found = || {
            ResponseTemplate::new(404).set_body_json(json!({"status": 404, "title": "Not found"}))
        };
        let Some(rest) = req.url.path().strip_prefix("/stores/birch123/v3/hooks") else {
            return ResponseTemplate::new(404);
        };
        let id: Option<u64> = rest.strip_prefix('/').map(|i| i.parse().unwrap_or(0));
        match (req.method.as_str(), id) {
            ("GET", None) => {
                let limit = query(req, "limit").unwrap_or(50).min(250);
                let page = query(req, "page").unwrap_or(1);
                let hooks = self.hooks();
                let items: Vec<Value> = page_of(&hooks, page, limit).iter().map(one).collect();
                let total_pages = hooks.len().div_ceil(limit);
                ResponseTemplate::new(200).set_body_json(
                    json!({"data": items, "meta": {"pagination": {
                    "total": hooks.len(), "count": items.len(), "per_page": limit,
                    "current_page": page, "total_pages": total_pages}}}),
                )
            }
            ("POST", None) => {
                let b: Value = req.body_json().unwrap();
                let id = self.add(
                    b["scope"].as_str().unwrap(),
                    b["destination"].as_str().unwrap(),
                    b["headers"]["X-Webhook-Token"].as_str(),
                );
                self.change(id, |h| h.active = b["is_active"] == true);
                let h = self.hooks().into_iter().find(|h| h.id == id).unwrap();
                ResponseTemplate::new(200).set_body_json(json!({"data": one(&h), "meta": {}}))
            }
            ("PUT", Some(id)) => {
                let b: Value = req.body_json().unwrap();
                if !self.hooks().iter().any(|h| h.id == id) {
                    return not_found();
                }
                self.change(id, |h| {
                    if let Some(a) = b["is_active"].as_bool() {
                        h.active = a;
                    }
                    if let Some(t) = b["headers"]["X-Webhook-Token"].as_str() {
                        h.secret = Some(t.into());
                    }
                });
                let h = self.hooks().into_iter().find(|h| h.id == id).unwrap();
                ResponseTemplate::new(200).set_body_json(json!({"data": one(&h), "meta": {}}))
            }
            ("DELETE", Some(id)) => {
                let h = self.hooks().into_iter().find(|h| h.id == id);
                match h {
                    Some(h) if self.remove(id) => ResponseTemplate::new(200)
                        .set_body_json(json!({"data": one(&h), "meta": {}})),
                    _ => not_found(),
                }
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match self.kind {
            Kind::Shopify => self.shopify(req),
            Kind::Woo => self.woo(req),
            Kind::Bc => self.bc(req),
        }
    }
}

/// The requests since the `from`th that change something: REST calls other
/// than GET, and Shopify mutations (by operation name).
async fn changes(server: &MockServer, from: usize) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .skip(from)
        .filter_map(|r| {
            if r.url.path().ends_with("graphql.json") {
                let body: Value = r.body_json().ok()?;
                let q = body["query"].as_str()?;
                q.strip_prefix("mutation ")
                    .map(|m| m.split('(').next().unwrap_or(m).to_owned())
            } else if r.method.as_str() != "GET" {
                Some(format!("{} {}", r.method, r.url.path()))
            } else {
                None
            }
        })
        .collect()
}

async fn seen(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// Run `dropship` with `args`: (success, stdout, stderr). No output ever
/// holds a secret or a key.
fn dropship(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    for s in SECRETS {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "{s} printed by dropship {args:?}:\n{stdout}\n{stderr}"
        );
    }
    (out.status.success(), stdout, stderr)
}

/// Run a command with `--json`: (success, the document).
fn json_run(args: &[&str]) -> (bool, Value) {
    let mut a = args.to_vec();
    a.push("--json");
    let (ok, stdout, stderr) = dropship(&a);
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("dropship {a:?}: {e}\n{stdout}\n{stderr}"));
    (ok, doc)
}

/// A data directory seeded with the demo seed, `company`'s store at `api`.
fn seeded(company: &str, api: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path(), company, api);
    let data = dir.path().join("data");
    let (ok, _, err) = dropship(&[
        "seed",
        seed.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    dir
}

fn seed_file(dir: &Path, company: &str, api: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("events/demo-seed.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for c in v["companies"].as_array_mut().unwrap() {
        if c["id"] == company {
            c["connection"]["api_base_url"] = api.into();
        }
    }
    let path = dir.join("seed.json");
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

fn states(doc: &Value) -> Vec<(String, String)> {
    doc["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["state"].as_str().unwrap().to_owned(),
                w["topic"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn all(state: &str, topics: &[&str]) -> Vec<(String, String)> {
    topics
        .iter()
        .map(|t| (state.to_owned(), (*t).to_owned()))
        .collect()
}

struct Platform {
    kind: Kind,
    company: &'static str,
    topics: &'static [&'static str],
    address: &'static str,
    /// A topic at our address that the intake does not act on.
    extra_topic: &'static str,
    create: &'static str,
}

const SHOPIFY: Platform = Platform {
    kind: Kind::Shopify,
    company: "seller-shopify",
    topics: &[
        "ORDERS_CANCELLED",
        "ORDERS_UPDATED",
        "ORDERS_EDITED",
        "REFUNDS_CREATE",
    ],
    address: "http://127.0.0.1:3000/webhooks/shopify",
    extra_topic: "ORDERS_CREATE",
    create: "DropshipWebhookSubscriptionCreate",
};

const WOO: Platform = Platform {
    kind: Kind::Woo,
    company: "seller-woo",
    topics: &["order.updated"],
    address: "http://127.0.0.1:3000/webhooks/woocommerce/seller-woo",
    extra_topic: "order.created",
    create: "POST /wp-json/wc/v3/webhooks",
};

const BC: Platform = Platform {
    kind: Kind::Bc,
    company: "seller-bc",
    topics: &[
        "store/order/statusUpdated",
        "store/order/updated",
        "store/order/refund/created",
    ],
    address: "http://127.0.0.1:3000/webhooks/bigcommerce/seller-bc",
    // What the setup guide once said to register by hand.
    extra_topic: "store/order/*",
    create: "POST /stores/birch123/v3/hooks",
};

/// The webhook secret our webhooks on `kind` must carry, if it holds one.
fn secret_of(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Shopify => None,
        Kind::Woo => Some("demo-woo-secret"),
        Kind::Bc => Some("demo-bc-secret"),
    }
}

/// Every command on one platform, from an empty store of ours to a
/// disconnected one.
async fn every_command(p: &Platform) {
    let server = MockServer::start().await;
    let fake = Fake::new(p.kind);
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    for i in 0..101 {
        fake.add(
            p.topics[0],
            &format!("https://elsewhere.example/hooks/{i}"),
            Some("theirs"),
        );
    }
    let others = fake.hooks();
    let dir = seeded(p.company, &server.uri());
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let cmd = |c: &'static str, extra: &[&'static str]| -> Vec<String> {
        let mut a = vec![
            c.to_owned(),
            p.company.to_owned(),
            "--url".into(),
            BASE.into(),
            "--data-dir".into(),
            data.to_owned(),
        ];
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let run = |c: &'static str, extra: &[&'static str]| {
        let a = cmd(c, extra);
        json_run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Nothing yet: --check reports every webhook missing and fails.
    let n = seen(&server).await;
    let (ok, doc) = run("connect", &["--check"]);
    assert!(!ok);
    assert_eq!(doc["command"], "check");
    assert_eq!(doc["connected"], false);
    assert_eq!(doc["other_webhooks"], 101);
    assert_eq!(states(&doc), all("missing", p.topics), "{doc:#}");
    assert!(
        doc["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["address"] == p.address && w["id"].is_null())
    );
    assert_eq!(changes(&server, n).await, Vec::<String>::new());

    // connect creates exactly what is missing, with the company's secret.
    let n = seen(&server).await;
    let (ok, doc) = run("connect", &[]);
    assert!(ok, "{doc:#}");
    assert_eq!(doc["command"], "connect");
    assert_eq!(doc["connected"], true);
    assert_eq!(doc["company_id"], p.company);
    assert_eq!(doc["base_url"], BASE);
    assert_eq!(states(&doc), all("created", p.topics));
    assert_eq!(
        changes(&server, n).await,
        vec![p.create.to_owned(); p.topics.len()]
    );
    let ours = fake.ours();
    let mut topics: Vec<&str> = p.topics.to_vec();
    topics.sort();
    assert_eq!(
        ours.iter().map(|h| h.topic.as_str()).collect::<Vec<_>>(),
        topics
    );
    for h in &ours {
        assert_eq!(h.address, p.address);
        assert!(h.active);
        assert_eq!(h.secret.as_deref(), secret_of(p.kind));
        assert_eq!(h.format, "JSON");
        assert!(
            doc["webhooks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["id"].as_str().unwrap().ends_with(&h.id.to_string()))
        );
    }

    // A second connect creates nothing, and --check agrees.
    let n = seen(&server).await;
    let (ok, doc) = run("connect", &[]);
    assert!(ok);
    assert_eq!(states(&doc), all("registered", p.topics));
    let (ok, doc) = run("connect", &["--check"]);
    assert!(ok, "{doc:#}");
    assert_eq!(doc["connected"], true);
    assert_eq!(changes(&server, n).await, Vec::<String>::new());

    // A webhook deleted behind our back is reported missing, then recreated alone.
    assert!(fake.remove(ours[0].id));
    let n = seen(&server).await;
    let (ok, doc) = run("connect", &["--check"]);
    assert!(!ok);
    let missing: Vec<(String, String)> = states(&doc)
        .into_iter()
        .filter(|(s, _)| s != "registered")
        .collect();
    assert_eq!(missing, vec![("missing".to_owned(), ours[0].topic.clone())]);
    assert_eq!(changes(&server, n).await, Vec::<String>::new());
    let (ok, doc) = run("connect", &[]);
    assert!(ok);
    assert_eq!(
        doc["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["state"] == "created")
            .count(),
        1
    );
    assert_eq!(changes(&server, n).await, vec![p.create.to_owned()]);

    // Wrong ones are reported, then repaired; an extra one at our address is removed.
    let ours = fake.ours();
    match p.kind {
        Kind::Shopify => fake.change(ours[0].id, |h| h.format = "XML".into()),
        Kind::Woo => fake.change(ours[0].id, |h| {
            h.active = false;
            h.secret = Some("stale".into());
        }),
        Kind::Bc => {
            fake.change(ours[0].id, |h| h.active = false);
            fake.change(ours[1].id, |h| h.secret = Some("stale".into()));
        }
    }
    let extra = fake.add(p.extra_topic, p.address, secret_of(p.kind));
    let n = seen(&server).await;
    let (ok, doc) = run("connect", &["--check"]);
    assert!(!ok);
    let wrong: Vec<&Value> = doc["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "wrong")
        .collect();
    let problems: Vec<&str> = wrong
        .iter()
        .flat_map(|w| w["problems"].as_array().unwrap())
        .map(|p| p.as_str().unwrap())
        .collect();
    match p.kind {
        Kind::Shopify => assert_eq!(problems, ["format XML, not JSON"]),
        Kind::Woo => assert_eq!(problems, ["status disabled, not active"]),
        Kind::Bc => {
            assert_eq!(problems.len(), 2);
            assert!(problems.contains(&"inactive"));
            assert!(problems.contains(&"X-Webhook-Token is not the company's webhook secret"));
        }
    }
    let extras: Vec<&Value> = doc["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "extra")
        .collect();
    assert_eq!(extras.len(), 1);
    assert_eq!(extras[0]["topic"], p.extra_topic);
    assert_eq!(
        extras[0]["problems"][0],
        format!(
            "{} is not a topic the webhook intake acts on",
            p.extra_topic
        )
    );
    assert_eq!(changes(&server, n).await, Vec::<String>::new());
    let (ok, doc) = run("connect", &[]);
    assert!(ok);
    let count = |s: &str| {
        doc["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["state"] == s)
            .count()
    };
    assert_eq!(
        (count("repaired"), count("removed")),
        (wrong.len(), 1),
        "{doc:#}"
    );
    assert!(!fake.hooks().iter().any(|h| h.id == extra));
    for h in fake.ours() {
        assert!(h.active && h.format == "JSON", "{h:?}");
        assert_eq!(h.secret.as_deref(), secret_of(p.kind));
    }
    let (ok, _) = run("connect", &["--check"]);
    assert!(ok);

    // disconnect removes ours only; a second one has nothing to remove.
    let n = seen(&server).await;
    let (ok, doc) = run("disconnect", &[]);
    assert!(ok, "{doc:#}");
    assert_eq!(doc["command"], "disconnect");
    assert_eq!(doc["connected"], false);
    assert_eq!(doc["other_webhooks"], 101);
    assert_eq!(doc["webhooks"].as_array().unwrap().len(), p.topics.len());
    assert!(
        doc["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["state"] == "removed")
    );
    assert_eq!(changes(&server, n).await.len(), p.topics.len());
    assert_eq!(
        fake.hooks(),
        others,
        "the store's other webhooks are untouched"
    );
    let n = seen(&server).await;
    let (ok, doc) = run("disconnect", &[]);
    assert!(ok);
    assert_eq!(doc["webhooks"], json!([]));
    assert_eq!(changes(&server, n).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn shopify_subscriptions() {
    every_command(&SHOPIFY).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn woocommerce_webhooks() {
    every_command(&WOO).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bigcommerce_hooks() {
    every_command(&BC).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn text_output_names_each_webhook_and_sums_up() {
    let server = MockServer::start().await;
    let fake = Fake::new(Kind::Bc);
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    fake.add("store/order/updated", "https://elsewhere.example/", None);
    let dir = seeded("seller-bc", &server.uri());
    let data = dir.path().join("data");
    let args = [
        "connect",
        "seller-bc",
        "--url",
        "http://127.0.0.1:3000",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let (ok, out, _) = dropship(&args);
    assert!(ok);
    assert!(
        out.starts_with("seller-bc (bigcommerce), webhooks under http://127.0.0.1:3000/:\n"),
        "{out}"
    );
    assert!(out.contains("created     store/order/updated"), "{out}");
    assert!(
        out.contains("http://127.0.0.1:3000/webhooks/bigcommerce/seller-bc  (id "),
        "{out}"
    );
    assert!(out.ends_with("1 other webhook of the store left alone. Connected: 3 created, 0 repaired, 0 removed, 0 already registered.\n"), "{out}");
    let mut check = args.to_vec();
    check.push("--check");
    let (ok, out, _) = dropship(&check);
    assert!(ok);
    assert!(out.ends_with("In place: 3 registered.\n"), "{out}");
    fake.change(2, |h| h.active = false);
    let (ok, out, err) = dropship(&check);
    assert!(!ok);
    assert!(out.contains("wrong       store/order/"), "{out}");
    assert!(out.contains("              - inactive\n"), "{out}");
    assert!(
        out.contains("Not in place: 0 missing, 1 wrong, 0 extra"),
        "{out}"
    );
    assert!(
        err.contains("webhooks are not in place: 0 missing, 1 wrong, 0 extra"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_cannot_be_connected_is_a_clear_error() {
    let dir = seeded("seller-woo", "http://127.0.0.1:9/");
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let fails = |args: &[&str], expected: &str| {
        let (ok, out, err) = dropship(args);
        assert!(!ok, "{args:?}: {out}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
    };
    for (company, integration) in [("buyer-api", "api"), ("seller-edi", "edi")] {
        fails(
            &["connect", company, "--url", BASE, "--data-dir", data],
            &format!(
                "company {company} integrates by {integration}, not through a store platform: there is nothing to connect"
            ),
        );
        fails(
            &["disconnect", company, "--url", BASE, "--data-dir", data],
            "nothing to connect",
        );
    }
    fails(
        &["connect", "nobody", "--url", BASE, "--data-dir", data],
        "no company \"nobody\"",
    );
    fails(
        &[
            "connect",
            "seller-woo",
            "--url",
            "ftp://x.example/",
            "--data-dir",
            data,
        ],
        "--url \"ftp://x.example/\"",
    );
    fails(
        &[
            "connect",
            "seller-woo",
            "--url",
            "https://x.example/?a=1",
            "--data-dir",
            data,
        ],
        "query",
    );
    let empty = dir.path().join("empty");
    fails(
        &[
            "connect",
            "seller-woo",
            "--url",
            BASE,
            "--data-dir",
            empty.to_str().unwrap(),
        ],
        "no store in",
    );
    assert!(!empty.exists(), "nothing is created where no store is");
    // The store at 127.0.0.1:9 is not there: a transient failure, named.
    fails(
        &["connect", "seller-woo", "--url", BASE, "--data-dir", data],
        "woocommerce is unavailable",
    );
}

/// An answer that quotes a secret back is redacted before it is printed.
#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_quoting_a_secret_is_redacted() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "rest_invalid_param", "message": "Invalid parameter(s): secret demo-woo-secret for ck_demo"})))
        .mount(&server)
        .await;
    let dir = seeded("seller-woo", &server.uri());
    let data = dir.path().join("data");
    let (ok, _, err) = dropship(&[
        "connect",
        "seller-woo",
        "--url",
        BASE,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("woocommerce refused the request: HTTP 400"),
        "{err}"
    );
    assert!(err.contains("secret [redacted] for [redacted]"), "{err}");
}

/// On DynamoDB (ministack, started by the test command), with the
/// company's secrets in ministack's Secrets Manager: the hooks carry the
/// secret read from there.
#[tokio::test(flavor = "multi_thread")]
async fn connect_on_dynamodb_with_secrets_manager() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "needs ministack: run through ./scripts/test (or scripts/ministack.sh test)"
    );
    let server = MockServer::start().await;
    let fake = Fake::new(Kind::Bc);
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    fake.add("store/order/updated", "https://elsewhere.example/", None);
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path(), "seller-bc", &server.uri());
    let table = format!("connect-{}", std::process::id());
    let prefix = format!("dropship/{table}/companies/");
    let store = [
        "--dynamodb-table",
        table.as_str(),
        "--secrets-prefix",
        prefix.as_str(),
    ];
    let mut args = vec!["seed", seed.to_str().unwrap()];
    args.extend(store);
    let (ok, _, err) = dropship(&args);
    assert!(ok, "{err}");
    let on = |c: &'static str, extra: &[&'static str]| {
        let mut a = vec![c, "seller-bc", "--url", BASE];
        a.extend(store);
        a.extend(extra);
        json_run(&a)
    };
    let (ok, doc) = on("connect", &[]);
    assert!(ok, "{doc:#}");
    assert_eq!(states(&doc), all("created", BC.topics));
    let ours = fake.ours();
    assert_eq!(ours.len(), 3);
    assert!(
        ours.iter()
            .all(|h| h.secret.as_deref() == Some("demo-bc-secret") && h.active)
    );
    let (ok, doc) = on("connect", &["--check"]);
    assert!(ok, "{doc:#}");
    assert_eq!(states(&doc), all("registered", BC.topics));
    let (ok, doc) = on("disconnect", &[]);
    assert!(ok);
    assert_eq!(doc["webhooks"].as_array().unwrap().len(), 3);
    assert_eq!(fake.hooks().len(), 1);
    // A company the table does not hold.
    let mut a = vec!["connect", "nobody", "--url", BASE];
    a.extend(store);
    let (ok, _, err) = dropship(&a);
    assert!(!ok);
    assert!(
        err.contains(&format!("no company \"nobody\" in DynamoDB table {table}")),
        "{err}"
    );
}

/// Store credentials travel over https only (loopback excepted), and a
/// BigCommerce hook destination must be https on port 443: `seed`,
/// `companies add|update` and `connect` refuse anything else, saying why.
#[tokio::test(flavor = "multi_thread")]
async fn plain_http_stores_and_other_ports_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    // A seed whose WooCommerce site is plain http: nothing is written.
    let text = std::fs::read_to_string(repo().join("events/demo-seed.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for c in v["companies"].as_array_mut().unwrap() {
        if c["id"] == "seller-woo" {
            c["connection"]["site_url"] = "http://cedar-crafts.example".into();
        }
    }
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, v.to_string()).unwrap();
    let (ok, _, err) = dropship(&["seed", seed.to_str().unwrap(), "--data-dir", data]);
    assert!(!ok);
    assert!(
        err.contains("site_url") && err.contains("Basic auth over HTTPS only"),
        "{err}"
    );
    // companies add with an http site URL.
    let seeded = seeded("seller-bc", "http://127.0.0.1:9/");
    let data = seeded.path().join("data");
    let data = data.to_str().unwrap();
    let file = seeded.path().join("woo.json");
    std::fs::write(
        &file,
        json!({"id": "woo-2", "name": "Woo", "role": "seller", "integration": "woocommerce",
               "email": "w@example.com",
               "connection": {"site_url": "http://woo.example", "webhook_secret": "s",
                              "consumer_key": "k", "consumer_secret": "c"}})
        .to_string(),
    )
    .unwrap();
    let (ok, _, err) = dropship(&[
        "companies",
        "add",
        file.to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    assert!(!ok);
    assert!(err.contains("must be https"), "{err}");
    // BigCommerce delivers to https on 443 only.
    for url in ["https://hooks.example:8443/", "http://hooks.example/"] {
        let (ok, _, err) = dropship(&["connect", "seller-bc", "--url", url, "--data-dir", data]);
        assert!(!ok, "{url}");
        assert!(
            err.contains("443") || err.contains("must be https"),
            "{url}: {err}"
        );
    }
}

#[test]
fn store_strings_are_printed_escaped_and_drift_is_reported() {
    use platforms::registration::{Command as Cmd, Entry, Report, State};
    let r = Report {
        command: Cmd::Check,
        company_id: "buyer-shopify".into(),
        platform: "shopify",
        base_url: "https://api.example/".into(),
        connected: true,
        webhooks: vec![Entry {
            state: State::Registered,
            topic: "ORDERS_UPDATED\u{1b}[2J".into(),
            address: "https://api.example/webhooks/shopify\r\nforged line".into(),
            id: Some("gid://shopify/WebhookSubscription/1\u{7}".into()),
            problems: vec!["wrong format \u{1b}]0;title\u{7}".into()],
        }],
        other_webhooks: 0,
        api_drift: Some(platforms::ApiDrift {
            platform: "shopify",
            requested: "2026-10".into(),
            served: Some("2027-01".into()),
            deprecated_reason: None,
        }),
    };
    let text = dropship::connect::text(&r);
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(
        text.contains("\\u{1b}[2J") && text.contains("\\r\\nforged line"),
        "{text}"
    );
    assert!(
        text.contains("warning: shopify served API version 2027-01 to requests for 2026-10"),
        "{text}"
    );
}
