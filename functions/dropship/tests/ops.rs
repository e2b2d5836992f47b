//! `dropship companies` and `dropship keys`, run as an operator runs them:
//! the binary, on the embedded store and on DynamoDB (ministack) with the
//! secrets in its Secrets Manager.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use service::app::OrdersService;
use service::store::{Companies, Store};

const BIN: &str = env!("CARGO_BIN_EXE_dropship");

const SECRETS: [&str; 3] = ["whsec-ops-1", "ck_ops_1", "cs_ops_1"];

fn company(name: &str) -> Value {
    json!({
        "id": "seller-ops", "name": name, "role": "seller", "integration": "woocommerce",
        "email": "ops@seller.example",
        "connection": {"site_url": "https://seller.example", "webhook_secret": SECRETS[0],
                       "consumer_key": SECRETS[1], "consumer_secret": SECRETS[2]}
    })
}

/// Runs `dropship ARGS... STORE_ARGS... --json`: (success, stdout JSON, stderr).
fn run(args: &[&str], store: &[String]) -> (bool, Value, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(store)
        .arg("--json")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    for s in SECRETS {
        assert!(!stdout.contains(s), "a secret printed: {stdout}");
    }
    (
        out.status.success(),
        serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The whole operator story on one store; `open` gives a fresh handle on
/// it (as the service's own process would have).
async fn story<S: Store, F: AsyncFn() -> S>(dir: &Path, store: &[String], open: F) {
    let file = dir.join("company.json");
    std::fs::write(&file, company("Seller Ops").to_string()).unwrap();
    let f = file.to_str().unwrap();

    let (ok, v, err) = run(&["companies", "add", f], store);
    assert!(ok, "{err}");
    assert_eq!(v, json!({"id": "seller-ops", "added": true}));
    let (ok, _, err) = run(&["companies", "add", f], store);
    assert!(!ok && err.contains("exists already"), "{err}");

    let (ok, v, err) = run(&["companies", "show", "seller-ops"], store);
    assert!(ok, "{err}");
    assert_eq!(
        v["secrets"],
        json!(["webhook_secret", "consumer_key", "consumer_secret"])
    );
    assert_eq!(v["connection"]["site_url"], "https://seller.example");
    let (ok, v, _) = run(&["companies", "list"], store);
    assert!(ok);
    assert!(
        v["companies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "seller-ops" && c["connected"] == true && c["keys"] == 0)
    );

    let (ok, created, err) = run(&["keys", "create", "seller-ops"], store);
    assert!(ok, "{err}");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["company_id"], "seller-ops");
    assert!(key.starts_with("dsk_") && key.len() == 4 + 40, "{key}");
    assert!(key[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(id.starts_with("key_"));
    let app = OrdersService::new(open().await);
    assert_eq!(app.authenticate(&key).await.unwrap().id, "seller-ops");

    let (ok, v, _) = run(&["keys", "list", "seller-ops"], store);
    assert!(ok);
    assert_eq!(v["keys"][0]["id"], id.as_str());
    assert!(v["keys"][0]["created_at"].is_string());
    assert!(
        !v.to_string().contains(&key),
        "the key is printed once only"
    );

    // An update keeps the key, and the secrets it leaves out.
    let mut renamed = company("Seller Ops Renamed");
    renamed["connection"] = json!({"site_url": "https://seller.example"});
    std::fs::write(&file, renamed.to_string()).unwrap();
    let (ok, _, err) = run(&["companies", "update", f], store);
    assert!(ok, "{err}");
    let c = open().await.company("seller-ops").await.unwrap().unwrap();
    assert_eq!(c.name, "Seller Ops Renamed");
    assert_eq!(
        c.connection.unwrap().webhook_secret.as_deref(),
        Some(SECRETS[0])
    );
    assert!(app.authenticate(&key).await.is_ok());

    let (ok, v, err) = run(&["keys", "revoke", "seller-ops", &id], store);
    assert!(ok, "{err}");
    assert_eq!(v["revoked"], true);
    // Refused at the next request.
    let app = OrdersService::new(open().await);
    assert!(app.authenticate(&key).await.is_err());
    let (ok, _, err) = run(&["keys", "revoke", "seller-ops", &id], store);
    assert!(!ok && err.contains("has no key"), "{err}");
    let (ok, _, err) = run(&["companies", "show", "nobody"], store);
    assert!(!ok && err.contains("no company"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_and_keys_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = vec!["--data-dir".to_owned(), data.to_str().unwrap().to_owned()];
    story(dir.path(), &store, async || {
        sqlite::EmbeddedStore::open_dir(&data).unwrap()
    })
    .await;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n == "dropship.secrets.json")
        {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for s in SECRETS {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} in {}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_and_keys_on_dynamodb() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "needs ministack: run through scripts/ministack.sh test"
    );
    let dir = tempfile::tempdir().unwrap();
    let table = format!("ops-{}", ulid::Ulid::generate().to_string().to_lowercase());
    let prefix = format!("dropship/{table}/companies/");
    let store = vec![
        "--dynamodb-table".to_owned(),
        table.clone(),
        "--secrets-prefix".to_owned(),
        prefix.clone(),
    ];
    let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
    let open = async || {
        service::secrets::WithSecrets::new(
            dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table),
            secretsmanager::SecretsManager::on_first_use(&sdk, &prefix),
        )
    };
    story(dir.path(), &store, open).await;
    let items = aws_sdk_dynamodb::Client::new(&sdk)
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let all = format!("{:?}", items.items());
    for s in SECRETS {
        assert!(!all.contains(s), "{s} in the table");
    }
}

/// A revoke and three creates of one company's keys at once, as four
/// operators' commands would run (repeated): every command succeeds,
/// every printed key authenticates, the revoked one does not.
async fn key_commands_at_once<S: Store, F: AsyncFn() -> S>(dir: &Path, store: &[String], open: F) {
    let file = dir.join("racing.json");
    let racing = json!({"id": "buyer-race", "name": "Buyer Race", "role": "buyer",
                        "integration": "api", "email": "race@buyer.example"});
    std::fs::write(&file, racing.to_string()).unwrap();
    let (ok, _, err) = run(&["companies", "add", file.to_str().unwrap()], store);
    assert!(ok, "{err}");
    let (ok, first, err) = run(&["keys", "create", "buyer-race"], store);
    assert!(ok, "{err}");
    let mut doomed = (
        first["id"].as_str().unwrap().to_owned(),
        first["key"].as_str().unwrap().to_owned(),
    );
    for round in 0..3 {
        let mut commands = vec![
            Command::new(BIN)
                .args(["keys", "revoke", "buyer-race", &doomed.0])
                .args(store)
                .arg("--json")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ];
        for _ in 0..3 {
            commands.push(
                Command::new(BIN)
                    .args(["keys", "create", "buyer-race"])
                    .args(store)
                    .arg("--json")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        let mut created = Vec::new();
        for (i, c) in commands.into_iter().enumerate() {
            let out = c.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "round {round}, command {i}: {stderr}");
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            if i == 0 {
                assert_eq!(v["revoked"], true);
            } else {
                created.push((
                    v["id"].as_str().unwrap().to_owned(),
                    v["key"].as_str().unwrap().to_owned(),
                ));
            }
        }
        let app = OrdersService::new(open().await);
        assert!(
            app.authenticate(&doomed.1).await.is_err(),
            "round {round}: the revoked key still authenticates"
        );
        for (id, key) in &created {
            assert!(
                app.authenticate(key).await.is_ok(),
                "round {round}: {id} was printed but does not authenticate"
            );
        }
        let (_, listed, _) = run(&["keys", "list", "buyer-race"], store);
        let ids: Vec<&str> = listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["id"].as_str())
            .collect();
        assert!(!ids.contains(&doomed.0.as_str()), "round {round}: {ids:?}");
        for (id, _) in &created {
            assert!(
                ids.contains(&id.as_str()),
                "round {round}: {id} not listed: {ids:?}"
            );
        }
        doomed = created.pop().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_commands_at_once_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = vec!["--data-dir".to_owned(), data.to_str().unwrap().to_owned()];
    key_commands_at_once(dir.path(), &store, async || {
        sqlite::EmbeddedStore::open_dir(&data).unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_commands_at_once_on_dynamodb() {
    let (table, prefix) = ministack_table("race");
    let dir = tempfile::tempdir().unwrap();
    let store = vec![
        "--dynamodb-table".to_owned(),
        table.clone(),
        "--secrets-prefix".to_owned(),
        prefix.clone(),
    ];
    let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
    key_commands_at_once(dir.path(), &store, async || {
        service::secrets::WithSecrets::new(
            dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table),
            secretsmanager::SecretsManager::on_first_use(&sdk, &prefix),
        )
    })
    .await;
}

/// A fresh table name and its secrets prefix, on ministack only.
fn ministack_table(what: &str) -> (String, String) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "needs ministack: run through scripts/ministack.sh test"
    );
    let table = format!(
        "{what}-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let prefix = format!("dropship/{table}/companies/");
    (table, prefix)
}

/// `companies update` with the connection removed: the company shows no
/// connection and no secret. Returns the files: with the connection, without.
fn remove_the_connection(dir: &Path, store: &[String]) -> (String, String) {
    let mut connected = company("Seller Gone");
    connected["id"] = json!("seller-gone");
    let mut bare = connected.clone();
    bare["integration"] = json!("api");
    bare.as_object_mut().unwrap().remove("connection");
    let with = dir.join("gone.json");
    let without = dir.join("gone-bare.json");
    std::fs::write(&with, connected.to_string()).unwrap();
    std::fs::write(&without, bare.to_string()).unwrap();
    let (with, without) = (
        with.to_str().unwrap().to_owned(),
        without.to_str().unwrap().to_owned(),
    );
    let (ok, _, err) = run(&["companies", "add", &with], store);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["companies", "update", &without], store);
    assert!(ok, "{err}");
    let (ok, v, err) = run(&["companies", "show", "seller-gone"], store);
    assert!(ok, "{err}");
    assert_eq!(v["connection"], Value::Null);
    assert_eq!(v["secrets"], json!([]));
    (with, without)
}

/// Locally the secret file forgets the company at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_connection_leaves_no_secret_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = vec!["--data-dir".to_owned(), data.to_str().unwrap().to_owned()];
    remove_the_connection(dir.path(), &store);
    let file = std::fs::read_to_string(data.join("dropship.secrets.json")).unwrap();
    for s in SECRETS {
        assert!(!file.contains(s), "{s} kept: {file}");
    }
}

/// On a stack the company's secret is scheduled for deletion; setting the
/// connection again restores it with the new secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_connection_schedules_its_secret_for_deletion_on_dynamodb() {
    let (table, prefix) = ministack_table("gone");
    let dir = tempfile::tempdir().unwrap();
    let store = vec![
        "--dynamodb-table".to_owned(),
        table.clone(),
        "--secrets-prefix".to_owned(),
        prefix.clone(),
    ];
    let (with, _) = remove_the_connection(dir.path(), &store);
    let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
    let sm = secretsmanager::SecretsManager::on_first_use(&sdk, &prefix);
    assert!(
        sm.scheduled_deletion("seller-gone")
            .await
            .unwrap()
            .is_some(),
        "the secret of a removed connection is scheduled for deletion"
    );

    let (ok, _, err) = run(&["companies", "update", &with], &store);
    assert!(ok, "{err}");
    assert_eq!(sm.scheduled_deletion("seller-gone").await.unwrap(), None);
    let c = service::secrets::WithSecrets::new(
        dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table),
        sm,
    )
    .company("seller-gone")
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        c.connection.unwrap().webhook_secret.as_deref(),
        Some(SECRETS[0])
    );
}

/// `dropship seed` of the demo seed onto the store.
fn seed(store: &[String]) {
    let file = format!("{}/../../events/demo-seed.json", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(BIN)
        .arg("seed")
        .arg(file)
        .args(store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn cancel_demo_api<S: Store>(store: S) -> domain::Cancellation {
    let app = OrdersService::new(store);
    let buyer = app.authenticate("demo-buyer-api-key").await.unwrap();
    let request = domain::CancelRequest::Items(vec![domain::ItemRequest {
        line_item_id: "li_1".into(),
        quantity: 1,
        reason_code: None,
        reason: Some("Found a cheaper one".into()),
    }]);
    match app
        .cancel(&buyer, "ord_demo_api", &request, domain::Source::Api, None)
        .await
        .unwrap()
    {
        service::app::Outcome::Done(c) => c,
        other => panic!("{other:?}"),
    }
}

fn emails_about(outbox: &Path, cancellation_id: &str) -> usize {
    std::fs::read_dir(outbox)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    name.contains(cancellation_id) && name.ends_with(".eml")
                })
                .count()
        })
        .unwrap_or(0)
}

