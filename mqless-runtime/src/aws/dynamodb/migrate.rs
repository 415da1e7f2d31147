//! `mqless migrate`: a v1 table's queued messages moved into v2's mailbox partitions
//! (`m/type/id`), online, while every process runs the transitional layout
//! ([`KeyLayout::V1ToV2`]), which reads both partitions of a mailbox and deletes a
//! consumed message under v1's key before v2's.
//!
//! Each move is one transaction: delete the v1 item if it is still there, put the same
//! item under v2's key if none is there. So a message is in exactly one of the two
//! partitions at every moment but one it is in both (never in neither), a consumed one
//! (its v1 copy deleted first) is never moved back, and a rerun after a crash resumes
//! where the last one stopped: what is left is what a dry run counts. Replies and dead
//! letters stay where they are (replies expire by TTL; dead letters are the actor's own
//! records, which v2 keeps in its partition).
//!
//! Per-actor subscriptions move the same way, from the topic's partition
//! (`s#<subscriber>#<method>`) to their subscriber type's (`t/<topic>/<type>`), with
//! one difference: the v1 item is deleted only if no topic message rewrote it since the
//! scan read it, and if the subscriber's partition holds the subscription already (its
//! commit subscribed, or ended it, since), that copy is the newer one and the v1 item
//! is only deleted. A v1 tombstone is deleted.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnConsumedCapacity, TransactWriteItem};

use super::capacity::transaction_write_units;
use super::layout::{KeyLayout, MAILBOX_PARTITION};
use super::schema::{s, Item, MESSAGE};
use super::subscriptions::{record, SUBSCRIPTION};
use super::{errors, DynamoStore};
use crate::error::{StoreError, StoreErrorKind};
use crate::events::TOPIC_TYPE;

/// What a migration found and did (a dry run moves nothing).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// v1 mailbox items found by the scan.
    pub found: u64,
    /// Moved into v2's partitions.
    pub moved: u64,
    /// Found but not moved: consumed meanwhile, or already in v2's partition (a copy the
    /// actor wrote there since, whose v1 copy was then deleted).
    pub settled: u64,
    /// Of those found, per-actor subscriptions in topics' partitions (the rest are
    /// queued messages).
    pub subscriptions: u64,
}

/// How a move ended.
enum Moved {
    Moved,
    Settled,
}

/// Tries of one move that meets concurrent transactions (a drain's commit on the item).
const CONFLICT_TRIES: u32 = 5;

