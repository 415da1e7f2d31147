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
//! 5. **Clean up** (`cleanup.rs`): deliver the batch's emissions to their channels
//!    (`Context::emit`, `delivery.rs`), move failures to the dead letters, write
//!    replies, delete consumed messages, and last set the record's expiry when the commit
//!    left it to the cleanup (a stop). All idempotent (a repeated emission keeps its
//!    id), so a later owner can repeat them; the record outlives a cleanup not done.
//! 6. When a batch reads the whole mailbox its commit also **releases** the lease; then
//!    read the mailbox once more, to close the race with a message whose nudge arrived
//!    while we held the lease.
//!
//! A message that kills its process (an abort, a timeout, running out of memory) cannot
//! be caught like a panic. The state record counts the leases taken since the actor last
//! made progress ([`StateRecord::stalled_leases`](crate::store::StateRecord::stalled_leases), kept by the writes the protocol makes
//! anyway); after a stalled lease the next owner commits one message at a time, so the
//! message left at the head after [`DrainConfig::max_attempts`] stalls in a row is the
//! one that kills the process, and it is dead-lettered without running again.
//!
//! Every step is a call on [`Store`], so the protocol runs unchanged on every store.

mod batch;
#[cfg(feature = "testing")]
pub(crate) use batch::STALLED;
mod bookkeeping;
mod cleanup;
mod config;
mod delivery;

mod lease;
mod reminder;
pub(crate) use reminder::live_reminders;
mod working_state;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::actor::Actor;
use crate::clock::{millis, Clock};
use crate::error::Error;
use crate::events::{Emitter, NoEmitter};
use crate::id::{ActorId, ActorType, Address, MessageId};
use crate::invoke::Invoker;
use crate::local_replies::{LocalReplies, ReplySender};
use crate::store::{Acquired, KeyedBytes, MailboxItem, QuarantineRecord, StateRecord, Store};

use bookkeeping::Bookkeeping;
pub use config::{DrainConfig, DrainEnd, DrainOptions, DrainReport, OPTIMISTIC_FRESHNESS};
use lease::{Damaged, Lease, LeaseEnd};

/// How many times a wake-up that found the lease held acquires again after its knock
/// found the record moved (the owner committed since the read).
const KNOCK_RACES: usize = 3;

/// A committed batch's replies for askers in this process, claimed until its cleanup.
#[derive(Default)]
struct LocalAnswers {
    /// The askers waiting here, and their replies.
    claimed: Vec<(ReplySender, Vec<u8>)>,
    /// The replies to write to the store instead of the batch's own list, when some
    /// were claimed here; `None`: all of them.
    to_write: Option<Vec<KeyedBytes>>,
}

/// Whether `item` is a scheduled message not yet due at `now`. A batch stops before it:
/// the mailbox holds scheduled messages in delivery order, and what comes after it is
/// due later (or comes from a sender whose clock is ahead).
fn waiting(item: &MailboxItem, now: u64) -> bool {
    crate::store::waits(item.id, &item.envelope, now)
}

/// The reminders as the state record's bookkeeping `meta` holds them: the latest
/// registration (or cancel) of each name, whose older registrations' fires are stale,
/// and the queued fire of each live chain, besides which a fire is a one-off copy.
pub(crate) fn reminder_registry(
    meta: Option<&[u8]>,
) -> (
    std::collections::BTreeMap<String, MessageId>,
    std::collections::BTreeMap<String, MessageId>,
) {
    Bookkeeping::decode(meta)
        .map(|book| (book.reminders, book.reminder_fires))
        .unwrap_or_default()
}

/// The recipients of the messages in `outgoing` that are due at `now` (not scheduled
/// for later), each once, in address order.
fn immediate_recipients(outgoing: &[(Address, MailboxItem)], now: u64) -> Vec<&Address> {
    let mut recipients: Vec<&Address> = outgoing
        .iter()
        .filter(|(_, item)| !crate::store::waits(item.id, &item.envelope, now))
        .map(|(to, _)| to)
        .collect();
    recipients.sort();
    recipients.dedup();
    recipients
}

/// Whether message `id` was sent within [`OPTIMISTIC_FRESHNESS`] of `now`, either way.
fn fresh(id: MessageId, now: u64) -> bool {
    id.timestamp_millis().abs_diff(now) <= millis(config::OPTIMISTIC_FRESHNESS)
}

