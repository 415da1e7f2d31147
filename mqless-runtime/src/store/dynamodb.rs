//! The DynamoDB store: every actor in one table.
//!
//! | `pk` | `sk` | attributes |
//! |---|---|---|
//! | `type/id` | `#state` | `ver`, `ep` (fencing epoch), `lease` (expiry, ms), `stl` (stalled leases), `st` (state), `meta` (last batch) |
//! | `type/id` | `m#<message id>` | `env` (envelope) |
//! | `type/id` | `r#<message id>` | `rep` (reply), `ttl` (seconds; DynamoDB's TTL deletes it for free) |
//! | `type/id` | `d#<message id>` | `env`, `err`, `att`, `at` |
//!
//! Message ids sort as text in time order, so a strongly consistent `Query` on
//! `begins_with(sk, "m#")` reads the mailbox in order. Every request asks for its consumed
//! capacity, summed in [`Capacity`], so the cost per message is measured, not estimated.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConsumedCapacity, Delete, DeleteRequest,
    KeySchemaElement, KeyType, Put, PutRequest, ReturnConsumedCapacity, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::{
    BoxFuture, Cleanup, Commit, CommitOutcome, DeadLetter, MailboxItem, StateRecord, Store,
};
use crate::error::{StoreError, StoreErrorKind};
use crate::id::{Address, MessageId};

/// DynamoDB's item size limit.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
const STATE_SK: &str = "#state";
/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE_MAX: usize = 25;

type Item = HashMap<String, AttributeValue>;

/// Request units and requests consumed so far, as DynamoDB reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    /// Read request units.
    pub read_units: f64,
    /// Write request units (transactions count double, as DynamoDB bills them).
    pub write_units: f64,
    /// Requests sent.
    pub requests: u64,
}

impl std::ops::Sub for Capacity {
    type Output = Capacity;
    fn sub(self, earlier: Capacity) -> Capacity {
        Capacity {
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
            requests: self.requests - earlier.requests,
        }
    }
}

/// Mailboxes and state in one DynamoDB table.
///
/// ```no_run
/// # async fn demo() -> Result<(), mqless_runtime::Error> {
/// use mqless_runtime::store::dynamodb::DynamoStore;
/// let config = mqless_runtime::aws::load_config().await;
/// let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "mqless");
/// store.create_table().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    capacity: Arc<Mutex<Capacity>>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn b(value: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(value))
}

fn key(address: &Address, sk: impl Into<String>) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(address.to_string())),
        ("sk".to_owned(), s(sk)),
    ])
}

fn message_sk(id: MessageId) -> String {
    format!("m#{id}")
}

/// The bytes DynamoDB counts for an item: attribute names plus values.
fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(v) | AttributeValue::N(v) => v.len(),
                    AttributeValue::B(v) => v.as_ref().len(),
                    _ => 8,
                }
        })
        .sum()
}

fn get_u64(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| corrupt(name)),
        Some(_) => Err(corrupt(name)),
    }
}

fn get_bytes(item: &Item, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::B(v)) => Ok(Some(v.clone().into_inner())),
        Some(_) => Err(corrupt(name)),
    }
}

fn get_sk_id(item: &Item, prefix: &str) -> Result<MessageId, StoreError> {
    let sk = item
        .get("sk")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("sk"))?;
    let id = sk.strip_prefix(prefix).ok_or_else(|| corrupt("sk"))?;
    MessageId::parse(id).map_err(|_| corrupt("sk"))
}

fn corrupt(attribute: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        format!("attribute `{attribute}` has an unexpected type; was the table written by something other than MQLess?"),
    )
}

fn record_from(item: &Item) -> Result<StateRecord, StoreError> {
    Ok(StateRecord {
        version: get_u64(item, "ver")?,
        epoch: get_u64(item, "ep")?,
        lease_expires_at: get_u64(item, "lease")?,
        stalled_leases: u32::try_from(get_u64(item, "stl")?).unwrap_or(u32::MAX),
        state: get_bytes(item, "st")?,
        meta: get_bytes(item, "meta")?,
    })
}

