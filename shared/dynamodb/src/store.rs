//! The store's roles on DynamoDB. Writing a company is in `company`, a
//! commit's transaction in `commit`, reading orders in `orders`.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use chrono::Utc;

use super::DynamoStore;
use super::errors::{backend, sdk, stored_record};
use super::items::{Item, from_item, idempotency_item, key, put_expiring, record_of, s, unexpired};
use super::keys::{self, RefKind};
use super::schema;
use domain::{Company, Order, Role};
use service::ledger::LedgerEntry;
use service::store::{
    Commit, Companies, CompanyWrite, IdempotencyRecord, IdempotencyRecords, OrderCursor, OrderPage,
    OrderRecord, Orders, StatusFilter, Store, StoreError,
};

impl DynamoStore {
    /// A consistent Query of partition `pk` for the sort keys from `from`
    /// to `to`, both included (the caller adds paging or a limit).
    pub(super) fn key_range(
        &self,
        pk: String,
        from: impl Into<String>,
        to: impl Into<String>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", schema::PK)
            .expression_attribute_names("#sk", schema::SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
    }

    /// Every item a Scan selects, read consistently, page after page (the
    /// SDK's paginator): operator commands only, never a request's path.
    pub(super) async fn scan_all(
        &self,
        scan: aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        scan.table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk("Scan", e))
    }

    /// The orders whose look-up items by reference are in partition `pk`:
    /// one Query (read consistently, page after page) of the items, then
    /// one BatchGetItem of the orders, by id.
    async fn orders_by_ref_item(&self, pk: String) -> Result<Vec<Order>, StoreError> {
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
                .expression_attribute_values(":pk", s(&pk))
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
        ids.sort();
        Ok(self
            .records(&ids)
            .await?
            .into_iter()
            .map(|r| r.order)
            .collect())
    }

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

/// The company an API-key item carries a copy of.
fn key_owner(mut item: Item) -> Result<Company, StoreError> {
    let copy = item
        .remove("company")
        .ok_or_else(|| backend("an API-key item without its company"))?;
    serde_dynamo::from_attribute_value(copy).map_err(StoreError::backend)
}

impl Orders for DynamoStore {
    /// A Scan of the order items' cancellations: an operator's command.
    async fn cancellations_since(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<domain::Cancellation>, StoreError> {
        let items = self
            .scan_all(
                self.client
                    .scan()
                    .filter_expression("#type = :order")
                    .projection_expression("#cs")
                    .expression_attribute_names("#type", schema::TYPE_ATTRIBUTE)
                    .expression_attribute_names("#cs", schema::CANCELLATIONS_ATTRIBUTE)
                    .expression_attribute_values(":order", s(super::kinds::ORDER)),
            )
            .await?;
        let mut found: Vec<domain::Cancellation> = Vec::new();
        for mut item in items {
            if let Some(list) = item.remove(schema::CANCELLATIONS_ATTRIBUTE) {
                let all: Vec<domain::Cancellation> =
                    serde_dynamo::from_attribute_value(list).map_err(StoreError::backend)?;
                found.extend(all.into_iter().filter(|c| c.created_at >= since));
            }
        }
        found.sort_by_key(|c| c.created_at);
        Ok(found)
    }

    async fn orders_by_ref(
        &self,
        company_id: &str,
        party: Role,
        order_ref: &str,
    ) -> Result<Vec<Order>, StoreError> {
        self.orders_by_ref_item(keys::order_ref(party.into(), company_id, order_ref))
            .await
    }

    /// The seller's `REF#P` look-up items (written with the order whenever
    /// it has a buyer's order ref): one Query, then the orders.
    async fn seller_orders_by_po(
        &self,
        seller_id: &str,
        po: &str,
    ) -> Result<Vec<Order>, StoreError> {
        self.orders_by_ref_item(keys::order_ref(RefKind::SellerPo, seller_id, po))
            .await
    }

    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.get(key(keys::order(id), keys::ORDER_SK))
            .await?
            .map(|i| record_of(i).map(|r| r.order))
            .transpose()
    }

    async fn order_record(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.get(key(keys::order(id), keys::ORDER_SK))
            .await?
            .map(record_of)
            .transpose()
    }