/// A fresh owner token: random per acquire, so no two owners share one.
fn owner_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // `RandomState` is seeded from the OS once per process and varied per instance.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// Runs the mailbox protocol for actor type `A` over a store, an invoker and a clock.
/// The embedded runtime and the Lambda function both drive actors through it.
pub struct ActorHost<A> {
    actor_type: ActorType,
    store: Arc<dyn Store>,
    invoker: Arc<dyn Invoker>,
    clock: Arc<dyn Clock>,
    config: DrainConfig,
    /// Askers in this process, handed their replies directly (see `crate::local_replies`).
    local_replies: Option<Arc<LocalReplies>>,
    /// What topics fan out to (set where topics run).
    pub(crate) events: Option<Arc<crate::events::EventRoutes>>,
    /// Delivers what handlers emit to channels outside MQLess.
    emitter: Arc<dyn Emitter>,
    /// Set when the process stops taking work (`Embedded::shutdown`, or its drop): a
    /// drain ends at its next batch boundary as at its deadline, its work committed.
    stopping: Option<Arc<AtomicBool>>,
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
            local_replies: self.local_replies.clone(),
            events: self.events.clone(),
            emitter: Arc::clone(&self.emitter),
            stopping: self.stopping.clone(),
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
            local_replies: None,
            events: None,
            emitter: Arc::new(NoEmitter),
            stopping: None,
            actor: PhantomData,
        })
    }

    /// Delivers what handlers emit (`Context::emit`) through `emitter`. Without one,
    /// every emission is refused and becomes a dead letter saying so.
    #[must_use]
    pub fn with_emitter(mut self, emitter: Arc<dyn Emitter>) -> Self {
        self.emitter = emitter;
        self
    }

    /// Hands replies to askers waiting in this process directly, without writing them.
    #[must_use]
    pub(crate) fn with_local_replies(mut self, replies: Arc<LocalReplies>) -> Self {
        self.local_replies = Some(replies);
        self
    }

    /// Ends drains at their next batch boundary once `stopping` is set.
    #[must_use]
    pub(crate) fn with_stop(mut self, stopping: Arc<AtomicBool>) -> Self {
        self.stopping = Some(stopping);
        self
    }

    /// Lets the handlers reach `events`: topics fan out through it.
    #[must_use]
    pub(crate) fn with_events(mut self, events: Arc<crate::events::EventRoutes>) -> Self {
        self.events = Some(events);
        self
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
        match self.drain_address(&address, options, &mut report).await {
            Ok(()) => Ok(report),
            Err(error) => {
                // A drain that fails (a store error, a state that does not decode) may
                // leave messages that nobody looks at: the invocation's retries can run
                // out. Mark the actor for the sweep, which drains it if nothing else
                // does; if this fails too, the audit finds it.
                let now = self.clock.now_millis();
                if let Err(mark) = self.store.arm(&address, now).await {
                    tracing::warn!(actor = %address, error = %mark, "a failed drain could not mark its actor for the sweep; the audit finds it");
                }
                Err(error)
            }
        }
    }

    /// The drain of `address`: the optimistic path if configured, then lease after lease
    /// until the mailbox is empty (or another owner holds it); how it ended goes into
    /// `report`.
    async fn drain_address(
        &self,
        address: &Arc<Address>,
        options: DrainOptions,
        report: &mut DrainReport,
    ) -> Result<(), Error> {
        if self.config.optimistic {
            if let Some(end) = self.drain_optimistically(address, options, report).await? {
                report.end = end;
                return Ok(());
            }
        }
        loop {
            let end = self.drain_one_lease(address, options, report).await?;
            report.end = match end {
                LeaseEnd::Released { look_again: false } => DrainEnd::Empty,
                LeaseEnd::Released { look_again: true } | LeaseEnd::Fenced => {
                    // A message enqueued while we held the lease had its nudge end in
                    // `Busy`, and its knock may have gone unseen (a release without a
                    // commit, a commit that cannot tell): look once more, or it would
                    // wait for the sweep. A scheduled message not yet due waits for its
                    // own. Fenced too: whoever committed may have looked before it.
                    let head = self.store.read_mailbox(address, 1).await?;
                    let now = self.clock.now_millis();
                    if !head.first().is_none_or(|item| waiting(item, now)) {
                        continue;
                    }
                    if matches!(end, LeaseEnd::Fenced) {
                        DrainEnd::Fenced
                    } else {
                        DrainEnd::Empty
                    }
                }
                LeaseEnd::Busy => DrainEnd::Busy,
                LeaseEnd::Deadline => DrainEnd::Deadline,
                LeaseEnd::Quarantined(reason) => {
                    report.quarantine = Some(reason);
                    DrainEnd::Quarantined
                }
            };
            return Ok(());
        }
    }

    /// The optimistic path (see [`DrainConfig::optimistic`]): `None` to take the lease.
    async fn drain_optimistically(
        &self,
        address: &Arc<Address>,
        options: DrainOptions,
        report: &mut DrainReport,
    ) -> Result<Option<DrainEnd>, Error> {
        let now = self.clock.now_millis();
        let Some(record) = self.store.load_state(address).await? else {
            // Never committed: the first message takes the lease.
            return Ok(None);
        };
        // A marked actor takes the lease, whose release clears the mark (an optimistic
        // commit keeps it, and the sweep would wake the actor again and again).
        if record.lease_expires_at > now
            || record.stalled_leases > 0
            || record.quarantine.is_some()
            || record.damage.is_some()
            || record.mark.is_some()
        {
            return Ok(None);
        }
        // One more than a batch, to know that a batch holds everything.
        let limit = self.config.batch_size.saturating_add(1);
        let read = self.store.read_mailbox(address, limit).await?;
        // Scheduled messages not yet due, and all after them, wait for their time.
        let due = &read[..read.iter().take_while(|item| !waiting(item, now)).count()];
        if due.is_empty() {
            return Ok(Some(DrainEnd::Empty));
        }
        let whole_mailbox = read.len() < limit;
        if !whole_mailbox && due.len() == read.len() || !due.iter().all(|item| fresh(item.id, now))
        {
            return Ok(None);
        }
        let Ok(lease) = Lease::open(self, address, record, options) else {
            return Ok(None);
        };
        lease
            .run_optimistically(due, &read, whole_mailbox, report)
            .await
    }

    async fn drain_one_lease(
        &self,
        address: &Arc<Address>,
        options: DrainOptions,
        report: &mut DrainReport,
    ) -> Result<LeaseEnd, Error> {
        let Some((record, first_read)) = self.take_lease(address).await? else {
            return Ok(LeaseEnd::Busy);
        };
        let (epoch, mark) = (record.epoch, record.mark);
        if let Some(quarantine) = record.quarantine {
            // Left alone until an operator lifts it; its messages stay queued.
            self.end_lease(address, epoch, mark, false).await?;
            return Ok(LeaseEnd::Quarantined(quarantine.reason));
        }
        let held = match Lease::open(self, address, record, options) {
            Ok(lease) => lease.run(first_read, report).await,
            Err(Damaged(reason)) => self.quarantine(address, epoch, reason).await,
        };
        match held {
            // A failed store call or undecodable state is not the messages' fault: free
            // the lease now rather than make the next invocation wait for it to expire
            // (and count it as a stall); the drain marks the actor for the sweep on its
            // way out (see `drain_with`). If this fails too, the lease expires.
            Err(_) => {
                let _ = self.store.release(address, epoch).await;
            }
            // Whoever committed first (an owner past its lease, an optimistic drain) did
            // not take our lease: free it, or it blocks every wake-up until it expires.
            // The caller looks at the mailbox again.
            Ok(LeaseEnd::Fenced) => {
                let _ = self.store.release(address, epoch).await;
            }
            Ok(_) => {}
        }
        held
    }

    /// Ends the lease of `epoch` without a commit: frees it (one write of the lease
    /// item), and leaves the record's mark as the owner's work needs. `hand_off`: the
    /// owner stops at its deadline with work left, so it marks the actor due
    /// now and the sweep resumes it if nothing else does. Else the mark it found
    /// (`found`) stood for work it has done, and goes, unless somebody armed it since.
    async fn end_lease(
        &self,
        address: &Address,
        epoch: u64,
        found: Option<u64>,
        hand_off: bool,
    ) -> Result<(), Error> {
        if hand_off {
            self.store.arm(address, self.clock.now_millis()).await?;
            self.store.release(address, epoch).await?;
        } else {
            self.store.release(address, epoch).await?;
            if let Some(at) = found {
                self.store.unmark(address, at).await?;
            }
        }
        Ok(())
    }

    /// Takes the lease of `address` with the mailbox's first batch (and one more
    /// message), or (`None`) knocks on the record of the owner that holds it, so that
    /// it looks at the mailbox again after its commit.
    async fn take_lease(
        &self,
        address: &Address,
    ) -> Result<Option<(StateRecord, Vec<MailboxItem>)>, Error> {
        let owner = owner_token();
        let limit = self.config.batch_size.saturating_add(1);
        for _ in 0..KNOCK_RACES {
            let now = self.clock.now_millis();
            let until = now + millis(self.config.lease);
            let acquired = self
                .store
                .acquire_and_read(address, now, until, owner, limit)
                .await;
            match acquired {
                Ok((Acquired::Taken(record), read)) => return Ok(Some((record, read))),
                Ok((
                    Acquired::Held {
                        lease_expires_at,
                        mark,
                        version,
                        knocked,
                    },
                    _,
                )) => {
                    let at = if lease_expires_at > now {
                        lease_expires_at
                    } else {
                        now + millis(self.config.lease)
                    };
                    // Somebody knocked since the owner's last commit, and the sweep is
                    // armed for its lease's end: the owner looks again, or the sweep does.
                    if knocked && mark.is_some_and(|mark| mark <= at) {
                        return Ok(None);
                    }
                    // `false`: the owner committed since the read (perhaps releasing).
                    if self.store.knock(address, version, mark, at).await? {
                        return Ok(None);
                    }
                }
                Err(error) => {
                    // The acquire may have landed with its answer lost: give the lease
                    // back, or the next owner counts this as a stall (and three in a row
                    // dead-letter a healthy message). If this fails too, it expires.
                    let _ = self.store.abandon(address, owner).await;
                    return Err(error.into());
                }
            }
        }
        // The owner committed under each of our knocks: it goes on batch after batch,
        // each reading the mailbox after the commit before it, so it likely sees our
        // message; but the last of those commits may have released. Rare: let the sweep
        // look at once.
        self.store.arm(address, self.clock.now_millis()).await?;
        Ok(None)
    }

    /// Whether the invocation's deadline is within the margin.
    fn deadline_near(&self, deadline: Option<u64>) -> bool {
        let stopping = self
            .stopping
            .as_ref()
            .is_some_and(|stopping| stopping.load(Ordering::SeqCst));
        stopping
            || deadline.is_some_and(|d| {
                self.clock
                    .now_millis()
                    .saturating_add(millis(self.config.deadline_margin))
                    >= d
            })
    }

    /// Whether the lease ends within the deadline margin: stop taking messages and commit,
    /// which renews it, rather than run on while another owner may take it over.
    fn lease_near_end(&self, lease_until: u64) -> bool {
        self.clock
            .now_millis()
            .saturating_add(millis(self.config.deadline_margin))
            >= lease_until
    }

    /// Quarantines the actor whose lease `epoch` we hold: its own record failed in a way
    /// no retry can fix. Its messages stay queued until an operator lifts the quarantine.
    async fn quarantine(
        &self,
        address: &Address,
        epoch: u64,
        reason: String,
    ) -> Result<LeaseEnd, Error> {
        let record = QuarantineRecord {
            reason: bookkeeping::truncate(reason),
            since: self.clock.now_millis(),
        };
        if !self.store.quarantine(address, epoch, &record).await? {
            return Ok(LeaseEnd::Fenced);
        }
        tracing::error!(
            actor = %address, reason = %record.reason,
            "actor quarantined; its messages stay queued until an operator lifts the quarantine (`Actors::quarantine`)"
        );
        Ok(LeaseEnd::Quarantined(record.reason))
    }

    /// Claims the channels of the batch's askers waiting in this process, with their
    /// replies, and sets apart the replies still to write to the store (those nobody
    /// here waits for). The caller answers the claimed ones after the cleanup.
    fn claim_local_replies(&self, address: &Address, book: &Bookkeeping) -> LocalAnswers {
        let mut answers = LocalAnswers::default();
        let Some(local) = self.local_replies.as_ref().filter(|l| !l.is_empty()) else {
            return answers;
        };
        if book.replies.is_empty() {
            return answers;
        }
        let mut to_write = Vec::new();
        for reply in &book.replies {
            match local.claim(address, reply.id) {
                Some(asker) => answers.claimed.push((asker, reply.bytes.clone())),
                None => to_write.push(reply.clone()),
            }
        }
        answers.to_write = Some(to_write);
        answers
    }

    async fn nudge_recipients(&self, outgoing: &[(Address, MailboxItem)]) {
        let now = self.clock.now_millis();
        for (to, item) in outgoing {
            if crate::store::waits(item.id, &item.envelope, now) {
                if let Err(error) = self.invoker.nudge_at(to, item.id.timestamp_millis()).await {
                    // It is in the due index: the sweep delivers it.
                    tracing::warn!(actor = %to, %error, "a scheduled message waits for the sweep");
                }
            }
        }
        for to in immediate_recipients(outgoing, now) {
            self.wake(to, now).await;
        }
    }

    /// Marks for the sweep the recipients (other than `sender`) of the messages in
    /// `outgoing`, whose commit may have landed though it failed: best effort, as the
    /// audit finds whatever a failed mark leaves.
    async fn mark_recipients(&self, sender: &Address, outgoing: &[(Address, MailboxItem)]) {
        let now = self.clock.now_millis();
        for to in immediate_recipients(outgoing, now) {
            if to != sender {
                if let Err(error) = self.store.arm(to, now).await {
                    tracing::warn!(actor = %to, %error, "could not mark the recipient of a commit that may have landed; the audit finds it");
                }
            }
        }
    }

    /// Wakes `to`, whose committed messages are durable: if the wake-up fails, marks it
    /// for the sweep.
    async fn wake(&self, to: &Address, now: u64) {
        if let Err(error) = self.invoker.nudge(to).await {
            crate::store::due::mark_unwoken(&*self.store, to, now, &error).await;
        }
    }
}