impl DynamoStore {
    /// A store over `table`, reached through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            capacity: Arc::default(),
        }
    }

    /// A store over table `table`, with the AWS configuration from the standard chain.
    pub async fn from_env(table: impl Into<String>) -> Self {
        Self::new(Client::new(&crate::aws::load_config().await), table)
    }

    /// The table name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Request units consumed by this store (and its clones) so far.
    #[must_use]
    pub fn capacity(&self) -> Capacity {
        *self.capacity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, consumed: Option<&ConsumedCapacity>, write: bool) {
        self.count_all(consumed.into_iter(), write);
    }

    fn count_all<'c>(&self, consumed: impl Iterator<Item = &'c ConsumedCapacity>, write: bool) {
        let units: f64 = consumed.filter_map(ConsumedCapacity::capacity_units).sum();
        let mut capacity = self.capacity.lock().unwrap_or_else(PoisonError::into_inner);
        capacity.requests += 1;
        if write {
            capacity.write_units += units;
        } else {
            capacity.read_units += units;
        }
    }

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
        let build_error = |e: aws_sdk_dynamodb::error::BuildError| {
            StoreError::new(StoreErrorKind::Other, e.to_string())
        };
        let created = self
            .client
            .create_table()
            .table_name(&*self.table)
            .attribute_definitions(attribute("pk").map_err(build_error)?)
            .attribute_definitions(attribute("sk").map_err(build_error)?)
            .key_schema(key("pk", KeyType::Hash).map_err(build_error)?)
            .key_schema(key("sk", KeyType::Range).map_err(build_error)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error) if error.code() == Some("ResourceInUseException") => return Ok(()),
            Err(error) => return Err(self.error(error)),
        }
        for _ in 0..600 {
            let described = self
                .client
                .describe_table()
                .table_name(&*self.table)
                .send()
                .await
                .map_err(|e| self.error(e))?;
            let active = described
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| *s == aws_sdk_dynamodb::types::TableStatus::Active);
            if active {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("ttl")
            .build()
            .map_err(build_error)?;
        self.client
            .update_time_to_live()
            .table_name(&*self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The output of a conditional write, or `None` when its condition failed.
    fn conditional<O, E, R>(
        &self,
        result: Result<O, SdkError<E, R>>,
    ) -> Result<Option<O>, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match result {
            Ok(out) => Ok(Some(out)),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(error) => Err(self.error(error)),
        }
    }

    /// Maps an SDK error to a store error whose message says what to do.
    fn error<
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    >(
        &self,
        error: SdkError<E, R>,
    ) -> StoreError {
        let table = &self.table;
        match &error {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StoreError::new(
                StoreErrorKind::Unavailable,
                format!("could not reach DynamoDB ({}); check the network, AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL and the region", crate::error::chain(&error)),
            ),
            _ => {
                let code = error.code().unwrap_or("Unknown");
                let message = error.message().unwrap_or("no message").to_owned();
                let (kind, advice) = match code {
                    "ResourceNotFoundException" => (
                        StoreErrorKind::TableMissing,
                        format!("table `{table}` does not exist; create it with `DynamoStore::create_table` (see the README's Deploy section) or point MQLESS_TABLE at the right table"),
                    ),
                    "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded" => {
                        (StoreErrorKind::Throttled, "DynamoDB is throttling; retry with backoff".to_owned())
                    }
                    "InternalServerError" | "ServiceUnavailable" => {
                        (StoreErrorKind::Unavailable, "DynamoDB failed internally; the write may or may not have happened".to_owned())
                    }
                    "UnrecognizedClientException" | "InvalidSignatureException" | "MissingAuthenticationTokenException" => (
                        StoreErrorKind::Other,
                        "check the AWS credentials (DynamoDB Local accepts any key id of letters and digits)".to_owned(),
                    ),
                    "AccessDeniedException" => (
                        StoreErrorKind::Other,
                        format!("grant this role the DynamoDB actions MQLess uses on table `{table}` (see the README's IAM policies)"),
                    ),
                    "TransactionConflictException" => (StoreErrorKind::TransactionConflict, "retry".to_owned()),
                    "ValidationException" if message.contains("size") => {
                        (StoreErrorKind::ItemTooLarge, "an item would exceed DynamoDB's 400 KB limit".to_owned())
                    }
                    _ => (StoreErrorKind::Other, "check the table, the IAM policy and the request".to_owned()),
                };
                StoreError::new(kind, format!("{code}: {message}; {advice}"))
            }
        }
    }

    async fn put_state_and_messages(
        &self,
        address: &Address,
        commit: &Commit,
    ) -> Result<CommitOutcome, StoreError> {
        let mut state = key(address, STATE_SK);
        state.insert("ver".into(), n(commit.expected_version + 1));
        state.insert("ep".into(), n(commit.epoch));
        state.insert("lease".into(), n(commit.lease_expires_at));
        state.insert("stl".into(), n(u64::from(commit.lease_expires_at != 0)));
        state.insert("st".into(), b(&commit.state));
        state.insert("meta".into(), b(&commit.meta));
        let size = item_size(&state);
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::new(
                StoreErrorKind::ItemTooLarge,
                format!("the state record of {address} would be {size} bytes, over DynamoDB's {MAX_ITEM_BYTES}-byte item limit; keep the state smaller (lower `Limits::max_state_bytes`)"),
            ));
        }
        let condition = "ep = :ep AND ver = :ver";
        let values = HashMap::from([
            (":ep".to_owned(), n(commit.epoch)),
            (":ver".to_owned(), n(commit.expected_version)),
        ]);
        if commit.outgoing.is_empty() {
            let result = self
                .client
                .put_item()
                .table_name(&*self.table)
                .set_item(Some(state))
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            return Ok(match self.conditional(result)? {
                Some(out) => {
                    self.count(out.consumed_capacity(), true);
                    CommitOutcome::Committed
                }
                None => CommitOutcome::Fenced,
            });
        }
        // Outgoing messages commit with the state, all or nothing: a transaction, used
        // only when a batch sent something, as it costs twice the write units.
        let build_error = |e: aws_sdk_dynamodb::error::BuildError| {
            StoreError::new(StoreErrorKind::Other, e.to_string())
        };
        let mut items = vec![TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&*self.table)
                    .set_item(Some(state))
                    .condition_expression(condition)
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map_err(build_error)?,
            )
            .build()];
        for (to, item) in &commit.outgoing {
            let mut message = key(to, message_sk(item.id));
            message.insert("env".into(), b(&item.envelope));
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&*self.table)
                            .set_item(Some(message))
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
            );
        }
        Ok(if self.transact(items).await? {
            CommitOutcome::Committed
        } else {
            CommitOutcome::Fenced
        })
    }

    /// Writes `items` in one transaction. `false` when it was cancelled because the
    /// condition of the first item failed (callers put their guard there); nothing was
    /// written then.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.count_all(out.consumed_capacity().iter(), true);
                Ok(true)
            }
            Err(error) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                    cancelled,
                )) = error.as_service_error()
                {
                    let reasons = cancelled.cancellation_reasons();
                    if reasons.first().and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
                        return Ok(false);
                    }
                    if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
                        return Err(StoreError::new(StoreErrorKind::TransactionConflict, "the write met a concurrent transaction; retry"));
                    }
                }
                Err(self.error(error))
            }
        }
    }

    /// Deletes and puts in batches of 25, resubmitting unprocessed requests.
    async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
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
                    .map_err(|e| self.error(e))?;
                self.count_all(out.consumed_capacity().iter(), true);
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

    async fn query_prefix(
        &self,
        address: &Address,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let want = i32::try_from(limit - items.len()).unwrap_or(i32::MAX);
            let out = self
                .client
                .query()
                .table_name(&*self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(address.to_string()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .limit(want)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| self.error(e))?;
            self.count(out.consumed_capacity(), false);
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key().cloned();
            // A page stops at 1 MB even below the limit: keep reading.
            if start.is_none() || items.len() >= limit {
                return Ok(items);
            }
        }
    }

    async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        self.count(out.consumed_capacity(), false);
        Ok(out.item().cloned())
    }
}

