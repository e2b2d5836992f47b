//! Endpoints and the event log on DynamoDB.
//!
//! Endpoints are a list on the company item, changed by one UpdateItem
//! conditioned on the revision read (`rev`, which `put_company` checks
//! too); an endpoint added under an idempotency key is that update and the
//! key's record in one transaction. Events live in the company's partition:
//!
//!   `sk = EVSEQ`: type = event_seq, `last` (the last place taken);
//!   `sk = EVSEQ#<place, 20 digits>`: type = event, the record, `seq`,
//!   `expires_at` (TTL);
//!   `sk = EVENT#<event id>`: type = event_id, `seq`, `expires_at`;
//!   `sk = EVENTKEY#<dedupe>`: type = event_key, `event_id`, `expires_at`.
//!
//! All four are written in one transaction: the key item conditioned on
//! not existing (an event is recorded once per subject), the counter on
//! holding the place read before (two writers cannot take the same place),
//! so places are taken in the order the transactions commit and a reader
//! paging by place cannot pass over an event committed after its read.
//! Event ids (ULIDs) are monotonic only within one process; the log is
//! ordered by place, and a cursor (an event id) is read as its place.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Duration, Utc};

use aws_sdk_dynamodb::types::AttributeValue;
use domain::Company;
use domain::events::{
    EndpointChange, EndpointChanged, EndpointRefusal, WebhookEndpoint, change_endpoints,
};
use service::events::{EventRecord, Recorded, WebhookStore};
use service::store::{IdempotencyRecord, StoreError};

use super::DynamoStore;
use super::errors::{CONDITIONAL_CHECK_FAILED, TRANSACTION_CONFLICT, backend, sdk, stored_record};
use super::items::{Item, from_item, idempotency_item, item_of, key, n, put_expiring, s};
use super::keys;
use super::kinds;
use super::schema;

/// How often an endpoint change is tried while the company changes.
const CHANGE_ATTEMPTS: usize = 5;

/// How often recording an event is tried while other writers take the
/// company's next places.
const RECORD_ATTEMPTS: u32 = 20;

/// A missing place in a page is passed over only once the event after it
/// was created this long ago: longer than any write can take (a Lambda
/// runs at most 15 minutes), so the missing one cannot still be committing
/// and was removed (TTL). A Query is read-committed, not a snapshot: in
/// theory it can see a place and not one committed just before it.
const GAP_SETTLE: Duration = Duration::minutes(20);

fn event_of(item: Item) -> Result<EventRecord, StoreError> {
    from_item(item)
}

