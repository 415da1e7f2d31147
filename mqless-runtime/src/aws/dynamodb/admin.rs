//! Table administration: creating the table MQLess expects.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};

use super::{errors, DynamoStore};
use crate::error::StoreError;

impl DynamoStore {
    /// Creates the table (keys `pk`/`sk`, on-demand billing, TTL on `ttl`) and waits
    /// until it is active. An existing table is left as is.
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
            Ok(_) => {}
            Err(error) if error.code() == Some("ResourceInUseException") => return Ok(()),
            Err(error) => return Err(errors::from_sdk(&self.table, error)),
        }
        for _ in 0..600 {
            let described = self
                .client
                .describe_table()
                .table_name(&*self.table)
                .send()
                .await
                .map_err(|e| errors::from_sdk(&self.table, e))?;
            let active = described
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| *s == TableStatus::Active);
            if active {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("ttl")
            .build()
            .map_err(errors::build_error)?;
        self.client
            .update_time_to_live()
            .table_name(&*self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| errors::from_sdk(&self.table, e))?;
        Ok(())
    }
}
