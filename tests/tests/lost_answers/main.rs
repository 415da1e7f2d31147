//! Faults below the SDK, on Amazon's DynamoDB Local: a write lands, its answer is lost
//! (replaced by a 500 in the SDK's interceptor chain, `mqless::testing::LostAnswers`),
//! and the SDK retries it. The retry then meets its own landed write: a conditional
//! acquire finds the lease taken (by itself), a conditional commit finds the version
//! moved (by itself). The store must recognize its own writes, or a healthy drain reads
//! as Busy or Fenced: its cleanup, replies and wake-ups skipped, its lease counted as a
//! stall.

use std::sync::Arc;
use std::time::Duration;

use mqless::mailbox::{DrainConfig, DrainEnd};
use mqless::testing::RecordingInvoker;
use mqless::{ActorId, Embedded};
use mqless_tests::local_aws;
use serde::{Deserialize, Serialize};

/// A message's put whose answer is lost: never repeated blindly.
mod enqueue;

/// Counts, and relays to a peer on request (a commit with outgoing messages is a
/// transaction).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    count: u64,
}

#[mqless::actor]
impl Tally {
    /// One more; `relay_to`: also tell that tally.
    pub async fn add(
        &mut self,
        relay_to: Option<String>,
        ctx: &mut mqless::Context,
    ) -> Result<u64, mqless::RuntimeError> {
        self.count += 1;
        if let Some(to) = relay_to {
            ctx.actor::<Tally>(to)?.add(None).send().await?;
        }
        Ok(self.count)
    }

    /// The count.
    pub fn count(&self) -> u64 {
        self.count
    }
}

fn runtime(store: mqless::aws::dynamodb::DynamoStore, optimistic: bool) -> Embedded {
    let runtime = Embedded::builder()
        .store(Arc::new(store))
        .config(DrainConfig {
            optimistic,
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Tally>().unwrap();
    runtime
}

/// A store over `store`'s table, in its layout, with a client of its own (another
/// process's, without `store`'s faults).
async fn another_process(
    store: &mqless::aws::dynamodb::DynamoStore,
) -> mqless::aws::dynamodb::DynamoStore {
    let config = mqless::aws::load_config().await;
    mqless::aws::dynamodb::DynamoStore::new(
        mqless::aws::aws_sdk_dynamodb::Client::new(&config),
        store.table(),
    )
    .with_key_layout(store.key_layout())
}

async fn queued(runtime: &Embedded, id: &str) -> usize {
    let address = mqless::id::Address::parse(&format!("Tally/{id}")).unwrap();
    runtime
        .operator()
        .mailbox(&address, 10)
        .await
        .unwrap()
        .len()
}

/// The acquire's answer is lost: its retry must take the lease it already holds, not
/// report Busy (which left the lease held until it expired, counted as a stall).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_acquire_recognizes_its_own_lease() {
    mqless_tests::requires_local_aws!();
    let (store, lost) = local_aws::fresh_store_losing_answers("lost-acquire").await;
    let runtime = runtime(store, false);
    let tally = runtime.client::<Tally>("t").unwrap();
    tally.add(None).send().await.unwrap();
    lost.lose_next(1);
    let host = runtime.host::<Tally>().unwrap();
    let report = host.drain(&ActorId::new("t").unwrap()).await.unwrap();
    assert_eq!(lost.lost(), 1, "the acquire's answer was lost");
    assert_eq!(
        (report.end, report.processed),
        (DrainEnd::Empty, 1),
        "{report:?}"
    );
    assert_eq!(queued(&runtime, "t").await, 0);
}

/// The commit's answer is lost (a single conditional put: an optimistic drain's first
/// write): its retry must count as committed, not Fenced, so the cleanup runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_commit_recognizes_its_own_write() {
    mqless_tests::requires_local_aws!();
    let (store, lost) = local_aws::fresh_store_losing_answers("lost-commit").await;
    let runtime = runtime(store, true);
    let tally = runtime.client::<Tally>("t").unwrap();
    let host = runtime.host::<Tally>().unwrap();
    let id = ActorId::new("t").unwrap();
    // An actor's first drain takes the lease (there is no record to commit on yet).
    tally.add(None).send().await.unwrap();
    host.drain(&id).await.unwrap();
    tally.add(None).send().await.unwrap();
    lost.lose_next(1);
    let report = host.drain(&id).await.unwrap();
    assert_eq!(lost.lost(), 1, "the commit's answer was lost");
    assert_eq!(
        (report.end, report.processed, report.optimistic),
        (DrainEnd::Empty, 1, true),
        "{report:?}"
    );
    assert_eq!(queued(&runtime, "t").await, 0, "cleaned up");
    assert_eq!(runtime.state::<Tally>("t").await.unwrap().unwrap().count, 2);
}

/// The same for a commit with an outgoing message, which is a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_transaction_recognizes_its_own_write() {
    mqless_tests::requires_local_aws!();
    let (store, lost) = local_aws::fresh_store_losing_answers("lost-transaction").await;
    let runtime = runtime(store, true);
    let tally = runtime.client::<Tally>("t").unwrap();
    tally.add(Some("peer".into())).send().await.unwrap();
    lost.lose_next(1);
    let host = runtime.host::<Tally>().unwrap();
    let report = host.drain(&ActorId::new("t").unwrap()).await.unwrap();
    assert_eq!(lost.lost(), 1, "the transaction's answer was lost");
    assert_eq!(
        (report.end, report.processed),
        (DrainEnd::Empty, 1),
        "{report:?}"
    );
    assert_eq!(queued(&runtime, "t").await, 0, "cleaned up");
    assert_eq!(queued(&runtime, "peer").await, 1, "the relay, once");
}

