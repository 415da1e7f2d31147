//! Typed clients: the generated `{Actor}Client` is a thin wrapper over [`ClientCore`],
//! and each of its methods returns a [`Request`] to `.send()` (tell) or `.call()` (ask).
//! Where the messages go is a [`Transport`] (`transport.rs`).

mod transport;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use transport::{AskerIdentity, StoreTransport, Transport};

use crate::actor::{Mutating, Queryable};
use crate::codec;
use crate::error::{AskError, CodecError, Error};
use crate::id::{ActorId, Address, MessageId};
use crate::reply::{Reply, Template};
use crate::wire::{Envelope, ReminderSpec, ReplyRecord};

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
    /// For an ask between actors: where its reply goes (see [`Request::reply_to`]).
    pub(crate) reply_to: Option<ReplyRoute>,
    /// How long such an ask waits for its reply before [`Reply::TimedOut`] is delivered.
    pub(crate) reply_timeout: Duration,
}

/// The reply method's request of an ask made with [`Request::reply_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplyRoute {
    /// The asker, whose method receives the reply.
    pub(crate) to: Address,
    /// Its request, with the reply's slot.
    pub(crate) template: Template,
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
            invalid: None,
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
    /// A builder step that failed (`reply_to`), reported when the request is sent.
    invalid: Option<Error>,
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

    /// How long `.call()` waits for the reply, or a [`Request::reply_to`] ask before its
    /// reply method gets [`Reply::TimedOut`] (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Asks from a handler without waiting: the outcome comes back later as a message to
    /// one of this actor's own methods, which takes a [`Reply<R, E>`](Reply) argument. The
    /// closure builds that method's request from the `Reply` it is given (pass it on as
    /// is; the other arguments carry whatever tells the replies apart). The ask is
    /// committed with the handler's batch; the reply method runs exactly once, with the
    /// callee's outcome, or [`Reply::TimedOut`] after [`Request::timeout`] (default 30 s),
    /// whichever comes first, whatever the actor did meanwhile. It costs two of the
    /// handler's sends (the ask and its timeout).
    ///
    /// ```text
    /// device.temperature()
    ///     .reply_to(|reading| me.reading(device_id, reading)) // fn reading(&mut self, device_id: String, reading: Reply<f64>)
    ///     .timeout(Duration::from_secs(5))
    ///     .send()
    ///     .await?;
    /// ```
    ///
    /// A complete actor is in the docs of `mqless::reply` and in docs/guide/asking.md.
    ///
    /// Errors surface when the request is sent: [`Error::InvalidReplyTo`] outside a
    /// handler, for a method of another actor, without the `Reply` passed on, or with
    /// [`Request::remind`].
    pub fn reply_to<'m, R2, E2, K2>(
        mut self,
        reply: impl FnOnce(Reply<R, E>) -> Request<'m, R2, E2, K2>,
    ) -> Self {
        let route = crate::reply::placeholder().and_then(|(slot, placeholder)| {
            let request = reply(slot);
            let body = request.body?;
            Ok(ReplyRoute {
                to: request.core.address.clone(),
                template: crate::reply::template(body, &placeholder)?,
            })
        });
        match route {
            Ok(route) => self.options.reply_to = Some(route),
            Err(error) => self.invalid = Some(error),
        }
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
    /// handler's batch, and dropped if the handler fails. See docs/guide/time.md.
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
    /// Returns the id of the first fire. See docs/guide/time.md.
    ///
    /// # Errors
    /// [`Error::InvalidReminder`], [`Error::InvalidScheduleName`], or as
    /// [`Request::send`].
    pub async fn remind(
        mut self,
        name: impl Into<String>,
        reminder: crate::schedule::Reminder,
    ) -> Result<MessageId, Error> {
        if self.options.reply_to.is_some() {
            return Err(Error::InvalidReplyTo(
                "a reminder's fires cannot be asks: send the reminder to a method that asks",
            ));
        }
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

    async fn enqueue(mut self, ask: bool) -> Result<MessageId, Error> {
        if let Some(error) = self.invalid {
            return Err(error);
        }
        self.options.reply_timeout = self.timeout;
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
