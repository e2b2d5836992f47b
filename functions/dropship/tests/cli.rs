//! The `dropship` binary as a newcomer meets it: `serve` on a fresh data
//! directory, persistence across restarts, idempotent `seed`, and the
//! README's curl walk-through run exactly as written.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_dropship");

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

struct Server {
    child: Child,
    url: String,
    banner: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let url = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("dropship serving ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        banner.push(line);
    };
    Server { child, url, banner }
}

/// An unsigned AWS JSON-protocol call to ministack (it checks no
/// signature): the answer's document.
fn aws_json(endpoint: &str, target: &str, version: &str, body: &str) -> serde_json::Value {
    let (status, answer) = curl(&[
        "-X",
        "POST",
        endpoint,
        "-H",
        &format!("X-Amz-Target: {target}"),
        "-H",
        &format!("Content-Type: application/x-amz-json-{version}"),
        "-d",
        body,
    ]);
    assert_eq!(status, 200, "{target}: {answer}");
    serde_json::from_str(&answer).unwrap()
}

/// (status, body) of a curl request.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

const BUYER: &str = "Authorization: Bearer demo-buyer-api-key";

#[test]
fn fresh_start_prints_demo_keys_and_data_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[]);
    let banner = s.banner.join("\n");
    for key in [
        "demo-buyer-api-key",
        "demo-seller-api-key",
        "demo-seller-edi-key",
        "demo-buyer-edi-key",
    ] {
        assert!(banner.contains(key), "banner lacks {key}: {banner}");
    }
    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{}/v1/orders", s.url),
        "-H",
        BUYER,
        "-d",
        r#"{"seller_id":"seller-api","line_items":[{"id":"a","sku":"S","quantity":2}]}"#,
    ]);
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let (status, _) = curl(&[
        "-X",
        "POST",
        &format!("{}/v1/orders/{id}/cancellations", s.url),
        "-H",
        BUYER,
        "-d",
        r#"{"items":[{"line_item_id":"a","quantity":1,"reason":"Item is out of stock"}]}"#,
    ]);
    assert_eq!(status, 201);
    drop(s);

    // Restart: no demo banner again, and the order and its cancellation are there.
    let s = serve(dir.path(), &[]);
    assert!(!s.banner.join("\n").contains("demo-buyer-api-key"));
    let (status, body) = curl(&[&format!("{}/v1/orders/{id}", s.url), "-H", BUYER]);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["line_items"][0]["cancelled"], 1);
    assert_eq!(v["cancellations"].as_array().unwrap().len(), 1);
}

#[test]
fn oversized_bodies_are_refused_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[]);
    let body_file = dir.path().join("big.json");
    std::fs::write(
        &body_file,
        format!(r#"{{"reason":"{}"}}"#, "x".repeat(300 * 1024)),
    )
    .unwrap();
    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{}/v1/orders/ord_demo_api/cancellations", s.url),
        "-H",
        BUYER,
        "--data-binary",
        &format!("@{}", body_file.display()),
    ]);
    assert_eq!(status, 413);
    assert!(body.contains("payload_too_large"), "{body}");
    let (status, body) = curl(&[&format!("{}/v1/orders/ord_demo_api", s.url), "-H", BUYER]);
    assert_eq!(status, 200);
    assert!(body.contains(r#""cancellations":[]"#));
    let (status, body) = curl(&[&format!("{}/elsewhere", s.url)]);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn seed_is_idempotent_and_serve_applies_a_given_seed() {
    let dir = tempfile::tempdir().unwrap();
    let seed = repo().join("events/demo-seed.json");
    let run = || {
        let out = Command::new(BIN)
            .arg("seed")
            .arg(&seed)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run().contains("5 orders created, 0 already present"));
    assert!(run().contains("0 orders created, 5 already present"));
    // A bad seed file is a clear error, not a panic.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"companies": [{"id": "x"}]}"#).unwrap();
    let out = Command::new(BIN)
        .arg("seed")
        .arg(&bad)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json") && err.contains("missing field"),
        "{err}"
    );

    let other = tempfile::tempdir().unwrap();
    let s = serve(other.path(), &["--seed", seed.to_str().unwrap()]);
    assert!(s.banner.join("\n").contains("5 new orders"));
}

#[test]
fn readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("<!-- walkthrough:start -->")
        .nth(1)
        .and_then(|r| r.split("<!-- walkthrough:end -->").next())
        .expect("README has a walk-through block");
    let script = block
        .trim()
        .strip_prefix("```sh")
        .and_then(|s| s.strip_suffix("```"))
        .expect("the walk-through is one sh block");
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("data"), &[]);
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir.path())
        .env("DROPSHIP_URL", &s.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "walk-through failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(r#""cancellation_status":"cancelled""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""reason_code":"out_of_stock""#),
        "{stdout}"
    );
    assert!(stdout.contains("nothing_to_cancel"), "{stdout}");
    // The scorecard counts the walk-through's order: all 5 units cancelled.
    let card = &stdout[stdout.rfind(r#"{"company_id""#).expect("a scorecard")..];
    let card: serde_json::Value =
        serde_json::from_str(card.trim()).expect("the scorecard comes last");
    let seller = card["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partner_id"] == "seller-api")
        .expect("seller-api on the buyer's scorecard");
    assert!(seller["units_cancelled"].as_u64().unwrap() >= 5, "{card}");
    assert!(
        seller["by_reason"]["out_of_stock"].as_u64().unwrap() >= 1,
        "{card}"
    );
    assert!(
        !dir.path().join("order.json").exists(),
        "the walk-through cleans up"
    );
}

