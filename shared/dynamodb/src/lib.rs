//! The DynamoDB store: one table, string keys `pk`/`sk`, no secondary index,
//! TTL on `expires_at`, stream `NEW_IMAGE`. An order is one item holding its
//! cancellations; a commit is one conditional UpdateItem or one
//! `TransactWriteItems`. See `docs/dynamodb.md` for the item layout, each
//! request's calls and what a cancellation costs.
//!
//! Semantics mirror the embedded store (`sqlite`) exactly; the contract
//! suite in `testkit` runs against both.

use aws_sdk_dynamodb::Client;

mod commit;
mod company;
mod edi;
mod errors;
mod events;
mod items;
mod keys;
mod kinds;
mod ledger;
mod orders;
mod provision;
pub mod schema;
mod scorecard;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod race;
#[cfg(test)]
mod tests;

/// DynamoDB-backed store. Cheap to clone (the client is shared).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: aws::OnFirstUse<Client>,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client: aws::OnFirstUse::built(client),
            table: table.into(),
        }
    }

    /// A store whose client is built from `sdk` with its first request, not
    /// at a Lambda's init (see `aws::OnFirstUse`).
    pub fn on_first_use(sdk: &aws::SdkConfig, table: impl Into<String>) -> Self {
        DynamoStore {
            client: aws::OnFirstUse::new(sdk, Client::new),
            table: table.into(),
        }
    }

    /// A store on the standard AWS environment (credentials, region, and
    /// `AWS_ENDPOINT_URL` for a local stand-in).
    pub async fn from_env(table: impl Into<String>) -> Self {
        Self::new(
            Client::new(&aws::sdk_config(&aws::Settings::from_env()).await),
            table,
        )
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}
