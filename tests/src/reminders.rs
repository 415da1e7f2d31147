//! Reminders on any store: an actor registers a recurring reminder on itself, which fires
//! through crashes and redeploys, handles fires missed while nothing ran as its policy
//! says, can be replaced, listed and cancelled.

use std::sync::Arc;
use std::time::Duration;

use mqless::schedule::{Missed, Reminder};
use mqless::store::Store;
use mqless::testing::RecordingInvoker;
use mqless::{ActorId, Actors, Context, Embedded, RuntimeError};
use serde::{Deserialize, Serialize};

/// The reminder's name.
pub const BEAT: &str = "beat";

/// An actor that beats on a reminder and records when.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Heart {
    beats: Vec<u64>,
    /// Fires before this time return `Err` (kept as `Rejected` dead letters).
    #[serde(default)]
    fail_until: u64,
    /// Fires before this time grow the state past what `FaultyStore::refuse_states_over`
    /// lets commit, so their commits are refused.
    #[serde(default)]
    bloat_until: u64,
    #[serde(default)]
    ballast: Vec<u8>,
}

#[mqless::actor]
impl Heart {
    /// Registers (or replaces) the reminder: every `period_ms`, first one period on.
    pub async fn start(
        &mut self,
        period_ms: u64,
        missed: Missed,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let me = ctx.actor::<Heart>(ctx.id().as_str())?;
        me.beat()
            .remind(
                BEAT,
                Reminder::every(Duration::from_millis(period_ms)).missed(missed),
            )
            .await?;
        Ok(())
    }

    /// One fire: `Err` before `fail_until`, a state too big to commit before
    /// `bloat_until`.
    pub fn beat(&mut self, ctx: &mut Context) -> Result<(), String> {
        let now = ctx.now_millis();
        if now < self.fail_until {
            return Err(format!("failing until {}", self.fail_until));
        }
        if now < self.bloat_until {
            self.ballast = vec![7; 4096];
        } else {
            self.ballast.clear();
        }
        self.beats.push(now);
        Ok(())
    }

    /// Makes fires fail (`Err`) until `fail_until`, and bloat the state until
    /// `bloat_until` (milliseconds since the Unix epoch).
    pub fn troubles(&mut self, fail_until: u64, bloat_until: u64) {
        self.fail_until = fail_until;
        self.bloat_until = bloat_until;
    }

    /// Registers reminder `name` firing `beat` every `period_ms`.
    pub async fn start_named(
        &mut self,
        name: String,
        period_ms: u64,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let me = ctx.actor::<Heart>(ctx.id().as_str())?;
        me.beat()
            .remind(name, Reminder::every(Duration::from_millis(period_ms)))
            .await?;
        Ok(())
    }

    /// Stops the actor: its state, reminders and open asks are gone. Tells the
    /// `retired` channel, naming this message: a message that ran twice would show as
    /// two emissions (two ids) naming it.
    pub fn retire(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
        ctx.stop()?;
        let message = ctx.message_id().to_string();
        ctx.emit("retired", mqless::events::Payload::plaintext(message))?;
        Ok(())
    }

    /// Ends reminder `name`.
    pub fn stop_named(&mut self, name: String, ctx: &mut Context) -> Result<(), RuntimeError> {
        ctx.cancel_reminder(&name)?;
        Ok(())
    }

    /// Ends the reminder.
    pub fn stop(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
        ctx.cancel_reminder(BEAT)?;
        Ok(())
    }

    /// The times of the beats so far.
    pub fn beats(&self) -> Vec<u64> {
        self.beats.clone()
    }
}

/// A runtime over `store` with drains driven by hand.
pub fn runtime(store: Arc<dyn Store>, clock: Arc<dyn mqless::clock::Clock>) -> Embedded {
    let runtime = Embedded::builder()
        .store(store)
        .clock(clock)
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Heart>().unwrap();
    runtime
}

/// Sweeps and drains every actor it finds due: what the deployed sweeper does. This
/// runtime records wake-ups without delivering them, so an immediate message (a
/// client's `start`) is found by the audit, which runs when the sweep finds nothing.
pub async fn sweep_and_drain(runtime: &Embedded) {
    let host = runtime.host::<Heart>().unwrap();
    let mut report = runtime.sweep().await.unwrap();
    if report.pending.is_empty() {
        report = runtime.audit().await.unwrap();
    }
    for address in report.pending {
        host.drain(address.id()).await.unwrap();
    }
}

/// A two-second reminder on the real clock: it fires, is listed, and a cancel from
/// outside ends it (cancels are refused within a second of a fire, so the period leaves
/// a second to cancel in).
pub async fn a_reminder_fires_until_cancelled(store: Arc<dyn Store>) {
    let runtime = runtime(store, Arc::new(mqless::clock::SystemClock));
    let id = format!("heart-{}", mqless::MessageId::generate(1, None));
    let heart = runtime.client::<Heart>(id.clone()).unwrap();
    heart.start(2_000, Missed::FireOnce).send().await.unwrap();
    runtime
        .host::<Heart>()
        .unwrap()
        .drain(&ActorId::new(id.as_str()).unwrap())
        .await
        .unwrap();
    let listed = runtime.reminders::<Heart>(id.clone()).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].name.as_str(), listed[0].period_millis),
        (BEAT, 2_000)
    );
    let start = std::time::Instant::now();
    while heart.beats().query().await.unwrap().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the reminder did not fire twice"
        );
        sweep_and_drain(&runtime).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Cancel between fires (not within a second of one).
    loop {
        match runtime.cancel_reminder::<Heart>(id.clone(), BEAT).await {
            Ok(cancelled) => {
                assert!(cancelled);
                break;
            }
            Err(mqless::Error::TooLateToCancel { .. }) => {
                sweep_and_drain(&runtime).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(other) => panic!("{other}"),
        }
    }
    let beats = heart.beats().query().await.unwrap().len();
    assert!(runtime
        .reminders::<Heart>(id.clone())
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    sweep_and_drain(&runtime).await;
    assert_eq!(
        heart.beats().query().await.unwrap().len(),
        beats,
        "no fire after the cancel"
    );
}
