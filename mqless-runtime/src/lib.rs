//! The runtime of MQLess: everything that behaves. Users depend on the `mqless` facade,
//! which re-exports what they write against; this crate holds the machinery.
//!
//! Modules in layers, top down; a module imports only from layers below it
//! (`scripts/module_cycles.py`, a step of `scripts/test`, fails on an import cycle and
//! prints these layers):
//! - `testing` (feature `testing`): fault injection and scenario runs for users' tests;
//! - `aws` (feature `aws`: Lambda functions over DynamoDB) and [`embedded`] (this
//!   process): the two runtimes;
//! - [`runtime`]: [`Actors`], where actors run as a caller sees it, implemented by both;
//! - [`mailbox`]: the protocol engine that drains one actor's mailbox ([`ActorHost`]);
//!   [`recovery`]: dead letters, quarantines, the sweep and the audit, for operators;
//!   [`topics`]: the topic actor that fans events out; `macro_support`: what generated
//!   code calls (`mqless::__macro_support`);
//! - [`actor`]: the contract with generated code: the [`Actor`] trait, the typed clients
//!   it wraps ([`actor::client`]), the [`Context`] a method may take, and the dispatch of
//!   one message;
//! - [`events`]: what topics understand (subscriptions, patterns, event encoding);
//!   [`schedule`]: scheduled messages and reminders;
//! - [`reply`]: asks between actors whose [`reply::Reply`] comes back as a message;
//!   [`store`]: where mailboxes and state live;
//! - [`wire`], [`codec`]: the bytes; [`invoke`]: how a host is woken; [`trace`]: trace
//!   context (and `otel`, feature `opentelemetry`);
//! - [`error`], `local_replies` (replies handed to askers in this process), [`id`],
//!   [`clock`]: errors, names and time, used by all.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod actor;
#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;
pub mod runtime;

pub mod clock;
pub mod codec;
pub mod embedded;
pub mod error;
pub mod events;
pub mod id;
pub mod invoke;
mod local_replies;
#[doc(hidden)]
pub mod macro_support;
pub mod mailbox;
pub mod recovery;
pub mod reply;
pub mod schedule;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod topics;
pub mod trace;
pub mod wire;

#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub use trace::otel;

pub use actor::{Actor, ActorClient, Context};
pub use embedded::Embedded;
pub use error::Error;
pub use mailbox::ActorHost;
pub use runtime::Actors;

/// A boxed, sendable future: the return type of the runtime's object-safe traits.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
