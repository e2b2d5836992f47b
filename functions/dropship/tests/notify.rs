//! `dropship serve` runs the notifier in-process: a committed cancellation
//! shows up promptly as an `.eml` file (and, for a store-connected partner
//! without `api_base_url`, a store-sync request record) under
//! `<data-dir>/outbox/`, once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dropship");

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path, sender: Option<&str>) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .env_remove("SENDER_EMAIL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(s) = sender {
        cmd.env("SENDER_EMAIL", s);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("dropship serving ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

fn post(url: &str, key: &str, body: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", url])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args(["-H", "Content-Type: application/json", "-d", body])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

fn wait_for(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The message with quoted-printable soft line breaks and `=3D` undone.
fn unfolded(eml: &str) -> String {
    eml.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

fn cancellation_id(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_cancellation_is_written_to_the_outbox_once() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let id = {
        let s = serve(dir.path(), None);
        let (status, body) = post(
            &format!("{}/v1/orders/ord_demo_api_bc/cancellations", s.url),
            "demo-buyer-api-key",
            r#"{"items": [{"line_item_id": "li_1", "quantity": 1, "reason": "Ordered <too> many"}]}"#,
        );
        assert_eq!(status, 201, "{body}");
        let id = cancellation_id(&body);
        let eml = unfolded(&wait_for(&outbox.join(format!("ord_demo_api_bc-{id}.eml"))));
        assert!(
            eml.contains("From: notifications@dropship.example"),
            "{eml}"
        );
        assert!(eml.contains("To: store@birch-supply.example"), "{eml}");
        assert!(eml.contains("Subject: Order ord_demo_api_bc"), "{eml}");
        assert!(eml.contains("Content-Type: multipart/alternative"));
        assert!(eml.contains("CHAIR-BIR") && eml.contains("Ordered <too> many"));
        assert!(
            eml.contains("Ordered &#60;too&#62; many"),
            "the HTML part is escaped"
        );
        let rec = wait_for(&outbox.join(format!("ord_demo_api_bc-{id}.store-sync.json")));
        let rec: serde_json::Value = serde_json::from_str(&rec).unwrap();
        assert_eq!(
            rec["requests"][0]["url"],
            "https://api.bigcommerce.com/stores/birch123/v2/orders/120"
        );
        assert_eq!(
            rec["requests"][0]["body"],
            serde_json::json!({"products": [{"id": 501, "quantity": 1}]})
        );
        assert!(!rec.to_string().contains("bc_demo_token"));
        id
    };
    // A restart on the same data directory writes nothing again.
    for f in std::fs::read_dir(&outbox).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let _s = serve(dir.path(), None);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        std::fs::read_dir(&outbox).unwrap().count(),
        0,
        "{id} notified twice"
    );
}

#[test]
fn sender_email_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), Some("cancellations@acme-dropship.example"));
    let (status, body) = post(
        &format!("{}/v1/orders/ord_demo_api/cancellations", s.url),
        "demo-seller-api-key",
        r#"{"reason": "Warehouse closed"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let id = cancellation_id(&body);
    let eml = wait_for(&dir.path().join(format!("outbox/ord_demo_api-{id}.eml")));
    assert!(
        eml.contains("From: cancellations@acme-dropship.example"),
        "{eml}"
    );
    assert!(eml.contains("To: orders@acme-home.example"), "{eml}");
    assert!(
        !dir.path()
            .join(format!("outbox/ord_demo_api-{id}.store-sync.json"))
            .exists()
    );
}