/// The `seq` (place in the company's log) an item carries.
fn seq_of(item: &Item) -> Option<u64> {
    item.get(SEQ)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

const SEQ: &str = "seq";
const LAST: &str = "last";

/// May a page go on past a missing place, to an event created at `next`?
fn gap_settled(next: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    next.checked_add_signed(GAP_SETTLE)
        .is_some_and(|t| t <= now)
}

impl DynamoStore {
    fn event_item(
        &self,
        e: &EventRecord,
        seq: u64,
        keep_until: DateTime<Utc>,
    ) -> Result<Item, StoreError> {
        item_of(
            e,
            [
                (schema::PK, s(keys::company(&e.company_id))),
                (schema::SK, s(keys::event_place(seq))),
                (schema::TYPE_ATTRIBUTE, s(kinds::EVENT)),
                (SEQ, n(seq)),
                (schema::TTL_ATTRIBUTE, n(keep_until.timestamp())),
            ],
        )
    }

    /// The last place taken in the company's log (0: none yet).
    async fn last_place(&self, company_id: &str) -> Result<u64, StoreError> {
        let item = self
            .get(key(keys::company(company_id), keys::EVENT_SEQ_SK))
            .await?;
        Ok(item.as_ref().and_then(last_of).unwrap_or(0))
    }

    /// The place of the event `event_id`: `None` when the company has no
    /// such event; 0 for one recorded before events had places (all of
    /// those come before every placed one).
    async fn place_of(&self, company_id: &str, event_id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get(key(keys::company(company_id), &keys::event(event_id)))
            .await?
            .map(|i| seq_of(&i).unwrap_or(0)))
    }

    /// The event a key item names.
    async fn event_by_key(
        &self,
        company_id: &str,
        dedupe: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        let Some(k) = self
            .get(key(keys::company(company_id), &keys::event_key(dedupe)))
            .await?
        else {
            return Ok(None);
        };
        match k.get("event_id").and_then(|v| v.as_s().ok()) {
            Some(id) => self.event(company_id, id).await,
            None => Err(backend("an event key item without its event id")),
        }
    }

    /// The transaction recording `event` at place `seq` (the counter read
    /// as `seq - 1`). Members, by index: 0 the key item, 1 the counter,
    /// 2 the record, 3 the id item.
    fn record_members(
        &self,
        event: &EventRecord,
        dedupe: &str,
        seq: u64,
        keep_until: DateTime<Utc>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pk = keys::company(&event.company_id);
        let expires = n(keep_until.timestamp());
        let key_item = HashMap::from([
            (schema::PK.to_owned(), s(&pk)),
            (schema::SK.to_owned(), s(keys::event_key(dedupe))),
            (schema::TYPE_ATTRIBUTE.to_owned(), s(kinds::EVENT_KEY)),
            ("event_id".to_owned(), s(&event.id)),
            (schema::TTL_ATTRIBUTE.to_owned(), expires.clone()),
        ]);
        let key_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(key_item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", schema::PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        let previous = seq
            .checked_sub(1)
            .ok_or_else(|| backend("event places start at 1"))?;
        let mut values = HashMap::from([
            (":type".to_owned(), s(kinds::EVENT_SEQ)),
            (":seq".to_owned(), n(seq)),
        ]);
        let condition = if previous == 0 {
            "attribute_not_exists(#last)"
        } else {
            values.insert(":previous".to_owned(), n(previous));
            "#last = :previous"
        };
        let counter = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), keys::EVENT_SEQ_SK)))
            .update_expression("SET #type = :type, #last = :seq")
            .condition_expression(condition)
            .expression_attribute_names("#type", schema::TYPE_ATTRIBUTE)
            .expression_attribute_names("#last", LAST)
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        // The counter's condition makes the place free; this one keeps a
        // record from being overwritten if the counter were ever lost.
        let record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.event_item(event, seq, keep_until)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", schema::PK)
            .build()
            .map_err(StoreError::backend)?;
        let id_item = HashMap::from([
            (schema::PK.to_owned(), s(&pk)),
            (schema::SK.to_owned(), s(keys::event(&event.id))),
            (schema::TYPE_ATTRIBUTE.to_owned(), s(kinds::EVENT_ID)),
            (SEQ.to_owned(), n(seq)),
            (schema::TTL_ATTRIBUTE.to_owned(), expires),
        ]);
        let id_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(id_item))
            .build()
            .map_err(StoreError::backend)?;
        Ok(vec![
            TransactWriteItem::builder().put(key_put).build(),
            TransactWriteItem::builder().update(counter).build(),
            TransactWriteItem::builder().put(record).build(),
            TransactWriteItem::builder().put(id_put).build(),
        ])
    }
}

