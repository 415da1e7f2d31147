//! Table administration: creating the table MQLess expects.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::schema::{
    ACTOR_INDEX, ACTOR_TYPE, DUE_INDEX, DUE_KEY, DUE_SHARD, QUARANTINE_INDEX, QUARANTINE_KEY,
    QUARANTINE_REASON, QUARANTINE_SINCE,
};
use super::{errors, DynamoStore};
use crate::error::StoreError;

/// How long `create_table` waits for a new table to be active: seconds on DynamoDB.
const TABLE_WAIT: Duration = Duration::from_secs(60);

/// How long `create_table` waits for an index it added to an existing table before
/// saying it is still being built: on a small table DynamoDB Local takes under a
/// second, DynamoDB minutes (it backfills from every item), so waiting longer would
/// rarely spare a second call.
const INDEX_WAIT: Duration = Duration::from_secs(10);

impl DynamoStore {
    /// Creates the table (keys `pk`/`sk`, on-demand billing, TTL on `ttl`, and three
    /// sparse indexes: [`ACTOR_INDEX`] lists actors by type, [`DUE_INDEX`] is what sweeps
    /// read, [`QUARANTINE_INDEX`] lists quarantined actors), waits until it is active and
    /// records this store's key layout in it ([`Self::recorded_key_layout`], which
    /// processes not told their layout go by). On an existing table it adds what is
    /// missing: TTL, so replies keep expiring, and the indexes (an older table; DynamoDB
    /// builds them one at a time, backfilling each from the existing items); it leaves
    /// the table's layout as it is.
    ///
    /// It waits up to 10 s for each index it adds; DynamoDB backfills a new index from
    /// every item (minutes on a large table), and builds one at a time.
    ///
    /// # Errors
    /// When DynamoDB cannot be reached or refuses, and when an index is still being
    /// built after that wait (or was when the call began): the error names it and the
    /// indexes that wait for it, and calling this again once it is built adds the rest.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        };
        let mut create = self
            .client
            .create_table()
            .table_name(&*self.table)
            .set_attribute_definitions(Some(attribute_definitions()?))
            .key_schema(key("pk", KeyType::Hash).map_err(errors::build_error)?)
            .key_schema(key("sk", KeyType::Range).map_err(errors::build_error)?)
            .billing_mode(BillingMode::PayPerRequest);
        for index in INDEXES {
            create = create.global_secondary_indexes(index.build()?);
        }
        match create.send().await {
            Ok(_) => {
                if !self.wait_until_active(TABLE_WAIT).await? {
                    return Err(StoreError::new(
                        crate::error::StoreErrorKind::Other,
                        format!("table `{}` was created but is not ACTIVE after {} s; run `create_table` (`mqless table create`) again once `describe-table` shows it ACTIVE, to turn TTL on", self.table, TABLE_WAIT.as_secs()),
                    ));
                }
                // Before anything else: a process that finds the table reads its
                // layout from here (v1 when there is no record). Run again, this call
                // finds the table and records nothing: say how to finish.
                self.record_key_layout(self.layout).await.map_err(|error| {
                    StoreError::new(
                        error.kind,
                        format!("table `{}` was created, but recording its key layout failed ({error}); record it with `mqless table create --key-layout {}` (`DynamoStore::record_key_layout`)", self.table, self.layout),
                    )
                })?;
                self.enable_ttl().await
            }
            // It exists: make sure replies still expire and every index is there.
            Err(error) if error.code() == Some("ResourceInUseException") => {
                self.enable_ttl().await?;
                self.add_missing_indexes().await
            }
            Err(error) => Err(errors::from_sdk(&self.table, error)),
        }
    }

    /// Whether the table has the [`ACTOR_INDEX`] (listing actors needs it).
    ///
    /// # Errors
    /// When DynamoDB cannot be reached or refuses (the table is missing, say).
    pub async fn has_actor_index(&self) -> Result<bool, StoreError> {
        Ok(self
            .missing_indexes()
            .await?
            .iter()
            .all(|name| *name != ACTOR_INDEX))
    }

    /// The indexes MQLess needs that the table lacks: listing actors needs
    /// [`ACTOR_INDEX`], sweeps [`DUE_INDEX`], listing quarantined actors
    /// [`QUARANTINE_INDEX`].
    ///
    /// # Errors
    /// When DynamoDB cannot be reached or refuses (the table is missing, say).
    pub async fn missing_indexes(&self) -> Result<Vec<&'static str>, StoreError> {
        let table = self.describe().await?;
        let present: Vec<&str> = table
            .as_ref()
            .map(|table| {
                table
                    .global_secondary_indexes()
                    .iter()
                    .filter_map(|index| index.index_name())
                    .collect()
            })
            .unwrap_or_default();
        Ok(INDEXES
            .iter()
            .map(|index| index.name)
            .filter(|name| !present.contains(name))
            .collect())
    }

    /// Adds the missing indexes, one at a time (DynamoDB builds one per update), waiting
    /// [`INDEX_WAIT`] for each; an index still being built ends the call with
    /// [`Self::still_building`], as the next cannot be added before it is done.
    async fn add_missing_indexes(&self) -> Result<(), StoreError> {
        let missing = self.missing_indexes().await?;
        if missing.is_empty() {
            return Ok(());
        }
        if let Some(building) = self.index_in_progress().await? {
            return Err(self.still_building(&building, &missing));
        }
        for (added, name) in missing.iter().enumerate() {
            let Some(index) = INDEXES.iter().find(|index| index.name == *name) else {
                continue;
            };
            if !self.add_index(index).await? {
                // Another process is adding one right now: the next call adds the rest.
                return Ok(());
            }
            if !self.wait_until_active(INDEX_WAIT).await? {
                return Err(self.still_building(name, &missing[added + 1..]));
            }
        }
        Ok(())
    }

    /// Asks DynamoDB to build `index`: `false` when another update of the table is in
    /// progress (another process adding an index).
    async fn add_index(&self, index: &Index) -> Result<bool, StoreError> {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.name)
            .set_key_schema(Some(index.keys()?))
            .projection(index.projection())
            .build()
            .map_err(errors::build_error)?;
        // DynamoDB says it is still building one for a while after the last is reported
        // active: a few seconds at most, then the build in progress is named.
        for _ in 0..25 {
            let added = self
                .client
                .update_table()
                .table_name(&*self.table)
                .set_attribute_definitions(Some(attribute_definitions()?))
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder()
                        .create(create.clone())
                        .build(),
                )
                .send()
                .await;
            match added {
                Ok(_) => return Ok(true),
                Err(error) if error.code() == Some("LimitExceededException") => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) if error.code() == Some("ResourceInUseException") => return Ok(false),
                Err(error) => return Err(errors::from_sdk(&self.table, error)),
            }
        }
        let building = self.index_in_progress().await?;
        Err(self.still_building(building.as_deref().unwrap_or("another"), &[index.name]))
    }

    /// The index DynamoDB is building, if any.
    async fn index_in_progress(&self) -> Result<Option<String>, StoreError> {
        Ok(self.describe().await?.and_then(|table| {
            table
                .global_secondary_indexes()
                .iter()
                .find(|index| index.index_status() != Some(&IndexStatus::Active))
                .and_then(|index| index.index_name().map(str::to_owned))
        }))
    }

    /// The answer while DynamoDB builds `building` and `waiting` cannot be added yet.
    fn still_building(&self, building: &str, waiting: &[&str]) -> StoreError {
        let waiting = match waiting {
            [] => String::new(),
            names => format!(
                ", so {} cannot be added yet",
                names
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        StoreError::new(
            crate::error::StoreErrorKind::Other,
            format!("DynamoDB is still building an index of table `{}` (`{building}`: it backfills a new index from the existing items, which can take minutes){waiting}; run `create_table` (`mqless table create`) again once `describe-table` shows every index ACTIVE", self.table),
        )
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

    /// Waits up to `limit` until the table and its indexes are active (an index added
    /// to an existing table is backfilled first): whether they are.
    async fn wait_until_active(&self, limit: Duration) -> Result<bool, StoreError> {
        let poll = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        loop {
            let active = self.describe().await?.is_some_and(|table| {
                table.table_status() == Some(&TableStatus::Active)
                    && table
                        .global_secondary_indexes()
                        .iter()
                        .all(|index| index.index_status() == Some(&IndexStatus::Active))
            });
            if active || waited >= limit {
                return Ok(active);
            }
            tokio::time::sleep(poll).await;
            waited += poll;
        }
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

/// One of the table's global secondary indexes: all sparse (only the items that carry
/// their partition key attribute are in them).
struct Index {
    name: &'static str,
    partition: &'static str,
    sort: &'static str,
    /// Attributes projected besides the keys (none: keys only).
    include: &'static [&'static str],
}

/// The indexes MQLess reads:
/// - [`ACTOR_INDEX`]: the actor type, then the address, so a type's actors list in
///   address order; written once, by an actor's first commit;
/// - [`DUE_INDEX`]: a shard, then the entry key (due time first), as sweeps read it;
/// - [`QUARANTINE_INDEX`]: one partition, then the address, with the reason and time.
const INDEXES: [Index; 3] = [
    Index {
        name: ACTOR_INDEX,
        partition: ACTOR_TYPE,
        sort: "pk",
        include: &[],
    },
    Index {
        name: DUE_INDEX,
        partition: DUE_SHARD,
        sort: DUE_KEY,
        include: &[],
    },
    Index {
        name: QUARANTINE_INDEX,
        partition: QUARANTINE_KEY,
        sort: "pk",
        include: &[QUARANTINE_REASON, QUARANTINE_SINCE],
    },
];

impl Index {
    fn keys(&self) -> Result<Vec<KeySchemaElement>, StoreError> {
        [(self.partition, KeyType::Hash), (self.sort, KeyType::Range)]
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

    /// Keys only, unless it must answer more than "which actors".
    fn projection(&self) -> Projection {
        if self.include.is_empty() {
            return Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build();
        }
        Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(self.include.iter().map(|a| (*a).to_owned()).collect()))
            .build()
    }

    fn build(&self) -> Result<GlobalSecondaryIndex, StoreError> {
        GlobalSecondaryIndex::builder()
            .index_name(self.name)
            .set_key_schema(Some(self.keys()?))
            .projection(self.projection())
            .build()
            .map_err(errors::build_error)
    }
}

/// Every key attribute of the table and its indexes: all strings.
fn attribute_definitions() -> Result<Vec<AttributeDefinition>, StoreError> {
    ["pk", "sk", ACTOR_TYPE, DUE_SHARD, DUE_KEY, QUARANTINE_KEY]
        .into_iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(errors::build_error)
        })
        .collect()
}
