//! Errors: one enum per boundary, each message says what happened and what to do.

use std::fmt;
use std::time::Duration;

use crate::id::{IdError, MessageId};

/// Everything that can go wrong in MQLess outside a handler's own logic. Errors compare
/// equal when they are the same failure, so tests can `assert_eq!` on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An actor id failed validation.
    #[error("{}", IdError::InvalidActorId { id: id.clone(), reason })]
    InvalidActorId {
        /// The rejected id.
        id: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// An actor type name failed validation.
    #[error("{}", IdError::InvalidActorType { name: name.clone(), reason })]
    InvalidActorType {
        /// The rejected name.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// A message id's text form failed to parse.
    #[error("{}", IdError::InvalidMessageId { text: text.clone() })]
    InvalidMessageId {
        /// The rejected text (at most 64 characters of it).
        text: String,
    },
    /// An idempotency key is empty or too long.
    #[error("invalid idempotency key of {len} bytes; use 1 to 128 bytes")]
    InvalidIdempotencyKey {
        /// The key's length.
        len: usize,
    },
    /// A scheduled message is due within `schedule::CANCEL_MARGIN`: a drain may already
    /// be running it, so it is not cancelled.
    #[error("scheduled message {message_id} is due in {due_in_millis} ms, too close to cancel safely (a drain may be running it); handle it in the actor instead")]
    TooLateToCancel {
        /// The message.
        message_id: MessageId,
        /// Milliseconds until it is due (0: due already).
        due_in_millis: u64,
    },
    /// A `reply_to` ask that cannot be made: the message says why.
    #[error("invalid reply_to: {0}")]
    InvalidReplyTo(&'static str),
    /// A handler sent to an actor type its `#[actor]` block does not name: the deploy
    /// template grants each function only the types its actor sends to.
    #[error("`{from}` sends to `{to}`, which its #[actor] block does not name (the send is made outside the block, in a helper function or inside another macro's arguments?); name it there: #[actor(sends_to({to}))]. The generated deploy template grants each function access only to the actor types it sends to")]
    UndeclaredSend {
        /// The sending actor's type.
        from: String,
        /// The type it tried to send to.
        to: &'static str,
    },
    /// A handler emitted to a channel its `#[actor]` block does not name: the deploy
    /// template grants each function only the channels its actor emits to.
    #[error("`{from}` emits to channel `{channel}`, which its #[actor] block does not name (the channel is not a string literal in `ctx.emit(\"..\", ..)`, or the call is outside the block?); name it there: #[actor(emits_to(\"{channel}\"))]. The generated deploy template grants each function only the channels it emits to")]
    UndeclaredChannel {
        /// The emitting actor's type.
        from: String,
        /// The channel it tried to emit to.
        channel: String,
    },
    /// A W3C `traceparent` that does not parse: the message says what is wrong.
    #[error("invalid traceparent {0}; expected `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>` (W3C Trace Context)")]
    InvalidTraceParent(String),
    /// A topic name failed validation.
    #[error("invalid topic name {name:?}: {reason}; use 1 to 128 ASCII letters, digits, `-`, `_` or `.`")]
    InvalidTopic {
        /// The rejected name.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// An event that cannot be published (not an object, or not representable as JSON
    /// for matching): the message says why.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// A channel name that [`check_channel`](crate::events::check_channel) refuses.
    #[error("invalid channel name {name:?}: {reason}; use 1 to 64 ASCII letters, digits, `-` or `_` (the deployment maps each name to an SNS topic, SQS queue or EventBridge bus)")]
    InvalidChannel {
        /// The name given.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// A handler emitted more than one message may (`Context::emit`).
    #[error("the handler's emissions are {size} bytes, over the {limit}-byte limit per message (`DrainConfig::max_emission_bytes_per_message`; they are kept in the state record until delivered): emit smaller events, such as a reference to data stored elsewhere, or raise the limit")]
    TooMuchEmitted {
        /// The bytes this message's emissions would take.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A channel could not take an emission for now: the drain stopped, and the next
    /// one delivers it.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// An event pattern that does not parse: the message says what is wrong.
    #[error("invalid event pattern: {0}")]
    InvalidPattern(String),
    /// `ctx.subscribe(topic)` on an actor type with no method for that topic.
    #[error("`{actor_type}` has no method that receives topic `{topic}` one actor at a time: mark one `#[subscribe(topic = \"{topic}\")]` (without `route`)")]
    NoSubscriberMethod {
        /// The actor type that tried to subscribe.
        actor_type: String,
        /// The topic.
        topic: String,
    },
    /// A reminder that cannot be registered: the message says why.
    #[error("invalid reminder: {0}")]
    InvalidReminder(String),
    /// The name of a scheduled message is empty or longer than 128 bytes.
    #[error("a scheduled message's name must be 1 to 128 bytes, got {len}")]
    InvalidScheduleName {
        /// The name's length.
        len: usize,
    },
    /// Encoding or decoding failed, or a payload broke a size or depth limit.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The mailbox/state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Waking an actor's handler failed.
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    /// Configuration is missing or invalid (environment variables, function names).
    #[error("configuration error: {0}")]
    Config(String),
    /// A function was invoked with a payload it does not understand; the message says
    /// what is wrong and quotes the expected shape.
    #[error("invalid invocation: {0}")]
    InvalidInvocation(String),
    /// The embedded runtime was asked to run an actor type it does not know.
    #[error(
        "actor type `{0}` is not registered with this runtime; call `register::<T>()` for it first"
    )]
    NotRegistered(String),
    /// [`crate::Actors::settle`] gave up: these actors still had queued messages.
    #[error("actors still had queued messages after {after:?}: {}; look for a busy or failing actor (its dead letters, or a lease held by a crashed owner that expires soon)", pending.join(", "))]
    NotSettled {
        /// How long it waited.
        after: Duration,
        /// The actors with queued messages (`type/id`, followed by `(quarantined:
        /// reason)` for a quarantined one, which only an operator can unblock).
        pending: Vec<String>,
    },
    /// A context client sent after its handler had returned (it was moved into a spawned
    /// task): the message would not be part of any batch, so it is refused.
    #[error("a message to {to} was sent through a `Context` client after its handler returned (moved into a spawned task?); context sends join the batch of the running message: send before returning, or use a client from `Actors::client` outside handlers")]
    HandlerReturned {
        /// The recipient.
        to: String,
    },
    /// Nothing runs actors of this type here: a send to it would wait forever.
    #[error("nothing runs actor type `{actor_type}` here: {fix}")]
    NoHost {
        /// The actor type.
        actor_type: String,
        /// What to do about it.
        fix: String,
    },
    /// An actor has no dead letter with this id.
    #[error("{address} has no dead letter {id}; it may have been redriven or discarded already (list them with `DeadLetters::list`)")]
    DeadLetterNotFound {
        /// The actor.
        address: String,
        /// The message id asked for.
        id: MessageId,
    },
    /// A method run by `.query()` tried to send: a query runs on the committed state,
    /// outside the mailbox, so nothing it sends could be committed.
    #[error("a method run by `.query()` tried to send to {to}; a query runs on the committed state outside the mailbox and cannot send: use `.call()` for this method")]
    SendFromQuery {
        /// The recipient.
        to: String,
    },
    /// A method run by `.query()` panicked.
    #[error("the method run by `.query()` on {address} panicked: {panic}")]
    QueryPanicked {
        /// The actor.
        address: String,
        /// The panic's message.
        panic: String,
    },
    /// An actor is quarantined: its own record failed in a way no retry fixes.
    #[error("{address} is quarantined since {since} ms: {reason}. Its messages stay queued; fix the cause, then lift the quarantine with `Actors::quarantine`")]
    Quarantined {
        /// The actor.
        address: String,
        /// What failed.
        reason: String,
        /// When, in milliseconds since the Unix epoch.
        since: u64,
    },
    /// An operator asked to lift a quarantine the actor is not (or no longer) under.
    #[error("{address} is not quarantined (or was lifted, or quarantined again, meanwhile); check `Quarantine::status`")]
    NotQuarantined {
        /// The actor.
        address: String,
    },
}

/// A payload could not be encoded or decoded, or broke a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The payload is larger than allowed.
    #[error("{what} is {size} bytes, over the {limit}-byte limit; send smaller payloads (store large data elsewhere and send a reference) or raise the limit in `Limits`")]
    TooLarge {
        /// What was being encoded or decoded.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// The payload nests containers deeper than allowed.
    #[error(
        "{what} nests deeper than {limit} levels; flatten the data or raise the limit in `Limits`"
    )]
    TooDeep {
        /// What was being decoded.
        what: &'static str,
        /// The depth limit.
        limit: usize,
    },
    /// The bytes are not well-formed MessagePack.
    #[error("{what} is not valid MessagePack: {detail}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Where and why the bytes are broken.
        detail: String,
    },
    /// The bytes are MessagePack but do not match the expected type (for example a message
    /// for a method that this version of the actor does not have).
    #[error("{what} does not match the expected type: {detail}; check that sender and actor agree on the message definitions")]
    Mismatch {
        /// What was being decoded.
        what: &'static str,
        /// serde's description of the mismatch.
        detail: String,
    },
    /// A value could not be encoded.
    #[error("could not encode {what}: {detail}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// serde's description of the failure.
        detail: String,
    },
}

