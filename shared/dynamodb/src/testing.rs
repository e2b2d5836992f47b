//! For tests: a fresh table on a local DynamoDB endpoint (ministack).
//! Refuses any endpoint that is not on loopback, so it can never create
//! tables in a real account.
// Behind the `testing` feature: other crates' tests enable it, no binary does.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::DynamoStore;

/// Panics when the endpoint is missing or not local, or the table cannot be
/// created: a test cannot go on without its store.
pub async fn fresh_store() -> DynamoStore {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if endpoint.is_empty() {
        panic!(
            "AWS_ENDPOINT_URL is not set: the DynamoDB store tests need ministack. \
             Run them through the project's test script: `scripts/ministack.sh test` \
             (or `eval \"$(scripts/ministack.sh start)\"` once, then `cargo test`)."
        );
    }
    if !(endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:")) {
        panic!(
            "AWS_ENDPOINT_URL={endpoint} is not a local endpoint; refusing to create test tables there"
        );
    }
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let table = format!(
        "t-{}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let store = DynamoStore::from_env(table).await;
    store
        .ensure_table()
        .await
        .unwrap_or_else(|e| panic!("creating the test table at {endpoint}: {e}"));
    store
}
