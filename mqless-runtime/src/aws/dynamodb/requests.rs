//! The requests the store is made of: the conditional commit (a put, or a transaction
//! when the batch sent messages), batch writes, paged queries and consistent reads.

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};

use super::capacity::{transaction_write_units, Metered};
use super::schema::{queued_message, record_from, s, Item, KNOCKED};
use super::transitions::{record_item, Expressions};
use super::{errors, DynamoStore};
use crate::error::{StoreError, StoreErrorKind};
use crate::id::Address;
use crate::store::record::{self, Transition};
use crate::store::{Commit, CommitOutcome};

/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE_MAX: usize = 25;

impl DynamoStore {
    /// A transaction item that puts a new mailbox item, and never overwrites one: ids
    /// are unique, so the condition only ever refuses a corrupt or hand-written item.
    pub(super) fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(errors::build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Puts `item` unless an item of its key exists; `false` when one did (a repeat of a
    /// write that had landed). One conditional `PutItem`, its capacity counted.
    pub(super) async fn put_if_absent(&self, item: Item) -> Result<bool, StoreError> {
        let result = self.put_if_absent_request(item).send().await;
        Ok(self.counted_if(result)?.is_some())
    }

    /// The `PutItem` of `item` where no item has its key (send it, and count it).
    pub(super) fn put_if_absent_request(
        &self,
        item: Item,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
    }

    /// Maps a failed request's error to a store error (for requests whose capacity is not
    /// metered: table administration).
    pub(super) fn admin<O, E, R>(&self, result: Result<O, SdkError<E, R>>) -> Result<O, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        result.map_err(|e| errors::from_sdk(&self.table, e))
    }

    /// A conditional write's output, its capacity counted; `None` when its condition
    /// failed (a normal outcome for the protocol, not an error).
    pub(super) fn counted_if<O: Metered, E, R>(
        &self,
        result: Result<O, SdkError<E, R>>,
    ) -> Result<Option<O>, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        Ok(errors::conditional(&self.table, result)?.map(|out| self.meter.count(out)))
    }

