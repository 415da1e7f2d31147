//! The embedded runtime: the mailbox protocol in process, with no AWS at all. The
//! default for trying MQLess, for examples and for tests.

mod invoker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::actor::client::{ClientCore, StoreTransport, Transport};
use crate::actor::{address_of, Actor, ActorClient};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::events::{Emitted, Emitter, EventRoutes, RecordingEmitter};
use crate::id::{ActorType, MessageId};
use crate::invoke::Invoker;
use crate::local_replies::LocalReplies;
use crate::mailbox::{ActorHost, DrainConfig};
use crate::recovery::{self, DeadLetters, Quarantine, Quarantined, SweepReport};
use crate::runtime::Actors;
use crate::schedule::{self, ReminderInfo, Scheduled};
use crate::store::memory::MemoryStore;
use crate::store::Store;
use crate::topics::TopicActor;

pub(crate) use invoker::Drain;
use invoker::InProcessInvoker;

/// Actors in this process: register actor types, then get typed clients. Its methods
/// beyond [`Actors`] are for tests and tools: a custom store, clock or drain settings
/// ([`Embedded::builder`]), and hosts to drive drains by hand ([`Embedded::host`]).
///
/// ```
/// # async fn demo() -> Result<(), mqless_runtime::Error> {
/// let runtime = mqless_runtime::Embedded::new();
/// // runtime.register::<Counter>()?;
/// // let counter = runtime.client::<Counter>("c1")?;
/// // counter.increment(5).call().await?;
/// runtime.settle().await;
/// # Ok(()) }
/// ```
pub struct Embedded {
    store: Arc<dyn Store>,
    invoker: Arc<InProcessInvoker>,
    /// What clients and hosts wake: the in-process invoker, or a recorder when drains
    /// are driven by hand.
    wake: Arc<dyn Invoker>,
    clock: Arc<dyn Clock>,
    config: DrainConfig,
    transport: Arc<dyn Transport>,
    /// Asks made here that wait for a drain here.
    local_replies: Arc<LocalReplies>,
    /// What topics fan out to: the registered types' routed subscriptions, and the store.
    events: Arc<EventRoutes>,
    /// Delivers what handlers emit (`Context::emit`).
    emitter: Arc<dyn Emitter>,
    /// The default emitter, when no other was given: what [`Embedded::emitted`] reads.
    recorded: Option<Arc<RecordingEmitter>>,
    /// The hosts; the invoker only holds weak references, so dropping the runtime stops
    /// new drains.
    hosts: Mutex<HashMap<ActorType, Arc<dyn Drain>>>,
    /// Set by [`Embedded::shutdown`] and on drop: the hosts' drains end at their next
    /// batch boundary.
    stopping: Arc<AtomicBool>,
}

