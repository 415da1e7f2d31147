//! The design's invariants on the embedded runtime, under many concurrent senders,
//! duplicate and concurrent invocations, an expired lease, and the lost-wakeup race.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use mqless::mailbox::Envelope;
use mqless::store::memory::MemoryStore;
use mqless::store::{
    BoxFuture, Cleanup, Commit, CommitOutcome, DeadLetter, MailboxItem, StateRecord, Store,
};
use mqless::{Address, DrainConfig, DrainEnd, Embedded, ManualClock, RecordingInvoker, StoreError};
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

fn address(id: &str) -> Address {
    Address::new(
        mqless::ActorType::new("Slow").unwrap(),
        mqless::ActorId::new(id).unwrap(),
    )
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
        vec![address("s")],
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
        .read_mailbox(&address("s"), 10)
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

/// A store that slips a message into the mailbox just before the lease is released:
/// exactly the window in which a sender's nudge finds the lease busy.
struct EnqueueBeforeRelease {
    inner: MemoryStore,
    slipped: AtomicBool,
    late: MailboxItem,
}

impl EnqueueBeforeRelease {
    async fn slip(&self, address: &Address) {
        if !self.slipped.swap(true, Ordering::SeqCst) {
            self.inner.enqueue(address, &self.late).await.unwrap();
        }
    }
}

impl Store for EnqueueBeforeRelease {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        item: &'a MailboxItem,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.enqueue(to, item)
    }
    fn acquire<'a>(
        &'a self,
        a: &'a Address,
        now: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        self.inner.acquire(a, now, until)
    }
    fn read_mailbox<'a>(
        &'a self,
        a: &'a Address,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<MailboxItem>, StoreError>> {
        self.inner.read_mailbox(a, limit)
    }
    fn commit<'a>(
        &'a self,
        a: &'a Address,
        commit: &'a Commit,
    ) -> BoxFuture<'a, Result<CommitOutcome, StoreError>> {
        Box::pin(async move {
            if commit.lease_expires_at == 0 {
                self.slip(a).await;
            }
            self.inner.commit(a, commit).await
        })
    }
    fn release<'a>(&'a self, a: &'a Address, epoch: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.slip(a).await;
            self.inner.release(a, epoch).await
        })
    }
    fn cleanup<'a>(
        &'a self,
        a: &'a Address,
        cleanup: Cleanup<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.cleanup(a, cleanup)
    }
    fn get_reply<'a>(
        &'a self,
        a: &'a Address,
        id: mqless::MessageId,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.inner.get_reply(a, id)
    }
    fn load_state<'a>(
        &'a self,
        a: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        self.inner.load_state(a)
    }
    fn dead_letters<'a>(
        &'a self,
        a: &'a Address,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
        self.inner.dead_letters(a)
    }
}

#[tokio::test]
async fn a_message_enqueued_while_the_lease_is_released_is_not_lost() {
    // Build the late message as a client would.
    let body = rmp_serde::to_vec_named(&AdderMessage::Add { n: 10 }).unwrap();
    let envelope = Envelope {
        body,
        ask: false,
        key: None,
    }
    .encode(&mqless::Limits::DEFAULT)
    .unwrap();
    let late = MailboxItem {
        id: mqless::MessageId::generate(1, None),
        envelope,
    };
    let store = Arc::new(EnqueueBeforeRelease {
        inner: MemoryStore::new(),
        slipped: AtomicBool::new(false),
        late,
    });
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
    assert!(store.slipped.load(Ordering::SeqCst));
    assert_eq!(
        report.processed, 2,
        "the drain looks again after releasing and finds the late message"
    );
    assert_eq!(
        runtime.state::<Adder>("w").await.unwrap().unwrap().total,
        11
    );
}

/// A store whose first cleanup fails, as if the owner crashed right after committing.
struct CrashBeforeCleanup {
    inner: MemoryStore,
    crashed: AtomicBool,
}

impl Store for CrashBeforeCleanup {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        item: &'a MailboxItem,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.enqueue(to, item)
    }
    fn acquire<'a>(
        &'a self,
        a: &'a Address,
        now: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        self.inner.acquire(a, now, until)
    }
    fn read_mailbox<'a>(
        &'a self,
        a: &'a Address,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<MailboxItem>, StoreError>> {
        self.inner.read_mailbox(a, limit)
    }
    fn commit<'a>(
        &'a self,
        a: &'a Address,
        commit: &'a Commit,
    ) -> BoxFuture<'a, Result<CommitOutcome, StoreError>> {
        self.inner.commit(a, commit)
    }
    fn release<'a>(&'a self, a: &'a Address, epoch: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.release(a, epoch)
    }
    fn cleanup<'a>(
        &'a self,
        a: &'a Address,
        cleanup: Cleanup<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        if self.crashed.swap(true, Ordering::SeqCst) {
            self.inner.cleanup(a, cleanup)
        } else {
            Box::pin(async {
                Err(StoreError::new(
                    mqless::StoreErrorKind::Unavailable,
                    "injected crash before cleanup",
                ))
            })
        }
    }
    fn get_reply<'a>(
        &'a self,
        a: &'a Address,
        id: mqless::MessageId,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.inner.get_reply(a, id)
    }
    fn load_state<'a>(
        &'a self,
        a: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        self.inner.load_state(a)
    }
    fn dead_letters<'a>(
        &'a self,
        a: &'a Address,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
        self.inner.dead_letters(a)
    }
}

#[tokio::test]
async fn a_crash_between_commit_and_cleanup_is_finished_by_the_next_owner_without_rerunning() {
    let store = Arc::new(CrashBeforeCleanup {
        inner: MemoryStore::new(),
        crashed: AtomicBool::new(false),
    });
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
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        report.processed, 1,
        "only the ask ran; the consumed message was not run again"
    );
    assert_eq!(ask.await.unwrap().unwrap(), 6);
    assert_eq!(store.inner.pending_messages(), 0);
}
