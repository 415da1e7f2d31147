//! The mailbox protocol: how one invocation drains one actor's mailbox.
//!
//! 1. **Acquire** the lease with one conditional write that bumps the fencing epoch and
//!    returns the state record. A live owner holds it: return, that owner sees our
//!    message.
//! 2. **Finish** the previous batch's cleanup, recorded in the state record, if its owner
//!    crashed after committing: the first mailbox read shows whether any of that batch's
//!    messages are still there (cleanup deletes them last).
//! 3. **Drain** the mailbox in id order, a batch at a time: decode and dispatch each
//!    message against the in-memory state, rolling a message back (from the encoded
//!    snapshot of the state before it) when it returns `Err` or panics.
//! 4. **Commit** the batch with one write conditioned on epoch and version; it stores the
//!    state, which message ids the batch consumed and their replies, and, atomically, the
//!    messages the handlers sent to other actors. A fenced commit drops the batch.
//! 5. **Clean up**: move failures to the dead letters, delete consumed messages, write
//!    replies. All idempotent, so a later owner can repeat them.
//! 6. When a batch reads the whole mailbox its commit also **releases** the lease; then
//!    read the mailbox once more, to close the race with a message whose nudge arrived
//!    while we held the lease.
//!
//! A message that kills its process (an abort, a timeout, running out of memory) cannot
//! be caught like a panic. The state record counts the leases taken since the actor last
//! made progress ([`StateRecord::stalled_leases`], kept by the writes the protocol makes
//! anyway); after a stalled lease the next owner commits one message at a time, so the
//! message left at the head after [`DrainConfig::max_attempts`] stalls in a row is the
//! one that kills the process, and it is dead-lettered without running again.
//!
//! Every step is a call on [`Store`], so the protocol runs unchanged on every store.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Outcome};
use crate::clock::{millis, Clock};
use crate::codec::{self, Limits};
use crate::context::{Context, Outbox};
use crate::error::{describe_panic, CodecError, Error};
use crate::id::{ActorId, ActorType, Address, MessageId};
use crate::invoke::{Drain, Invoker};
use crate::store::{
    BoxFuture, Cleanup, Commit, CommitOutcome, Failure, KeyedBytes, MailboxItem, StateRecord, Store,
};

/// Longest error text kept in a dead letter or reply.
const MAX_ERROR_LEN: usize = 1024;

/// Tunables of the drain loop.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// Messages read and committed together. More amortizes the acquire and the commit
    /// over more messages; DynamoDB reads at most 1 MB per query either way.
    pub batch_size: usize,
    /// How long a lease lasts without a commit. A batch stops taking messages when less
    /// than [`DrainConfig::deadline_margin`] of it is left, and its commit renews it; so
    /// it must exceed the margin plus the slowest single message.
    pub lease: Duration,
    /// Tries of a message whose handler panics before it is dead-lettered. Also how many
    /// invocations in a row may stop (crash, time out, lose the lease) before the message
    /// at the head of the mailbox is dead-lettered without running again. Such a message
    /// runs at most `max_attempts + 1` times: the first stall may come in a batch, where
    /// the culprit is not yet known.
    pub max_attempts: u32,
    /// How long a reply waits for its asker.
    pub reply_ttl: Duration,
    /// How many consumed idempotency keys an actor remembers.
    pub dedupe_window: usize,
    /// A batch stops taking messages once its replies and failures reach this many bytes,
    /// so the state record (state + bookkeeping) stays under the store's item limit.
    pub max_batch_bookkeeping_bytes: usize,
    /// Most messages one handler call may send. A batch stops taking messages once it
    /// holds this many sends, so a batch commits at most twice this many (DynamoDB
    /// transactions hold 100 items, the state among them).
    pub max_sends_per_message: usize,
    /// Stop draining this long before the invocation's deadline, leaving the rest to a
    /// fresh invocation.
    pub deadline_margin: Duration,
    /// Payload limits.
    pub limits: Limits,
}