/// What kind of store failure happened; decides whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store asked us to slow down (DynamoDB throttling). Retry with backoff.
    Throttled,
    /// The store could not be reached or failed internally (5xx, timeouts). The write may
    /// or may not have happened.
    Unavailable,
    /// The table does not exist.
    TableMissing,
    /// IAM refused the request: grant the action on the key (see docs/guide/aws.md).
    AccessDenied,
    /// An item would exceed the store's item-size limit.
    ItemTooLarge,
    /// A transaction was cancelled by a concurrent one. Retry.
    TransactionConflict,
    /// A message's put got no answer (a 5xx, a timeout, a dropped connection), and what
    /// could be read afterwards cannot tell whether it was queued: it is neither queued
    /// nor among the messages its actor last consumed, so it never landed, or it landed,
    /// ran, and a later batch committed since. Putting it again could run it twice, so
    /// it is not put again: resend it with an idempotency key (a repeat is then
    /// consumed without running), or not at all if running it twice is worse than never.
    OutcomeUnknown,
    /// Anything else: bad configuration, permissions, a bug.
    Other,
}

/// The mailbox/state store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store error ({kind:?}): {message}")]
pub struct StoreError {
    /// The kind of failure.
    pub kind: StoreErrorKind,
    /// What happened and what to do.
    pub message: String,
}

