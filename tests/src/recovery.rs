//! The dead-letter API and the sweep, checked the same way on every store.

use std::sync::atomic::{AtomicBool, Ordering};

use mqless::id::{ActorType, Address};
use mqless::{Embedded, Error};
use serde::{Deserialize, Serialize};

static BROKEN: AtomicBool = AtomicBool::new(true);

/// Keeps the numbers it is given; `risky` panics while a bug is "deployed".
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Fickle {
    /// What was applied, in order.
    pub seen: Vec<u32>,
}

#[mqless::actor]
impl Fickle {
    /// Applies `n`.
    pub fn safe(&mut self, n: u32) {
        self.seen.push(n);
    }

    /// Applies `n`, or panics while the bug is in.
    pub fn risky(&mut self, n: u32) {
        assert!(!BROKEN.load(Ordering::SeqCst), "bug in risky({n})");
        self.seen.push(n);
    }
}

/// A message that kills its process (here: never returns, and its drain is killed,
/// as Lambda's timeout would) is dead-lettered after `max_attempts` stalled leases in
/// a row, without running again, and the messages behind it go on. Over `store`.
pub async fn poison_is_dead_lettered(store: std::sync::Arc<dyn mqless::store::Store>, id: &str) {
    use crate::scenario::{Log, LogMessage, LEASE};
    use mqless::mailbox::{DrainConfig, DrainEnd};
    use mqless::testing::{ManualClock, RecordingInvoker};
    use std::time::Duration;

    let clock = ManualClock::new(1_800_000_000_000);
    let runtime = Embedded::builder()
        .store(store)
        .clock(std::sync::Arc::new(clock.clone()))
        .config(DrainConfig {
            lease: LEASE,
            ..DrainConfig::default()
        })
        .manual_drains(std::sync::Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Log>().unwrap();
    let log = runtime.client::<Log>(id).unwrap();
    log.record(0, 1, None, None).send().await.unwrap();
    log.poison().send().await.unwrap();
    log.record(0, 2, None, None).send().await.unwrap();
    let host = std::sync::Arc::new(runtime.host::<Log>().unwrap());
    let actor = mqless::ActorId::new(id).unwrap();
    let mut killed = 0;
    let report = loop {
        // Kill the drain once it is stuck in the poison message, not merely slow. Read
        // the count before the drain starts, or it may start the poison first.
        let runs_before = crate::scenario::poison_runs(id);
        let mut drain = tokio::spawn({
            let (host, actor) = (host.clone(), actor.clone());
            async move { host.drain(&actor).await }
        });
        let finished = loop {
            match tokio::time::timeout(Duration::from_millis(50), &mut drain).await {
                Ok(report) => break Some(report.unwrap().unwrap()),
                Err(_) if crate::scenario::poison_runs(id) > runs_before => break None,
                Err(_) => {}
            }
        };
        match finished {
            Some(report) => break report,
            None => {
                drain.abort();
                killed += 1;
            }
        }
        assert!(killed <= 10, "the poison message kept killing its drains");
        // The killed drain's lease runs out; the next invocation takes over.
        clock.advance(LEASE + Duration::from_millis(1));
    };
    assert_eq!(report.end, DrainEnd::Empty);
    assert_eq!(report.dead_lettered, 1);
    // The first kill came in a batch of two, where the culprit is unknown; from the
    // next lease on, one message per commit pins it down: 1 + max_attempts runs.
    assert_eq!(killed, 1 + DrainConfig::default().max_attempts);
    let state = runtime.state::<Log>(id).await.unwrap().unwrap();
    assert_eq!(state.history, [(0, 1), (0, 2)], "the actor went on");
    let letters = runtime
        .dead_letters::<Log>(id)
        .unwrap()
        .list()
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert!(matches!(
        letters[0].message::<Log>().unwrap(),
        LogMessage::Poison {}
    ));
    assert!(
        letters[0].error.contains("3 invocations in a row stopped"),
        "{}",
        letters[0].error
    );
}

async fn seen(runtime: &Embedded, id: &str) -> Vec<u32> {
    runtime.settle().await;
    runtime
        .state::<Fickle>(id)
        .await
        .unwrap()
        .unwrap_or_default()
        .seen
}

fn numbers(letters: &[mqless::recovery::DeadLetter]) -> Vec<u32> {
    letters
        .iter()
        .map(|letter| match letter.message::<Fickle>().unwrap() {
            FickleMessage::Risky { n } | FickleMessage::Safe { n } => n,
        })
        .collect()
}

/// List, inspect, redrive (one and all), discard, and the sweep, on `runtime` (which
/// wakes its own drains). `id` names a fresh actor.
pub async fn dead_letters_and_sweep(runtime: &Embedded, id: &str) {
    runtime.register::<Fickle>().unwrap();
    let fickle = runtime.client::<Fickle>(id).unwrap();
    BROKEN.store(true, Ordering::SeqCst);
    for (n, risky) in [(1, false), (2, true), (3, false), (4, true), (5, true)] {
        let request = if risky {
            fickle.risky(n)
        } else {
            fickle.safe(n)
        };
        request
            .idempotency_key(format!("n{n}"))
            .send()
            .await
            .unwrap();
        runtime.settle().await;
    }
    assert_eq!(seen(runtime, id).await, [1, 3], "the actor went on");

    // List and inspect.
    let letters = runtime.dead_letters::<Fickle>(id).unwrap();
    let listed = letters.list().await.unwrap();
    assert_eq!(
        numbers(&listed),
        [2, 4, 5],
        "listed in the order first sent"
    );
    assert_eq!(listed[0].attempts, 3);
    assert!(
        listed[0].error.contains("bug in risky(2)"),
        "{}",
        listed[0].error
    );
    let envelope = listed[0].envelope().unwrap();
    assert_eq!(envelope.key.as_deref(), Some("n2"));
    let one = letters.get(listed[0].id).await.unwrap().unwrap();
    assert_eq!(one, listed[0]);

    // The fix is deployed. Redrive one: it runs after what was sent meanwhile.
    BROKEN.store(false, Ordering::SeqCst);
    fickle.safe(6).send().await.unwrap();
    let new_id = letters.redrive(listed[0].id).await.unwrap();
    assert!(
        new_id > listed[2].id,
        "a redriven message gets a new, later id"
    );
    assert_eq!(seen(runtime, id).await, [1, 3, 6, 2]);
    match letters.redrive(listed[0].id).await {
        Err(error @ Error::DeadLetterNotFound { .. }) => {
            assert!(error.to_string().contains("redriven or discarded already"));
        }
        other => panic!("a second redrive must be refused, got {other:?}"),
    }

    // Discard one; redrive the rest, which keep their order among themselves.
    letters.discard(listed[1].id).await.unwrap();
    assert!(matches!(
        letters.discard(listed[1].id).await,
        Err(Error::DeadLetterNotFound { .. })
    ));
    fickle.risky(7).send().await.unwrap();
    assert_eq!(letters.redrive_all().await.unwrap().len(), 1);
    assert_eq!(seen(runtime, id).await, [1, 3, 6, 2, 7, 5]);
    assert!(letters.list().await.unwrap().is_empty());
    the_sweep_and_the_audit_find_what_waits(runtime, id).await;
}

/// A message queued without a nudge (as if the nudge was lost where nobody saw it): the
/// sweep, which reads only the due index, cannot know of it; the audit finds it. One
/// whose wake-up failed where its sender saw it: the sender marks the actor, and the
/// sweep wakes it, once; its drain clears the mark.
async fn the_sweep_and_the_audit_find_what_waits(runtime: &Embedded, id: &str) {
    let address = Address::new(
        ActorType::new(<Fickle as mqless::Actor>::TYPE_NAME).unwrap(),
        mqless::ActorId::new(id).unwrap(),
    );
    let item = crate::mailbox_item(&FickleMessage::Safe { n: 8 }, false);
    runtime.store().enqueue(&address, &item).await.unwrap();
    assert_eq!(
        seen(runtime, id).await,
        [1, 3, 6, 2, 7, 5],
        "nobody woke it"
    );
    let report = runtime.sweep().await.unwrap();
    assert!(!report.pending.contains(&address), "{report:?}");
    let report = runtime.audit().await.unwrap();
    assert!(report.pending.contains(&address), "{report:?}");
    assert_eq!(seen(runtime, id).await, [1, 3, 6, 2, 7, 5, 8]);
    assert!(!runtime.audit().await.unwrap().pending.contains(&address));
    let item = crate::mailbox_item(&FickleMessage::Safe { n: 9 }, false);
    runtime.store().enqueue(&address, &item).await.unwrap();
    let now = mqless::clock::Clock::now_millis(&mqless::clock::SystemClock);
    runtime.store().arm(&address, now).await.unwrap();
    let report = runtime.sweep().await.unwrap();
    assert_eq!(report.pending, std::slice::from_ref(&address), "{report:?}");
    assert_eq!(seen(runtime, id).await, [1, 3, 6, 2, 7, 5, 8, 9]);
    let record = runtime.store().load_state(&address).await.unwrap().unwrap();
    assert_eq!(record.mark, None, "the drain's release clears the mark");
    assert!(runtime.sweep().await.unwrap().pending.is_empty());
}

/// A tell whose method returns `Err` is not lost without a trace: it is kept as a dead
/// letter of kind `Rejected` with the error's `Debug`, the state unchanged, the actor
/// going on; redriving it runs it again. Over `store`.
pub async fn a_rejected_tell_is_kept_as_a_dead_letter(
    store: std::sync::Arc<dyn mqless::store::Store>,
) {
    use mqless::recovery::DeadLetterKind;
    use mqless_examples::bank::Account;

    let runtime = Embedded::builder().store(store).build();
    runtime.register::<Account>().unwrap();
    let id = format!("rejected-{}", mqless::MessageId::generate(1, None));
    let account = runtime.client::<Account>(id.as_str()).unwrap();
    account.deposit(10).send().await.unwrap();
    let refused = account.withdraw(25).send().await.unwrap();
    account.deposit(20).send().await.unwrap();
    runtime.settle().await;
    let letters = crate::dead_letters::<Account>(&runtime, &id).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(
        (letter.id, letter.kind),
        (refused, DeadLetterKind::Rejected)
    );
    assert!(
        letter.error.contains("InsufficientFunds"),
        "{}",
        letter.error
    );
    assert_eq!(
        crate::state::<Account>(&runtime, &id)
            .await
            .statement()
            .balance,
        30
    );
    runtime
        .dead_letters::<Account>(id.as_str())
        .unwrap()
        .redrive(refused)
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(
        crate::state::<Account>(&runtime, &id)
            .await
            .statement()
            .balance,
        5
    );
    assert!(crate::dead_letters::<Account>(&runtime, &id)
        .await
        .is_empty());
}

/// Acquires whose answer is lost (the write applied, an error returned) are not stalls:
/// the owner gives the lease back with its token, so three in a row do not dead-letter
/// the healthy message at the head, and the next drain runs it at once. Over `inner`.
pub async fn lost_acquire_answers_are_not_stalls<S: mqless::store::Store>(inner: S) {
    use mqless::mailbox::{DrainConfig, DrainEnd};
    use mqless::testing::{FaultyStore, ManualClock, RecordingInvoker};

    let store = std::sync::Arc::new(FaultyStore::over(inner));
    let clock = std::sync::Arc::new(ManualClock::new(1_800_000_000_000));
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(clock.clone())
        .config(DrainConfig::default())
        .manual_drains(std::sync::Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Fickle>().unwrap();
    let id = format!("lost-acquire-{}", mqless::MessageId::generate(1, None));
    runtime
        .client::<Fickle>(id.as_str())
        .unwrap()
        .safe(1)
        .send()
        .await
        .unwrap();
    let host = runtime.host::<Fickle>().unwrap();
    let actor = mqless::ActorId::new(id.as_str()).unwrap();
    store.lose_acquire_answers(3);
    for _ in 0..3 {
        assert!(host.drain(&actor).await.is_err(), "the answer was lost");
        // Had the lease not been given back, it would expire now: a stall.
        clock.advance(std::time::Duration::from_secs(61));
    }
    let report = host.drain(&actor).await.unwrap();
    assert_eq!(
        (report.end, report.processed, report.dead_lettered),
        (DrainEnd::Empty, 1, 0),
        "{report:?}"
    );
    assert!(crate::dead_letters::<Fickle>(&runtime, &id)
        .await
        .is_empty());
}
