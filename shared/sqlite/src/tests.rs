use super::*;
use crate::codec::db;
use chrono::Utc;
use domain::Order;
use rusqlite::Connection;
use service::store::StoreError;
use service::store::{Commit, Companies, Decided, Orders};

testkit::store_contract_tests!(EmbeddedStore::in_memory().expect("in-memory store"));

/// Deciding under the write transaction: 32 deciders on one order
/// never lose a race, on one handle or on two handles of one file (as
/// two processes would be).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deciders_never_lose_a_race() {
    let s = EmbeddedStore::in_memory().unwrap();
    assert_eq!(testkit::store_contract::deciders_on(&[s]).await, 0);
    let dir = tempfile::tempdir().unwrap();
    let a = EmbeddedStore::open_dir(dir.path()).unwrap();
    let b = EmbeddedStore::open_dir(dir.path()).unwrap();
    assert_eq!(testkit::store_contract::deciders_on(&[a, b]).await, 0);
}

/// A decision that panics fails its call only: the connection is not
/// poisoned and nothing of it is written.
#[tokio::test]
async fn a_panicking_decision_leaves_the_store_usable() {
    use testkit::fixtures;
    let s = EmbeddedStore::in_memory().unwrap();
    let order = fixtures::order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(order.clone())).await.unwrap();
    let r = s
        .decide_and_commit("o1", |_: &Order| -> Result<Decided<()>, ()> {
            panic!("a bug in a decision")
        })
        .await;
    assert!(matches!(r, Err(StoreError::Internal(_))), "{r:?}");
    assert_eq!(s.order("o1").await.unwrap(), Some(order));
}

#[tokio::test]
async fn data_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = testkit::fixtures::company("b1", domain::Role::Buyer);
    {
        let s = EmbeddedStore::open_dir(dir.path()).unwrap();
        s.put_company(&c).await.unwrap();
    }
    let s = EmbeddedStore::open_dir(dir.path()).unwrap();
    assert_eq!(s.company("b1").await.unwrap(), Some(c));
}

#[tokio::test]
async fn every_cancellation_gets_one_outbox_entry() {
    use testkit::fixtures;
    let s = EmbeddedStore::in_memory().unwrap();
    let order = fixtures::order("o1", "b1", "s1", 0);
    s.commit(&Commit::create(order.clone())).await.unwrap();
    let (next, can) = fixtures::cancel_one(&order, "li_1", "can_1");
    let mut commit = Commit::update(next);
    commit.cancellation = Some(can.clone());
    s.commit(&commit).await.unwrap();
    let pending = s.pending_outbox(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].cancellation, can);
    s.finish_outbox(
        pending[0].seq,
        OutboxAttempt::Failed("smtp down".into()),
        Utc::now(),
    )
    .await
    .unwrap();
    let again = s.pending_outbox(10).await.unwrap();
    assert_eq!(again[0].attempts, 1, "a failed attempt stays pending");
    s.finish_outbox(pending[0].seq, OutboxAttempt::Delivered, Utc::now())
        .await
        .unwrap();
    assert!(s.pending_outbox(10).await.unwrap().is_empty());
}

/// On disk, secrets are kept in a file of their own, readable by its owner
/// only; the database holds none of them, and another handle (another
/// process) reads them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_live_in_their_own_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = EmbeddedStore::open_dir(dir.path()).unwrap();
    let mut c = testkit::fixtures::company("woo1", domain::Role::Seller);
    c.connection = Some(domain::Connection {
        site_url: Some("https://shop.example".into()),
        webhook_secret: Some("whsec-very-secret".into()),
        consumer_key: Some("ck_very_secret".into()),
        consumer_secret: Some("cs_very_secret".into()),
        ..domain::Connection::default()
    });
    s.put_company(&c).await.unwrap();
    drop(s);

    let file = dir.path().join("dropship.secrets.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("cs_very_secret")
    );
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path != file {
            let bytes = std::fs::read(&path).unwrap();
            for secret in ["whsec-very-secret", "ck_very_secret", "cs_very_secret"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} in {}",
                    path.display()
                );
            }
        }
    }
    let again = EmbeddedStore::open_dir(dir.path()).unwrap();
    assert_eq!(again.company("woo1").await.unwrap(), Some(c));
}

