//! loadgen: cancellations against `dropship serve` on loopback, at several
//! concurrency levels, on distinct orders and on one hot order; then checks
//! the books.
//!
//! - distinct: every request cancels a different, pre-created order whole
//!   (3 lines, 6 units); each order must end fully cancelled, and the units in
//!   the 201 answers must equal the units the store committed.
//! - hot: every client hits one order (one line of `--hot-units` units): three
//!   of four requests cancel 1 unit as the buyer, one fulfils 1 unit as the
//!   seller, so version conflicts (retried by the service, at worst `409
//!   conflict`) and, near the end, `409 quantity_exceeds_open` happen. After:
//!   fulfilled + cancelled <= quantity, cancelled = units of the cancel 201s,
//!   fulfilled = units of the fulfil 201s.
//! - hot-cancel: every request cancels 1 unit of one order (one line with a
//!   unit per request, so none runs out), each with its own Idempotency-Key:
//!   pure contention on one order. Every answer should be 201; the `409
//!   conflict` rate is what the service's race handling leaves to clients.
//!   After: cancelled = units of the 201s.
//!
//! Any 5xx, transport error or broken invariant makes the exit status 1.
//! Bounded: `--requests` per level and mode, and `--max-secs` per level.
//! `--spawn` serves from `--data-dir` (embedded store), or from DynamoDB
//! with `--dynamodb-table T` (the environment's AWS endpoint; pass the demo
//! seed with `--seed events/demo-seed.json` for a fresh table).
//!
//! ```text
//! loadgen (--url http://127.0.0.1:PORT
//!          | --spawn path/to/dropship [--data-dir DIR | --dynamodb-table T] [--seed FILE])
//!         [--levels 1,8,64] [--modes distinct,hot,hot-cancel] [--requests 2000]
//!         [--max-secs 20] [--hot-units 1500] [--json FILE]
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use perf::{Args, median, ms, percentile};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;

const USAGE: &str = "loadgen (--url http://127.0.0.1:PORT | --spawn DROPSHIP_BINARY \
[--data-dir DIR | --dynamodb-table TABLE] [--seed FILE]) [--levels 1,8,64] \
[--modes distinct,hot,hot-cancel] [--requests 2000] [--max-secs 20] [--hot-units 1500] [--json FILE]";

const MODES: [&str; 3] = ["distinct", "hot", "hot-cancel"];

const BUYER: &str = "Bearer demo-buyer-api-key";
const SELLER: &str = "Bearer demo-seller-api-key";

type Http = Client<HttpConnector, Full<Bytes>>;

#[derive(Clone)]
struct Api {
    http: Http,
    base: String,
}

struct Answer {
    status: u16,
    body: Value,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> Result<Answer, String> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", key)
            .header("content-type", "application/json");
        if let Some(k) = idem {
            b = b.header("idempotency-key", k);
        }
        let body = body.map(|v| v.to_string()).unwrap_or_default();
        let req = b
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = self.http.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    async fn create_order(&self, lines: &[(&str, u32)], tag: &str) -> Result<String, String> {
        let items: Vec<Value> = lines
            .iter()
            .map(|(id, q)| json!({"id": id, "sku": format!("SKU-{id}"), "quantity": q}))
            .collect();
        let a = self
            .call(
                Method::POST,
                "/v1/orders",
                BUYER,
                Some(
                    json!({"seller_id": "seller-api", "buyer_order_ref": tag, "line_items": items}),
                ),
                Some(tag),
            )
            .await?;
        if a.status != 201 {
            return Err(format!("creating an order: {} {}", a.status, a.body));
        }
        a.body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no order id in {}", a.body))
    }

    async fn order(&self, id: &str) -> Result<Value, String> {
        let a = self
            .call(Method::GET, &format!("/v1/orders/{id}"), BUYER, None, None)
            .await?;
        if a.status != 200 {
            return Err(format!("reading {id}: {} {}", a.status, a.body));
        }
        Ok(a.body)
    }
}

