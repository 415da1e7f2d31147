//! The seeded fault scenario, on any store: faults in the store (crashes, ambiguous
//! writes, throttling), in the nudges (dropped, refused, duplicated, delayed) and in time
//! (expired leases, skewed clocks); drains that race, crash at any await point or hang on
//! a poison message. Afterwards a sweep is the only way back for lost nudges, and the
//! dead letters are redriven; then every invariant is checked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use mqless::clock::Clock;
use mqless::mailbox::DrainConfig;
use mqless::store::{Commit, CommitOutcome, MailboxItem, Store};
use mqless::testing::{FaultyRig, Rng};
use mqless::{ActorId, Context};
use serde::{Deserialize, Serialize};

use crate::InFlight;

mod asks;
mod drains;
mod stats;
use drains::{race_drains, Zombie, ZOMBIE_POINTS};
pub use stats::Stats;

static IN_FLIGHT: LazyLock<InFlight> = LazyLock::new(InFlight::default);
/// Scheduled messages that ran before their time (must stay 0), in this process.
static EARLY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Scheduled messages that ran before their time in this process so far.
#[must_use]
pub fn early_runs() -> u64 {
    EARLY.load(std::sync::atomic::Ordering::SeqCst)
}
/// Times the poison message started, per actor id (tests run side by side).
static POISON_RUNS: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Mutex::default);

/// How many times a poison message started running on actor `id`.
pub fn poison_runs(id: &str) -> u64 {
    POISON_RUNS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
        .copied()
        .unwrap_or(0)
}

/// Discards dead letter `id`. `DeadLetterNotFound` is fine: when the answer of a
/// discard that landed is lost below the SDK, its retry finds the letter gone.
async fn discard(letters: &mqless::recovery::DeadLetters, id: mqless::MessageId) {
    match letters.discard(id).await {
        Ok(()) | Err(mqless::Error::DeadLetterNotFound { .. }) => {}
        Err(error) => panic!("discarding dead letter {id}: {error}"),
    }
}

/// Applies each sender's messages and keeps the order they came in.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Log {
    /// `(sender, seq)` of each applied message, in the order applied.
    pub history: Vec<(u32, u32)>,
    /// How each of this actor's asks was answered, in the order answered.
    pub answers: Vec<asks::Answer>,
}

