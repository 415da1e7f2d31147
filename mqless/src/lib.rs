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
//! names this crate if you renamed it in `Cargo.toml`. `#[subscribe(topic = "..",
//! pattern = "..", route = "..")]` on a method makes it receive a topic's events (see
//! [`events`]).
//!
//! ## Runtimes
//!
//! The same actor code runs on the [`Embedded`] runtime (in process, no AWS: the default
//! for trying MQLess and for tests) and, with the `aws` feature, as an AWS Lambda
//! function per actor type, with mailboxes and state in DynamoDB (`aws::serve` is the
//! whole `main` of a function; `aws::Remote` sends to actors running there). Code written
//! against the [`Actors`] trait runs on both.
//!
//! ## Where things are
//!
//! The root holds what an application writes; [`prelude`] imports it in one line. The
//! modules hold the rest, each item at one path:
//! - [`recovery`]: dead letters, quarantines and the sweep, for operators;
//! - [`events`]: publish and subscribe (topics, patterns, MEGA events);
//! - [`embedded`]: the embedded runtime's settings;
//! - [`mailbox`]: the protocol engine ([`mailbox::ActorHost`]) and its settings;
//! - [`store`], [`invoke`], [`clock`]: the three seams a runtime is built from;
//! - [`client`], [`id`], [`wire`], [`error`]: clients, names, bytes and the errors of each
//!   boundary;
//! - `aws` (feature `aws`): DynamoDB, Lambda and the clients of actors running there;
//! - `testing` (feature `testing`): fault injection and seeded scenario runs, to check
//!   that your own actors keep their invariants under the faults MQLess survives.
//!
//! ## When messages fail
//!
//! A message whose method panics is retried, then moved to the actor's dead letters, and
//! the actor goes on; so is one that does not decode, and one that kills its process
//! three invocations in a row. [`Actors::dead_letters`] lists, inspects, redrives and
//! discards them ([`recovery::DeadLetters`]); [`Actors::sweep`] wakes every actor with
//! something due (scheduled messages, wake-ups that failed), reading an index so that its
//! cost follows what is due, and [`Actors::audit`] reads every mailbox for wake-ups lost
//! where nobody saw. Both work on every runtime.
//!
//! When the actor's own record fails in a way no retry fixes (its state no longer
//! decodes after a deploy, it cannot fit DynamoDB's limits), the actor is *quarantined*:
//! drains leave it alone, its messages stay queued, and the reason is logged and kept on
//! its record. [`Actors::quarantined`] lists such actors and [`Actors::quarantine`]
//! lifts a quarantine once the cause is fixed ([`recovery::Quarantine`]).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use mqless_runtime::actor::client::Request;
/// What a handler produced: the type of [`Actor::handle`]'s result, for hand-written impls.
pub use mqless_runtime::actor::Outcome;
pub use mqless_runtime::codec::Limits;
pub use mqless_runtime::error::{AskError, Never, RuntimeError};
pub use mqless_runtime::id::{ActorId, MessageId};
pub use mqless_runtime::{Actor, Actors, Context, Embedded, Error};

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

/// What an application writes, in one import: `use mqless::prelude::*;`.
pub mod prelude {
    pub use crate::reply::Reply;
    pub use crate::{actor, Actors, AskError, Context, Embedded, RuntimeError};
}

/// Request-reply between actors, without blocking: a handler asks another actor with
/// [`Request::reply_to`](crate::Request::reply_to), naming one of its own methods that
/// takes a [`Reply`](reply::Reply); the callee's outcome comes back later as a message to
/// that method, committed with the callee's state change, or
/// [`Reply::TimedOut`](reply::Reply::TimedOut) when it does not come within the request's
/// `.timeout(..)` (default 30 s). Exactly one of the two runs the method, whatever the
/// asker did meanwhile. `ctx.sender()` names the callee in the reply method.
///
/// A device group that asks every device for its temperature, and counts the silent ones:
///
/// ```
/// use std::collections::BTreeMap;
/// use std::time::Duration;
/// use mqless::prelude::*;
///
/// #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
/// pub struct Device { celsius: f64 }
///
/// #[mqless::actor]
/// impl Device {
///     pub fn record(&mut self, celsius: f64) { self.celsius = celsius; }
///     pub fn temperature(&self) -> f64 { self.celsius }
/// }
///
/// #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
/// pub struct Group { devices: Vec<String>, readings: BTreeMap<String, Option<f64>> }
///
/// #[mqless::actor]
/// impl Group {
///     pub fn join(&mut self, device: String) { self.devices.push(device); }
///
///     pub async fn poll(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
///         let me = ctx.actor::<Group>(ctx.id().as_str())?;
///         for id in &self.devices {
///             ctx.actor::<Device>(id.as_str())?
///                 .temperature()
///                 .reply_to(|reading| me.reading(id.clone(), reading))
///                 .timeout(Duration::from_secs(3))
///                 .send()
///                 .await?;
///         }
///         Ok(())
///     }
///
///     pub fn reading(&mut self, device: String, reading: Reply<f64>) {
///         let celsius = match reading { Reply::Ok(celsius) => Some(celsius), _ => None };
///         self.readings.insert(device, celsius);
///     }
///
///     pub fn readings(&self) -> BTreeMap<String, Option<f64>> { self.readings.clone() }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let actors = Embedded::new();
/// actors.register::<Device>()?.register::<Group>()?;
/// actors.client::<Device>("d-1")?.record(21.5).send().await?;
/// let group = actors.client::<Group>("g")?;
/// group.join("d-1".into()).send().await?;
/// group.poll().send().await?;
/// actors.settle().await;
/// assert_eq!(group.readings().query().await?, BTreeMap::from([("d-1".into(), Some(21.5))]));
/// # Ok(())
/// # }
/// ```
pub mod reply {
    pub use mqless_runtime::reply::Reply;
}

