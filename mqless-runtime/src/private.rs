//! What `#[mqless::actor]` expansions call. Not public API: reached only through
//! `mqless::__private`, and free to change in any release.

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::actor::{Actor, ActorClient, Context, Outcome};
pub use crate::client::{ClientCore, Request};
pub use crate::error::{CodecError, Never};
pub use crate::id::ActorId;
pub use crate::BoxFuture;
pub use serde;

/// The outcome of a method returning a plain value.
///
/// # Errors
/// When the reply cannot be encoded or is too large.
pub fn value_outcome<T: Serialize>(value: &T, ctx: &Context) -> Result<Outcome, CodecError> {
    if !ctx.wants_reply() {
        return Ok(Outcome::Ok(Vec::new()));
    }
    crate::codec::encode(value, "reply", ctx.limits().max_message_bytes).map(Outcome::Ok)
}

/// The outcome of a method returning `Result<T, E>`.
///
/// # Errors
/// When the reply or error cannot be encoded or is too large.
pub fn result_outcome<T: Serialize, E: Serialize>(
    value: &Result<T, E>,
    ctx: &Context,
) -> Result<Outcome, CodecError> {
    match value {
        Ok(value) => value_outcome(value, ctx),
        Err(_) if !ctx.wants_reply() => Ok(Outcome::Err(Vec::new())),
        Err(error) => crate::codec::encode(error, "handler error", ctx.limits().max_message_bytes)
            .map(Outcome::Err),
    }
}

/// Types that can travel in a message or a reply.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel in an actor message or reply",
    label = "not `Serialize + DeserializeOwned + Send + 'static`",
    note = "arguments and return values are sent as MessagePack: derive `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait Wire: Serialize + DeserializeOwned + Send + 'static {}
impl<T: Serialize + DeserializeOwned + Send + 'static> Wire for T {}

/// Types that can be an actor's state.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an actor's state",
    label = "an actor must be `Default + Serialize + DeserializeOwned + Send + 'static`",
    note = "derive `Default`, `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait State: Default + Serialize + DeserializeOwned + Send + 'static {}
impl<T: Default + Serialize + DeserializeOwned + Send + 'static> State for T {}

/// Compile-time check, emitted with the span of an argument or return type.
pub const fn assert_wire<T: Wire>() {}

/// Compile-time check, emitted with the span of the actor's type.
pub const fn assert_state<T: State>() {}
