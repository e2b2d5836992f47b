//! Storing a company: one transaction with its API-key and shop-domain
//! look-up items, retried while the company changes concurrently.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, Delete, Put, TransactWriteItem};

use super::DynamoStore;
use super::errors::{CONDITIONAL_CHECK_FAILED, TRANSACTION_CONFLICT, backend, sdk};
use super::items::{from_item, item_of, key, n, s};
use super::keys;
use super::kinds;
use super::schema;
use domain::Company;
use service::store::{StoreError, shop_domain_of};

/// A stored company's revision, API-key hashes, shop domain, endpoints.
type StoredCompany = (
    Option<u64>,
    Vec<String>,
    Option<String>,
    Vec<domain::webhooks::WebhookEndpoint>,
);

/// The most items one `TransactWriteItems` may carry.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// How often `put_company` retries after a concurrent change of the same company.
const PUT_COMPANY_ATTEMPTS: usize = 5;

impl DynamoStore {
    /// `Store::put_company`: see there.
    pub(super) async fn write_company(&self, company: &Company) -> Result<(), StoreError> {
        // The table never holds a platform secret: they go to the secret
        // store (`service::secrets::WithSecrets`), never here by mistake.
        if company
            .connection
            .as_ref()
            .is_some_and(|c| !c.secrets().is_empty())
        {
            return Err(StoreError::Internal(format!(
                "company {} carries secrets; they belong in the secret store, not the table",
                company.id
            )));
        }
        let mut hashes: Vec<&str> = Vec::new();
        for h in company.key_hashes() {
            if !hashes.contains(&h) {
                hashes.push(h);
            }
        }
        for _ in 0..PUT_COMPANY_ATTEMPTS {
            let (old_rev, old_hashes, old_domain, endpoints) =
                self.stored_company(&company.id).await?;
            // Endpoints change only through `change_endpoints`: kept (the
            // revision check sees a change to them meanwhile).
            let company = &Company {
                webhook_endpoints: endpoints,
                ..company.clone()
            };
            let domain = shop_domain_of(company);
            let stale: Vec<&String> = old_hashes
                .iter()
                .filter(|h| !hashes.contains(&h.as_str()))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if 3 + hashes.len() + stale.len() > MAX_TRANSACTION_ITEMS {
                return Err(StoreError::TooManyApiKeys {
                    company_id: company.id.clone(),
                });
            }
            let (items, shop_slot) = self.company_items(
                company,
                &hashes,
                &stale,
                old_rev,
                old_domain.as_deref(),
                domain.as_deref(),
            )?;
            let err = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
                err.as_service_error()
            else {
                return Err(sdk("TransactWriteItems", err));
            };
            let reasons = tce.cancellation_reasons();
            if let Some(refused) = company_refusal(company, reasons, hashes.len(), shop_slot) {
                return Err(refused);
            }
            let retry = reasons.iter().any(|r| {
                matches!(
                    r.code(),
                    Some(CONDITIONAL_CHECK_FAILED) | Some(TRANSACTION_CONFLICT)
                )
            });
            if !retry {
                return Err(sdk("TransactWriteItems", err));
            }
        }
        Err(backend(format!(
            "company {} kept changing while it was being stored",
            company.id
        )))
    }

    /// The stored company's revision, API-key hashes, shop domain and
    /// webhook endpoints.
    async fn stored_company(&self, id: &str) -> Result<StoredCompany, StoreError> {
        let old = self.get(key(keys::company(id), keys::COMPANY_SK)).await?;
        let (old_rev, old_hashes, old_domain, endpoints): StoredCompany = match old {
            Some(item) => {
                let rev = item
                    .get("rev")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let old: Company = from_item(item)?;
                let domain = shop_domain_of(&old);
                let hashes = old.key_hashes().map(str::to_owned).collect();
                (Some(rev), hashes, domain, old.webhook_endpoints)
            }
            None => (None, Vec::new(), None, Vec::new()),
        };
        Ok((old_rev, old_hashes, old_domain, endpoints))
    }

