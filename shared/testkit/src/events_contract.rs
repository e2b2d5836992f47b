//! The webhook store contract (endpoints and the event log), run against
//! every store through `events_contract_tests!`.
use chrono::{Duration, Utc};
use domain::events::{
    EndpointChange, EndpointChanged, EndpointRefusal, EndpointStatus, EventType, MAX_ENDPOINTS,
    WebhookEndpoint,
};
use domain::{Company, Role};
use service::events::{EventRecord, Recorded, WebhookStore, new_event_id};
use service::ledger::{Channel, Claim, Ledger, LedgerKey, Outcome};
use service::store::{Companies, IdempotencyRecords, StoreError};

use crate::fixtures;

fn endpoint(id: &str) -> WebhookEndpoint {
    fixtures::webhook_endpoint(id, "https://hooks.example.com/in")
}

fn event(company: &str, order: &str) -> EventRecord {
    event_of_company(company, order)
}

/// A new event of `company` about `order` (a fresh id, taken now).
pub fn event_of_company(company: &str, order: &str) -> EventRecord {
    EventRecord {
        id: new_event_id(),
        company_id: company.into(),
        event_type: EventType::CancellationCreated,
        created_at: service::now(),
        order_id: order.into(),
        body: format!(r#"{{"id":"x","order":"{order}","quote":"\"","u":"é"}}"#),
    }
}

async fn endpoints<S: Companies>(s: &S, company: &str) -> Vec<WebhookEndpoint> {
    s.company(company).await.unwrap().unwrap().webhook_endpoints
}

pub async fn endpoints_are_added_limited_and_removed<S: Companies + WebhookStore>(s: &S) {
    s.put_company(&fixtures::company("c1", Role::Seller))
        .await
        .unwrap();
    for i in 0..MAX_ENDPOINTS {
        let r = s
            .change_endpoints("c1", &EndpointChange::Add(endpoint(&format!("we_{i}"))))
            .await
            .unwrap();
        assert!(matches!(r, Ok(EndpointChanged::Added(_))), "{r:?}");
    }
    assert_eq!(
        s.change_endpoints("c1", &EndpointChange::Add(endpoint("we_x")))
            .await
            .unwrap(),
        Err(EndpointRefusal::TooMany)
    );
    assert_eq!(endpoints(s, "c1").await.len(), MAX_ENDPOINTS);
    assert_eq!(
        s.change_endpoints("c1", &EndpointChange::Remove("we_0".into()))
            .await
            .unwrap(),
        Ok(EndpointChanged::Removed)
    );
    let ids: Vec<String> = endpoints(s, "c1").await.into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["we_1", "we_2", "we_3", "we_4"]);
    assert_eq!(
        s.change_endpoints("nobody", &EndpointChange::Remove("we_1".into()))
            .await
            .unwrap(),
        Err(EndpointRefusal::NotFound("nobody".into()))
    );
}

/// Replacing a company (an operator's update, a re-seed) keeps its
/// endpoints: they change only through `change_endpoints`.
pub async fn replacing_a_company_keeps_its_endpoints<S: Companies + WebhookStore>(s: &S) {
    let c: Company = fixtures::company("c2", Role::Buyer);
    s.put_company(&c).await.unwrap();
    s.change_endpoints("c2", &EndpointChange::Add(endpoint("we_1")))
        .await
        .unwrap()
        .unwrap();
    let renamed = Company {
        name: "Renamed".into(),
        ..c.clone()
    };
    s.put_company(&renamed).await.unwrap();
    let stored = s.company("c2").await.unwrap().unwrap();
    assert_eq!(stored.name, "Renamed");
    assert_eq!(stored.webhook_endpoints.len(), 1);
    // The company found by its key authenticates as before.
    let key = c.key_hashes().next().unwrap().to_owned();
    let by_key = s.company_by_api_key_hash(&key).await.unwrap().unwrap();
    assert_eq!(by_key.id, "c2");
}

