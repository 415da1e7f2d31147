//! What sweeps and operators read to find actors: the due index (a `Query` per shard
//! page), marks, the sweep's cursor, the `quarantined` index, and the audit's full scan.

use aws_sdk_dynamodb::types::ReturnConsumedCapacity;

use super::schema::{
    due_shard, message_key, record_from, s, table_item_key, Item, DUE_INDEX, DUE_KEY, DUE_SHARD,
    MESSAGE, QUARANTINED, QUARANTINE_INDEX, QUARANTINE_KEY,
};
use super::DynamoStore;
use crate::error::StoreError;
use crate::id::{Address, MessageId};
use crate::store::due::{self, DueEntry};
use crate::store::record::Transition;
use crate::store::QuarantineRecord;

/// The partition key of the item that holds the sweep's cursor: not an address (no
/// `/`), so nothing else ever reads it as an actor.
const SWEEPER_PK: &str = "~sweeper";
/// Its sort key.
const CURSOR_SK: &str = "cursor";

fn cursor_key() -> Item {
    table_item_key(SWEEPER_PK, CURSOR_SK)
}

impl DynamoStore {
    pub(super) async fn arm_record(&self, address: &Address, at: u64) -> Result<(), StoreError> {
        // Keys compare as text in time order: an earlier mark stays.
        let transition = Transition::arm(at);
        let result = self.transition(address, &transition).send().await;
        // `None`: marked for as early or earlier already.
        self.counted_if(result).map(drop)
    }