fn last_of(item: &Item) -> Option<u64> {
    item.get(LAST)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

impl DynamoStore {
    /// Apply `change` to the company's endpoints, with `record` (a
    /// request's idempotency record) in the same transaction when there is
    /// one: both are written or neither.
    async fn change_endpoints_with(
        &self,
        company_id: &str,
        change: &EndpointChange,
        record: Option<&IdempotencyRecord>,
    ) -> Result<Result<EndpointChanged, EndpointRefusal>, StoreError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let Some(item) = self
                .get(key(keys::company(company_id), keys::COMPANY_SK))
                .await?
            else {
                return Ok(Err(EndpointRefusal::NotFound(company_id.to_owned())));
            };
            let rev = item
                .get("rev")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let mut company: Company = from_item(item)?;
            let result = change_endpoints(&mut company.webhook_endpoints, change);
            if matches!(
                result,
                Ok(EndpointChanged::Unchanged | EndpointChanged::Existing(_)) | Err(_)
            ) {
                return Ok(result);
            }
            let list = serde_dynamo::to_attribute_value(&company.webhook_endpoints)
                .map_err(StoreError::backend)?;
            if self.write_endpoints(company_id, list, rev, record).await? {
                return Ok(result);
            }
        }
        Err(backend(format!(
            "company {company_id} kept changing while its endpoints were"
        )))
    }

    /// Write the endpoint list if the company is still at `rev`; `false`
    /// when it changed meanwhile (read and apply again).
    async fn write_endpoints(
        &self,
        company_id: &str,
        list: AttributeValue,
        rev: u64,
        record: Option<&IdempotencyRecord>,
    ) -> Result<bool, StoreError> {
        let company_key = key(keys::company(company_id), keys::COMPANY_SK);
        let Some(record) = record else {
            let written = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(company_key))
                .update_expression("SET #eps = :eps, #rev = :next")
                .condition_expression("#rev = :rev")
                .expression_attribute_names("#eps", "webhook_endpoints")
                .expression_attribute_names("#rev", "rev")
                .expression_attribute_values(":eps", list)
                .expression_attribute_values(":rev", n(rev))
                .expression_attribute_values(":next", n(rev.saturating_add(1)))
                .send()
                .await;
            return match written {
                Ok(_) => Ok(true),
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(UpdateItemError::ConditionalCheckFailedException(_))
                    ) =>
                {
                    Ok(false)
                }
                Err(e) => Err(sdk("UpdateItem", e)),
            };
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(company_key))
            .update_expression("SET #eps = :eps, #rev = :next")
            .condition_expression("#rev = :rev")
            .expression_attribute_names("#eps", "webhook_endpoints")
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_values(":eps", list)
            .expression_attribute_values(":rev", n(rev))
            .expression_attribute_values(":next", n(rev.saturating_add(1)))
            .build()
            .map_err(StoreError::backend)?;
        let put = put_expiring(
            &self.table,
            idempotency_item(record)?,
            Utc::now().timestamp(),
        )?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Ok(true),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
            err.as_service_error()
        else {
            return Err(sdk("TransactWriteItems", err));
        };
        let code = |i: usize| tce.cancellation_reasons().get(i).and_then(|r| r.code());
        // Member 1 is the key's record: taken, it comes back (ALL_OLD).
        if code(1) == Some(CONDITIONAL_CHECK_FAILED) {
            let stored = tce
                .cancellation_reasons()
                .get(1)
                .and_then(|r| r.item())
                .and_then(stored_record)
                .map(Box::new);
            return Err(StoreError::IdempotencyKeyExists { stored });
        }
        // Member 0 is the company: changed or being changed meanwhile.
        match code(0) {
            Some(CONDITIONAL_CHECK_FAILED | TRANSACTION_CONFLICT) => Ok(false),
            _ => Err(sdk("TransactWriteItems", err)),
        }
    }
}

impl WebhookStore for DynamoStore {
    async fn change_endpoints(
        &self,
        company_id: &str,
        change: &EndpointChange,
    ) -> Result<Result<EndpointChanged, EndpointRefusal>, StoreError> {
        self.change_endpoints_with(company_id, change, None).await
    }

    async fn add_endpoint(
        &self,
        company_id: &str,
        endpoint: &WebhookEndpoint,
        record: Option<&IdempotencyRecord>,
    ) -> Result<Result<EndpointChanged, EndpointRefusal>, StoreError> {
        self.change_endpoints_with(company_id, &EndpointChange::Add(endpoint.clone()), record)
            .await
    }

