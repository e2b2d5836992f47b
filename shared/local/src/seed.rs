//! Seed files (docs/api.md): companies with plain API keys (stored
//! hashed) and orders with fixed ids. Applying the same seed twice changes
//! nothing.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use domain::{self, Company, Connection, Integration, NewLine, NewOrder, Role};
use service::app::{hash_api_key, now};
use service::store::{Commit, Store, StoreError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub companies: Vec<SeedCompany>,
    #[serde(default)]
    pub orders: Vec<SeedOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCompany {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub integration: Integration,
    pub email: String,
    #[serde(default)]
    pub api_keys: Vec<String>,
    #[serde(default)]
    pub connection: Option<Connection>,
    /// An EDI company's interchange id.
    #[serde(default)]
    pub edi: Option<domain::EdiIdentity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrder {
    pub id: String,
    pub buyer_id: String,
    pub seller_id: String,
    #[serde(default)]
    pub buyer_order_ref: Option<String>,
    #[serde(default)]
    pub seller_order_ref: Option<String>,
    /// Optional, so that a seed can lay out a history; defaults to now.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    pub line_items: Vec<SeedLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedLine {
    pub id: String,
    pub sku: String,
    #[serde(default)]
    pub title: Option<String>,
    pub quantity: i64,
    #[serde(default)]
    pub unit_price: Option<String>,
    #[serde(default)]
    pub buyer_line_ref: Option<String>,
    #[serde(default)]
    pub seller_line_ref: Option<String>,
}

#[derive(Debug, Error)]
pub enum SeedError {
    #[error("seed file is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("order {order}: {reason}")]
    InvalidOrder { order: String, reason: String },
    #[error("company {company}: {refusal}")]
    InvalidConnection {
        company: String,
        refusal: domain::transport::TransportRefusal,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What applying a seed did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub companies: usize,
    pub orders_created: usize,
    pub orders_existing: usize,
}

impl SeedFile {
    pub fn parse(text: &str) -> Result<Self, SeedError> {
        Ok(serde_json::from_str(text)?)
    }
}

impl SeedCompany {
    pub fn to_company(&self) -> Company {
        Company {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role,
            integration: self.integration,
            email: self.email.clone(),
            api_keys: self
                .api_keys
                .iter()
                .map(|k| domain::ApiKey::from_hash(hash_api_key(k), None))
                .collect(),
            connection: self.connection.clone(),
            webhook_endpoints: Vec::new(),
            edi: self.edi.clone(),
        }
    }
}

/// Apply a seed: upsert its companies, create its orders unless they exist.
pub async fn apply<S: Store>(store: &S, seed: &SeedFile) -> Result<SeedReport, SeedError> {
    let mut report = SeedReport::default();
    // Every company is checked before any is written.
    for c in &seed.companies {
        if let Some(conn) = &c.connection {
            conn.check_transport(c.integration).map_err(|refusal| {
                SeedError::InvalidConnection {
                    company: c.id.clone(),
                    refusal,
                }
            })?;
        }
    }
    for c in &seed.companies {
        store.put_company(&c.to_company()).await?;
        report.companies += 1;
    }
    for o in &seed.orders {
        let invalid = |reason: String| SeedError::InvalidOrder {
            order: o.id.clone(),
            reason,
        };
        let buyer = store
            .company(&o.buyer_id)
            .await?
            .ok_or_else(|| invalid(format!("unknown buyer {}", o.buyer_id)))?;
        let seller = store
            .company(&o.seller_id)
            .await?
            .filter(|s| s.role == Role::Seller)
            .ok_or_else(|| invalid(format!("unknown seller {}", o.seller_id)))?;
        let request = NewOrder {
            buyer_order_ref: o.buyer_order_ref.clone(),
            seller_order_ref: o.seller_order_ref.clone(),
            line_items: o
                .line_items
                .iter()
                .map(|l| NewLine {
                    id: l.id.clone(),
                    sku: l.sku.clone(),
                    title: l.title.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price.clone(),
                    buyer_line_ref: l.buyer_line_ref.clone(),
                    seller_line_ref: l.seller_line_ref.clone(),
                })
                .collect(),
        };
        let at = o.created_at.unwrap_or_else(now);
        let order = domain::create_order(&buyer, &seller, request, o.id.clone(), at)
            .map_err(|e| invalid(e.to_string()))?;
        match store.commit(&Commit::create(order)).await {
            Ok(()) => report.orders_created += 1,
            Err(StoreError::OrderExists) => report.orders_existing += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}
