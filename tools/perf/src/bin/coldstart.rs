//! coldstart: plays the AWS Lambda Runtime API on loopback and measures each
//! function binary's cold start against a baseline.
//!
//! For every run it binds a fresh `127.0.0.1:0` listener, spawns the binary
//! with `AWS_LAMBDA_RUNTIME_API` pointing at it and a Lambda-like
//! environment (cleared first), and records:
//!
//! - init: spawn to the first `GET /2018-06-01/runtime/invocation/next`
//!   (what Lambda reports as Init Duration, plus process exec);
//! - first: the first invocation, event handed over to `/response` received;
//! - warm: the following invocations (each sent once the runtime polls again);
//! - page faults (minor) of the process by its first poll, i.e. during init;
//! - max RSS (`VmHWM`) after the last invocation.
//!
//! `/invocation/{id}/error` and `/runtime/init/error` fail the run. Functions
//! run round-robin (each run starting with the next one), so a noisy machine
//! slows each alike; figures are medians,
//! and init is also given as a ratio to the first (baseline) function, or,
//! for NAME-SUFFIX, to hello-SUFFIX when there is one (e.g. `-pie` builds).
//!
//! ```text
//! coldstart [--runs 15] [--warm 20] [--timeout-secs 20] [--log-dir DIR]
//!           [--env KEY=VALUE]... NAME=BINARY[@EVENT_JSON]...
//! ```
//! The first NAME is the baseline. The child gets only the Lambda variables,
//! `AWS_*` and `TABLE_NAME` from this process's environment (so a local
//! DynamoDB endpoint can be passed through), and every `--env`.

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use perf::{Args, median, ms, percentile};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

const USAGE: &str = "coldstart [--runs 15] [--warm 20] [--timeout-secs 20] [--log-dir DIR] \
[--json FILE] [--env KEY=VALUE]... NAME=BINARY[@EVENT_JSON]...\n\
The first function is the baseline; EVENT_JSON defaults to {}.";

const PREFIX: &str = "/2018-06-01/runtime";

struct Function {
    name: String,
    binary: PathBuf,
    event: Bytes,
}

enum Note {
    Poll(Instant),
    Response {
        id: String,
        at: Instant,
        status: Option<u64>,
    },
    InvokeError {
        id: String,
        body: String,
    },
    InitError(String),
}

struct Shared {
    events: Mutex<mpsc::Receiver<(String, Bytes)>>,
    notes: mpsc::UnboundedSender<Note>,
}

#[derive(Default)]
struct Samples {
    init: Vec<Duration>,
    first: Vec<Duration>,
    warm: Vec<Duration>,
    rss_kib: Vec<u64>,
    init_faults: Vec<u64>,
    statuses: std::collections::BTreeMap<String, usize>,
    failures: Vec<String>,
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r
}

