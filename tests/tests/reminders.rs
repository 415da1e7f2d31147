//! Reminders on the in-memory store. The missed-fire policies are driven on a manual
//! clock through "the handler was down for three periods"; the real-clock scenario
//! (fires, listing, cancelling) also runs on DynamoDB Local in `dynamodb.rs`.
//!
//! Message ids come from one process-wide generator that never goes back, and reminders
//! are ordered by time: the manual-clock cases run in one test, each an hour after the
//! last, so none sees another's ids.

use std::sync::Arc;
use std::time::Duration;

use mqless::schedule::Missed;
use mqless::store::MemoryStore;
use mqless::testing::{FaultyStore, ManualClock};
use mqless::{ActorId, Actors};
use mqless_tests::reminders::{self, sweep_and_drain, Heart, HeartClient, BEAT};

const BASE: u64 = 1_900_000_000_000;
const PERIOD: Duration = Duration::from_secs(10);

/// Registers a 10 s reminder with `missed` at `base`, lets it fire once on time (at 10
/// s), then keeps every handler down until 45 s (fires due at 20, 30 and 40 s missed),
/// and returns the beats (as seconds after `base`) at 45 s and after the fire at 50 s.
async fn three_periods_down(base: u64, missed: Missed) -> (Vec<u64>, Vec<u64>) {
    let clock = Arc::new(ManualClock::new(base));
    let store = Arc::new(MemoryStore::new());
    let runtime = reminders::runtime(store.clone(), clock.clone());
    let heart = runtime.client::<Heart>("h").unwrap();
    heart.start(10_000, missed).send().await.unwrap();
    sweep_and_drain(&runtime).await;
    clock.advance(PERIOD);
    sweep_and_drain(&runtime).await;
    // Down: nothing runs from 10 s to 45 s. A redeploy meanwhile: a new runtime over
    // the same store, with nothing of the old one's memory.
    drop(runtime);
    clock.advance(Duration::from_secs(35));
    let runtime = reminders::runtime(store, clock.clone());
    sweep_and_drain(&runtime).await;
    let seconds = |beats: Vec<u64>| beats.iter().map(|b| (b - base) / 1000).collect::<Vec<_>>();
    let heart = runtime.client::<Heart>("h").unwrap();
    let at_45 = seconds(heart.beats().query().await.unwrap());
    let listed = runtime.reminders::<Heart>("h").await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        listed[0].next_fire_millis,
        base + 50_000,
        "{missed:?}: the next fire is the next future one"
    );
    clock.advance(Duration::from_secs(5));
    sweep_and_drain(&runtime).await;
    (at_45, seconds(heart.beats().query().await.unwrap()))
}

#[tokio::test]
async fn reminders_on_a_manual_clock() {
    // The table in docs/guide/time.md: fires due at 20, 30, 40 s, handled at 45 s.
    let cases = [
        (Missed::Skip, vec![10], vec![10, 50]),
        (Missed::FireOnce, vec![10, 45], vec![10, 45, 50]),
        (
            Missed::CatchUp { max: 2 },
            vec![10, 45, 45],
            vec![10, 45, 45, 50],
        ),
        (
            Missed::CatchUp { max: 5 },
            vec![10, 45, 45, 45],
            vec![10, 45, 45, 45, 50],
        ),
    ];
    let mut base = BASE;
    for (missed, at_45, at_50) in cases {
        assert_eq!(
            three_periods_down(base, missed).await,
            (at_45, at_50),
            "{missed:?}"
        );
        base += 3_600_000;
    }
    replacing_and_cancelling_from_a_handler(base).await;
    a_failed_fire_redriven_runs_once(base + 3_600_000).await;
    a_fire_whose_commit_is_refused_keeps_the_chain(base + 2 * 3_600_000).await;
    cancelled_names_free_their_slots(base + 3 * 3_600_000).await;
}

/// The dead letters of heart `h`.
async fn dead_letters(runtime: &mqless::Embedded) -> Vec<mqless::recovery::DeadLetter> {
    let letters = runtime.dead_letters::<Heart>("h").unwrap();
    letters.list().await.unwrap()
}

/// The beats of `heart` as seconds after `base`.
async fn beats_since(heart: &HeartClient, base: u64) -> Vec<u64> {
    let beats = heart.beats().query().await.unwrap();
    beats.iter().map(|b| (b - base) / 1000).collect()
}

/// A fire whose method returns `Err` is kept as a `Rejected` dead letter, and the chain
/// goes on; redriving it runs it once, and the reminder still fires once per period.
async fn a_failed_fire_redriven_runs_once(base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let runtime = reminders::runtime(Arc::new(MemoryStore::new()), clock.clone());
    let heart = runtime.client::<Heart>("h").unwrap();
    heart.troubles(base + 15_000, 0).send().await.unwrap();
    heart.start(10_000, Missed::FireOnce).send().await.unwrap();
    sweep_and_drain(&runtime).await;
    for (advance, at) in [(10, 10), (10, 20), (5, 25), (5, 30), (10, 40)] {
        clock.advance(Duration::from_secs(advance));
        if at == 25 {
            let letters = runtime.dead_letters::<Heart>("h").unwrap();
            assert_eq!(letters.list().await.unwrap().len(), 1, "the fire at 10 s");
            letters.redrive_all().await.unwrap();
        }
        sweep_and_drain(&runtime).await;
    }
    assert_eq!(
        beats_since(&heart, base).await,
        vec![20, 25, 30, 40],
        "the redriven fire runs once; the chain fires once per period"
    );
    let listed = runtime.reminders::<Heart>("h").await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].next_fire_millis, base + 50_000);
}

