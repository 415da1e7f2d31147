//! [`Scenario`]: seeded fault runs against a user's own actor type.
//!
//! One seed: a client process and two host processes (clocks a second apart) share a
//! store that fails calls before and after their effect; wake-ups are dropped, refused,
//! duplicated and delayed. The workload's messages are sent one by one (a failed send is
//! retried with its idempotency key, as a careful client would); between sends, the
//! woken actors are drained by both hosts at once, and a drain may be killed at any
//! await point, after which the lease is left to expire and the drain is retried (as
//! Lambda retries a failed invocation); sweeps run now and then, and may be killed too,
//! while the due index lags, repeats and goes stale. Then the faults stop, sweeps and
//! drains run until every mailbox is empty, and messages dead-lettered only because
//! killed drains stalled on them are redriven. When the sweep finds nothing while
//! messages wait, the audit runs, and every actor it finds must be explained by a
//! wake-up lost unseen (a dropped nudge, or a failed nudge whose mark failed too): the
//! due index misses nothing else. The final states go to the check.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::time::Duration;

use super::faults::{Rng, StoreFaults};
use super::faulty_invoker::NudgeFaults;
use super::world::FaultWorld;
use crate::actor::Actor;
use crate::error::Error;
use crate::mailbox::DrainConfig;
use crate::store::memory::MemoryStore;
use crate::store::DeadLetter;

/// Lease length in a scenario; the manual clock jumps past it to expire a killed drain's.
const LEASE: Duration = Duration::from_secs(10);

/// What a seed ended with, handed to the check.
pub struct ScenarioEnd<A: Actor> {
    /// The seed.
    pub seed: u64,
    /// The committed state of every actor the workload addressed (the actor's `Default`
    /// if it never committed).
    pub states: BTreeMap<String, A>,
    /// The messages the workload sent that were acknowledged, in the order sent, with
    /// their actor: each was applied exactly once unless it is in `dead_letters`.
    pub applied: Vec<(String, A::Message)>,
    /// Messages your methods failed on for good (they panicked on every attempt, or did
    /// not decode), by actor. Dead letters caused only by the injected faults are
    /// redriven before the check and are not here.
    pub dead_letters: Vec<(String, DeadLetter)>,
}

impl<A: Actor> fmt::Debug for ScenarioEnd<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScenarioEnd")
            .field("seed", &self.seed)
            .field("actors", &self.states.keys().collect::<Vec<_>>())
            .field("applied", &self.applied.len())
            .field("dead_letters", &self.dead_letters)
            .finish()
    }
}

/// Figures of a run, summed over its seeds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScenarioReport {
    /// Seeds run.
    pub seeds: u64,
    /// Messages acknowledged by a send.
    pub messages: u64,
    /// Sends that failed under an injected fault and were retried with their key.
    pub retried_sends: u64,
    /// Drains started, and how many of them were killed mid-way.
    pub drains: u64,
    /// Drains killed at a random await point.
    pub killed_drains: u64,
    /// Faults injected into store calls.
    pub store_faults: StoreFaults,
    /// Faults injected into wake-ups.
    pub nudge_faults: NudgeFaults,
    /// Messages dead-lettered because killed drains stalled on them, then redriven.
    pub redriven: u64,
    /// Sweeps run while faults were injected, and how many of them were killed.
    pub sweeps: u64,
    /// Sweeps killed at a random await point.
    pub killed_sweeps: u64,
    /// Actors only the audit found (each explained by a wake-up lost unseen).
    pub audited: u64,
    /// Drains killed after running past the hang timeout (see
    /// [`FaultWorld::hang_timeout`](super::FaultWorld::hang_timeout)).
    pub hung_drains: u64,
}

impl ScenarioReport {
    fn add(&mut self, other: &Self) {
        self.seeds += other.seeds;
        self.messages += other.messages;
        self.retried_sends += other.retried_sends;
        self.drains += other.drains;
        self.killed_drains += other.killed_drains;
        self.store_faults += other.store_faults;
        self.nudge_faults += other.nudge_faults;
        self.redriven += other.redriven;
        self.sweeps += other.sweeps;
        self.killed_sweeps += other.killed_sweeps;
        self.audited += other.audited;
        self.hung_drains += other.hung_drains;
    }
}

