//! The design's invariants on the embedded runtime, under many concurrent senders,
//! duplicate and concurrent invocations, an expired lease, and the lost-wakeup race.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use mqless::clock::Clock;
use mqless::id::Address;
use mqless::mailbox::{DrainConfig, DrainEnd};
use mqless::store::{MailboxItem, Store};
use mqless::testing::{FaultyStore, ManualClock, PausePoint, RecordingInvoker};
use mqless::wire::Envelope;
use mqless::Embedded;
use mqless_tests::ledger::{self, Ledger, Scenario};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_and_invocations_apply_each_message_once_in_order() {
    let runtime = Arc::new(
        Embedded::builder()
            .config(DrainConfig {
                batch_size: 50,
                ..DrainConfig::default()
            })
            .build(),
    );
    runtime.register::<Ledger>().unwrap();
    let scenario = Scenario {
        senders: 64,
        messages_per_sender: 1_000,
        actors: 4,
        rogue_drainers: 8,
    };
    ledger::run(runtime, scenario).await;
}

/// Blocks the first `add` it sees until the test opens the gate.
static BLOCK_FIRST: AtomicBool = AtomicBool::new(false);
static GATE: LazyLock<Notify> = LazyLock::new(Notify::new);
static ENTERED: LazyLock<Notify> = LazyLock::new(Notify::new);
static EXECUTIONS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Default, Serialize, Deserialize)]
struct Slow {
    total: i64,
}

