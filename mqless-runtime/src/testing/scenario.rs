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
use std::sync::Arc;
use std::time::Duration;

use super::faults::{FaultyStore, Rng, StoreFaults};
use super::faulty_invoker::{FaultyInvoker, NudgeFaults};
use super::rig::FaultyRig;
use crate::actor::{Actor, ActorClient};
use crate::clock::{Clock, ManualClock};
use crate::embedded::Embedded;
use crate::error::{Error, Never};
use crate::id::Address;
use crate::invoke::RecordingInvoker;
use crate::mailbox::{ActorHost, DrainConfig};
use crate::store::memory::MemoryStore;
use crate::store::{DeadLetter, Store};

/// Lease length in a scenario; the manual clock jumps past it to expire a killed drain's.
const LEASE: Duration = Duration::from_secs(10);
/// Recovery rounds before a seed is declared stuck.
const MAX_RECOVERY_ROUNDS: usize = 50;

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
    }
}

impl fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} seeds, {} messages ({} sends retried); {} drains ({} killed); {} sweeps ({} killed); store faults: {} before the write ({} throttling), {} after it; due index: {} entries lagging, {} repeated, {} stale; wake-ups: {} dropped, {} refused, {} duplicated, {} delayed; {} actors found only by the audit; {} stalled messages redriven",
            self.seeds,
            self.messages,
            self.retried_sends,
            self.drains,
            self.killed_drains,
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

/// One seed's processes and store.
struct World<A> {
    seed: u64,
    rng: Rng,
    store: Arc<FaultyStore>,
    clock: ManualClock,
    recorder: Arc<RecordingInvoker>,
    nudges: Arc<FaultyInvoker>,
    clients: Embedded,
    hosts: [Arc<ActorHost<A>>; 2],
    actors: BTreeSet<String>,
    report: ScenarioReport,
    /// Drains that failed or were killed: Lambda retries a failed invocation, so the
    /// next round drains them again.
    retries: Vec<Address>,
}

