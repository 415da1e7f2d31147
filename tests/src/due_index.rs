//! The due index and the sweep that reads it, written once and run against every store
//! (`tests/tests/store_conformance.rs`): scheduled messages are indexed while queued
//! and only then, and so are the messages a sender marked; marks keep the earliest time, go with a lease's release and with a
//! quarantine; the sweep wakes what is due oldest first, each actor once, lists
//! quarantined actors without waking them, stops at its deadline with a cursor, and the
//! next sweep goes on from there and wraps around.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mqless::error::InvokeError;
use mqless::id::Address;
use mqless::invoke::Invoker;
use mqless::recovery::{sweep_with, SweepOptions};
use mqless::store::due::{entry_key, shard_of, DueEntry};
use mqless::store::{Cleanup, Commit, MailboxItem, QuarantineRecord, Store};
use mqless::MessageId;

const NOW: u64 = 1_800_000_000_000;
const LEASE: u64 = 60_000;

/// Runs every case against `store`, which must hold nothing else in its due index.
pub async fn run(store: Arc<dyn Store>) {
    scheduled_messages_are_indexed_while_queued(&*store).await;
    marks_keep_the_earliest_and_go_with_a_release(&*store).await;
    marked_messages_are_indexed_until_consumed(&*store).await;
    the_cursor_is_kept(&*store).await;
    sweeps_wake_what_is_due_oldest_first_and_go_on_from_their_cursor(&*store).await;
    a_wake_up_that_finds_the_lease_held_marks_the_actor(Arc::clone(&store)).await;
}

fn address(case: &str, n: usize) -> Address {
    Address::parse(&format!("Due/{case}-{n}")).unwrap()
}

/// A message scheduled for `at` (`None`: an immediate one).
fn message(at: Option<u64>) -> MailboxItem {
    let envelope = mqless::wire::Envelope::new(
        mqless::wire::encode(&"tick", "message", 1024).unwrap(),
        false,
        None,
    );
    let envelope = match at {
        Some(at) => envelope.scheduled(at, None),
        None => envelope,
    };
    MailboxItem {
        id: MessageId::generate(at.unwrap_or(NOW), None),
        envelope: envelope.encode(&mqless::Limits::DEFAULT).unwrap(),
    }
}

/// Every entry of the index due at `now` for `address`.
async fn entries(store: &dyn Store, address: &Address, now: u64) -> Vec<DueEntry> {
    store
        .due_page(shard_of(address), None, now, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.address == *address)
        .collect()
}

async fn due_times(store: &dyn Store, address: &Address, now: u64) -> Vec<u64> {
    entries(store, address, now)
        .await
        .iter()
        .map(DueEntry::due)
        .collect()
}

async fn scheduled_messages_are_indexed_while_queued(store: &dyn Store) {
    let a = address("indexed", 0);
    store.enqueue(&a, &message(None)).await.unwrap();
    assert!(
        due_times(store, &a, NOW + 3_600_000).await.is_empty(),
        "an immediate message is not indexed"
    );

    let later = message(Some(NOW + 10_000));
    store.enqueue(&a, &later).await.unwrap();
    assert!(due_times(store, &a, NOW).await.is_empty(), "not due yet");
    assert_eq!(due_times(store, &a, NOW + 10_000).await, [NOW + 10_000]);
    assert!(store.cancel(&a, later.id).await.unwrap());
    assert!(
        due_times(store, &a, NOW + 10_000).await.is_empty(),
        "gone with its message"
    );

    // Sent by another actor's commit, and consumed by a drain's cleanup.
    let sender = address("indexed", 1);
    let record = store
        .acquire(&sender, NOW, NOW + LEASE, 1)
        .await
        .unwrap()
        .taken()
        .unwrap();
    let sent = message(Some(NOW + 20_000));
    let commit = Commit {
        epoch: record.epoch,
        expected_version: 0,
        state: vec![0x80],
        meta: vec![0x80],
        lease_expires_at: 0,
        outgoing: vec![(a.clone(), sent.clone())],
        continued: None,
        expires_at: None,
        mark: None,
        subscriptions: Vec::new(),
    };
    store.commit(&sender, &commit).await.unwrap();
    assert_eq!(due_times(store, &a, NOW + 20_000).await, [NOW + 20_000]);
    let cleanup = Cleanup {
        undeliverable: &[],
        dead_letters: &[],
        delete: &[sent.id],
        replies: &[],
        replies_expire_at: NOW + LEASE,
        dead_letters_expire_at: None,
        now: NOW + 20_000,
        expire_record: None,
    };
    store.cleanup(&a, cleanup).await.unwrap();
    assert!(due_times(store, &a, NOW + 20_000).await.is_empty());
}

