//! One batch: the messages taken under one commit, applied in order to the actor's
//! in-memory state, with what the commit must record about each. Its answers to askers
//! are in `asks`, its part in time (reminder fires, cancels) in `time`, how much it may
//! take before its commit would not fit in `budget`.

mod asks;
mod budget;
mod emissions;
mod time;

use std::sync::Arc;

use tracing::Instrument as _;

use self::budget::{transaction_bytes, SENDS_BESIDES_THE_HANDLERS};
use super::bookkeeping::{truncate, Bookkeeping};
use super::working_state::WorkingState;
use super::{ActorHost, DrainReport};
use crate::actor::client::MAX_IDEMPOTENCY_KEY_LEN;
use crate::actor::dispatch::dispatch;
use crate::actor::{Actor, Context, HandlerEffects, Outbox, Outcome};
use crate::codec;
use crate::error::{describe_panic, CodecError, Error};
use crate::id::{Address, MessageId};
use crate::store::{MailboxItem, SubscriptionChange, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS};
use crate::trace::TraceParent;
use crate::wire::{Envelope, ReplyRecord};

/// Most asks made with `reply_to` one actor may have awaiting their replies: each is
/// kept in its state record (18 bytes) until its reply or timeout is handled.
pub(crate) const MAX_AWAITING: usize = 1000;

/// What a batch did, added to the drain's report.
#[derive(Debug, Default)]
pub(super) struct Tally {
    processed: usize,
    failed: usize,
    dead_lettered: usize,
    duplicates: usize,
}

impl Tally {
    pub(super) fn add_to(&self, report: &mut DrainReport) {
        report.processed += self.processed;
        report.failed += self.failed;
        report.dead_lettered += self.dead_lettered;
        report.duplicates += self.duplicates;
    }
}

/// A batch being built: the messages applied so far, their bookkeeping and the messages
/// their methods sent, all committed together.
pub(super) struct Batch<'l, A> {
    host: &'l ActorHost<A>,
    address: &'l Arc<Address>,
    working: &'l mut WorkingState<A>,
    /// The bookkeeping the commit records.
    pub(super) next: Bookkeeping,
    /// Messages to other actors, committed with the state.
    pub(super) outgoing: Vec<(Address, MailboxItem)>,
    /// What `outgoing` adds to the commit's transaction, in bytes.
    outgoing_bytes: usize,
    /// Messages taken (run, refused or dead-lettered), not counting consumed leftovers.
    pub(super) taken: usize,
    /// The message its handler continued (`Context::continue_with`), with its new
    /// envelope: left at the head of the mailbox, and the batch ends with it.
    pub(super) continued: Option<MailboxItem>,
    /// The subscriptions its handlers made or ended, the last per topic, where the
    /// commit writes them (key layout v2).
    pub(super) subscriptions: Vec<SubscriptionChange>,
    pub(super) tally: Tally,
}