impl DynamoStore {
    /// Moves every v1 mailbox item of the table into v2's partitions (see the module's
    /// docs); with `dry_run`, only counts them. Safe while functions run, if every
    /// process uses the transitional layout; safe to repeat or to stop at any point.
    ///
    /// # Errors
    /// [`StoreErrorKind::Other`] when this store's layout is not
    /// [`KeyLayout::V1ToV2`] (a process still in v1 would not see the moved messages),
    /// or a store failure (run it again: it resumes).
    pub async fn migrate_mailboxes(&self, dry_run: bool) -> Result<Migration, StoreError> {
        if self.layout != KeyLayout::V1ToV2 && !dry_run {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "migrating needs the transitional key layout, not {}: deploy every function and client with MQLESS_KEY_LAYOUT=v1-to-v2, then run `mqless migrate` with it",
                    self.layout
                ),
            ));
        }
        let mut migration = Migration::default();
        let mut start = None;
        loop {
            let page = self.counted(
                self.client
                    .scan()
                    .table_name(&*self.table)
                    .filter_expression(
                        "(begins_with(sk, :message) AND NOT begins_with(pk, :v2)) \
                         OR (begins_with(sk, :subscription) AND begins_with(pk, :topic))",
                    )
                    .expression_attribute_values(":message", s(MESSAGE))
                    .expression_attribute_values(":v2", s(MAILBOX_PARTITION))
                    .expression_attribute_values(":subscription", s(SUBSCRIPTION))
                    .expression_attribute_values(":topic", s(format!("{TOPIC_TYPE}/")))
                    .consistent_read(true)
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await,
            )?;
            for item in page.items() {
                migration.found += 1;
                let subscription = item
                    .get("sk")
                    .and_then(|sk| sk.as_s().ok())
                    .is_some_and(|sk| sk.starts_with(SUBSCRIPTION));
                migration.subscriptions += u64::from(subscription);
                if dry_run {
                    continue;
                }
                let moved = if subscription {
                    self.move_subscription(item).await?
                } else {
                    self.move_to_v2(item).await?
                };
                match moved {
                    Moved::Moved => migration.moved += 1,
                    Moved::Settled => migration.settled += 1,
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(migration);
            }
        }
    }

    /// Moves the v1 mailbox item `item` under v2's key, in one transaction.
    async fn move_to_v2(&self, item: &Item) -> Result<Moved, StoreError> {
        let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) else {
            return Ok(Moved::Settled); // not an item: nothing to move
        };
        let Ok(v1) = pk.as_s() else {
            return Ok(Moved::Settled);
        };
        let v1_key = Item::from([("pk".to_owned(), pk.clone()), ("sk".to_owned(), sk.clone())]);
        let mut moved = item.clone();
        moved.insert("pk".into(), s(format!("{MAILBOX_PARTITION}{v1}")));
        self.transact_move(v1_key, None, moved).await
    }

    /// Moves the v1 subscription `item` (in a topic's partition) into its subscriber
    /// type's partition, unless a topic message rewrote it since it was read.
    async fn move_subscription(&self, item: &Item) -> Result<Moved, StoreError> {
        let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) else {
            return Ok(Moved::Settled);
        };
        let v1_key = Item::from([("pk".to_owned(), pk.clone()), ("sk".to_owned(), sk.clone())]);
        let by = item.get("by").and_then(|by| by.as_s().ok()).cloned();
        let topic = pk
            .as_s()
            .ok()
            .and_then(|pk| pk.strip_prefix(TOPIC_TYPE)?.strip_prefix('/'));
        let (Some(topic), Some(record), Some(by)) = (topic, record(item), by.as_ref()) else {
            // A tombstone (or an item not as MQLess writes it): nothing to carry over.
            self.delete_unless_rewritten(v1_key, by.as_deref()).await?;
            return Ok(Moved::Settled);
        };
        let mut moved = self.apart_key(topic, &record);
        super::subscriptions::fill(&mut moved, &record);
        self.transact_move(v1_key, Some(by), moved).await
    }

    /// Deletes the v1 subscription at `key` if its `by` is still `by`.
    async fn delete_unless_rewritten(&self, key: Item, by: Option<&str>) -> Result<(), StoreError> {
        let mut delete = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        delete = match by {
            Some(by) => delete
                .condition_expression("#by = :by")
                .expression_attribute_names("#by", "by")
                .expression_attribute_values(":by", s(by)),
            None => delete
                .condition_expression("attribute_not_exists(#by)")
                .expression_attribute_names("#by", "by"),
        };
        // A failed condition: rewritten since; the next run finds the new item.
        self.counted_if(delete.send().await).map(drop)
    }

    /// Deletes the v1 item at `v1_key` (if it is there, and its `by` is still `by`
    /// when given) and puts `moved` (if nothing is at its key), in one transaction. If
    /// something is at `moved`'s key, that is the newer copy: the v1 item is deleted.
    async fn transact_move(
        &self,
        v1_key: Item,
        by: Option<&str>,
        moved: Item,
    ) -> Result<Moved, StoreError> {
        for attempt in 1..=CONFLICT_TRIES {
            let mut delete = Delete::builder()
                .table_name(&*self.table)
                .set_key(Some(v1_key.clone()));
            delete = match by {
                Some(by) => delete
                    .condition_expression("#by = :by")
                    .expression_attribute_names("#by", "by")
                    .expression_attribute_values(":by", s(by)),
                None => delete.condition_expression("attribute_exists(pk)"),
            };
            let delete = delete.build().map_err(errors::build_error)?;
            let put = Put::builder()
                .table_name(&*self.table)
                .set_item(Some(moved.clone()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(errors::build_error)?;
            let items = vec![
                TransactWriteItem::builder().delete(delete).build(),
                TransactWriteItem::builder().put(put).build(),
            ];
            let billed = transaction_write_units(&items);
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let error = match result {
                Ok(out) => {
                    self.meter
                        .count_transaction(billed, out.consumed_capacity().iter());
                    return Ok(Moved::Moved);
                }
                Err(error) => error,
            };
            let reasons: Vec<Option<String>> = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| reason.code().map(str::to_owned))
                    .collect(),
                _ => return Err(errors::from_sdk(&self.table, error)),
            };
            let failed = |i: usize| {
                reasons.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
            };
            if failed(0) {
                return Ok(Moved::Settled); // consumed, moved or rewritten meanwhile
            }
            if failed(1) {
                // v2 holds it already (the newer copy, which reads prefer): the v1 copy
                // is a leftover.
                match by {
                    Some(by) => self.delete_unless_rewritten(v1_key, Some(by)).await?,
                    None => {
                        self.delete_existing(v1_key).await?;
                    }
                }
                return Ok(Moved::Settled);
            }
            let conflict = reasons
                .iter()
                .flatten()
                .any(|code| code == "TransactionConflict");
            if !conflict || attempt == CONFLICT_TRIES {
                return Err(errors::from_sdk(&self.table, error));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt))).await;
        }
        unreachable!("the last try returns")
    }
}
