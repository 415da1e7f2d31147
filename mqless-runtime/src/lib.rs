//! The runtime of MQLess: everything that behaves. Users depend on the `mqless` facade,
//! which re-exports what they write against; this crate holds the machinery.
//!
//! Modules, from what user code touches down to the wire (imports only point down):
//! - [`actors`]: where actors run ([`Actors`]): [`embedded`] in this process, or
//!   `aws` (Lambda functions over DynamoDB, behind the `aws` feature);
//! - [`actor`]: the contract with generated code: the [`Actor`] trait, typed clients,
//!   and the [`Context`] a method may take;
//! - [`client`]: typed requests (`send`, `call`) over a [`client::Transport`];
//!   [`reply`]: asks between actors whose [`reply::Reply`] comes back as a message;
//! - [`recovery`]: dead letters and the sweep, for operators;
//! - [`mailbox`]: the protocol engine that drains one actor's mailbox ([`ActorHost`]);
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
