//! The seeded fault scenario for reminders: one reminder per seed under a random
//! missed-fire policy, whose fires fail (`Err`), grow a state too big to commit (a
//! refused commit) or crash their drain (the stall rule), with dead letters redriven at
//! random moments, store calls that fail before or after their effect, and a clock that
//! jumps by random fractions of a period. In one seed in three the actor stops itself
//! (`ctx.stop`, emitting what stopped it) at a random step, half the time with the
//! stop's cleanup cut by a crash, and its expired record is deleted at random moments
//! after, as DynamoDB's TTL would. Afterwards, with the faults off, the reminder must
//! have exactly one live chain (listed once, one fire per period), or, if the actor
//! stopped, none: nothing listed, no fire, nothing revived by the record's deletion,
//! and the stopping message run once (one emission id).
//!
//! Message ids come from one process-wide generator that never goes back, so the seeds
//! run one after another, each a day of manual time after the last.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use mqless::events::Payload;
use mqless::mailbox::DrainConfig;
use mqless::schedule::Missed;
use mqless::testing::{FaultyStore, ManualClock, PausePoint, RecordingInvoker, Rng};
use mqless::{ActorId, Actors, Embedded};
use mqless_tests::reminders::Heart;

const SEEDS: u64 = 150;
const PERIOD_MS: u64 = 10_000;
const DAY_MS: u64 = 86_400_000;