impl StoreError {
    /// A store error of `kind` with `message`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Whether retrying the same call later can succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::Throttled
                | StoreErrorKind::Unavailable
                | StoreErrorKind::TransactionConflict
        )
    }
}

/// Waking an actor's handler failed. The message is still queued: the next nudge, or a
/// sweep, will process it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not invoke the handler of `{actor_type}`: {message}")]
pub struct InvokeError {
    /// The actor type whose handler was invoked.
    pub actor_type: String,
    /// What happened and what to do.
    pub message: String,
}

/// Why an ask (`.call()`) did not produce the method's return value. Comparable with
/// `assert_eq!` when the method's error type is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AskError<E> {
    /// The method ran and returned `Err`; the actor's state is unchanged by that message.
    #[error("the handler returned an error: {0}")]
    Handler(E),
    /// No reply arrived in time. The message stays queued and will still be processed.
    #[error("no reply to message {message_id} within {after:?}; the message stays queued and will still be processed, raise the timeout with `.timeout(..)` if the actor is busy")]
    Timeout {
        /// The message that was sent.
        message_id: MessageId,
        /// How long the caller waited.
        after: Duration,
    },
    /// The message could not be processed (it panicked on every attempt, or its bytes did
    /// not decode) and was moved to the actor's dead letters.
    #[error("message {message_id} was dead-lettered: {reason}")]
    DeadLettered {
        /// The message that was sent.
        message_id: MessageId,
        /// The last error.
        reason: String,
    },
    /// The message carried an idempotency key the actor had already consumed, so it was
    /// not applied again; the first message's reply went to its own caller.
    #[error("message {message_id} repeats an idempotency key the actor already consumed; it was not applied again")]
    Duplicate {
        /// The message that was sent.
        message_id: MessageId,
    },
    /// `.call()` was used inside a handler. An actor cannot wait for a reply while it
    /// holds its mailbox: use `.send()` and let the other actor send a message back.
    #[error("`.call()` is not allowed inside a handler (the reply could only arrive after this handler returns); use `.send()` and reply with a message")]
    NotAllowedInHandler,
    /// The runtime failed before the message was processed.
    #[error(transparent)]
    Runtime(#[from] Error),
}

