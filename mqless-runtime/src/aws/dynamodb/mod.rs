//! The DynamoDB store: every actor in one table (see [`schema`] for the layout). Every
//! request asks for its consumed capacity, summed in [`Capacity`].

mod actors;
mod admin;
mod capacity;
mod cleanup;
mod enqueue;
mod errors;
mod layout;
mod layout_record;
mod lease;
mod malformed;
mod migrate;
mod quarantine;
mod requests;
pub mod schema;
mod subscriptions;
mod sweeping;
mod transitions;

use std::sync::Arc;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use capacity::Meter;
pub use capacity::{item_size, transaction_write_units, write_units, Capacity};
pub use migrate::Migration;
use schema::{
    dead_letter_key, get_bytes, get_sk_id, get_u64, message_key_in, queued_message, reply_key,
    KeyLayout, DEAD_LETTER, MESSAGE,
};

use crate::error::StoreError;
use crate::id::{ActorType, Address, MessageId};
use crate::store::record::Transition;
use crate::store::{
    Acquired, Cleanup, Commit, CommitOutcome, DeadLetter, DeadLetterKind, Lift, MailboxItem,
    QuarantineRecord, QueuedHead, Retired, StateRecord, Store,
};
use crate::BoxFuture;

/// Mailboxes and state in one DynamoDB table.
///
/// ```no_run
/// # async fn demo() -> Result<(), mqless_runtime::Error> {
/// use mqless_runtime::aws::dynamodb::DynamoStore;
/// let environment = mqless_runtime::aws::Environment::load().await?;
/// let store = environment.store();
/// store.create_table().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    layout: KeyLayout,
    meter: Meter,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DynamoStore {{ table: {:?}, layout: {}, .. }}",
            self.table, self.layout
        )
    }
}

impl DynamoStore {
    /// A store over `table`, reached through `client`, in the default
    /// [`KeyLayout`] (`V1`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            layout: KeyLayout::default(),
            meter: Meter::default(),
        }
    }

    /// This store, reading and writing the table in `layout`: the one every other
    /// process of the deployment uses (see [`KeyLayout`]).
    ///
    /// ```no_run
    /// # async fn demo(client: aws_sdk_dynamodb::Client) {
    /// use mqless_runtime::aws::dynamodb::{schema::KeyLayout, DynamoStore};
    /// let store = DynamoStore::new(client, "mqless").with_key_layout(KeyLayout::V2);
    /// assert_eq!(store.key_layout(), KeyLayout::V2);
    /// # }
    /// ```
    #[must_use]
    pub fn with_key_layout(mut self, layout: KeyLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Where this store keeps mailboxes.
    #[must_use]
    pub fn key_layout(&self) -> KeyLayout {
        self.layout
    }

    /// The table name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Request units consumed by this store (and its clones) so far.
    #[must_use]
    pub fn capacity(&self) -> Capacity {
        self.meter.total()
    }
}

