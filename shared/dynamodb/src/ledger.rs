//! The notification ledger (`service::ledger`) on DynamoDB. One item per
//! (cancellation, channel) in the order's partition, outside the `ORDER`
//! sort-key prefix (so `order_record` never reads it):
//!
//!   `pk = ORDER#<order id>`, `sk = NOTIFY#<cancellation id>#<channel>`,
//!   type = notification, status = INPROGRESS | COMPLETED, expires_at (TTL
//!   number, epoch seconds; only while INPROGRESS: the lock expiry), token,
//!   attempts, outcome, detail, last_error, order_id, cancellation_id,
//!   channel, updated_at.
//!
//! A claim is one conditional UpdateItem (an upsert: it creates the item or
//! takes over an expired lock, counting attempts) with
//! `attribute_not_exists(pk) OR (status = INPROGRESS AND expires_at < :now)`
//! and `ReturnValuesOnConditionCheckFailure = ALL_OLD`, so a refused claim
//! learns the current state (completed, or busy until when) without a second
//! read. Completed items lose `expires_at`, so TTL never removes them; an
//! abandoned INPROGRESS item may be reaped by TTL after its lock expired,
//! which is the same as absent to the next claim.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration, Utc};

use super::DynamoStore;
use super::errors::{backend, sdk};
use super::items::{Item, from_item, n, s};
use super::schema;
use service::ledger::{
    Claim, Ledger, LedgerEntry, LedgerKey, LedgerStatus, Outcome, lock_expired, lock_expiry,
    new_token,
};
use service::store::StoreError;

use super::keys::NOTIFY_PREFIX;
pub(super) const NOTIFICATION_TYPE: &str = "notification";

fn ledger_key(k: &LedgerKey) -> Item {
    HashMap::from([
        (schema::PK.to_owned(), s(format!("ORDER#{}", k.order_id))),
        (
            schema::SK.to_owned(),
            s(format!("{NOTIFY_PREFIX}{}#{}", k.cancellation_id, k.slot())),
        ),
    ])
}

fn stamp(t: &DateTime<Utc>) -> AttributeValue {
    s(service::store::timestamp(t))
}

pub(super) fn entry_of(item: Item) -> Result<LedgerEntry, StoreError> {
    from_item(item)
}

/// Whether an update conditioned on holding the claim went through: a
/// refused condition means the claim was taken over (or completed).
fn held<T, R: std::fmt::Debug>(
    result: Result<T, SdkError<UpdateItemError, R>>,
) -> Result<bool, StoreError> {
    match result {
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
    }
}

/// A refused claim: the item as it was (`ALL_OLD`) says whether the work
/// is done or who holds the lock until when.
fn refused_claim(old: Option<&Item>, now: DateTime<Utc>) -> Result<Claim, StoreError> {
    let Some(old) = old.filter(|i| !i.is_empty()) else {
        return Err(backend(
            "DynamoDB UpdateItem: claim refused without the current item",
        ));
    };
    let entry = entry_of(old.clone())?;
    Ok(match entry.status {
        LedgerStatus::Completed => Claim::Completed(entry),
        // Refused, so the lock had not expired when the
        // condition was evaluated.
        LedgerStatus::InProgress if !lock_expired(entry.expires_at, now) => Claim::Busy {
            expires_at: entry.expires_at.unwrap_or_default(),
        },
        LedgerStatus::InProgress => Claim::Busy {
            expires_at: now.timestamp(),
        },
    })
}