    /// A conditional write's output, its capacity counted; when its condition failed,
    /// the item as it is, which `current` reads from the error (for writes that ask
    /// `ReturnValuesOnConditionCheckFailure`).
    pub(super) fn conditional_or_current<O: Metered, E, R>(
        &self,
        result: Result<O, SdkError<E, R>>,
        current: impl FnOnce(&E) -> Option<Item>,
    ) -> Result<Result<O, Option<Item>>, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match result {
            Ok(out) => Ok(Ok(self.meter.count(out))),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => {
                Ok(Err(error.as_service_error().and_then(current)))
            }
            Err(error) => Err(errors::from_sdk(&self.table, error)),
        }
    }

    /// A strongly consistent read's output, its capacity counted (a whole unit at least,
    /// as billed), or its error mapped to a store error.
    pub(super) fn counted_consistent<O: Metered, E, R>(
        &self,
        result: Result<O, SdkError<E, R>>,
    ) -> Result<O, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        self.admin(result)
            .map(|out| self.meter.count_consistent(out))
    }

    /// A request's output, its capacity counted, or its error mapped to a store error.
    pub(super) fn counted<O: Metered, E, R>(
        &self,
        result: Result<O, SdkError<E, R>>,
    ) -> Result<O, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        self.admin(result).map(|out| self.meter.count(out))
    }

    pub(super) async fn put_state_and_messages(
        &self,
        address: &Address,
        commit: &Commit,
    ) -> Result<CommitOutcome, StoreError> {
        // DynamoDB would refuse it anyway; refusing here says which limit, and costs nothing.
        crate::store::check_commit_size(address, commit)?;
        let transition = Transition::commit(commit);
        let state = record_item(address, &transition.written_record());
        let expressions = Expressions::guard_only(address, transition.guard);
        let condition = expressions.condition();
        let names = expressions.names();
        let values = expressions.values();
        // A condition that fails returns the record as it is: if it holds this very
        // commit, the write landed and only its answer was lost (the SDK retried it).
        if commit.outgoing.is_empty()
            && commit.continued.is_none()
            && commit.subscriptions.is_empty()
        {
            let result = self
                .client
                .put_item()
                .table_name(&*self.table)
                .set_item(Some(state))
                .condition_expression(condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                // The record it replaced (free, but its size in bytes on the wire): whether
                // a wake-up knocked on it, which only an owner that releases asks.
                .set_return_values((commit.lease_expires_at == 0).then_some(ReturnValue::AllOld))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let current = |error: &PutItemError| match error {
                PutItemError::ConditionalCheckFailedException(failed) => failed.item().cloned(),
                _ => None,
            };
            return Ok(match self.conditional_or_current(result, current)? {
                Ok(put) => CommitOutcome::written(
                    commit,
                    put.attributes()
                        .is_some_and(|old| old.contains_key(KNOCKED)),
                ),
                Err(current) if holds(current.as_ref(), commit) => CommitOutcome::Committed,
                Err(_) => CommitOutcome::Fenced,
            });
        }
        // Outgoing messages (and subscriptions) commit with the state, all or nothing: a
        // transaction, used only when a batch sent something, as it costs twice the
        // write units. It cannot
        // return the record it replaced, so it cannot tell whether anybody knocked.
        let mut items = vec![TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&*self.table)
                    .set_item(Some(state))
                    .condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(errors::build_error)?,
            )
            .build()];
        for (to, item) in &commit.outgoing {
            items.push(self.put_new(queued_message(self.layout, to, item))?);
        }
        if let Some(item) = &commit.continued {
            // Overwrites the queued message: the state's condition fences it.
            let message = queued_message(self.layout, address, item);
            let put = Put::builder()
                .table_name(&*self.table)
                .set_item(Some(message))
                .build()
                .map_err(errors::build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for change in &commit.subscriptions {
            // The actor's own subscriptions, ordered by its record's version: a fenced
            // owner's transaction writes none of them.
            items.push(self.subscription_write(change)?);
        }
        Ok(match self.transact_or_current(items).await? {
            Ok(()) => CommitOutcome::Committed,
            Err(current) if holds(current.as_ref(), commit) => CommitOutcome::Committed,
            Err(_) => CommitOutcome::Fenced,
        })
    }

    /// Deletes the item at `key`; whether it existed.
    pub(super) async fn delete_existing(&self, key: Item) -> Result<bool, StoreError> {
        let out = self.counted(
            self.client
                .delete_item()
                .table_name(&*self.table)
                .set_key(Some(key))
                .return_values(ReturnValue::AllOld)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )?;
        Ok(out.attributes().is_some_and(|a| !a.is_empty()))
    }

    /// Deletes the item at `key` and puts `item`, in one transaction guarded by the
    /// delete's condition (the item at `key` is there): a move, such as a mailbox item's
    /// to the dead letters. `false`: it was gone (moved or deleted meanwhile, or by an
    /// earlier run of the same move), and nothing was written. Two writes would let a
    /// crash between them leave both, and a repeat then put back what was since removed.
    pub(super) async fn move_item(&self, key: Item, item: Item) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&*self.table)
            .set_key(Some(key))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(errors::build_error)?;
        let put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(item))
            .build()
            .map_err(errors::build_error)?;
        self.transact(vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().put(put).build(),
        ])
        .await
    }

    /// Writes `items` in one transaction. `false` when it was cancelled because the
    /// condition of the first item failed (callers put their guard there); nothing was
    /// written then.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        Ok(self.transact_or_current(items).await?.is_ok())
    }

    /// [`Self::transact`], with the first item as it is when its condition failed (when
    /// its put asked for it with `ReturnValuesOnConditionCheckFailure`).
    pub(super) async fn transact_or_current(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Option<Item>>, StoreError> {
        let billed = transaction_write_units(&items);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter
                    .count_transaction(billed, out.consumed_capacity().iter());
                Ok(Ok(()))
            }
            Err(error) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    error.as_service_error()
                {
                    let reasons = cancelled.cancellation_reasons();
                    let first = reasons.first();
                    if first.and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
                        return Ok(Err(first.and_then(|r| r.item()).cloned()));
                    }
                    if reasons
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict"))
                    {
                        return Err(StoreError::new(
                            StoreErrorKind::TransactionConflict,
                            "the write met a concurrent transaction; retry",
                        ));
                    }
                }
                Err(errors::from_sdk(&self.table, error))
            }
        }
    }

    /// Deletes and puts in batches of 25, resubmitting unprocessed requests.
    pub(super) async fn batch_write(
        &self,
        mut requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        while !requests.is_empty() {
            let rest = requests.split_off(requests.len().min(BATCH_WRITE_MAX));
            let mut chunk = std::mem::replace(&mut requests, rest);
            let mut pause = Duration::from_millis(20);
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&*self.table, chunk)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| errors::from_sdk(&self.table, e))?;
                self.meter.count_all(out.consumed_capacity().iter(), true);
                chunk = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&*self.table))
                    .cloned()
                    .unwrap_or_default();
                if chunk.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(StoreError::new(StoreErrorKind::Throttled, "DynamoDB left batch writes unprocessed after 8 retries; a later owner repeats this cleanup"));
                }
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Ok(())
    }

    /// The first `limit` items of partition `pk` under `prefix` that `keep` accepts, in
    /// key order; items it refuses do not count toward the limit.
    pub(super) async fn query_prefix<T>(
        &self,
        pk: &str,
        prefix: &str,
        limit: usize,
        keep: impl FnMut(&Item) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        self.query_prefix_of(pk, prefix, limit, None, keep).await
    }

    /// [`Self::query_prefix`], reading only `attributes` of each item when given (the
    /// reads a client makes, which IAM may hold to named attributes).
    pub(super) async fn query_prefix_of<T>(
        &self,
        pk: &str,
        prefix: &str,
        limit: usize,
        attributes: Option<&[&str]>,
        mut keep: impl FnMut(&Item) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let want = i32::try_from(limit - items.len()).unwrap_or(i32::MAX);
            let (projection, names) = projection(attributes);
            let out = self.counted_consistent(
                self.client
                    .query()
                    .table_name(&*self.table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", s(pk))
                    .expression_attribute_values(":prefix", s(prefix))
                    .set_projection_expression(projection)
                    .set_expression_attribute_names(names)
                    .consistent_read(true)
                    .limit(want)
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await,
            )?;
            items.extend(out.items().iter().filter_map(&mut keep));
            start = out.last_evaluated_key().cloned();
            // A page stops at 1 MB even below the limit: keep reading.
            if start.is_none() || items.len() >= limit {
                return Ok(items);
            }
        }
    }

    /// Puts `item`, replacing whatever has its key; its capacity counted.
    pub(super) async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.counted(
            self.client
                .put_item()
                .table_name(&*self.table)
                .set_item(Some(item))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )
        .map(drop)
    }

    pub(super) async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        self.get_of(key, None).await
    }

    /// [`Self::get`], reading only `attributes` when given.
    pub(super) async fn get_of(
        &self,
        key: Item,
        attributes: Option<&[&str]>,
    ) -> Result<Option<Item>, StoreError> {
        let (projection, names) = projection(attributes);
        let out = self.counted_consistent(
            self.client
                .get_item()
                .table_name(&*self.table)
                .set_key(Some(key))
                .set_projection_expression(projection)
                .set_expression_attribute_names(names)
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )?;
        Ok(out.item().cloned())
    }
}

/// A `ProjectionExpression` naming `attributes`, through placeholders (`ttl` and `at`
/// are reserved words), and the placeholders' names; none without attributes.
fn projection(
    attributes: Option<&[&str]>,
) -> (
    Option<String>,
    Option<std::collections::HashMap<String, String>>,
) {
    let Some(attributes) = attributes else {
        return (None, None);
    };
    let names: std::collections::HashMap<String, String> = attributes
        .iter()
        .enumerate()
        .map(|(i, name)| (format!("#p{i}"), (*name).to_owned()))
        .collect();
    let expression = (0..attributes.len())
        .map(|i| format!("#p{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    (Some(expression), Some(names))
}

/// Whether the state record `current` (as read when a commit's condition failed) holds
/// exactly what `commit` writes (see `store::record::commit_landed`). A record that no
/// longer reads as MQLess writes it holds no commit.
fn holds(current: Option<&Item>, commit: &Commit) -> bool {
    let current = current.and_then(|item| record_from(item).ok());
    record::commit_landed(current.as_ref(), commit)
}