impl Default for DrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            lease: Duration::from_secs(60),
            max_attempts: 3,
            reply_ttl: Duration::from_secs(600),
            dedupe_window: 128,
            max_batch_bookkeeping_bytes: 64 * 1024,
            max_sends_per_message: 49,
            deadline_margin: Duration::from_secs(2),
            limits: Limits::DEFAULT,
        }
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrainEnd {
    /// The mailbox was empty after the lease was released.
    #[default]
    Empty,
    /// A live owner holds the lease; it will process what is queued.
    Busy,
    /// Another owner took the lease over; this invocation's last batch was dropped.
    Fenced,
    /// The deadline came near; the rest was handed to a fresh invocation.
    Deadline,
}

/// What one drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Messages applied (the method returned normally).
    pub processed: usize,
    /// Messages whose method returned `Err` (consumed, state unchanged).
    pub failed: usize,
    /// Messages moved to the dead letters.
    pub dead_lettered: usize,
    /// Messages skipped because their idempotency key was already consumed.
    pub duplicates: usize,
    /// Committed batches.
    pub batches: usize,
    /// How the drain ended.
    pub end: DrainEnd,
    /// The encoded reply to [`DrainOptions::reply_for`], when this drain committed it.
    pub reply: Option<Vec<u8>>,
}

/// What one drain should do besides draining.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainOptions {
    /// The invocation's deadline, in milliseconds since the Unix epoch on the host clock:
    /// stop [`DrainConfig::deadline_margin`] before it and release the lease, ending with
    /// [`DrainEnd::Deadline`] so the caller hands the rest to a fresh invocation.
    pub deadline_millis: Option<u64>,
    /// Return the reply to this message in [`DrainReport::reply`] if this drain commits it.
    pub reply_for: Option<MessageId>,
}

/// A queued message as stored: the encoded message body and how to treat it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The encoded `{Actor}Message`.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// Whether the sender waits for a reply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ask: bool,
    /// The sender's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Envelope {
    pub(crate) fn new(body: Vec<u8>, ask: bool, key: Option<String>) -> Self {
        Self { body, ask, key }
    }

    /// Encodes the envelope; its body must fit [`Limits::max_message_bytes`].
    ///
    /// # Errors
    /// [`CodecError::TooLarge`] for an oversized body.
    pub fn encode(&self, limits: &Limits) -> Result<Vec<u8>, CodecError> {
        if self.body.len() > limits.max_message_bytes {
            return Err(CodecError::TooLarge {
                what: "message",
                size: self.body.len(),
                limit: limits.max_message_bytes,
            });
        }
        codec::encode(self, "message envelope", limits.max_message_bytes + 512)
    }

    /// Decodes an envelope read from a mailbox.
    ///
    /// # Errors
    /// Any [`CodecError`]; never panics.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, CodecError> {
        codec::decode(bytes, "message envelope", limits.max_message_bytes + 512, 4)
    }
}

/// What an asker finds under the message id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ReplyRecord {
    Ok(#[serde(with = "serde_bytes")] Vec<u8>),
    Err(#[serde(with = "serde_bytes")] Vec<u8>),
    DeadLettered(String),
    Duplicate,
}

/// What the state record remembers of the last committed batch, and across batches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Bookkeeping {
    #[serde(default)]
    consumed: Vec<MessageId>,
    #[serde(default)]
    replies: Vec<KeyedBytes>,
    #[serde(default)]
    failures: Vec<Failure>,
    /// The last message id this actor generated for its sends.
    #[serde(default)]
    last_sent: Option<MessageId>,
    #[serde(default)]
    recent_keys: VecDeque<String>,
    /// Bytes of `replies` and `failures` so far, so the per-message budget check is O(1).
    #[serde(skip)]
    recorded_bytes: usize,
}

impl Bookkeeping {
    /// The bookkeeping of a new batch: per-batch lists empty, cross-batch memory kept.
    fn next_batch(&self) -> Self {
        Self {
            last_sent: self.last_sent,
            recent_keys: self.recent_keys.clone(),
            ..Self::default()
        }
    }

    fn bytes(&self) -> usize {
        self.recorded_bytes + self.consumed.len() * 18
    }

    fn fail(&mut self, failure: Failure) {
        self.recorded_bytes += failure.error.len() + 24;
        self.failures.push(failure);
    }

