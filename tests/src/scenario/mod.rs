//! The seeded fault scenario, on any store: faults in the store (crashes, ambiguous
//! writes, throttling), in the nudges (dropped, refused, duplicated, delayed) and in time
//! (expired leases, skewed clocks); drains that race, crash at any await point or hang on
//! a poison message. Afterwards a sweep is the only way back for lost nudges, and the
//! dead letters are redriven; then every invariant is checked.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mqless::clock::Clock;
use mqless::id::Address;
use mqless::mailbox::DrainConfig;
use mqless::recovery::DeadLetter;
use mqless::store::{MailboxItem, Store};
use mqless::testing::{DrainTarget, FaultWorld, LetterFate, Rng};
use mqless::{ActorId, Embedded};

mod asks;
mod drains;
mod ending;
mod faults;
mod legacy;
mod log;
mod racing;
mod stats;
use drains::{race_drains, Zombie, ZOMBIE_POINTS};
use faults::{corrupt_state, repair_quarantined, Letters};
pub use legacy::Legacy;
pub use log::{early_runs, overlaps, poison_runs, Log, LogMessage};
use log::{log_address, relayed_sender, RELAYED, SCHEDULED, TAIL};
pub use racing::RacingSends;
pub use stats::Stats;

/// Lease length in the scenario (the manual clock jumps past it).
pub const LEASE: Duration = Duration::from_secs(10);

/// The envelope of the malformed item written past the client: not MessagePack.
const MALFORMED_ENVELOPE: [u8; 2] = [0xc1, 0x00];

/// The size of one seed's run.
#[derive(Debug, Clone)]
pub struct Params {
    /// Actors.
    pub actors: u32,
    /// Senders.
    pub senders: u32,
    /// Messages per sender.
    pub messages: u32,
    /// A drain still running after this long is taken for hung and killed.
    pub hang_timeout: Duration,
    /// Prefix of the actor ids, so seeds can share a table.
    pub prefix: String,
    /// Run drains with `DrainConfig::optimistic`.
    pub optimistic: bool,
    /// How far off the clients' clock may be, in milliseconds (5 minutes in the main
    /// suite; the optimistic variant keeps clients within seconds, or their messages
    /// would never be fresh enough for the optimistic path).
    pub client_skew_millis: u64,
    /// A table on its way to another key layout: a third of the sends come from a
    /// process in the old one, and a migration runs now and then (see [`Legacy`]).
    pub legacy: Option<Legacy>,
    /// Now and then a sender's next message goes without an idempotency key, from a
    /// client process of its own, while the round's drains run (see [`RacingSends`]).
    pub racing_sends: Option<RacingSends>,
}

/// A client process of its own over `store` (another layout's, another client's), on
/// the world's clock, its wake-ups through the world's faulty invoker like every other
/// process's.
fn client_process<S: Store>(store: std::sync::Arc<dyn Store>, world: &FaultWorld<S>) -> Embedded {
    let clients = Embedded::builder()
        .store(store)
        .clock(std::sync::Arc::new(world.rig.clock.clone()))
        .manual_drains(world.nudges().clone())
        .build();
    clients.register::<Log>().unwrap();
    clients
}

/// Runs one seed over `inner` and checks the invariants, panicking with the seed on
/// a violation. Replay a seed with `MQLESS_SEED=<seed>`.
pub async fn run_seed<S: Store>(inner: S, seed: u64, params: &Params) -> Stats {
    run_seed_with_faults_below(inner, seed, params, || {}).await
}

