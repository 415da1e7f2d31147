//! The mailbox/state store: the one source of truth of the mailbox protocol.
//!
//! Every actor has a record (state bytes, version, the bookkeeping of its last committed
//! batch, and its lease: epoch, expiry, stall count), stored as two items (see
//! `record.rs`: the lease apart, so taking it costs one small write), a mailbox of messages
//! in id order, replies waiting for asks, and dead letters. [`memory::MemoryStore`] keeps them in
//! process; the DynamoDB store (`aws::dynamodb`) keeps them in one table. The protocol that drives a store
//! lives in [`crate::mailbox`], so both stores run the same steps.

mod dead_letter;
pub mod due;
mod items;
mod limits;
pub mod memory;
mod outcome;
pub(crate) mod record;

pub use dead_letter::{DeadLetter, DeadLetterKind, Failure};
pub use items::{
    Cleanup, Commit, KeyedBytes, Lift, MailboxItem, QuarantineRecord, QueuedHead, RecordExpiry,
    Retired, StateFix, StateRecord, SubscriptionChange, SubscriptionPage, SubscriptionRecord,
};
pub use limits::{
    check_commit_size, ITEM_OVERHEAD_BYTES, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES,
    MAX_TRANSACTION_ITEMS,
};
pub use outcome::{Acquired, CommitOutcome};

use std::time::Duration;

use crate::error::StoreError;
use crate::id::{ActorType, Address, MessageId};
use crate::BoxFuture;