    fn reply(&mut self, id: MessageId, record: &ReplyRecord) -> Result<(), Error> {
        let bytes = codec::encode(record, "reply", usize::MAX)?;
        self.recorded_bytes += bytes.len() + 24;
        self.replies.push(KeyedBytes { id, bytes });
        Ok(())
    }

    fn remember_key(&mut self, key: Option<String>, window: usize) {
        if let Some(key) = key {
            self.recent_keys.push_back(key);
            while self.recent_keys.len() > window {
                self.recent_keys.pop_front();
            }
        }
    }
}

/// How one lease ended.
enum LeaseEnd {
    Released,
    Busy,
    Fenced,
    Deadline,
}

/// Runs the mailbox protocol for actor type `A` over a store, an invoker and a clock.
/// The embedded runtime and the Lambda handler both drive actors through it.
pub struct ActorHost<A> {
    actor_type: ActorType,
    store: Arc<dyn Store>,
    invoker: Arc<dyn Invoker>,
    clock: Arc<dyn Clock>,
    config: DrainConfig,
    actor: PhantomData<fn() -> A>,
}

impl<A> std::fmt::Debug for ActorHost<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorHost")
            .field("actor_type", &self.actor_type)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<A> Clone for ActorHost<A> {
    fn clone(&self) -> Self {
        Self {
            actor_type: self.actor_type.clone(),
            store: Arc::clone(&self.store),
            invoker: Arc::clone(&self.invoker),
            clock: Arc::clone(&self.clock),
            config: self.config.clone(),
            actor: PhantomData,
        }
    }
}

impl<A: Actor> ActorHost<A> {
    /// A host of `A` actors.
    ///
    /// # Errors
    /// [`Error::InvalidActorType`] when `A::TYPE_NAME` is not a valid name.
    pub fn new(
        store: Arc<dyn Store>,
        invoker: Arc<dyn Invoker>,
        clock: Arc<dyn Clock>,
        config: DrainConfig,
    ) -> Result<Self, Error> {
        Ok(Self {
            actor_type: ActorType::new(A::TYPE_NAME)?,
            store,
            invoker,
            clock,
            config,
            actor: PhantomData,
        })
    }

    /// The actor type this host runs.
    #[must_use]
    pub fn actor_type(&self) -> &ActorType {
        &self.actor_type
    }

    /// The drain settings.
    #[must_use]
    pub fn config(&self) -> &DrainConfig {
        &self.config
    }

    /// Drains actor `id`'s mailbox until it is empty (or another owner holds it).
    ///
    /// # Errors
    /// Store failures and undecodable state. Messages stay queued: a later drain retries.
    pub async fn drain(&self, id: &ActorId) -> Result<DrainReport, Error> {
        self.drain_with(id, DrainOptions::default()).await
    }

    /// Like [`ActorHost::drain`], with a deadline and a reply to return (see
    /// [`DrainOptions`]).
    ///
    /// # Errors
    /// As [`ActorHost::drain`].
    pub async fn drain_with(
        &self,
        id: &ActorId,
        options: DrainOptions,
    ) -> Result<DrainReport, Error> {
        // Shared with every message's context, so dispatch does not copy it.
        let address = Arc::new(Address::new(self.actor_type.clone(), id.clone()));
        let mut report = DrainReport::default();
        loop {
            let end = self.drain_one_lease(&address, options, &mut report).await?;
            report.end = match end {
                LeaseEnd::Released => {
                    // A message enqueued while we held the lease had its nudge end in
                    // `Busy`: look once more after releasing, or it would wait for the
                    // next nudge.
                    if self.store.read_mailbox(&address, 1).await?.is_empty() {
                        DrainEnd::Empty
                    } else {
                        continue;
                    }
                }
                LeaseEnd::Busy => DrainEnd::Busy,
                LeaseEnd::Fenced => DrainEnd::Fenced,
                LeaseEnd::Deadline => DrainEnd::Deadline,
            };
            return Ok(report);
        }
    }

    fn deadline_near(&self, deadline: Option<u64>) -> bool {
        deadline.is_some_and(|d| {
            self.clock
                .now_millis()
                .saturating_add(millis(self.config.deadline_margin))
                >= d
        })
    }

