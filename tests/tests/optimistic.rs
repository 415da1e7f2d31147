//! Optimistic drains (`DrainConfig::optimistic`): fresh messages that fit one batch are
//! committed on the version read, without the lease; anything else takes the lease.

use std::sync::Arc;
use std::time::Duration;

use mqless::mailbox::{DrainConfig, DrainEnd};
use mqless::testing::{ManualClock, RecordingInvoker};
use mqless::{ActorId, Embedded};
use mqless_examples::counter::Counter;

fn runtime(clock: Arc<ManualClock>) -> Embedded {
    let runtime = Embedded::builder()
        .clock(clock)
        .config(DrainConfig {
            optimistic: true,
            batch_size: 3,
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Counter>().unwrap();
    runtime
}

/// Message ids come from one process-wide generator that never goes back, and the
/// optimistic path looks at their time: the cases run in one test, each later than the
/// last on the manual clocks, so none sees another's ids.
#[tokio::test]
async fn optimistic_drains() {
    racing_optimistic_drains_apply_a_message_once().await;
    fresh_messages_that_fit_a_batch_commit_without_the_lease().await;
    a_consumed_message_behind_a_scheduled_one_is_not_run_again().await;
    a_marked_actor_takes_the_lease_whose_release_clears_the_mark().await;
}

/// An actor marked for the sweep (a wake-up failed) is drained with the lease, whose
/// release clears the mark: an optimistic commit keeps the mark, and every sweep would
/// wake the actor again, for ever.
async fn a_marked_actor_takes_the_lease_whose_release_clears_the_mark() {
    use mqless::clock::Clock as _;
    let clock = Arc::new(ManualClock::new(1_960_000_000_000)); // after every case before it
    let runtime = runtime(clock.clone());
    let counter = runtime.client::<Counter>("marked").unwrap();
    let host = runtime.host::<Counter>().unwrap();
    let id = ActorId::new("marked").unwrap();
    let address = mqless::id::Address::parse("Counter/marked").unwrap();
    counter.increment(1).send().await.unwrap();
    host.drain(&id).await.unwrap();
    runtime
        .store()
        .arm(&address, clock.now_millis())
        .await
        .unwrap();
    counter.increment(2).send().await.unwrap();
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.optimistic),
        (1, false),
        "a marked actor takes the lease: {report:?}"
    );
    let record = runtime.store().load_state(&address).await.unwrap().unwrap();
    assert_eq!(record.mark, None, "the release cleared the mark");
}

async fn fresh_messages_that_fit_a_batch_commit_without_the_lease() {
    let clock = Arc::new(ManualClock::new(1_800_003_600_000));
    let runtime = runtime(clock.clone());
    let counter = runtime.client::<Counter>("c").unwrap();
    let host = runtime.host::<Counter>().unwrap();
    let id = ActorId::new("c").unwrap();
    counter.increment(1).send().await.unwrap();
    let first = host.drain(&id).await.unwrap();
    assert!(
        first.optimistic,
        "an actor's first message needs no lease either: {first:?}"
    );
    counter.increment(2).send().await.unwrap();
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.optimistic, report.end),
        (1, true, DrainEnd::Empty),
        "{report:?}"
    );
    // A batch of fresh messages: still no lease.
    for n in [3, 4, 5] {
        counter.increment(n).send().await.unwrap();
    }
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.optimistic, report.batches),
        (3, true, 1),
        "{report:?}"
    );
    // More than a batch holds: the lease.
    for n in [6, 7, 8, 9] {
        counter.increment(n).send().await.unwrap();
    }
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.optimistic),
        (4, false),
        "{report:?}"
    );
    // One of them not fresh (sent over 10 s ago): the lease, whose stall count finds a
    // poison message.
    counter.increment(10).send().await.unwrap();
    clock.advance(Duration::from_secs(11));
    counter.increment(11).send().await.unwrap();
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.optimistic),
        (2, false),
        "{report:?}"
    );
    assert_eq!(counter.get().query().await, Ok((1..=11).sum()));
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    total: i64,
}

static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[mqless::actor]
impl Tally {
    pub async fn add(&mut self, n: i64) {
        RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.total += n;
    }

    pub fn total(&self) -> i64 {
        self.total
    }
}

