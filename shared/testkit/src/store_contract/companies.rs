//! Companies: their API keys and secrets, and changes decided on the
//! stored company.

use domain::Role;
use service::store::*;

use crate::fixtures::*;

pub async fn companies_and_api_keys<S: Companies>(s: &S) {
    let mut c = company("b1", Role::Buyer);
    s.put_company(&c).await.unwrap();
    assert_eq!(s.company("b1").await.unwrap(), Some(c.clone()));
    assert_eq!(
        s.company_by_api_key_hash("hash-of-b1").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(s.company("nope").await.unwrap(), None);
    assert_eq!(s.company_by_api_key_hash("nope").await.unwrap(), None);

    // Replacing a company replaces its keys; putting it again changes nothing.
    c.api_keys = vec![domain::ApiKey::from_hash("rotated", None)];
    s.put_company(&c).await.unwrap();
    s.put_company(&c).await.unwrap();
    assert_eq!(s.company_by_api_key_hash("hash-of-b1").await.unwrap(), None);
    assert_eq!(
        s.company_by_api_key_hash("rotated").await.unwrap(),
        Some(c.clone())
    );

    // A key cannot be taken over by another company.
    let mut thief = company("s1", Role::Seller);
    thief.api_keys = vec![domain::ApiKey::from_hash("rotated", None)];
    assert!(matches!(
        s.put_company(&thief).await,
        Err(StoreError::ApiKeyTaken { company_id }) if company_id == "s1"
    ));
    assert_eq!(s.company_by_api_key_hash("rotated").await.unwrap(), Some(c));
}

/// A company's secrets are kept apart from its record but read back with it
/// by id and by shop domain; a company found by API key carries none.
pub async fn company_secrets_are_kept_apart<S: Companies>(s: &S) {
    let mut c = crate::fixtures::company("shop1", Role::Seller);
    c.integration = domain::Integration::Store(domain::Platform::Shopify);
    c.connection = Some(domain::Connection {
        shop_domain: Some("shop1.myshopify.com".into()),
        webhook_secret: Some("whsec-1".into()),
        access_token: Some("shpat-1".into()),
        ..domain::Connection::default()
    });
    s.put_company(&c).await.unwrap();
    assert_eq!(s.company("shop1").await.unwrap().as_ref(), Some(&c));
    assert_eq!(
        s.company_by_shop_domain("shop1.myshopify.com")
            .await
            .unwrap()
            .as_ref(),
        Some(&c)
    );
    let by_key = s
        .company_by_api_key_hash("hash-of-shop1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key, c.split_secrets().0);

    // A rotated secret replaces the old one; one removed is gone.
    let mut rotated = c.clone();
    rotated.connection.as_mut().unwrap().webhook_secret = Some("whsec-2".into());
    rotated.connection.as_mut().unwrap().access_token = None;
    s.put_company(&rotated).await.unwrap();
    assert_eq!(s.company("shop1").await.unwrap(), Some(rotated.clone()));

    // The full listing (operator commands) carries no secrets.
    let all = s.companies().await.unwrap();
    let listed = all.iter().find(|x| x.id == "shop1").unwrap();
    assert_eq!(*listed, rotated.split_secrets().0);
    let mut ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "each company once");
}

/// `change_company`: the change sees the stored company (`None` when
/// there is none); its refusal comes back with nothing written;
/// `Unchanged` writes nothing; a company put under another id is refused;
/// changes made at once, each adding a key to what it read, all land.
pub async fn company_changes_decide_on_the_stored_company<S: Companies + Clone>(s: &S) {
    use domain::Company;
    let missing = s
        .change_company("cc1", |stored: Option<&Company>| {
            Err::<CompanyWrite<()>, _>(stored.is_none())
        })
        .await
        .unwrap();
    assert_eq!(missing, Err(true));
    assert_eq!(s.company("cc1").await.unwrap(), None);

    let c = company("cc1", Role::Seller);
    let new = c.clone();
    let added = s
        .change_company("cc1", move |stored: Option<&Company>| match stored {
            None => Ok(CompanyWrite::Put(Box::new(new.clone()), "added")),
            Some(_) => Err(()),
        })
        .await
        .unwrap();
    assert_eq!(added, Ok("added"));
    assert_eq!(s.company("cc1").await.unwrap(), Some(c.clone()));
    let unchanged = s
        .change_company("cc1", |stored: Option<&Company>| {
            Ok::<_, ()>(CompanyWrite::Unchanged(stored.map(|c| c.name.clone())))
        })
        .await
        .unwrap();
    assert_eq!(unchanged, Ok(Some(c.name.clone())));
    let elsewhere = s
        .change_company("cc1", |_: Option<&Company>| {
            Ok::<_, ()>(CompanyWrite::Put(
                Box::new(company("cc2", Role::Seller)),
                (),
            ))
        })
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::Internal(_))),
        "{elsewhere:?}"
    );
    assert_eq!(s.company("cc2").await.unwrap(), None);

    const WRITERS: usize = 6;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let s = s.clone();
        let barrier = std::sync::Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.change_company("cc1", move |stored: Option<&Company>| {
                let mut c = stored.cloned().ok_or(())?;
                c.api_keys
                    .push(domain::ApiKey::from_hash(format!("cc1-hash-{i}"), None));
                Ok::<_, ()>(CompanyWrite::Put(Box::new(c), ()))
            })
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Ok(()));
    }
    let stored = s.company("cc1").await.unwrap().unwrap();
    assert_eq!(stored.api_keys.len(), 1 + WRITERS, "{:?}", stored.api_keys);
    for i in 0..WRITERS {
        assert_eq!(
            s.company_by_api_key_hash(&format!("cc1-hash-{i}"))
                .await
                .unwrap()
                .map(|c| c.id),
            Some("cc1".to_owned())
        );
    }
}