    async fn drain_one_lease(
        &self,
        address: &Arc<Address>,
        options: DrainOptions,
        report: &mut DrainReport,
    ) -> Result<LeaseEnd, Error> {
        let now = self.clock.now_millis();
        let Some(record) = self
            .store
            .acquire(address, now, now + millis(self.config.lease))
            .await?
        else {
            return Ok(LeaseEnd::Busy);
        };
        let epoch = record.epoch;
        let held = self.hold_lease(address, record, options, report).await;
        if held.is_err() {
            // A failed store call or undecodable state is not the messages' fault: free
            // the lease now rather than make the next invocation wait for it to expire
            // (and count it as a stall). If this fails too, the lease expires.
            let _ = self.store.release(address, epoch).await;
        }
        held
    }

    /// Steps 2 to 6 of the protocol, under the lease that `record` was acquired with.
    async fn hold_lease(
        &self,
        address: &Arc<Address>,
        record: StateRecord,
        options: DrainOptions,
        report: &mut DrainReport,
    ) -> Result<LeaseEnd, Error> {
        let deadline = options.deadline_millis;
        let limits = self.config.limits;
        let epoch = record.epoch;
        let mut version = record.version;
        let mut lease_until = record.lease_expires_at;
        // Owners before us that stopped without committing or releasing: crashed, timed
        // out or lost the lease. After one, commit one message at a time for the rest of
        // this lease, so that if a message kills the process, it is the one left at the
        // head; after `max_attempts` in a row, that head is dead-lettered unrun.
        let stalls = record.stalled_leases.saturating_sub(1);
        let batch_size = if stalls > 0 {
            1
        } else {
            self.config.batch_size
        };
        let mut blame_head = stalls >= self.config.max_attempts;
        let mut book: Bookkeeping = match &record.meta {
            Some(bytes) => codec::decode(bytes, "batch bookkeeping", usize::MAX, 8)?,
            None => Bookkeeping::default(),
        };
        // `snapshot` is always the encoding of `state` as of the last applied message: the
        // bytes to commit, and the point to roll back to.
        let mut snapshot = match record.state {
            Some(bytes) => bytes,
            None => codec::encode(&A::default(), "actor state", limits.max_state_bytes)?,
        };
        let mut state: A = self.restore(&snapshot)?;
        // The previous batch's cleanup may not have finished if its owner crashed. Cleanup
        // deletes consumed messages last, so if none of them is left in the mailbox, it
        // finished; the first read below tells, which saves a blind repeat per drain.
        let mut previous_cleanup_unchecked = !book.consumed.is_empty();

        loop {
            if self.deadline_near(deadline) {
                self.store.release(address, epoch).await?;
                return Ok(LeaseEnd::Deadline);
            }
            let items = self.store.read_mailbox(address, batch_size).await?;
            if std::mem::take(&mut previous_cleanup_unchecked) {
                let leftovers = items.iter().any(|item| book.consumed.contains(&item.id));
                if leftovers || items.len() >= batch_size {
                    self.cleanup(address, &book).await?;
                }
            }
            if items.is_empty() {
                self.store.release(address, epoch).await?;
                return Ok(LeaseEnd::Released);
            }
            let mut next = book.next_batch();
            let mut outgoing = Vec::new();
            let mut read_all = items.len() < batch_size;
            let mut stopped_for_deadline = false;
            for item in &items {
                if book.consumed.contains(&item.id) {
                    // Consumed by the previous batch but still listed (its delete raced
                    // this read): delete it again, never run it again.
                    next.consumed.push(item.id);
                    continue;
                }
                if self.deadline_near(deadline) {
                    (read_all, stopped_for_deadline) = (false, true);
                    break;
                }
                if next.bytes() >= self.config.max_batch_bookkeeping_bytes
                    || outgoing.len() >= self.config.max_sends_per_message
                    || self.lease_near_end(lease_until)
                {
                    // The commit below renews the lease.
                    read_all = false;
                    break;
                }
                if std::mem::take(&mut blame_head) {
                    give_up_unrun(item, stalls, &limits, &mut next, report)?;
                    continue;
                }
                self.process(
                    address,
                    item,
                    &mut state,
                    &mut snapshot,
                    &mut next,
                    &mut outgoing,
                    report,
                )
                .await?;
            }
            let release = read_all || stopped_for_deadline;
            let now = self.clock.now_millis();
            let commit = Commit {
                epoch,
                expected_version: version,
                state: snapshot.clone(),
                meta: codec::encode(&next, "batch bookkeeping", usize::MAX)?,
                lease_expires_at: if release {
                    0
                } else {
                    now + millis(self.config.lease)
                },
                outgoing,
            };
            if self.store.commit(address, &commit).await? == CommitOutcome::Fenced {
                return Ok(LeaseEnd::Fenced);
            }
            version += 1;
            lease_until = commit.lease_expires_at;
            report.batches += 1;
            book = next;
            if let Some(wanted) = options.reply_for {
                if let Some(reply) = book.replies.iter().find(|r| r.id == wanted) {
                    report.reply = Some(reply.bytes.clone());
                }
            }
            self.nudge_recipients(&commit.outgoing).await;
            self.cleanup(address, &book).await?;
            if stopped_for_deadline {
                return Ok(LeaseEnd::Deadline);
            }
            if release {
                return Ok(LeaseEnd::Released);
            }
        }
    }