fn runtime(store: Arc<FaultyStore>, clock: Arc<ManualClock>) -> Arc<Embedded> {
    let runtime = Embedded::builder()
        .store(store)
        .clock(clock)
        .config(DrainConfig {
            lease: Duration::from_secs(3),
            deadline_margin: Duration::from_millis(500),
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Heart>().unwrap();
    Arc::new(runtime)
}

/// Drains every actor a sweep finds due, tolerating the injected store failures (the
/// next sweep retries, as the deployed sweeper does). Wake-ups here are not delivered
/// (redrives', crashed drains'): when the sweep finds nothing, the audit, which reads
/// every mailbox, stands in for them.
async fn sweep_and_drain(runtime: &Embedded) {
    let host = runtime.host::<Heart>().unwrap();
    let report = match runtime.sweep().await {
        Ok(report) if report.pending.is_empty() => runtime.audit().await,
        swept => swept,
    };
    let Ok(report) = report else {
        return;
    };
    for address in report.pending {
        let _ = host.drain(address.id()).await;
    }
}

/// A drain that crashes at a random protocol step: the task is dropped there, holding
/// the lease until it expires (a stall, counted by the next owner).
async fn crash_a_drain(runtime: &Arc<Embedded>, store: &FaultyStore, rng: &mut Rng) {
    let points = [
        PausePoint::AfterAcquire,
        PausePoint::BeforeRead,
        PausePoint::BeforeCommit,
        PausePoint::BeforeCleanup,
    ];
    let point = points[rng.below(points.len() as u64) as usize];
    crash_a_drain_at(runtime, store, point).await;
}

/// A drain that crashes at `point`.
async fn crash_a_drain_at(runtime: &Arc<Embedded>, store: &FaultyStore, point: PausePoint) {
    let address = mqless::id::Address::parse("Heart/h").unwrap();
    let mut pause = store.pause(address, point, 0);
    let mut drain = tokio::spawn({
        let runtime = Arc::clone(runtime);
        async move {
            let host = runtime.host::<Heart>().unwrap();
            host.drain(&ActorId::new("h").unwrap()).await
        }
    });
    let crash = drain.abort_handle();
    tokio::select! {
        () = pause.reached() => crash.abort(),
        _ = &mut drain => {}
    }
    store.disarm_pause();
}

/// What the faults did across the seeds, printed at the end.
#[derive(Default)]
struct Tally {
    fires: usize,
    redriven: usize,
    crashed_drains: usize,
    store_faults: u64,
    refused_commits: u64,
    retired: usize,
    records_deleted: usize,
}

async fn run_seed(seed: u64, tally: &mut Tally) -> Result<(), String> {
    let base = 2_000_000_000_000 + seed * DAY_MS;
    let mut rng = Rng(seed);
    let clock = Arc::new(ManualClock::new(base));
    let store = Arc::new(FaultyStore::new());
    let runtime = runtime(store.clone(), clock.clone());
    let heart = runtime.client::<Heart>("h").unwrap();
    let missed = match rng.below(3) {
        0 => Missed::Skip,
        1 => Missed::FireOnce,
        _ => Missed::CatchUp {
            max: 1 + rng.below(4) as u32,
        },
    };
    heart.start(PERIOD_MS, missed).send().await.unwrap();
    sweep_and_drain(&runtime).await;
    store.random_faults(seed, 30);
    let retire_at = (rng.below(3) == 0).then(|| rng.below(40));
    for step in 0..40 {
        clock.advance(Duration::from_millis(1_000 + rng.below(2 * PERIOD_MS)));
        let now = clock_now(&clock);
        if retire_at == Some(step) {
            while heart.retire().send().await.is_err() {}
            if rng.below(2) == 0 {
                // The stop commits, and its cleanup is cut: the record it expired must
                // outlive that cleanup, whenever TTL comes.
                crash_a_drain_at(&runtime, &store, PausePoint::BeforeCleanup).await;
                tally.crashed_drains += 1;
            }
        }
        if retire_at.is_some_and(|at| step > at) && rng.below(3) == 0 {
            tally.records_deleted += store.inner.delete_expired(now);
        }
        match rng.below(10) {
            0 => {
                let _ = heart
                    .troubles(now + rng.below(3 * PERIOD_MS), 0)
                    .send()
                    .await;
            }
            1 => {
                store.refuse_states_over(Some(2_048));
                let _ = heart
                    .troubles(0, now + rng.below(3 * PERIOD_MS))
                    .send()
                    .await;
            }
            2 => {
                if let Ok(letters) = runtime.dead_letters::<Heart>("h") {
                    tally.redriven += letters.redrive_all().await.map_or(0, |ids| ids.len());
                }
            }
            3 => {
                crash_a_drain(&runtime, &store, &mut rng).await;
                tally.crashed_drains += 1;
            }
            _ => {}
        }
        sweep_and_drain(&runtime).await;
    }
    if retire_at.is_some() {
        return check_retired(seed, &runtime, &store, &clock, tally).await;
    }
    check_one_chain(seed, missed, &runtime, &store, &clock, tally).await
}

/// Quiet now: no faults, no troubles, every lease expired, everything due drained. The
/// reminder must have one live chain: listed once, one fire per period.
async fn check_one_chain(
    seed: u64,
    missed: Missed,
    runtime: &Embedded,
    store: &FaultyStore,
    clock: &ManualClock,
    tally: &mut Tally,
) -> Result<(), String> {
    let heart = runtime.client::<Heart>("h").unwrap();
    store.stop_random_faults();
    let injected = store.injected();
    tally.store_faults += injected.before + injected.after;
    tally.refused_commits += injected.refused_commits;
    store.refuse_states_over(None);
    heart.troubles(0, 0).send().await.unwrap();
    clock.advance(Duration::from_secs(5));
    for _ in 0..3 {
        sweep_and_drain(runtime).await;
    }
    let listed = runtime.reminders::<Heart>("h").await.unwrap();
    if listed.len() != 1 {
        return Err(format!(
            "seed {seed} ({missed:?}): {} live reminders listed: {listed:?}",
            listed.len()
        ));
    }
    let fires_before = heart.beats().query().await.unwrap().len();
    for period in 1..=3 {
        clock.advance(Duration::from_millis(PERIOD_MS));
        sweep_and_drain(runtime).await;
        let fires = heart.beats().query().await.unwrap().len() - fires_before;
        if fires != period {
            return Err(format!(
                "seed {seed} ({missed:?}): {fires} fires in {period} quiet periods"
            ));
        }
    }
    tally.fires += heart.beats().query().await.unwrap().len();
    Ok(())
}

/// After a stop: with the faults off and every dead letter redriven (the stop among
/// them, if the stall rule took it), nothing is listed and nothing fires, before or
/// after the record is deleted.
async fn check_retired(
    seed: u64,
    runtime: &Embedded,
    store: &FaultyStore,
    clock: &ManualClock,
    tally: &mut Tally,
) -> Result<(), String> {
    store.stop_random_faults();
    store.refuse_states_over(None);
    tally.retired += 1;
    clock.advance(Duration::from_secs(5));
    if let Ok(letters) = runtime.dead_letters::<Heart>("h") {
        tally.redriven += letters.redrive_all().await.map_or(0, |ids| ids.len());
    }
    for _ in 0..3 {
        sweep_and_drain(runtime).await;
    }
    let heart = runtime.client::<Heart>("h").unwrap();
    let beats = |heart: &mqless_tests::reminders::HeartClient| {
        let heart = heart.clone();
        async move { heart.beats().query().await.unwrap().len() }
    };
    let before = beats(&heart).await;
    for period in 0..3 {
        clock.advance(Duration::from_millis(PERIOD_MS));
        if period == 1 {
            tally.records_deleted += store.inner.delete_expired(clock_now(clock));
        }
        sweep_and_drain(runtime).await;
    }
    let listed = runtime.reminders::<Heart>("h").await.unwrap();
    let fired = beats(&heart).await.saturating_sub(before);
    ran_once_each(seed, runtime)?;
    if listed.is_empty() && fired == 0 {
        Ok(())
    } else {
        Err(format!(
            "seed {seed}: stopped, yet {} reminders listed and {fired} fires: {listed:?}",
            listed.len()
        ))
    }
}

/// Each stopping message ran once: its emission was delivered (perhaps repeated, under
/// one id), never under two ids, as when a message runs again because TTL deleted its
/// record before its cut cleanup was repeated.
fn ran_once_each(seed: u64, runtime: &Embedded) -> Result<(), String> {
    let mut ids_by_message: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for emitted in runtime.emitted() {
        if let Payload::Plaintext(message) = &emitted.emission.payload {
            let ids = ids_by_message.entry(message.clone()).or_default();
            ids.insert(emitted.emission.id.to_string());
        }
    }
    if ids_by_message.is_empty() {
        return Err(format!("seed {seed}: the stop emitted nothing"));
    }
    match ids_by_message.iter().find(|(_, ids)| ids.len() > 1) {
        Some((message, ids)) => Err(format!(
            "seed {seed}: the stopping message {message} ran {} times (emissions {ids:?})",
            ids.len()
        )),
        None => Ok(()),
    }
}

fn clock_now(clock: &ManualClock) -> u64 {
    mqless::clock::Clock::now_millis(clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_keeps_one_chain_through_failures_redrives_and_crashes() {
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    let seeds: Vec<u64> = match std::env::var("MQLESS_SEED") {
        Ok(seed) => vec![seed.parse().expect("MQLESS_SEED is a number")],
        Err(_) => (0..SEEDS).collect(),
    };
    for seed in seeds {
        if let Err(failure) = run_seed(seed, &mut tally).await {
            failures.push(failure);
        }
    }
    println!(
        "{SEEDS} seeds: {} fires run, {} dead letters redriven, {} drains crashed, {} store faults, {} commits refused; {} actors stopped, {} records deleted as TTL would",
        tally.fires,
        tally.redriven,
        tally.crashed_drains,
        tally.store_faults,
        tally.refused_commits,
        tally.retired,
        tally.records_deleted
    );
    assert!(
        failures.is_empty(),
        "{} of {SEEDS} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