/// Dead letters, quarantines, the sweep and the audit: list, inspect, redrive and
/// discard the messages an actor could not process; inspect and lift the quarantine of
/// an actor whose own record failed; wake actors with something due, or whose wake-up
/// was lost. [`Operator`](recovery::Operator)
/// reaches every actor by address, without its Rust type: list, inspect, reset, delete.
pub mod recovery {
    pub use mqless_runtime::recovery::{
        audit, sweep, sweep_with, ActorReport, DeadLetters, Operator, Quarantine, Quarantined,
        Queued, SweepOptions, SweepReport, COUNT_QUEUED_UP_TO,
    };
    pub use mqless_runtime::store::{DeadLetter, DeadLetterKind, Retired, StateFix};
}

/// Time: [`Request::send_after`](crate::Request::send_after) and
/// [`Request::send_at`](crate::Request::send_at) queue a message for later; cancel one
/// with [`Actors::cancel_scheduled`] by id or by the name
/// given with [`Request::named`](crate::Request::named).
/// [`Request::remind`](crate::Request::remind) registers a recurring [`Reminder`](schedule::Reminder)
/// with a [`Missed`](schedule::Missed)-fire policy.
pub mod schedule {
    pub use mqless_runtime::schedule::{
        Missed, Reminder, ReminderInfo, Scheduled, CANCEL_MARGIN, MIN_REMINDER_PERIOD,
    };
}

/// Trace context across actors: the W3C `traceparent` of a send travels in its envelope,
/// so a trace continues from a client, across the mailbox, into the handler's `message`
/// span (field `trace_id`) and on to the actors it sends to. Set it on a client's sends
/// with [`in_trace`](trace::in_trace); read it in a handler with
/// [`current`](trace::current). Feature `opentelemetry` exports the spans (`mqless::otel`).
pub mod trace {
    pub use mqless_runtime::trace::{current, in_trace, TraceParent};
}

/// Publish and subscribe: publish an event to a topic with
/// [`Actors::publish`] or [`Context::publish`](crate::Context::publish);
/// methods marked `#[subscribe(topic = "..", pattern = "..", route = "..")]` receive the
/// events whose fields match the pattern (the EventBridge event-pattern grammar, see
/// [`Pattern`](events::Pattern)), each exactly once. See docs/guide/events.md.
pub mod events {
    pub use mqless_runtime::events::{
        check_channel, Emission, EmitError, Emitted, Emitter, MegaEvent, MegaEventInfo, MegaObject,
        NoEmitter, Pattern, PatternError, Payload, RecordingEmitter, Subscription, Topic,
        TopicMessage, DEFAULT_MAX_EMISSION_BYTES, EVENT_HEADROOM, MAX_CHANNEL_LEN, TOPIC_TYPE,
    };
    pub use mqless_runtime::topics::{TopicActor, TopicClient, MAX_DELIVERIES_PER_STEP};
}

/// The embedded runtime's settings (the runtime itself is [`crate::Embedded`]).
pub mod embedded {
    pub use mqless_runtime::embedded::EmbeddedBuilder;
}

/// The mailbox protocol engine: [`ActorHost`](mailbox::ActorHost) drains one actor's mailbox over a store,
/// an invoker and a clock, with [`DrainConfig`](mailbox::DrainConfig)'s settings.
pub mod mailbox {
    pub use mqless_runtime::mailbox::{
        ActorHost, DrainConfig, DrainEnd, DrainOptions, DrainReport,
    };
}

/// Where mailboxes and state live: the [`Store`](store::Store) trait, its records, and the in-memory
/// store of the embedded runtime.
pub mod store {
    pub use mqless_runtime::store::due;
    pub use mqless_runtime::store::memory::MemoryStore;
    pub use mqless_runtime::store::{
        Acquired, Cleanup, Commit, CommitOutcome, Failure, KeyedBytes, Lift, MailboxItem,
        QuarantineRecord, QueuedHead, RecordExpiry, StateRecord, Store, SubscriptionChange,
        SubscriptionPage, SubscriptionRecord, SubscriptionWriters,
    };
    pub use mqless_runtime::BoxFuture;

