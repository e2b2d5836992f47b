//! `dropship companies` and `dropship keys`, run as an operator runs them:
//! the binary, on the embedded store and on DynamoDB (ministack) with the
//! secrets in its Secrets Manager.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use service::app::App;
use service::store::Store;

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
    let app = App::new(open().await);
    assert_eq!(app.authenticate(&key).await.unwrap().id, "seller-ops");

    let (ok, v, _) = run(&["keys", "list", "seller-ops"], store);
    assert!(ok);
    assert_eq!(v["keys"][0]["id"], id.as_str());
    assert!(v["keys"][0]["created_at"].is_string());
    assert!(
        !v.to_string().contains(&key),
        "the key is printed once only"
    );

    // An update keeps the key.
    std::fs::write(&file, company("Seller Ops Renamed").to_string()).unwrap();
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
    let app = App::new(open().await);
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
    let sdk = aws::sdk_config().await;
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