#[mqless::actor]
impl Log {
    /// Applies message `seq` of `sender`, and with `relay = Some((actor, as_sender))`
    /// sends message `seq` of `as_sender` on to that actor, committed with this one. A
    /// scheduled message carries its time as `not_before`: running earlier is counted.
    pub async fn record(
        &mut self,
        sender: u32,
        seq: u32,
        relay: Option<(String, u32)>,
        not_before: Option<u64>,
        ctx: &mut Context,
    ) {
        let _inside = IN_FLIGHT.guard(ctx.id().as_str());
        if not_before.is_some_and(|at| ctx.now_millis() < at) {
            EARLY.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        // Give a racing drain of the same actor every chance to run meanwhile.
        tokio::task::yield_now().await;
        self.history.push((sender, seq));
        if let Some((to, as_sender)) = relay {
            let next = ctx.actor::<Log>(to).unwrap();
            next.record(as_sender, seq, None, None)
                .send()
                .await
                .unwrap();
        }
    }

    /// Asks actor `peer` to echo `seq`, with the reply (or its timeout, after
    /// `timeout_ms`) to `answered`: committed with this message.
    pub async fn ask(&mut self, seq: u32, peer: String, timeout_ms: u64, ctx: &mut Context) {
        let _inside = IN_FLIGHT.guard(ctx.id().as_str());
        tokio::task::yield_now().await;
        let me = ctx.actor::<Log>(ctx.id().as_str()).unwrap();
        ctx.actor::<Log>(peer)
            .unwrap()
            .echo(seq)
            .reply_to(|reply| me.answered(seq, reply))
            .timeout(Duration::from_millis(timeout_ms))
            .send()
            .await
            .unwrap();
    }

    /// Records and returns `seq`: the question of an ask.
    pub async fn echo(&mut self, seq: u32, ctx: &Context) -> u32 {
        let _inside = IN_FLIGHT.guard(ctx.id().as_str());
        tokio::task::yield_now().await;
        self.history.push((asks::ASKED, seq));
        seq
    }

    /// The answer to ask `seq`: its reply or its timeout.
    pub async fn answered(&mut self, seq: u32, reply: mqless::reply::Reply<u32>, ctx: &Context) {
        let _inside = IN_FLIGHT.guard(ctx.id().as_str());
        tokio::task::yield_now().await;
        self.history.push((asks::ANSWERED, seq));
        self.answers.push(asks::Answer::of(seq, &reply));
    }

    /// A message that kills its process: it never returns, as when a handler aborts,
    /// runs out of memory or runs into Lambda's timeout. Nothing can catch it.
    pub async fn poison(&mut self, ctx: &Context) {
        *POISON_RUNS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(ctx.id().to_string())
            .or_default() += 1;
        std::future::pending::<()>().await;
    }
}

/// Senders at or above this are actors relaying a message.
const RELAYED: u32 = 1000;
/// The sender of scheduled messages (`send_at`), whose order is their time's, not their
/// sequence's.
const SCHEDULED: u32 = 900;

/// The sender id of the relays from actor `a` of sender `sender`'s messages: one per
/// (sender, actor) pair, as order is kept per sender and receiver.
fn relayed_sender(sender: u32, a: u64) -> u32 {
    RELAYED + sender * 16 + a as u32
}

/// Lease length in the scenario (the manual clock jumps past it).
pub const LEASE: Duration = Duration::from_secs(10);

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
}

/// Overlaps seen by all seeds of this process so far.
#[must_use]
pub fn overlaps() -> u64 {
    IN_FLIGHT.overlaps()
}

/// The address of `Log` actor `id`.
fn log_address(id: ActorId) -> mqless::id::Address {
    mqless::id::Address::new(
        mqless::id::ActorType::new(<Log as mqless::Actor>::TYPE_NAME).unwrap(),
        id,
    )
}

/// Overwrites the committed state of `address` with bytes that do not decode, under a
/// lease of its own (so no owner commits meanwhile), keeping the bookkeeping; returns
/// the state it replaced. `None` when a live owner holds the lease.
async fn corrupt_state<S: Store>(
    store: &S,
    address: &mqless::id::Address,
    now: u64,
) -> Option<Log> {
    let until = now + LEASE.as_millis() as u64;
    let record = store
        .acquire(address, now, until, 0xBAD)
        .await
        .unwrap()
        .taken()?;
    let original = match &record.state {
        Some(bytes) => mqless::wire::decode(bytes, "state", usize::MAX, 64).unwrap(),
        None => Log::default(),
    };
    let commit = Commit {
        epoch: record.epoch,
        expected_version: record.version,
        state: vec![0xc1],
        // An empty map: the bookkeeping's defaults.
        meta: record.meta.unwrap_or_else(|| vec![0x80]),
        lease_expires_at: 0,
        outgoing: Vec::new(),
        continued: None,
        expires_at: None,
        mark: None,
    };
    let outcome = store.commit(address, &commit).await.unwrap();
    assert_eq!(outcome, CommitOutcome::Committed);
    Some(original)
}