impl Ledger for DynamoStore {
    async fn claim(
        &self,
        key: &LedgerKey,
        now: DateTime<Utc>,
        lock_for: Duration,
    ) -> Result<Claim, StoreError> {
        let token = new_token();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .update_expression(
                "SET #type = :type, #status = :inprogress, #exp = :exp, #token = :token, \
                 #attempts = if_not_exists(#attempts, :zero) + :one, #oid = :oid, \
                 #cid = :cid, #channel = :channel, #endpoint = :endpoint, #updated = :updated",
            )
            .condition_expression(
                "attribute_not_exists(#pk) OR (#status = :inprogress AND #exp < :now)",
            )
            .expression_attribute_names("#pk", schema::PK)
            .expression_attribute_names("#type", schema::TYPE_ATTRIBUTE)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#exp", schema::TTL_ATTRIBUTE)
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_names("#oid", "order_id")
            .expression_attribute_names("#cid", "cancellation_id")
            .expression_attribute_names("#channel", "channel")
            .expression_attribute_names("#endpoint", "endpoint_id")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_values(":type", s(NOTIFICATION_TYPE))
            .expression_attribute_values(":inprogress", s(LedgerStatus::InProgress.as_str()))
            .expression_attribute_values(":exp", n(lock_expiry(now, lock_for)))
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":token", s(&token))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":oid", s(&key.order_id))
            .expression_attribute_values(":cid", s(&key.cancellation_id))
            .expression_attribute_values(":channel", s(key.channel.as_str()))
            .expression_attribute_values(
                ":endpoint",
                key.endpoint_id
                    .as_deref()
                    .map_or(AttributeValue::Null(true), s),
            )
            .expression_attribute_values(":updated", stamp(&now))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let entry = entry_of(out.attributes.unwrap_or_default())?;
                Ok(Claim::Acquired {
                    token,
                    attempt: entry.attempts,
                })
            }
            Err(e) => {
                if let Some(UpdateItemError::ConditionalCheckFailedException(ccf)) =
                    e.as_service_error()
                {
                    return refused_claim(ccf.item(), now);
                }
                Err(sdk("UpdateItem", e))
            }
        }
    }

    async fn complete(
        &self,
        key: &LedgerKey,
        token: &str,
        outcome: Outcome,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .update_expression(
                "SET #status = :completed, #outcome = :outcome, #detail = :detail, \
                 #updated = :updated REMOVE #exp, #token",
            )
            .condition_expression("#token = :token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#outcome", "outcome")
            .expression_attribute_names("#detail", "detail")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#exp", schema::TTL_ATTRIBUTE)
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":completed", s(LedgerStatus::Completed.as_str()))
            .expression_attribute_values(":outcome", s(outcome.as_str()))
            .expression_attribute_values(":detail", s(detail))
            .expression_attribute_values(":updated", stamp(&now))
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        held(result)
    }

    async fn release(
        &self,
        key: &LedgerKey,
        token: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .update_expression(
                "SET #exp = :expired, #error = :error, #updated = :updated REMOVE #token",
            )
            .condition_expression("#token = :token AND #status = :inprogress")
            .expression_attribute_names("#exp", schema::TTL_ATTRIBUTE)
            .expression_attribute_names("#error", "last_error")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expired", n(now.timestamp() - 1))
            .expression_attribute_values(":error", s(error))
            .expression_attribute_values(":updated", stamp(&now))
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":inprogress", s(LedgerStatus::InProgress.as_str()))
            .send()
            .await;
        held(result)
    }

    /// A Scan of the notification items: an operator's command only.
    async fn entries_since(&self, since: DateTime<Utc>) -> Result<Vec<LedgerEntry>, StoreError> {
        let items = self
            .scan_all(
                self.client
                    .scan()
                    .filter_expression("#type = :type AND #updated >= :since")
                    .expression_attribute_names("#type", schema::TYPE_ATTRIBUTE)
                    .expression_attribute_names("#updated", "updated_at")
                    .expression_attribute_values(":type", s(NOTIFICATION_TYPE))
                    .expression_attribute_values(":since", stamp(&since)),
            )
            .await?;
        let mut entries = items
            .into_iter()
            .map(entry_of)
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| {
            (a.updated_at, &a.cancellation_id, a.channel, &a.endpoint_id).cmp(&(
                b.updated_at,
                &b.cancellation_id,
                b.channel,
                &b.endpoint_id,
            ))
        });
        Ok(entries)
    }

    async fn fail_sent(
        &self,
        key: &LedgerKey,
        attempt: u32,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .update_expression("SET #outcome = :failed, #detail = :detail, #updated = :now")
            .condition_expression(
                "#status = :completed AND #outcome = :sent AND #attempts = :attempt",
            )
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_values(":attempt", n(attempt))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#outcome", "outcome")
            .expression_attribute_names("#detail", "detail")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_values(":completed", s(LedgerStatus::Completed.as_str()))
            .expression_attribute_values(":sent", s(Outcome::Sent.as_str()))
            .expression_attribute_values(":failed", s(Outcome::Failed.as_str()))
            .expression_attribute_values(":detail", s(detail))
            .expression_attribute_values(":now", stamp(&now))
            .send()
            .await;
        held(result)
    }

    /// In progress with its lock long expired: the next claim takes it.
    async fn reopen_failed(&self, key: &LedgerKey) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .update_expression(
                "SET #status = :inprogress, #exp = :expired, #error = #detail \
                 REMOVE #outcome, #detail, #token",
            )
            .condition_expression("#status = :completed AND #outcome = :failed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#exp", schema::TTL_ATTRIBUTE)
            .expression_attribute_names("#error", "last_error")
            .expression_attribute_names("#detail", "detail")
            .expression_attribute_names("#outcome", "outcome")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":inprogress", s(LedgerStatus::InProgress.as_str()))
            .expression_attribute_values(":completed", s(LedgerStatus::Completed.as_str()))
            .expression_attribute_values(":failed", s(Outcome::Failed.as_str()))
            .expression_attribute_values(":expired", n(0))
            .send()
            .await;
        held(result)
    }

    async fn ledger_entries(&self, order_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", schema::PK)
                .expression_attribute_names("#sk", schema::SK)
                .expression_attribute_values(":pk", s(format!("ORDER#{order_id}")))
                .expression_attribute_values(":prefix", s(NOTIFY_PREFIX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("Query", e))?;
            for item in out.items.unwrap_or_default() {
                entries.push(entry_of(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fresh_store;
    #[allow(unused_imports)]
    use super::*;

    testkit::ledger_contract_tests!(fresh_store().await);
}
