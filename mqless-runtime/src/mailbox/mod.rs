//! The mailbox protocol: how one invocation drains one actor's mailbox.
//!
//! 1. **Acquire** the lease (`acquire.rs`) with one conditional write of the lease item
//!    that bumps the fencing epoch, and read the mailbox's first batch beside it. A live
//!    owner holds it: **knock** on its state record and return; that owner's commit
//!    finds the knock and reads the mailbox again.
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
//! 6. When a batch reads the whole mailbox its commit also **releases** the lease; if a
//!    wake-up knocked meanwhile (or the owner cannot tell), read the mailbox once more.
//!
//! After each commit its recipients are woken (`recipients.rs`), before its cleanup.
//!
//! A drain that fails at any step frees its lease and marks the actor for the sweep, so
//! its messages do not wait for the audit once the invocation's retries run out.
//!
//! A message that kills its process (an abort, a timeout, running out of memory) cannot
//! be caught like a panic. The state record counts the leases taken since the actor last
//! made progress ([`StateRecord::stalled_leases`](crate::store::StateRecord::stalled_leases), kept by the writes the protocol makes
//! anyway); after a stalled lease the next owner commits one message at a time, so the
//! message left at the head after [`DrainConfig::max_attempts`] stalls in a row is the
//! one that kills the process, and it is dead-lettered without running again.
//!
//! Every step is a call on [`Store`], so the protocol runs unchanged on every store.

mod acquire;
mod batch;
#[cfg(feature = "testing")]
pub(crate) use batch::STALLED;
mod bookkeeping;
#[cfg(feature = "aws")]
pub(crate) use bookkeeping::consumed_by_last_batch;
mod cleanup;
mod config;
mod consumed_ids;
mod delivery;

mod lease;
mod recipients;
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
use crate::local_replies::LocalReplies;
use crate::store::{MailboxItem, QuarantineRecord, Store};

use bookkeeping::Bookkeeping;
pub use config::{DrainConfig, DrainEnd, DrainOptions, DrainReport, OPTIMISTIC_FRESHNESS};
use lease::{Damaged, Lease, LeaseEnd};

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

/// Whether message `id` was sent within [`OPTIMISTIC_FRESHNESS`] of `now`, either way.
fn fresh(id: MessageId, now: u64) -> bool {
    id.timestamp_millis().abs_diff(now) <= millis(config::OPTIMISTIC_FRESHNESS)
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
                // A drain that fails may leave messages that nobody looks at: the
                // invocation's retries can run out. Mark the actor for the sweep, which
                // drains it if nothing else does (if this fails too, the audit finds it);
                // unless the store failed deterministically (a permission missing, a
                // missing table), which would fail every sweep the same way: that error
                // is returned, and logged by the caller, for an operator to fix.
                let deterministic = matches!(&error, Error::Store(store) if !store.is_retryable());
                if !deterministic {
                    let now = self.clock.now_millis();
                    if let Err(mark) = self.store.arm(&address, now).await {
                        tracing::warn!(actor = %address, error = %mark, "a failed drain could not mark its actor for the sweep; the audit finds it");
                    }
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
        // Never committed, and no lease item: the commit, guarded by version 0, fails if
        // anybody committed first, exactly as on a record that exists (an actor's first
        // message costs no acquire: a saga's new actors are most of its drains).
        let record = self.store.load_state(address).await?.unwrap_or_default();
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
}