/// [`run_seed`] over a store with faults of its own below it (lost answers under the
/// SDK): `stop_faults_below` ends them when the scenario's own faults stop, before
/// recovery, which expects every drain to succeed.
pub async fn run_seed_with_faults_below<S: Store>(
    inner: S,
    seed: u64,
    params: &Params,
    stop_faults_below: impl FnOnce(),
) -> Stats {
    let mut run = Run::new(inner, seed, params);
    while run.next_seq.iter().any(|n| *n < params.messages) {
        run.round().await;
    }
    if let Some(zombie) = run.zombie.take() {
        zombie
            .finish(&run.world, params.hang_timeout, &mut run.stats)
            .await;
    }
    run.finish_racing_send(true).await;
    run.relay_to_the_tail().await;
    run.settle().await;
    stop_faults_below();
    run.recover().await;
    run.check().await;
    run.stats
}

/// One seed: the testing kit's fault world running `Log`, and what the workload did.
struct Run<'p, S> {
    world: FaultWorld<S>,
    params: &'p Params,
    seed: u64,
    stats: Stats,
    next_seq: Vec<u32>,
    scheduled: Vec<(u32, u32)>,
    asked: Vec<u32>,
    round: u64,
    zombie: Option<Zombie>,
    /// `(round, actor)` of the poison message, sent in one seed out of four.
    poison: Option<(u64, u64)>,
    /// `(round, actor)` whose state is corrupted from then on (one seed in five).
    corrupt: Option<(u64, u64)>,
    /// `(round, actor)` that gets a malformed item past the client (one seed in four):
    /// [`MALFORMED_ENVELOPE`].
    malformed: Option<(u64, u64)>,
    /// The states that corrupted actors held, to repair them with.
    repairs: BTreeMap<String, Log>,
    /// Messages redriven out of the dead letters (and their relays): they run late, so
    /// their order is not checked.
    redriven_keys: BTreeSet<(u32, u32)>,
    /// Emissions a channel refused, redriven from the dead letters.
    redriven_emissions: BTreeSet<mqless::MessageId>,
    poison_runs_before: u64,
    early_before: u64,
    /// The old key layout's client process, when the table is being moved.
    legacy_clients: Option<mqless::Embedded>,
    /// The actor that relays the seed's last message to the tail actor.
    tail_relay: u64,
    /// Messages whose send failed and was not repeated (see [`Params::racing_sends`]).
    unacknowledged: BTreeSet<(u32, u32)>,
    /// Senders whose last send failed: their next send repeats it under its key.
    resending: BTreeSet<u32>,
    /// The racing sender's process, with [`Params::racing_sends`].
    racing_clients: Option<mqless::Embedded>,
    /// Its send under way, if any.
    racing_send: Option<racing::RacingSend>,
}