/// A fire dead-lettered without running (here its commit is refused for its size; the
/// stall rule takes the same path) still queues the next fire: the reminder does not
/// stop silently.
async fn a_fire_whose_commit_is_refused_keeps_the_chain(base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let store = Arc::new(FaultyStore::new());
    let runtime = reminders::runtime(store.clone(), clock.clone());
    let heart = runtime.client::<Heart>("h").unwrap();
    heart.troubles(0, base + 15_000).send().await.unwrap();
    heart.start(10_000, Missed::FireOnce).send().await.unwrap();
    sweep_and_drain(&runtime).await;
    store.refuse_states_over(Some(1024));
    for _ in 0..3 {
        clock.advance(Duration::from_secs(10));
        sweep_and_drain(&runtime).await;
    }
    let letters = dead_letters(&runtime).await;
    assert_eq!(letters.len(), 1, "the fire at 10 s: {letters:?}");
    assert_eq!(beats_since(&heart, base).await, vec![20, 30]);
    assert_eq!(runtime.reminders::<Heart>("h").await.unwrap().len(), 1);
}

/// Cancelling a reminder frees its slot: an actor can register, cancel and register
/// again far more names than it may hold live at once.
async fn cancelled_names_free_their_slots(base: u64) {
    const LIVE: usize = 64;
    let clock = Arc::new(ManualClock::new(base));
    let runtime = reminders::runtime(Arc::new(MemoryStore::new()), clock.clone());
    let heart = runtime.client::<Heart>("h").unwrap();
    for round in 0..3 {
        for i in 0..LIVE {
            let name = format!("r{round}-{i}");
            heart.start_named(name, 10_000).send().await.unwrap();
        }
        sweep_and_drain(&runtime).await;
        clock.advance(Duration::from_secs(10));
        sweep_and_drain(&runtime).await;
        assert_eq!(
            runtime.reminders::<Heart>("h").await.unwrap().len(),
            LIVE,
            "round {round}"
        );
        for i in 0..LIVE {
            heart
                .stop_named(format!("r{round}-{i}"))
                .send()
                .await
                .unwrap();
        }
        sweep_and_drain(&runtime).await;
        assert!(runtime.reminders::<Heart>("h").await.unwrap().is_empty());
    }
    assert_eq!(heart.beats().query().await.unwrap().len(), 3 * LIVE);
    let letters = dead_letters(&runtime).await;
    assert!(letters.is_empty(), "{letters:?}");
    // Nothing fires after the cancels.
    clock.advance(Duration::from_secs(60));
    sweep_and_drain(&runtime).await;
    assert_eq!(heart.beats().query().await.unwrap().len(), 3 * LIVE);
}

/// Registering the name again replaces the reminder (the old fire is dropped when it
/// comes due); `Context::cancel_reminder` ends it, and the listing shows it at once.
async fn replacing_and_cancelling_from_a_handler(base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let runtime = reminders::runtime(Arc::new(MemoryStore::new()), clock.clone());
    let heart = runtime.client::<Heart>("h").unwrap();
    heart.start(10_000, Missed::FireOnce).send().await.unwrap();
    heart.start(3_000, Missed::FireOnce).send().await.unwrap();
    sweep_and_drain(&runtime).await;
    let listed = runtime.reminders::<Heart>("h").await.unwrap();
    assert_eq!(
        listed.len(),
        1,
        "only the newer registration is live: {listed:?}"
    );
    assert_eq!(listed[0].period_millis, 3_000);
    clock.advance(Duration::from_secs(10));
    sweep_and_drain(&runtime).await;
    // Handled at 10 s, the 3 s reminder ran once for its fires at 3, 6 and 9 s
    // (`FireOnce`); the replaced 10 s one, due at 10 s too, was dropped.
    assert_eq!(heart.beats().query().await.unwrap().len(), 1);
    heart.stop().send().await.unwrap();
    sweep_and_drain(&runtime).await;
    assert!(runtime.reminders::<Heart>("h").await.unwrap().is_empty());
    clock.advance(Duration::from_secs(60));
    sweep_and_drain(&runtime).await;
    assert_eq!(
        heart.beats().query().await.unwrap().len(),
        1,
        "no fire after the cancel"
    );
    let host = runtime.host::<Heart>().unwrap();
    let report = host.drain(&ActorId::new("h").unwrap()).await.unwrap();
    assert_eq!(report.processed, 0);
    assert!(
        !runtime.cancel_reminder::<Heart>("h", BEAT).await.unwrap(),
        "nothing left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_fires_until_cancelled() {
    reminders::a_reminder_fires_until_cancelled(Arc::new(MemoryStore::new())).await;
}

/// The reminder example of docs/guide/time.md, as written there.
mod readme_example {
    use std::time::Duration;

    use mqless::prelude::*;
    use mqless::schedule::{Missed, Reminder};

    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    pub struct Device {
        checks: u32,
    }

    #[mqless::actor]
    impl Device {
        pub async fn activate(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
            let me = ctx.actor::<Device>(ctx.id().as_str())?;
            let hourly = Reminder::every(Duration::from_secs(3600)).missed(Missed::Skip);
            me.check().remind("health", hourly).await?;
            Ok(())
        }
        pub fn check(&mut self) {
            self.checks += 1;
        }
        pub fn deactivate(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
            ctx.cancel_reminder("health")?;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_device_registers_and_cancels_its_health_check() {
        let actors = Embedded::new();
        actors.register::<Device>().unwrap();
        let device = actors.client::<Device>("d-1").unwrap();
        device.activate().call().await.unwrap();
        let listed = actors.reminders::<Device>("d-1").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].name.as_str(), listed[0].period_millis),
            ("health", 3_600_000)
        );
        device.deactivate().call().await.unwrap();
        assert!(actors.reminders::<Device>("d-1").await.unwrap().is_empty());
    }
}