    /// Puts queued message `id` in the due index at `at` (see `Store::mark_message`): an
    /// update of the mailbox item's index attributes only, conditioned on the item
    /// (`pk`) being there and not due earlier, so a consumed message is not brought back.
    pub(super) async fn mark_message_item(
        &self,
        address: &Address,
        id: MessageId,
        at: u64,
    ) -> Result<(), StoreError> {
        let entry = due::entry_key(at, address, &format!("{MESSAGE}{id}"));
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(message_key(self.layout, address, id)))
            .update_expression("SET #dsh = :dsh, #dk = :dk")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#dk) OR #dk > :dk)",
            )
            .expression_attribute_names("#dsh", DUE_SHARD)
            .expression_attribute_names("#dk", DUE_KEY)
            .expression_attribute_values(":dsh", due_shard(address))
            .expression_attribute_values(":dk", s(entry))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        // `None`: consumed already, or due as early or earlier.
        self.counted_if(result).map(drop)
    }

    pub(super) async fn due_page_of(
        &self,
        shard: u16,
        after: Option<&str>,
        now: u64,
        limit: usize,
    ) -> Result<Vec<DueEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        // Every key starts with a digit; DynamoDB refuses an empty string in a key.
        let from = after.unwrap_or("0");
        // The key condition is inclusive: an entry equal to `after` is dropped below.
        let bound = due::key_bound(now);
        loop {
            let want = i32::try_from(limit - entries.len()).unwrap_or(i32::MAX);
            let out = self.counted(
                self.client
                    .query()
                    .table_name(&*self.table)
                    .index_name(DUE_INDEX)
                    .key_condition_expression("#dsh = :dsh AND #dk BETWEEN :from AND :to")
                    .expression_attribute_names("#dsh", DUE_SHARD)
                    .expression_attribute_names("#dk", DUE_KEY)
                    .expression_attribute_values(":dsh", s(format!("{shard:02}")))
                    .expression_attribute_values(":from", s(from))
                    .expression_attribute_values(":to", s(bound.clone()))
                    .limit(want.saturating_add(1))
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await,
            )?;
            for item in out.items() {
                let key = item.get(DUE_KEY).and_then(|v| v.as_s().ok());
                let pk = item.get("pk").and_then(|v| v.as_s().ok());
                // A scheduled message's mailbox (in this layout: one in the other is
                // never drained, so never woken for), or a marked record's partition.
                let sk = item.get("sk").and_then(|v| v.as_s().ok());
                let owner = pk.and_then(|pk| match sk {
                    Some(sk) if sk.starts_with(MESSAGE) => self.layout.mailbox_owner(pk),
                    _ => Address::parse(pk).ok(),
                });
                match (key, owner) {
                    (Some(key), _) if after == Some(key.as_str()) => {}
                    (Some(key), Some(address)) if entries.len() < limit => {
                        entries.push(DueEntry {
                            key: key.clone(),
                            address,
                        });
                    }
                    (Some(_), Some(_)) => {}
                    // Not written by MQLess: nothing to wake.
                    _ => tracing::warn!(
                        ?pk,
                        "the sweep skips a due-index entry that is not an actor's"
                    ),
                }
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() || entries.len() >= limit {
                return Ok(entries);
            }
        }
    }

    pub(super) async fn load_sweep_cursor(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .get(cursor_key())
            .await?
            .and_then(|item| item.get(CURSOR_SK).and_then(|v| v.as_s().ok()).cloned()))
    }

    pub(super) async fn store_sweep_cursor(&self, cursor: Option<&str>) -> Result<(), StoreError> {
        match cursor {
            Some(cursor) => {
                let mut item = cursor_key();
                item.insert(CURSOR_SK.into(), s(cursor));
                self.put(item).await?;
            }
            None => {
                self.delete_existing(cursor_key()).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn quarantined_of(
        &self,
    ) -> Result<Vec<(Address, QuarantineRecord)>, StoreError> {
        let mut quarantined = Vec::new();
        let mut start = None;
        loop {
            let out = self.counted(
                self.client
                    .query()
                    .table_name(&*self.table)
                    .index_name(QUARANTINE_INDEX)
                    .key_condition_expression("#qix = :q")
                    .expression_attribute_names("#qix", QUARANTINE_KEY)
                    .expression_attribute_values(":q", s(QUARANTINED))
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await,
            )?;
            for item in out.items() {
                let pk = item.get("pk").and_then(|v| v.as_s().ok());
                let address = pk.map(|pk| Address::parse(pk));
                if let (Some(Ok(address)), Some(quarantine)) =
                    (address, record_from(item)?.quarantine)
                {
                    quarantined.push((address, quarantine));
                }
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                // The index's sort key is the address: already in order.
                return Ok(quarantined);
            }
        }
    }

    /// The audit's scan: every actor with a queued message due at `now`.
    pub(super) async fn pending_of(&self, now: u64) -> Result<Vec<Address>, StoreError> {
        let mut pending = std::collections::BTreeSet::new();
        let mut start = None;
        loop {
            let out = self.counted(
                self.client
                    .scan()
                    .table_name(&*self.table)
                    .filter_expression("begins_with(sk, :message)")
                    .expression_attribute_values(":message", s(MESSAGE))
                    // The scan reads whole items either way; `env` tells a scheduled
                    // message that is not due yet.
                    .projection_expression("pk, sk, env")
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await,
            )?;
            for item in out.items() {
                if let Ok(message) = super::schema::mailbox_item(item) {
                    if crate::store::waits(message.id, &message.envelope, now) {
                        continue;
                    }
                }
                let pk = item.get("pk").and_then(|v| v.as_s().ok());
                match pk.and_then(|pk| self.layout.mailbox_owner(pk)) {
                    Some(address) => {
                        pending.insert(address);
                    }
                    // Not a mailbox of this layout: nothing to wake (its drains never
                    // read it), and no reason to stop the audit of every other actor.
                    None => tracing::error!(
                        ?pk,
                        layout = %self.layout,
                        expected = self.layout.mailbox_pattern(),
                        "the audit skips a queued item outside this key layout's mailboxes, which no drain reads: something wrote it past MQLess, or a process writes the table in the other key layout (give every function and client the same MQLESS_KEY_LAYOUT)"
                    ),
                }
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(pending.into_iter().collect());
            }
        }
    }
}