fn units(body: &Value) -> u64 {
    body["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["quantity"].as_u64()).sum())
        .unwrap_or(0)
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    /// "status code" or "status code/problem code" -> count.
    statuses: BTreeMap<String, usize>,
    transport_errors: Vec<String>,
    cancelled_units: u64,
    fulfilled_units: u64,
    cancellations_201: u64,
}

struct Level {
    mode: &'static str,
    clients: usize,
    elapsed: Duration,
    tally: Tally,
    problems: Vec<String>,
}

enum Op {
    CancelWhole(String),
    CancelOne(String),
    FulfilOne(String),
}

async fn run_ops(api: &Api, ops: Vec<Op>, clients: usize, max: Duration) -> (Duration, Tally) {
    let ops = Arc::new(ops);
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (api, ops, next, tally) = (api.clone(), ops.clone(), next.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops.len() || started.elapsed() > max {
                    break;
                }
                let idem = format!("load-{c}-{i}-{}", started.elapsed().as_nanos());
                let (key, path, body, cancel) = match &ops[i] {
                    Op::CancelWhole(id) => (
                        BUYER,
                        format!("/v1/orders/{id}/cancellations"),
                        json!({"reason": "Load test: whole order"}),
                        true,
                    ),
                    Op::CancelOne(id) => (
                        BUYER,
                        format!("/v1/orders/{id}/cancellations"),
                        json!({"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "Load test: one unit"}]}),
                        true,
                    ),
                    Op::FulfilOne(id) => (
                        SELLER,
                        format!("/v1/orders/{id}/fulfillments"),
                        json!({"items": [{"line_item_id": "li_1", "quantity": 1}]}),
                        false,
                    ),
                };
                let t = Instant::now();
                let r = api
                    .call(Method::POST, &path, key, Some(body), Some(&idem))
                    .await;
                let took = t.elapsed();
                let mut t = tally.lock().await;
                t.latencies.push(took);
                match r {
                    Ok(a) => {
                        let label = match a.body["code"].as_str() {
                            Some(code) if a.status >= 400 => format!("{}/{code}", a.status),
                            _ => a.status.to_string(),
                        };
                        *t.statuses.entry(label).or_default() += 1;
                        if a.status == 201 {
                            if cancel {
                                t.cancelled_units += units(&a.body);
                                t.cancellations_201 += 1;
                            } else {
                                t.fulfilled_units += units(&a.body);
                            }
                        }
                    }
                    Err(e) => t.transport_errors.push(e),
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed();
    let tally = Arc::try_unwrap(tally)
        .map(Mutex::into_inner)
        .unwrap_or_default();
    (elapsed, tally)
}

fn line_totals(order: &Value) -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for l in order["line_items"].as_array().into_iter().flatten() {
        t.0 += l["quantity"].as_u64().unwrap_or(0);
        t.1 += l["fulfilled"].as_u64().unwrap_or(0);
        t.2 += l["cancelled"].as_u64().unwrap_or(0);
    }
    t
}

async fn distinct(
    api: &Api,
    clients: usize,
    requests: usize,
    max: Duration,
) -> Result<Level, String> {
    let mut ids = Vec::with_capacity(requests);
    for i in 0..requests {
        let tag = format!("load-d{clients}-{i}-{}", std::process::id());
        ids.push(
            api.create_order(&[("li_1", 1), ("li_2", 2), ("li_3", 3)], &tag)
                .await?,
        );
    }
    let ops = ids.iter().cloned().map(Op::CancelWhole).collect();
    let (elapsed, tally) = run_ops(api, ops, clients, max).await;
    // The books: every order answered 201 is fully cancelled; the others untouched.
    let mut problems = Vec::new();
    let mut committed = 0;
    for id in &ids {
        let (q, f, c) = line_totals(&api.order(id).await?);
        committed += c;
        if f + c > q {
            problems.push(format!(
                "{id}: fulfilled {f} + cancelled {c} > quantity {q}"
            ));
        }
        if c != 0 && c != q {
            problems.push(format!("{id}: partly cancelled ({c} of {q})"));
        }
    }
    if committed != tally.cancelled_units {
        problems.push(format!(
            "201 answers say {} units cancelled, the store has {committed}",
            tally.cancelled_units
        ));
    }
    Ok(Level {
        mode: "distinct",
        clients,
        elapsed,
        tally,
        problems,
    })
}

async fn hot(
    api: &Api,
    clients: usize,
    requests: usize,
    units: u32,
    max: Duration,
) -> Result<Level, String> {
    let tag = format!("load-h{clients}-{}", std::process::id());
    let id = api.create_order(&[("li_1", units)], &tag).await?;
    let ops = (0..requests)
        .map(|i| {
            if i % 4 == 3 {
                Op::FulfilOne(id.clone())
            } else {
                Op::CancelOne(id.clone())
            }
        })
        .collect();
    let (elapsed, tally) = run_ops(api, ops, clients, max).await;
    let (q, f, c) = line_totals(&api.order(&id).await?);
    let mut problems = Vec::new();
    if f + c > q {
        problems.push(format!(
            "{id}: fulfilled {f} + cancelled {c} > quantity {q}"
        ));
    }
    if c != tally.cancelled_units {
        problems.push(format!(
            "{id}: cancel 201s say {} units, the store has {c}",
            tally.cancelled_units
        ));
    }
    if f != tally.fulfilled_units {
        problems.push(format!(
            "{id}: fulfil 201s say {} units, the store has {f}",
            tally.fulfilled_units
        ));
    }
    Ok(Level {
        mode: "hot",
        clients,
        elapsed,
        tally,
        problems,
    })
}

async fn hot_cancel(
    api: &Api,
    clients: usize,
    requests: usize,
    max: Duration,
) -> Result<Level, String> {
    let tag = format!("load-hc{clients}-{}", std::process::id());
    let units = u32::try_from(requests).map_err(|_| "--requests is too large")?;
    let id = api.create_order(&[("li_1", units.max(1))], &tag).await?;
    let ops = (0..requests).map(|_| Op::CancelOne(id.clone())).collect();
    let (elapsed, tally) = run_ops(api, ops, clients, max).await;
    let (q, f, c) = line_totals(&api.order(&id).await?);
    let mut problems = Vec::new();
    if f + c > q {
        problems.push(format!(
            "{id}: fulfilled {f} + cancelled {c} > quantity {q}"
        ));
    }
    if c != tally.cancelled_units {
        problems.push(format!(
            "{id}: 201s say {} units, the store has {c}",
            tally.cancelled_units
        ));
    }
    Ok(Level {
        mode: "hot-cancel",
        clients,
        elapsed,
        tally,
        problems,
    })
}

/// Start `dropship serve --port 0` and read its URL from its first lines.
async fn spawn_server(
    binary: &str,
    store_args: &[&str],
) -> Result<(tokio::process::Child, String), String> {
    let mut child = tokio::process::Command::new(binary)
        .args(["serve", "--port", "0"])
        .args(store_args)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawning {binary}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let find = async {
        while let Ok(Some(line)) = lines.next_line().await {
            // "dropship serving http://127.0.0.1:PORT (data in DIR)"
            if let Some(rest) = line.split("dropship serving ").nth(1) {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    };
    let url = tokio::time::timeout(Duration::from_secs(30), find)
        .await
        .ok()
        .flatten()
        .ok_or("dropship did not say where it serves")?;
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse(USAGE);
    let levels: Vec<usize> = args
        .get("levels")
        .unwrap_or("1,8,64")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let requests: usize = args.num("requests", 2000);
    let hot_units: u32 = args.num("hot-units", 1500);
    let max = Duration::from_secs(args.num("max-secs", 20));

    let mut server = None;
    let base = match (args.get("url"), args.get("spawn")) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Some(bin)) => {
            let dir = args.get("data-dir").map_or_else(
                || {
                    std::env::temp_dir()
                        .join(format!("loadgen-{}", std::process::id()))
                        .display()
                        .to_string()
                },
                str::to_owned,
            );
            let mut store_args = match args.get("dynamodb-table") {
                Some(table) => vec!["--dynamodb-table", table],
                None => vec!["--data-dir", dir.as_str()],
            };
            if let Some(seed) = args.get("seed") {
                store_args.extend(["--seed", seed]);
            }
            match spawn_server(bin, &store_args).await {
                Ok((child, url)) => {
                    server = Some((child, dir));
                    url
                }
                Err(e) => {
                    eprintln!("loadgen: {e}");
                    std::process::exit(1);
                }
            }
        }
        (None, None) => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build_http();
    let api = Api { http, base };

    let mut results = Vec::new();
    let mut failed = false;
    let modes: Vec<&'static str> = match args.get("modes") {
        None => MODES.to_vec(),
        Some(list) => {
            let mut modes = Vec::new();
            for m in list.split(',').map(str::trim) {
                match MODES.iter().find(|k| **k == m) {
                    Some(k) => modes.push(*k),
                    None => {
                        eprintln!("loadgen: unknown mode {m:?}\n\n{USAGE}");
                        std::process::exit(2);
                    }
                }
            }
            modes
        }
    };
    for &clients in &levels {
        for &mode in &modes {
            let r = match mode {
                "distinct" => distinct(&api, clients, requests, max).await,
                "hot" => hot(&api, clients, requests, hot_units, max).await,
                _ => hot_cancel(&api, clients, requests, max).await,
            };
            match r {
                Ok(l) => results.push(l),
                Err(e) => {
                    eprintln!("loadgen: {mode} at {clients}: {e}");
                    failed = true;
                }
            }
        }
    }

    println!(
        "Each level: up to {requests} requests or {max:?}; latency in ms (client side, keep-alive HTTP/1.1)."
    );
    println!();
    println!(
        "| mode | clients | requests | req/s | 201 | 409 conflict | other answers | p50 | p90 | p99 | max | statuses | 5xx | invariant |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for l in &results {
        let t = &l.tally;
        let n = t.latencies.len();
        let secs = l.elapsed.as_secs_f64().max(1e-9);
        let five = t
            .statuses
            .iter()
            .filter(|(k, _)| k.starts_with('5'))
            .map(|(_, v)| v)
            .sum::<usize>();
        let statuses: Vec<String> = t
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let ok = l.problems.is_empty() && five == 0 && t.transport_errors.is_empty();
        failed |= !ok;
        let count = |label: &str| t.statuses.get(label).copied().unwrap_or(0);
        let (created, conflicts) = (count("201"), count("409/conflict"));
        let other = n.saturating_sub(created + conflicts);
        let conflict_pct = 100.0 * conflicts as f64 / (n.max(1)) as f64;
        println!(
            "| {} | {} | {} | {:.0} | {} | {} ({:.2}%) | {} | {} | {} | {} | {} | {} | {} | {} |",
            l.mode,
            l.clients,
            n,
            n as f64 / secs,
            created,
            conflicts,
            conflict_pct,
            other,
            ms(median(&t.latencies)),
            ms(percentile(&t.latencies, 90.0)),
            ms(percentile(&t.latencies, 99.0)),
            ms(percentile(&t.latencies, 100.0)),
            statuses.join(", "),
            five + t.transport_errors.len(),
            if l.problems.is_empty() {
                "ok"
            } else {
                "BROKEN"
            },
        );
        for p in &l.problems {
            eprintln!("loadgen: {} at {}: {p}", l.mode, l.clients);
        }
        for e in t.transport_errors.iter().take(5) {
            eprintln!("loadgen: {} at {}: transport: {e}", l.mode, l.clients);
        }
        let msf = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
        rows.push(json!({
            "mode": l.mode, "clients": l.clients, "requests": n, "seconds": secs,
            "req_per_s": n as f64 / secs, "cancellations_201_per_s": t.cancellations_201 as f64 / secs,
            "created": created, "conflicts": conflicts, "conflict_rate_pct": conflict_pct,
            "other_answers": other,
            "p50_ms": msf(median(&t.latencies)), "p90_ms": msf(percentile(&t.latencies, 90.0)),
            "p99_ms": msf(percentile(&t.latencies, 99.0)), "max_ms": msf(percentile(&t.latencies, 100.0)),
            "statuses": t.statuses, "server_errors": five, "transport_errors": t.transport_errors.len(),
            "invariant_ok": l.problems.is_empty(),
        }));
    }
    if let Some(path) = args.get("json")
        && let Err(e) = std::fs::write(path, format!("{:#}\n", json!({ "levels": rows })))
    {
        eprintln!("loadgen: writing {path}: {e}");
    }
    if let Some((mut child, dir)) = server {
        let _ = child.kill().await;
        if args.get("data-dir").is_none() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    if failed {
        std::process::exit(1);
    }
}
