//! The design's invariants on the embedded runtime, under many concurrent senders,
//! duplicate and concurrent invocations and an expired lease (here); the lost-wakeup
//! races (`races`), failed drains (`failures`), and a drain against its deadline, its
//! lease and a shutdown (`lease_time`).

mod failures;
mod lease_time;
mod races;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use mqless::clock::Clock;
use mqless::id::Address;
use mqless::mailbox::{DrainConfig, DrainEnd};
use mqless::store::{MailboxItem, Store};
use mqless::testing::{FaultyInvoker, FaultyStore, ManualClock, PausePoint, RecordingInvoker};
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

fn address_of(actor_type: &str, id: &str) -> Address {
    Address::new(
        mqless::id::ActorType::new(actor_type).unwrap(),
        mqless::ActorId::new(id).unwrap(),
    )
}
