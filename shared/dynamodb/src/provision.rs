//! Creating the table as `schema` describes it (local endpoints and tests;
//! in AWS the table comes from the stack).

use std::time::Duration;

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableDescription, TableStatus, TimeToLiveDescription,
    TimeToLiveSpecification, TimeToLiveStatus,
};

use super::DynamoStore;
use super::errors::{backend, sdk};
use super::schema;
use service::store::StoreError;

impl DynamoStore {
    /// Create the table as `schema` describes it, unless it exists, and wait
    /// until it is ACTIVE and TTL is on. For local
    /// endpoints; in AWS the table comes from the stack.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        match self.describe().await? {
            Some(_) => {}
            None => self.create_table().await?,
        }
        self.wait_active().await?;
        self.ensure_ttl().await
    }

    pub(super) async fn describe(&self) -> Result<Option<TableDescription>, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => Ok(out.table),
            Err(e) => match e.as_service_error() {
                Some(DescribeTableError::ResourceNotFoundException(_)) => Ok(None),
                _ => Err(sdk("DescribeTable", e)),
            },
        }
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        let string_attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(StoreError::backend)
        };
        let key_elem = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(StoreError::backend)
        };
        let request = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::from(schema::BILLING_MODE))
            .attribute_definitions(string_attr(schema::PK)?)
            .attribute_definitions(string_attr(schema::SK)?)
            .key_schema(key_elem(schema::PK, KeyType::Hash)?)
            .key_schema(key_elem(schema::SK, KeyType::Range)?)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(schema::STREAM_VIEW_TYPE))
                    .build()
                    .map_err(StoreError::backend)?,
            );
        match request.send().await {
            Ok(_) => Ok(()),
            // Created meanwhile by someone else: fine, we wait for it.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk("CreateTable", e)),
        }
    }

    async fn wait_active(&self) -> Result<(), StoreError> {
        for _ in 0..600 {
            if let Some(t) = self.describe().await?
                && t.table_status() == Some(&TableStatus::Active)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(backend(format!(
            "table {} did not become ACTIVE in 120 s",
            self.table
        )))
    }

    async fn ensure_ttl(&self) -> Result<(), StoreError> {
        let out = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| sdk("DescribeTimeToLive", e))?;
        if out.time_to_live_description().is_some_and(ttl_on) {
            return Ok(());
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(schema::TTL_ATTRIBUTE)
                    .build()
                    .map_err(StoreError::backend)?,
            )
            .send()
            .await
            .map_err(|e| sdk("UpdateTimeToLive", e))?;
        Ok(())
    }
}

/// TTL is on for our attribute: `ENABLED`, or `ENABLING`, which AWS may
/// report for up to an hour after it is turned on.
pub(super) fn ttl_on(d: &TimeToLiveDescription) -> bool {
    matches!(
        d.time_to_live_status(),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) && d.attribute_name() == Some(schema::TTL_ATTRIBUTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_being_enabled_counts_as_on() {
        let d = |status: TimeToLiveStatus, attribute: &str| {
            TimeToLiveDescription::builder()
                .time_to_live_status(status)
                .attribute_name(attribute)
                .build()
        };
        assert!(ttl_on(&d(TimeToLiveStatus::Enabled, schema::TTL_ATTRIBUTE)));
        assert!(ttl_on(&d(
            TimeToLiveStatus::Enabling,
            schema::TTL_ATTRIBUTE
        )));
        assert!(!ttl_on(&d(
            TimeToLiveStatus::Disabled,
            schema::TTL_ATTRIBUTE
        )));
        assert!(!ttl_on(&d(
            TimeToLiveStatus::Disabling,
            schema::TTL_ATTRIBUTE
        )));
        assert!(!ttl_on(&d(TimeToLiveStatus::Enabled, "other")));
        assert!(!ttl_on(&TimeToLiveDescription::builder().build()));
    }
}