pub async fn failing_for_days_disables_an_endpoint<S: Companies + WebhookStore>(s: &S) {
    s.put_company(&fixtures::company("c3", Role::Seller))
        .await
        .unwrap();
    s.change_endpoints("c3", &EndpointChange::Add(endpoint("we_1")))
        .await
        .unwrap()
        .unwrap();
    let at = service::now() - Duration::hours(80);
    let failed = |at| EndpointChange::DeliveryFailed {
        id: "we_1".into(),
        at,
    };
    assert_eq!(
        s.change_endpoints("c3", &failed(at)).await.unwrap(),
        Ok(EndpointChanged::NowFailing)
    );
    assert_eq!(endpoints(s, "c3").await[0].failing_since, Some(at));
    let r = s
        .change_endpoints("c3", &failed(service::now()))
        .await
        .unwrap();
    assert!(matches!(r, Ok(EndpointChanged::Disabled(_))), "{r:?}");
    assert_eq!(endpoints(s, "c3").await[0].status, EndpointStatus::Disabled);
}

pub async fn concurrent_additions_are_all_kept<S: Companies + WebhookStore>(s: &S) {
    s.put_company(&fixtures::company("c4", Role::Seller))
        .await
        .unwrap();
    let adds = (0..4).map(|i| async move {
        s.change_endpoints("c4", &EndpointChange::Add(endpoint(&format!("we_{i}"))))
            .await
    });
    for r in futures::future::join_all(adds).await {
        assert!(matches!(r, Ok(Ok(EndpointChanged::Added(_)))), "{r:?}");
    }
    assert_eq!(endpoints(s, "c4").await.len(), 4);
}

/// An endpoint added under a request's idempotency record is added with
/// it or not at all: a key the company holds (from any request) adds
/// nothing and comes back as stored; a fresh key is taken with the
/// endpoint; the same key digest again finds that endpoint.
pub async fn a_keyed_endpoint_is_added_with_its_key_or_not_at_all<
    S: Companies + IdempotencyRecords + WebhookStore,
>(
    s: &S,
) {
    s.put_company(&fixtures::company("c8", Role::Seller))
        .await
        .unwrap();
    let used = fixtures::idem("c8", "used", Duration::hours(1));
    s.put_idempotency_record(&used).await.unwrap();
    let keyed = |id: &str, digest: &str| WebhookEndpoint {
        created_by_key: Some(digest.into()),
        request_fingerprint: Some("e".repeat(64)),
        ..endpoint(id)
    };
    let mut again = fixtures::idem("c8", "used", Duration::hours(1));
    again.fingerprint = "e".repeat(64);
    match s
        .add_endpoint("c8", &keyed("we_1", "d-used"), Some(&again))
        .await
    {
        Err(StoreError::IdempotencyKeyExists { stored }) => {
            if let Some(stored) = stored {
                assert_eq!(*stored, used);
            }
        }
        other => panic!("{other:?}"),
    }
    assert!(endpoints(s, "c8").await.is_empty(), "nothing added");
    assert_eq!(
        s.idempotency_record("c8", "used").await.unwrap(),
        Some(used)
    );

    let fresh = fixtures::idem("c8", "fresh", Duration::hours(1));
    let first = keyed("we_2", "d-fresh");
    assert_eq!(
        s.add_endpoint("c8", &first, Some(&fresh)).await.unwrap(),
        Ok(EndpointChanged::Added(first.clone()))
    );
    assert_eq!(
        s.idempotency_record("c8", "fresh").await.unwrap(),
        Some(fresh.clone())
    );
    assert_eq!(
        s.add_endpoint("c8", &keyed("we_3", "d-fresh"), Some(&fresh))
            .await
            .unwrap(),
        Ok(EndpointChanged::Existing(first.clone()))
    );
    // An expired record holds no key.
    let old = fixtures::idem("c8", "old", Duration::seconds(-5));
    s.put_idempotency_record(&old).await.unwrap();
    let renewed = fixtures::idem("c8", "old", Duration::hours(1));
    let second = keyed("we_4", "d-old");
    assert_eq!(
        s.add_endpoint("c8", &second, Some(&renewed)).await.unwrap(),
        Ok(EndpointChanged::Added(second.clone()))
    );
    // Without a record, as `change_endpoints`.
    let plain = endpoint("we_5");
    assert_eq!(
        s.add_endpoint("c8", &plain, None).await.unwrap(),
        Ok(EndpointChanged::Added(plain.clone()))
    );
    let ids: Vec<String> = endpoints(s, "c8").await.into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["we_2", "we_4", "we_5"]);
}