/// Runs one seed over `inner` and checks the invariants, panicking with the seed on
/// a violation. Replay a seed with `MQLESS_SEED=<seed>`.
pub async fn run_seed<S: Store>(inner: S, seed: u64, params: &Params) -> Stats {
    let mut rng = Rng(seed);
    let mut stats = Stats {
        seeds: 1,
        ..Stats::default()
    };
    let config = DrainConfig {
        lease: LEASE,
        batch_size: 1 + rng.below(5) as usize,
        optimistic: params.optimistic,
        ..DrainConfig::default()
    };
    let rig = FaultyRig::new(inner, config);
    let (store, nudges, clock, recorder) = (&rig.store, &rig.nudges, &rig.clock, &rig.recorder);
    // Start where the seeds before left the process's ids (they never go back), so this
    // seed's ids stay near its clock, as a real process's do.
    let floor = mqless::MessageId::generate(0, None).timestamp_millis();
    clock.set(clock.now_millis().max(floor + 1_000));
    let mut skew = |max_millis: u64| rng.below(2 * max_millis + 1) as i64 - max_millis as i64;
    // Clients up to 5 minutes off; two handler processes up to 1.5 s apart (well
    // within the lease minus the margin, as NTP keeps real ones).
    let offsets = [skew(params.client_skew_millis), 0, skew(1_500)];
    let runtimes = offsets.map(|offset_millis| {
        let runtime = rig.process(offset_millis);
        runtime.register::<Log>().unwrap();
        runtime
    });
    let clients = &runtimes[0];
    let hosts = [1, 2].map(|r| Arc::new(runtimes[r].host::<Log>().unwrap()));
    store.random_faults(seed, 30 + rng.below(120)); // 3% to 15% of calls, each way
    nudges.random_faults(seed ^ 0xA5A5, 20 + rng.below(60)); // 2% to 8% each kind
    let actor_name = |a: u64| format!("{}log-{a}", params.prefix);
    let actor_id = |a: u64| ActorId::new(actor_name(a)).unwrap();
    let poison = (rng.below(4) == 0).then(|| (rng.below(6), rng.below(params.actors.into())));
    // Deterministic faults, drawn apart from the random ones: in one seed out of four,
    // commits whose state outgrows a small limit are refused for size until the end;
    // in one out of five, an actor's state is corrupted at some round (the actor must
    // be quarantined, and is repaired through the API); in one out of four, a malformed
    // item is written straight into a mailbox (it must be dead-lettered).
    let mut det = Rng(seed ^ 0xDE7E_4A11);
    store.refuse_states_over((det.below(4) == 0).then(|| 40 + det.below(80) as usize));
    let mut corrupt = (det.below(5) == 0).then(|| (det.below(6), det.below(params.actors.into())));
    let malformed = (det.below(4) == 0).then(|| (det.below(6), det.below(params.actors.into())));
    let mut repairs = BTreeMap::<String, Log>::new();
    // Actor ids repeat across seeds of one process: count this seed's runs only.
    let poison_runs_before: u64 = (0..u64::from(params.actors))
        .map(|a| poison_runs(&actor_name(a)))
        .sum();

    let mut next_seq = vec![0u32; params.senders as usize];
    let mut scheduled = Vec::new();
    let mut asked = Vec::new();
    let early_before = early_runs();
    let mut round = 0;
    let mut zombie: Option<Zombie> = None;
    while next_seq.iter().any(|n| *n < params.messages) {
        for sender in 0..params.senders {
            let seq = next_seq[sender as usize];
            if seq >= params.messages || rng.below(3) == 0 {
                continue;
            }
            let a = u64::from((sender + seq) % params.actors);
            let actor = clients.client::<Log>(actor_name(a)).unwrap();
            // Every third message is relayed to the next actor, by an actor-to-actor
            // send that commits with the message (and whose nudge may be lost).
            let relay = seq.is_multiple_of(3).then(|| {
                let to = actor_name((a + 1) % u64::from(params.actors));
                (to, relayed_sender(sender, a))
            });
            stats.sends += 1;
            // A failed send may or may not have landed: resend under the same key.
            match actor
                .record(sender, seq, relay, None)
                .idempotency_key(format!("{sender}-{seq}"))
                .send()
                .await
            {
                Ok(_) => next_seq[sender as usize] += 1,
                Err(_) => stats.retried_sends += 1,
            }
        }
        // Now and then a message scheduled up to 3 s ahead (by the base clock), to a
        // random actor: it must run once, never before its time.
        if rng.below(3) == 0 {
            let seq = scheduled.len() as u32;
            let a = rng.below(params.actors.into());
            let due = clock.now_millis() + rng.below(3_000);
            let at = std::time::UNIX_EPOCH + Duration::from_millis(due);
            let actor = clients.client::<Log>(actor_name(a)).unwrap();
            stats.sends += 1;
            while actor
                .record(SCHEDULED, seq, None, Some(due))
                .idempotency_key(format!("scheduled-{seq}"))
                .send_at(at)
                .await
                .is_err()
            {
                stats.retried_sends += 1;
            }
            scheduled.push((SCHEDULED, seq));
        }
        // Now and then an actor asks another (`reply_to`), with a timeout of 1 s to 10
        // minutes that the clock's jumps may or may not pass before the reply. (A reply
        // also loses to a timeout due before its id's time: the skewed clients of this
        // one process push every id ahead by up to 5 minutes.)
        if rng.below(3) == 0 {
            let seq = asked.len() as u32;
            let (a, peer) = (
                rng.below(params.actors.into()),
                rng.below(params.actors.into()),
            );
            let timeout = 1_000 + rng.below(599_000);
            asks::send(
                clients,
                actor_name(a),
                actor_name(peer),
                seq,
                timeout,
                &mut stats,
            )
            .await;
            asked.push(seq);
        }
        if let Some((at, a)) = poison {
            if at == round {
                let actor = clients.client::<Log>(actor_name(a)).unwrap();
                while actor
                    .poison()
                    .idempotency_key("poison")
                    .send()
                    .await
                    .is_err()
                {}
                stats.poison.0 += 1;
            }
        }
        if let Some((at, a)) = corrupt {
            if round >= at {
                let address = log_address(actor_id(a));
                if let Some(original) =
                    corrupt_state(&store.inner, &address, clock.now_millis()).await
                {
                    repairs.insert(actor_name(a), original);
                    corrupt = None;
                }
            }
        }
        if let Some((at, a)) = malformed {
            if at == round {
                let item = MailboxItem {
                    id: mqless::MessageId::generate(clock.now_millis(), None),
                    envelope: vec![0xc1, 0x00],
                };
                store
                    .inner
                    .enqueue(&log_address(actor_id(a)), &item)
                    .await
                    .unwrap();
                stats.malformed.0 += 1;
            }
        }
        // A zombie paused last round resumes now, alone, after another owner took its
        // actor over and after this round's sends: whatever it does must be fenced.
        if let Some(zombie) = zombie.take() {
            zombie.finish(params.hang_timeout, &mut stats).await;
        }
        // Every delivered nudge runs a drain (duplicates too), and a few rogue drains
        // race them; some drains are killed mid-way.
        let mut targets = Vec::new();
        let woken = recorder.take_nudges().into_iter().map(|a| a.id().clone());
        let rogues = (0..rng.below(3)).map(|_| actor_id(rng.below(params.actors.into())));
        for id in woken
            .collect::<Vec<_>>()
            .into_iter()
            .chain(rogues.collect::<Vec<_>>())
        {
            let host = hosts[rng.below(2) as usize].clone();
            let crash_at = (rng.below(8) == 0).then(|| rng.below(4));
            targets.push((host, id, crash_at));
        }
        race_drains(targets, params.hang_timeout, &mut stats).await;
        // Sometimes an owner stops at a protocol step, past its lease, while another
        // owner acquires, commits and cleans up: a zombie, resumed next round.
        if rng.below(3) == 0 {
            let id = actor_id(rng.below(params.actors.into()));
            let point = ZOMBIE_POINTS[rng.below(4) as usize];
            let skip = rng.below(2) as u32;
            zombie = Zombie::start(store, clock, &hosts, id, point, skip, params, &mut stats).await;
        }
        if rng.below(4) == 0 {
            nudges.deliver_delayed().await;
        }
        // Sometimes time passes beyond the lease: crashed owners' leases expire.
        if rng.below(3) == 0 {
            clock.advance(LEASE + Duration::from_millis(1));
        }
        round += 1;
    }

    if let Some(zombie) = zombie.take() {
        zombie.finish(params.hang_timeout, &mut stats).await;
    }
    // The faults stop. Nudges still in flight are lost: only the audit can find the
    // actors with messages left (the sweep finds scheduled ones and marked ones). Dead letters of ordinary messages (dead-lettered
    // because owners stalled on them three times in a row) are redriven.
    store.stop_random_faults();
    store.refuse_states_over(None);
    nudges.stop_random_faults();
    stats.store = store.injected();
    stats.nudges = nudges.injected();
    recorder.take_nudges();
    // Every ask's timeout comes due, so each ask ends answered.
    clock.advance(asks::LONGEST_TIMEOUT);
    let mut poison_dead = false;
    let mut redriven_keys = BTreeSet::new();
    let mut redriven = false;
    for sweep in 0.. {
        assert!(
            sweep < 60,
            "seed {seed}: the sweeps never emptied the mailboxes"
        );
        clock.advance(LEASE + Duration::from_millis(1));
        if redriven {
            // A redriven ask waits for its answer up to its timeout.
            clock.advance(asks::LONGEST_TIMEOUT);
        }
        // The sweeper runs on a host's clock, not a skewed client's: a client behind
        // by minutes would see scheduled messages as not due yet.
        let report = runtimes[1].sweep().await.unwrap();
        assert!(report.failed.is_empty(), "seed {seed}: {report:?}");
        stats.swept += report.pending.len() as u64;
        // A corrupted actor that got no message since is drained too: it must end up
        // quarantined like the others.
        let targets = recorder
            .take_nudges()
            .into_iter()
            .map(|a| a.id().clone())
            .chain(
                repairs
                    .keys()
                    .map(|name| ActorId::new(name.as_str()).unwrap()),
            )
            .map(|id| (hosts[0].clone(), id, None))
            .collect::<Vec<_>>();
        race_drains(targets, params.hang_timeout, &mut stats).await;
        redriven = false;
        for quarantined in clients.quarantined::<Log>().await.unwrap() {
            let name = quarantined.id.as_str();
            if !(0..u64::from(params.actors)).any(|a| actor_name(a) == name) {
                continue; // another seed's actor on a shared table
            }
            let original = repairs.remove(name).unwrap_or_else(|| {
                panic!(
                    "seed {seed}: {name} quarantined for no injected cause: {}",
                    quarantined.reason
                )
            });
            assert!(
                quarantined.reason.contains("does not decode"),
                "seed {seed}: {}",
                quarantined.reason
            );
            let quarantine = clients.quarantine::<Log>(name).unwrap();
            quarantine.replace_state(&original).await.unwrap();
            stats.quarantined += 1;
            redriven = true;
        }
        for a in 0..u64::from(params.actors) {
            let letters = clients.dead_letters::<Log>(actor_name(a)).unwrap();
            for letter in letters.list().await.unwrap() {
                match letter.message::<Log>() {
                    Err(_) => {
                        assert!(
                            letter.error.contains("undecodable"),
                            "seed {seed}: {}",
                            letter.error
                        );
                        discard(&letters, letter.id).await;
                        stats.malformed.1 += 1;
                    }
                    Ok(LogMessage::Poison {}) => {
                        discard(&letters, letter.id).await;
                        poison_dead = true;
                    }
                    Ok(
                        LogMessage::Ask { .. }
                        | LogMessage::Echo { .. }
                        | LogMessage::Answered { .. },
                    ) => {
                        // Each is answered once whatever runs when: an echo dead-lettered
                        // answered `DeadLettered`; a stalled reply left its ask open for
                        // the timeout; redriven, a reply to a settled ask is dropped.
                        letters.redrive(letter.id).await.unwrap();
                        if letter.error.contains("commit was refused") {
                            stats.refused_redriven += 1;
                        } else {
                            stats.asks.redriven += 1;
                        }
                        redriven = true;
                    }
                    Ok(LogMessage::Record { sender, seq, .. }) => {
                        letters.redrive(letter.id).await.unwrap();
                        redriven_keys.insert((sender, seq));
                        // Its relay goes out when it finally runs: late too.
                        redriven_keys.insert((relayed_sender(sender, a), seq));
                        if letter.error.contains("commit was refused") {
                            stats.refused_redriven += 1;
                        } else {
                            stats.redriven += 1;
                        }
                        redriven = true;
                    }
                }
            }
        }
        if report.pending.is_empty() && !redriven {
            // Nudges lost where nobody saw them fail (those in flight when the faults
            // stopped, dropped ones, crashed drains') are not in the due index: the
            // audit finds what they left, and the next round drains it.
            let audit = runtimes[1].audit().await.unwrap();
            if audit.pending.is_empty() {
                break;
            }
            stats.swept += audit.pending.len() as u64;
        }
    }
    recorder.take_nudges();
    stats.poison.1 += u64::from(poison_dead);
    stats.poison_runs = (0..u64::from(params.actors))
        .map(|a| poison_runs(&actor_name(a)))
        .sum::<u64>()
        - poison_runs_before;
    assert_eq!(
        poison.is_some(),
        poison_dead,
        "seed {seed}: the poison message ends in the dead letters"
    );
    assert!(
        repairs.is_empty(),
        "seed {seed}: corrupted actors never quarantined: {repairs:?}"
    );
    assert_eq!(
        stats.malformed.0, stats.malformed.1,
        "seed {seed}: a malformed item was not dead-lettered"
    );

    // Each acknowledged message applied exactly once, each sender's messages to one
    // actor in the order sent (a redriven message runs when redriven, as documented).
    let mut applied = BTreeMap::<(u32, u32), u64>::new();
    for a in 0..u64::from(params.actors) {
        let log = clients
            .state::<Log>(actor_name(a))
            .await
            .unwrap()
            .unwrap_or_default();
        stats.asks.add_answers(&log.answers);
        let mut last = BTreeMap::<u32, u32>::new();
        for &(sender, seq) in &log.history {
            *applied.entry((sender, seq)).or_default() += 1;
            if redriven_keys.contains(&(sender, seq)) || sender == SCHEDULED || asks::is_ask(sender)
            {
                continue;
            }
            if last.get(&sender).is_some_and(|l| *l >= seq) {
                stats.out_of_order += 1;
            }
            last.insert(sender, seq);
        }
    }
    for sender in 0..params.senders {
        for seq in 0..params.messages {
            let a = u64::from((sender + seq) % params.actors);
            let relayed = seq
                .is_multiple_of(3)
                .then(|| (relayed_sender(sender, a), seq));
            for key in std::iter::once((sender, seq)).chain(relayed) {
                stats.acknowledged += 1;
                stats.relayed += u64::from(key.0 >= RELAYED);
                stats.count_applied(applied.get(&key).copied().unwrap_or(0));
            }
        }
    }
    for &key in &scheduled {
        stats.acknowledged += 1;
        stats.scheduled += 1;
        stats.count_applied(applied.get(&key).copied().unwrap_or(0));
    }
    asks::check(&asked, &applied, &mut stats);
    stats.early = early_runs() - early_before;
    assert_eq!(
        stats.early, 0,
        "seed {seed}: scheduled messages ran before their time"
    );
    assert_eq!(
        (stats.lost, stats.duplicated, stats.out_of_order),
        (0, 0, 0),
        "seed {seed}: lost, duplicated, out of order; redriven {redriven_keys:?}"
    );
    for a in 0..u64::from(params.actors) {
        let address = mqless::id::Address::new(
            mqless::id::ActorType::new(<Log as mqless::Actor>::TYPE_NAME).unwrap(),
            actor_id(a),
        );
        assert!(
            store
                .inner
                .read_mailbox(&address, 1)
                .await
                .unwrap()
                .is_empty(),
            "seed {seed}: messages left queued in {address}"
        );
    }
    stats
}
