//! Typed clients: the generated `{Actor}Client` is a thin wrapper over [`ClientCore`],
//! and each of its methods returns a [`Request`] to `.send()` (tell) or `.call()` (ask).

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::actor::{Mutating, Queryable};
use crate::clock::Clock;
use crate::codec::{self, Limits};
use crate::error::{AskError, CodecError, Error};
use crate::id::{ActorId, Address, MessageId};
use crate::invoke::Invoker;
use crate::replies::LocalReplies;
use crate::store::{MailboxItem, StateRecord, Store};
use crate::wire::{Envelope, ReminderSpec, ReplyRecord};
use crate::BoxFuture;

/// How long `.call()` waits for a reply unless told otherwise.
pub const DEFAULT_ASK_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest accepted idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// Longest accepted name of a scheduled message, in bytes.
pub const MAX_SCHEDULE_NAME_LEN: usize = 128;

/// Options of one send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Messages with the same key, sent to the same actor within its dedupe window, are
    /// applied once.
    pub idempotency_key: Option<String>,
    /// Deliver no earlier than this, in milliseconds since the Unix epoch (a scheduled
    /// message); `None`: now.
    pub deliver_at: Option<u64>,
    /// The name a scheduled message can be cancelled by.
    pub schedule_name: Option<String>,
    /// For a reminder's first fire: the reminder (see [`Request::remind`]).
    pub reminder: Option<ReminderSpec>,
}

impl SendOptions {
    /// The envelope of `body` sent with these options.
    pub(crate) fn envelope(&self, body: Vec<u8>, ask: bool) -> Envelope {
        let envelope = Envelope::new(body, ask, self.idempotency_key.clone());
        match self.deliver_at {
            Some(at) => Envelope {
                reminder: self.reminder.clone(),
                ..envelope.scheduled(at, self.schedule_name.clone())
            },
            None => envelope,
        }
    }

    /// The id of a message sent with these options: a scheduled one's carries its
    /// delivery time; an immediate one's comes from `generate`.
    pub(crate) fn message_id(&self, generate: impl FnOnce() -> MessageId) -> MessageId {
        self.deliver_at.map_or_else(generate, MessageId::scheduled)
    }
}

/// Where a client's messages go: the store (from outside an actor) or the outbox of the
/// running batch (from inside a handler).
pub trait Transport: Send + Sync + 'static {
    /// Makes the message durable (or, in a handler, part of the batch) and returns its id.
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        body: Vec<u8>,
        options: &'a SendOptions,
        ask: bool,
    ) -> BoxFuture<'a, Result<MessageId, Error>>;

    /// Waits up to `timeout` for the encoded reply to `id`.
    fn wait_reply<'a>(
        &'a self,
        to: &'a Address,
        id: MessageId,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>>;

    /// Whether asks can be made through this transport.
    fn allows_ask(&self) -> bool;

    /// The committed `#state` record of `to` (one strongly consistent read), for
    /// `.query()`.
    ///
    /// # Errors
    /// A store failure, or a transport that cannot read state (a handler's context).
    fn committed_state<'a>(
        &'a self,
        to: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, Error>>;

    /// The transport's clock, in milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// The payload limits.
    fn limits(&self) -> Limits;
}

/// The transport of clients outside actors: enqueue into the store, then nudge the
/// actor's handler.
pub struct StoreTransport {
    store: Arc<dyn Store>,
    invoker: Arc<dyn Invoker>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// Every actor sent to, when asked to keep track (see [`StoreTransport::track`]).
    sent_to: Option<Arc<Mutex<BTreeSet<Address>>>>,
    /// Asks whose handler runs in this process get their reply from here.
    local_replies: Option<Arc<LocalReplies>>,
}

impl StoreTransport {
    /// A transport over `store` that wakes handlers through `invoker`.
    pub fn new(
        store: Arc<dyn Store>,
        invoker: Arc<dyn Invoker>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            store,
            invoker,
            clock,
            limits,
            sent_to: None,
            local_replies: None,
        }
    }

    /// Receives the replies of drains that run in this process directly (see
    /// `crate::replies`), instead of reading them from the store.
    #[must_use]
    pub(crate) fn local_replies(mut self, replies: Arc<LocalReplies>) -> Self {
        self.local_replies = Some(replies);
        self
    }

    /// Notes every actor this transport sends to in `sent_to` (what `settle` waits for).
    #[must_use]
    pub fn track(mut self, sent_to: Arc<Mutex<BTreeSet<Address>>>) -> Self {
        self.sent_to = Some(sent_to);
        self
    }
}