/// A cancellation nobody notified (the worker was not running, as a lost
/// stream batch): a sweep sends its one email; a second sends none. A
/// notification failed for good is listed, and a retry sends it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_sweep_list_and_retry_on_the_embedded_store() {
    use service::ledger::{Channel, Ledger, LedgerKey, Outcome};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = vec!["--data-dir".to_owned(), data.to_str().unwrap().to_owned()];
    seed(&store);
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let c = cancel_demo_api(sqlite::EmbeddedStore::open_dir(&data).unwrap()).await;
    let outbox = data.join("outbox");
    assert_eq!(emails_about(&outbox, &c.id), 0);

    let since_arg = since.to_rfc3339();
    let (ok, v, err) = run(&["notifications", "sweep", "--since", &since_arg], &store);
    assert!(ok, "{err}");
    assert_eq!(v["cancellations"][0]["cancellation_id"], c.id.as_str());
    assert_eq!(v["cancellations"][0]["channels"]["email"], "sent");
    assert_eq!(emails_about(&outbox, &c.id), 1);
    let (ok, v, _) = run(&["notifications", "sweep", "--since", &since_arg], &store);
    assert!(ok);
    assert_eq!(v["cancellations"][0]["channels"]["email"], "already_done");
    assert_eq!(
        emails_about(&outbox, &c.id),
        1,
        "a second sweep sends nothing"
    );

    // A second cancellation whose email failed for good.
    let c2 = cancel_demo_api(sqlite::EmbeddedStore::open_dir(&data).unwrap()).await;
    let ledger = sqlite::EmbeddedStore::open_dir(&data).unwrap();
    let key = LedgerKey::new("ord_demo_api", &c2.id, Channel::Email);
    let token = match ledger
        .claim(&key, chrono::Utc::now(), chrono::Duration::minutes(2))
        .await
        .unwrap()
    {
        service::ledger::Claim::Acquired { token, .. } => token,
        other => panic!("{other:?}"),
    };
    ledger
        .complete(
            &key,
            &token,
            Outcome::Failed,
            "mailbox full",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let (ok, v, _) = run(&["notifications", "list", "--failed"], &store);
    assert!(ok);
    let failed = v["notifications"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{v}");
    assert_eq!(failed[0]["cancellation_id"], c2.id.as_str());
    assert_eq!(failed[0]["reason"], "mailbox full");
    let (ok, v, err) = run(
        &["notifications", "retry", &c2.id, "--channel", "email"],
        &store,
    );
    assert!(ok, "{err}");
    assert_eq!(v["channels"]["email"], "sent");
    assert_eq!(emails_about(&outbox, &c2.id), 1);
    let (ok, v, _) = run(&["notifications", "retry", &c2.id], &store);
    assert!(ok);
    assert_eq!(v["channels"]["email"], "already_done", "sent once only");
    assert_eq!(emails_about(&outbox, &c2.id), 1);
    let (_, v, _) = run(&["notifications", "list", "--failed"], &store);
    assert_eq!(v["notifications"], json!([]));
    let (ok, _, err) = run(&["notifications", "retry", "can_nope"], &store);
    assert!(!ok && err.contains("no cancellation"), "{err}");
}

/// On a stack's table, a cancellation whose stream batch was lost: the
/// sweep sends exactly one email through SES (ministack's), and again none;
/// a failed notification is listed and retried once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_on_dynamodb_sweep_list_and_retry() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "needs ministack: run through scripts/ministack.sh test"
    );
    let table = format!(
        "sweep-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let prefix = format!("dropship/{table}/companies/");
    let sender = format!("sweep-{table}@dropship.test");
    let store = vec![
        "--dynamodb-table".to_owned(),
        table.clone(),
        "--secrets-prefix".to_owned(),
        prefix.clone(),
        "--sender-email".to_owned(),
        sender.clone(),
    ];
    seed(&store[..4]);
    let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
    aws_sdk_ses::Client::new(&sdk)
        .verify_email_identity()
        .email_address(&sender)
        .send()
        .await
        .unwrap();
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let c = cancel_demo_api(service::secrets::WithSecrets::new(
        dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table),
        secretsmanager::SecretsManager::on_first_use(&sdk, &prefix),
    ))
    .await;
    let sent_by_us = || async {
        let body: Value = reqwest::get(format!("{endpoint}/_ministack/ses/messages"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["messages"]
            .as_object()
            .map(|m| {
                m.values()
                    .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                    .filter(|m| m["Source"] == sender.as_str())
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(sent_by_us().await, 0);
    let since_arg = since.to_rfc3339();
    for expected in ["sent", "already_done"] {
        let (ok, v, err) = run(&["notifications", "sweep", "--since", &since_arg], &store);
        assert!(ok, "{err}");
        let mine: Vec<&Value> = v["cancellations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["cancellation_id"] == c.id.as_str())
            .collect();
        assert_eq!(mine[0]["channels"]["email"], expected, "{v}");
        assert_eq!(sent_by_us().await, 1);
    }

    // A notification failed for good is listed, and a retry sends it once.
    use service::ledger::{Channel, Claim, Ledger, LedgerKey, Outcome};
    let table_store = service::secrets::WithSecrets::new(
        dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table),
        secretsmanager::SecretsManager::on_first_use(&sdk, &prefix),
    );
    let c2 = cancel_demo_api(table_store.clone()).await;
    let key = LedgerKey::new("ord_demo_api", &c2.id, Channel::Email);
    let now = chrono::Utc::now();
    let Claim::Acquired { token, .. } = table_store
        .claim(&key, now, chrono::Duration::minutes(2))
        .await
        .unwrap()
    else {
        panic!("claimed")
    };
    table_store
        .complete(&key, &token, Outcome::Failed, "mailbox full", now)
        .await
        .unwrap();
    let (ok, v, err) = run(
        &["notifications", "list", "--failed", "--since", &since_arg],
        &store,
    );
    assert!(ok, "{err}");
    assert_eq!(
        v["notifications"][0]["cancellation_id"],
        c2.id.as_str(),
        "{v}"
    );
    assert_eq!(v["notifications"][0]["reason"], "mailbox full");
    let (ok, v, err) = run(&["notifications", "retry", &c2.id], &store);
    assert!(ok, "{err}");
    assert_eq!(v["channels"]["email"], "sent");
    assert_eq!(sent_by_us().await, 2);
    let (ok, v, _) = run(&["notifications", "retry", &c2.id], &store);
    assert!(ok);
    assert_eq!(v["channels"]["email"], "already_done");
    assert_eq!(sent_by_us().await, 2, "sent once");
}

/// Two new orders between the demo's API buyer and seller, one of them
/// partly cancelled by the seller as out of stock.
async fn trade_today<S: Store>(store: S) {
    let app = OrdersService::new(store);
    let buyer = app.authenticate("demo-buyer-api-key").await.unwrap();
    let seller = app.authenticate("demo-seller-api-key").await.unwrap();
    let mut ids = Vec::new();
    for po in ["REPORT-1", "REPORT-2"] {
        let line = |id: &str, quantity| domain::NewLine {
            id: id.into(),
            sku: format!("SKU-{id}"),
            title: None,
            quantity,
            unit_price: None,
            buyer_line_ref: None,
            seller_line_ref: None,
        };
        let request = domain::NewOrder {
            buyer_order_ref: Some(po.into()),
            seller_order_ref: None,
            line_items: vec![line("li_1", 3), line("li_2", 2)],
        };
        match app
            .create_order(&buyer, "seller-api", request, None)
            .await
            .unwrap()
        {
            service::app::Outcome::Done(r) => ids.push(r.order.id),
            other => panic!("{other:?}"),
        }
    }
    let request = domain::CancelRequest::Items(vec![domain::ItemRequest {
        line_item_id: "li_1".into(),
        quantity: 2,
        reason_code: Some("out_of_stock".into()),
        reason: None,
    }]);
    app.cancel(
        &seller,
        ids[0].as_str(),
        &request,
        domain::Source::Api,
        None,
    )
    .await
    .unwrap();
}

/// `dropship report cancellations`: both sides of the pair, as JSON and as
/// text; a window the scorecard does not have is refused.
fn report_shows_the_trade(store: &[String]) {
    let (ok, v, err) = run(&["report", "cancellations", "--days", "7"], store);
    assert!(ok, "{err}");
    let cards = v.as_array().expect("one document per company");
    let find = |company: &str, partner: &str| {
        cards
            .iter()
            .find(|c| c["company_id"] == company)
            .and_then(|c| c["partners"].as_array())
            .and_then(|ps| ps.iter().find(|p| p["partner_id"] == partner))
            .cloned()
            .unwrap_or_else(|| panic!("{company} with {partner} in {v}"))
    };
    for (company, partner) in [("buyer-api", "seller-api"), ("seller-api", "buyer-api")] {
        let p = find(company, partner);
        assert_eq!(
            (
                &p["orders"],
                &p["orders_cancelled"],
                &p["units"],
                &p["units_cancelled"]
            ),
            (&json!(2), &json!(1), &json!(10), &json!(2)),
            "{company}: {p}"
        );
        assert_eq!(p["by_initiator"], json!({"buyer": 0, "seller": 2}));
        assert_eq!(p["by_reason"]["out_of_stock"], 2);
        assert_eq!(v.to_string().matches("\"days\":7").count(), cards.len());
    }
    let out = Command::new(BIN)
        .args(["report", "cancellations", "--days", "7"])
        .args(store)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("buyer-api")
            && l.contains("seller-api")
            && l.contains("1 50%")
            && l.contains("2 20%")
            && l.contains("Out of stock (2)")),
        "{text}"
    );
    let (ok, _, err) = run(&["report", "cancellations", "--days", "8"], store);
    assert!(!ok && err.contains("one of 7, 30, 90"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_cancellations_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = vec!["--data-dir".to_owned(), data.to_str().unwrap().to_owned()];
    seed(&store);
    trade_today(sqlite::EmbeddedStore::open_dir(&data).unwrap()).await;
    report_shows_the_trade(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_cancellations_on_dynamodb() {
    let (table, prefix) = ministack_table("report");
    let store = vec![
        "--dynamodb-table".to_owned(),
        table.clone(),
        "--secrets-prefix".to_owned(),
        prefix.clone(),
    ];
    seed(&store);
    let sdk = aws::sdk_config(&aws::Settings::from_env()).await;
    trade_today(service::secrets::WithSecrets::new(
        dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table),
        secretsmanager::SecretsManager::on_first_use(&sdk, &prefix),
    ))
    .await;
    report_shows_the_trade(&store);
}