impl<'p, S: Store> Run<'p, S> {
    fn new(inner: S, seed: u64, params: &'p Params) -> Self {
        let mut rng = Rng(seed);
        let config = DrainConfig {
            lease: LEASE,
            batch_size: 1 + rng.below(5) as usize,
            optimistic: params.optimistic,
            ..DrainConfig::default()
        };
        let mut skew = |max_millis: u64| rng.below(2 * max_millis + 1) as i64 - max_millis as i64;
        // Clients up to 5 minutes off; two handler processes up to 1.5 s apart (well
        // within the lease minus the margin, as NTP keeps real ones).
        let (client, far_host) = (skew(params.client_skew_millis), skew(1_500));
        let mut world = FaultWorld::with_clocks(inner, seed, config, client, &[0, far_host]);
        world.rng = rng;
        world
            .register::<Log>()
            .unwrap()
            .hang_timeout(params.hang_timeout)
            .explain_audits(true);
        // Start where the seeds before left the process's ids (they never go back), so
        // this seed's ids stay near its clock, as a real process's do.
        let clock = &world.rig.clock;
        let floor = mqless::MessageId::generate(0, None).timestamp_millis();
        clock.set(clock.now_millis().max(floor + 1_000));
        let store_rate = 30 + world.rng.below(120); // 3% to 15% of calls, each way
        let nudge_rate = 20 + world.rng.below(60); // 2% to 8% each kind
        world.arm_faults(store_rate, nudge_rate);
        let actors = u64::from(params.actors);
        let poison =
            (world.rng.below(4) == 0).then(|| (world.rng.below(6), world.rng.below(actors)));
        // Deterministic faults, drawn apart from the random ones: in one seed out of four,
        // commits whose state outgrows a small limit are refused for size until the end;
        // in one out of five, an actor's state is corrupted at some round (the actor must
        // be quarantined, and is repaired through the API); in one out of four, a malformed
        // item is written straight into a mailbox (it must be dead-lettered).
        let mut det = Rng(seed ^ 0xDE7E_4A11);
        world
            .store()
            .refuse_states_over((det.below(4) == 0).then(|| 40 + det.below(80) as usize));
        let corrupt = (det.below(5) == 0).then(|| (det.below(6), det.below(actors)));
        let malformed = (det.below(4) == 0).then(|| (det.below(6), det.below(actors)));
        let tail_relay = det.below(actors);
        let run = Self {
            world,
            params,
            seed,
            stats: Stats {
                seeds: 1,
                ..Stats::default()
            },
            next_seq: vec![0; params.senders as usize],
            scheduled: Vec::new(),
            asked: Vec::new(),
            round: 0,
            zombie: None,
            poison,
            corrupt,
            malformed,
            repairs: BTreeMap::new(),
            redriven_keys: BTreeSet::new(),
            redriven_emissions: BTreeSet::new(),
            poison_runs_before: 0,
            early_before: early_runs(),
            legacy_clients: None,
            tail_relay,
            unacknowledged: BTreeSet::new(),
            resending: BTreeSet::new(),
            racing_clients: None,
            racing_send: None,
        };
        // Actor ids repeat across seeds of one process: count this seed's runs only.
        let poison_runs_before = (0..actors).map(|a| poison_runs(&run.name(a))).sum();
        let legacy_clients = params
            .legacy
            .as_ref()
            .map(|legacy| legacy.clients(&run.world));
        let racing_clients = params
            .racing_sends
            .as_ref()
            .map(|racing| racing.clients(&run.world));
        Self {
            poison_runs_before,
            legacy_clients,
            racing_clients,
            ..run
        }
    }

    fn name(&self, a: u64) -> String {
        format!("{}log-{a}", self.params.prefix)
    }

    fn id(&self, a: u64) -> ActorId {
        ActorId::new(self.name(a)).unwrap()
    }

    fn actors(&self) -> u64 {
        u64::from(self.params.actors)
    }

    /// The workload's actors and the tail actor after them, which only the seed's last
    /// message reaches (see [`Self::relay_to_the_tail`]).
    fn all_actors(&self) -> std::ops::Range<u64> {
        0..self.actors() + 1
    }

    /// The tail actor's address.
    fn tail(&self) -> Address {
        log_address(self.id(self.actors()))
    }

    /// One round: sends, a scheduled message and an ask now and then, this seed's
    /// injected faults when their round comes, then drains (some killed, some rogue), a
    /// zombie now and then, delayed wake-ups, and time passing beyond the lease.
    async fn round(&mut self) {
        self.send_round().await;
        self.schedule_and_ask().await;
        self.inject().await;
        // A zombie paused last round resumes now, alone, after another owner took its
        // actor over and after this round's sends: whatever it does must be fenced.
        if let Some(zombie) = self.zombie.take() {
            zombie
                .finish(&self.world, self.params.hang_timeout, &mut self.stats)
                .await;
        }
        // Now and then the migration moves the old layout's messages while this round's
        // drains read them.
        let params = self.params;
        let migrate = match &params.legacy {
            Some(legacy) if self.world.rng.below(3) == 0 => Some((legacy.migrate)()),
            _ => None,
        };
        self.start_racing_send();
        match migrate {
            Some(migrate) => {
                let (_, moved) = tokio::join!(self.drain_round(), migrate);
                self.stats.migrated += moved;
            }
            None => {
                self.drain_round().await;
            }
        }
        self.finish_racing_send(false).await;
        // Sometimes an owner stops at a protocol step, past its lease, while another
        // owner acquires, commits and cleans up: a zombie, resumed next round.
        if self.world.rng.below(3) == 0 {
            let a = self.world.rng.below(self.actors());
            let id = self.id(a);
            let point = ZOMBIE_POINTS[self.world.rng.below(4) as usize];
            let skip = self.world.rng.below(2) as u32;
            let timeout = self.params.hang_timeout;
            self.zombie =
                Zombie::start(&mut self.world, id, point, skip, timeout, &mut self.stats).await;
        }
        if self.world.rng.below(4) == 0 {
            self.world.nudges().deliver_delayed().await;
        }
        // Sometimes time passes beyond the lease: crashed owners' leases expire.
        if self.world.rng.below(3) == 0 {
            self.world
                .rig
                .clock
                .advance(LEASE + Duration::from_millis(1));
        }
        self.round += 1;
    }