#[mqless::actor]
impl Slow {
    pub async fn add(&mut self, n: i64) -> i64 {
        EXECUTIONS.fetch_add(1, Ordering::SeqCst);
        self.total += n;
        if BLOCK_FIRST.swap(false, Ordering::SeqCst) {
            ENTERED.notify_one();
            GATE.notified().await;
        }
        self.total
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_whose_lease_expired_cannot_commit() {
    let clock = ManualClock::new(1_700_000_000_000);
    let lease = Duration::from_secs(10);
    let recorder = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder()
        .clock(Arc::new(clock.clone()))
        .config(DrainConfig {
            lease,
            ..DrainConfig::default()
        })
        .manual_drains(recorder.clone())
        .build();
    runtime.register::<Slow>().unwrap();
    let slow = runtime.client::<Slow>("s").unwrap();
    slow.add(1).send().await.unwrap();
    assert_eq!(
        recorder.take_nudges(),
        vec![address_of("Slow", "s")],
        "a send nudges the actor once"
    );

    // Owner A takes the lease and stalls inside the handler.
    BLOCK_FIRST.store(true, Ordering::SeqCst);
    let host = runtime.host::<Slow>().unwrap();
    let zombie = {
        let host = host.clone();
        tokio::spawn(async move { host.drain(&mqless::ActorId::new("s").unwrap()).await })
    };
    ENTERED.notified().await;

    // While A holds a live lease, another invocation backs off.
    let busy = host
        .drain(&mqless::ActorId::new("s").unwrap())
        .await
        .unwrap();
    assert_eq!(busy.end, DrainEnd::Busy);

    // A's lease expires; owner B takes over, applies the message and commits.
    clock.advance(lease + Duration::from_millis(1));
    let taker = host
        .drain(&mqless::ActorId::new("s").unwrap())
        .await
        .unwrap();
    assert_eq!((taker.processed, taker.end), (1, DrainEnd::Empty));

    // A wakes up and tries to commit its stale batch: fenced, nothing written.
    GATE.notify_one();
    let zombie = zombie.await.unwrap().unwrap();
    assert_eq!(zombie.end, DrainEnd::Fenced);
    assert_eq!(zombie.batches, 0);

    assert_eq!(
        EXECUTIONS.load(Ordering::SeqCst),
        2,
        "the message ran in both owners"
    );
    let state = runtime.state::<Slow>("s").await.unwrap().unwrap();
    assert_eq!(state.total, 1, "but changed the state exactly once");
    assert!(runtime
        .store()
        .read_mailbox(&address_of("Slow", "s"), 10)
        .await
        .unwrap()
        .is_empty());
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Adder {
    total: i64,
}

#[mqless::actor]
impl Adder {
    pub fn add(&mut self, n: i64) -> i64 {
        self.total += n;
        self.total
    }
}

#[tokio::test]
async fn a_message_enqueued_while_the_lease_is_released_is_not_lost() {
    // Build the late message as a client would.
    let body = rmp_serde::to_vec_named(&AdderMessage::Add { n: 10 }).unwrap();
    let envelope = Envelope::new(body, false, None)
        .encode(&mqless::Limits::DEFAULT)
        .unwrap();
    let late = MailboxItem {
        id: mqless::MessageId::generate(1, None),
        envelope,
    };
    let store = Arc::new(FaultyStore::new());
    store.enqueue_before_next_release(address_of("Adder", "w"), late);
    let recorder = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(recorder)
        .build();
    runtime.register::<Adder>().unwrap();
    runtime
        .client::<Adder>("w")
        .unwrap()
        .add(1)
        .send()
        .await
        .unwrap();

    let report = runtime
        .host::<Adder>()
        .unwrap()
        .drain(&mqless::ActorId::new("w").unwrap())
        .await
        .unwrap();
    assert!(store.slipped());
    assert_eq!(
        report.processed, 2,
        "the late message's wake-up knocked: the drain looks again and finds it"
    );
    assert_eq!(
        runtime.state::<Adder>("w").await.unwrap().unwrap().total,
        11
    );
}

/// The lost-wakeup race, run for real: a wake-up finds the lease held, knocks on the
/// owner's record and ends `Busy`; the owner's releasing commit finds the knock and
/// reads the mailbox again, so the message runs before the owner's drain returns, with
/// no sweep.
#[tokio::test]
async fn a_wake_up_that_finds_the_lease_held_knocks_and_the_owner_looks_again() {
    let store = Arc::new(FaultyStore::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Adder>().unwrap();
    let adder = runtime.client::<Adder>("knocked").unwrap();
    adder.add(1).send().await.unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let id = mqless::ActorId::new("knocked").unwrap();
    let address = address_of("Adder", "knocked");
    let mut pause = store.pause(address.clone(), PausePoint::BeforeCommit, 0);
    let owner = tokio::spawn({
        let (host, id) = (host.clone(), id.clone());
        async move { host.drain(&id).await }
    });
    pause.reached().await;
    adder.add(10).send().await.unwrap();
    let wake_up = host.drain(&id).await.unwrap();
    assert_eq!(wake_up.end, DrainEnd::Busy);
    let record = store.load_state(&address).await.unwrap().unwrap();
    assert!(record.knocked, "the wake-up knocked: {record:?}");
    assert!(
        record.mark.is_some(),
        "and armed the sweep, in case the owner crashed"
    );
    pause.resume();
    let report = owner.await.unwrap().unwrap();
    assert_eq!(
        (report.processed, report.end),
        (2, DrainEnd::Empty),
        "the owner's commit found the knock and looked again"
    );
    let record = store.load_state(&address).await.unwrap().unwrap();
    assert_eq!((record.knocked, record.mark), (false, None));
    assert_eq!(
        runtime
            .state::<Adder>("knocked")
            .await
            .unwrap()
            .unwrap()
            .total,
        11
    );
}

#[tokio::test]
async fn a_crash_between_commit_and_cleanup_is_finished_by_the_next_owner_without_rerunning() {
    let store = Arc::new(FaultyStore::new());
    store.fail_cleanups(1);
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Adder>().unwrap();
    let adder = runtime.client::<Adder>("c").unwrap();
    adder.add(5).send().await.unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let id = mqless::ActorId::new("c").unwrap();

    // The commit lands, the cleanup "crashes": the message is consumed but still queued.
    assert!(host.drain(&id).await.is_err());
    assert_eq!(runtime.state::<Adder>("c").await.unwrap().unwrap().total, 5);
    assert_eq!(store.inner.pending_messages(), 1);

    // An ask queued behind it; the next owner finishes the cleanup, skips the consumed
    // message, and answers the ask.
    let ask = {
        let adder = adder.clone();
        tokio::spawn(async move { adder.add(1).timeout(Duration::from_secs(5)).call().await })
    };
    // Until the ask is queued (not a fixed sleep: a loaded machine may take longer).
    while store.inner.pending_messages() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        report.processed, 1,
        "only the ask ran; the consumed message was not run again"
    );
    assert_eq!(ask.await.unwrap().unwrap(), 6);
    assert_eq!(store.inner.pending_messages(), 0);
}

/// Each message takes a second of the test's clock.
static DEADLINE_CLOCK: LazyLock<ManualClock> =
    LazyLock::new(|| ManualClock::new(1_700_000_000_000));

#[derive(Debug, Default, Serialize, Deserialize)]
struct Worker {
    done: u32,
}

#[mqless::actor]
impl Worker {
    pub fn work(&mut self) {
        DEADLINE_CLOCK.advance(Duration::from_secs(1));
        self.done += 1;
    }
}

#[tokio::test]
async fn a_drain_stops_before_its_deadline_and_leaves_the_rest_queued() {
    let clock = DEADLINE_CLOCK.clone();
    let runtime = Embedded::builder()
        .clock(Arc::new(clock.clone()))
        .config(DrainConfig {
            deadline_margin: Duration::from_secs(2),
            batch_size: 4,
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Worker>().unwrap();
    let worker = runtime.client::<Worker>("w").unwrap();
    for _ in 0..10 {
        worker.work().send().await.unwrap();
    }
    let host = runtime.host::<Worker>().unwrap();
    let id = mqless::ActorId::new("w").unwrap();

    // 6 s of budget, 2 s of margin: 4 messages fit, then the drain hands off.
    let deadline = clock.now_millis() + 6_000;
    let options = mqless::mailbox::DrainOptions {
        deadline_millis: Some(deadline),
        reply_for: None,
    };
    let first = host.drain_with(&id, options).await.unwrap();
    assert_eq!((first.end, first.processed), (DrainEnd::Deadline, 4));
    let record = runtime
        .store()
        .load_state(&address_of("Worker", "w"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.lease_expires_at, 0,
        "the lease is released for the next invocation"
    );

    // The next invocation, with a fresh deadline, finishes the work.
    let rest = host.drain(&id).await.unwrap();
    assert_eq!((rest.end, rest.processed), (DrainEnd::Empty, 6));
    assert_eq!(
        runtime.state::<Worker>("w").await.unwrap().unwrap().done,
        10
    );
}

fn address_of(actor_type: &str, id: &str) -> Address {
    Address::new(
        mqless::id::ActorType::new(actor_type).unwrap(),
        mqless::ActorId::new(id).unwrap(),
    )
}

#[tokio::test]
async fn a_drain_that_fails_frees_its_lease_and_does_not_count_as_a_stall() {
    let store = Arc::new(FaultyStore::new());
    let clock = ManualClock::new(1_800_000_000_000);
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Adder>().unwrap();
    runtime
        .client::<Adder>("f")
        .unwrap()
        .add(2)
        .send()
        .await
        .unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let id = mqless::ActorId::new("f").unwrap();
    let address = Address::new(mqless::id::ActorType::new("Adder").unwrap(), id.clone());

    store.fail_reads(1);
    assert!(host.drain(&id).await.is_err());
    let record = store.inner.load_state(&address).await.unwrap().unwrap();
    assert_eq!(
        (record.lease_expires_at, record.stalled_leases),
        (0, 0),
        "released on the way out: {record:?}"
    );
    // The same instant: no waiting for a lease to expire.
    let report = host.drain(&id).await.unwrap();
    assert_eq!((report.processed, report.end), (1, DrainEnd::Empty));
}

/// A wake-up that fails before it holds the lease (its first mailbox read fails, or its
/// acquire) marks the actor for the sweep: the invocation's retries can run out, and
/// then nothing else would look at the message (the audit would find it, hours later).
#[tokio::test]
async fn a_wake_up_that_fails_before_holding_the_lease_marks_the_actor_for_the_sweep() {
    let store = Arc::new(FaultyStore::new());
    let clock = ManualClock::new(1_800_000_000_000);
    let nudges = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .manual_drains(nudges.clone())
        .build();
    runtime.register::<Adder>().unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let adder = runtime.client::<Adder>("early").unwrap();
    let id = mqless::ActorId::new("early").unwrap();
    let address = address_of("Adder", "early");
    let failures: [(&str, &dyn Fn()); 2] = [
        ("its first read failed", &|| store.fail_reads(1)),
        ("its acquire's answer was lost", &|| {
            store.lose_acquire_answers(1)
        }),
    ];
    for (round, (failure, inject)) in failures.into_iter().enumerate() {
        adder.add(2).send().await.unwrap();
        nudges.take_nudges();
        inject();
        assert!(host.drain(&id).await.is_err(), "{failure}");
        let record = store.inner.load_state(&address).await.unwrap().unwrap();
        assert_eq!(
            (record.lease_expires_at, record.mark),
            (0, Some(clock.now_millis())),
            "{failure}: the lease given back, the actor due now: {record:?}"
        );
        // Nobody retries the wake-up: the sweep does.
        let swept = runtime.sweep().await.unwrap();
        assert!(swept.pending.contains(&address), "{failure}: {swept:?}");
        assert_eq!(nudges.take_nudges(), vec![address.clone()], "{failure}");
        let report = host.drain(&id).await.unwrap();
        assert_eq!(
            (report.processed, report.end),
            (1, DrainEnd::Empty),
            "{failure}"
        );
        let total = runtime
            .state::<Adder>("early")
            .await
            .unwrap()
            .unwrap()
            .total;
        assert_eq!(total, 2 * (round as i64 + 1), "{failure}");
    }
}

/// A store error inside a lease (here a commit that landed with its answer lost, in
/// the middle of a drain that goes on) frees the lease on the way out, so the next
/// wake-up does not wait for it to expire nor count a stall. (A failed first read, in
/// the test above, gives the lease back through the acquire's abandon.)
#[tokio::test]
async fn a_drain_whose_commit_fails_mid_lease_frees_its_lease() {
    let store = Arc::new(FaultyStore::new());
    let clock = ManualClock::new(1_800_000_000_000);
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .config(DrainConfig {
            batch_size: 1,
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Adder>().unwrap();
    let adder = runtime.client::<Adder>("m").unwrap();
    adder.add(2).send().await.unwrap();
    adder.add(3).send().await.unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let id = mqless::ActorId::new("m").unwrap();
    let address = address_of("Adder", "m");

    // The first batch's commit keeps the lease (a second message waits); its answer is
    // lost, so the drain fails holding it.
    store.lose_commit_answers(1);
    assert!(host.drain(&id).await.is_err());
    let record = store.inner.load_state(&address).await.unwrap().unwrap();
    assert_eq!(
        (
            record.version,
            record.lease_expires_at,
            record.stalled_leases
        ),
        (1, 0, 0),
        "committed, then released on the way out: {record:?}"
    );
    // The same instant: no waiting for a lease to expire.
    let report = host.drain(&id).await.unwrap();
    assert_eq!((report.processed, report.end), (1, DrainEnd::Empty));
    assert_eq!(runtime.state::<Adder>("m").await.unwrap().unwrap().total, 5);
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Relay {
    relayed: u32,
}

#[mqless::actor]
impl Relay {
    /// Passes one on to `to`.
    pub async fn relay(
        &mut self,
        to: String,
        ctx: &mut mqless::Context,
    ) -> Result<(), mqless::RuntimeError> {
        self.relayed += 1;
        ctx.actor::<Relay>(to)?.note().send().await?;
        Ok(())
    }

    /// Counts one received.
    pub fn note(&mut self) {
        self.relayed += 1;
    }
}

/// A commit that lands with its answer lost returns an error before its wake-ups: the
/// recipients of its sends are marked for the sweep, which wakes them (invariant 1; the
/// audit's full scan was the only way to find them before).
#[tokio::test]
async fn a_commit_whose_answer_is_lost_leaves_its_recipients_to_the_sweep() {
    let store = Arc::new(FaultyStore::new());
    let nudges = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(nudges.clone())
        .build();
    runtime.register::<Relay>().unwrap();
    let from = runtime.client::<Relay>("from").unwrap();
    from.relay("to".into()).send().await.unwrap();
    let host = runtime.host::<Relay>().unwrap();
    nudges.take_nudges();

    store.lose_commit_answers(1);
    assert!(host
        .drain(&mqless::ActorId::new("from").unwrap())
        .await
        .is_err());
    let to = Address::parse("Relay/to").unwrap();
    assert_eq!(
        store.read_mailbox(&to, 10).await.unwrap().len(),
        1,
        "the send landed"
    );
    assert!(
        !nudges.take_nudges().contains(&to),
        "the failed drain woke nobody"
    );
    let report = runtime.sweep().await.unwrap();
    assert!(
        report.pending.contains(&to),
        "the sweep finds the recipient by its mark: {report:?}"
    );
}

/// Each message takes 9 seconds of this clock, close to the 10-second lease.
static SLOW_CLOCK: LazyLock<ManualClock> = LazyLock::new(|| ManualClock::new(1_700_000_000_000));

#[derive(Debug, Default, Serialize, Deserialize)]
struct Plodder {
    done: u32,
}

#[mqless::actor]
impl Plodder {
    pub fn plod(&mut self) {
        SLOW_CLOCK.advance(Duration::from_secs(9));
        self.done += 1;
    }
}

#[tokio::test]
async fn a_batch_commits_and_renews_its_lease_before_the_lease_runs_out() {
    let runtime = Embedded::builder()
        .clock(Arc::new(SLOW_CLOCK.clone()))
        .config(DrainConfig {
            lease: Duration::from_secs(10),
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Plodder>().unwrap();
    let plodder = runtime.client::<Plodder>("p").unwrap();
    for _ in 0..3 {
        plodder.plod().send().await.unwrap();
    }
    let report = runtime
        .host::<Plodder>()
        .unwrap()
        .drain(&mqless::ActorId::new("p").unwrap())
        .await
        .unwrap();
    assert_eq!(
        (report.processed, report.batches, report.end),
        (3, 3, DrainEnd::Empty),
        "one message per batch: each left less than the 2 s margin of its lease"
    );
}

/// Counts its calls.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    calls: u64,
}

#[mqless::actor]
impl Tally {
    /// One more call; the count so far.
    pub fn add(&mut self) -> u64 {
        self.calls += 1;
        self.calls
    }
}

/// An ask returns once its message is gone from the mailbox: right after `.call()`, a
/// sweep finds nothing pending and the operator's view of the mailbox is empty. The
/// reply used to be handed over before the cleanup deleted the message; here the drain
/// is held between its commit and its cleanup, and the ask must still be waiting.
#[tokio::test]
async fn an_answered_ask_leaves_nothing_pending() {
    use mqless::testing::PausePoint;
    let store = Arc::new(FaultyStore::new());
    let runtime = Arc::new(Embedded::builder().store(store.clone()).build());
    runtime.register::<Tally>().unwrap();
    let address = address_of("Tally", "t");
    for call in 1..=3 {
        let mut pause = store.pause(address.clone(), PausePoint::BeforeCleanup, 0);
        let asking = tokio::spawn({
            let runtime = Arc::clone(&runtime);
            async move { runtime.client::<Tally>("t").unwrap().add().call().await }
        });
        pause.reached().await;
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(
            !asking.is_finished(),
            "ask {call} returned before its message was cleaned up"
        );
        pause.resume();
        assert_eq!(asking.await.unwrap().unwrap(), call);
        let pending = runtime.sweep().await.unwrap().pending;
        assert!(pending.is_empty(), "after ask {call}: {pending:?}");
        let queued = runtime.operator().mailbox(&address, 10).await.unwrap();
        assert!(queued.is_empty(), "after ask {call}: {queued:?}");
    }
}

/// A redeploy in place: the old runtime is shut down (or dropped) while one of its own
/// drains is between batches; that drain commits the batch it was in and ends, so the
/// old code runs no message meant for the new runtime. Dropping used to leave the drain
/// running on, batch after batch, with the old code.
#[tokio::test]
async fn a_runtime_shut_down_or_dropped_mid_drain_runs_no_more_batches() {
    use mqless::testing::PausePoint;
    for drop_it in [false, true] {
        let store = Arc::new(FaultyStore::new());
        let old = Embedded::builder()
            .store(store.clone())
            .config(DrainConfig {
                batch_size: 1,
                ..DrainConfig::default()
            })
            .build();
        old.register::<Tally>().unwrap();
        let address = address_of("Tally", "t");
        // Held before its second read: one batch committed, two messages queued.
        let mut pause = store.pause(address.clone(), PausePoint::BeforeRead, 1);
        let tally = old.client::<Tally>("t").unwrap();
        for _ in 0..3 {
            tally.add().send().await.unwrap();
        }
        pause.reached().await;
        let shutting_down = if drop_it {
            drop(old);
            None
        } else {
            let old = Arc::new(old);
            let shutdown = tokio::spawn({
                let old = Arc::clone(&old);
                async move { old.shutdown().await }
            });
            tokio::task::yield_now().await;
            Some(shutdown)
        };
        pause.resume();
        match shutting_down {
            Some(shutdown) => shutdown.await.unwrap(),
            // Dropped: wait until its drain has released the lease.
            None => loop {
                let record = store.inner.load_state(&address).await.unwrap().unwrap();
                if record.lease_expires_at == 0 {
                    break;
                }
                tokio::task::yield_now().await;
            },
        }
        let record = store.inner.load_state(&address).await.unwrap().unwrap();
        assert_eq!(record.version, 1, "drop: {drop_it}: one batch committed");
        let new = Embedded::builder().store(store.clone()).build();
        new.register::<Tally>().unwrap();
        let queued = new.operator().mailbox(&address, 10).await.unwrap();
        assert_eq!(queued.len(), 2, "drop: {drop_it}: left for the new runtime");
        let tally = new.client::<Tally>("t").unwrap();
        assert_eq!(tally.add().call().await.unwrap(), 4);
    }
}