/// `seed` and `serve` on DynamoDB (ministack, started by the test command):
/// the missing table is created at the local endpoint, seeding twice
/// changes nothing, and the API answers from the table.
#[test]
fn seed_and_serve_on_dynamodb() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "needs ministack: run through ./scripts/test (or scripts/ministack.sh test)"
    );
    let table = format!("cli-{}", std::process::id());
    let seed = repo().join("events/demo-seed.json");
    let run = || {
        let out = Command::new(BIN)
            .arg("seed")
            .arg(&seed)
            .args(["--dynamodb-table", &table])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run().contains("5 orders created, 0 already present"));
    assert!(run().contains("0 orders created, 5 already present"));
    let dir = tempfile::tempdir().unwrap();
    // It hosts the stack's API, webhook endpoint routes included: without
    // the stack's delivery queue it does not start, and says why.
    let refused = Command::new(BIN)
        .args(["serve", "--port", "0", "--dynamodb-table", &table])
        .env_remove("WEBHOOK_QUEUE_URL")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("--webhook-queue-url"),
        "{said}"
    );
    // The queue and signing key a stack has, made at ministack.
    let queue = aws_json(
        &endpoint,
        "AmazonSQS.CreateQueue",
        "1.0",
        &format!(r#"{{"QueueName":"{table}-deliveries"}}"#),
    )["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = format!("dropship/{table}/webhook-signing-key");
    aws_json(
        &endpoint,
        "secretsmanager.CreateSecret",
        "1.1",
        &format!(r#"{{"Name":"{key}","SecretString":"{}"}}"#, "ab".repeat(32)),
    );
    let s = serve(
        dir.path(),
        &[
            "--dynamodb-table",
            &table,
            "--webhook-queue-url",
            &queue,
            "--webhook-signing-key",
            &key,
            "--allow-insecure-webhook-urls",
        ],
    );
    // An endpoint registered and tested: its ping waits on the queue.
    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{}/v1/webhook-endpoints", s.url),
        "-H",
        BUYER,
        "-d",
        r#"{"url":"http://127.0.0.1:9/hook","events":["cancellation.created"]}"#,
    ]);
    assert_eq!(status, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    // Derived from the stack's signing key, read from Secrets Manager.
    assert!(
        created["secret"].as_str().unwrap().starts_with("whsec_"),
        "{body}"
    );
    let id = created["id"].as_str().unwrap();
    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{}/v1/webhook-endpoints/{id}/test", s.url),
        "-H",
        BUYER,
    ]);
    assert_eq!(status, 202, "{body}");
    let waiting = aws_json(
        &endpoint,
        "AmazonSQS.ReceiveMessage",
        "1.0",
        &format!(r#"{{"QueueUrl":"{queue}","MaxNumberOfMessages":10}}"#),
    );
    assert!(waiting.to_string().contains(id), "{waiting}");
    let (status, body) = curl(&[&format!("{}/v1/orders/ord_demo_api", s.url), "-H", BUYER]);
    assert_eq!(status, 200, "{body}");
    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{}/v1/orders/ord_demo_api/cancellations", s.url),
        "-H",
        BUYER,
        "-d",
        r#"{"reason":"Items are out of stock"}"#,
    ]);
    assert_eq!(status, 201, "{body}");
    assert!(
        !dir.path().join("dropship.sqlite3").exists(),
        "nothing written to the embedded store"
    );
}