/// A sender whose wake-up failed marks the message it queued (`Store::mark_message`):
/// indexed at the earliest mark while queued, gone with the message, and never brought
/// back once consumed; the recipient's record is not written.
async fn marked_messages_are_indexed_until_consumed(store: &dyn Store) {
    let a = address("message-marked", 0);
    let queued = message(None);
    store.enqueue(&a, &queued).await.unwrap();
    store.mark_message(&a, queued.id, NOW + 5).await.unwrap();
    store.mark_message(&a, queued.id, NOW + 9).await.unwrap();
    assert_eq!(
        due_times(store, &a, NOW + 60).await,
        [NOW + 5],
        "the earlier mark stays"
    );
    store.mark_message(&a, queued.id, NOW + 1).await.unwrap();
    assert_eq!(
        entries(store, &a, NOW + 60).await[0].key,
        entry_key(NOW + 1, &a, &format!("m#{}", queued.id))
    );
    assert!(
        store.load_state(&a).await.unwrap().is_none(),
        "a marked message leaves the recipient's record alone"
    );
    let queued_again = store.read_mailbox(&a, 10).await.unwrap();
    assert_eq!(queued_again.len(), 1);
    assert_eq!(
        queued_again[0].envelope, queued.envelope,
        "the mark changes the message's index entry, not the message"
    );

    let cleanup = Cleanup {
        undeliverable: &[],
        dead_letters: &[],
        delete: &[queued.id],
        replies: &[],
        replies_expire_at: NOW + LEASE,
        dead_letters_expire_at: None,
        now: NOW + 60,
        expire_record: None,
    };
    store.cleanup(&a, cleanup).await.unwrap();
    assert!(
        due_times(store, &a, NOW + 60).await.is_empty(),
        "gone with its message"
    );
    store.mark_message(&a, queued.id, NOW + 2).await.unwrap();
    assert!(
        due_times(store, &a, NOW + 60).await.is_empty()
            && store.read_mailbox(&a, 10).await.unwrap().is_empty(),
        "a consumed message is not brought back by a late mark"
    );
    let never = address("message-marked", 1);
    store.mark_message(&never, queued.id, NOW).await.unwrap();
    assert!(due_times(store, &never, NOW + 60).await.is_empty());
}

async fn marks_keep_the_earliest_and_go_with_a_release(store: &dyn Store) {
    let a = address("marked", 0);
    store.arm(&a, NOW + 5).await.unwrap();
    store.arm(&a, NOW + 9).await.unwrap();
    assert_eq!(
        due_times(store, &a, NOW + 60).await,
        [NOW + 5],
        "the earlier mark stays"
    );
    store.arm(&a, NOW + 1).await.unwrap();
    assert_eq!(due_times(store, &a, NOW + 60).await, [NOW + 1]);
    assert_eq!(
        entries(store, &a, NOW + 60).await[0].key,
        entry_key(NOW + 1, &a, "#state")
    );

    let record = store
        .acquire(&a, NOW, NOW + LEASE, 1)
        .await
        .unwrap()
        .taken()
        .unwrap();
    assert_eq!(
        record.mark,
        Some(NOW + 1),
        "a mark created the record, which keeps it"
    );
    match store.acquire(&a, NOW + 1, NOW + LEASE, 2).await.unwrap() {
        mqless::store::Acquired::Held {
            lease_expires_at,
            mark,
            ..
        } => {
            assert_eq!((lease_expires_at, mark), (NOW + LEASE, Some(NOW + 1)));
        }
        other => panic!("a live lease is held: {other:?}"),
    }
    store.release(&a, record.epoch).await.unwrap();
    assert_eq!(
        due_times(store, &a, NOW + 60).await,
        [NOW + 1],
        "a release leaves the mark"
    );
    store.unmark(&a, NOW + 2).await.unwrap();
    assert_eq!(
        due_times(store, &a, NOW + 60).await,
        [NOW + 1],
        "an unmark of another time leaves it"
    );
    store.unmark(&a, NOW + 1).await.unwrap();
    assert!(
        due_times(store, &a, NOW + 60).await.is_empty(),
        "the unmark of its time cleared it"
    );
    commits_keep_or_clear_the_mark(store, &a).await;
    a_quarantine_takes_the_mark(store, &a).await;
}

