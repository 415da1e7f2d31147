//! # MQLess: actors on AWS Lambda and DynamoDB, with no cluster
//!
//! Annotate an impl block with [`#[actor]`](actor): every `pub` method becomes a message.
//! MQLess guarantees that an actor handles one message at a time, in order, with its state
//! persisted by conditional writes, so concurrent updates to one entity need no locks and
//! no optimistic retries.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Counter {
//!     value: i64,
//! }
//!
//! #[mqless::actor]
//! impl Counter {
//!     /// Adds `by` and returns the new value.
//!     pub fn increment(&mut self, by: i64) -> i64 {
//!         self.value += by;
//!         self.value
//!     }
//!
//!     pub fn get(&self) -> i64 {
//!         self.value
//!     }
//! }
//!
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = mqless::Embedded::new();
//! runtime.register::<Counter>()?;
//! let counter = runtime.client::<Counter>("visits")?;
//!
//! counter.increment(5).send().await?;            // tell: returns once the message is durable
//! assert_eq!(counter.increment(1).call().await?, 6); // ask: waits for the return value
//! assert_eq!(counter.get().call().await?, 6);
//! # Ok(())
//! # }
//! ```
//!
//! ## What the macro generates
//!
//! From `impl Counter`:
//! - `CounterMessage`, a serde enum with one variant per `pub` method, whose variant
//!   (method) and field (argument) names are the wire format. MessagePack with named
//!   fields: adding an `Option` argument or a new method never breaks old messages.
//! - `CounterClient`, the typed client: `counter.increment(5)` returns a [`Request`] to
//!   `.send()` (tell: resolves to the [`MessageId`] once the message is durable) or
//!   `.call()` (ask: resolves to the return value, or an [`AskError`]), with
//!   `.timeout(..)` and `.idempotency_key(..)`.
//! - the dispatch: an implementation of [`Actor`] with one `match` over the messages.
//!
//! Handler methods take `&self` or `&mut self`, may be `async`, take owned serde
//! arguments, and return a serde value or `Result<T, E>` with serde `T` and `E`. A method
//! that returns `Err` or panics leaves the state unchanged. A method may take a
//! [`Context`] (`ctx: &mut Context`) for its own id, the clock, and sends to other
//! actors, which are committed atomically with its state change.
//!
//! Options: `#[actor(name = "..")]` sets the actor type name (default: the type's name);
//! `#[handler(name = "..")]` on a method sets its wire name; `#[actor(crate = "..")]`
//! names this crate if you renamed it in `Cargo.toml`.
//!
//! ## Runtimes
//!
//! The same actor code runs on the [`Embedded`] runtime (in process, no AWS: the default
//! for trying MQLess and for tests) and, as an AWS Lambda function per actor type, with
//! mailboxes and state in DynamoDB.
//!
//! ## When messages fail
//!
//! A message whose method panics is retried, then moved to the actor's dead letters, and
//! the actor goes on; so is one that does not decode, and one that kills its process
//! three invocations in a row. [`Actors::dead_letters`] lists, inspects, redrives and
//! discards them ([`DeadLetters`]); [`Actors::sweep`] wakes every actor with queued
//! messages, recovering messages whose wake-up was lost. Both work on every runtime.

pub use mqless_runtime::{
    codec, mailbox, recovery, store, Actor, ActorClient, ActorHost, ActorId, ActorType, Actors,
    Address, AskError, Clock, CodecError, Context, DeadLetter, DeadLetters, DrainConfig, DrainEnd,
    DrainOptions, DrainReport, Embedded, EmbeddedBuilder, Envelope, Error, InvokeError, Invoker,
    Limits, ManualClock, MessageId, Never, RecordingInvoker, Request, SendOptions, Store,
    StoreError, StoreErrorKind, SweepReport, SystemClock,
};

/// Turns an inherent impl block into an actor: see the [crate documentation](crate).
///
/// ```compile_fail
/// #[mqless::actor]
/// impl Counter {
///     pub fn consume(self) {} // error: handlers take `&self` or `&mut self`
/// }
/// # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Counter;
/// ```
pub use mqless_macros::actor;

/// The AWS path: the DynamoDB store, the Lambda invoker and handler, and clients of
/// actors running on Lambda.
#[cfg(feature = "aws")]
pub mod aws {
    /// The SDK crates MQLess is built on, for building clients with custom settings
    /// (`DynamoStore::new`, `LambdaInvoker::new`) at the matching versions.
    pub use mqless_runtime::aws::{aws_sdk_dynamodb, aws_sdk_lambda};
    pub use mqless_runtime::aws::{load_config, Remote};
    pub use mqless_runtime::invoke::lambda::{FunctionNames, LambdaInvoker};
    pub use mqless_runtime::lambda::{
        parse_invocation, run, serve, serve_sweeper, Handler, Invocation, InvocationResult,
        LambdaError, SweepResult,
    };
    pub use mqless_runtime::store::dynamodb::{Capacity, DynamoStore};
}

#[doc(hidden)]
pub mod __private {
    pub use mqless_runtime::private::*;
}