pub async fn events_are_recorded_once_per_subject<S: Companies + WebhookStore>(s: &S) {
    let first = event("c5", "o1");
    let keep = Utc::now() + Duration::days(35);
    let r = s
        .record_event(&first, "cancellation.created:can_1", keep)
        .await
        .unwrap();
    assert_eq!(r, Recorded::New(first.clone()));
    // The same subject again (a redelivered stream record) with a new id.
    let again = event("c5", "o1");
    let r = s
        .record_event(&again, "cancellation.created:can_1", keep)
        .await
        .unwrap();
    assert_eq!(r, Recorded::Existing(first.clone()));
    assert_eq!(s.event("c5", &first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(s.event("c5", &again.id).await.unwrap(), None);
    // The same subject for another company is another event.
    let other = event("c6", "o1");
    let r = s
        .record_event(&other, "cancellation.created:can_1", keep)
        .await
        .unwrap();
    assert_eq!(r, Recorded::New(other));
    assert_eq!(
        s.event("c6", &first.id).await.unwrap(),
        None,
        "the company's own log"
    );
}

pub async fn the_log_pages_in_order<S: Companies + WebhookStore>(s: &S) {
    let keep = Utc::now() + Duration::days(35);
    let mut ids = Vec::new();
    for i in 0..5 {
        let e = event("c7", "o1");
        ids.push(e.id.clone());
        s.record_event(&e, &format!("k{i}"), keep).await.unwrap();
    }
    // An expired one is not listed.
    let old = event("c7", "o1");
    s.record_event(&old, "old", Utc::now() - Duration::seconds(1))
        .await
        .unwrap();
    let (page, more) = s.events_after("c7", None, 2).await.unwrap().unwrap();
    assert_eq!(
        page.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&ids[0], &ids[1]]
    );
    assert!(more);
    let (page, more) = s
        .events_after("c7", Some(&ids[1]), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        page.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&ids[2], &ids[3], &ids[4]]
    );
    assert!(!more);
    let (page, more) = s
        .events_after("c7", Some(&ids[4]), 10)
        .await
        .unwrap()
        .unwrap();
    assert!(page.is_empty() && !more);
    let (page, _) = s.events_after("nobody", None, 10).await.unwrap().unwrap();
    assert!(page.is_empty());
}

/// An event whose id was taken before another's but written after it (in
/// another process, ids are only monotonic within one) comes after it in
/// the log: a reader that has read the other does not pass over it.
pub async fn a_late_write_is_not_passed_over<S: Companies + WebhookStore>(s: &S) {
    let keep = Utc::now() + Duration::days(35);
    let early = event("c8", "o1");
    let late = event("c8", "o2");
    assert!(early.id < late.id);
    s.record_event(&late, "late", keep).await.unwrap();
    let (page, _) = s.events_after("c8", None, 10).await.unwrap().unwrap();
    assert_eq!(page, std::slice::from_ref(&late));
    s.record_event(&early, "early", keep).await.unwrap();
    let (page, more) = s
        .events_after("c8", Some(&late.id), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        page,
        std::slice::from_ref(&early),
        "the event written last comes last"
    );
    assert!(!more);
    let (page, _) = s.events_after("c8", None, 10).await.unwrap().unwrap();
    assert_eq!(page, [late, early]);
}

/// A cursor naming no event of the company's is refused (`None`), not
/// read as a place in the log: an unknown id, another company's event.
pub async fn an_unknown_cursor_is_refused<S: Companies + WebhookStore>(s: &S) {
    let keep = Utc::now() + Duration::days(35);
    let mine = event("c9", "o1");
    let theirs = event("c10", "o1");
    s.record_event(&mine, "k", keep).await.unwrap();
    s.record_event(&theirs, "k", keep).await.unwrap();
    let never = new_event_id();
    for cursor in [never.as_str(), theirs.id.as_str()] {
        assert_eq!(
            s.events_after("c9", Some(cursor), 10).await.unwrap(),
            None,
            "{cursor}"
        );
    }
    assert!(
        s.events_after("c9", Some(&mine.id), 10)
            .await
            .unwrap()
            .is_some()
    );
}

