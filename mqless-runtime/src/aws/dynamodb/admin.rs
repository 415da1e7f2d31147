//! Table administration: creating the table MQLess expects.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};

use super::{errors, DynamoStore};
use crate::error::StoreError;

impl DynamoStore {
    /// Creates the table (keys `pk`/`sk`, on-demand billing, TTL on `ttl`) and waits
    /// until it is active. On an existing table it only turns TTL on if it is off, so
    /// replies keep expiring.
    ///
    /// # Errors
    /// When DynamoDB cannot be reached or refuses.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        };
        let created = self
            .client
            .create_table()
            .table_name(&*self.table)
            .attribute_definitions(attribute("pk").map_err(errors::build_error)?)
            .attribute_definitions(attribute("sk").map_err(errors::build_error)?)
            .key_schema(key("pk", KeyType::Hash).map_err(errors::build_error)?)
            .key_schema(key("sk", KeyType::Range).map_err(errors::build_error)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => self.wait_until_active().await?,
            // It exists: make sure replies still expire (TTL on `ttl`).
            Err(error) if error.code() == Some("ResourceInUseException") => {}
            Err(error) => return Err(errors::from_sdk(&self.table, error)),
        }
        self.enable_ttl().await
    }

    /// Whether TTL deletes expired items on attribute `ttl`, as replies need.
    ///
    /// # Errors
    /// When DynamoDB cannot be reached or refuses.
    pub async fn ttl_enabled(&self) -> Result<bool, StoreError> {
        let described = self.admin(
            self.client
                .describe_time_to_live()
                .table_name(&*self.table)
                .send()
                .await,
        )?;
        Ok(described.time_to_live_description().is_some_and(|ttl| {
            ttl.attribute_name() == Some("ttl")
                && matches!(
                    ttl.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                )
        }))
    }

    async fn wait_until_active(&self) -> Result<(), StoreError> {
        for _ in 0..600 {
            let described = self.admin(
                self.client
                    .describe_table()
                    .table_name(&*self.table)
                    .send()
                    .await,
            )?;
            let active = described
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| *s == TableStatus::Active);
            if active {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn enable_ttl(&self) -> Result<(), StoreError> {
        if self.ttl_enabled().await? {
            return Ok(());
        }
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("ttl")
            .build()
            .map_err(errors::build_error)?;
        match self.admin(
            self.client
                .update_time_to_live()
                .table_name(&*self.table)
                .time_to_live_specification(ttl)
                .send()
                .await,
        ) {
            Ok(_) => Ok(()),
            // Another process turned it on between our check and our update.
            Err(error) if error.message.contains("already enabled") => Ok(()),
            Err(error) => Err(error),
        }
    }
}
