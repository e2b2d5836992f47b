//! Changing a company: one transaction with its API-key and shop-domain
//! look-up items, conditioned on the revision the change was decided on;
//! a lost race reads again and decides again (bounded).

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, Delete, Put, TransactWriteItem};

use super::DynamoStore;
use super::errors::{CONDITIONAL_CHECK_FAILED, TRANSACTION_CONFLICT, sdk};
use super::items::{from_item, item_of, key, n, s};
use super::keys;
use super::kinds;
use super::schema;
use domain::Company;
use service::store::{CompanyWrite, StoreError, shop_domain_of};

/// A company as stored, with the revision it was read at.
struct Stored {
    rev: u64,
    company: Company,
}

/// What a conditional write of a company came to.
enum Written {
    Yes,
    /// The company changed since it was read (or a transaction conflicted):
    /// read again and decide again.
    Raced,
}

/// The most items one `TransactWriteItems` may carry.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// How often a change to a company is decided while the company keeps
/// changing concurrently; then `CompanyChanged`.
const COMPANY_ATTEMPTS: u32 = 10;

/// A short wait before deciding again, growing, with jitter from the
/// clock so that racing writers spread out.
fn backoff(attempt: u32) -> std::time::Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos() % 20));
    let base = 10u64.saturating_mul(1 << attempt.min(5));
    std::time::Duration::from_millis(base.saturating_add(jitter))
}

impl DynamoStore {
    /// `Store::change_company`: see there.
    pub(super) async fn change_company_item<T, E, F>(
        &self,
        id: &str,
        mut change: F,
    ) -> Result<Result<T, E>, StoreError>
    where
        F: FnMut(Option<&Company>) -> Result<CompanyWrite<T>, E>,
    {
        for attempt in 0..COMPANY_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let stored = self.stored_company(id).await?;
            let (next, answer) = match change(stored.as_ref().map(|s| &s.company)) {
                Err(e) => return Ok(Err(e)),
                Ok(CompanyWrite::Unchanged(t)) => return Ok(Ok(t)),
                Ok(CompanyWrite::Put(next, t)) => (next, t),
            };
            if next.id != id {
                return Err(StoreError::Internal(format!(
                    "a change to company {id} wrote company {}",
                    next.id
                )));
            }
            match self.write_company(&next, stored.as_ref()).await? {
                Written::Yes => return Ok(Ok(answer)),
                Written::Raced => continue,
            }
        }
        Err(StoreError::CompanyChanged {
            company_id: id.to_owned(),
        })
    }

    /// The stored company and its revision.
    async fn stored_company(&self, id: &str) -> Result<Option<Stored>, StoreError> {
        let Some(item) = self.get(key(keys::company(id), keys::COMPANY_SK)).await? else {
            return Ok(None);
        };
        let rev = item
            .get("rev")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Some(Stored {
            rev,
            company: from_item(item)?,
        }))
    }

    /// One transaction: the company conditioned on the revision read (or
    /// on not existing), a put of each API-key item (refused when another
    /// company owns the key) and a delete of each key the company no longer
    /// has. Key items carry a copy of the company, so authenticating a
    /// request is one GetItem.
    async fn write_company(
        &self,
        company: &Company,
        stored: Option<&Stored>,
    ) -> Result<Written, StoreError> {
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
        // Endpoints change only through `change_endpoints`: kept (the
        // revision check sees a change to them meanwhile).
        let company = &Company {
            webhook_endpoints: stored
                .map(|s| s.company.webhook_endpoints.clone())
                .unwrap_or_default(),
            ..company.clone()
        };
        let old_hashes: Vec<&str> = stored
            .map(|s| s.company.key_hashes().collect())
            .unwrap_or_default();
        let stale: Vec<&str> = old_hashes
            .into_iter()
            .filter(|h| !hashes.contains(h))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if 3 + hashes.len() + stale.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooManyApiKeys {
                company_id: company.id.clone(),
            });
        }
        let old_domain = stored.and_then(|s| shop_domain_of(&s.company));
        let domain = shop_domain_of(company);
        let (items, shop_slot) = self.company_items(
            company,
            &hashes,
            &stale,
            stored.map(|s| s.rev),
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
            Ok(_) => return Ok(Written::Yes),
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
        let raced = reasons.iter().any(|r| {
            matches!(
                r.code(),
                Some(CONDITIONAL_CHECK_FAILED) | Some(TRANSACTION_CONFLICT)
            )
        });
        if raced {
            Ok(Written::Raced)
        } else {
            Err(sdk("TransactWriteItems", err))
        }
    }

    /// The transaction's members, and the index of the shop-domain put.
    fn company_items(
        &self,
        company: &Company,
        hashes: &[&str],
        stale: &[&str],
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