impl<'l, A: Actor> Batch<'l, A> {
    pub(super) fn new(
        host: &'l ActorHost<A>,
        address: &'l Arc<Address>,
        working: &'l mut WorkingState<A>,
        previous: &Bookkeeping,
    ) -> Self {
        Self {
            host,
            address,
            working,
            next: previous.next_batch(),
            outgoing: Vec::new(),
            outgoing_bytes: 0,
            taken: 0,
            continued: None,
            subscriptions: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Records a message the previous batch consumed but whose delete has not landed:
    /// delete it again, never run it again.
    pub(super) fn consumed_before(&mut self, id: MessageId) {
        self.next.consumed.push(id);
    }

    /// Dead-letters `item` without running it, with `error`, counting `attempts` tries
    /// (the stalls in a row it was next in, or the commits it could not fit).
    pub(super) fn give_up_unrun(
        &mut self,
        item: &MailboxItem,
        error: String,
        attempts: u32,
    ) -> Result<(), Error> {
        self.taken += 1;
        self.next.consumed.push(item.id);
        let limits = self.host.config.limits;
        if let Ok(envelope) = Envelope::decode(&item.envelope, &limits) {
            self.answer(
                item.id,
                &envelope,
                &ReplyRecord::DeadLettered(error.clone()),
            )?;
            self.continue_past_unrun_fire(item, &envelope)?;
            if envelope.answers == Some(item.id) {
                // An ask's timeout: the ask stays open to its reply or a redrive of the
                // timeout, but gives back its slot, or such dead letters would fill them.
                self.set_aside(item.id);
            }
        }
        self.next.fail(item.id, error, attempts);
        self.tally.dead_lettered += 1;
        Ok(())
    }

    /// Applies one message to the state, recording its reply or failure.
    pub(super) async fn apply(&mut self, item: &MailboxItem) -> Result<(), Error> {
        let limits = self.host.config.limits;
        if self.next.consumed.contains(&item.id) {
            // A reply's timeout this batch deleted already, its reply handled before it.
            return Ok(());
        }
        self.taken += 1;
        self.next.consumed.push(item.id);
        let envelope = match Envelope::decode(&item.envelope, &limits) {
            Ok(envelope) => envelope,
            Err(error) => {
                // We cannot even tell whether someone waits for a reply; an asker times out.
                let error = format!("undecodable message envelope: {error}");
                self.next.fail(item.id, error, 1);
                self.tally.dead_lettered += 1;
                return Ok(());
            }
        };
        // The message's span continues the sender's trace; everything it sends (its
        // handler's sends, its reply) carries a child of it.
        let parent = envelope
            .trace
            .as_deref()
            .and_then(|t| TraceParent::parse(t).ok());
        let span = tracing::info_span!(
            "message",
            actor = %self.address,
            message_id = %item.id,
            method = crate::wire::method_name(&envelope.body).unwrap_or("?"),
            trace_id = tracing::field::Empty,
            parent_id = tracing::field::Empty,
        );
        if let Some(parent) = parent {
            span.record("trace_id", parent.trace_id());
            span.record("parent_id", parent.span_id());
        }
        match crate::trace::for_message(&span, parent) {
            Some(trace) => {
                let applying = crate::trace::in_trace(trace, self.apply_decoded(item, envelope));
                applying.instrument(span).await
            }
            None => self.apply_decoded(item, envelope).instrument(span).await,
        }
    }

    /// [`Self::apply`] of a message whose envelope decoded.
    async fn apply_decoded(&mut self, item: &MailboxItem, envelope: Envelope) -> Result<(), Error> {
        if let Some(emission) = &envelope.emission {
            return self.emit_again(item, emission);
        }
        if let Some(key) = &envelope.key {
            if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
                // Written past the client: remembering it could push the state record
                // over its size limit, so the message is refused, not run.
                let error = format!(
                    "idempotency key of {} bytes, outside 1 to {MAX_IDEMPOTENCY_KEY_LEN}: the message was written past the client, and is not run",
                    key.len()
                );
                self.answer(
                    item.id,
                    &envelope,
                    &ReplyRecord::DeadLettered(error.clone()),
                )?;
                self.next.fail(item.id, error, 1);
                self.tally.dead_lettered += 1;
                return Ok(());
            }
            if self.next.recent_keys.contains(key) {
                self.answer(item.id, &envelope, &ReplyRecord::Duplicate)?;
                self.tally.duplicates += 1;
                return Ok(());
            }
        }
        if let Some(ask) = envelope.answers {
            let open = self.next.awaiting.contains(&ask)
                || self.next.timeouts_in_dead_letters.contains(&ask);
            if !open {
                // Its ask was settled: by its reply (this is the timeout) or its timeout
                // (this is a late reply), or this is a redriven copy.
                tracing::debug!(actor = %self.address, message = %item.id, "the ask this message answers was settled; it is dropped");
                self.tally.duplicates += 1;
                return Ok(());
            }
        }
        if let Some(spec) = &envelope.reminder {
            if !self.fire_reminder(item, &envelope, spec)? {
                return Ok(());
            }
        }
        let ran = self.run(item.id, &envelope).await?;
        if let Some(ask) = envelope.answers {
            // A reply that failed leaves its ask open for the timeout; the timeout always
            // settles it.
            if matches!(ran, Ran::Applied) || item.id == ask {
                self.settle(ask, item.id);
            }
        }
        let (error, attempts) = match ran {
            Ran::Applied => return Ok(()),
            Ran::GaveUp { error, attempts } => (truncate(error), attempts),
        };
        self.answer(
            item.id,
            &envelope,
            &ReplyRecord::DeadLettered(error.clone()),
        )?;
        self.next.fail(item.id, error, attempts);
        self.tally.dead_lettered += 1;
        Ok(())
    }

    /// Runs the message's method, retrying panics up to `max_attempts` times.
    async fn run(&mut self, id: MessageId, envelope: &Envelope) -> Result<Ran, Error> {
        let config = &self.host.config;
        let limits = config.limits;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let gave_up = |error: String| Ok(Ran::GaveUp { error, attempts });
            let message: A::Message = match codec::decode(
                &envelope.body,
                "message",
                limits.max_message_bytes,
                limits.max_depth,
            ) {
                Ok(message) => message,
                // Decoding is deterministic: retrying cannot help.
                Err(error) => return gave_up(error.to_string()),
            };
            let read_only = A::is_read_only(&message);
            let sender = envelope
                .from
                .as_deref()
                .and_then(|from| Address::parse(from).ok());
            let wants_reply = envelope.ask || envelope.reply_to.is_some();
            let (result, effects) = self.call(id, wants_reply, sender, message).await;
            match result {
                Ok(Ok(Outcome::Ok(reply))) => {
                    return self
                        .applied(id, envelope, read_only, effects, reply, attempts)
                        .await;
                }
                Ok(Ok(Outcome::Err {
                    encoded,
                    description,
                })) => {
                    self.working.roll_back(read_only, &limits)?;
                    self.tally.failed += 1;
                    if !wants_reply {
                        // Nobody waits for a tell's error: log it and keep the message as
                        // a `Rejected` dead letter, or it is lost without a trace.
                        tracing::warn!(
                            actor = %self.address, message = %id, error = %description,
                            "a tell's method returned Err; the state is unchanged"
                        );
                        if config.keep_rejected_tells {
                            self.next.reject(id, description);
                        }
                    }
                    return self.consumed(id, envelope, ReplyRecord::Err(encoded));
                }
                Ok(Err(error)) => {
                    self.working.roll_back(read_only, &limits)?;
                    return gave_up(format!("could not encode the handler's result: {error}"));
                }
                Err(panic) => {
                    // A panic may have left a half-updated state, even behind `&self`
                    // with interior mutability: always restore.
                    self.working.roll_back(false, &limits)?;
                    let panic = describe_panic(panic.as_ref());
                    tracing::warn!(
                        actor = %self.address, message = %id, attempt = attempts,
                        max_attempts = config.max_attempts, "{panic}; state rolled back"
                    );
                    if attempts >= config.max_attempts {
                        return gave_up(panic);
                    }
                }
            }
        }
    }
}