    /// The transaction's members, and the index of the shop-domain put.
    fn company_items(
        &self,
        company: &Company,
        hashes: &[&str],
        stale: &[&String],
        old_rev: Option<u64>,
        old_domain: Option<&str>,
        domain: Option<&str>,
    ) -> Result<(Vec<TransactWriteItem>, Option<usize>), StoreError> {
        let mut items = vec![self.company_put(company, old_rev)?];
        // Copies authenticate and route; endpoints are read from the
        // company item alone, so copies never hold stale ones.
        let bare = Company {
            webhook_endpoints: Vec::new(),
            ..company.clone()
        };
        let copy = serde_dynamo::to_attribute_value::<_, AttributeValue>(&bare)
            .map_err(StoreError::backend)?;
        // A look-up item holding a copy of the company, refused when
        // another company owns it.
        let owned = |pk: String, sk: &str, kind: &str| -> Result<TransactWriteItem, StoreError> {
            let item = HashMap::from([
                (schema::PK.to_owned(), s(pk)),
                (schema::SK.to_owned(), s(sk)),
                (schema::TYPE_ATTRIBUTE.to_owned(), s(kind)),
                ("company_id".to_owned(), s(&company.id)),
                ("company".to_owned(), copy.clone()),
            ]);
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk) OR #owner = :owner")
                .expression_attribute_names("#pk", schema::PK)
                .expression_attribute_names("#owner", "company_id")
                .expression_attribute_values(":owner", s(&company.id))
                .build()
                .map_err(StoreError::backend)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        for h in hashes {
            items.push(owned(keys::api_key(h), keys::API_KEY_SK, kinds::API_KEY)?);
        }
        // The shop-domain look-up item follows the key items.
        let shop_slot = domain.map(|_| 1 + hashes.len());
        if let Some(d) = domain {
            items.push(owned(keys::shop(d), keys::SHOP_SK, kinds::SHOP)?);
        }
        if let Some(old) = old_domain.filter(|o| Some(*o) != domain) {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::shop(old), keys::SHOP_SK)))
                .condition_expression("attribute_not_exists(#pk) OR #owner = :owner")
                .expression_attribute_names("#pk", schema::PK)
                .expression_attribute_names("#owner", "company_id")
                .expression_attribute_values(":owner", s(&company.id))
                .build()
                .map_err(StoreError::backend)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        for h in stale {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::api_key(h), keys::API_KEY_SK)))
                .build()
                .map_err(StoreError::backend)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        Ok((items, shop_slot))
    }

    /// The company item, conditioned on the revision read.
    fn company_put(
        &self,
        company: &Company,
        old_rev: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let rev = old_rev.map_or(1, |r| r + 1);
        let company_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item_of(
                company,
                [
                    (schema::PK, s(keys::company(&company.id))),
                    (schema::SK, s(keys::COMPANY_SK)),
                    (schema::TYPE_ATTRIBUTE, s(kinds::COMPANY)),
                    ("rev", n(rev)),
                ],
            )?));
        let company_put = match old_rev {
            None => company_put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", schema::PK),
            Some(r) => company_put
                .condition_expression("#rev = :rev")
                .expression_attribute_names("#rev", "rev")
                .expression_attribute_values(":rev", n(r)),
        };
        Ok(TransactWriteItem::builder()
            .put(company_put.build().map_err(StoreError::backend)?)
            .build())
    }
}

/// The refusal a cancelled company transaction stands for, if any: a key
/// or the shop domain owned by another company.
fn company_refusal(
    company: &Company,
    reasons: &[CancellationReason],
    key_count: usize,
    shop_slot: Option<usize>,
) -> Option<StoreError> {
    // Members 1..=key_count are the key puts.
    let key_taken = reasons
        .iter()
        .skip(1)
        .take(key_count)
        .any(|r| r.code() == Some(CONDITIONAL_CHECK_FAILED));
    if key_taken {
        return Some(StoreError::ApiKeyTaken {
            company_id: company.id.clone(),
        });
    }
    let shop_taken = shop_slot
        .and_then(|i| reasons.get(i))
        .is_some_and(|r| r.code() == Some(CONDITIONAL_CHECK_FAILED));
    if shop_taken {
        return Some(StoreError::ShopDomainTaken {
            company_id: company.id.clone(),
        });
    }
    None
}