    /// Moved: one path for each public item.
    #[deprecated(note = "use mqless::recovery::DeadLetterKind")]
    pub type DeadLetterKind = mqless_runtime::store::DeadLetterKind;
    /// Moved: one path for each public item.
    #[deprecated(note = "use mqless::recovery::Retired")]
    pub type Retired = mqless_runtime::store::Retired;
    /// Moved: one path for each public item.
    #[deprecated(note = "use mqless::recovery::StateFix")]
    pub type StateFix = mqless_runtime::store::StateFix;
}

/// How an actor's host is woken: the [`Invoker`](invoke::Invoker) trait. (An invoker that only records,
/// for tests, is in `testing`.)
pub mod invoke {
    pub use mqless_runtime::invoke::Invoker;
}

/// Time: the [`Clock`](clock::Clock) trait and the system clock. (A manual clock, for tests, is in
/// `testing`.)
pub mod clock {
    pub use mqless_runtime::clock::{Clock, SystemClock};
}

/// Typed clients: what every generated `{Actor}Client` wraps.
pub mod client {
    pub use mqless_runtime::actor::client::{
        AskerIdentity, ClientCore, SendOptions, Transport, DEFAULT_ASK_TIMEOUT,
        MAX_IDEMPOTENCY_KEY_LEN,
    };
    pub use mqless_runtime::actor::{ActorClient, Mutating, Queryable, ReadOnly};
}

/// Names and addresses: actor types, and `type/id` addresses (actor and message ids are
/// at the root).
pub mod id {
    pub use mqless_runtime::id::{
        ActorType, Address, IdError, MAX_ACTOR_ID_LEN, MAX_ACTOR_TYPE_LEN,
    };
}

/// The wire format (protocol v1, specified in docs/wire.md): the envelope a queued
/// message is stored in, the reply record, and the MessagePack codec with its size and
/// depth limits.
pub mod wire {
    pub use mqless_runtime::codec::{decode, encode};
    pub use mqless_runtime::wire::{
        valid_asker, Envelope, ReminderSpec, ReplyRecord, ReplyTo, MAX_ASKER_LEN,
    };
}

/// The errors of each boundary ([`crate::Error`] and [`crate::AskError`] are at the root).
pub mod error {
    pub use mqless_runtime::error::{CodecError, InvokeError, StoreError, StoreErrorKind};
}

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub use mqless_runtime::aws;

#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub use mqless_runtime::otel;

/// A testing kit for your own actors: seeded fault scenarios ([`testing::Scenario`]) and
/// the fault layer they are made of. See docs/guide/testing.md.
///
/// ```
/// use mqless::testing::Scenario;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Counter { value: i64 }
///
/// #[mqless::actor]
/// impl Counter {
///     pub fn add(&mut self, by: i64) { self.value += by; }
/// }
///
/// # #[tokio::main(flavor = "multi_thread")]
/// # async fn main() {
/// let report = Scenario::<Counter>::new(["a", "b"])
///     .messages(30)
///     .run(0..20, |rng| {
///         let actor = if rng.below(2) == 0 { "a" } else { "b" };
///         (actor.to_owned(), CounterMessage::Add { by: 1 })
///     }, |end| {
///         let total: i64 = end.states.values().map(|c| c.value).sum();
///         if total == end.applied.len() as i64 { Ok(()) } else { Err(format!("total {total}")) }
///     })
///     .await
///     .unwrap_or_else(|failure| panic!("{failure}"));
/// assert_eq!(report.seeds, 20);
/// # }
/// ```
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing {
    pub use mqless_runtime::testing::{
        redrive_stalled, DrainEnded, DrainTarget, EmitFaults, FaultWorld, FaultyEmitter,
        FaultyInvoker, FaultyRig, FaultyStore, FixtureError, Fixtures, LetterFate, ManualClock,
        NudgeFaults, Pause, PausePoint, RecordingInvoker, Rng, Scenario, ScenarioEnd,
        ScenarioFailure, ScenarioReport, SkewedClock, StoreFaults,
    };
    #[cfg(feature = "aws")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
    pub use mqless_runtime::testing::{LostAnswers, StaleReads};
}

/// What `#[actor]` expansions call: not public API, free to change in any release.
#[doc(hidden)]
pub mod __macro_support {
    pub use mqless_runtime::macro_support::{
        assert_state, assert_wire, result_outcome, serde, value_outcome, Actor, ActorClient,
        ActorId, BoxFuture, ClientCore, CodecError, Context, DebugField, DebugValue, DebugViaDebug,
        DebugViaName, Never, Outcome, ReadOnly, Request, State, Subscription, Unexpanded, Wire,
        TOPIC_TYPE,
    };
}
