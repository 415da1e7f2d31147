//! [`Remote`]: clients of actors that run as Lambda functions over a DynamoDB table.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::dynamodb::DynamoStore;
use super::invoker::LambdaInvoker;
use super::{CallerIdentity, Environment};
use crate::actor::client::{ClientCore, StoreTransport, Transport};
use crate::actor::{address_of, Actor, ActorClient};
use crate::clock::{Clock, SystemClock};
use crate::codec::Limits;
use crate::error::Error;
use crate::id::Address;
use crate::id::MessageId;
use crate::invoke::Invoker;
use crate::recovery::{self, DeadLetters, Quarantine, Quarantined, SweepReport};
use crate::runtime::Actors;
use crate::schedule::{self, ReminderInfo, Scheduled};
use crate::store::Store;

/// How long [`Remote::settle`](Actors::settle) waits unless told otherwise.
pub const DEFAULT_SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Clients of actors that run as Lambda functions over a DynamoDB table: sends go into
/// the table, then wake the actor's function.
///
/// ```no_run
/// # async fn demo() -> Result<(), mqless_runtime::Error> {
/// use mqless_runtime::Actors;
/// let actors = mqless_runtime::aws::Remote::from_env().await?;
/// // let counter = actors.client::<Counter>("visits")?;
/// // counter.increment(5).send().await?;
/// actors.settle().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Remote {
    store: DynamoStore,
    invoker: Arc<LambdaInvoker>,
    transport: Arc<dyn Transport>,
    /// Every actor this `Remote` (or a clone) sent to: what [`Actors::settle`] waits for.
    sent_to: Arc<Mutex<BTreeSet<Address>>>,
    limits: Limits,
    settle_timeout: Duration,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote {{ table: {:?}, .. }}", self.store.table())
    }
}

impl Remote {
    /// Sweeps the due index (see [`crate::recovery::sweep_with`]) until `deadline`, then
    /// saves where it stopped for the next sweep: what the deployed sweeper runs.
    ///
    /// # Errors
    /// A store failure while reading the index.
    pub async fn sweep_until(&self, deadline: std::time::Instant) -> Result<SweepReport, Error> {
        let options = recovery::SweepOptions {
            deadline: Some(deadline),
            ..recovery::SweepOptions::default()
        };
        recovery::sweep_with(
            &self.store,
            &*self.invoker,
            SystemClock.now_millis(),
            options,
        )
        .await
    }

    /// Clients over `store`, waking functions through `invoker`.
    #[must_use]
    pub fn new(store: DynamoStore, invoker: LambdaInvoker, limits: Limits) -> Self {
        let invoker = Arc::new(invoker);
        let sent_to = Arc::new(Mutex::new(BTreeSet::new()));
        let transport = Arc::new(
            StoreTransport::new(
                Arc::new(store.clone()),
                invoker.clone(),
                Arc::new(SystemClock),
                limits,
            )
            .track(Arc::clone(&sent_to)),
        );
        Self {
            store,
            invoker,
            transport,
            sent_to,
            limits,
            settle_timeout: DEFAULT_SETTLE_TIMEOUT,
        }
    }

    /// Clients configured from the environment (see [`Environment`]).
    ///
    /// # Errors
    /// [`Error::Config`] when a setting is missing or invalid.
    pub async fn from_env() -> Result<Self, Error> {
        Ok(Environment::load().await?.remote())
    }

    /// These clients, naming `asker` in their asks and reading their replies where the
    /// store keeps them for it (key layout v2; [`Environment::remote`] sets it).
    #[must_use]
    pub fn asking_as(mut self, asker: CallerIdentity) -> Self {
        let transport = StoreTransport::new(
            Arc::new(self.store.clone()),
            self.invoker.clone(),
            Arc::new(SystemClock),
            self.limits,
        )
        .track(Arc::clone(&self.sent_to))
        .asker(Arc::new(asker));
        self.transport = Arc::new(transport);
        self
    }

