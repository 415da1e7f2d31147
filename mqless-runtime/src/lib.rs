//! The runtime of MQLess: everything that behaves. Users depend on the `mqless` facade;
//! this crate holds the codec, the mailbox protocol, the store, invoker and clock traits
//! with their implementations, the clients, and the embedded runtime.
//!
//! Architecture, outside in:
//! - [`client`]: typed requests (`send`, `call`) over a [`client::Transport`];
//! - [`mailbox`]: the protocol that drains one actor's mailbox ([`ActorHost`]);
//! - [`store`]: where mailboxes and state live ([`Store`], [`store::memory`]);
//! - [`invoke`]: how a handler is woken ([`Invoker`], [`invoke::InProcessInvoker`]);
//! - [`clock`]: time ([`Clock`], [`ManualClock`] for tests);
//! - [`codec`]: the one place bytes are made and read;
//! - [`recovery`]: dead letters and the sweep, for operators;
//! - [`embedded`]: all of it in one process.

pub mod actor;
#[cfg(feature = "aws")]
pub mod aws;
pub mod client;
pub mod clock;
pub mod codec;
pub mod context;
pub mod embedded;
pub mod error;
pub mod id;
pub mod invoke;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod mailbox;
#[doc(hidden)]
pub mod private;
pub mod recovery;
pub mod store;

pub use actor::{Actor, ActorClient, Actors, Outcome};
pub use client::{ClientCore, Request, SendOptions};
pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::Limits;
pub use context::Context;
pub use embedded::{Embedded, EmbeddedBuilder};
pub use error::{AskError, CodecError, Error, InvokeError, Never, StoreError, StoreErrorKind};
pub use id::{ActorId, ActorType, Address, MessageId};
pub use invoke::{Invoker, RecordingInvoker};
pub use mailbox::{ActorHost, DrainConfig, DrainEnd, DrainOptions, DrainReport, Envelope};
pub use recovery::{DeadLetters, SweepReport};
pub use store::{DeadLetter, Store};