    /// Whether the lease ends within the deadline margin: stop taking messages and commit,
    /// which renews it, rather than run on while another owner may take it over.
    fn lease_near_end(&self, lease_until: u64) -> bool {
        self.clock
            .now_millis()
            .saturating_add(millis(self.config.deadline_margin))
            >= lease_until
    }

    /// Applies one message to `state`, recording its reply or failure in `next`.
    #[allow(clippy::too_many_arguments)]
    async fn process(
        &self,
        address: &Arc<Address>,
        item: &MailboxItem,
        state: &mut A,
        snapshot: &mut Vec<u8>,
        next: &mut Bookkeeping,
        outgoing: &mut Vec<(Address, MailboxItem)>,
        report: &mut DrainReport,
    ) -> Result<(), Error> {
        let limits = self.config.limits;
        next.consumed.push(item.id);
        let envelope = match Envelope::decode(&item.envelope, &limits) {
            Ok(envelope) => envelope,
            Err(error) => {
                // We cannot even tell whether someone waits for a reply; an asker times out.
                next.fail(failure(
                    item.id,
                    format!("undecodable message envelope: {error}"),
                    1,
                ));
                report.dead_lettered += 1;
                return Ok(());
            }
        };
        if let Some(key) = &envelope.key {
            if next.recent_keys.contains(key) {
                if envelope.ask {
                    next.reply(item.id, &ReplyRecord::Duplicate)?;
                }
                report.duplicates += 1;
                return Ok(());
            }
        }
        let mut attempts = 0;
        let error = loop {
            attempts += 1;
            let message: A::Message = match codec::decode(
                &envelope.body,
                "message",
                limits.max_message_bytes,
                limits.max_depth,
            ) {
                Ok(message) => message,
                // Decoding is deterministic: retrying cannot help.
                Err(error) => break error.to_string(),
            };
            let read_only = A::is_read_only(&message);
            let outbox = Arc::new(Outbox::new(self.clock.now_millis(), limits, next.last_sent));
            let mut ctx = Context::new(
                Arc::clone(address),
                item.id,
                envelope.ask,
                Arc::clone(&outbox),
            );
            let result = {
                let (state, ctx) = (&mut *state, &mut ctx);
                match std::panic::catch_unwind(AssertUnwindSafe(move || state.handle(message, ctx)))
                {
                    Ok(future) => CatchUnwind(future).await,
                    Err(panic) => Err(panic),
                }
            };
            let (sent, last_sent) = outbox.take();
            match result {
                Ok(Ok(Outcome::Ok(reply))) => {
                    if sent.len() > self.config.max_sends_per_message {
                        self.roll_back(state, snapshot, read_only)?;
                        break format!(
                            "the handler sent {} messages, more than the limit of {} per message",
                            sent.len(),
                            self.config.max_sends_per_message
                        );
                    }
                    if !read_only {
                        match codec::encode(&*state, "actor state", limits.max_state_bytes) {
                            Ok(bytes) => *snapshot = bytes,
                            Err(error) => {
                                self.roll_back(state, snapshot, false)?;
                                break format!("the new state was rejected, the previous state is kept: {error}");
                            }
                        }
                    }
                    outgoing.extend(sent);
                    next.last_sent = last_sent;
                    next.remember_key(envelope.key, self.config.dedupe_window);
                    if envelope.ask {
                        next.reply(item.id, &ReplyRecord::Ok(reply))?;
                    }
                    report.processed += 1;
                    return Ok(());
                }
                Ok(Ok(Outcome::Err(error))) => {
                    self.roll_back(state, snapshot, read_only)?;
                    next.remember_key(envelope.key, self.config.dedupe_window);
                    if envelope.ask {
                        next.reply(item.id, &ReplyRecord::Err(error))?;
                    }
                    report.failed += 1;
                    return Ok(());
                }
                Ok(Err(error)) => {
                    self.roll_back(state, snapshot, read_only)?;
                    break format!("could not encode the handler's result: {error}");
                }
                Err(panic) => {
                    // A panic may have left a half-updated state, even behind `&self`
                    // with interior mutability: always restore.
                    self.roll_back(state, snapshot, false)?;
                    if attempts >= self.config.max_attempts {
                        break describe_panic(panic.as_ref());
                    }
                }
            }
        };
        let error = truncate(error);
        if envelope.ask {
            next.reply(item.id, &ReplyRecord::DeadLettered(error.clone()))?;
        }
        next.fail(failure(item.id, error, attempts));
        report.dead_lettered += 1;
        Ok(())
    }

