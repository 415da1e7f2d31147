//! Table administration: creating the table MQLess expects.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::schema::{ACTOR_INDEX, ACTOR_TYPE};
use super::{errors, DynamoStore};
use crate::error::StoreError;

impl DynamoStore {
    /// Creates the table (keys `pk`/`sk`, on-demand billing, TTL on `ttl`, the keys-only
    /// [`ACTOR_INDEX`] that lists actors by type) and waits until it is active. On an
    /// existing table it adds what is missing: TTL, so replies keep expiring, and the
    /// index (an older table; DynamoDB backfills it from the `#state` records).
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
            .attribute_definitions(attribute(ACTOR_TYPE).map_err(errors::build_error)?)
            .global_secondary_indexes(actor_index()?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => self.wait_until_active().await?,
            // It exists: make sure replies still expire and actors can be listed.
            Err(error) if error.code() == Some("ResourceInUseException") => {
                self.add_actor_index().await?;
            }
            Err(error) => return Err(errors::from_sdk(&self.table, error)),
        }
        self.enable_ttl().await
    }

    /// Whether the table has the [`ACTOR_INDEX`] (listing actors needs it).
    ///
    /// # Errors
    /// When DynamoDB cannot be reached or refuses (the table is missing, say).
    pub async fn has_actor_index(&self) -> Result<bool, StoreError> {
        Ok(self.describe().await?.is_some_and(|table| {
            table
                .global_secondary_indexes()
                .iter()
                .any(|index| index.index_name() == Some(ACTOR_INDEX))
        }))
    }

    async fn add_actor_index(&self) -> Result<(), StoreError> {
        if self.has_actor_index().await? {
            return Ok(());
        }
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(ACTOR_INDEX)
            .set_key_schema(Some(actor_index_keys()?))
            .projection(keys_only())
            .build()
            .map_err(errors::build_error)?;
        let added = self
            .client
            .update_table()
            .table_name(&*self.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(ACTOR_TYPE)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(errors::build_error)?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(errors::build_error)?,
            )
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await;
        match added {
            Ok(_) => self.wait_until_active().await,
            // Another process is adding it right now.
            Err(error) if error.code() == Some("ResourceInUseException") => Ok(()),
            Err(error) => Err(errors::from_sdk(&self.table, error)),
        }
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

    /// The table's description.
    async fn describe(&self) -> Result<Option<TableDescription>, StoreError> {
        let described = self.admin(
            self.client
                .describe_table()
                .table_name(&*self.table)
                .send()
                .await,
        )?;
        Ok(described.table().cloned())
    }

    /// Waits until the table and its indexes are active (an index added to an existing
    /// table is backfilled first).
    async fn wait_until_active(&self) -> Result<(), StoreError> {
        for _ in 0..600 {
            let active = self.describe().await?.is_some_and(|table| {
                table.table_status() == Some(&TableStatus::Active)
                    && table
                        .global_secondary_indexes()
                        .iter()
                        .all(|index| index.index_status() == Some(&IndexStatus::Active))
            });
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

/// The index's keys: the actor type, then the address, so a type's actors list in
/// address order.
fn actor_index_keys() -> Result<Vec<KeySchemaElement>, StoreError> {
    [(ACTOR_TYPE, KeyType::Hash), ("pk", KeyType::Range)]
        .into_iter()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(errors::build_error)
        })
        .collect()
}

/// Keys only: the index answers "which actors", and nothing else is written to it.
fn keys_only() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::KeysOnly)
        .build()
}

fn actor_index() -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(ACTOR_INDEX)
        .set_key_schema(Some(actor_index_keys()?))
        .projection(keys_only())
        .build()
        .map_err(errors::build_error)
}