    /// How long [`Actors::settle`] waits for the table to empty before it fails with
    /// [`Error::NotSettled`] (default [`DEFAULT_SETTLE_TIMEOUT`]).
    #[must_use]
    pub fn settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// Operator access to every actor in the table, by address (what the `mqless` tool
    /// uses).
    #[must_use]
    pub fn operator(&self) -> recovery::Operator {
        recovery::Operator::new(
            Arc::new(self.store.clone()),
            self.invoker.clone(),
            Arc::new(SystemClock),
        )
    }

    /// The store (for its table name and consumed capacity).
    #[must_use]
    pub fn store(&self) -> &DynamoStore {
        &self.store
    }
}

impl Actors for Remote {
    fn client<A: Actor>(&self, id: impl Into<String>) -> Result<A::Client, Error> {
        let address = address_of::<A>(id)?;
        self.invoker.can_wake(address.actor_type())?;
        Ok(A::Client::from_core(ClientCore::new(
            address,
            Arc::clone(&self.transport),
        )))
    }

    async fn state<A: Actor>(&self, id: impl Into<String> + Send) -> Result<Option<A>, Error> {
        recovery::committed_state::<A>(&self.store, id, &self.limits, SystemClock.now_millis())
            .await
    }

    fn dead_letters<A: Actor>(&self, id: impl Into<String>) -> Result<DeadLetters, Error> {
        let address = address_of::<A>(id)?;
        Ok(DeadLetters::new(
            address,
            Arc::new(self.store.clone()),
            self.invoker.clone(),
            Arc::new(SystemClock),
        ))
    }

    fn quarantine<A: Actor>(&self, id: impl Into<String>) -> Result<Quarantine<A>, Error> {
        Ok(Quarantine::new(
            address_of::<A>(id)?,
            Arc::new(self.store.clone()),
            self.invoker.clone(),
            self.limits,
        ))
    }

    async fn quarantined<A: Actor>(&self) -> Result<Vec<Quarantined>, Error> {
        recovery::quarantined_of::<A>(&self.store).await
    }

    async fn reminders<A: Actor>(
        &self,
        id: impl Into<String> + Send,
    ) -> Result<Vec<ReminderInfo>, Error> {
        crate::mailbox::live_reminders(&self.store, &address_of::<A>(id)?).await
    }

    async fn cancel_scheduled<A: Actor>(
        &self,
        id: impl Into<String> + Send,
        which: Scheduled,
    ) -> Result<Vec<MessageId>, Error> {
        let address = address_of::<A>(id)?;
        schedule::cancel(&self.store, &address, &which, SystemClock.now_millis()).await
    }

    async fn sweep(&self) -> Result<SweepReport, Error> {
        recovery::sweep(&self.store, &*self.invoker, SystemClock.now_millis()).await
    }

    async fn audit(&self) -> Result<SweepReport, Error> {
        recovery::audit(&self.store, &*self.invoker, SystemClock.now_millis()).await
    }

    async fn settle(&self) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + self.settle_timeout;
        let mut pause = Duration::from_millis(20);
        let mut next_wake = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let sent_to: Vec<Address> = lock(&self.sent_to).iter().cloned().collect();
            let mut pending = Vec::new();
            let now = SystemClock.now_millis();
            for address in sent_to {
                // Scheduled messages not yet due are not waited for.
                let head = self.store.mailbox_head(&address).await?;
                if head.is_some_and(|head| !head.waits(now)) {
                    pending.push(address);
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                // One read per actor left, once: a quarantined one never settles by
                // itself, and the operator needs to know why.
                let mut described = Vec::with_capacity(pending.len());
                for address in &pending {
                    let record = self.store.load_committed_state(address).await?;
                    described.push(match record.and_then(|r| r.quarantine) {
                        Some(q) => format!("{address} (quarantined: {})", q.reason),
                        None => address.to_string(),
                    });
                }
                return Err(Error::NotSettled {
                    after: self.settle_timeout,
                    pending: described,
                });
            }
            if now >= next_wake {
                // A wake-up may have been lost: wake whoever still has messages.
                for address in &pending {
                    if let Err(error) = self.invoker.nudge(address).await {
                        tracing::warn!(actor = %address, %error, "settle: waking the actor failed");
                    }
                }
                next_wake = now + Duration::from_secs(5);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
