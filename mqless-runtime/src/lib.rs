//! The runtime of MQLess: everything that behaves. Users depend on the `mqless` facade,
//! which re-exports what they write against; this crate holds the machinery.
//!
//! Modules, from what user code touches down to the wire. Imports point down, except
//! the cycles `scripts/module-cycles.allowed` lists, being taken apart; `scripts/test`
//! fails on a new one:
//! - `private`: what generated code calls (`mqless::__private`), on top of everything;
//! - `aws` (feature `aws`: Lambda functions over DynamoDB), [`embedded`] (this process),
//!   both implementing [`actors`] ([`Actors`]: where actors run, as a caller sees it),
//!   and [`recovery`]: dead letters, quarantines, the sweep and the audit, for operators;
//! - [`mailbox`]: the protocol engine that drains one actor's mailbox ([`ActorHost`]);
//! - [`events`]: topics (actors of a built-in type) and subscriptions;
//! - [`actor`]: the contract with generated code: the [`Actor`] trait, and the
//!   [`Context`] a method may take; [`client`]: typed requests (`send`, `call`) over a
//!   [`client::Transport`]; [`reply`]: asks between actors whose [`reply::Reply`] comes
//!   back as a message; `replies`: replies handed to askers in this process;
//! - [`schedule`]: scheduled messages and reminders; [`trace`]: trace context (and
//!   `otel`, feature `opentelemetry`);
//! - [`store`], [`invoke`], [`clock`]: the three seams to the outside world (where
//!   mailboxes and state live, how a host is woken, what time it is);
//! - [`wire`], [`codec`], [`id`], [`error`]: bytes, names and errors, used by all;
//! - `testing` (feature `testing`): fault injection and scenario runs for users' tests.

pub mod actor;
pub mod actors;
#[cfg(feature = "aws")]
pub mod aws;
pub mod client;
pub mod clock;
pub mod codec;
pub mod embedded;
pub mod error;
pub mod events;
pub mod id;
pub mod invoke;
pub mod mailbox;
#[doc(hidden)]
pub mod private;
pub mod recovery;
mod replies;
pub mod reply;
pub mod schedule;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
pub mod wire;

#[cfg(feature = "opentelemetry")]
pub use trace::otel;

pub use actor::{Actor, ActorClient, Context};
pub use actors::Actors;
pub use embedded::Embedded;
pub use error::Error;
pub use mailbox::ActorHost;

/// A boxed, sendable future: the return type of the runtime's object-safe traits.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