impl Transport for StoreTransport {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        body: Vec<u8>,
        options: &'a SendOptions,
        ask: bool,
    ) -> BoxFuture<'a, Result<MessageId, Error>> {
        if let Some(sent_to) = &self.sent_to {
            let mut sent_to = sent_to.lock().unwrap_or_else(PoisonError::into_inner);
            if !sent_to.contains(to) {
                sent_to.insert(to.clone());
            }
        }
        Box::pin(async move {
            let id = options.message_id(|| MessageId::generate(self.clock.now_millis(), None));
            let envelope = options.envelope(body, ask).encode(&self.limits)?;
            let local = self.local_replies.as_ref().filter(|_| ask);
            if let Some(local) = local {
                local.expect(to, id);
            }
            if let Err(error) = self.store.enqueue(to, &MailboxItem { id, envelope }).await {
                if let Some(local) = local {
                    local.forget(to, id);
                }
                return Err(error.into());
            }
            if let Some(at) = options.deliver_at {
                // Woken when it is due: by a timer where the runtime has one, else by the
                // sweep (see `Invoker::nudge_at`).
                if let Err(error) = self.invoker.nudge_at(to, at).await {
                    tracing::warn!(actor = %to, message = %id, %error, "scheduled message queued, but arming its wake-up failed; the sweep delivers it");
                }
                return Ok(id);
            }
            // An ask wakes the handler in `wait_reply`, where it can wait for the reply.
            if !ask {
                if let Err(error) = self.invoker.nudge(to).await {
                    // The message is durable: the next nudge or a sweep will process it,
                    // so a failed wake-up must not make the caller send it again.
                    tracing::warn!(actor = %to, message = %id, %error, "message queued, but waking its actor failed; the next wake-up or sweep processes it");
                }
            }
            Ok(id)
        })
    }

    fn wait_reply<'a>(
        &'a self,
        to: &'a Address,
        id: MessageId,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let local = self.local_replies.as_ref();
            if let Some(receiver) = local.and_then(|local| local.receiver(to, id)) {
                // The drain runs here: wake it, and take the reply from it directly.
                if let Err(error) = self.invoker.nudge(to).await {
                    tracing::warn!(actor = %to, message = %id, %error, "message queued, but waking its actor failed; waiting for another drain to answer");
                }
                if let Ok(Ok(reply)) = tokio::time::timeout(timeout, receiver).await {
                    return Ok(Some(reply));
                }
                // Timed out, or answered by no drain here: the store has it, if anyone.
                if let Some(local) = local {
                    local.forget(to, id);
                }
                return self.read_reply(to, id, deadline).await;
            }
            match tokio::time::timeout(timeout, self.invoker.wake_for_reply(to, id)).await {
                Ok(Ok(Some(reply))) => return Ok(Some(reply)),
                Ok(Ok(None)) => {}
                // The message is queued: another invocation may still answer it.
                Ok(Err(error)) => tracing::warn!(
                    actor = %to, message = %id, %error,
                    "message queued, but waking its actor failed; waiting for another drain to answer"
                ),
                Err(_) => return Ok(None),
            }
            self.read_reply(to, id, deadline).await
        })
    }

    fn allows_ask(&self) -> bool {
        true
    }

    fn committed_state<'a>(
        &'a self,
        to: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, Error>> {
        Box::pin(async move { Ok(self.store.load_state(to).await?) })
    }

    fn now_millis(&self) -> u64 {
        self.clock.now_millis()
    }

    fn limits(&self) -> Limits {
        self.limits
    }
}

impl StoreTransport {
    /// Waits for the reply to `id` in the store until `deadline`.
    async fn read_reply(
        &self,
        to: &Address,
        id: MessageId,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Vec<u8>>, Error> {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let reply = self.store.wait_reply(to, id, left).await?;
        if reply.is_none() {
            // One read, only on a timeout: say so if nothing answers because the actor
            // is quarantined (its messages, this one too, wait for an operator).
            if let Some(q) = self.store.load_state(to).await?.and_then(|r| r.quarantine) {
                return Err(Error::Quarantined {
                    address: to.to_string(),
                    reason: q.reason,
                    since: q.since,
                });
            }
        }
        Ok(reply)
    }
}

/// A client addressed at one actor: what every generated client wraps.
#[derive(Clone)]
pub struct ClientCore {
    address: Address,
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for ClientCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl ClientCore {
    /// A client of the actor at `address`, sending through `transport`.
    pub fn new(address: Address, transport: Arc<dyn Transport>) -> Self {
        Self { address, transport }
    }

    /// The actor's address.
    #[must_use]
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The actor's id.
    #[must_use]
    pub fn id(&self) -> &ActorId {
        self.address.id()
    }

    /// A request carrying `message`, whose reply is an `R` or the method's error `E`.
    /// Encoding errors surface when the request is sent.
    pub fn request<M: Serialize, R, E>(&self, message: &M) -> Request<'_, R, E> {
        self.request_of_kind(message)
    }