impl Store for DynamoStore {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        item: &'a MailboxItem,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.queue_once(to, item))
    }

    fn acquire<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
        lease_expires_at: u64,
        owner: u64,
    ) -> BoxFuture<'a, Result<Acquired, StoreError>> {
        Box::pin(async move {
            let (acquired, _) = self
                .acquire_lease(address, now, lease_expires_at, owner, None)
                .await?;
            Ok(acquired)
        })
    }

    fn acquire_and_read<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
        lease_expires_at: u64,
        owner: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Acquired, Vec<MailboxItem>), StoreError>> {
        Box::pin(self.acquire_lease(address, now, lease_expires_at, owner, Some(limit)))
    }

    fn read_mailbox<'a>(
        &'a self,
        address: &'a Address,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<MailboxItem>, StoreError>> {
        Box::pin(async move {
            let mut malformed = Vec::new();
            // v1's partition first, then v2's (the transitional layout): a message that
            // `mqless migrate` moves between the two reads is seen in both, never in
            // neither, which would run the messages after it first.
            let mut items = Vec::new();
            let mailboxes = self.layout.mailboxes(address);
            for mailbox in mailboxes {
                let read = self
                    .query_prefix(&mailbox, MESSAGE, limit, |item| {
                        match schema::mailbox_item(item) {
                            Ok(message) => Some(message),
                            Err(reason) => {
                                // Written past the client (by hand, another language,
                                // an older version): never run, never blocking the rest.
                                malformed.push((item.clone(), reason));
                                None
                            }
                        }
                    })
                    .await?;
                // Newest layout first: a message seen in both keeps its v2 copy.
                items.insert(0, read);
            }
            for (item, reason) in malformed {
                self.retire_malformed(address, item, &reason).await;
            }
            Ok(merge_mailboxes(items, limit))
        })
    }

    fn mailbox_head<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Option<QueuedHead>, StoreError>> {
        Box::pin(async move {
            // Both partitions on the way to v2, as `read_mailbox` reads them.
            let mut first: Option<QueuedHead> = None;
            for mailbox in self.layout.mailboxes(address) {
                let attributes = Some(&schema::QUEUED_KEY_ATTRIBUTES[..]);
                let read = self
                    .query_prefix_of(&mailbox, MESSAGE, 1, attributes, schema::queued_head)
                    .await?;
                first = first.into_iter().chain(read).min_by_key(|head| head.id);
            }
            Ok(first)
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
        // A failed condition: a newer lease was taken, and it is not ours to release.
        Box::pin(async move { self.apply_if(address, &Transition::release(epoch)).await })
    }

    fn unmark<'a>(
        &'a self,
        address: &'a Address,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        // A failed condition: somebody armed the actor since, for work still to do.
        Box::pin(async move { self.apply_if(address, &Transition::unmark(at)).await })
    }

    fn expire_stub<'a>(
        &'a self,
        address: &'a Address,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        // A failed condition: someone committed meanwhile; leave it.
        Box::pin(async move { self.apply_if(address, &Transition::expire_stub(at)).await })
    }

    fn abandon<'a>(
        &'a self,
        address: &'a Address,
        owner: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        // A failed condition: the acquire did not land, or another owner took over since.
        Box::pin(async move { self.apply_if(address, &Transition::abandon(owner)).await })
    }

    fn cleanup<'a>(
        &'a self,
        address: &'a Address,
        cleanup: Cleanup<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.clean_up(address, cleanup))
    }

    fn get_reply<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        asker: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            match self.get(reply_key(self.layout, address, id, asker)).await? {
                Some(item) => get_bytes(&item, "rep"),
                None => Ok(None),
            }
        })
    }

    fn load_state<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        Box::pin(async move { Ok(self.read_items(address).await?.effective()) })
    }

    fn load_committed_state<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        Box::pin(async move {
            self.get_of(
                schema::state_key(address),
                Some(&schema::COMMITTED_STATE_ATTRIBUTES),
            )
            .await?
            .map(|item| schema::record_from(&item))
            .transpose()
        })
    }

    fn dead_letters<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(async move {
            let attributes = Some(&schema::DEAD_LETTER_ATTRIBUTES[..]);
            self.query_prefix_of(
                &address.to_string(),
                DEAD_LETTER,
                usize::MAX,
                attributes,
                |item| Some(item.clone()),
            )
            .await?
            .iter()
            .map(|item| {
                Ok(DeadLetter {
                    id: get_sk_id(item, DEAD_LETTER)?,
                    envelope: get_bytes(item, "env")?.unwrap_or_default(),
                    error: item
                        .get("err")
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default(),
                    attempts: u32::try_from(get_u64(item, "att")?).unwrap_or(u32::MAX),
                    dead_at: get_u64(item, "at")?,
                    kind: DeadLetterKind::from_name(
                        item.get("kind")
                            .and_then(|v| v.as_s().ok())
                            .map_or("", |k| k),
                    ),
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
            let Some(letter) = self.get(dead_letter_key(address, id)).await? else {
                return Ok(false);
            };
            let message = queued_message(
                self.layout,
                address,
                &MailboxItem {
                    id: new_id,
                    envelope: get_bytes(&letter, "env")?.unwrap_or_default(),
                },
            );
            // Delete and put in one transaction, the delete (first, see `transact`)
            // conditioned on the letter still being there: two racing redrives cannot
            // both queue it.
            let items = vec![
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&*self.table)
                            .set_key(Some(dead_letter_key(address, id)))
                            .condition_expression("attribute_exists(pk)")
                            .build()
                            .map_err(errors::build_error)?,
                    )
                    .build(),
                self.put_new(message)?,
            ];
            self.transact(items).await
        })
    }

    fn discard_dead_letter<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.delete_existing(dead_letter_key(address, id)))
    }

    fn quarantine<'a>(
        &'a self,
        address: &'a Address,
        epoch: u64,
        quarantine: &'a QuarantineRecord,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.quarantine_record(address, epoch, quarantine))
    }

    fn lift_quarantine<'a>(
        &'a self,
        address: &'a Address,
        lift: &'a Lift,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.lift_quarantine_of(address, lift))
    }

    fn list_actors<'a>(
        &'a self,
        actor_type: &'a ActorType,
        after: Option<&'a Address>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Address>, StoreError>> {
        Box::pin(self.list_actors_of(actor_type, after, limit))
    }

    fn reset_state<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
    ) -> BoxFuture<'a, Result<Retired, StoreError>> {
        Box::pin(self.reset_state_of(address, now))
    }

    fn delete_actor<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
    ) -> BoxFuture<'a, Result<Retired, StoreError>> {
        Box::pin(self.delete_actor_of(address, now))
    }

    fn quarantined_actors(
        &self,
    ) -> BoxFuture<'_, Result<Vec<(Address, QuarantineRecord)>, StoreError>> {
        Box::pin(self.quarantined_of())
    }

    fn subscriptions<'a>(
        &'a self,
        topic: &'a Address,
        subscriber_types: &'a [crate::id::ActorType],
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<crate::store::SubscriptionPage, StoreError>> {
        Box::pin(self.subscriptions_of(topic, subscriber_types, after, limit))
    }

    fn subscription_writers(&self) -> crate::store::SubscriptionWriters {
        use crate::store::SubscriptionWriters;
        match self.layout {
            KeyLayout::V1 => SubscriptionWriters::Topics,
            KeyLayout::V2 => SubscriptionWriters::Subscribers,
            KeyLayout::V1ToV2 => SubscriptionWriters::SubscribersAndTopics,
        }
    }

    fn write_subscription<'a>(
        &'a self,
        topic: &'a Address,
        key: &'a str,
        record: Option<&'a crate::store::SubscriptionRecord>,
        by: MessageId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write_subscription_of(topic, key, record, by))
    }

    fn cancel<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            // v1's copy first (the transitional layout), as a cleanup deletes.
            let mut existed = false;
            for mailbox in self.layout.mailboxes(address) {
                existed |= self.delete_existing(message_key_in(&mailbox, id)).await?;
            }
            Ok(existed)
        })
    }

    fn pending_actors(&self, now: u64) -> BoxFuture<'_, Result<Vec<Address>, StoreError>> {
        Box::pin(self.pending_of(now))
    }

    fn knock<'a>(
        &'a self,
        address: &'a Address,
        version: u64,
        mark: Option<u64>,
        at: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let transition = Transition::knock(version, mark, at);
            let result = self.transition(address, &transition).send().await;
            // `None`: the owner committed (or somebody armed) since the read.
            Ok(self.counted_if(result)?.is_some())
        })
    }

    fn arm<'a>(&'a self, address: &'a Address, at: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.arm_record(address, at))
    }

    fn mark_message<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.mark_message_item(address, id, at))
    }

    fn due_page<'a>(
        &'a self,
        shard: u16,
        after: Option<&'a str>,
        now: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<crate::store::due::DueEntry>, StoreError>> {
        Box::pin(self.due_page_of(shard, after, now, limit))
    }

    fn sweep_cursor(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(self.load_sweep_cursor())
    }

    fn save_sweep_cursor<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.store_sweep_cursor(cursor))
    }
}

/// The first `limit` messages, in id order, of the mailbox reads `reads` (newest layout
/// first): one read as it is; in the transitional layout, both merged, each id once.
fn merge_mailboxes(mut reads: Vec<Vec<MailboxItem>>, limit: usize) -> Vec<MailboxItem> {
    if reads.len() == 1 {
        return reads.pop().unwrap_or_default();
    }
    // A stable sort keeps the newer layout's copy first among equal ids.
    let mut items: Vec<MailboxItem> = reads.into_iter().flatten().collect();
    items.sort_by_key(|item| item.id);
    items.dedup_by_key(|item| item.id);
    items.truncate(limit);
    items
}
