//! Endpoints and the event log on DynamoDB.
//!
//! Endpoints are a list on the company item, changed by one UpdateItem
//! conditioned on the revision read (`rev`, which `put_company` checks
//! too). Events live in the company's partition:
//!
//!   `sk = EVENT#<event id>`: type = event, the record, `expires_at` (TTL);
//!   `sk = EVENTKEY#<dedupe>`: type = event_key, `event_id`, `expires_at`.
//!
//! Both are put in one transaction, the key item conditioned on not
//! existing: an event is recorded once per subject, and ids (ULIDs) sort
//! the log by time for `events_after` (one Query).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use chrono::{DateTime, Utc};

use domain::Company;
use domain::webhooks::{EndpointChange, EndpointChanged, EndpointRefusal, change_endpoints};
use service::store::StoreError;
use service::webhooks::{EventRecord, Recorded, WebhookStore};

use super::DynamoStore;
use super::errors::{CONDITIONAL_CHECK_FAILED, backend, sdk};
use super::items::{Item, from_item, item_of, key, n, s};
use super::keys;
use super::kinds;
use super::schema;

/// How often an endpoint change is tried while the company changes.
const CHANGE_ATTEMPTS: usize = 5;

fn event_of(item: Item) -> Result<EventRecord, StoreError> {
    from_item(item)
}

impl DynamoStore {
    fn event_item(&self, e: &EventRecord, keep_until: DateTime<Utc>) -> Result<Item, StoreError> {
        item_of(
            e,
            [
                (schema::PK, s(keys::company(&e.company_id))),
                (schema::SK, s(keys::event(&e.id))),
                (schema::TYPE_ATTRIBUTE, s(kinds::EVENT)),
                (schema::TTL_ATTRIBUTE, n(keep_until.timestamp())),
            ],
        )
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
}

impl WebhookStore for DynamoStore {
    async fn change_endpoints(
        &self,
        company_id: &str,
        change: &EndpointChange,
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
            let written = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::company(company_id), keys::COMPANY_SK)))
                .update_expression("SET #eps = :eps, #rev = :next")
                .condition_expression("#rev = :rev")
                .expression_attribute_names("#eps", "webhook_endpoints")
                .expression_attribute_names("#rev", "rev")
                .expression_attribute_values(":eps", list)
                .expression_attribute_values(":rev", n(rev))
                .expression_attribute_values(":next", n(rev.saturating_add(1)))
                .send()
                .await;
            match written {
                Ok(_) => return Ok(result),
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(UpdateItemError::ConditionalCheckFailedException(_))
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(sdk("UpdateItem", e)),
            }
        }
        Err(backend(format!(
            "company {company_id} kept changing while its endpoints were"
        )))
    }

    async fn record_event(
        &self,
        event: &EventRecord,
        dedupe: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let pk = keys::company(&event.company_id);
        let key_item = HashMap::from([
            (schema::PK.to_owned(), s(&pk)),
            (schema::SK.to_owned(), s(keys::event_key(dedupe))),
            (schema::TYPE_ATTRIBUTE.to_owned(), s(kinds::EVENT_KEY)),
            ("event_id".to_owned(), s(&event.id)),
            (schema::TTL_ATTRIBUTE.to_owned(), n(keep_until.timestamp())),
        ]);
        let key_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(key_item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", schema::PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        let event_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.event_item(event, keep_until)?))
            .build()
            .map_err(StoreError::backend)?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(key_put).build())
            .transact_items(TransactWriteItem::builder().put(event_put).build())
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
        // Member 0 is the key item: refused, the event was recorded before.
        let first = tce.cancellation_reasons().first();
        if first.and_then(|r| r.code()) != Some(CONDITIONAL_CHECK_FAILED) {
            return Err(sdk("TransactWriteItems", err));
        }
        let named = first
            .and_then(|r| r.item())
            .and_then(|i| i.get("event_id"))
            .and_then(|v| v.as_s().ok());
        let earlier = match named {
            Some(id) => self.event(&event.company_id, id).await?,
            None => self.event_by_key(&event.company_id, dedupe).await?,
        };
        earlier
            .map(Recorded::Existing)
            .ok_or_else(|| backend("an event key item whose event is gone"))
    }

    async fn event(
        &self,
        company_id: &str,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        self.get(key(keys::company(company_id), &keys::event(event_id)))
            .await?
            .map(event_of)
            .transpose()
    }

    async fn events_after(
        &self,
        company_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<EventRecord>, bool), StoreError> {
        // From the cursor's own key (BETWEEN is inclusive; it is skipped)
        // to the end of the EVENT# range.
        let from = keys::event(after.unwrap_or(""));
        let to = format!("{}\u{10FFFF}", keys::EVENT_PREFIX);
        let want = limit.saturating_add(1);
        let mut events = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", schema::PK)
                .expression_attribute_names("#sk", schema::SK)
                .expression_attribute_values(":pk", s(keys::company(company_id)))
                .expression_attribute_values(":from", s(&from))
                .expression_attribute_values(":to", s(&to))
                .limit(i32::try_from(want.saturating_add(1)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("Query", e))?;
            let now = Utc::now().timestamp();
            for item in out.items.unwrap_or_default() {
                // TTL removes expired items within days, not at once.
                let expired = item
                    .get(schema::TTL_ATTRIBUTE)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|t| t <= now);
                let e = event_of(item)?;
                if expired || Some(e.id.as_str()) == after {
                    continue;
                }
                events.push(e);
            }
            start = out.last_evaluated_key;
            if start.is_none() || events.len() >= want {
                break;
            }
        }
        let more = events.len() > limit;
        events.truncate(limit);
        Ok((events, more))
    }
}

impl service::edi::ControlNumbers for DynamoStore {
    fn next<'a>(&'a self, company_id: &'a str) -> service::webhooks::Pending<'a, u32, String> {
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
                .map_err(|e| sdk("UpdateItem", e).to_string())?;
            out.attributes
                .as_ref()
                .and_then(|a| a.get("last"))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|n| (1..=999_999_999).contains(n))
                .ok_or_else(|| format!("control numbers of {company_id}: no usable number"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fresh_store;
    #[allow(unused_imports)]
    use super::*;

    testkit::webhook_contract_tests!(fresh_store().await);

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