    /// The company's listing items, newest first and filtered on the
    /// status in the Query, then the orders (with their cancellations) in
    /// one BatchGetItem: two calls for any page.
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
        let mut ids = self
            .listed(company_id, filter, limit.saturating_add(1), after)
            .await?;
        let more = ids.len() > limit;
        ids.truncate(limit);
        Ok(OrderPage::new(self.records(&ids).await?, more))
    }

    async fn score_rows(
        &self,
        company_id: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<domain::scorecard::DayCounts>, StoreError> {
        self.score_query(company_id, from, to).await
    }

    async fn all_score_rows(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<domain::scorecard::DayCounts>, StoreError> {
        self.score_scan(from, to).await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.commit_with_token(
            commit,
            &ulid::Ulid::generate().to_string(),
            Utc::now().timestamp(),
        )
        .await
    }
}

impl Companies for DynamoStore {
    /// Replaces the stored company whatever it holds (`change_company`
    /// with a change that ignores it).
    async fn put_company(&self, company: &Company) -> Result<(), StoreError> {
        let written = self
            .change_company_item(&company.id, |_| {
                Ok::<_, std::convert::Infallible>(CompanyWrite::Put(Box::new(company.clone()), ()))
            })
            .await?;
        match written {
            Ok(()) => Ok(()),
            Err(never) => match never {},
        }
    }

    /// Decided on a consistent read, written in one transaction
    /// conditioned on the revision read (`company`).
    async fn change_company<T, E, F>(&self, id: &str, change: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(Option<&Company>) -> Result<CompanyWrite<T>, E> + Send + 'static,
    {
        self.change_company_item(id, change).await
    }

    async fn company(&self, id: &str) -> Result<Option<Company>, StoreError> {
        self.get(key(keys::company(id), keys::COMPANY_SK))
            .await?
            .map(from_item)
            .transpose()
    }

    /// A Scan of the company items: an operator's command, not a request's
    /// path (it reads the whole table).
    async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        let items = self
            .scan_all(
                self.client
                    .scan()
                    .filter_expression("#type = :company AND #sk = :sk")
                    .expression_attribute_names("#type", schema::TYPE_ATTRIBUTE)
                    .expression_attribute_names("#sk", schema::SK)
                    .expression_attribute_values(":company", s(super::kinds::COMPANY))
                    .expression_attribute_values(":sk", s(keys::COMPANY_SK)),
            )
            .await?;
        let mut found = items
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Company>, _>>()?;
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
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

    async fn company_by_api_key_hash(&self, key_hash: &str) -> Result<Option<Company>, StoreError> {
        self.get(key(keys::api_key(key_hash), keys::API_KEY_SK))
            .await?
            .map(key_owner)
            .transpose()
    }
}

impl IdempotencyRecords for DynamoStore {
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
            .set_return_values_on_condition_check_failure(
                put.return_values_on_condition_check_failure,
            )
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => {
                    Err(StoreError::IdempotencyKeyExists {
                        stored: c.item().and_then(stored_record).map(Box::new),
                    })
                }
                _ => Err(sdk("PutItem", e)),
            },
        }
    }
}

impl Store for DynamoStore {
    /// The API-key item (it carries a copy of its company) and the order
    /// item in one BatchGetItem.
    async fn company_and_order(
        &self,
        key_hash: &str,
        order_id: &str,
    ) -> Result<(Option<Company>, Option<Order>), StoreError> {
        let key_pk = keys::api_key(key_hash);
        let items = self
            .batch_get(vec![
                key(key_pk.clone(), keys::API_KEY_SK),
                key(keys::order(order_id), keys::ORDER_SK),
            ])
            .await?;
        let (mut company, mut order) = (None, None);
        for item in items {
            if item.get(schema::PK).and_then(|v| v.as_s().ok()) == Some(&key_pk) {
                company = Some(key_owner(item)?);
            } else {
                order = Some(from_item(item)?);
            }
        }
        let order = order.filter(|_| company.is_some());
        Ok((company, order))
    }

    async fn order_with_notifications(
        &self,
        id: &str,
    ) -> Result<Option<(OrderRecord, Vec<LedgerEntry>)>, StoreError> {
        self.order_and_notifications(id).await
    }

    async fn notification_entries(
        &self,
        order_id: &str,
    ) -> Result<Vec<service::ledger::LedgerEntry>, StoreError> {
        service::ledger::Ledger::ledger_entries(self, order_id).await
    }
}