    /// Each sender's next message, to actor `(sender + seq) % actors`, unless the sender
    /// skips the round; every third is relayed on to the next actor by a send from the
    /// handler, committed with it (whose wake-up may be lost).
    async fn send_round(&mut self) {
        for sender in 0..self.params.senders {
            let seq = self.next_seq[sender as usize];
            if seq >= self.params.messages || self.world.rng.below(3) == 0 {
                continue;
            }
            let a = u64::from((sender + seq) % self.params.actors);
            // A third of the sends from a process still in the old key layout, if any.
            let clients = match &self.legacy_clients {
                Some(legacy) if self.world.rng.below(3) == 0 => {
                    self.stats.legacy_sends += 1;
                    legacy
                }
                _ => self.world.clients(),
            };
            let actor = clients.client::<Log>(self.name(a)).unwrap();
            let relay = seq.is_multiple_of(3).then(|| {
                let to = self.name((a + 1) % self.actors());
                (to, relayed_sender(sender, a))
            });
            self.stats.sends += 1;
            // A failed send may or may not have landed: resend under the same key.
            match actor
                .record(sender, seq, relay, None)
                .idempotency_key(format!("{sender}-{seq}"))
                .send()
                .await
            {
                Ok(_) => {
                    self.next_seq[sender as usize] += 1;
                    self.resending.remove(&sender);
                }
                Err(_) => {
                    self.stats.retried_sends += 1;
                    self.resending.insert(sender);
                }
            }
        }
    }

    /// Now and then a message scheduled up to 3 s ahead (it must run once, never before
    /// its time), and an ask between actors whose timeout (1 s to 10 minutes) the
    /// clock's jumps may or may not pass before the reply. (A reply also loses to a
    /// timeout due before its id's time: the skewed clients of this one process push
    /// every id ahead by up to 5 minutes.)
    async fn schedule_and_ask(&mut self) {
        if self.world.rng.below(3) == 0 {
            let seq = self.scheduled.len() as u32;
            let a = self.world.rng.below(self.actors());
            let due = self.world.rig.clock.now_millis() + self.world.rng.below(3_000);
            let at = std::time::UNIX_EPOCH + Duration::from_millis(due);
            let actor = self.world.clients().client::<Log>(self.name(a)).unwrap();
            self.stats.sends += 1;
            while actor
                .record(SCHEDULED, seq, None, Some(due))
                .idempotency_key(format!("scheduled-{seq}"))
                .send_at(at)
                .await
                .is_err()
            {
                self.stats.retried_sends += 1;
            }
            self.scheduled.push((SCHEDULED, seq));
        }
        if self.world.rng.below(3) == 0 {
            let seq = self.asked.len() as u32;
            let (a, peer) = (
                self.world.rng.below(self.actors()),
                self.world.rng.below(self.actors()),
            );
            let timeout = 1_000 + self.world.rng.below(599_000);
            let (asker, peer) = (self.name(a), self.name(peer));
            asks::send(
                self.world.clients(),
                asker,
                peer,
                seq,
                timeout,
                &mut self.stats,
            )
            .await;
            self.asked.push(seq);
        }
    }

