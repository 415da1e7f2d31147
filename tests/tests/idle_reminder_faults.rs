//! Reminders of an idle actor under faults: its idle time to live (an hour) is shorter
//! than its reminder's period (two hours), and expired records are deleted at random
//! moments as DynamoDB's TTL would. A binary of its own: its manual clocks run years
//! ahead of the other reminder suite's, and message ids come from one process-wide
//! generator that never goes back.

use std::sync::Arc;
use std::time::Duration;

use mqless::testing::{FaultyStore, ManualClock, RecordingInvoker, Rng};
use mqless::{ActorId, Actors, Embedded};

const SEEDS: u64 = 150;
const DAY_MS: u64 = 86_400_000;
/// The reminder's period: longer than the actor's idle time to live (an hour).
const PERIOD_MS: u64 = 2 * 3_600_000;

/// An actor whose idle time to live is shorter than its reminder's period.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Pulse {
    beats: Vec<u64>,
}

#[mqless::actor(idle_ttl = "1h")]
impl Pulse {
    /// Registers the reminder.
    pub async fn start(&mut self, ctx: &mut mqless::Context) -> Result<(), mqless::RuntimeError> {
        let me = ctx.actor::<Pulse>(ctx.id().as_str())?;
        let every = mqless::schedule::Reminder::every(Duration::from_millis(PERIOD_MS));
        me.beat().remind("pulse", every).await?;
        Ok(())
    }

    /// One fire.
    pub fn beat(&mut self, ctx: &mut mqless::Context) {
        self.beats.push(ctx.now_millis());
    }

    /// The fires so far.
    pub fn beats(&self) -> Vec<u64> {
        self.beats.clone()
    }
}

fn clock_now(clock: &ManualClock) -> u64 {
    mqless::clock::Clock::now_millis(clock)
}

/// An idle actor is not idle while its reminder lives: with store faults, redrives and
/// expired records deleted at random moments, the record is never deleted under the
/// live reminder (it used to expire an hour after the next fire was due, so a fire
/// delivered later than that found a fresh actor and the chain ended), and the
/// reminder keeps one chain, one fire per period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_actors_reminder_outlives_its_time_to_live() {
    let mut failures = Vec::new();
    let mut deleted = 0;
    for seed in 0..SEEDS {
        // Each seed spans up to a week of manual time.
        let base = 2_500_000_000_000 + seed * 30 * DAY_MS;
        let mut rng = Rng(seed);
        let clock = Arc::new(ManualClock::new(base));
        let store = Arc::new(FaultyStore::new());
        let runtime = Embedded::builder()
            .store(store.clone())
            .clock(clock.clone())
            .manual_drains(Arc::new(RecordingInvoker::new()))
            .build();
        runtime.register::<Pulse>().unwrap();
        let host = runtime.host::<Pulse>().unwrap();
        let pulse = runtime.client::<Pulse>("p").unwrap();
        let id = ActorId::new("p").unwrap();
        pulse.start().send().await.unwrap();
        host.drain(&id).await.unwrap();
        store.random_faults(seed, 30);
        for _ in 0..40 {
            // Sometimes a fire is delivered hours late (a sweeper down, a long outage).
            clock.advance(Duration::from_millis(600_000 + rng.below(2 * PERIOD_MS)));
            let now = clock_now(&clock);
            if rng.below(3) == 0 {
                deleted += store.inner.delete_expired(now);
            }
            if rng.below(10) == 0 {
                if let Ok(letters) = runtime.dead_letters::<Pulse>("p") {
                    let _ = letters.redrive_all().await;
                }
            }
            // Wake-ups are not delivered here (redrives', crashed drains'): when the
            // sweep finds nothing, the audit, which reads every mailbox, stands in.
            let report = match runtime.sweep().await {
                Ok(report) if report.pending.is_empty() => runtime.audit().await,
                swept => swept,
            };
            if let Ok(report) = report {
                for address in report.pending {
                    let _ = host.drain(address.id()).await;
                }
            }
        }
        store.stop_random_faults();
        for _ in 0..3 {
            let _ = host.drain(&id).await;
        }
        let before = pulse.beats().query().await.unwrap().len();
        let mut fired = Vec::new();
        for _ in 0..3 {
            clock.advance(Duration::from_millis(PERIOD_MS));
            deleted += store.inner.delete_expired(clock_now(&clock));
            let _ = host.drain(&id).await;
            fired.push(pulse.beats().query().await.unwrap().len() - before);
        }
        let listed = runtime.reminders::<Pulse>("p").await.unwrap().len();
        if before == 0 || listed != 1 || fired != [1, 2, 3] {
            failures.push(format!(
                "seed {seed}: {before} fires kept, {listed} listed, then {fired:?}"
            ));
        }
    }
    println!("{SEEDS} seeds, {deleted} expired records deleted as TTL would");
    assert!(
        failures.is_empty(),
        "{} of {SEEDS} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
