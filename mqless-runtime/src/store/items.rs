//! What a store holds and is asked to write: a queued message, an actor's record, a
//! commit, a cleanup, a quarantine and its lift, a subscription.

use super::{DeadLetter, Failure};
use crate::id::{Address, MessageId};

/// One queued message: its id (the mailbox sort key) and its encoded envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxItem {
    /// The message id; the mailbox is read in id order.
    pub id: MessageId,
    /// The encoded envelope (see [`crate::wire::Envelope`]).
    pub envelope: Vec<u8>,
}

/// What a caller outside an actor may know of the first message in its mailbox: its id
/// and, if it is scheduled, when it is due; never its envelope, which holds another
/// client's request (key layout v2's `ClientPolicy` reads a mailbox by these only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedHead {
    /// The message id.
    pub id: MessageId,
    /// When a scheduled message is due (ms; the earlier of its delivery time and its
    /// id's time), `None` for one sent to run now.
    pub due_at: Option<u64>,
}

impl QueuedHead {
    /// Whether it waits for its time at `now`: drains leave it until then.
    #[must_use]
    pub fn waits(&self, now: u64) -> bool {
        self.due_at.is_some_and(|at| at > now)
    }
}

/// An actor's record, as the protocol sees it: its state record, with the lease's
/// fields from its lease item when that is newer (see `store/record.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateRecord {
    /// Number of committed batches. A commit must name the version it read.
    pub version: u64,
    /// The lease's epoch, one higher at every acquire. A commit writes the epoch of its
    /// lease into the state record, so that a newer lease tells itself from it.
    pub epoch: u64,
    /// When the lease runs out, in milliseconds since the Unix epoch; 0 when released.
    pub lease_expires_at: u64,
    /// Leases taken since the actor last made progress, counting the current one:
    /// `acquire` adds one, a commit sets it to 1 (its lease is still open) or to 0 (when
    /// it releases), a release sets it to 0. So right after an acquire,
    /// `stalled_leases - 1` owners in a row stopped without committing or releasing:
    /// their process crashed, timed out, or lost its lease. The protocol uses this to
    /// find a message that kills its process (see [`crate::mailbox`]).
    pub stalled_leases: u32,
    /// The token of the owner that took the lease last (random per acquire): tells an
    /// acquire whose answer was lost from a crashed owner (see [`Store::abandon`](super::Store::abandon)).
    pub owner: u64,
    /// The encoded actor state; `None` before the first commit.
    pub state: Option<Vec<u8>>,
    /// The encoded bookkeeping of the last batch (consumed ids, replies, dead letters).
    pub meta: Option<Vec<u8>>,
    /// Set when the actor is quarantined: its own record failed deterministically (its
    /// state does not decode, its commit cannot fit DynamoDB's limits). Drains leave it
    /// alone, and its messages stay queued, until an operator lifts it (see
    /// [`crate::recovery::Quarantine`]).
    pub quarantine: Option<QuarantineRecord>,
    /// Why the store could not read this record as MQLess writes it (an attribute of the
    /// wrong type, written past MQLess), or `None`. An owner that acquires a damaged
    /// record quarantines the actor instead of failing on it every time.
    pub damage: Option<String>,
    /// When the record expires (its last commit's [`Commit::expires_at`]); past it, the
    /// state reads as the default even before the store deletes it.
    pub expires_at: Option<u64>,
    /// When the actor needs a wake-up that none of its scheduled messages stands for: the
    /// record's entry in the due index (see [`due`](super::due)), or `None`.
    pub mark: Option<u64>,
    /// Whether a wake-up found the lease held since the last commit, and said so (see
    /// [`Store::knock`](super::Store::knock)): that commit's owner reads the mailbox again.
    pub knocked: bool,
}

impl StateRecord {
    /// Whether the record is past its idle time to live at `now` (ms): its state then
    /// reads as the default, deleted by DynamoDB's TTL or not yet.
    #[must_use]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The committed state, unless the record expired at `now`.
    #[must_use]
    pub fn live_state(&self, now: u64) -> Option<&[u8]> {
        self.state.as_deref().filter(|_| !self.is_expired(now))
    }
}