/// Key changes on one company at once (creates and a revoke, each a
/// read-modify-write of the key list) and an update of its details, over
/// several rounds: every change lands. Every created key authenticates,
/// the revoked one does not, the stored list holds exactly what the
/// changes left, and the update's details are kept.
pub async fn concurrent_key_changes_lose_nothing<S: Companies + Clone>(s: &S) {
    use service::admin::AdminService;
    const CREATES: usize = 6;
    const ROUNDS: usize = 3;
    s.put_company(&company("k1", Role::Buyer)).await.unwrap();
    let app = AdminService::new(s.clone());
    // What the API authenticates with.
    let api = service::OrdersService::new(s.clone());
    let mut doomed = app.create_key("k1").await.unwrap();
    for round in 0..ROUNDS {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CREATES + 2));
        let mut creates = Vec::new();
        for _ in 0..CREATES {
            let app = AdminService::new(s.clone());
            let barrier = std::sync::Arc::clone(&barrier);
            creates.push(tokio::spawn(async move {
                barrier.wait().await;
                app.create_key("k1").await
            }));
        }
        let revoke = {
            let app = AdminService::new(s.clone());
            let id = doomed.key.id.clone();
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                app.revoke_key("k1", &id).await
            })
        };
        let update = {
            let app = AdminService::new(s.clone());
            let mut renamed = company("k1", Role::Buyer);
            renamed.name = format!("Renamed in round {round}");
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                app.update_company(&renamed).await
            })
        };
        let revoked = revoke.await.unwrap().unwrap();
        assert_eq!(revoked.id, doomed.key.id);
        update.await.unwrap().unwrap();
        let mut created = Vec::new();
        for t in creates {
            created.push(t.await.unwrap().unwrap());
        }
        assert!(
            api.authenticate(&doomed.secret).await.is_err(),
            "round {round}: the revoked key still authenticates"
        );
        for k in &created {
            assert!(
                api.authenticate(&k.secret).await.is_ok(),
                "round {round}: created key {} was lost",
                k.key.id
            );
        }
        doomed = created.pop().unwrap();
    }
    let stored = s.company("k1").await.unwrap().unwrap();
    assert_eq!(stored.name, format!("Renamed in round {}", ROUNDS - 1));
    assert_eq!(
        stored.api_keys.len(),
        2 + ROUNDS * CREATES - ROUNDS,
        "{:?}",
        stored.api_keys
    );
}
