//! The key layout a table records: one item, written when `create_table` makes the table
//! (and when `mqless migrate` has moved everything to v2), read by each process that is
//! not told its layout (`Environment::load` without `MQLESS_KEY_LAYOUT`). So a new table
//! is v2 for every process that shares it, and a table made before tables recorded their
//! layout stays v1, which is what its processes have always used.

use super::schema::{s, table_item_key, Item, KeyLayout};
use super::DynamoStore;
use crate::error::{StoreError, StoreErrorKind};

/// The partition key of the table's own items: not an address (no `/`), so nothing
/// reads it as an actor, and not a mailbox, reply or topic partition, so no sender's or
/// function's IAM grant reaches it.
const TABLE_PK: &str = "~table";
/// The sort key of the layout record.
const LAYOUT_SK: &str = "layout";
/// Its attribute: the layout's name (String: `v1`, `v2` or `v1-to-v2`).
const LAYOUT: &str = "kl";

fn layout_key() -> Item {
    table_item_key(TABLE_PK, LAYOUT_SK)
}

impl DynamoStore {
    /// The key layout the table records, if it records one: every table `create_table`
    /// made since MQLess recorded layouts does (the layout of the store that made it).
    /// One strongly consistent `GetItem` (one read unit).
    ///
    /// ```no_run
    /// # async fn demo(client: aws_sdk_dynamodb::Client) -> Result<(), mqless_runtime::error::StoreError> {
    /// use mqless_runtime::aws::dynamodb::{schema::KeyLayout, DynamoStore};
    /// let store = DynamoStore::new(client, "mqless");
    /// let layout = store.recorded_key_layout().await?.unwrap_or(KeyLayout::V1);
    /// let store = store.with_key_layout(layout);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When DynamoDB cannot be reached or refuses ([`StoreErrorKind::TableMissing`] when
    /// there is no table), and when the record names a layout this version does not know
    /// (a newer MQLess wrote it).
    pub async fn recorded_key_layout(&self) -> Result<Option<KeyLayout>, StoreError> {
        let Some(item) = self.get(layout_key()).await? else {
            return Ok(None);
        };
        let name = item
            .get(LAYOUT)
            .and_then(|value| value.as_s().ok())
            .map_or("", String::as_str);
        name.parse().map(Some).map_err(|reason| {
            StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "table `{}` records key layout {name:?} ({reason}): upgrade MQLess, or set MQLESS_KEY_LAYOUT",
                    self.table
                ),
            )
        })
    }

    /// Records `layout` as the table's, for the processes that read it
    /// ([`Environment::load`](crate::aws::Environment::load) without `MQLESS_KEY_LAYOUT`,
    /// the `mqless` command). `create_table` does this when it makes the table; call it
    /// yourself only when every process that reads the record may switch to `layout`
    /// (after a move to v2, say: `mqless migrate` records v2 once nothing is left to move).
    ///
    /// # Errors
    /// When DynamoDB cannot be reached or refuses.
    pub async fn record_key_layout(&self, layout: KeyLayout) -> Result<(), StoreError> {
        let mut item = layout_key();
        item.insert(LAYOUT.into(), s(layout.as_str()));
        self.put(item).await
    }

    /// Records `layout` as the table's unless the table records one already, and
    /// returns the layout the table records now. For a table made by a template
    /// (CloudFormation writes no items): the sweeper, told the stack's layout, records it
    /// when it starts, so that processes not told theirs go by it, not take the table
    /// for v1. A conditional put (a write unit, even when one is recorded already), and
    /// a read when one is.
    ///
    /// # Errors
    /// As [`Self::recorded_key_layout`] and [`Self::record_key_layout`].
    pub async fn record_key_layout_if_none(
        &self,
        layout: KeyLayout,
    ) -> Result<KeyLayout, StoreError> {
        let mut item = layout_key();
        item.insert(LAYOUT.into(), s(layout.as_str()));
        if self.put_if_absent(item).await? {
            return Ok(layout);
        }
        // Recorded by someone else; a record deleted between the two reads as `layout`.
        Ok(self.recorded_key_layout().await?.unwrap_or(layout))
    }
}
