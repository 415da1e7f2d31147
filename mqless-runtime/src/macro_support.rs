//! What `#[mqless::actor]` expansions call. Not public API: reached only through
//! `mqless::__macro_support` (which lists each item: nothing is public by accident), and free to change in any release.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::actor::client::{ClientCore, Request};
pub use crate::actor::{Actor, ActorClient, Context, Outcome, ReadOnly};
pub use crate::error::{CodecError, Never};
pub use crate::events::{Subscription, TOPIC_TYPE};
pub use crate::id::ActorId;
pub use crate::BoxFuture;
pub use serde;

/// The client of an actor whose `#[actor]` block has errors: the macro's fallback
/// expansion names it so that uses of the type compile while the block is fixed. It
/// has no methods to call.
#[derive(Debug, Clone)]
pub struct Unexpanded(ClientCore);

impl ActorClient for Unexpanded {
    fn from_core(core: ClientCore) -> Self {
        Self(core)
    }
    fn core(&self) -> &ClientCore {
        &self.0
    }
}

/// The outcome of a method returning a plain value.
///
/// # Errors
/// When the reply cannot be encoded or is too large.
pub fn value_outcome<T: Serialize>(value: &T, ctx: &Context) -> Result<Outcome, CodecError> {
    Outcome::of_value(value, ctx)
}

/// The outcome of a method returning `Result<T, E>`; `describe` renders an error for
/// a tell's `Rejected` dead letter (the expansion passes the error's `Debug`, or its
/// type's name).
///
/// # Errors
/// When the reply or error cannot be encoded or is too large.
pub fn result_outcome<T: Serialize, E: Serialize>(
    value: &Result<T, E>,
    ctx: &Context,
    describe: impl FnOnce(&E) -> String,
) -> Result<Outcome, CodecError> {
    Outcome::of_result(value, ctx, describe)
}

/// Types that can travel in a message or a reply.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel in an actor message or reply",
    label = "not `Serialize + DeserializeOwned + Send + 'static`",
    note = "arguments and return values are sent as MessagePack: derive `serde::Serialize` and `serde::Deserialize` for it",
    note = "every `pub` method of an `#[actor]` block is a message; if this one is a helper, mark it `#[handler(skip)]` or move it to another `impl` block"
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

/// A message field, for the generated `Debug` of a message enum.
pub struct DebugField<'a, T>(pub &'a T);

/// How a field prints: its own `Debug`, or its type's name.
pub enum DebugValue<'a> {
    /// The field's type has `Debug`.
    Debug(&'a dyn fmt::Debug),
    /// It has not: its type's name.
    Opaque(&'static str),
}

impl fmt::Debug for DebugValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Debug(value) => value.fmt(f),
            Self::Opaque(type_name) => write!(f, "<{type_name}>"),
        }
    }
}

/// Chosen for `(&DebugField(x)).__mqless_debug()` when `x` has `Debug` (method lookup
/// tries `&DebugField` before `&&DebugField`).
pub trait DebugViaDebug {
    /// The field's `Debug`.
    fn __mqless_debug(&self) -> DebugValue<'_>;
}

impl<T: fmt::Debug> DebugViaDebug for DebugField<'_, T> {
    fn __mqless_debug(&self) -> DebugValue<'_> {
        DebugValue::Debug(self.0)
    }
}

/// Chosen when the field has no `Debug`.
pub trait DebugViaName {
    /// The field's type name.
    fn __mqless_debug(&self) -> DebugValue<'_>;
}

impl<T> DebugViaName for &DebugField<'_, T> {
    fn __mqless_debug(&self) -> DebugValue<'_> {
        DebugValue::Opaque(std::any::type_name::<T>())
    }
}