/// An owner stopping at its deadline marks its actor; a later commit keeping the lease
/// keeps the mark it names, and one releasing clears it.
async fn commits_keep_or_clear_the_mark(store: &dyn Store, a: &Address) {
    let a = a.clone();
    let record = store
        .acquire(&a, NOW + 2, NOW + LEASE, 3)
        .await
        .unwrap()
        .taken()
        .unwrap();
    store.arm(&a, NOW + 7).await.unwrap();
    store.release(&a, record.epoch).await.unwrap();
    assert_eq!(due_times(store, &a, NOW + 60).await, [NOW + 7]);
    let record = store
        .acquire(&a, NOW + 8, NOW + LEASE, 4)
        .await
        .unwrap()
        .taken()
        .unwrap();
    let commit = |expected_version, lease_expires_at, mark| Commit {
        epoch: record.epoch,
        expected_version,
        state: vec![0x80],
        meta: vec![0x80],
        lease_expires_at,
        outgoing: Vec::new(),
        continued: None,
        expires_at: None,
        mark,
        subscriptions: Vec::new(),
    };
    store
        .commit(&a, &commit(record.version, NOW + LEASE, record.mark))
        .await
        .unwrap();
    assert_eq!(
        due_times(store, &a, NOW + 60).await,
        [NOW + 7],
        "kept by a renewing commit"
    );
    store
        .commit(&a, &commit(record.version + 1, 0, None))
        .await
        .unwrap();
    assert!(
        due_times(store, &a, NOW + 60).await.is_empty(),
        "cleared by a releasing commit"
    );
}

/// A quarantine takes the mark away; the quarantine index lists the actor.
async fn a_quarantine_takes_the_mark(store: &dyn Store, a: &Address) {
    let a = a.clone();
    store.arm(&a, NOW + 9).await.unwrap();
    let record = store
        .acquire(&a, NOW + 10, NOW + LEASE, 5)
        .await
        .unwrap()
        .taken()
        .unwrap();
    let reason = QuarantineRecord {
        reason: "a test".into(),
        since: NOW + 10,
    };
    assert!(store.quarantine(&a, record.epoch, &reason).await.unwrap());
    assert!(due_times(store, &a, NOW + 60).await.is_empty());
    let listed = store.quarantined_actors().await.unwrap();
    assert!(listed.contains(&(a.clone(), reason.clone())), "{listed:?}");
    let lift = mqless::store::Lift {
        since: NOW + 10,
        state: mqless::recovery::StateFix::Keep,
        clear_bookkeeping: false,
    };
    assert!(store.lift_quarantine(&a, &lift).await.unwrap());
    assert!(!store
        .quarantined_actors()
        .await
        .unwrap()
        .iter()
        .any(|(listed, _)| *listed == a));
}

async fn the_cursor_is_kept(store: &dyn Store) {
    assert_eq!(store.sweep_cursor().await.unwrap(), None);
    store
        .save_sweep_cursor(Some("0001|Due/x|#state"))
        .await
        .unwrap();
    assert_eq!(
        store.sweep_cursor().await.unwrap().as_deref(),
        Some("0001|Due/x|#state")
    );
    store.save_sweep_cursor(None).await.unwrap();
    assert_eq!(store.sweep_cursor().await.unwrap(), None);
}

/// Records wake-ups, each taking `pause`.
#[derive(Default)]
struct SlowInvoker {
    woken: Mutex<Vec<Address>>,
    pause: Duration,
}

impl SlowInvoker {
    fn take(&self) -> Vec<Address> {
        std::mem::take(&mut *self.woken.lock().unwrap())
    }
}

impl Invoker for SlowInvoker {
    fn nudge<'a>(
        &'a self,
        address: &'a Address,
    ) -> mqless::store::BoxFuture<'a, Result<(), InvokeError>> {
        Box::pin(async move {
            tokio::time::sleep(self.pause).await;
            self.woken.lock().unwrap().push(address.clone());
            Ok(())
        })
    }
}

async fn sweeps_wake_what_is_due_oldest_first_and_go_on_from_their_cursor(store: &dyn Store) {
    let (actors, quarantined) = due_actors(store).await;
    let invoker = SlowInvoker::default();
    let options = SweepOptions {
        concurrency: 3,
        deadline: None,
    };
    let report = sweep_with(store, &invoker, NOW, options).await.unwrap();
    assert_eq!(report.pending, actors, "oldest first, each actor once");
    assert_eq!(invoker.take(), actors);
    assert_eq!(
        report.quarantined,
        std::slice::from_ref(&quarantined),
        "listed, not woken"
    );
    assert!(report.complete);
    a_sweep_at_its_deadline_saves_its_cursor(store, &actors).await;
}

