//! [`FaultWorld`]: one seed's processes over a faulty store, for workloads of any number
//! of actor types. [`Scenario`](super::Scenario) is built on it, and so are the
//! project's own fault suites: write a workload that sends, races drains, sweeps and
//! injects what it likes, then [`FaultWorld::recover_with`] and check.
//!
//! The processes: one client process and host processes with clocks apart, over one
//! [`FaultyStore`] (crashes before and after a call's effect, throttling, a lagging due
//! index) and one [`FaultyInvoker`] (wake-ups dropped, refused, duplicated, delayed),
//! recorded for the workload to drain instead of drained on their own. Every actor type
//! registered runs on every host process.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::faults::{FaultyStore, Rng};
use super::faulty_invoker::FaultyInvoker;
use super::rig::FaultyRig;
use super::scenario::ScenarioReport;
use crate::actor::{Actor, ActorClient};
use crate::clock::Clock;
use crate::embedded::Embedded;
use crate::error::{Error, Never};
use crate::id::{ActorType, Address};
use crate::mailbox::{DrainConfig, DrainEnd, DrainReport};
use crate::store::memory::MemoryStore;
use crate::store::Store;

mod recovery;

pub use recovery::{redrive_stalled, LetterFate};

/// Polls during which a raced drain may be killed.
const KILL_STEPS: u64 = 4;

/// One drain to race: on which host process, of which actor, and after how many polls it
/// is killed (`None`: never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainTarget {
    /// The host process (an index into [`FaultWorld::hosts`]).
    pub host: usize,
    /// The actor.
    pub address: Address,
    /// Polls before it is killed, below 4; `None`: it runs to its end.
    pub kill_after: Option<u64>,
}

/// How a raced drain ended.
#[derive(Debug)]
pub enum DrainEnded {
    /// It returned.
    Done(DrainReport),
    /// It returned an error (an injected store fault, most often).
    Failed(Error),
    /// It was killed after a few polls, as a crashed process.
    Killed,
    /// It ran past the hang timeout (on a message that never returns) and was killed.
    Hung,
    /// The actor's type is not registered here.
    NoHost,
}

/// One seed's processes over a faulty store: a client process and host processes with
/// clocks apart, every registered actor type running on every host, wake-ups recorded
/// for the workload to drain. See [`mqless::testing`](super) for the kit, and the
/// docs/guide/testing.md for a workload of two types.
pub struct FaultWorld<S = MemoryStore> {
    /// The shared store, clock and wake-ups.
    pub rig: FaultyRig<S>,
    /// The seed's random numbers: the workload draws from them too, so a seed replays.
    pub rng: Rng,
    seed: u64,
    clients: Embedded,
    hosts: Vec<Embedded>,
    types: BTreeSet<ActorType>,
    /// Every actor woken, drained or sent to: recovery reads their dead letters.
    touched: BTreeSet<Address>,
    /// Drains that failed or were killed, to run again (Lambda retries an invocation).
    retries: Vec<Address>,
    hang_timeout: Option<Duration>,
    explain_audits: bool,
    report: ScenarioReport,
}

impl<S: Store> FaultWorld<S> {
    /// Seed `seed` over `inner`: a client process on the true time, and two host
    /// processes a second apart. No fault is armed yet ([`FaultWorld::arm_faults`]).
    pub fn new(inner: S, seed: u64, config: DrainConfig) -> Self {
        Self::with_clocks(inner, seed, config, 0, &[0, 1_000])
    }

    /// As [`FaultWorld::new`], with the client process's clock `client_offset` ms off
    /// the true time, and one host process per offset in `host_offsets` (at least one).
    pub fn with_clocks(
        inner: S,
        seed: u64,
        config: DrainConfig,
        client_offset: i64,
        host_offsets: &[i64],
    ) -> Self {
        let rig = FaultyRig::new(inner, config);
        if std::env::var_os(super::faults::TRACE_VARIABLE).is_some() {
            rig.store.trace_calls(true);
        }
        let offsets = if host_offsets.is_empty() {
            &[0][..]
        } else {
            host_offsets
        };
        Self {
            clients: rig.process(client_offset),
            hosts: offsets.iter().map(|offset| rig.process(*offset)).collect(),
            rig,
            rng: Rng(seed),
            seed,
            types: BTreeSet::new(),
            touched: BTreeSet::new(),
            retries: Vec::new(),
            hang_timeout: None,
            explain_audits: false,
            report: ScenarioReport {
                seeds: 1,
                ..ScenarioReport::default()
            },
        }
    }

