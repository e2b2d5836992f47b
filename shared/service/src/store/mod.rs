//! The store port: what the application needs from persistence, and nothing
//! more, in roles (`Orders`, `Companies`, `IdempotencyRecords`, the event
//! log `WebhookStore`, EDI's `SentDocuments`, and the notification ledger in
//! `ledger`), so a use case, a decorator or a fake
//! deals with the roles it touches only. `Store` is all of them, with the
//! reads that span roles (one round trip where a store can). Implementations:
//! the SQLite store (local) and the DynamoDB store (AWS).

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use domain::{Company, Order};

mod companies;
mod events;
mod idempotency;
mod orders;
mod sent_documents;
mod wraps;

pub use crate::error::StoreError;
pub use crate::records::IdempotencyRecord;
pub use companies::{Companies, CompanyWrite};
pub use events::{EventRecord, Recorded, WebhookStore};
pub use idempotency::IdempotencyRecords;
pub(crate) use orders::as_of;
pub use orders::{
    Commit, Decided, DeliveryRecord, OrderCursor, OrderPage, OrderRecord, OrderRefs, Orders,
    StatusFilter,
};
pub use sent_documents::{AckState, SentDocument, SentDocuments};
pub use wraps::{
    PassCompanies, PassEvents, PassIdempotency, PassLedger, PassOrders, PassStore, Wraps,
};

/// A boxed future of a port's answer (for ports held as trait objects).
pub type Pending<'a, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>;

/// How every store keeps a time: RFC 3339 in UTC to the microsecond, so
/// stored times sort as strings and read back exactly.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The shop domain a Shopify company is found by (lower case).
pub fn shop_domain_of(c: &Company) -> Option<String> {
    c.connection
        .as_ref()
        .and_then(|k| k.shop_domain.as_deref())
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// The whole store, as hosts hold it: every role, and the reads that span
/// roles.
pub trait Store: Orders + Companies + IdempotencyRecords {
    /// The company owning an API key and an order, read together (one
    /// round trip where the store can): authorising is then done in memory.
    /// The order is `None` when there is no company.
    fn company_and_order(
        &self,
        key_hash: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<(Option<Company>, Option<Order>), StoreError>> + Send {
        async move {
            let Some(company) = self.company_by_api_key_hash(key_hash).await? else {
                return Ok((None, None));
            };
            Ok((Some(company), self.order(order_id).await?))
        }
    }

    /// The order with its cancellations and their notification ledger
    /// records (one round trip where the store can).
    fn order_with_notifications(
        &self,
        id: &str,
    ) -> impl Future<
        Output = Result<Option<(OrderRecord, Vec<crate::ledger::LedgerEntry>)>, StoreError>,
    > + Send {
        async move {
            let Some(record) = self.order_record(id).await? else {
                return Ok(None);
            };
            let entries = self.notification_entries(id).await?;
            Ok(Some((record, entries)))
        }
    }

    /// The notification ledger records of an order's cancellations, for
    /// clients (`views::CancellationView`). Stores that keep no ledger have
    /// none.
    fn notification_entries(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Vec<crate::ledger::LedgerEntry>, StoreError>> + Send {
        let _ = order_id;
        async { Ok(Vec::new()) }
    }
}
