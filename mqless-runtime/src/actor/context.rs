//! The context a handler may take: its own address, the clock, and typed sends to other
//! actors that become part of the running batch (publishing and subscribing to topics:
//! `topics.rs`).

mod emit;
mod topics;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Actor, ActorClient};
use crate::actor::client::{ClientCore, ReplyRoute, SendOptions, Transport};
use crate::codec::Limits;
use crate::error::Error;
use crate::id::{ActorId, Address, MessageId};
use crate::invoke::Invoker;
use crate::reply;
use crate::store::MailboxItem;
use crate::wire::{Envelope, ReplyTo};
use crate::BoxFuture;

/// What a handler knows about its invocation. Take `ctx: &mut Context` (or `&Context`)
/// as an argument of an `#[actor]` method to get it; it is not part of the message.
///
/// Messages sent through [`Context::actor`] clients are not written at once: they are
/// committed atomically with the state change of the message being handled, and
/// discarded if that message fails.
///
/// ```
/// # use mqless_runtime::{Actor, Context};
/// fn log_line(ctx: &Context) -> String {
///     format!("{} at {}", ctx.address(), ctx.now_millis())
/// }
/// ```
#[derive(Debug)]
pub struct Context {
    address: Arc<Address>,
    message_id: MessageId,
    wants_reply: bool,
    sender: Option<Address>,
    outbox: Arc<Outbox>,
}

impl Context {
    pub(crate) fn new(
        address: Arc<Address>,
        message_id: MessageId,
        wants_reply: bool,
        outbox: Arc<Outbox>,
    ) -> Self {
        Self {
            address,
            message_id,
            wants_reply,
            sender: None,
            outbox,
        }
    }

    /// This context, for a message sent by the actor at `sender`.
    #[must_use]
    pub(crate) fn with_sender(mut self, sender: Option<Address>) -> Self {
        self.sender = sender;
        self
    }

    /// The actor that sent the message being handled, when an actor's handler sent it
    /// (a scheduled message or reminder fire from this actor: this actor); `None` for a
    /// message from a client outside the actors.
    #[must_use]
    pub fn sender(&self) -> Option<&Address> {
        self.sender.as_ref()
    }

    /// Ends this actor's reminder `name` (registered with `Request::remind`), if this
    /// handler succeeds: committed with the batch, like a send. Its fire already queued
    /// is dropped when it comes due.
    ///
    /// # Errors
    /// [`Error::SendFromQuery`] in a `.query()`, [`Error::HandlerReturned`] after the
    /// handler returned.
    pub fn cancel_reminder(&self, name: &str) -> Result<(), Error> {
        self.outbox.cancel_reminder(name, &self.address)
    }