impl<A: Actor> World<A> {
    fn new(seed: u64, scenario: &Scenario<A>) -> Result<Self, Error> {
        let mut rng = Rng(seed);
        let config = DrainConfig {
            lease: LEASE,
            batch_size: 1 + usize::try_from(rng.below(5)).unwrap_or(0),
            ..DrainConfig::default()
        };
        let rig = FaultyRig::new(MemoryStore::new(), config);
        let process = |offset_millis: i64| -> Result<Embedded, Error> {
            let runtime = rig.process(offset_millis);
            runtime.register::<A>()?;
            Ok(runtime)
        };
        let clients = process(0)?;
        let hosts = [
            Arc::new(process(0)?.host::<A>()?),
            Arc::new(process(1_000)?.host::<A>()?),
        ];
        let FaultyRig {
            store,
            clock,
            recorder,
            nudges,
            ..
        } = rig;
        store.random_faults(seed, scenario.store_per_mille);
        nudges.random_faults(seed ^ 0xA5A5, scenario.nudge_per_mille);
        Ok(Self {
            seed,
            rng,
            store,
            clock,
            recorder,
            nudges,
            clients,
            hosts,
            actors: scenario.actors.iter().cloned().collect(),
            report: ScenarioReport {
                seeds: 1,
                ..ScenarioReport::default()
            },
            retries: Vec::new(),
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
        for step in 0..scenario.messages {
            let (actor, message) = workload(&mut self.rng);
            if !self.actors.contains(&actor) {
                return Err(format!(
                    "the workload addressed actor {actor:?}, which is not one of the scenario's ids {:?}",
                    self.actors
                ));
            }
            self.send(&actor, &message, format!("scenario-{}-{step}", self.seed))
                .await?;
            applied.push((actor, message));
            if self.rng.below(3) == 0 {
                // Sometimes the sweeper comes first, while marked actors wait.
                if self.rng.below(2) == 0 {
                    self.sweep_maybe_killed().await;
                }
                self.race_nudged_drains().await;
            }
        }
        Ok(applied)
    }

    /// Sends until acknowledged; retries reuse the key, so a send that landed before its
    /// error is applied once.
    async fn send(&mut self, actor: &str, message: &A::Message, key: String) -> Result<(), String> {
        let client = self.clients.client::<A>(actor).map_err(|e| e.to_string())?;
        for attempt in 0..100 {
            let sent = client
                .core()
                .request::<_, Never, Never>(message)
                .idempotency_key(key.clone())
                .send()
                .await;
            match sent {
                Ok(_) => {
                    self.report.messages += 1;
                    return Ok(());
                }
                Err(Error::Store(_)) if attempt < 99 => self.report.retried_sends += 1,
                Err(error) => return Err(format!("a send failed for good: {error}")),
            }
        }
        Err("a send failed 100 times in a row".into())
    }

    /// The actors of type `A` woken since the last call, and the drains to retry. Other
    /// types have no host here: their messages stay queued, and `recover` reports them.
    fn take_nudges(&mut self) -> Vec<Address> {
        let own = self.hosts[0].actor_type().clone();
        let mut woken: Vec<Address> = self
            .recorder
            .take_nudges()
            .into_iter()
            .filter(|address| *address.actor_type() == own)
            .collect();
        woken.append(&mut self.retries);
        woken
    }

    /// The committed version of `address` (0 before its first commit).
    async fn version_of(&self, address: &Address) -> u64 {
        self.store
            .inner
            .load_state(address)
            .await
            .ok()
            .flatten()
            .map_or(0, |record| record.version)
    }

    /// Counts a wake-up of every actor as lost unseen: a drain killed after its commit
    /// may have sent to any of them.
    fn lost_wake_ups_to_everyone(&self) {
        let own = self.hosts[0].actor_type();
        for id in &self.actors {
            if let Ok(id) = crate::id::ActorId::new(id.as_str()) {
                self.nudges.record_lost(&Address::new(own.clone(), id));
            }
        }
    }

    /// Where the counts of wake-ups lost unseen stand, as a drain begins.
    fn losses(&self) -> (u64, u64) {
        (self.nudges.drops(), self.store.failed_marks())
    }

    /// A drain of `address` that began at `losses` ended: if it read the whole mailbox,
    /// whatever a wake-up lost before it began was for has run, and no longer explains
    /// an actor left to the audit.
    fn drained(&self, address: &Address, losses: (u64, u64), report: &crate::mailbox::DrainReport) {
        if report.end == crate::mailbox::DrainEnd::Empty {
            self.nudges.forget_dropped(address, losses.0);
            self.store.forget_unmarked(address, losses.1);
        }
    }

    /// Runs a sweep under the faults, killing it at a random await point one time in
    /// three: a killed sweep must lose no wake-up.
    async fn sweep_maybe_killed(&mut self) {
        let (store, nudges) = (Arc::clone(&self.store), Arc::clone(&self.nudges));
        let now = self.clock.now_millis();
        let kill_at = (self.rng.below(3) == 0).then(|| self.rng.below(6));
        self.report.sweeps += 1;
        let task = tokio::spawn(async move {
            let options = crate::recovery::SweepOptions {
                concurrency: 2,
                deadline: None,
            };
            crate::recovery::sweep_with(&*store, &*nudges, now, options).await
        });
        for step in 0..6 {
            if kill_at == Some(step) {
                task.abort();
            }
            tokio::task::yield_now().await;
        }
        match task.await {
            Err(error) if error.is_cancelled() => self.report.killed_sweeps += 1,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
            // A sweep failing under an injected store fault is retried by the next one.
            Ok(_) => {}
        }
    }

    /// Drains every woken actor on both hosts at once, killing some drains mid-way; a
    /// killed drain's lease is then left to expire.
    async fn race_nudged_drains(&mut self) {
        let woken: BTreeSet<Address> = self.take_nudges().into_iter().collect();
        // Every drain below begins after the losses counted so far.
        let losses = self.losses();
        let mut versions = BTreeMap::new();
        for address in &woken {
            versions.insert(address.clone(), self.version_of(address).await);
        }
        let mut tasks = Vec::new();
        for address in woken {
            for host in &self.hosts {
                let kill_at = (self.rng.below(4) == 0).then(|| self.rng.below(4));
                let (host, id) = (Arc::clone(host), address.id().clone());
                self.report.drains += 1;
                let task = tokio::spawn(async move { host.drain(&id).await });
                tasks.push((task, kill_at, address.clone()));
            }
        }
        for step in 0..4 {
            for (task, kill_at, _) in &tasks {
                if *kill_at == Some(step) {
                    task.abort();
                }
            }
            tokio::task::yield_now().await;
        }
        let mut killed = false;
        let mut failed = Vec::new();
        for (task, _, address) in tasks {
            // A drain returning an error, or killed, is a fault the protocol recovers
            // from: Lambda retries the invocation.
            match task.await {
                Ok(Ok(report)) => self.drained(&address, losses, &report),
                Ok(Err(_)) => failed.push(address),
                Err(error) if error.is_cancelled() => {
                    self.report.killed_drains += 1;
                    killed = true;
                    if self.version_of(&address).await
                        > versions.get(&address).copied().unwrap_or(0)
                    {
                        // Maybe killed between a commit and its wake-ups: the messages it
                        // sent wait, unwoken, for their actors' next wake-up or the audit.
                        self.lost_wake_ups_to_everyone();
                    }
                    failed.push(address);
                }
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        }
        for address in failed {
            if self.rng.below(2) == 0 {
                // The retry comes while the dead owner's lease still runs: it finds the
                // lease held, and nothing retries it again. The mark it leaves for the
                // sweep at the lease's expiry is all that brings the actor back.
                let losses = self.losses();
                if let Ok(report) = self.hosts[0].drain(address.id()).await {
                    self.drained(&address, losses, &report);
                }
            } else {
                self.retries.push(address);
            }
        }
        if killed {
            self.clock.advance(LEASE + Duration::from_secs(1));
        }
    }

    /// Stops the faults and drains until every mailbox is empty, redriving messages that
    /// killed drains stalled on. The sweep wakes actors; only when it finds nothing while
    /// messages wait does the audit run, and what it finds must be explained.
    async fn recover(&mut self) -> Result<(), String> {
        self.store.stop_random_faults();
        self.nudges.stop_random_faults();
        self.nudges.deliver_delayed().await;
        for _ in 0..MAX_RECOVERY_ROUNDS {
            self.clock.advance(LEASE + Duration::from_secs(1));
            let swept = self.clients.sweep().await.map_err(|e| e.to_string())?;
            let woken = self.take_nudges();
            let idle = swept.nudged == 0 && woken.is_empty();
            for address in woken {
                let losses = self.losses();
                let report = self.hosts[0]
                    .drain(address.id())
                    .await
                    .map_err(|e| format!("a drain failed with no fault injected: {e}"))?;
                self.drained(&address, losses, &report);
            }
            let redriven = self.redrive_stalled().await?;
            let pending = self
                .store
                .inner
                .pending_actors(self.clock.now_millis())
                .await
                .map_err(|e| e.to_string())?;
            if redriven == 0 && pending.is_empty() {
                return Ok(());
            }
            if idle && redriven == 0 {
                self.audit(&pending).await?;
            }
        }
        let pending = self
            .store
            .inner
            .pending_actors(self.clock.now_millis())
            .await
            .map_err(|e| e.to_string())?;
        Err(format!(
            "mailboxes still hold messages after {MAX_RECOVERY_ROUNDS} recovery rounds: {pending:?}"
        ))
    }

    /// Runs the audit, since the sweep found nothing while `pending` actors hold due
    /// messages; each must be explained by a wake-up lost where nobody saw it fail.
    async fn audit(&mut self, pending: &[Address]) -> Result<(), String> {
        let explained: BTreeSet<Address> = self
            .nudges
            .dropped_for()
            .into_iter()
            .chain(self.store.unmarked())
            .collect();
        let own = self.hosts[0].actor_type();
        if let Some(missed) = pending
            .iter()
            .find(|a| a.actor_type() == own && !explained.contains(*a))
        {
            return Err(format!(
                "the sweep missed {missed}, which holds a due message though no wake-up of it was lost unseen: the due index should have had it"
            ));
        }
        let audit = self.clients.audit().await.map_err(|e| e.to_string())?;
        self.report.audited += u64::try_from(audit.nudged).unwrap_or(u64::MAX);
        Ok(())
    }

    /// Redrives the dead letters that the stall rule made: messages next in line when
    /// drains were killed `max_attempts` times in a row, dead-lettered unrun.
    async fn redrive_stalled(&mut self) -> Result<u64, String> {
        let mut redriven = 0;
        for actor in &self.actors {
            let letters = self
                .clients
                .dead_letters::<A>(actor.clone())
                .map_err(|e| e.to_string())?;
            for letter in letters.list().await.map_err(|e| e.to_string())? {
                if letter.error.contains(crate::mailbox::STALLED) {
                    letters
                        .redrive(letter.id)
                        .await
                        .map_err(|e| e.to_string())?;
                    redriven += 1;
                }
            }
        }
        self.report.redriven += redriven;
        Ok(redriven)
    }

    async fn end(&self, applied: Vec<(String, A::Message)>) -> Result<ScenarioEnd<A>, String> {
        let mut states = BTreeMap::new();
        let mut dead_letters = Vec::new();
        for actor in &self.actors {
            let state = self
                .clients
                .state::<A>(actor.clone())
                .await
                .map_err(|e| format!("reading the state of {actor:?}: {e}"))?;
            states.insert(actor.clone(), state.unwrap_or_default());
            let letters = self
                .clients
                .dead_letters::<A>(actor.clone())
                .map_err(|e| e.to_string())?;
            for letter in letters.list().await.map_err(|e| e.to_string())? {
                dead_letters.push((actor.clone(), letter));
            }
        }
        Ok(ScenarioEnd {
            seed: self.seed,
            states,
            applied,
            dead_letters,
        })
    }

    fn report(&self) -> ScenarioReport {
        ScenarioReport {
            store_faults: self.store.injected(),
            nudge_faults: self.nudges.injected(),
            ..self.report.clone()
        }
    }
}