    /// This seed's deterministic faults, when their round comes: the poison message, a
    /// corrupted state, a malformed item past the client.
    async fn inject(&mut self) {
        let round = self.round;
        if let Some((_, a)) = self.poison.filter(|(at, _)| *at == round) {
            let actor = self.world.clients().client::<Log>(self.name(a)).unwrap();
            while actor
                .poison()
                .idempotency_key("poison")
                .send()
                .await
                .is_err()
            {}
            self.stats.poison.0 += 1;
        }
        if let Some((_, a)) = self.corrupt.filter(|(at, _)| round >= *at) {
            let now = self.world.rig.clock.now_millis();
            let address = log_address(self.id(a));
            if let Some(original) = corrupt_state(&self.world.store().inner, &address, now).await {
                self.repairs.insert(self.name(a), original);
                self.corrupt = None;
            }
        }
        if let Some((_, a)) = self.malformed.filter(|(at, _)| *at == round) {
            let item = MailboxItem {
                id: mqless::MessageId::generate(self.world.rig.clock.now_millis(), None),
                envelope: MALFORMED_ENVELOPE.to_vec(),
            };
            let address = log_address(self.id(a));
            self.world
                .store()
                .inner
                .enqueue(&address, &item)
                .await
                .unwrap();
            self.world.touch(address);
            self.stats.malformed.0 += 1;
        }
    }

    /// The seed's last message, relayed by its actor to the tail actor, which nothing
    /// else reaches (no send, no rogue drain, no zombie): the relay's wake-up is refused,
    /// so only its sender's mark brings it to the sweep before the audit. (A relay among
    /// the workload's actors whose wake-up failed is usually hidden by a later send.)
    async fn relay_to_the_tail(&mut self) {
        let a = self.tail_relay;
        let tail = self.tail();
        self.world.nudges().refuse_nudges_to(&tail, 1);
        let actor = self.world.clients().client::<Log>(self.name(a)).unwrap();
        let relay = Some((self.name(self.actors()), relayed_sender(TAIL, a)));
        self.stats.sends += 1;
        while actor
            .record(TAIL, 0, relay.clone(), None)
            .idempotency_key("tail")
            .send()
            .await
            .is_err()
        {
            self.stats.retried_sends += 1;
        }
    }

    /// The sends are over; the wake-ups they caused still run, faults and all, until
    /// none is left (a few rounds at most): what a handler relayed in the last rounds,
    /// and whose wake-up failed, is then waiting for the sweep, with no later send to
    /// wake its actor by chance. (Recovery takes the wake-ups still in flight as lost,
    /// which would excuse a missing mark.)
    async fn settle(&mut self) {
        for _ in 0..4 {
            if self.drain_round().await == 0 {
                break;
            }
        }
    }

    /// Every delivered wake-up runs a drain (duplicates too) on a random host, and a few
    /// rogue drains race them; one in eight is killed after a few polls. Returns how
    /// many wake-ups it ran.
    async fn drain_round(&mut self) -> usize {
        let woken = self.world.take_woken();
        let woken_count = woken.len();
        let mut rogues = Vec::new();
        for _ in 0..self.world.rng.below(3) {
            let a = self.world.rng.below(self.actors());
            rogues.push(log_address(self.id(a)));
        }
        let mut targets = Vec::new();
        for address in woken.into_iter().chain(rogues) {
            let host = self.world.rng.below(2) as usize;
            let kill_after = (self.world.rng.below(8) == 0).then(|| self.world.rng.below(4));
            targets.push((host, address, kill_after));
        }
        race_drains(&mut self.world, targets, &mut self.stats).await;
        woken_count
    }
}