    /// Runs actors of type `A` on every process.
    ///
    /// # Errors
    /// [`Error::InvalidActorType`] when `A::TYPE_NAME` is invalid.
    pub fn register<A: Actor>(&mut self) -> Result<&mut Self, Error> {
        for process in std::iter::once(&self.clients).chain(&self.hosts) {
            process.register::<A>()?;
        }
        self.types.insert(ActorType::new(A::TYPE_NAME)?);
        Ok(self)
    }

    /// Arms random faults: each store call fails `store_per_mille` times in a thousand
    /// before its effect and as often after it, and so does each emission's delivery
    /// ([`FaultyEmitter`](super::FaultyEmitter)); each wake-up is dropped, refused,
    /// duplicated and delayed `nudge_per_mille` times in a thousand each.
    pub fn arm_faults(&self, store_per_mille: u64, nudge_per_mille: u64) {
        self.rig.store.random_faults(self.seed, store_per_mille);
        self.rig
            .nudges
            .random_faults(self.seed ^ 0xA5A5, nudge_per_mille);
        self.rig
            .emitter
            .random_faults(self.seed ^ 0x5A5A, store_per_mille);
    }

    /// Drains still running after `timeout` are killed as hung (a message that never
    /// returns, as when a handler runs into Lambda's timeout). Without one, a drain that
    /// hangs hangs the seed.
    pub fn hang_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.hang_timeout = Some(timeout);
        self
    }

    /// When the sweep finds nothing while messages wait, recovery runs the audit; with
    /// this on, every actor the audit has to find must be explained by a wake-up lost
    /// unseen (dropped, a failed nudge whose mark failed too, or one declared with
    /// [`FaultyInvoker::record_lost`]): the due index missed nothing else.
    pub fn explain_audits(&mut self, on: bool) -> &mut Self {
        self.explain_audits = on;
        self
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The client process: send, read states, list dead letters through it.
    #[must_use]
    pub fn clients(&self) -> &Embedded {
        &self.clients
    }

    /// The host processes, whose drains the workload races.
    #[must_use]
    pub fn hosts(&self) -> &[Embedded] {
        &self.hosts
    }

    /// The faulty store every process shares.
    #[must_use]
    pub fn store(&self) -> &Arc<FaultyStore<S>> {
        &self.rig.store
    }

    /// The faulty invoker every process wakes through.
    #[must_use]
    pub fn nudges(&self) -> &Arc<FaultyInvoker> {
        &self.rig.nudges
    }

    /// Counts `address` among the actors recovery reads the dead letters of (actors
    /// woken, drained or sent to through [`FaultWorld::send`] are already).
    pub fn touch(&mut self, address: Address) {
        self.touched.insert(address);
    }

    /// What the seed did so far, with the faults injected.
    #[must_use]
    pub fn report(&self) -> ScenarioReport {
        ScenarioReport {
            store_faults: self.rig.store.injected(),
            nudge_faults: self.rig.nudges.injected(),
            ..self.report.clone()
        }
    }

    /// Sends `message` to actor `id` of type `A` until it is acknowledged; each retry
    /// reuses `key` as the idempotency key, so a send that landed before its error is
    /// applied once (what a careful client does).
    ///
    /// # Errors
    /// A send that fails for another reason than a store fault, or 100 times in a row.
    pub async fn send<A: Actor, M: Serialize>(
        &mut self,
        id: &str,
        message: &M,
        key: String,
    ) -> Result<(), String> {
        let client = self.clients.client::<A>(id).map_err(|e| e.to_string())?;
        self.touched.insert(client.core().address().clone());
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

    /// The actors woken since the last call (of registered types: others have no host
    /// here, and their messages stay queued), and the drains to run again.
    pub fn take_woken(&mut self) -> Vec<Address> {
        let mut woken: Vec<Address> = self
            .rig
            .recorder
            .take_nudges()
            .into_iter()
            .filter(|address| self.types.contains(address.actor_type()))
            .collect();
        woken.append(&mut self.retries);
        self.touched.extend(woken.iter().cloned());
        woken
    }

    /// Runs the drains of `targets` at once, kills each after its polls, and kills as
    /// hung any still running after the hang timeout. A drain killed after its commit
    /// may have lost the wake-ups of what it sent: they count as lost unseen.
    pub async fn race(&mut self, targets: Vec<DrainTarget>) -> Vec<(Address, DrainEnded)> {
        let losses = self.losses();
        let mut versions = BTreeMap::new();
        for target in &targets {
            let version = self.version_of(&target.address).await;
            versions.entry(target.address.clone()).or_insert(version);
        }
        let mut tasks = Vec::new();
        for target in targets {
            self.touched.insert(target.address.clone());
            let drain = self
                .hosts
                .get(target.host)
                .and_then(|host| host.drain_of(target.address.actor_type()));
            let task = drain.map(|drain| {
                self.report.drains += 1;
                self.rig.store.note(&target.address, || {
                    format!(
                        "a drain starts on host {} (killed after {:?} polls)",
                        target.host, target.kill_after
                    )
                });
                tokio::spawn(drain.drain(target.address.id().clone()))
            });
            tasks.push((task, target));
        }
        for step in 0..KILL_STEPS {
            for (task, target) in &tasks {
                if let (Some(task), true) = (task, target.kill_after == Some(step)) {
                    task.abort();
                }
            }
            tokio::task::yield_now().await;
        }
        let mut ended = Vec::new();
        for (task, target) in tasks {
            let end = match task {
                None => DrainEnded::NoHost,
                Some(task) => self.end_of(task).await,
            };
            match &end {
                DrainEnded::Done(report) => self.drained(&target.address, losses, report),
                DrainEnded::Killed | DrainEnded::Hung => {
                    if self.version_of(&target.address).await
                        > versions.get(&target.address).copied().unwrap_or(0)
                    {
                        // Maybe killed between a commit and its wake-ups: what it sent
                        // waits, unwoken, for a later wake-up or the audit.
                        self.lost_wake_ups_to_everyone();
                    }
                }
                DrainEnded::Failed(_) | DrainEnded::NoHost => {}
            }
            self.rig.store.note(&target.address, || match &end {
                DrainEnded::Done(report) => format!("the drain ends: {:?}", report.end),
                other => format!("the drain ends: {other:?}"),
            });
            ended.push((target.address, end));
        }
        ended
    }

    async fn end_of(
        &mut self,
        mut task: tokio::task::JoinHandle<Result<DrainReport, Error>>,
    ) -> DrainEnded {
        let joined = match self.hang_timeout {
            Some(timeout) => match tokio::time::timeout(timeout, &mut task).await {
                Ok(joined) => joined,
                Err(_) => {
                    // Wait until the killed task is gone: a killed process does not go
                    // on running.
                    task.abort();
                    let _ = task.await;
                    self.report.hung_drains += 1;
                    return DrainEnded::Hung;
                }
            },
            None => task.await,
        };
        match joined {
            Ok(Ok(report)) => DrainEnded::Done(report),
            Ok(Err(error)) => DrainEnded::Failed(error),
            Err(error) if error.is_cancelled() => {
                self.report.killed_drains += 1;
                DrainEnded::Killed
            }
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// Drains every woken actor on every host at once, killing one drain in four after a
    /// few polls; a failed or killed drain runs again (Lambda retries an invocation),
    /// half of the time at once, while the dead owner's lease still runs (it finds the
    /// lease held: only the mark left for the sweep brings the actor back), half of the
    /// time next round. After a kill, the clock passes the lease.
    pub async fn race_woken_drains(&mut self) {
        let woken: BTreeSet<Address> = self.take_woken().into_iter().collect();
        let mut targets = Vec::new();
        for address in woken {
            for host in 0..self.hosts.len() {
                let kill_after = (self.rng.below(4) == 0).then(|| self.rng.below(KILL_STEPS));
                targets.push(DrainTarget {
                    host,
                    address: address.clone(),
                    kill_after,
                });
            }
        }
        let mut killed = false;
        for (address, end) in self.race(targets).await {
            killed |= matches!(end, DrainEnded::Killed | DrainEnded::Hung);
            if !matches!(end, DrainEnded::Done(_) | DrainEnded::NoHost) {
                if self.rng.below(2) == 0 {
                    let target = DrainTarget {
                        host: 0,
                        address,
                        kill_after: None,
                    };
                    // Its last retry: if it ends badly too, the invocation is dropped.
                    for (address, end) in self.race(vec![target]).await {
                        self.give_up(&address, &end);
                    }
                } else {
                    self.retries.push(address);
                }
            }
        }
        if killed {
            self.pass_the_lease();
        }
    }

    /// A drain of `address` ended as `end`: as Lambda treats a failed invocation, it runs
    /// again with the next wake-ups ([`FaultWorld::take_woken`]) half of the time; else
    /// its retries ran out (see [`FaultWorld::give_up`]).
    pub fn retry_or_give_up(&mut self, address: Address, end: &DrainEnded) {
        if matches!(end, DrainEnded::Done(_) | DrainEnded::NoHost) {
            return;
        }
        if self.rng.below(2) == 0 {
            self.retries.push(address);
        } else {
            self.give_up(&address, end);
        }
    }

    /// The invocation that drained `address` and ended as `end` is not retried (its
    /// retries ran out). A killed or hung one counts as a wake-up lost unseen: it may have
    /// died holding the lease, which nothing marks for the sweep (the wake-ups that find
    /// it held knock, and mark it). A failed one does not: a drain that fails marks the
    /// actor for the sweep on its way out, and a mark that fails is counted by the store.
    pub fn give_up(&self, address: &Address, end: &DrainEnded) {
        if matches!(end, DrainEnded::Killed | DrainEnded::Hung) {
            self.rig.nudges.record_lost(address);
        }
    }

    /// Moves the clock past the lease: the leases of killed drains run out.
    pub fn pass_the_lease(&self) {
        self.rig
            .clock
            .advance(self.rig.config.lease + Duration::from_secs(1));
    }

    /// Runs a sweep under the faults, killing it at a random await point one time in
    /// three: a killed sweep must lose no wake-up.
    pub async fn sweep_maybe_killed(&mut self) {
        let (store, nudges) = (Arc::clone(&self.rig.store), Arc::clone(&self.rig.nudges));
        let now = self.rig.clock.now_millis();
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

    /// The committed version of `address` (0 before its first commit): compare it before
    /// and after a drain the workload kills itself, and call
    /// [`FaultWorld::lost_wake_ups_to_everyone`] if it moved.
    pub async fn version_of(&self, address: &Address) -> u64 {
        self.rig
            .store
            .inner
            .load_state(address)
            .await
            .ok()
            .flatten()
            .map_or(0, |record| record.version)
    }

    /// Counts a wake-up of every touched actor, and of every actor a commit sent to, as
    /// lost unseen: a drain killed after its commit may have sent to any of them, and
    /// its recipient may be an actor nothing else ever woke. [`FaultWorld::race`] does it
    /// for the drains it kills; a workload that kills a drain of its own does it too.
    pub fn lost_wake_ups_to_everyone(&self) {
        let recipients = self.rig.store.commit_recipients();
        for address in self.touched.iter().chain(&recipients) {
            self.rig.nudges.record_lost(address);
        }
    }

    /// Where the counts of wake-ups lost unseen stand, as drains begin.
    fn losses(&self) -> (u64, u64) {
        (self.rig.nudges.drops(), self.rig.store.failed_marks())
    }

    /// A drain of `address` that began at `losses` ended: if it read the whole mailbox,
    /// whatever a wake-up lost before it began was for has run, and no longer explains
    /// an actor left to the audit.
    fn drained(&self, address: &Address, losses: (u64, u64), report: &DrainReport) {
        if report.end == DrainEnd::Empty {
            self.rig.nudges.forget_dropped(address, losses.0);
            self.rig.store.forget_unmarked(address, losses.1);
        }
    }
}

impl<S> std::fmt::Debug for FaultWorld<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultWorld")
            .field("seed", &self.seed)
            .field("types", &self.types)
            .field("hosts", &self.hosts.len())
            .finish_non_exhaustive()
    }
}