impl<A: Actor> Batch<'_, A> {
    /// The method of message `id` returned `reply`: keeps what it did (its sends,
    /// cancels, a stop, the message's continuation) unless that cannot commit, in
    /// which case the message gives up after `attempts`.
    async fn applied(
        &mut self,
        id: MessageId,
        envelope: &Envelope,
        read_only: bool,
        effects: HandlerEffects,
        reply: Vec<u8>,
        attempts: u32,
    ) -> Result<Ran, Error> {
        let limits = self.host.config.limits;
        let HandlerEffects {
            sent,
            last_sent,
            cancelled_reminders,
            cancelled_scheduled,
            continued,
            awaiting,
            stopped,
            emissions,
            subscriptions,
        } = effects;
        if let Err(error) = self.keep(read_only, &sent, awaiting.len())? {
            return Ok(Ran::GaveUp { error, attempts });
        }
        for change in subscriptions {
            self.subscriptions.retain(|c| c.topic != change.topic);
            self.subscriptions.push(change);
        }
        self.next.awaiting.extend(awaiting);
        self.next.emit(emissions)?;
        self.register_own_reminders(&sent);
        self.outgoing_bytes += transaction_bytes(&sent);
        self.outgoing.extend(sent);
        self.next.last_sent = last_sent;
        let now = self.host.clock.now_millis();
        for name in &cancelled_reminders {
            self.cancel_reminder(name, now);
        }
        for which in &cancelled_scheduled {
            self.cancel_scheduled(which).await?;
        }
        if stopped {
            let names: Vec<String> = self.next.reminders.keys().cloned().collect();
            for name in &names {
                self.cancel_reminder(name, now);
            }
            // Its asks die with it: their timeouts are deleted, and their replies,
            // finding no open ask, are dropped.
            let timeouts = self.next.abandon_asks();
            self.next.consumed.extend(timeouts);
            self.working.stop(&limits)?;
        } else if !read_only {
            self.working.stopped = false;
        }
        self.tally.processed += 1;
        let ran = self.consumed(id, envelope, ReplyRecord::Ok(reply))?;
        if let Some(body) = continued {
            self.continue_message(id, envelope, body)?;
        }
        Ok(ran)
    }

    /// Calls the method with a fresh context; returns what it did and what it sent.
    async fn call(
        &mut self,
        id: MessageId,
        ask: bool,
        sender: Option<Address>,
        message: A::Message,
    ) -> (Dispatched, HandlerEffects) {
        let outbox = Arc::new(
            Outbox::new(
                self.host.clock.now_millis(),
                self.host.config.limits,
                self.next.last_sent,
                Arc::clone(&self.host.invoker),
            )
            .sending_as(Arc::clone(self.address))
            .sending_only_to(A::SENDS_TO)
            .with_events(A::SUBSCRIPTIONS, self.host.events.clone())
            .subscriptions_written_by(self.host.store.subscription_writers())
            .emitting_up_to(self.host.config.max_emission_bytes_per_message)
            .emitting_only_to(A::EMITS_TO),
        );
        let mut ctx = Context::new(Arc::clone(self.address), id, ask, Arc::clone(&outbox))
            .with_sender(sender);
        let result = dispatch(&mut self.working.state, message, &mut ctx).await;
        (result, outbox.take())
    }

    /// Keeps the state a method left, as the new rollback point; `Ok(Err(reason))` when
    /// it cannot be kept (too many sends, a state over its limit), rolled back.
    fn keep(
        &mut self,
        read_only: bool,
        sent: &[(Address, MailboxItem)],
        asked: usize,
    ) -> Result<Result<(), String>, Error> {
        let config = &self.host.config;
        let limits = config.limits;
        if self.next.awaiting.len() + asked > MAX_AWAITING {
            self.working.roll_back(read_only, &limits)?;
            return Ok(Err(format!(
                "the handler asked with reply_to while {} asks await their replies; at most {MAX_AWAITING} may (they are kept in the state record)",
                self.next.awaiting.len()
            )));
        }
        if sent.len() > config.max_sends_per_message {
            self.working.roll_back(read_only, &limits)?;
            return Ok(Err(format!(
                "the handler sent {} messages, more than the limit of {} per message",
                sent.len(),
                config.max_sends_per_message
            )));
        }
        // The state record and the sends besides the handler's share the transaction.
        let most_items = MAX_TRANSACTION_ITEMS - 1 - SENDS_BESIDES_THE_HANDLERS;
        if sent.len() > most_items {
            self.working.roll_back(read_only, &limits)?;
            return Ok(Err(format!(
                "the handler sent {} messages; with the state record a commit may hold {most_items}, under DynamoDB's {MAX_TRANSACTION_ITEMS}-item transaction limit",
                sent.len()
            )));
        }
        let sent_bytes = transaction_bytes(sent);
        if self.record_budget() + sent_bytes > MAX_TRANSACTION_BYTES {
            self.working.roll_back(read_only, &limits)?;
            return Ok(Err(format!(
                "the handler sent {} messages of {sent_bytes} bytes in all; with the state they would exceed DynamoDB's {MAX_TRANSACTION_BYTES}-byte transaction limit",
                sent.len()
            )));
        }
        if !read_only {
            match codec::encode(&self.working.state, "actor state", limits.max_state_bytes) {
                Ok(bytes) => self.working.snapshot = bytes,
                Err(error) => {
                    self.working.roll_back(false, &limits)?;
                    return Ok(Err(format!(
                        "the new state was rejected, the previous state is kept: {error}"
                    )));
                }
            }
        }
        Ok(Ok(()))
    }

    /// Records a message whose method returned: its key, and its reply if asked.
    fn consumed(
        &mut self,
        id: MessageId,
        envelope: &Envelope,
        reply: ReplyRecord,
    ) -> Result<Ran, Error> {
        let window = self.host.config.dedupe_window;
        self.next.remember_key(envelope.key.clone(), window);
        self.answer(id, envelope, &reply)?;
        Ok(Ran::Applied)
    }

    /// Leaves message `id` at the head of the mailbox with `body`, instead of consumed:
    /// no longer an ask nor keyed (its reply and key were recorded for its first step),
    /// still from its sender and in its trace.
    fn continue_message(
        &mut self,
        id: MessageId,
        envelope: &Envelope,
        body: Vec<u8>,
    ) -> Result<(), Error> {
        let next = Envelope {
            from: envelope.from.clone(),
            trace: envelope.trace.clone(),
            ..Envelope::new(body, false, None)
        };
        let envelope = next.encode(&self.host.config.limits)?;
        self.next.consumed.retain(|consumed| *consumed != id);
        self.continued = Some(MailboxItem { id, envelope });
        Ok(())
    }
}

/// The reason a message dead-lettered by the stall rule carries (after the count).
pub(crate) const STALLED: &str = "invocations in a row stopped (crashed, timed out or lost the lease) with this message next; it was not run again";

/// What a method call produced: its outcome, or its panic.
type Dispatched = Result<Result<Outcome, CodecError>, crate::actor::dispatch::Panic>;

/// How running a message ended.
enum Ran {
    /// Consumed: the method returned (`Ok` or `Err`); its reply is recorded.
    Applied,
    /// The message cannot be processed; dead-letter it.
    GaveUp { error: String, attempts: u32 },
}