impl<E> AskError<E> {
    /// The handler's own error, if that is what happened.
    pub fn into_handler_error(self) -> Option<E> {
        match self {
            Self::Handler(e) => Some(e),
            _ => None,
        }
    }
}

/// A runtime failure met inside a handler (a send the runtime refused, an invalid actor
/// id), as a value that can travel in a reply. Return `Result<T, RuntimeError>` from a
/// method, or give your own error a variant that holds it, and `?` works on the
/// [`crate::Context`] calls:
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// pub enum OrderError {
///     OutOfStock,
///     Runtime(mqless_runtime::error::RuntimeError),
/// }
///
/// // One impl, and `?` converts every `mqless::Error` in the handler.
/// impl From<mqless_runtime::Error> for OrderError {
///     fn from(error: mqless_runtime::Error) -> Self {
///         Self::Runtime(error.into())
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RuntimeError {
    /// What went wrong and what to do, as [`Error`] displays it.
    pub message: String,
}

impl From<IdError> for Error {
    fn from(error: IdError) -> Self {
        match error {
            IdError::InvalidActorId { id, reason } => Self::InvalidActorId { id, reason },
            IdError::InvalidActorType { name, reason } => Self::InvalidActorType { name, reason },
            IdError::InvalidMessageId { text } => Self::InvalidMessageId { text },
        }
    }
}

impl From<Error> for RuntimeError {
    fn from(error: Error) -> Self {
        Self {
            message: error.to_string(),
        }
    }
}

/// The error type of methods that cannot fail: it has no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Never {}

impl fmt::Display for Never {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Never {}

/// A handler's failure as recorded in a reply or dead letter.
pub(crate) fn describe_panic(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("handler panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("handler panicked: {s}")
    } else {
        "handler panicked".to_owned()
    }
}

/// An error and its sources, `: `-separated: SDK errors keep the useful part (connection
/// refused, DNS failure) in their sources.
#[cfg(feature = "aws")]
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why an [`Emitter`](crate::events::Emitter) did not deliver an emission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The channel may take it later (throttling, a timeout, the service unavailable):
    /// the drain stops, and the next one delivers it, before anything the actor emits
    /// after it.
    #[error("channel `{channel}` is unavailable for now: {reason}")]
    Unavailable {
        /// The channel.
        channel: String,
        /// What happened.
        reason: String,
    },
    /// The channel refuses it and would every time (no such queue, no permission, too
    /// large for the target): it becomes a dead letter of kind
    /// [`Undeliverable`](crate::store::DeadLetterKind::Undeliverable) naming the channel
    /// and the reason, and the actor's later emissions go on. Redriving the dead letter
    /// emits it again, under the same id.
    #[error("channel `{channel}` refused the emission: {reason}")]
    Refused {
        /// The channel.
        channel: String,
        /// Why, and what to do.
        reason: String,
    },
}