/// Why and since when an actor is quarantined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRecord {
    /// What failed, and what to do about it.
    pub reason: String,
    /// When, in milliseconds since the Unix epoch.
    pub since: u64,
}

/// What lifting a quarantine does to the actor's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lift {
    /// The quarantine to lift: the lift does nothing if the actor was quarantined again
    /// since (by another reason or time).
    pub since: u64,
    /// The state to keep.
    pub state: StateFix,
    /// Forget the last batch's bookkeeping (use when it is what does not decode). Its
    /// unfinished cleanup is lost: a message it consumed but had not deleted runs again,
    /// and an emission it had not delivered is not delivered (unless that message's run
    /// emits it again).
    pub clear_bookkeeping: bool,
}

/// The state a lifted quarantine leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateFix {
    /// Keep the stored state (a fix, such as a state migration, was deployed).
    Keep,
    /// Replace it with these encoded bytes.
    Replace(Vec<u8>),
    /// Remove it: the actor starts again from its `Default`.
    Reset,
}

/// The conditional write that ends a batch.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The epoch of the lease committing (an optimistic commit: of the record it read),
    /// written with the state.
    pub epoch: u64,
    /// Must equal the record's version; the commit writes `expected_version + 1`.
    pub expected_version: u64,
    /// The new encoded state.
    pub state: Vec<u8>,
    /// The new encoded bookkeeping.
    pub meta: Vec<u8>,
    /// The new lease expiry; 0 releases the lease in the same write.
    pub lease_expires_at: u64,
    /// Messages to other actors, written atomically with the state.
    pub outgoing: Vec<(Address, MailboxItem)>,
    /// The message being handled, left at the head of this actor's mailbox under its own
    /// id with a new envelope, instead of consumed: the next step of a job that spans
    /// several commits (a topic's fan-out), which must run before anything queued after
    /// it. Written atomically with the state; it overwrites the queued item.
    pub continued: Option<MailboxItem>,
    /// When the record expires without another commit (ms since the Unix epoch): the
    /// actor type's idle time to live, on DynamoDB the item's `ttl`. `None`: never.
    pub expires_at: Option<u64>,
    /// The record's mark in the due index after the commit (see [`StateRecord::mark`]):
    /// `None` when the commit releases the lease (the owner then reads the mailbox once
    /// more), else the mark the lease found, kept.
    pub mark: Option<u64>,
    /// The committing actor's own subscriptions made or ended by the batch
    /// (`ctx.subscribe`, `ctx.unsubscribe`), written atomically with the state, where
    /// subscribers write them (see [`Store::subscription_writers`]). At most one per
    /// topic and method: the batch keeps the last.
    ///
    /// [`Store::subscription_writers`]: super::Store::subscription_writers
    pub subscriptions: Vec<SubscriptionChange>,
}

/// A subscription that a subscriber's commit makes or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChange {
    /// The topic's actor.
    pub topic: Address,
    /// The subscription: its subscriber is the committing actor.
    pub record: SubscriptionRecord,
    /// `true` subscribes (or replaces the pattern), `false` ends the subscription.
    pub subscribed: bool,
}

impl SubscriptionChange {
    /// Bytes it adds to a commit's transaction, at most (DynamoDB's item overhead
    /// included).
    #[must_use]
    pub fn bytes(&self) -> usize {
        let record = &self.record;
        self.topic.to_string().len()
            + 2 * record.subscriber.to_string().len()
            + 2 * record.method.len()
            + record.argument.len()
            + record.pattern.as_ref().map_or(0, String::len)
            + super::ITEM_OVERHEAD_BYTES
            + 64
    }
}

/// Bytes keyed by a message id (a reply, in the bookkeeping of a batch).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyedBytes {
    /// The message the bytes belong to.
    pub id: MessageId,
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    /// For a reply: who asked, when the ask named its asker (see
    /// [`Envelope::asker`](crate::wire::Envelope::asker)); the store keys the reply by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asker: Option<String>,
}