/// Ten actors, due one second apart, the first two with two messages each; one more
/// actor quarantined with a message due; one due later. The ten, and the quarantined.
async fn due_actors(store: &dyn Store) -> (Vec<Address>, Address) {
    let actors: Vec<Address> = (0..10).map(|n| address("swept", n)).collect();
    for (n, actor) in actors.iter().enumerate() {
        let at = NOW - 100_000 + n as u64 * 1000;
        store.enqueue(actor, &message(Some(at))).await.unwrap();
        if n < 2 {
            store
                .enqueue(actor, &message(Some(at + 20_000)))
                .await
                .unwrap();
        }
    }
    let quarantined = address("swept-quarantined", 0);
    store
        .enqueue(&quarantined, &message(Some(NOW - 50_000)))
        .await
        .unwrap();
    let record = store
        .acquire(&quarantined, NOW, NOW + LEASE, 1)
        .await
        .unwrap()
        .taken()
        .unwrap();
    let reason = QuarantineRecord {
        reason: "a test".into(),
        since: NOW,
    };
    assert!(store
        .quarantine(&quarantined, record.epoch, &reason)
        .await
        .unwrap());
    store
        .enqueue(&address("swept-later", 0), &message(Some(NOW + 1)))
        .await
        .unwrap();
    (actors, quarantined)
}

/// A sweep that reaches its deadline stops after what it issued, and saves where; the
/// next goes on from there, then wraps around to what the first woke (still due:
/// nothing drained them), and clears the cursor.
async fn a_sweep_at_its_deadline_saves_its_cursor(store: &dyn Store, actors: &[Address]) {
    let invoker = SlowInvoker::default();
    let slow = SlowInvoker {
        pause: Duration::from_secs(2),
        ..SlowInvoker::default()
    };
    let options = SweepOptions {
        concurrency: 3,
        deadline: Some(Instant::now() + Duration::from_secs(1)),
    };
    let report = sweep_with(store, &slow, NOW, options).await.unwrap();
    assert!(!report.complete);
    assert_eq!(
        report.pending,
        actors[..3],
        "one round of three, then the deadline"
    );
    let cursor = store.sweep_cursor().await.unwrap();
    assert!(
        cursor
            .as_deref()
            .is_some_and(|c| c.contains(&actors[2].to_string())),
        "{cursor:?}"
    );
    let report = sweep_with(store, &invoker, NOW, SweepOptions::default())
        .await
        .unwrap();
    let wrapped: Vec<Address> = actors[3..].iter().chain(&actors[..3]).cloned().collect();
    assert_eq!(report.pending, wrapped);
    assert!(report.complete);
    assert_eq!(store.sweep_cursor().await.unwrap(), None);
}

/// An owner takes the lease and dies with it; the retry of its invocation (or any
/// wake-up) comes while the lease still runs, finds it held, and nothing wakes the actor
/// again: the mark it leaves at the lease's expiry is what brings the sweep to it then.
async fn a_wake_up_that_finds_the_lease_held_marks_the_actor(store: Arc<dyn Store>) {
    use mqless::mailbox::DrainEnd;
    use mqless_examples::counter::Counter;
    let clock = Arc::new(mqless::testing::ManualClock::new(NOW));
    let runtime = mqless::Embedded::builder()
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .manual_drains(Arc::new(mqless::testing::RecordingInvoker::new()))
        .build();
    runtime.register::<Counter>().unwrap();
    let host = runtime.host::<Counter>().unwrap();
    let id = mqless::ActorId::new("held").unwrap();
    let counter = runtime.client::<Counter>("held").unwrap();
    let address = Address::parse("Counter/held").unwrap();

    store
        .acquire(&address, NOW, NOW + LEASE, 1)
        .await
        .unwrap()
        .taken()
        .unwrap();
    counter.increment(5).send().await.unwrap();
    assert_eq!(host.drain(&id).await.unwrap().end, DrainEnd::Busy);
    assert!(
        !runtime.sweep().await.unwrap().pending.contains(&address),
        "not before the lease runs out"
    );
    clock.advance(Duration::from_millis(LEASE));
    let swept = runtime.sweep().await.unwrap();
    assert!(swept.pending.contains(&address), "{swept:?}");
    assert_eq!(host.drain(&id).await.unwrap().end, DrainEnd::Empty);
    assert_eq!(counter.get().query().await, Ok(5));
    assert!(
        !runtime.sweep().await.unwrap().pending.contains(&address),
        "the drain's release cleared the mark"
    );
}