    /// A request for a `&self` method of actor `A`: it can also be `.query()`-ed.
    pub fn read_request<A, M: Serialize, R, E>(
        &self,
        message: &M,
    ) -> Request<'_, R, E, crate::actor::ReadOnly<A>> {
        self.request_of_kind(message)
    }

    fn request_of_kind<M: Serialize, R, E, K>(&self, message: &M) -> Request<'_, R, E, K> {
        let body = codec::encode(
            message,
            "message",
            self.transport.limits().max_message_bytes,
        );
        Request {
            core: self,
            body,
            options: SendOptions::default(),
            timeout: DEFAULT_ASK_TIMEOUT,
            reply: PhantomData,
        }
    }
}

/// What a request carries only as types: its reply, its error, its kind.
type ReplyTypes<R, E, K> = fn() -> (R, E, K);

/// One message to an actor, ready to be sent with [`Request::send`] (tell) or
/// [`Request::call`] (ask); for a method that takes `&self` (`K` is
/// [`ReadOnly`](crate::actor::ReadOnly)), also [`Request::query`].
#[must_use = "a request does nothing until `.send()`, `.call()` or `.query()` is awaited"]
pub struct Request<'c, R, E, K = Mutating> {
    core: &'c ClientCore,
    body: Result<Vec<u8>, CodecError>,
    options: SendOptions,
    timeout: Duration,
    reply: PhantomData<ReplyTypes<R, E, K>>,
}