async fn runtime_api(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let accepted = || reply(StatusCode::ACCEPTED, Bytes::from_static(b"{}"));
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(reply(StatusCode::NOT_FOUND, Bytes::new()));
    };
    if method == Method::GET && rest == "/invocation/next" {
        let _ = shared.notes.send(Note::Poll(at));
        let next = shared.events.lock().await.recv().await;
        let Some((id, event)) = next else {
            return Ok(reply(StatusCode::GONE, Bytes::new()));
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            + 30_000;
        let mut r = reply(StatusCode::OK, event);
        let h = r.headers_mut();
        let set = |h: &mut hyper::HeaderMap, k: &'static str, v: String| {
            if let Ok(v) = v.parse() {
                h.insert(k, v);
            }
        };
        set(h, "content-type", "application/json".into());
        set(h, "lambda-runtime-aws-request-id", id);
        set(h, "lambda-runtime-deadline-ms", deadline.to_string());
        set(
            h,
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:coldstart".into(),
        );
        set(
            h,
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0".into(),
        );
        return Ok(r);
    }
    if method == Method::POST && rest == "/init/error" {
        let _ = shared
            .notes
            .send(Note::InitError(String::from_utf8_lossy(&body).into()));
        return Ok(accepted());
    }
    if method == Method::POST
        && let Some(tail) = rest.strip_prefix("/invocation/")
    {
        if let Some(id) = tail.strip_suffix("/response") {
            let status = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64));
            let _ = shared.notes.send(Note::Response {
                id: id.to_owned(),
                at,
                status,
            });
            return Ok(accepted());
        }
        if let Some(id) = tail.strip_suffix("/error") {
            let _ = shared.notes.send(Note::InvokeError {
                id: id.to_owned(),
                body: String::from_utf8_lossy(&body).into(),
            });
            return Ok(accepted());
        }
    }
    Ok(reply(StatusCode::NOT_FOUND, Bytes::new()))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping this task (abort) drops the JoinSet, which aborts every connection.
    let mut conns = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        conns.spawn(async move {
            let svc = service_fn(move |req| runtime_api(Arc::clone(&shared), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn lambda_env(name: &str, api: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", api),
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coldstart"),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/26/[$LATEST]coldstart",
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_rust"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("_HANDLER", "bootstrap"),
        ("TZ", ":UTC"),
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        // Dummy AWS settings; a local endpoint (e.g. ministack) is passed
        // through from this process's AWS_* variables, else an unused port.
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDCOLDSTART"),
        ("AWS_SECRET_ACCESS_KEY", "coldstart-secret"),
        ("AWS_SESSION_TOKEN", "coldstart-token"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("TABLE_NAME", "coldstart"),
        // The notifier's sender (it refuses to start without one).
        ("SENDER_EMAIL", "notifications@dropship.example"),
        // Webhook intake and the notifier name their secrets with it.
        ("SECRETS_PREFIX", "dropship/coldstart/companies/"),
        // The API and the notifier refuse to start without their webhook
        // settings (read lazily: no call at init); the notifier without
        // its EDI bucket.
        (
            "WEBHOOK_QUEUE_URL",
            "http://127.0.0.1:9/000000000000/coldstart",
        ),
        (
            "WEBHOOK_SIGNING_KEY",
            "dropship/coldstart/webhook-signing-key",
        ),
        ("EDI_BUCKET", "coldstart-edi"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut set = |k: String, v: String| {
        env.retain(|(n, _)| *n != k);
        env.push((k, v));
    };
    for (k, v) in std::env::vars() {
        let passed = (k.starts_with("AWS_") && !k.starts_with("AWS_LAMBDA_RUNTIME"))
            || k == "TABLE_NAME"
            || k == "SECRETS_PREFIX"
            || k == "RUST_LOG";
        if passed {
            set(k, v);
        }
    }
    for (k, v) in extra {
        set(k.clone(), v.clone());
    }
    env
}

/// Minor page faults so far (field 10 of /proc/PID/stat).
fn minor_faults(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(7)?.parse().ok()
}

fn max_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Wait for the next note; a child that exits first, or the timeout, is an error.
async fn next_note(
    notes: &mut mpsc::UnboundedReceiver<Note>,
    child: &mut Child,
    timeout: Duration,
) -> Result<Note, String> {
    tokio::select! {
        n = notes.recv() => n.ok_or_else(|| "runtime API closed".to_owned()),
        s = child.wait() => Err(format!("the process exited ({})", s.map_or_else(|e| e.to_string(), |s| s.to_string()))),
        () = tokio::time::sleep(timeout) => Err(format!("no word within {timeout:?}")),
    }
}

struct Run {
    init: Duration,
    first: Duration,
    warm: Vec<Duration>,
    rss_kib: Option<u64>,
    init_faults: Option<u64>,
    statuses: Vec<Option<u64>>,
}

async fn one_run(
    f: &Function,
    warm: usize,
    timeout: Duration,
    extra_env: &[(String, String)],
    log: Stdio,
) -> Result<Run, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let api = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let (events_tx, events_rx) = mpsc::channel(1);
    let (notes_tx, mut notes) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        events: Mutex::new(events_rx),
        notes: notes_tx,
    });
    let server = tokio::spawn(accept_loop(listener, shared));

    let spawned = Instant::now();
    let mut child = Command::new(&f.binary)
        .env_clear()
        .envs(lambda_env(&f.name, &api, extra_env))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", f.binary.display()))?;

    let result = async {
        let init = match next_note(&mut notes, &mut child, timeout).await? {
            Note::Poll(at) => at - spawned,
            Note::InitError(body) => return Err(format!("init error: {body}")),
            _ => return Err("unexpected call before the first poll".into()),
        };
        // The process is parked in its first poll: nothing runs until we answer.
        let init_faults = child.id().and_then(minor_faults);
        let mut latencies = Vec::with_capacity(warm + 1);
        let mut statuses = Vec::with_capacity(warm + 1);
        for i in 0..=warm {
            if i > 0 {
                match next_note(&mut notes, &mut child, timeout).await? {
                    Note::Poll(_) => {}
                    _ => return Err("expected the runtime to poll again".into()),
                }
            }
            let id = format!("coldstart-{i}");
            let sent = Instant::now();
            events_tx
                .send((id.clone(), f.event.clone()))
                .await
                .map_err(|_| "runtime API gone".to_owned())?;
            match next_note(&mut notes, &mut child, timeout).await? {
                Note::Response {
                    id: got,
                    at,
                    status,
                } if got == id => {
                    latencies.push(at - sent);
                    statuses.push(status);
                }
                Note::InvokeError { id, body } => {
                    return Err(format!("invocation {id} failed: {body}"));
                }
                _ => return Err(format!("no response for {id}")),
            }
        }
        let rss_kib = child.id().and_then(max_rss_kib);
        let first = latencies.remove(0);
        Ok(Run {
            init,
            first,
            warm: latencies,
            rss_kib,
            init_faults,
            statuses,
        })
    }
    .await;
    let _ = child.kill().await;
    server.abort();
    result
}

fn parse_function(spec: &str) -> Result<Function, String> {
    let (name, rest) = spec
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=BINARY[@EVENT]: {spec}"))?;
    let (binary, event) = match rest.split_once('@') {
        Some((b, e)) => (
            b,
            std::fs::read(e).map_err(|err| format!("reading event {e}: {err}"))?,
        ),
        None => (rest, b"{}".to_vec()),
    };
    let binary = PathBuf::from(binary);
    if !binary.is_file() {
        return Err(format!("{}: no such binary", binary.display()));
    }
    Ok(Function {
        name: name.to_owned(),
        binary,
        event: Bytes::from(event),
    })
}

fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".into(),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse(USAGE);
    let runs: usize = args.num("runs", 15);
    let warm: usize = args.num("warm", 20);
    let timeout = Duration::from_secs(args.num("timeout-secs", 20));
    let log_dir = args.get("log-dir").map(PathBuf::from);
    let extra_env: Vec<(String, String)> = args
        .all("env")
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let functions: Vec<Function> = match args.positional.iter().map(|s| parse_function(s)).collect()
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("coldstart: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if functions.is_empty() {
        eprintln!("{USAGE}");
        std::process::exit(2);
    }
    if let Some(d) = &log_dir {
        let _ = std::fs::create_dir_all(d);
    }

    let mut samples: Vec<Samples> = functions.iter().map(|_| Samples::default()).collect();
    let n = functions.len();
    for run in 0..runs {
        // Round-robin, starting one further each run, so that no function is
        // always the one that follows a pause or a given other binary.
        for k in 0..n {
            let i = (run + k) % n;
            let (f, s) = (&functions[i], &mut samples[i]);
            let log = match &log_dir {
                Some(d) => std::fs::File::create(d.join(format!("{}.log", f.name)))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
                None => Stdio::null(),
            };
            match one_run(f, warm, timeout, &extra_env, log).await {
                Ok(r) => {
                    s.init.push(r.init);
                    s.first.push(r.first);
                    s.warm.extend(r.warm);
                    s.rss_kib.extend(r.rss_kib);
                    s.init_faults.extend(r.init_faults);
                    for st in r.statuses {
                        let k = st.map_or_else(|| "-".to_owned(), |n| n.to_string());
                        *s.statuses.entry(k).or_default() += 1;
                    }
                }
                Err(e) => {
                    eprintln!("coldstart: {} run {run}: {e}", f.name);
                    s.failures.push(e);
                }
            }
        }
    }

    // A function named NAME-SUFFIX is compared with hello-SUFFIX when there
    // is one (the same code built another way, e.g. `-pie`); the rest with
    // the first function.
    let baseline_of = |name: &str| -> usize {
        if name.starts_with("hello") {
            return 0;
        }
        functions
            .iter()
            .position(|b| {
                b.name
                    .strip_prefix("hello")
                    .is_some_and(|suffix| suffix.starts_with('-') && name.ends_with(suffix))
            })
            .unwrap_or(0)
    };
    println!(
        "runs: {runs}, warm invocations per run: {warm}; medians (p90 in brackets), ms; ratios to {} \
         (NAME-SUFFIX to hello-SUFFIX where there is one)",
        functions[0].name
    );
    println!();
    println!(
        "| function | binary KiB | init | init ratio | init page faults | first invoke | first ratio | warm invoke | max RSS KiB | statusCode counts | failed runs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut json_rows = Vec::new();
    for (f, s) in functions.iter().zip(&samples) {
        let base = &samples[baseline_of(&f.name)];
        let (base_init, base_first) = (median(&base.init), median(&base.first));
        let size_kib = std::fs::metadata(&f.binary).map_or(0, |m| m.len() / 1024);
        let mut rss = s.rss_kib.clone();
        rss.sort_unstable();
        let rss_med = rss.get(rss.len().saturating_sub(1) / 2).copied();
        let mut faults = s.init_faults.clone();
        faults.sort_unstable();
        let faults_med = faults.get(faults.len().saturating_sub(1) / 2).copied();
        let statuses: Vec<String> = s.statuses.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        println!(
            "| {} | {} | {} ({}) | {} | {} | {} ({}) | {} | {} ({}) | {} | {} | {} |",
            f.name,
            size_kib,
            ms(median(&s.init)),
            ms(percentile(&s.init, 90.0)),
            ratio(median(&s.init), base_init),
            faults_med.map_or_else(|| "-".into(), |r| r.to_string()),
            ms(median(&s.first)),
            ms(percentile(&s.first, 90.0)),
            ratio(median(&s.first), base_first),
            ms(median(&s.warm)),
            ms(percentile(&s.warm, 90.0)),
            rss_med.map_or_else(|| "-".into(), |r| r.to_string()),
            statuses.join(" "),
            s.failures.len(),
        );
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
        json_rows.push(serde_json::json!({
            "function": f.name, "binary_bytes": std::fs::metadata(&f.binary).map_or(0, |m| m.len()),
            "init_ms_median": secs(median(&s.init)), "init_ms_p90": secs(percentile(&s.init, 90.0)),
            "first_ms_median": secs(median(&s.first)), "warm_ms_median": secs(median(&s.warm)),
            "warm_ms_p90": secs(percentile(&s.warm, 90.0)), "max_rss_kib_median": rss_med,
            "init_minor_faults_median": faults_med,
            "runs_ok": s.init.len(), "runs_failed": s.failures.len(),
        }));
    }
    if let Some(path) = args.get("json") {
        let doc = serde_json::json!({"runs": runs, "warm": warm, "functions": json_rows});
        if let Err(e) = std::fs::write(path, format!("{doc:#}\n")) {
            eprintln!("coldstart: writing {path}: {e}");
        }
    }
    if samples.iter().any(|s| !s.failures.is_empty()) {
        std::process::exit(1);
    }
}