    async fn record_event(
        &self,
        event: &EventRecord,
        dedupe: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let mut last = self.last_place(&event.company_id).await?;
        for attempt in 0..RECORD_ATTEMPTS {
            let seq = last
                .checked_add(1)
                .ok_or_else(|| backend("the company's event places are spent"))?;
            // The SDK's own retry of a lost answer replays the success
            // instead of finding the key item it wrote.
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(self.record_members(event, dedupe, seq, keep_until)?))
                .client_request_token(ulid::Ulid::generate().to_string())
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(Recorded::New(event.clone())),
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
                err.as_service_error()
            else {
                return Err(sdk("TransactWriteItems", err));
            };
            let reasons = tce.cancellation_reasons();
            let code = |i: usize| reasons.get(i).and_then(|r| r.code());
            // Member 0 is the key item: refused, the event was recorded before.
            if code(0) == Some(CONDITIONAL_CHECK_FAILED) {
                let named = reasons
                    .first()
                    .and_then(|r| r.item())
                    .and_then(|i| i.get("event_id"))
                    .and_then(|v| v.as_s().ok());
                let earlier = match named {
                    Some(id) => self.event(&event.company_id, id).await?,
                    None => self.event_by_key(&event.company_id, dedupe).await?,
                };
                return earlier
                    .map(Recorded::Existing)
                    .ok_or_else(|| backend("an event key item whose event is gone"));
            }
            // Member 1 is the counter: another writer took the place (its
            // refusal returns the counter as it is now), or a concurrent
            // transaction held an item; take the next free place.
            let taken = code(1) == Some(CONDITIONAL_CHECK_FAILED);
            let conflict = reasons
                .iter()
                .any(|r| r.code() == Some(TRANSACTION_CONFLICT));
            if !taken && !conflict {
                return Err(sdk("TransactWriteItems", err));
            }
            last = match reasons.get(1).and_then(|r| r.item()).and_then(last_of) {
                Some(now) if taken => now,
                _ => {
                    let pause = 5u64.saturating_mul(u64::from(attempt).saturating_add(1));
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    self.last_place(&event.company_id).await?
                }
            };
        }
        Err(backend(format!(
            "company {}: other writers kept taking the next event place",
            event.company_id
        )))
    }

    async fn event(
        &self,
        company_id: &str,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        let pk = keys::company(company_id);
        let Some(item) = self.get(key(pk.clone(), &keys::event(event_id))).await? else {
            return Ok(None);
        };
        match seq_of(&item) {
            Some(seq) => self
                .get(key(pk, &keys::event_place(seq)))
                .await?
                .map(event_of)
                .transpose(),
            // Recorded before events had places: the item is the record.
            None => event_of(item).map(Some),
        }
    }

    async fn events_after(
        &self,
        company_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Option<(Vec<EventRecord>, bool)>, StoreError> {
        let from = match after {
            None => 0,
            Some(id) => match self.place_of(company_id, id).await? {
                Some(seq) => seq,
                None => return Ok(None),
            },
        };
        let Some(mut expected) = from.checked_add(1) else {
            return Ok(Some((Vec::new(), false)));
        };
        let lower = keys::event_place(expected);
        let want = limit.saturating_add(1);
        let mut events = Vec::new();
        let mut start = None;
        let now = Utc::now();
        'pages: loop {
            let out = self
                .key_range(
                    keys::company(company_id),
                    lower.as_str(),
                    keys::event_place(u64::MAX),
                )
                .limit(i32::try_from(want.saturating_add(1)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("Query", e))?;
            for item in out.items.unwrap_or_default() {
                let seq = seq_of(&item).ok_or_else(|| backend("an event without its place"))?;
                // TTL removes expired items within days, not at once.
                let expired = item
                    .get(schema::TTL_ATTRIBUTE)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|t| t <= now.timestamp());
                let e = event_of(item)?;
                if seq != expected && !gap_settled(e.created_at, now) {
                    break 'pages;
                }
                expected = seq.saturating_add(1);
                if !expired {
                    events.push(e);
                }
                if events.len() >= want {
                    break 'pages;
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let more = events.len() > limit;
        events.truncate(limit);
        Ok(Some((events, more)))
    }
}

impl service::edi::ControlNumbers for DynamoStore {
    fn next<'a>(
        &'a self,
        company_id: &'a str,
    ) -> service::events::Pending<'a, u32, service::edi::NumberError> {
        Box::pin(async move {
            // One counter item per partner, incremented atomically.
            let out = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::company(company_id), keys::EDI_CONTROL_SK)))
                .update_expression("SET #type = :type ADD #last :one")
                .expression_attribute_names("#type", schema::TYPE_ATTRIBUTE)
                .expression_attribute_names("#last", "last")
                .expression_attribute_values(":type", s(kinds::EDI_CONTROL))
                .expression_attribute_values(":one", n(1))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
                .send()
                .await
                .map_err(|e| sdk("UpdateItem", e))?;
            out.attributes
                .as_ref()
                .and_then(|a| a.get("last"))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|n| (1..=999_999_999).contains(n))
                .ok_or_else(|| service::edi::NumberError::Unusable(company_id.to_owned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fresh_store;
    #[allow(unused_imports)]
    use super::*;

    testkit::events_contract_tests!(fresh_store().await);

    /// Two clients on one table, as two Lambdas are, write while a third
    /// pages through the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_writers_and_a_reader_on_one_table() {
        let a = fresh_store().await;
        let b = DynamoStore::from_env(a.table()).await;
        let reader = DynamoStore::from_env(a.table()).await;
        testkit::events_contract::concurrent_writers_are_read_once(a, b, reader).await;
    }

    #[test]
    fn a_missing_place_is_passed_only_once_settled() {
        let now = Utc::now();
        assert!(!gap_settled(now, now));
        assert!(!gap_settled(now - Duration::minutes(19), now));
        assert!(gap_settled(now - Duration::minutes(20), now));
        assert!(gap_settled(now - Duration::days(35), now));
    }

    /// A page stops before a missing place followed by a recent event
    /// (what a Query could see while the missing one commits), and passes
    /// one followed by a settled event (an expired one reaped by TTL).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_stops_at_a_missing_place_until_it_settles() {
        let s = fresh_store().await;
        let keep = Utc::now() + Duration::days(35);
        let mut ids = Vec::new();
        for i in 0..3 {
            let mut e = testkit::events_contract::event_of_company("gap", "o1");
            if i == 2 {
                e.created_at = Utc::now() - Duration::minutes(30);
            }
            ids.push(e.id.clone());
            s.record_event(&e, &format!("g{i}"), keep).await.unwrap();
        }
        let pk = keys::company("gap");
        let removed = |seq: u64| {
            s.client
                .delete_item()
                .table_name(&s.table)
                .set_key(Some(key(pk.clone(), &keys::event_place(seq))))
                .send()
        };
        // Place 2 missing, place 3 created 30 minutes ago: passed.
        removed(2).await.unwrap();
        let (page, _) = s.events_after("gap", None, 10).await.unwrap().unwrap();
        let got: Vec<&str> = page.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(got, [ids[0].as_str(), ids[2].as_str()]);
        // Places 2 and 3 missing, place 4's event recent: the page ends
        // before it.
        let recent = testkit::events_contract::event_of_company("gap", "o1");
        s.record_event(&recent, "g3", keep).await.unwrap();
        removed(3).await.unwrap();
        let (page, more) = s
            .events_after("gap", Some(&ids[0]), 10)
            .await
            .unwrap()
            .unwrap();
        assert!(page.is_empty() && !more, "{page:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn control_numbers_increase_per_partner() {
        use service::edi::ControlNumbers;
        let s = fresh_store().await;
        assert_eq!(s.next("p1").await.unwrap(), 1);
        assert_eq!(s.next("p1").await.unwrap(), 2);
        assert_eq!(s.next("p2").await.unwrap(), 1);
        let many = futures::future::join_all((0..8).map(|_| s.next("p1"))).await;
        let mut got: Vec<u32> = many.into_iter().map(Result::unwrap).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            (3..=10).collect::<Vec<_>>(),
            "never the same number twice"
        );
    }
}