impl<R, E, K> fmt::Debug for Request<'_, R, E, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("to", &self.core.address)
            .field("options", &self.options)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned, E: DeserializeOwned, K> Request<'_, R, E, K> {
    /// Applies the message at most once per `key` within the actor's dedupe window (the
    /// last 128 keys it consumed): a retried send with the same key is not applied again.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }

    /// How long `.call()` waits for the reply (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Names a scheduled message ([`Request::send_after`], [`Request::send_at`]) so it
    /// can be cancelled by name (`Actors::cancel_scheduled`). At most 128 bytes.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.options.schedule_name = Some(name.into());
        self
    }

    /// Tell, delivered `delay` from now (by the sender's clock): the message is durable
    /// at once, runs no earlier than that, after every message queued before it is due,
    /// and can be cancelled until then. Inside a handler it is committed with the
    /// handler's batch, and dropped if the handler fails. See the README's "Time".
    ///
    /// # Errors
    /// As [`Request::send`], and [`Error::InvalidScheduleName`].
    pub async fn send_after(self, delay: Duration) -> Result<MessageId, Error> {
        let at = self
            .core
            .transport
            .now_millis()
            .saturating_add(crate::clock::millis(delay));
        self.send_at_millis(at).await
    }

    /// Tell, delivered at `at` (a time in the past: as soon as possible, in order with
    /// the messages due). See [`Request::send_after`].
    ///
    /// # Errors
    /// As [`Request::send_after`].
    pub async fn send_at(self, at: std::time::SystemTime) -> Result<MessageId, Error> {
        let millis = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, crate::clock::millis);
        self.send_at_millis(millis).await
    }

    /// Registers a recurring reminder named `name` on the actor: this message fires as
    /// `reminder` says (every period, from its first fire, until its end), each fire a
    /// scheduled message that schedules the next when it is handled, in the same commit.
    /// Registering the name again replaces the reminder; `Context::cancel_reminder` and
    /// `Actors::cancel_reminder` end it. From a handler it is committed with the batch.
    /// Returns the id of the first fire. See the README's "Time".
    ///
    /// # Errors
    /// [`Error::InvalidReminder`], [`Error::InvalidScheduleName`], or as
    /// [`Request::send`].
    pub async fn remind(
        mut self,
        name: impl Into<String>,
        reminder: crate::schedule::Reminder,
    ) -> Result<MessageId, Error> {
        let (spec, first) = reminder.spec(self.core.transport.now_millis())?;
        self.options.schedule_name = Some(name.into());
        self.options.reminder = Some(spec);
        self.send_at_millis(first).await
    }

    async fn send_at_millis(mut self, at: u64) -> Result<MessageId, Error> {
        if let Some(name) = &self.options.schedule_name {
            if name.is_empty() || name.len() > MAX_SCHEDULE_NAME_LEN {
                return Err(Error::InvalidScheduleName { len: name.len() });
            }
        }
        self.options.deliver_at = Some(at);
        self.enqueue(false).await
    }

    /// Tell: resolves to the message id once the message is durably in the mailbox (or,
    /// inside a handler, part of the batch, which delivers it when the batch commits).
    ///
    /// # Errors
    /// An encoding error, an oversized message, an invalid idempotency key, or a store
    /// failure (in which case the message may or may not be queued: resend it with an
    /// idempotency key to be safe).
    pub async fn send(self) -> Result<MessageId, Error> {
        self.enqueue(false).await
    }

    /// Ask: sends the message and waits for the method's return value.
    ///
    /// # Errors
    /// [`AskError::Handler`] with the method's own error, [`AskError::Timeout`],
    /// [`AskError::DeadLettered`], [`AskError::NotAllowedInHandler`], or
    /// [`AskError::Runtime`].
    pub async fn call(self) -> Result<R, AskError<E>> {
        // Inside a handler, an ask would wait for a reply while holding the lease (asking
        // its own actor waits for itself), and would not be part of the atomic commit.
        if !self.core.transport.allows_ask() || handler_scope::inside() {
            return Err(AskError::NotAllowedInHandler);
        }
        let core = self.core;
        let timeout = self.timeout;
        let id = self.enqueue(true).await?;
        let bytes = core
            .transport
            .wait_reply(&core.address, id, timeout)
            .await?
            .ok_or(AskError::Timeout {
                message_id: id,
                after: timeout,
            })?;
        let depth = core.transport.limits().max_depth;
        let record: ReplyRecord =
            codec::decode(&bytes, "reply", usize::MAX, depth).map_err(Error::from)?;
        match record {
            ReplyRecord::Ok(value) => decode_value(&value, depth),
            ReplyRecord::Err(error) => decode_error(&error, depth),
            ReplyRecord::DeadLettered(reason) => Err(AskError::DeadLettered {
                message_id: id,
                reason,
            }),
            ReplyRecord::Duplicate => Err(AskError::Duplicate { message_id: id }),
        }
    }

    /// Read-only call: runs this `&self` method in this process on the actor's
    /// **committed** state, read with one strongly consistent read; no mailbox, no
    /// lease, no write, no Lambda invoke. Messages still queued for the actor are not
    /// seen (use `.call()` to be answered after them). The method cannot send (its
    /// sends fail with [`Error::SendFromQuery`]).
    ///
    /// # Errors
    /// [`AskError::Handler`] with the method's own error, [`AskError::NotAllowedInHandler`]
    /// inside a handler, or [`AskError::Runtime`]: a store failure, a state that does not
    /// decode, [`Error::Quarantined`], [`Error::QueryPanicked`].
    pub async fn query(self) -> Result<R, AskError<E>>
    where
        K: Queryable,
    {
        if !self.core.transport.allows_ask() || handler_scope::inside() {
            return Err(AskError::NotAllowedInHandler);
        }
        let core = self.core;
        let transport = &core.transport;
        let body = self.body.map_err(Error::from)?;
        let record = transport.committed_state(&core.address).await?;
        let limits = transport.limits();
        let outcome = crate::actor::query::run::<K::Actor>(
            core.address.clone(),
            record,
            &body,
            transport.now_millis(),
            limits,
        )
        .await?;
        match outcome {
            crate::actor::Outcome::Ok(value) => decode_value(&value, limits.max_depth),
            crate::actor::Outcome::Err { encoded, .. } => decode_error(&encoded, limits.max_depth),
        }
    }

    async fn enqueue(self, ask: bool) -> Result<MessageId, Error> {
        if let Some(key) = &self.options.idempotency_key {
            if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
                return Err(Error::InvalidIdempotencyKey { len: key.len() });
            }
        }
        let body = self.body?;
        self.core
            .transport
            .enqueue(&self.core.address, body, &self.options, ask)
            .await
    }
}

fn decode_value<R: DeserializeOwned, E>(bytes: &[u8], depth: usize) -> Result<R, AskError<E>> {
    Ok(codec::decode(bytes, "reply value", usize::MAX, depth).map_err(Error::from)?)
}

fn decode_error<R, E: DeserializeOwned>(bytes: &[u8], depth: usize) -> Result<R, AskError<E>> {
    Err(AskError::Handler(
        codec::decode(bytes, "handler error", usize::MAX, depth).map_err(Error::from)?,
    ))
}

/// Whether this thread is running a handler: set by the mailbox engine around every poll
/// of a handler's future, so a client can refuse what must not happen inside one.
pub(crate) mod handler_scope {
    use std::cell::Cell;

    thread_local! {
        static INSIDE: Cell<bool> = const { Cell::new(false) };
    }

    /// Marks this thread as inside a handler until the guard drops.
    pub(crate) fn enter() -> Guard {
        Guard(INSIDE.with(|inside| inside.replace(true)))
    }

    /// Whether this thread is inside a handler.
    pub(crate) fn inside() -> bool {
        INSIDE.with(Cell::get)
    }

    /// Restores the previous state when dropped (also when the handler panics).
    pub(crate) struct Guard(bool);

    impl Drop for Guard {
        fn drop(&mut self) {
            INSIDE.with(|inside| inside.set(self.0));
        }
    }
}
