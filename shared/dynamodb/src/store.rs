//! The `Store` port on DynamoDB. Writing a company is in `company`, a
//! commit's transaction in `commit`, reading orders in `orders`.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use chrono::Utc;

use super::DynamoStore;
use super::errors::{backend, sdk};
use super::items::{Item, from_item, idempotency_item, key, put_expiring, s, unexpired};
use super::keys::{self, listing_sk};
use super::orders::{Side, read_order_record};
use super::schema::{self, GSI_BUYER, GSI_SELLER};
use domain::{Company, Order, Role};
use service::store::{
    Commit, IdempotencyRecord, OrderCursor, OrderPage, OrderRecord, StatusFilter, Store, StoreError,
};

impl DynamoStore {
    /// One item by its key, read consistently.
    pub(super) async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("GetItem", e))?;
        Ok(out.item)
    }
}

impl Store for DynamoStore {
    /// One transaction: the company (conditioned on the revision read, so a
    /// concurrent change of the same company is retried, not lost), a put of
    /// each API-key item (refused when another company owns the key) and a
    /// delete of each key the company no longer has. Key items carry a copy
    /// of the company, so authenticating a request is one GetItem.
    async fn put_company(&self, company: &Company) -> Result<(), StoreError> {
        self.write_company(company).await
    }

    async fn company(&self, id: &str) -> Result<Option<Company>, StoreError> {
        self.get(key(keys::company(id), keys::COMPANY_SK))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn company_by_shop_domain(
        &self,
        shop_domain: &str,
    ) -> Result<Option<Company>, StoreError> {
        let domain = shop_domain.trim().to_ascii_lowercase();
        let Some(mut item) = self.get(key(keys::shop(&domain), keys::SHOP_SK)).await? else {
            return Ok(None);
        };
        let copy = item
            .remove("company")
            .ok_or_else(|| backend("a shop item without its company"))?;
        serde_dynamo::from_attribute_value(copy)
            .map(Some)
            .map_err(StoreError::backend)
    }

    async fn orders_by_ref(
        &self,
        company_id: &str,
        party: Role,
        order_ref: &str,
    ) -> Result<Vec<Order>, StoreError> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", schema::PK)
                .expression_attribute_values(
                    ":pk",
                    s(keys::order_ref(party, company_id, order_ref)),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("Query", e))?;
            ids.extend(
                out.items()
                    .iter()
                    .filter_map(|i| i.get("order_id").and_then(|v| v.as_s().ok()).cloned()),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(o) = self.order(&id).await? {
                orders.push(o);
            }
        }
        orders.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(orders)
    }

    async fn company_by_api_key_hash(&self, key_hash: &str) -> Result<Option<Company>, StoreError> {
        let Some(mut item) = self
            .get(key(keys::api_key(key_hash), keys::API_KEY_SK))
            .await?
        else {
            return Ok(None);
        };
        let copy = item
            .remove("company")
            .ok_or_else(|| backend("an API-key item without its company"))?;
        serde_dynamo::from_attribute_value(copy)
            .map(Some)
            .map_err(StoreError::backend)
    }

    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.get(key(keys::order(id), keys::ORDER_SK))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn order_record(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        read_order_record(&self.client, &self.table, id).await
    }

    /// Both GSIs (the company as buyer, as seller) read newest first and
    /// merged; the status filter is applied on the index (`complete` is
    /// projected) and queries repeat until `limit + 1` entries are found or
    /// both sides are exhausted, so a page has `limit` orders whenever more
    /// exist. The records are then read concurrently, one Query each.
    async fn list_orders(
        &self,
        company_id: &str,
        filter: StatusFilter,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> Result<OrderPage, StoreError> {
        if limit == 0 {
            return Ok(OrderPage {
                orders: Vec::new(),
                next: None,
            });
        }
        let company_pk = keys::company(company_id);
        let after = after.map(|c| listing_sk(&c.created_at, &c.id));
        let want = limit.saturating_add(1);
        let page = i32::try_from(want).unwrap_or(i32::MAX).min(1000);
        let mut sides = [Side::new(GSI_BUYER, page), Side::new(GSI_SELLER, page)];
        let mut ids: Vec<String> = Vec::with_capacity(want.min(1000));
        let mut last: Option<String> = None;
        while ids.len() < want {
            for side in &mut sides {
                self.fill(side, &company_pk, filter, after.as_deref())
                    .await?;
            }
            let [buyer, seller] = &mut sides;
            let newest = match (buyer.buffer.front(), seller.buffer.front()) {
                (None, None) => break,
                (Some(_), None) => buyer.buffer.pop_front(),
                (None, Some(_)) => seller.buffer.pop_front(),
                (Some(b), Some(s)) => {
                    if b.0 >= s.0 {
                        buyer.buffer.pop_front()
                    } else {
                        seller.buffer.pop_front()
                    }
                }
            };
            let Some((sk, id)) = newest else { break };
            // An order on both sides (buyer == seller) is listed once.
            if last.as_deref() == Some(sk.as_str()) {
                continue;
            }
            last = Some(sk);
            ids.push(id);
        }
        let more = ids.len() > limit;
        ids.truncate(limit);

        let mut tasks = tokio::task::JoinSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            let (client, table) = (self.client.clone(), self.table.clone());
            tasks.spawn(async move { (i, read_order_record(&client, &table, &id).await) });
        }
        let mut found: Vec<(usize, OrderRecord)> = Vec::with_capacity(tasks.len());
        while let Some(joined) = tasks.join_next().await {
            let (i, record) = joined.map_err(StoreError::backend)?;
            if let Some(r) = record? {
                found.push((i, r));
            }
        }
        found.sort_by_key(|(i, _)| *i);
        let orders: Vec<OrderRecord> = found.into_iter().map(|(_, r)| r).collect();
        Ok(OrderPage::new(orders, more))
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.commit_with_token(commit, &ulid::Ulid::generate().to_string())
            .await
    }

    async fn idempotency_record(
        &self,
        company_id: &str,
        key_: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(mut item) = self
            .get(key(keys::idempotency(company_id, key_), keys::IDEM_SK))
            .await?
        else {
            return Ok(None);
        };
        if !unexpired(&item, Utc::now().timestamp()) {
            return Ok(None);
        }
        let record = item
            .remove("record")
            .ok_or_else(|| backend("an idempotency item without its record"))?;
        serde_dynamo::from_attribute_value(record)
            .map(Some)
            .map_err(StoreError::backend)
    }

    async fn put_idempotency_record(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let put = put_expiring(
            &self.table,
            idempotency_item(record)?,
            Utc::now().timestamp(),
        )?;
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .set_condition_expression(put.condition_expression)
            .set_expression_attribute_names(put.expression_attribute_names)
            .set_expression_attribute_values(put.expression_attribute_values)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(StoreError::IdempotencyKeyExists)
            }
            Err(e) => Err(sdk("PutItem", e)),
        }
    }

    async fn notification_entries(
        &self,
        order_id: &str,
    ) -> Result<Vec<service::ledger::LedgerEntry>, StoreError> {
        service::ledger::Ledger::ledger_entries(self, order_id).await
    }
}
