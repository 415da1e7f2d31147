//! What DynamoDB's TTL deletes, on the in-memory store, which deletes expired records
//! when a test says (`MemoryStore::delete_expired`): nothing may depend on a record
//! after its expiry. The manual-clock cases run in one test, each hours after the last
//! (message ids come from one process-wide generator that never goes back).

use std::sync::Arc;
use std::time::Duration;

use mqless::clock::Clock as _;
use mqless::id::Address;
use mqless::store::Store as _;
use mqless::testing::ManualClock;
use mqless::{Actors as _, Embedded};
use mqless_tests::cart::Cart;
use serde::{Deserialize, Serialize};

const BASE: u64 = 1_960_000_000_000;

#[tokio::test]
async fn a_stray_wake_up_leaves_no_lasting_record() {
    let store = mqless::store::MemoryStore::new();
    let delete_expired = mqless_tests::conformance::memory_delete_expired(&store);
    mqless_tests::cart::a_stray_wake_up_leaves_no_lasting_record(
        Arc::new(store.clone()),
        delete_expired,
    )
    .await;
    assert_eq!(
        store.delete_expired(u64::MAX),
        0,
        "the committed record stays"
    );
}

#[tokio::test]
async fn nothing_depends_on_a_record_after_its_expiry() {
    a_stopped_actor_stays_gone_after_its_record_is_deleted(BASE).await;
    a_message_after_a_stop_and_its_deletion_runs_at_once(BASE + 20 * 3_600_000).await;
    an_open_ask_keeps_an_idle_actors_record(BASE + 10 * 3_600_000).await;
    a_stop_whose_cleanup_was_cut_runs_once(BASE + 30 * 3_600_000).await;
}

/// DynamoDB's TTL deletes a stopped actor's record some time after the stop: once it is
/// gone, the record's memory of the stop goes with it. Nothing may depend on it: the
/// stop deleted the reminder's queued fire (it used to stay queued, held back only by
/// the record, and once the record was deleted it fired again, every period), so the
/// actor stays gone.
async fn a_stopped_actor_stays_gone_after_its_record_is_deleted(base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let store = mqless::store::MemoryStore::new();
    let runtime = Embedded::builder()
        .store(Arc::new(store.clone()))
        .clock(clock.clone())
        .build();
    runtime.register::<Cart>().unwrap();
    let cart = runtime.client::<Cart>("c1").unwrap();
    cart.add("apple".into()).call().await.unwrap();
    cart.keep_alive().call().await.unwrap();
    clock.advance(Duration::from_secs(61));
    runtime.sweep().await.unwrap();
    runtime.settle().await;
    assert_eq!(cart.check_out().call().await.unwrap(), 1);
    assert_eq!(store.delete_expired(clock.now_millis()), 1, "as TTL would");
    for _ in 0..3 {
        clock.advance(Duration::from_secs(61));
        runtime.sweep().await.unwrap();
        runtime.settle().await;
    }
    assert!(
        runtime.state::<Cart>("c1").await.unwrap().is_none(),
        "no ping revived it"
    );
    assert!(runtime.reminders::<Cart>("c1").await.unwrap().is_empty());
}

/// A runtime on a manual clock at `base` and an in-memory store, whose drains the test
/// runs by hand.
fn drained_by_hand(base: u64) -> (Arc<ManualClock>, mqless::store::MemoryStore, Embedded) {
    let clock = Arc::new(ManualClock::new(base));
    let store = mqless::store::MemoryStore::new();
    let runtime = Embedded::builder()
        .store(Arc::new(store.clone()))
        .clock(clock.clone())
        .manual_drains(Arc::new(mqless::testing::RecordingInvoker::new()))
        .build();
    (clock, store, runtime)
}

/// A stopped actor's record expires at the stop, and TTL may delete it at once, while the
/// stopping drain's lease would still be live: its lease item must not then speak for the
/// actor, or the next message waits for that lease to run out (the stopping drain frees
/// it after its commit).
async fn a_message_after_a_stop_and_its_deletion_runs_at_once(base: u64) {
    let (clock, store, runtime) = drained_by_hand(base);
    runtime.register::<Cart>().unwrap();
    let host = runtime.host::<Cart>().unwrap();
    let id = mqless::ActorId::new("c2").unwrap();
    let cart = runtime.client::<Cart>("c2").unwrap();
    cart.add("apple".into()).send().await.unwrap();
    cart.check_out().send().await.unwrap();
    assert_eq!(host.drain(&id).await.unwrap().processed, 2);
    assert_eq!(store.delete_expired(clock.now_millis()), 1, "as TTL would");
    cart.add("pear".into()).send().await.unwrap();
    let after = host.drain(&id).await.unwrap();
    assert_eq!(
        (after.processed, after.end),
        (1, mqless::mailbox::DrainEnd::Empty),
        "the new message runs at once: {after:?}"
    );
    assert!(runtime.state::<Cart>("c2").await.unwrap().is_some());
}