/// Two writers (two clients of one store, as two Lambdas or processes
/// are) record events of one company while a reader pages with `after`.
/// Each id is taken a moment before its write, as the notifier does, so
/// ids reach the store out of order; the reader sees every event once.
pub async fn concurrent_writers_are_read_once<S: WebhookStore + Clone>(a: S, b: S, reader: S) {
    const PER_WRITER: u64 = 30;
    let keep = Utc::now() + Duration::days(35);
    let write = |s: S, w: u64| {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..PER_WRITER {
                let e = event("cw", "o1");
                let pause = (i * 7 + w * 3) % 5;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                s.record_event(&e, &format!("w{w}-{i}"), keep)
                    .await
                    .unwrap();
                ids.push(e.id);
            }
            ids
        })
    };
    let (wa, wb) = (write(a, 0), write(b, 1));
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let finished = wa.is_finished() && wb.is_finished();
        loop {
            let (page, more) = reader
                .events_after("cw", after.as_deref(), 7)
                .await
                .unwrap()
                .expect("the cursor is an event read before");
            if let Some(last) = page.last() {
                after = Some(last.id.clone());
            }
            seen.extend(page.into_iter().map(|e| e.id));
            if !more {
                break;
            }
        }
        if finished {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut written = wa.await.unwrap();
    written.extend(wb.await.unwrap());
    let mut once = seen.clone();
    once.sort();
    once.dedup();
    assert_eq!(once.len(), seen.len(), "an event was read twice");
    written.sort();
    let missed: Vec<&String> = written
        .iter()
        .filter(|id| once.binary_search(id).is_err())
        .collect();
    assert!(missed.is_empty(), "passed over: {missed:?}");
    assert_eq!(once, written);
}

/// Deliveries are ledger records per (event, endpoint).
pub async fn deliveries_are_ledgered_per_endpoint<S: Ledger>(s: &S) {
    let now = Utc::now();
    let a = LedgerKey::webhook("o9", "evt_1", "we_a");
    let b = LedgerKey::webhook("o9", "evt_1", "we_b");
    let Claim::Acquired { token, .. } = s.claim(&a, now, Duration::minutes(2)).await.unwrap()
    else {
        panic!("a");
    };
    assert!(matches!(
        s.claim(&b, now, Duration::minutes(2)).await.unwrap(),
        Claim::Acquired { .. }
    ));
    assert!(
        s.complete(&a, &token, Outcome::Sent, "HTTP 200", now)
            .await
            .unwrap()
    );
    let entries = s.ledger_entries("o9").await.unwrap();
    let done = entries
        .iter()
        .find(|e| e.endpoint_id.as_deref() == Some("we_a"))
        .unwrap();
    assert_eq!(
        (done.channel, done.outcome),
        (Channel::Webhook, Some(Outcome::Sent))
    );
    assert_eq!(done.cancellation_id, "evt_1");
    assert!(matches!(
        s.claim(&a, now, Duration::minutes(2)).await.unwrap(),
        Claim::Completed(_)
    ));
}

/// Generates the webhook store contract suite for a store built by `$make`.
#[macro_export]
macro_rules! events_contract_tests {
    ($make:expr) => {
        $crate::events_contract_tests!(@tests $make;
            endpoints_are_added_limited_and_removed,
            replacing_a_company_keeps_its_endpoints,
            failing_for_days_disables_an_endpoint,
            concurrent_additions_are_all_kept,
            a_keyed_endpoint_is_added_with_its_key_or_not_at_all,
            events_are_recorded_once_per_subject,
            the_log_pages_in_order,
            a_late_write_is_not_passed_over,
            an_unknown_cursor_is_refused,
            deliveries_are_ledgered_per_endpoint,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        mod events_contract {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let store = $make;
                    $crate::events_contract::$name(&store).await;
                }
            )*
        }
    };
}