/// A per-actor subscription to a topic's events (`ctx.subscribe`), stored in the
/// partition of the topic's actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// The subscribing actor.
    pub subscriber: Address,
    /// The wire name of the method each event calls.
    pub method: String,
    /// The name of the method's argument that receives the event.
    pub argument: String,
    /// Which events (an EventBridge event pattern); `None`: all.
    pub pattern: Option<String>,
}

impl SubscriptionRecord {
    /// The subscription's key in its topic: subscriber and method.
    #[must_use]
    pub fn key(&self) -> String {
        Self::key_of(&self.subscriber, &self.method)
    }

    /// The key of `subscriber`'s subscription of `method`.
    #[must_use]
    pub fn key_of(subscriber: &Address, method: &str) -> String {
        format!("{subscriber}#{method}")
    }
}

/// A page of a topic's subscriptions, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionPage {
    /// The subscriptions.
    pub subscriptions: Vec<SubscriptionRecord>,
    /// Where the next page starts (pass it as `after`); `None` after the last.
    pub next: Option<String>,
}

/// What [`Store::reset_state`](super::Store::reset_state) or [`Store::delete_actor`](super::Store::delete_actor) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// Done.
    Done,
    /// The actor has no state record (reset) or nothing at all (delete).
    Missing,
    /// A drain holds the actor's lease: try again when it ends.
    Busy,
}

/// The idempotent writes that follow a commit: move failed messages to the dead letters,
/// write the dead letters of refused emissions, store replies, then delete consumed
/// messages. A later owner repeats them if this one crashes before they finish.
///
/// Stores must delete the consumed messages only after the dead letters and replies are
/// written: the protocol takes "no consumed message left" as proof that the cleanup
/// finished.
#[derive(Debug, Clone, Copy)]
pub struct Cleanup<'a> {
    /// Dead letters of emissions their channels refused (kind
    /// [`DeadLetterKind::Undeliverable`](super::DeadLetterKind::Undeliverable)): written unless a letter of that id exists.
    pub undeliverable: &'a [DeadLetter],
    /// Messages that failed: moved to the dead letters before the deletes.
    pub dead_letters: &'a [Failure],
    /// Messages consumed by the committed batch (including the failed ones).
    pub delete: &'a [MessageId],
    /// Encoded replies for asks.
    pub replies: &'a [KeyedBytes],
    /// When the replies may be discarded (milliseconds since the Unix epoch).
    pub replies_expire_at: u64,
    /// When the dead letters expire, for actor types with an idle time to live (DynamoDB's
    /// TTL deletes them; the in-memory store keeps them).
    pub dead_letters_expire_at: Option<u64>,
    /// The caller's clock, for discarding expired replies.
    pub now: u64,
    /// Last, after the deletes: the state record's expiry, when the commit left it to
    /// the cleanup (a batch that stopped its actor, `Context::stop`; an idle expiry
    /// suspended while a channel could not take the batch's emissions). Set only once
    /// nothing is left to clean up, so TTL cannot delete the record, and the bookkeeping
    /// a cut cleanup is repeated from, while that cleanup waits for its repeat.
    pub expire_record: Option<RecordExpiry>,
}

impl Cleanup<'_> {
    /// A cleanup that only sets the record's expiry (and discards expired replies).
    #[must_use]
    pub fn expiry_only(expiry: RecordExpiry, now: u64) -> Self {
        Cleanup {
            undeliverable: &[],
            dead_letters: &[],
            delete: &[],
            replies: &[],
            replies_expire_at: now,
            dead_letters_expire_at: None,
            now,
            expire_record: Some(expiry),
        }
    }
}

/// The state record's expiry, written by a cleanup (see [`Cleanup::expire_record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordExpiry {
    /// The version the cleanup's batch committed: a later commit decides the expiry
    /// itself, so the write applies only while the record is still at this version.
    pub version: u64,
    /// When the record expires (ms since the Unix epoch); `None`: not while it waits
    /// (an idle expiry suspended until the cleanup is done).
    pub at: Option<u64>,
}