/// A company updated without its connection (`dropship companies update`)
/// or seeded without one leaves no secret in the file; the others' stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_connection_leaves_no_secret_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = EmbeddedStore::open_dir(dir.path()).unwrap();
    let app = service::admin::AdminService::new(s.clone());
    let connected = |id: &str, secret: &str| {
        let mut c = testkit::fixtures::company(id, domain::Role::Seller);
        c.integration = domain::Integration::Store(domain::Platform::WooCommerce);
        c.connection = Some(domain::Connection {
            site_url: Some("https://shop.example".into()),
            webhook_secret: Some(secret.into()),
            ..domain::Connection::default()
        });
        c
    };
    let file = dir.path().join("dropship.secrets.json");
    let kept = || std::fs::read_to_string(&file).unwrap();
    for (id, secret) in [
        ("gone1", "whsec-gone-1"),
        ("gone2", "whsec-gone-2"),
        ("stays", "whsec-stays"),
    ] {
        app.add_company(&connected(id, secret)).await.unwrap();
        assert!(kept().contains(secret));
    }

    let mut bare = connected("gone1", "unused");
    bare.connection = None;
    bare.integration = domain::Integration::Api;
    app.update_company(&bare).await.unwrap();
    assert!(!kept().contains("whsec-gone-1"), "{}", kept());
    assert_eq!(s.company("gone1").await.unwrap().unwrap().connection, None);

    let mut bare = connected("gone2", "unused");
    bare.connection = None;
    s.put_company(&bare).await.unwrap();
    assert!(!kept().contains("whsec-gone-2"), "{}", kept());
    assert!(kept().contains("whsec-stays"));
}

/// A seller's orders by the buyer's PO number are read on their index,
/// which a store file made before the index existed gets on its next open.
#[tokio::test]
async fn seller_orders_by_po_are_read_on_their_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropship.sqlite3");
    drop(EmbeddedStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP INDEX orders_seller_po")
        .unwrap();
    let s = EmbeddedStore::open(&path).unwrap();
    let plan = s
        .run(|c| {
            let sql = format!("EXPLAIN QUERY PLAN {}", store::SELLER_ORDERS_BY_PO);
            let mut stmt = c.prepare(&sql).map_err(db)?;
            let rows = stmt
                .query_map(rusqlite::params!["s1", "PO-1"], |r| r.get::<_, String>(3))
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
        .unwrap();
    assert!(
        plan.iter()
            .any(|d| d.contains("USING INDEX orders_seller_po")),
        "{plan:?}"
    );
}

/// A file written before the scorecard existed gets its counts from its
/// orders when first opened, once: opened again, nothing is counted twice.
#[tokio::test]
async fn an_older_file_is_counted_once_when_opened() {
    use testkit::fixtures;
    let dir = tempfile::tempdir().unwrap();
    let today = Utc::now().date_naive();
    let window = domain::scorecard::Window::Days90;
    let rows = async |s: &EmbeddedStore| {
        s.all_score_rows(window.first_day(today), today)
            .await
            .unwrap()
    };
    let kept = {
        let s = EmbeddedStore::open_dir(dir.path()).unwrap();
        let mut o = fixtures::order("o1", "b1", "s1", 0);
        o.created_at = Utc::now();
        s.commit(&Commit::create(o.clone())).await.unwrap();
        let (next, can) = fixtures::cancel_one(&o, "li_1", "c1");
        let mut c = Commit::update(next);
        c.cancellation = Some(can);
        s.commit(&c).await.unwrap();
        rows(&s).await
    };
    assert_eq!(kept.len(), 2, "{kept:?}");
    Connection::open(dir.path().join("dropship.sqlite3"))
        .unwrap()
        .execute_batch("DROP TABLE scorecard")
        .unwrap();
    let s = EmbeddedStore::open_dir(dir.path()).unwrap();
    assert_eq!(rows(&s).await, kept);
    drop(s);
    let s = EmbeddedStore::open_dir(dir.path()).unwrap();
    assert_eq!(rows(&s).await, kept);
}