impl Drop for Embedded {
    /// Stops taking work as [`Embedded::shutdown`] does, without waiting: the runtime's
    /// drains in flight commit the batch they are in, release their leases and end;
    /// nothing new starts. A runtime built next over the same store (a redeploy) takes
    /// over. Hosts taken with [`Embedded::host`] are driven by their holder, and go on.
    fn drop(&mut self) {
        self.stop_taking_work();
    }
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Embedded")
            .field("actor_types", &hosts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for Embedded {
    fn default() -> Self {
        Self::new()
    }
}

/// Settings of an [`Embedded`] runtime.
#[derive(Default)]
pub struct EmbeddedBuilder {
    store: Option<Arc<dyn Store>>,
    clock: Option<Arc<dyn Clock>>,
    config: DrainConfig,
    manual: Option<Arc<dyn Invoker>>,
    emitter: Option<Arc<dyn Emitter>>,
}

impl EmbeddedBuilder {
    /// Keeps mailboxes and state in `store` (default: a new [`MemoryStore`]).
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Reads time from `clock` (default: [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Drains with `config`.
    #[must_use]
    pub fn config(mut self, config: DrainConfig) -> Self {
        self.config = config;
        self
    }

    /// Sends wake `invoker` instead of this runtime's drains: typically a
    /// [`RecordingInvoker`](crate::invoke::RecordingInvoker) that notes each nudge, while the caller drives drains with
    /// [`Embedded::host`]. For tests that need to interleave invocations exactly, or to
    /// inject faults into nudges.
    #[must_use]
    pub fn manual_drains(mut self, invoker: Arc<dyn Invoker>) -> Self {
        self.manual = Some(invoker);
        self
    }

    /// Delivers what handlers emit to channels (`Context::emit`) through `emitter`
    /// (default: a [`RecordingEmitter`], read with [`Embedded::emitted`]).
    #[must_use]
    pub fn emitter(mut self, emitter: Arc<dyn Emitter>) -> Self {
        self.emitter = Some(emitter);
        self
    }

    /// The runtime.
    #[must_use]
    pub fn build(self) -> Embedded {
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let invoker = Arc::new(InProcessInvoker::new(Arc::clone(&clock)));
        let wake: Arc<dyn Invoker> = match self.manual {
            Some(invoker) => invoker,
            None => Arc::new(Arc::clone(&invoker)),
        };
        // Drains here answer asks made here directly: no reply polling, no reply item.
        let local_replies = Arc::new(LocalReplies::default());
        let transport: Arc<dyn Transport> = Arc::new(
            StoreTransport::new(
                Arc::clone(&store),
                Arc::clone(&wake),
                Arc::clone(&clock),
                self.config.limits,
            )
            .local_replies(Arc::clone(&local_replies)),
        );
        let (emitter, recorded) = match self.emitter {
            Some(emitter) => (emitter, None),
            None => {
                let recorded = Arc::new(RecordingEmitter::new());
                (Arc::clone(&recorded) as Arc<dyn Emitter>, Some(recorded))
            }
        };
        let embedded = Embedded {
            emitter,
            recorded,
            local_replies,
            events: Arc::new(EventRoutes::new(Arc::clone(&store))),
            store,
            invoker,
            wake,
            clock,
            config: self.config,
            transport,
            hosts: Mutex::new(HashMap::new()),
            stopping: Arc::default(),
        };
        // Topics run wherever actors do: publishing needs no registration.
        if let Err(error) = embedded.register::<TopicActor>() {
            tracing::error!(%error, "the topic actor cannot be registered; publishing will fail");
        }
        embedded
    }
}

impl Embedded {
    /// A runtime over a new in-memory store and the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Settings beyond the defaults.
    #[must_use]
    pub fn builder() -> EmbeddedBuilder {
        EmbeddedBuilder::default()
    }

    /// Makes actors of type `A` runnable here. Registering twice is harmless.
    ///
    /// # Errors
    /// [`Error::InvalidActorType`] when `A::TYPE_NAME` is invalid.
    pub fn register<A: Actor>(&self) -> Result<&Self, Error> {
        self.events.declare(A::TYPE_NAME, A::SUBSCRIPTIONS)?;
        // The runtime's own drains stop with it; hosts handed out by `host` do not.
        let host = self.host::<A>()?.with_stop(Arc::clone(&self.stopping));
        let host: Arc<dyn Drain> = Arc::new(host);
        let actor_type = ActorType::new(A::TYPE_NAME)?;
        self.invoker
            .register(actor_type.clone(), Arc::downgrade(&host) as Weak<dyn Drain>);
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(actor_type, host);
        Ok(self)
    }

    /// A client of actor `id` of type `A`.
    ///
    /// # Errors
    /// [`Error::InvalidActorId`], or [`Error::NotRegistered`] if `A` was not registered.
    pub fn client<A: Actor>(&self, id: impl Into<String>) -> Result<A::Client, Error> {
        let address = address_of::<A>(id)?;
        if !self
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(address.actor_type())
        {
            return Err(Error::NotRegistered(A::TYPE_NAME.to_owned()));
        }
        Ok(A::Client::from_core(ClientCore::new(
            address,
            Arc::clone(&self.transport),
        )))
    }

    /// A host that drains `A` actors over this runtime's store, for driving drains
    /// directly (tests of concurrent and duplicate invocations do).
    ///
    /// # Errors
    /// [`Error::InvalidActorType`] when `A::TYPE_NAME` is invalid.
    pub fn host<A: Actor>(&self) -> Result<ActorHost<A>, Error> {
        Ok(ActorHost::new(
            Arc::clone(&self.store),
            Arc::clone(&self.wake),
            Arc::clone(&self.clock),
            self.config.clone(),
        )?
        .with_local_replies(Arc::clone(&self.local_replies))
        .with_events(Arc::clone(&self.events))
        .with_emitter(Arc::clone(&self.emitter)))
    }

    /// What handlers emitted to channels (`Context::emit`), as delivered, in order: a
    /// delivery repeated after a crash shows twice, under the same id. Empty when the
    /// runtime was built with an emitter of its own ([`EmbeddedBuilder::emitter`]).
    ///
    /// ```
    /// # async fn demo() {
    /// let runtime = mqless_runtime::Embedded::new();
    /// // ... an actor's handler calls ctx.emit("shipping", payload) ...
    /// runtime.settle().await;
    /// for emitted in runtime.emitted() {
    ///     println!("{} -> {}: {:?}", emitted.from, emitted.emission.channel, emitted.emission.payload);
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn emitted(&self) -> Vec<Emitted> {
        self.recorded
            .as_ref()
            .map_or_else(Vec::new, |recorded| recorded.emitted())
    }

    /// Stops taking work and waits for the drains in flight to end: each commits the
    /// batch it is in, releases its lease and ends; later nudges and timers wake
    /// nothing. Messages still queued stay in the store (durable, if the store is), for
    /// the next runtime over it: call this before replacing a runtime in place (a
    /// redeploy), so the old code runs no message meant for the new one. Dropping the
    /// runtime does the same without waiting.
    ///
    /// ```
    /// # async fn demo() {
    /// let runtime = mqless_runtime::Embedded::new();
    /// // ... register, send ...
    /// runtime.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        self.stop_taking_work();
        self.invoker.settle().await;
    }

    fn stop_taking_work(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.invoker.close();
    }

    /// Resolves once every nudged drain has finished: all sent messages are processed,
    /// including the messages actors sent each other meanwhile. The same as
    /// [`Actors::settle`], which cannot fail here.
    pub async fn settle(&self) {
        self.invoker.settle().await;
    }

    /// The committed state of actor `id` (see [`Actors::state`]).
    ///
    /// # Errors
    /// An invalid id, a store failure, or a state that does not decode as `A`.
    pub async fn state<A: Actor>(&self, id: impl Into<String>) -> Result<Option<A>, Error> {
        recovery::committed_state::<A>(
            &*self.store,
            id,
            &self.config.limits,
            self.clock.now_millis(),
        )
        .await
    }

    /// The dead letters of actor `id` of type `A`: list, inspect, redrive, discard.
    ///
    /// # Errors
    /// An invalid id.
    pub fn dead_letters<A: Actor>(&self, id: impl Into<String>) -> Result<DeadLetters, Error> {
        let address = address_of::<A>(id)?;
        Ok(DeadLetters::new(
            address,
            Arc::clone(&self.store),
            Arc::clone(&self.wake),
            Arc::clone(&self.clock),
        ))
    }

    /// The dead letters of the actor at `address`, whatever its type (a fault world
    /// reads every touched actor's).
    #[cfg(feature = "testing")]
    pub(crate) fn dead_letters_at(&self, address: crate::id::Address) -> DeadLetters {
        DeadLetters::new(
            address,
            Arc::clone(&self.store),
            Arc::clone(&self.wake),
            Arc::clone(&self.clock),
        )
    }

    /// The registered host of `actor_type`, its type erased (a fault world drains any
    /// registered type).
    #[cfg(feature = "testing")]
    pub(crate) fn drain_of(&self, actor_type: &ActorType) -> Option<Arc<dyn Drain>> {
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(actor_type)
            .cloned()
    }

    /// The quarantine of actor `id` of type `A` (see [`Actors::quarantine`]).
    ///
    /// # Errors
    /// An invalid id.
    pub fn quarantine<A: Actor>(&self, id: impl Into<String>) -> Result<Quarantine<A>, Error> {
        Ok(Quarantine::new(
            address_of::<A>(id)?,
            Arc::clone(&self.store),
            Arc::clone(&self.wake),
            self.config.limits,
        ))
    }

    /// Every quarantined actor of type `A` (see [`Actors::quarantined`]).
    ///
    /// # Errors
    /// A store failure, or an invalid type name.
    pub async fn quarantined<A: Actor>(&self) -> Result<Vec<Quarantined>, Error> {
        recovery::quarantined_of::<A>(&*self.store).await
    }

    /// Wakes every actor the due index holds (see [`crate::recovery::sweep`]).
    ///
    /// # Errors
    /// A store failure while reading the index.
    pub async fn sweep(&self) -> Result<SweepReport, Error> {
        recovery::sweep(&*self.store, &*self.wake, self.clock.now_millis()).await
    }

    /// Wakes every actor with a message due, found by reading the whole store (see
    /// [`crate::recovery::audit`]).
    ///
    /// # Errors
    /// A store failure while listing the actors.
    pub async fn audit(&self) -> Result<SweepReport, Error> {
        recovery::audit(&*self.store, &*self.wake, self.clock.now_millis()).await
    }

    /// Operator access to every actor here, by address (what the `mqless` tool uses).
    #[must_use]
    pub fn operator(&self) -> recovery::Operator {
        recovery::Operator::new(
            Arc::clone(&self.store),
            Arc::clone(&self.wake),
            Arc::clone(&self.clock),
        )
    }

    /// The store under this runtime.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

impl Actors for Embedded {
    fn client<A: Actor>(&self, id: impl Into<String>) -> Result<A::Client, Error> {
        Embedded::client::<A>(self, id)
    }

    async fn state<A: Actor>(&self, id: impl Into<String> + Send) -> Result<Option<A>, Error> {
        Embedded::state::<A>(self, id).await
    }

    fn dead_letters<A: Actor>(&self, id: impl Into<String>) -> Result<DeadLetters, Error> {
        Embedded::dead_letters::<A>(self, id)
    }

    fn quarantine<A: Actor>(&self, id: impl Into<String>) -> Result<Quarantine<A>, Error> {
        Embedded::quarantine::<A>(self, id)
    }

    async fn quarantined<A: Actor>(&self) -> Result<Vec<Quarantined>, Error> {
        Embedded::quarantined::<A>(self).await
    }

    async fn reminders<A: Actor>(
        &self,
        id: impl Into<String> + Send,
    ) -> Result<Vec<ReminderInfo>, Error> {
        crate::mailbox::live_reminders(&*self.store, &address_of::<A>(id)?).await
    }

    async fn cancel_scheduled<A: Actor>(
        &self,
        id: impl Into<String> + Send,
        which: Scheduled,
    ) -> Result<Vec<MessageId>, Error> {
        let address = address_of::<A>(id)?;
        schedule::cancel(&*self.store, &address, &which, self.clock.now_millis()).await
    }

    async fn sweep(&self) -> Result<SweepReport, Error> {
        Embedded::sweep(self).await
    }

    async fn audit(&self) -> Result<SweepReport, Error> {
        Embedded::audit(self).await
    }

    async fn settle(&self) -> Result<(), Error> {
        Embedded::settle(self).await;
        Ok(())
    }
}