    fn restore(&self, snapshot: &[u8]) -> Result<A, Error> {
        let limits = self.config.limits;
        Ok(codec::decode(
            snapshot,
            "actor state",
            usize::MAX,
            limits.max_depth,
        )?)
    }

    fn roll_back(&self, state: &mut A, snapshot: &[u8], read_only: bool) -> Result<(), Error> {
        if !read_only {
            *state = self.restore(snapshot)?;
        }
        Ok(())
    }

    async fn cleanup(&self, address: &Address, book: &Bookkeeping) -> Result<(), Error> {
        if book.consumed.is_empty() && book.replies.is_empty() && book.failures.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_millis();
        let cleanup = Cleanup {
            dead_letters: &book.failures,
            delete: &book.consumed,
            replies: &book.replies,
            replies_expire_at: now + millis(self.config.reply_ttl),
            now,
        };
        Ok(self.store.cleanup(address, cleanup).await?)
    }

    async fn nudge_recipients(&self, outgoing: &[(Address, MailboxItem)]) {
        let mut recipients: Vec<&Address> = outgoing.iter().map(|(to, _)| to).collect();
        recipients.sort();
        recipients.dedup();
        for to in recipients {
            if let Err(error) = self.invoker.nudge(to).await {
                // Committed messages are durable; the next nudge or a sweep delivers them.
                eprintln!("mqless: committed messages for {to} wait for the next nudge: {error}");
            }
        }
    }
}

impl<A: Actor> Drain for ActorHost<A> {
    fn drain(self: Arc<Self>, id: ActorId) -> BoxFuture<'static, Result<DrainReport, Error>> {
        Box::pin(async move { ActorHost::drain(&self, &id).await })
    }
}

/// Dead-letters `item` without running it: the last `stalls` owners in a row stopped
/// while it was next.
fn give_up_unrun(
    item: &MailboxItem,
    stalls: u32,
    limits: &Limits,
    next: &mut Bookkeeping,
    report: &mut DrainReport,
) -> Result<(), Error> {
    next.consumed.push(item.id);
    let error = format!(
        "{stalls} invocations in a row stopped (crashed, timed out or lost the lease) with this message next; it was not run again"
    );
    if Envelope::decode(&item.envelope, limits).is_ok_and(|envelope| envelope.ask) {
        next.reply(item.id, &ReplyRecord::DeadLettered(error.clone()))?;
    }
    next.fail(failure(item.id, error, stalls));
    report.dead_lettered += 1;
    Ok(())
}

fn failure(id: MessageId, error: String, attempts: u32) -> Failure {
    Failure {
        id,
        error: truncate(error),
        attempts,
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_ERROR_LEN {
        let mut cut = MAX_ERROR_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Polls a future, turning a panic during any poll into an `Err`.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(future).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
