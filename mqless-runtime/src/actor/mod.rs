//! The contract between user code and the runtime: the [`Actor`] trait the macro
//! implements, the typed client it wraps, and the [`Context`] a method may take.

pub mod client;
mod context;
pub(crate) mod dispatch;
pub(crate) mod query;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CodecError;
use crate::BoxFuture;
use client::ClientCore;

pub use context::Context;
pub(crate) use context::{HandlerEffects, Outbox};
pub use query::{Mutating, Queryable, ReadOnly};

/// What a handler produced, encoded: the caller's reply, or the method's `Err`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The method returned normally; the encoded return value (empty when nobody asked).
    Ok(Vec<u8>),
    /// The method returned `Err`; the state change is rolled back.
    Err {
        /// The encoded error, for the asker (empty for a tell: nobody decodes it).
        encoded: Vec<u8>,
        /// The error's `Debug` (its type's name when it has none), for a tell's
        /// `Rejected` dead letter and the log (empty for an ask: the asker gets it typed).
        description: String,
    },
}

impl Outcome {
    /// The outcome of a method returning a plain value: nothing to encode when nobody
    /// asked.
    pub(crate) fn of_value<T: Serialize>(value: &T, ctx: &Context) -> Result<Self, CodecError> {
        if !ctx.wants_reply() {
            return Ok(Outcome::Ok(Vec::new()));
        }
        crate::codec::encode(value, "reply", ctx.limits().max_message_bytes).map(Outcome::Ok)
    }

    /// The outcome of a method returning `Result<T, E>`; `describe` renders an error for
    /// a tell's `Rejected` dead letter.
    pub(crate) fn of_result<T: Serialize, E: Serialize>(
        value: &Result<T, E>,
        ctx: &Context,
        describe: impl FnOnce(&E) -> String,
    ) -> Result<Self, CodecError> {
        match value {
            Ok(value) => Self::of_value(value, ctx),
            Err(error) if !ctx.wants_reply() => Ok(Outcome::Err {
                encoded: Vec::new(),
                description: describe(error),
            }),
            Err(error) => Ok(Outcome::Err {
                encoded: crate::codec::encode(
                    error,
                    "handler error",
                    ctx.limits().max_message_bytes,
                )?,
                description: String::new(),
            }),
        }
    }
}

/// An actor type. `#[mqless::actor]` implements it; implementing it by hand is possible
/// but the macro keeps the message enum, the dispatch and the client in step.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an actor type",
    label = "not an actor: its impl block has no `#[mqless::actor]`",
    note = "only actor types can be sent to (`ctx.actor::<T>`, `sends_to(T)`) or run"
)]
pub trait Actor: Default + Serialize + DeserializeOwned + Send + 'static {
    /// The actor type's name: its key prefix in the store and, by default, its Lambda
    /// function name.
    const TYPE_NAME: &'static str;

    /// The actor types its handlers send to, as `#[actor]` found them (`ctx.actor::<T>`
    /// calls in its block, and `#[actor(sends_to(..))]`); `None` for no restriction (a
    /// hand-written impl). A send to a type not listed is refused, so the deploy template's
    /// permissions, derived from this list, are never too narrow.
    const SENDS_TO: Option<&'static [&'static str]> = None;
    /// The channels it emits to (`Context::emit`), for the deploy template's grants;
    /// `None`: any. `#[actor]` lists the literal channels of `ctx.emit` in its block and
    /// those `#[actor(emits_to(..))]` names; emitting to another fails.
    const EMITS_TO: Option<&'static [&'static str]> = None;

    /// Whether its handlers ask with `reply_to`: the types it asks then write their
    /// replies into its mailbox.
    const ASKS_WITH_REPLY_TO: bool = false;

    /// `#[actor(idle_ttl = "30d")]`: after this long without a message, the actor's state
    /// expires (DynamoDB's TTL deletes its record; until then it reads as the default).
    const IDLE_TTL: Option<std::time::Duration> = None;

    /// The subscriptions declared with `#[subscribe(..)]` on its methods.
    const SUBSCRIPTIONS: &'static [crate::events::Subscription] = &[];

    /// The message enum: one variant per handler method.
    type Message: Serialize + DeserializeOwned + Send + 'static;

    /// The typed client.
    type Client: ActorClient;

    /// Runs the method `message` names against `self`.
    fn handle<'a>(
        &'a mut self,
        message: Self::Message,
        ctx: &'a mut Context,
    ) -> BoxFuture<'a, Result<Outcome, CodecError>>;

    /// Whether the method takes `&self`: no snapshot is needed to roll it back.
    fn is_read_only(message: &Self::Message) -> bool;
}

/// The address of actor `id` of type `A`.
///
/// # Errors
/// [`crate::Error::InvalidActorId`], or [`crate::Error::InvalidActorType`] for an invalid
/// `A::TYPE_NAME`.
pub fn address_of<A: Actor>(id: impl Into<String>) -> Result<crate::id::Address, crate::Error> {
    Ok(crate::id::Address::new(
        crate::id::ActorType::new(A::TYPE_NAME)?,
        crate::id::ActorId::new(id)?,
    ))
}

/// A typed client of one actor, generated as `{Actor}Client`.
pub trait ActorClient: Clone + Send + Sync + 'static {
    /// Wraps a client core addressed at one actor.
    fn from_core(core: ClientCore) -> Self;
    /// The client core.
    fn core(&self) -> &ClientCore;
}