/// Two hosts race an optimistic drain of the same lone message: both may run it (the
/// documented price), and one commit lands. The other's condition fails on a record
/// that holds exactly the batch it wrote, so it counts that commit as its own (as a
/// retried write whose answer was lost does): both report the one batch. Were their
/// batches different, the other would be fenced and fall back to the lease. Applied once.
async fn racing_optimistic_drains_apply_a_message_once() {
    let store: Arc<dyn mqless::store::Store> = Arc::new(mqless::store::MemoryStore::new());
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let hosts: Vec<_> = (0..2)
        .map(|_| {
            let runtime = Embedded::builder()
                .store(Arc::clone(&store))
                .clock(clock.clone())
                .config(DrainConfig {
                    optimistic: true,
                    ..DrainConfig::default()
                })
                .manual_drains(Arc::new(RecordingInvoker::new()))
                .build();
            runtime.register::<Tally>().unwrap();
            runtime
        })
        .collect();
    let tally = hosts[0].client::<Tally>("t").unwrap();
    let id = ActorId::new("t").unwrap();
    tally.add(1).send().await.unwrap();
    hosts[0].host::<Tally>().unwrap().drain(&id).await.unwrap();
    RUNS.store(0, std::sync::atomic::Ordering::SeqCst);
    tally.add(10).send().await.unwrap();
    let (a, b) = (
        hosts[0].host::<Tally>().unwrap(),
        hosts[1].host::<Tally>().unwrap(),
    );
    let (first, second) = tokio::join!(a.drain(&id), b.drain(&id));
    let (first, second) = (first.unwrap(), second.unwrap());
    for report in [&first, &second] {
        assert_eq!(
            (report.processed, report.batches, report.optimistic),
            (1, 1, true),
            "{first:?} {second:?}"
        );
    }
    assert_eq!(
        RUNS.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "both ran it"
    );
    assert_eq!(tally.total().query().await, Ok(11), "applied once");

    // An actor's first message races the same way: no record and no lease item, so
    // both run it, and the commits, guarded by version 0, land once.
    let newcomer = hosts[0].client::<Tally>("new").unwrap();
    newcomer.add(5).send().await.unwrap();
    RUNS.store(0, std::sync::atomic::Ordering::SeqCst);
    let new = ActorId::new("new").unwrap();
    let (first, second) = tokio::join!(a.drain(&new), b.drain(&new));
    let (first, second) = (first.unwrap(), second.unwrap());
    for report in [&first, &second] {
        assert_eq!(
            (report.processed, report.optimistic),
            (1, true),
            "{first:?} {second:?}"
        );
    }
    assert_eq!(RUNS.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(newcomer.total().query().await, Ok(5), "applied once");
}

/// A message the last batch consumed, whose delete was lost, may sit behind a scheduled
/// message that is not due yet. An optimistic commit of the messages before it would
/// replace the record that says it was consumed, and it would run again: the optimistic
/// path must see it among everything read, not only among the messages due, and leave
/// the cleanup to the lease.
async fn a_consumed_message_behind_a_scheduled_one_is_not_run_again() {
    use mqless::store::{MailboxItem, Store};
    use mqless::testing::FaultyStore;
    use mqless::wire::Envelope;
    use mqless_examples::counter::CounterMessage;

    let t0: u64 = 1_950_000_000_000;
    let clock = Arc::new(ManualClock::new(t0));
    let store = Arc::new(FaultyStore::over(mqless::store::MemoryStore::new()));
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(clock.clone())
        .config(DrainConfig {
            optimistic: true,
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Counter>().unwrap();
    let host = runtime.host::<Counter>().unwrap();
    let id = ActorId::new("behind").unwrap();
    let address =
        mqless::id::Address::new(mqless::id::ActorType::new("Counter").unwrap(), id.clone());
    let item = |id: u128, by: i64, at: Option<u64>| {
        let body = rmp_serde::to_vec_named(&CounterMessage::Increment { by }).unwrap();
        let envelope = Envelope::new(body, false, None);
        let envelope = match at {
            Some(at) => envelope.scheduled(at, None),
            None => envelope,
        };
        MailboxItem {
            id: mqless::MessageId::from_u128(id),
            envelope: envelope.encode(&mqless::Limits::DEFAULT).unwrap(),
        }
    };
    // A first message, so that the actor has committed once.
    store
        .enqueue(&address, &item(u128::from(t0 - 1_000) << 80, 1_000, None))
        .await
        .unwrap();
    host.drain(&id).await.unwrap();
    // X, from a sender 9 s ahead: consumed, but its delete is lost.
    store
        .enqueue(&address, &item(u128::from(t0 + 9_000) << 80, 1, None))
        .await
        .unwrap();
    store.fail_cleanups(1);
    assert!(host.drain(&id).await.is_err(), "the cleanup failed");
    // The failed drain marked the actor for the sweep, and a marked actor takes the
    // lease. Say that mark failed too: the next drain is optimistic, and meets X.
    let marked = store.load_state(&address).await.unwrap().unwrap().mark;
    assert_eq!(marked, Some(t0), "the failed drain marks its actor due now");
    store.unmark(&address, t0).await.unwrap();
    // Then a message scheduled for t0 + 5 s (before X), and one due now (before both).
    store
        .enqueue(
            &address,
            &item(u128::from(t0 + 5_000) << 80, 100, Some(t0 + 5_000)),
        )
        .await
        .unwrap();
    store
        .enqueue(&address, &item(u128::from(t0) << 80 | 7, 10, None))
        .await
        .unwrap();
    host.drain(&id).await.unwrap();
    clock.advance(Duration::from_secs(6));
    host.drain(&id).await.unwrap();
    assert_eq!(counter_value(&runtime).await, 1_111, "each applied once");
}

async fn counter_value(runtime: &Embedded) -> i64 {
    runtime
        .client::<Counter>("behind")
        .unwrap()
        .get()
        .query()
        .await
        .unwrap()
}