impl fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} seeds, {} messages ({} sends retried); {} drains ({} killed, {} hung); {} sweeps ({} killed); store faults: {} before the write ({} throttling), {} after it; due index: {} entries lagging, {} repeated, {} stale; wake-ups: {} dropped, {} refused, {} duplicated, {} delayed; {} actors found only by the audit; {} stalled messages redriven",
            self.seeds,
            self.messages,
            self.retried_sends,
            self.drains,
            self.killed_drains,
            self.hung_drains,
            self.sweeps,
            self.killed_sweeps,
            self.store_faults.before,
            self.store_faults.throttled,
            self.store_faults.after,
            self.store_faults.index_lagged,
            self.store_faults.index_duplicated,
            self.store_faults.index_stale,
            self.nudge_faults.dropped,
            self.nudge_faults.failed,
            self.nudge_faults.duplicated,
            self.nudge_faults.delayed,
            self.audited,
            self.redriven,
        )
    }
}

/// A seed whose check failed, or whose actors did not come back to empty mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFailure {
    /// The seed: replay it with [`Scenario::run_seed`].
    pub seed: u64,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for ScenarioFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scenario seed {} failed: {}; replay it with `Scenario::run_seed({}, ..)`",
            self.seed, self.reason, self.seed
        )
    }
}

impl std::error::Error for ScenarioFailure {}

/// Seeded fault scenarios for actor type `A`. See the [module docs](super).
#[derive(Debug, Clone)]
pub struct Scenario<A> {
    actors: Vec<String>,
    messages: usize,
    store_per_mille: u64,
    nudge_per_mille: u64,
    actor: PhantomData<fn() -> A>,
}

impl<A: Actor> Scenario<A> {
    /// A scenario over the actors with these ids (at least one): 20 messages per seed,
    /// 10% of store calls failing each way, 5% of wake-ups lost each way.
    #[must_use]
    pub fn new(actors: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            actors: actors.into_iter().map(Into::into).collect(),
            messages: 20,
            store_per_mille: 100,
            nudge_per_mille: 50,
            actor: PhantomData,
        }
    }

    /// Messages sent per seed.
    #[must_use]
    pub fn messages(mut self, messages: usize) -> Self {
        self.messages = messages;
        self
    }

    /// How often a store call fails, per thousand calls, before its effect and as often
    /// after it (an ambiguous write). At most 400.
    #[must_use]
    pub fn store_faults(mut self, per_mille: u64) -> Self {
        self.store_per_mille = per_mille.min(400);
        self
    }

    /// How often a wake-up is dropped, refused, duplicated and delayed, each per
    /// thousand. At most 200.
    #[must_use]
    pub fn nudge_faults(mut self, per_mille: u64) -> Self {
        self.nudge_per_mille = per_mille.min(200);
        self
    }

    /// Runs every seed in `seeds`; stops at the first failure. `workload` makes each
    /// message: which actor (one of the scenario's ids) and what to send it. `check`
    /// gets each seed's end and says what is wrong, if anything.
    ///
    /// # Errors
    /// The first failing seed, with the reason.
    pub async fn run<W, C>(
        &self,
        seeds: Range<u64>,
        mut workload: W,
        check: C,
    ) -> Result<ScenarioReport, ScenarioFailure>
    where
        W: FnMut(&mut Rng) -> (String, A::Message),
        C: Fn(&ScenarioEnd<A>) -> Result<(), String>,
    {
        let mut total = ScenarioReport::default();
        for seed in seeds {
            let report = self.run_seed(seed, &mut workload, &check).await?;
            total.add(&report);
        }
        Ok(total)
    }

    /// Runs one seed: the same seed makes the same workload and the same faults.
    ///
    /// # Errors
    /// When the check fails, a mailbox does not come back to empty, or the runtime
    /// fails in a way no fault explains.
    pub async fn run_seed<W, C>(
        &self,
        seed: u64,
        workload: W,
        check: C,
    ) -> Result<ScenarioReport, ScenarioFailure>
    where
        W: FnMut(&mut Rng) -> (String, A::Message),
        C: Fn(&ScenarioEnd<A>) -> Result<(), String>,
    {
        let fail = |reason: String| ScenarioFailure { seed, reason };
        if self.actors.is_empty() {
            return Err(fail("a scenario needs at least one actor id".into()));
        }
        let mut world = World::<A>::new(seed, self).map_err(|e| fail(e.to_string()))?;
        let applied = world.send_all(self, workload).await.map_err(fail)?;
        world.recover().await.map_err(fail)?;
        let end = world.end(applied).await.map_err(fail)?;
        check(&end).map_err(fail)?;
        Ok(world.report())
    }
}