/// Persistent mailboxes and state. Implementations must make `enqueue`, `acquire`,
/// `commit` and `release` atomic per call, and reads strongly consistent.
pub trait Store: Send + Sync + 'static {
    /// Appends a message to `to`'s mailbox. Writing an id that already exists is a no-op.
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        item: &'a MailboxItem,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Takes the lease of `address` if it is free or expired at `now`: a new epoch, one
    /// more [`StateRecord::stalled_leases`], the expiry and [`StateRecord::owner`], written
    /// to the lease item only (see `store/record.rs`), and returns the record (empty if
    /// missing). [`Acquired::Held`] when a live owner holds it.
    fn acquire<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
        lease_expires_at: u64,
        owner: u64,
    ) -> BoxFuture<'a, Result<Acquired, StoreError>>;

    /// Gives back a lease that `owner` may have taken by an acquire whose answer was
    /// lost (an error after the write): if the record's owner is still `owner`, frees the
    /// lease and takes back the stalled lease that acquire counted, so a lost answer is
    /// not taken for a crash. Otherwise does nothing.
    fn abandon<'a>(
        &'a self,
        address: &'a Address,
        owner: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Takes the lease as [`Store::acquire`] does and, if it was taken, reads the first
    /// `limit` messages of the mailbox: what an owner does first. A store may read the
    /// mailbox before the acquire's write lands (DynamoDB sends the two requests side
    /// by side, so the drain waits for one round trip instead of two): a message queued
    /// after that read has a wake-up that either takes the lease first, or finds it held
    /// and knocks (see [`Store::knock`]), so the owner looks again. But never before the
    /// read of the record that the acquire decided on (and returns): a mailbox read from
    /// before a commit may hold messages that its predecessor batch consumed, which the
    /// record's bookkeeping no longer lists, and they would run again. The messages are
    /// empty when the lease was not taken.
    ///
    /// The default acquires, then reads. If the read fails after the lease was taken,
    /// the error is returned, and the caller abandons the lease (see
    /// [`Store::abandon`]).
    fn acquire_and_read<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
        lease_expires_at: u64,
        owner: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Acquired, Vec<MailboxItem>), StoreError>> {
        Box::pin(async move {
            let acquired = self.acquire(address, now, lease_expires_at, owner).await?;
            let items = match acquired {
                Acquired::Taken(_) => self.read_mailbox(address, limit).await?,
                Acquired::Held { .. } => Vec::new(),
            };
            Ok((acquired, items))
        })
    }

    /// The first `limit` messages of the mailbox, in id order.
    fn read_mailbox<'a>(
        &'a self,
        address: &'a Address,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<MailboxItem>, StoreError>>;

    /// The first message of the mailbox, as a caller outside the actor may know it
    /// (`Remote::settle`, which waits for mailboxes to empty): its id and due time, not
    /// its envelope. The default reads [`Self::read_mailbox`]; a store whose access can
    /// be held to attributes reads no more.
    fn mailbox_head<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Option<QueuedHead>, StoreError>> {
        Box::pin(async move {
            let head = self.read_mailbox(address, 1).await?;
            Ok(head.first().map(|item| QueuedHead {
                id: item.id,
                due_at: due::scheduled_at(item.id, &item.envelope),
            }))
        })
    }

    /// Writes a batch's result if the record is still at `commit.expected_version` (a
    /// missing record is at 0), together with its outgoing messages, atomically. Sets
    /// [`StateRecord::stalled_leases`] to 0 if the commit releases the lease
    /// (`lease_expires_at == 0`), else to 1. A newer lease does not fence it: the version
    /// alone keeps batches from applying twice, and that lease's own commit is fenced.
    fn commit<'a>(
        &'a self,
        address: &'a Address,
        commit: &'a Commit,
    ) -> BoxFuture<'a, Result<CommitOutcome, StoreError>>;

    /// Removes the mark of a state record that was never committed and lets it expire
    /// at `at` (DynamoDB's TTL then deletes it), if it is still unused: version 0, no
    /// lease. Such a stub is what an arm leaves for an address with nothing queued (a
    /// stray or repeated wake-up): it would otherwise stay forever. The default does
    /// nothing, for stores without expiry.
    fn expire_stub<'a>(
        &'a self,
        address: &'a Address,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (address, at);
        Box::pin(async { Ok(()) })
    }

    /// Frees the lease taken at `epoch` and sets [`StateRecord::stalled_leases`] to 0, if
    /// no newer lease was taken since; otherwise does nothing. One write of the lease
    /// item; the record's mark is left as it is (see [`Store::unmark`]).
    fn release<'a>(
        &'a self,
        address: &'a Address,
        epoch: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes the record's mark if it is still at `at` (nobody armed it since): what an
    /// owner that found the actor marked does when it has done the work the mark stood
    /// for.
    fn unmark<'a>(&'a self, address: &'a Address, at: u64)
        -> BoxFuture<'a, Result<(), StoreError>>;

    /// A wake-up found the lease of `address` held, on a state record read at `version`
    /// with `mark`: records the knock on the state record, which the owner's next commit
    /// reports (see [`CommitOutcome::CommittedUnknocked`]), and marks the record due at
    /// `at` (the lease's end, for the sweep if the owner crashed) unless it is marked
    /// earlier. Writes only if the record is still at that version and mark; `false`
    /// when it moved (the owner committed, perhaps releasing: acquire again).
    ///
    /// The default only arms the record (stores without knocks answer
    /// [`CommitOutcome::Committed`], so owners always look again).
    fn knock<'a>(
        &'a self,
        address: &'a Address,
        version: u64,
        mark: Option<u64>,
        at: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let _ = (version, mark);
        Box::pin(async move { self.arm(address, at).await.map(|()| true) })
    }

    /// Marks `address` to be woken at `at` (ms since the Unix epoch) by the sweep, unless
    /// its record is marked for `at` or earlier already; creates the record if missing.
    /// Needs no lease: whoever saw a wake-up fail, or a lease that may belong to a
    /// crashed owner, calls it.
    fn arm<'a>(&'a self, address: &'a Address, at: u64) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Marks queued message `id` of `address` to be woken for at `at` by the sweep,
    /// unless it is due at `at` or earlier already; does nothing if it is no longer
    /// queued (consumed: its actor was awake). What a sender whose wake-up failed calls:
    /// it writes only the mailbox item it queued, never the recipient's record, so in
    /// key layout v2 senders write mailboxes and nothing else (see `docs/design.md`,
    /// "Isolation"). The entry goes with the message when a drain deletes it.
    ///
    /// The default marks the actor's record ([`Store::arm`]), for stores written before
    /// this method.
    fn mark_message<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = id;
        self.arm(address, at)
    }

    /// Up to `limit` entries of shard `shard` of the due index (see [`due`]) due at or
    /// before `now`, in key order, after key `after`. Fewer than `limit`: the last page.
    /// On DynamoDB one `Query` of the sparse `due` index per page, never a `Scan`.
    fn due_page<'a>(
        &'a self,
        shard: u16,
        after: Option<&'a str>,
        now: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<due::DueEntry>, StoreError>>;

    /// Where the last sweep that ran out of time stopped (an entry key), if it did.
    fn sweep_cursor(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>>;

    /// Saves (`Some`) or clears (`None`) the sweep cursor.
    fn save_sweep_cursor<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Performs a committed batch's follow-up writes. Idempotent.
    fn cleanup<'a>(
        &'a self,
        address: &'a Address,
        cleanup: Cleanup<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The encoded reply to message `id`, if it has been written. `asker`: who asked,
    /// as the ask's envelope named it ([`Envelope::asker`](crate::wire::Envelope::asker)),
    /// which a store may key replies by (the DynamoDB store does in key layout v2).
    fn get_reply<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        asker: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;

    /// Waits up to `timeout` for the reply to message `id` asked by `asker`. The default
    /// polls [`Store::get_reply`] with backoff; stores that can signal do better.
    fn wait_reply<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        asker: Option<&'a str>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let mut pause = Duration::from_millis(5);
            loop {
                if let Some(reply) = self.get_reply(address, id, asker).await? {
                    return Ok(Some(reply));
                }
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Ok(None);
                }
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
        })
    }

    /// The record of `address` (its state record and lease item, see `store/record.rs`),
    /// without taking the lease.
    fn load_state<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>>;

    /// What a caller outside the actor may read of its record: the committed state,
    /// version, expiry and quarantine, without the bookkeeping (`meta`: the last
    /// batch's replies, to other askers too) or the lease. What `.query()`,
    /// `Actors::state` and an asker's quarantine check read; the default strips what
    /// [`Self::load_state`] reads, and a store whose access can be held to attributes
    /// reads no more.
    fn load_committed_state<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        Box::pin(async move {
            Ok(self.load_state(address).await?.map(|record| StateRecord {
                meta: None,
                lease_expires_at: 0,
                stalled_leases: 0,
                owner: 0,
                ..record
            }))
        })
    }

    /// The dead letters of `address`, in id order.
    fn dead_letters<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>>;

    /// Moves dead letter `id` of `address` back into its mailbox as message `new_id`, in
    /// one atomic write. `false` when there is no such dead letter (never was, or it was
    /// already redriven or discarded), and then nothing is written.
    fn redrive<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        new_id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Deletes dead letter `id` of `address`. `false` when there was none.
    fn discard_dead_letter<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Quarantines `address` if no owner newer than `epoch` (the caller's lease) has
    /// committed, releasing the lease in the same write. `false` when one has.
    fn quarantine<'a>(
        &'a self,
        address: &'a Address,
        epoch: u64,
        quarantine: &'a QuarantineRecord,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Lifts the quarantine of `address` that began at `lift.since`, fixing the record
    /// as `lift` says, and bumps the version (so no commit of an older owner can land).
    /// `false` when the actor is not under that quarantine.
    fn lift_quarantine<'a>(
        &'a self,
        address: &'a Address,
        lift: &'a Lift,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Up to `limit` actors of `actor_type` that have committed at least once, in address
    /// order, starting after `after`. On DynamoDB a `Query` of the sparse, keys-only
    /// index on the `#state` record's actor type, never a `Scan`: the index is written
    /// once, by an actor's first commit.
    fn list_actors<'a>(
        &'a self,
        actor_type: &'a ActorType,
        after: Option<&'a Address>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Address>, StoreError>>;

    /// Resets the committed state of `address` to its type's default (the mailbox, the
    /// dead letters and the bookkeeping that keeps messages exactly once stay), bumping
    /// the version so no commit of an older owner lands. [`Retired::Busy`] while a drain
    /// holds the lease at `now`.
    fn reset_state<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
    ) -> BoxFuture<'a, Result<Retired, StoreError>>;

    /// Deletes everything of `address`: its state record (so a drain still running
    /// cannot commit), then its queued messages, replies and dead letters.
    /// [`Retired::Busy`] while a drain holds the lease at `now`.
    fn delete_actor<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
    ) -> BoxFuture<'a, Result<Retired, StoreError>>;

    /// Up to `limit` subscriptions of the topic whose actor is `topic`, in key order,
    /// after key `after` (a page's [`SubscriptionPage::next`]). A page may hold fewer
    /// (DynamoDB skips removed ones after reading them); only `next == None` means the
    /// last page. `subscriber_types`: the actor types whose per-actor subscriptions to
    /// the topic the deployment runs, in one order for every page; a store that keeps
    /// subscriptions apart by subscriber type (see [`Store::subscription_writers`])
    /// reads theirs only, the others read every subscription of the topic.
    fn subscriptions<'a>(
        &'a self,
        topic: &'a Address,
        subscriber_types: &'a [ActorType],
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<SubscriptionPage, StoreError>>;

    /// Who writes per-actor subscriptions: the topic's handler, when a subscribe
    /// message reaches it ([`Store::write_subscription`]), or the subscribers' own
    /// commits ([`Commit::subscriptions`]). The DynamoDB store in key layout v2 keeps
    /// each subscriber type's subscriptions in a partition of its own, which only that
    /// type's function may write, so no sender can subscribe another actor. The
    /// default: the topics.
    fn subscription_writers(&self) -> SubscriptionWriters {
        SubscriptionWriters::Topics
    }

    /// Writes (`Some`) or removes (`None`) subscription `key` of `topic`, unless the
    /// stored one was written by message `by` or a later one: topic messages run in
    /// order, so a late write of an owner that lost its lease never undoes a later one.
    /// A removal leaves a tombstone to compare against (on DynamoDB it expires after a
    /// day).
    fn write_subscription<'a>(
        &'a self,
        topic: &'a Address,
        key: &'a str,
        record: Option<&'a SubscriptionRecord>,
        by: MessageId,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Every quarantined actor, in address order. On DynamoDB a `Query` of the sparse
    /// `quarantined` index, which holds only quarantined records.
    fn quarantined_actors(
        &self,
    ) -> BoxFuture<'_, Result<Vec<(Address, QuarantineRecord)>, StoreError>>;

    /// Every actor with at least one queued message due at `now` (milliseconds since
    /// the Unix epoch; see [`waits`]), in address order: what the audit
    /// (`recovery::audit`) nudges, to recover messages whose wake-up was lost where no
    /// one saw it fail. On DynamoDB this reads the whole table (a `Scan`): run it rarely
    /// (the generated template runs it hourly); the sweep reads the due index instead.
    fn pending_actors(&self, now: u64) -> BoxFuture<'_, Result<Vec<Address>, StoreError>>;

    /// Deletes queued message `id` of `address`: `false` when it is not queued (it ran,
    /// was cancelled, or never was). Used to cancel scheduled messages, which checks
    /// first that the message is not due yet.
    fn cancel<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// Who writes a store's per-actor subscriptions (see [`Store::subscription_writers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionWriters {
    /// The topic's handler, from subscribe messages (`ctx.subscribe` sends one): key
    /// layout v1 and the in-memory store.
    Topics,
    /// The subscriber's own commit; a topic refuses subscribe messages (key layout v2).
    Subscribers,
    /// The subscriber's own commit, while a topic still takes the subscribe messages
    /// of processes not yet upgraded (the transitional layout, `v1-to-v2`).
    SubscribersAndTopics,
}

impl SubscriptionWriters {
    /// Whether a subscriber's commit writes its subscriptions.
    #[must_use]
    pub fn subscribers_commit(self) -> bool {
        !matches!(self, Self::Topics)
    }

    /// Whether a topic takes subscribe and unsubscribe messages.
    #[must_use]
    pub fn topics_take_messages(self) -> bool {
        !matches!(self, Self::Subscribers)
    }
}

/// Whether queued message `id`, with `envelope`, is scheduled for later than `now`: it
/// waits in the mailbox, and drains and sweeps leave it until then. Only an id whose
/// time is ahead of `now` can be (a scheduled message's id carries its delivery time),
/// so most messages are told apart without decoding their envelope.
#[must_use]
pub fn waits(id: MessageId, envelope: &[u8], now: u64) -> bool {
    id.timestamp_millis() > now
        && crate::wire::Envelope::decode(envelope, &crate::codec::Limits::DEFAULT)
            .is_ok_and(|envelope| envelope.waits_at(now))
}