/// A stopping commit that landed with its answer lost leaves its cleanup undone: the
/// record must outlive that cleanup, or TTL may delete it first, and the next owner,
/// finding no record and the messages still queued, runs the stop again (invariant 2).
/// The record expires once the next owner's cleanup is done.
async fn a_stop_whose_cleanup_was_cut_runs_once(base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let store = Arc::new(mqless::testing::FaultyStore::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(clock.clone())
        .manual_drains(Arc::new(mqless::testing::RecordingInvoker::new()))
        .build();
    runtime.register::<Cart>().unwrap();
    let host = runtime.host::<Cart>().unwrap();
    let id = mqless::ActorId::new("c3").unwrap();
    let cart = runtime.client::<Cart>("c3").unwrap();
    cart.add("apple".into()).send().await.unwrap();
    cart.check_out().send().await.unwrap();

    store.lose_commit_answers(1);
    assert!(host.drain(&id).await.is_err(), "the commit's answer lost");
    assert_eq!(
        store.inner.delete_expired(clock.now_millis()),
        0,
        "the stopped record is kept while its cleanup is undone"
    );
    let after = host.drain(&id).await.unwrap();
    assert_eq!(after.processed, 0, "the stop ran once: {after:?}");
    assert_eq!(
        store.inner.delete_expired(clock.now_millis()),
        1,
        "cleaned up, the stopped record expires"
    );
}

/// Asks the `Sensor` of the conversation tests, with an idle time to live shorter than
/// the ask's timeout.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Patient {
    answers: Vec<String>,
}

#[mqless::actor(idle_ttl = "1h")]
impl Patient {
    /// Asks `sensor` for its reading, waiting up to `timeout_ms`.
    pub async fn ask(
        &mut self,
        sensor: String,
        timeout_ms: u64,
        ctx: &mut mqless::Context,
    ) -> Result<(), mqless::RuntimeError> {
        let me = ctx.actor::<Patient>(ctx.id().as_str())?;
        ctx.actor::<mqless_tests::conversation::Sensor>(sensor)?
            .read()
            .reply_to(|reading| me.answer(reading))
            .timeout(Duration::from_millis(timeout_ms))
            .send()
            .await?;
        Ok(())
    }

    /// The answer came back.
    pub fn answer(&mut self, reading: mqless::reply::Reply<f64, String>) {
        self.answers.push(format!("{reading:?}"));
    }

    /// Stops: the actor is gone, and its open asks with it.
    pub fn retire(&mut self, ctx: &mut mqless::Context) -> Result<(), mqless::RuntimeError> {
        ctx.stop()?;
        Ok(())
    }
}

/// An idle actor with an open ask is not idle: its record is kept until the ask's
/// timeout is handled, even when the ask outlasts its idle time to live (the record
/// used to expire, be deleted by TTL, and the timeout then found no open ask).
async fn an_open_ask_keeps_an_idle_actors_record(base: u64) {
    let (clock, store, runtime) = drained_by_hand(base);
    runtime.register::<Patient>().unwrap();
    runtime
        .register::<mqless_tests::conversation::Sensor>()
        .unwrap();
    let patient = runtime.client::<Patient>("p").unwrap();
    let host = runtime.host::<Patient>().unwrap();
    let id = mqless::ActorId::new("p").unwrap();
    let address = Address::parse("Patient/p").unwrap();
    // The sensor never answers: its drains are never run.
    patient
        .ask("far-away".into(), 3 * 3_600_000)
        .send()
        .await
        .unwrap();
    host.drain(&id).await.unwrap();
    clock.advance(Duration::from_secs(2 * 3_600));
    assert_eq!(
        store.delete_expired(clock.now_millis()),
        0,
        "the record is kept"
    );
    clock.advance(Duration::from_secs(3_600));
    host.drain(&id).await.unwrap();
    let state = runtime.state::<Patient>("p").await.unwrap().unwrap();
    assert_eq!(state.answers, ["TimedOut"]);
    assert!(store.load_state(&address).await.unwrap().is_some());

    // A stopped actor abandons its open asks: their timeouts are deleted with the stop
    // (nothing wakes it for them), and a late reply finds no open ask.
    patient
        .ask("far-away".into(), 3 * 3_600_000)
        .send()
        .await
        .unwrap();
    patient.retire().send().await.unwrap();
    host.drain(&id).await.unwrap();
    let queued = runtime.operator().mailbox(&address, 10).await.unwrap();
    assert!(queued.is_empty(), "the timeout is deleted: {queued:?}");
    store.delete_expired(clock.now_millis());
    runtime
        .host::<mqless_tests::conversation::Sensor>()
        .unwrap()
        .drain(&mqless::ActorId::new("far-away").unwrap())
        .await
        .unwrap();
    host.drain(&id).await.unwrap();
    let after = runtime.state::<Patient>("p").await.unwrap();
    assert!(
        after.is_none_or(|p| p.answers.is_empty()),
        "the late reply was dropped"
    );
}
