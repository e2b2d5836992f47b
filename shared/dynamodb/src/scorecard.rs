//! The scorecard's counters: items under `SCORE#<company>`, one per day of
//! the orders' creation, partner and shard, whose number attributes each
//! commit adds to (`ADD`) in its own transaction. A company's scorecard is
//! then one Query of its partition over the window's days, whatever the
//! number of orders. The shard (from the order id) spreads a busy pair's
//! writes of one day over several items, so that concurrent transactions
//! seldom meet on one counter.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Update as TxUpdate};
use chrono::NaiveDate;

use domain::scorecard::{Counts, DayCounts, ScoreChange};
use service::store::StoreError;

use super::DynamoStore;
use super::errors::{backend, sdk};
use super::items::{Item, key, s};
use super::kinds;
use super::schema;

/// Items one company, partner and day may be spread over.
pub(super) const SHARDS: u32 = 4;

fn partition(company_id: &str) -> String {
    format!("SCORE#{company_id}")
}

/// `<day>#<partner's length>#<partner>#<shard>`: the day first, so that a
/// window is one key range.
fn sort_key(day: NaiveDate, partner_id: &str, shard: u32) -> String {
    format!("{day}#{}#{partner_id}#{shard}", partner_id.len())
}

/// The order's shard: FNV-1a of its id (stable across builds and hosts).
pub(super) fn shard_of(order_id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in order_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % SHARDS
}

impl DynamoStore {
    /// The transaction members adding `change` to both sides' counters.
    pub(super) fn score_updates(
        &self,
        change: &ScoreChange,
        order_id: &str,
    ) -> Result<Vec<TxUpdate>, StoreError> {
        let shard = shard_of(order_id);
        let fields: Vec<(String, u64)> = change
            .counts
            .fields()
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .collect();
        let mut out = Vec::with_capacity(2);
        for (company, partner, name) in change.sides() {
            let mut names = HashMap::from([
                ("#type".to_owned(), schema::TYPE_ATTRIBUTE.to_owned()),
                ("#company".to_owned(), "company_id".to_owned()),
                ("#partner".to_owned(), "partner_id".to_owned()),
                ("#day".to_owned(), "day".to_owned()),
            ]);
            let mut values: Item = HashMap::from([
                (":type".to_owned(), s(kinds::SCORE)),
                (":company".to_owned(), s(company)),
                (":partner".to_owned(), s(partner)),
                (":day".to_owned(), s(change.day.to_string())),
            ]);
            let mut set = String::from(
                "#type = :type, #company = :company, #partner = :partner, #day = :day",
            );
            if !name.is_empty() {
                names.insert("#name".to_owned(), "partner_name".to_owned());
                values.insert(":name".to_owned(), s(name));
                set.push_str(", #name = :name");
            }
            let mut add = Vec::with_capacity(fields.len());
            for (i, (field, v)) in fields.iter().enumerate() {
                names.insert(format!("#c{i}"), field.clone());
                values.insert(format!(":c{i}"), AttributeValue::N(v.to_string()));
                add.push(format!("#c{i} :c{i}"));
            }
            let mut expression = format!("SET {set}");
            if !add.is_empty() {
                expression.push_str(" ADD ");
                expression.push_str(&add.join(", "));
            }
            out.push(
                TxUpdate::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        partition(company),
                        &sort_key(change.day, partner, shard),
                    )))
                    .update_expression(expression)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map_err(StoreError::backend)?,
            );
        }
        Ok(out)
    }

    /// One Query of the company's counters over the days (page after
    /// page), read consistently as every read of this store is.
    pub(super) async fn score_query(
        &self,
        company_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayCounts>, StoreError> {
        // Every key of day `to` starts `<to>#`, and '$' sorts after '#'.
        let items = self
            .key_range(partition(company_id), format!("{from}#"), format!("{to}$"))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk("Query", e))?;
        items.into_iter().map(row_of).collect()
    }

    /// Every counter item in the days (a Scan: operators only).
    pub(super) async fn score_scan(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayCounts>, StoreError> {
        let items = self
            .scan_all(
                self.client
                    .scan()
                    .filter_expression("#type = :score AND #day BETWEEN :from AND :to")
                    .expression_attribute_names("#type", schema::TYPE_ATTRIBUTE)
                    .expression_attribute_names("#day", "day")
                    .expression_attribute_values(":score", s(kinds::SCORE))
                    .expression_attribute_values(":from", s(from.to_string()))
                    .expression_attribute_values(":to", s(to.to_string())),
            )
            .await?;
        items.into_iter().map(row_of).collect()
    }
}

fn row_of(item: Item) -> Result<DayCounts, StoreError> {
    let text = |name: &str| -> Result<String, StoreError> {
        match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(backend(format!("a scorecard item without its {name}"))),
        }
    };
    let day = text("day")?;
    let mut numbers = Vec::new();
    for (name, v) in &item {
        if let AttributeValue::N(v) = v {
            let n = v
                .parse::<u64>()
                .map_err(|_| backend(format!("a scorecard counter {name} = {v:?}")))?;
            numbers.push((name.as_str(), n));
        }
    }
    Ok(DayCounts {
        company_id: text("company_id")?,
        partner_id: text("partner_id")?,
        partner_name: text("partner_name").unwrap_or_default(),
        day: day
            .parse()
            .map_err(|_| backend(format!("a scorecard item's day {day:?}")))?,
        counts: Counts::from_fields(numbers),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_one_key_range() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let k = sort_key(d("2026-12-07"), "acme#1", 3);
        assert_eq!(k, "2026-12-07#6#acme#1#3");
        assert!(k.as_str() >= "2026-12-07#" && k.as_str() <= "2026-12-07$");
        assert!(sort_key(d("2026-12-08"), "a", 0).as_str() > "2026-12-07$");
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("ord_1"), shard_of("ord_1"));
        let used: std::collections::BTreeSet<u32> =
            (0..100).map(|i| shard_of(&format!("ord_{i}"))).collect();
        assert_eq!(used.len(), SHARDS as usize);
    }
}