impl Store for DynamoStore {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        item: &'a MailboxItem,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut message = key(to, message_sk(item.id));
            message.insert("env".into(), b(&item.envelope));
            let result = self
                .client
                .put_item()
                .table_name(&*self.table)
                .set_item(Some(message))
                .condition_expression("attribute_not_exists(pk)")
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            // `None`: already queued, by a retry of a write that had landed.
            if let Some(out) = self.conditional(result)? {
                self.count(out.consumed_capacity(), true);
            }
            Ok(())
        })
    }

    fn acquire<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
        lease_expires_at: u64,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        Box::pin(async move {
            let result = self
                .client
                .update_item()
                .table_name(&*self.table)
                .set_key(Some(key(address, STATE_SK)))
                .update_expression("SET ep = if_not_exists(ep, :zero) + :one, stl = if_not_exists(stl, :zero) + :one, lease = :until, ver = if_not_exists(ver, :zero)")
                .condition_expression("attribute_not_exists(pk) OR lease <= :now")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":until", n(lease_expires_at))
                .expression_attribute_values(":now", n(now))
                .return_values(ReturnValue::AllNew)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            match self.conditional(result)? {
                Some(out) => {
                    self.count(out.consumed_capacity(), true);
                    let item = out.attributes().ok_or_else(|| corrupt("#state"))?;
                    Ok(Some(record_from(item)?))
                }
                // A live owner holds the lease.
                None => Ok(None),
            }
        })
    }

    fn read_mailbox<'a>(
        &'a self,
        address: &'a Address,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<MailboxItem>, StoreError>> {
        Box::pin(async move {
            self.query_prefix(address, "m#", limit)
                .await?
                .iter()
                .map(|item| {
                    Ok(MailboxItem {
                        id: get_sk_id(item, "m#")?,
                        envelope: get_bytes(item, "env")?.ok_or_else(|| corrupt("env"))?,
                    })
                })
                .collect()
        })
    }

    fn commit<'a>(
        &'a self,
        address: &'a Address,
        commit: &'a Commit,
    ) -> BoxFuture<'a, Result<CommitOutcome, StoreError>> {
        Box::pin(self.put_state_and_messages(address, commit))
    }

    fn release<'a>(
        &'a self,
        address: &'a Address,
        epoch: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let result = self
                .client
                .update_item()
                .table_name(&*self.table)
                .set_key(Some(key(address, STATE_SK)))
                .update_expression("SET lease = :zero, stl = :zero")
                .condition_expression("ep = :ep")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":ep", n(epoch))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            // `None`: another owner took over, and its lease is not ours to release.
            if let Some(out) = self.conditional(result)? {
                self.count(out.consumed_capacity(), true);
            }
            Ok(())
        })
    }

    fn cleanup<'a>(
        &'a self,
        address: &'a Address,
        cleanup: Cleanup<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let build_error = |e: aws_sdk_dynamodb::error::BuildError| {
                StoreError::new(StoreErrorKind::Other, e.to_string())
            };
            let mut writes = Vec::new();
            // Dead letters first: copy each failed message out of the mailbox before the
            // deletes below remove it. Rare, so one read per failure is fine.
            for failure in cleanup.dead_letters {
                if let Some(message) = self.get(key(address, message_sk(failure.id))).await? {
                    let mut letter = key(address, format!("d#{}", failure.id));
                    letter.insert(
                        "env".into(),
                        b(&get_bytes(&message, "env")?.unwrap_or_default()),
                    );
                    letter.insert("err".into(), s(failure.error.clone()));
                    letter.insert("att".into(), n(u64::from(failure.attempts)));
                    letter.insert("at".into(), n(cleanup.now));
                    writes.push(
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(letter))
                                    .build()
                                    .map_err(build_error)?,
                            )
                            .build(),
                    );
                }
            }
            self.batch_write(std::mem::take(&mut writes)).await?;
            let ttl_seconds = cleanup.replies_expire_at / 1000;
            for reply in cleanup.replies {
                let mut item = key(address, format!("r#{}", reply.id));
                item.insert("rep".into(), b(&reply.bytes));
                item.insert("ttl".into(), n(ttl_seconds));
                writes.push(
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item))
                                .build()
                                .map_err(build_error)?,
                        )
                        .build(),
                );
            }
            // Replies before deletes: "no consumed message left" must imply "replies written".
            self.batch_write(std::mem::take(&mut writes)).await?;
            for id in cleanup.delete {
                writes.push(
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key(address, message_sk(*id))))
                                .build()
                                .map_err(build_error)?,
                        )
                        .build(),
                );
            }
            self.batch_write(writes).await
        })
    }

    fn get_reply<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            match self.get(key(address, format!("r#{id}"))).await? {
                Some(item) => get_bytes(&item, "rep"),
                None => Ok(None),
            }
        })
    }

    fn load_state<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        Box::pin(async move {
            match self.get(key(address, STATE_SK)).await? {
                Some(item) => Ok(Some(record_from(&item)?)),
                None => Ok(None),
            }
        })
    }

    fn dead_letters<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(async move {
            self.query_prefix(address, "d#", usize::MAX)
                .await?
                .iter()
                .map(|item| {
                    Ok(DeadLetter {
                        id: get_sk_id(item, "d#")?,
                        envelope: get_bytes(item, "env")?.unwrap_or_default(),
                        error: item
                            .get("err")
                            .and_then(|v| v.as_s().ok())
                            .cloned()
                            .unwrap_or_default(),
                        attempts: u32::try_from(get_u64(item, "att")?).unwrap_or(u32::MAX),
                        dead_at: get_u64(item, "at")?,
                    })
                })
                .collect()
        })
    }

    fn redrive<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        new_id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let build_error = |e: aws_sdk_dynamodb::error::BuildError| {
                StoreError::new(StoreErrorKind::Other, e.to_string())
            };
            let Some(letter) = self.get(key(address, format!("d#{id}"))).await? else {
                return Ok(false);
            };
            let mut message = key(address, message_sk(new_id));
            message.insert(
                "env".into(),
                b(&get_bytes(&letter, "env")?.unwrap_or_default()),
            );
            // Delete and put in one transaction, the delete (first, see `transact`)
            // conditioned on the letter still being there: two racing redrives cannot
            // both queue it.
            let items = vec![
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&*self.table)
                            .set_key(Some(key(address, format!("d#{id}"))))
                            .condition_expression("attribute_exists(pk)")
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&*self.table)
                            .set_item(Some(message))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
            ];
            self.transact(items).await
        })
    }

    fn discard_dead_letter<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let out = self
                .client
                .delete_item()
                .table_name(&*self.table)
                .set_key(Some(key(address, format!("d#{id}"))))
                .return_values(ReturnValue::AllOld)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| self.error(e))?;
            self.count(out.consumed_capacity(), true);
            Ok(out.attributes().is_some_and(|a| !a.is_empty()))
        })
    }

    fn pending_actors(&self) -> BoxFuture<'_, Result<Vec<Address>, StoreError>> {
        Box::pin(async move {
            let mut pending = std::collections::BTreeSet::new();
            let mut start = None;
            loop {
                let out = self
                    .client
                    .scan()
                    .table_name(&*self.table)
                    .filter_expression("begins_with(sk, :message)")
                    .expression_attribute_values(":message", s("m#"))
                    .projection_expression("pk")
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| self.error(e))?;
                self.count(out.consumed_capacity(), false);
                for item in out.items() {
                    let pk = item
                        .get("pk")
                        .and_then(|v| v.as_s().ok())
                        .ok_or_else(|| corrupt("pk"))?;
                    pending.insert(Address::parse(pk).map_err(|_| corrupt("pk"))?);
                }
                start = out.last_evaluated_key().cloned();
                if start.is_none() {
                    return Ok(pending.into_iter().collect());
                }
            }
        })
    }
}