/// The lift of a quarantine loses its answer: its retry finds the quarantine gone and
/// must report the lift done, not `NotQuarantined` (the seeded scenario below found it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_lift_recognizes_its_own_write() {
    mqless_tests::requires_local_aws!();
    use mqless::store::{QuarantineRecord, Store};
    let (store, lost) = local_aws::fresh_store_losing_answers("lost-lift").await;
    let runtime = runtime(store.clone(), false);
    let tally = runtime.client::<Tally>("t").unwrap();
    tally.add(None).send().await.unwrap();
    let host = runtime.host::<Tally>().unwrap();
    host.drain(&ActorId::new("t").unwrap()).await.unwrap();
    let address = mqless::id::Address::parse("Tally/t").unwrap();
    let epoch = store.load_state(&address).await.unwrap().unwrap().epoch;
    let record = QuarantineRecord {
        reason: "injected".into(),
        since: 1,
    };
    assert!(store.quarantine(&address, epoch, &record).await.unwrap());
    let quarantine = runtime.quarantine::<Tally>("t").unwrap();
    lost.lose_next(1);
    quarantine
        .replace_state(&Tally { count: 41 })
        .await
        .expect("the lift landed; its retry must say so");
    assert_eq!(lost.lost(), 1, "the lift's answer was lost");
    assert!(runtime.quarantined::<Tally>().await.unwrap().is_empty());
    assert_eq!(
        runtime.state::<Tally>("t").await.unwrap().unwrap().count,
        41
    );
    // A second lift of the same quarantine is not the first one's retry.
    assert!(matches!(
        quarantine.retry().await,
        Err(mqless::Error::NotQuarantined { .. })
    ));
}

/// A drain's cleanup is cut right after it moved a failed message to the dead letters
/// (that write landed; its answers were lost until the SDK gave up). The letter was
/// discarded, and the next drain repeats the cleanup: the letter must stay discarded.
/// When the letter and the message's delete were two writes, the cut left the message
/// in the mailbox, the repeat put the letter back, and a second redrive of it ran the
/// message twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discarded_dead_letter_stays_discarded_when_a_cut_cleanup_is_repeated() {
    mqless_tests::requires_local_aws!();
    use mqless::store::{MailboxItem, Store};
    let (store, lost) = local_aws::fresh_store_losing_answers("lost-letter").await;
    let runtime = runtime(store.clone(), false);
    let address = mqless::id::Address::parse("Tally/t").unwrap();
    let malformed = MailboxItem {
        id: mqless::MessageId::generate(1, None),
        envelope: vec![0xc1, 0x00],
    };
    store.enqueue(&address, &malformed).await.unwrap();
    let host = runtime.host::<Tally>().unwrap();
    let id = ActorId::new("t").unwrap();
    // The acquire and the commit land; the cleanup's first write loses every answer.
    lost.lose_after(2, 4);
    let cut = host.drain(&id).await;
    lost.stop();
    assert!(cut.is_err(), "the cleanup was cut: {cut:?}");
    let letters = runtime.dead_letters::<Tally>("t").unwrap();
    let listed = letters.list().await.unwrap();
    assert_eq!(listed.len(), 1, "the malformed message, dead-lettered");
    letters.discard(listed[0].id).await.unwrap();
    let report = host.drain(&id).await.unwrap();
    assert_eq!(report.end, DrainEnd::Empty, "{report:?}");
    assert_eq!(queued(&runtime, "t").await, 0, "cleaned up");
    assert!(
        letters.list().await.unwrap().is_empty(),
        "the repeated cleanup put the discarded letter back"
    );
}

/// The seeded fault scenario on DynamoDB Local with 5 % of write answers lost below the
/// SDK, besides the scenario's own faults above the store: every invariant holds. One
/// loss in four starts an outage longer than the SDK's retries, so a write that landed
/// fails, and an operation of several requests stops after any of them. And a client
/// process of its own sends messages without an idempotency key while the drains run,
/// half of its answers lost and held for a round and more, so that the answer often
/// comes after the message ran and a later batch committed: acknowledged, such a
/// message runs once; failed, at most once (a blind repeat of the put ran it twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_with_answers_lost_below_the_sdk() {
    mqless_tests::requires_local_aws!();
    use mqless_tests::scenario::{self, Params, RacingSends, Stats};
    let (store, lost) = local_aws::fresh_store_losing_answers("lost-scenario").await;
    let racing_lost = mqless::testing::LostAnswers::new();
    let racing = RacingSends {
        store: Arc::new(local_aws::store_intercepted(store.table(), racing_lost.clone()).await),
        answers: racing_lost.clone(),
    };
    let seeds: u64 = std::env::var("MQLESS_DYNAMODB_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let mut total = Stats::default();
    for seed in 1..=seeds {
        lost.random_with_outages(seed, 50, 8);
        racing.answers.random(seed, 500);
        let params = Params {
            actors: 2,
            senders: 3,
            messages: 6,
            hang_timeout: Duration::from_millis(500),
            prefix: format!("lost{seed}-"),
            optimistic: seed % 2 == 0,
            client_skew_millis: 300_000,
            legacy: None,
            racing_sends: Some(racing.clone()),
        };
        let stop = || {
            lost.stop();
            racing.answers.stop();
        };
        total.add(&scenario::run_seed_with_faults_below(store.clone(), seed, &params, stop).await);
    }
    println!(
        "DynamoDB Local, answers lost below the SDK: {} lost, {} of the racing sender's; {}",
        lost.lost(),
        racing.answers.lost(),
        total.summary()
    );
    assert!(lost.lost() > 0, "the faults must have hit");
    assert!(
        total.unacknowledged > 0,
        "some racing sends must have failed"
    );
    assert_eq!(total.applied_once, total.acknowledged);
}