    /// Cancels this actor's scheduled messages that `which` names (sent with
    /// `send_after` / `send_at`, by id or by `.named(..)` name), if this handler
    /// succeeds: committed with the batch, like a send, and dropped with it if the
    /// handler fails. Unlike `Actors::cancel_scheduled` there is no "too late": the
    /// drain holds the actor, so a cancelled message that is already due does not run.
    /// Each cancel reads the actor's mailbox once when the handler returns.
    ///
    /// ```
    /// # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Order { paid: bool }
    /// # impl Order {
    /// pub fn pay(&mut self, ctx: &mut mqless_runtime::Context) -> Result<(), mqless_runtime::Error> {
    ///     self.paid = true;
    ///     // The expiry scheduled when the order was placed will not run.
    ///     ctx.cancel_scheduled(mqless_runtime::schedule::Scheduled::Name("expiry".into()))
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::SendFromQuery`] in a `.query()`, [`Error::HandlerReturned`] after the
    /// handler returned.
    pub fn cancel_scheduled(&self, which: crate::schedule::Scheduled) -> Result<(), Error> {
        self.outbox
            .open_for(&self.address)?
            .cancelled_scheduled
            .push(which);
        Ok(())
    }

    /// Deletes this actor when this handler succeeds and its batch commits: the state
    /// goes back to the type's default, every reminder is cancelled, and the state record
    /// expires at once (DynamoDB's TTL deletes it, and with it the actor's entry in
    /// `actors list`, typically within a day or two; until then it reads as a new actor).
    /// Messages after this one, and any sent later, find a fresh actor with the default
    /// state. Queued messages, replies and dead letters are left as they are.
    ///
    /// ```
    /// # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Cart;
    /// # impl Cart {
    /// pub fn check_out(&mut self, ctx: &mut mqless_runtime::Context) -> Result<(), mqless_runtime::Error> {
    ///     // ... hand the cart over to an order ...
    ///     ctx.stop()
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::SendFromQuery`] in a `.query()` (it commits nothing),
    /// [`Error::HandlerReturned`] after the handler returned.
    pub fn stop(&self) -> Result<(), Error> {
        self.outbox.stop(&self.address)
    }

    pub(crate) fn limits(&self) -> Limits {
        self.outbox.limits
    }

    /// This actor's id.
    #[must_use]
    pub fn id(&self) -> &ActorId {
        self.address.id()
    }

    /// This actor's address (type and id).
    #[must_use]
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The id of the message being handled.
    #[must_use]
    pub fn message_id(&self) -> MessageId {
        self.message_id
    }

    /// Whether the sender waits for the return value (an ask).
    #[must_use]
    pub fn wants_reply(&self) -> bool {
        self.wants_reply
    }

    /// The runtime clock's time, in milliseconds since the Unix epoch, taken when the
    /// message was dispatched. Use it rather than `SystemTime::now()`, so tests can
    /// control it.
    #[must_use]
    pub fn now_millis(&self) -> u64 {
        self.outbox.now_millis
    }

    /// [`Context::now_millis`] as a `SystemTime`.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_millis())
    }

    /// A client of actor `id` of type `A` whose sends join this batch. `.call()` on it
    /// fails with [`crate::error::AskError::NotAllowedInHandler`]; a send after the
    /// handler returned (from a spawned task) fails with [`Error::HandlerReturned`].
    ///
    /// # Errors
    /// [`Error::InvalidActorId`], [`Error::InvalidActorType`], or
    /// [`Error::NoHost`] when nothing runs actors of type `A` here (not registered with
    /// the embedded runtime, no function for it in `MQLESS_FUNCTIONS`).
    pub fn actor<A: Actor>(&self, id: impl Into<String>) -> Result<A::Client, Error> {
        let address = super::address_of::<A>(id)?;
        if let Some(allowed) = self.outbox.sends_to {
            if !allowed.contains(&A::TYPE_NAME) {
                return Err(Error::UndeclaredSend {
                    from: self.address.actor_type().to_string(),
                    to: A::TYPE_NAME,
                });
            }
        }
        self.outbox.recipients.can_wake(address.actor_type())?;
        let transport: Arc<dyn Transport> = self.outbox.clone();
        Ok(A::Client::from_core(ClientCore::new(address, transport)))
    }
}

/// The messages a handler sends, held until its batch commits.
pub(crate) struct Outbox {
    now_millis: u64,
    limits: Limits,
    /// What can be woken: a send to an actor type nobody runs fails at once.
    recipients: Arc<dyn Invoker>,
    /// The method runs for `.query()`: every send is refused.
    query: bool,
    /// The actor whose handler sends: stamped on each message as its sender.
    from: Option<Arc<Address>>,
    /// The actor types the sender may send to (`Actor::SENDS_TO`); `None`: any.
    sends_to: Option<&'static [&'static str]>,
    /// The sender's declared subscriptions (`Actor::SUBSCRIPTIONS`), for `subscribe`.
    subscriptions: &'static [crate::events::Subscription],
    /// What topics fan out to, in hosts that run topics.
    events: Option<Arc<crate::events::EventRoutes>>,
    /// Who writes subscriptions in the store: `ctx.subscribe` records them for the
    /// commit, or sends them to the topic.
    subscription_writers: crate::store::SubscriptionWriters,
    /// Most bytes the emissions of one handler call may take (`Context::emit`).
    max_emission_bytes: usize,
    /// The channels the handler may emit to (`Actor::EMITS_TO`); `None`: any.
    emits_to: Option<&'static [&'static str]>,
    state: Mutex<OutboxState>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

struct OutboxState {
    items: Vec<(Address, MailboxItem)>,
    /// The last id this actor generated: ids stay increasing across owners, whose clocks
    /// may differ, so the per-sender order holds for actor-to-actor messages.
    last_id: Option<MessageId>,
    /// The handler returned: its sends were taken into the batch, and later ones would
    /// be lost.
    closed: bool,
    /// Reminders the handler cancelled (`Context::cancel_reminder`).
    cancelled_reminders: Vec<String>,
    /// Scheduled messages the handler cancelled (`Context::cancel_scheduled`).
    cancelled_scheduled: Vec<crate::schedule::Scheduled>,
    /// The body the message being handled continues with (`Context::continue_with`).
    continued: Option<Vec<u8>>,
    /// The asks made with `reply_to`, by their timeout message's id.
    awaiting: Vec<MessageId>,
    /// The handler called `Context::stop`.
    stopped: bool,
    /// What the handler emitted to channels outside MQLess (`Context::emit`).
    emissions: Vec<crate::events::Emission>,
    /// Their encoded size.
    emission_bytes: usize,
    /// The subscriptions it made or ended, for the commit, where subscribers write them.
    subscriptions: Vec<crate::store::SubscriptionChange>,
}

/// The timeout message of an ask made with `reply_to`, and the route its callee replies by.
struct AskTimeout {
    item: MailboxItem,
    route: ReplyTo,
}

/// What a handler left in its outbox, taken when it returns.
pub(crate) struct HandlerEffects {
    pub(crate) sent: Vec<(Address, MailboxItem)>,
    pub(crate) last_sent: Option<MessageId>,
    pub(crate) cancelled_reminders: Vec<String>,
    pub(crate) cancelled_scheduled: Vec<crate::schedule::Scheduled>,
    /// The body the message being handled continues with, at the head of the mailbox.
    pub(crate) continued: Option<Vec<u8>>,
    /// The asks made with `reply_to`: the asker's record keeps each open until its reply
    /// or its timeout is handled.
    pub(crate) awaiting: Vec<MessageId>,
    /// The handler called `Context::stop`.
    pub(crate) stopped: bool,
    /// What it emitted to channels outside MQLess, in order.
    pub(crate) emissions: Vec<crate::events::Emission>,
    /// The subscriptions it made or ended, in order, where its commit writes them.
    pub(crate) subscriptions: Vec<crate::store::SubscriptionChange>,
}

impl Outbox {
    pub(crate) fn new(
        now_millis: u64,
        limits: Limits,
        last_id: Option<MessageId>,
        recipients: Arc<dyn Invoker>,
    ) -> Self {
        Self {
            now_millis,
            limits,
            recipients,
            query: false,
            from: None,
            sends_to: None,
            subscriptions: &[],
            events: None,
            subscription_writers: crate::store::SubscriptionWriters::Topics,
            max_emission_bytes: crate::events::DEFAULT_MAX_EMISSION_BYTES,
            emits_to: None,
            state: Mutex::new(OutboxState {
                items: Vec::new(),
                last_id,
                closed: false,
                cancelled_reminders: Vec::new(),
                cancelled_scheduled: Vec::new(),
                continued: None,
                awaiting: Vec::new(),
                stopped: false,
                emissions: Vec::new(),
                emission_bytes: 0,
                subscriptions: Vec::new(),
            }),
        }
    }

    /// Stamps the messages sent through this outbox as sent by the actor at `from`.
    #[must_use]
    pub(crate) fn sending_as(mut self, from: Arc<Address>) -> Self {
        self.from = Some(from);
        self
    }

    /// Refuses sends to actor types other than `sends_to` (the sender's
    /// `Actor::SENDS_TO`).
    #[must_use]
    pub(crate) fn sending_only_to(mut self, sends_to: Option<&'static [&'static str]>) -> Self {
        self.sends_to = sends_to;
        self
    }

    /// Lets `ctx.subscribe` find the method of a topic among `subscriptions` (the
    /// sender's `Actor::SUBSCRIPTIONS`), and topics find their subscribers in `events`.
    #[must_use]
    pub(crate) fn with_events(
        mut self,
        subscriptions: &'static [crate::events::Subscription],
        events: Option<Arc<crate::events::EventRoutes>>,
    ) -> Self {
        self.subscriptions = subscriptions;
        self.events = events;
        self
    }

    /// Records `ctx.subscribe` and `ctx.unsubscribe` for the commit where `writers`
    /// says the subscribers write subscriptions, instead of sending them to the topic.
    #[must_use]
    pub(crate) fn subscriptions_written_by(
        mut self,
        writers: crate::store::SubscriptionWriters,
    ) -> Self {
        self.subscription_writers = writers;
        self
    }

    /// Lets the handler emit up to `bytes` (`DrainConfig::max_emission_bytes_per_message`).
    #[must_use]
    pub(crate) fn emitting_up_to(mut self, bytes: usize) -> Self {
        self.max_emission_bytes = bytes;
        self
    }

    /// Refuses emissions to channels other than `emits_to` (the actor's
    /// `Actor::EMITS_TO`).
    #[must_use]
    pub(crate) fn emitting_only_to(mut self, emits_to: Option<&'static [&'static str]>) -> Self {
        self.emits_to = emits_to;
        self
    }

    /// The outbox of a method run by `.query()`: it refuses every send.
    pub(crate) fn for_query(now_millis: u64, limits: Limits) -> Self {
        Self {
            query: true,
            ..Self::new(
                now_millis,
                limits,
                None,
                Arc::new(crate::invoke::RecordingInvoker::new()),
            )
        }
    }

    /// What the handler sent and cancelled, closing the outbox: a context client kept
    /// past its handler (moved into a spawned task) fails from now on.
    pub(crate) fn take(&self) -> HandlerEffects {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed = true;
        HandlerEffects {
            sent: std::mem::take(&mut state.items),
            last_sent: state.last_id,
            cancelled_reminders: std::mem::take(&mut state.cancelled_reminders),
            cancelled_scheduled: std::mem::take(&mut state.cancelled_scheduled),
            continued: state.continued.take(),
            awaiting: std::mem::take(&mut state.awaiting),
            stopped: state.stopped,
            emissions: std::mem::take(&mut state.emissions),
            subscriptions: std::mem::take(&mut state.subscriptions),
        }
    }

    /// The timeout message of an ask made with `reply_to`, due `options.reply_timeout`
    /// after the ask is (or, scheduled, will be) delivered, and the ask's route.
    fn timeout_of(
        &self,
        route: &ReplyRoute,
        options: &SendOptions,
    ) -> Result<(AskTimeout, Address), Error> {
        let Some(from) = &self.from else {
            return Err(Error::InvalidReplyTo(
                "only a handler can ask with reply_to",
            ));
        };
        if route.to != **from {
            return Err(Error::InvalidReplyTo(
                "the reply must go to a method of the asking actor itself (`ctx.actor::<Self>(ctx.id().as_str())`)",
            ));
        }
        let sent_at = options.deliver_at.unwrap_or(self.now_millis);
        let due = sent_at.saturating_add(crate::clock::millis(options.reply_timeout));
        let id = MessageId::scheduled(due);
        let (at, len) = route.template.slot;
        let body = reply::fill(
            &route.template.body,
            (at, len),
            &reply::timed_out()?,
            &self.limits,
        )?;
        let envelope = Envelope {
            answers: Some(id),
            from: Some(from.to_string()),
            ..Envelope::new(body, false, None).scheduled(due, None)
        };
        let (Ok(slot), Ok(len)) = (u32::try_from(at), u32::try_from(len)) else {
            return Err(Error::InvalidReplyTo("the reply template is too large"));
        };
        let wire_route = ReplyTo {
            to: from.to_string(),
            body: route.template.body.clone(),
            slot,
            len,
            ask: id,
        };
        let item = MailboxItem {
            id,
            envelope: envelope.encode(&self.limits)?,
        };
        Ok((
            AskTimeout {
                item,
                route: wire_route,
            },
            (**from).clone(),
        ))
    }

    fn cancel_reminder(&self, name: &str, actor: &Address) -> Result<(), Error> {
        self.open_for(actor)?
            .cancelled_reminders
            .push(name.to_owned());
        Ok(())
    }

    fn stop(&self, actor: &Address) -> Result<(), Error> {
        self.open_for(actor)?.stopped = true;
        Ok(())
    }

    /// The outbox's state, for a change `actor`'s handler commits with its batch: refused
    /// in a `.query()` (which commits nothing) and after the handler returned.
    fn open_for(&self, actor: &Address) -> Result<MutexGuard<'_, OutboxState>, Error> {
        if self.query {
            return Err(Error::SendFromQuery {
                to: actor.to_string(),
            });
        }
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closed {
            return Err(Error::HandlerReturned {
                to: actor.to_string(),
            });
        }
        Ok(state)
    }
}

impl Transport for Outbox {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        body: Vec<u8>,
        options: &'a SendOptions,
        ask: bool,
    ) -> BoxFuture<'a, Result<MessageId, Error>> {
        let result = (|| {
            let mut envelope = options.envelope(body, ask);
            envelope.from = self.from.as_ref().map(ToString::to_string);
            if self.query {
                return Err(Error::SendFromQuery { to: to.to_string() });
            }
            let timeout = match &options.reply_to {
                Some(route) => Some(self.timeout_of(route, options)?),
                None => None,
            };
            if let Some((timeout, _)) = &timeout {
                envelope.reply_to = Some(timeout.route.clone());
            }
            let envelope = envelope.encode(&self.limits)?;
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.closed {
                return Err(Error::HandlerReturned { to: to.to_string() });
            }
            // A scheduled message's id carries its delivery time and stays out of the
            // sequence of this actor's immediate sends.
            let id = options.message_id(|| {
                let id = MessageId::generate(self.now_millis, state.last_id);
                state.last_id = Some(id);
                id
            });
            state.items.push((to.clone(), MailboxItem { id, envelope }));
            if let Some((timeout, asker)) = timeout {
                state.awaiting.push(timeout.item.id);
                state.items.push((asker, timeout.item));
            }
            Ok(id)
        })();
        Box::pin(async move { result })
    }

    fn wait_reply<'a>(
        &'a self,
        _: &'a Address,
        _: MessageId,
        _: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>> {
        // `Request::call` checks `allows_ask` first; an outbox never has replies.
        Box::pin(async { Ok(None) })
    }

    fn allows_ask(&self) -> bool {
        false
    }

    fn committed_state<'a>(
        &'a self,
        to: &'a Address,
    ) -> BoxFuture<'a, Result<Option<crate::store::StateRecord>, Error>> {
        // `Request::query` checks `allows_ask` first; a handler reads no other state.
        let _ = to;
        Box::pin(async { Ok(None) })
    }

    fn now_millis(&self) -> u64 {
        self.now_millis
    }

    fn limits(&self) -> Limits {
        self.limits
    }
}