/// One seed of a [`Scenario`]: a [`FaultWorld`] running `A`, and the scenario's ids.
struct World<A> {
    world: FaultWorld,
    actors: BTreeSet<String>,
    actor: PhantomData<fn() -> A>,
}

impl<A: Actor> World<A> {
    fn new(seed: u64, scenario: &Scenario<A>) -> Result<Self, Error> {
        let batch_size = 1 + usize::try_from(Rng(seed).below(5)).unwrap_or(0);
        let config = DrainConfig {
            lease: LEASE,
            batch_size,
            ..DrainConfig::default()
        };
        let mut world = FaultWorld::new(MemoryStore::new(), seed, config);
        // The batch size was the seed's first draw.
        world.rng.below(5);
        world.register::<A>()?.explain_audits(true);
        world.arm_faults(scenario.store_per_mille, scenario.nudge_per_mille);
        Ok(Self {
            world,
            actors: scenario.actors.iter().cloned().collect(),
            actor: PhantomData,
        })
    }

    /// Sends the workload, draining between sends; returns what was acknowledged.
    async fn send_all<W>(
        &mut self,
        scenario: &Scenario<A>,
        mut workload: W,
    ) -> Result<Vec<(String, A::Message)>, String>
    where
        W: FnMut(&mut Rng) -> (String, A::Message),
    {
        let mut applied = Vec::with_capacity(scenario.messages);
        let seed = self.world.seed();
        for step in 0..scenario.messages {
            let (actor, message) = workload(&mut self.world.rng);
            if !self.actors.contains(&actor) {
                return Err(format!(
                    "the workload addressed actor {actor:?}, which is not one of the scenario's ids {:?}",
                    self.actors
                ));
            }
            self.world
                .send::<A, _>(&actor, &message, format!("scenario-{seed}-{step}"))
                .await?;
            applied.push((actor, message));
            if self.world.rng.below(3) == 0 {
                // Sometimes the sweeper comes first, while marked actors wait.
                if self.world.rng.below(2) == 0 {
                    self.world.sweep_maybe_killed().await;
                }
                self.world.race_woken_drains().await;
            }
        }
        Ok(applied)
    }

    /// Stops the faults and drains until every mailbox is empty, redriving messages that
    /// killed drains stalled on.
    async fn recover(&mut self) -> Result<(), String> {
        self.world.recover().await
    }

    async fn end(&self, applied: Vec<(String, A::Message)>) -> Result<ScenarioEnd<A>, String> {
        let clients = self.world.clients();
        let mut states = BTreeMap::new();
        let mut dead_letters = Vec::new();
        for actor in &self.actors {
            let state = clients
                .state::<A>(actor.clone())
                .await
                .map_err(|e| format!("reading the state of {actor:?}: {e}"))?;
            states.insert(actor.clone(), state.unwrap_or_default());
            let letters = clients
                .dead_letters::<A>(actor.clone())
                .map_err(|e| e.to_string())?;
            for letter in letters.list().await.map_err(|e| e.to_string())? {
                dead_letters.push((actor.clone(), letter));
            }
        }
        Ok(ScenarioEnd {
            seed: self.world.seed(),
            states,
            applied,
            dead_letters,
        })
    }

    fn report(&self) -> ScenarioReport {
        self.world.report()
    }
}
