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

/// A sender whose put landed but whose answer is held, and an actor that runs the
/// message and then `batches_after` more batches before the answer arrives. Returns
/// what the send returned, the actor's count, and the last drain's report.
async fn send_while_it_runs(
    test: &str,
    keyed: bool,
    batches_after: usize,
) -> (
    Result<mqless::MessageId, mqless::Error>,
    u64,
    mqless::mailbox::DrainReport,
) {
    let (sending, held) = local_aws::fresh_store_losing_answers(test).await;
    let draining = another_process(&sending).await;
    let senders = runtime(sending, false);
    let owners = runtime(draining, false);
    // The sender's store makes one write, the put: its answer is lost, and held.
    held.hold_lost_answers();
    held.lose_next(1);
    let send = tokio::spawn(async move {
        let tally = senders.client::<Tally>("t").unwrap();
        let request = tally.add(None);
        match keyed {
            true => request.idempotency_key("once").send().await,
            false => request.send().await,
        }
    });
    while queued(&owners, "t").await == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (host, id) = (owners.host::<Tally>().unwrap(), ActorId::new("t").unwrap());
    assert_eq!(host.drain(&id).await.unwrap().processed, 1);
    for _ in 0..batches_after {
        owners
            .client::<Tally>("t")
            .unwrap()
            .add(None)
            .send()
            .await
            .unwrap();
        assert_eq!(host.drain(&id).await.unwrap().processed, 1);
    }
    held.release_held();
    let sent = send.await.unwrap();
    assert_eq!(held.lost(), 1, "the put's answer was lost");
    let report = host.drain(&id).await.unwrap();
    assert_eq!(queued(&owners, "t").await, 0, "{report:?}");
    let count = owners.state::<Tally>("t").await.unwrap().unwrap().count;
    (sent, count, report)
}

/// The put of a message lands, its answer is lost, and before the sender learns it the
/// message runs and a later batch commits. Nothing read can tell it from a put that
/// never landed, and the SDK's repeat queued it again, to run twice: now the send fails
/// with `OutcomeUnknown`, and the message has run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_enqueue_whose_answer_is_lost_after_the_message_ran_is_not_put_again() {
    mqless_tests::requires_local_aws!();
    let (sent, count, _) = send_while_it_runs("lost-enqueue-ran", false, 1).await;
    let Err(mqless::Error::Store(error)) = &sent else {
        panic!("the send must fail: {sent:?}");
    };
    assert_eq!(
        error.kind,
        mqless::error::StoreErrorKind::OutcomeUnknown,
        "{error}"
    );
    assert!(error.message.contains("idempotency key"), "{error}");
    assert_eq!(count, 2, "the message ran once, and the one after it");
}

/// The same with an idempotency key: putting it again is safe, as the actor consumes
/// the repeat without running it, so the send succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keyed_enqueue_whose_answer_is_lost_is_put_again_and_runs_once() {
    mqless_tests::requires_local_aws!();
    let (sent, count, report) = send_while_it_runs("lost-enqueue-keyed", true, 1).await;
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(count, 2, "the message ran once, and the one after it");
    assert_eq!(
        report.duplicates, 1,
        "the repeat, consumed unrun: {report:?}"
    );
}

/// Found among the last batch's consumed ids, the message is known to have run: the
/// send succeeds, and it is not put again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_enqueue_whose_answer_is_lost_after_the_last_batch_ran_it_succeeds() {
    mqless_tests::requires_local_aws!();
    let (sent, count, report) = send_while_it_runs("lost-enqueue-last", false, 0).await;
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(count, 1);
    assert_eq!((report.processed, report.batches), (0, 0), "{report:?}");
}

/// Loses answers as `lost` says, and refuses every read as IAM refuses a role that may
/// put into a mailbox but not read it. (One request at a time: the read it refuses is
/// noted on the interceptor, not on the request.)
#[derive(Debug, Clone, Default)]
struct LostAnswersUnreadable {
    lost: mqless::testing::LostAnswers,
    reading: Arc<std::sync::atomic::AtomicBool>,
    /// Refuse the reads of actors' own partitions only, as v2's `ClientPolicy` refuses
    /// a read of a record's bookkeeping: mailboxes (`m/...`) stay readable.
    records_only: bool,
}

mod unreadable {
    use std::sync::atomic::Ordering::SeqCst;

    use mqless::aws::aws_sdk_dynamodb::config::interceptors::{
        BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    };
    use mqless::aws::aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
    use mqless::aws::aws_sdk_dynamodb::error::BoxError;

    const ACCESS_DENIED: &str = r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"injected: not authorized to perform dynamodb:GetItem or dynamodb:Query"}"#;

    impl Intercept for super::LostAnswersUnreadable {
        fn name(&self) -> &'static str {
            "LostAnswersUnreadable"
        }

        fn read_before_transmit(
            &self,
            context: &BeforeTransmitInterceptorContextRef<'_>,
            components: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let request = context.request();
            let read = request
                .headers()
                .get("x-amz-target")
                .is_some_and(|target| target.ends_with(".GetItem") || target.ends_with(".Query"));
            let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default());
            let mailbox = body.contains(r#"{"S":"m/"#);
            self.reading
                .store(read && !(self.records_only && mailbox), SeqCst);
            self.lost.read_before_transmit(context, components, cfg)
        }

        fn modify_before_deserialization(
            &self,
            context: &mut BeforeDeserializationInterceptorContextMut<'_>,
            components: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            if self.reading.swap(false, SeqCst) {
                let response = context.response_mut();
                *response.status_mut() = 400u16.try_into()?;
                *response.body_mut() = ACCESS_DENIED.into();
                return Ok(());
            }
            self.lost
                .modify_before_deserialization(context, components, cfg)
        }
    }
}

/// A role that may put into a mailbox but not read it: an unanswered put cannot be
/// read back. Without a key the send fails with `OutcomeUnknown`, saying the read was
/// refused; with one it is put again, finds itself queued, and runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_enqueue_that_cannot_be_read_back_is_put_again_only_with_a_key() {
    mqless_tests::requires_local_aws!();
    let refused = LostAnswersUnreadable::default();
    let sending = local_aws::fresh_store_intercepted("lost-unreadable", refused.clone()).await;
    let draining = another_process(&sending).await;
    let (senders, owners) = (runtime(sending, false), runtime(draining, false));
    let tally = senders.client::<Tally>("t").unwrap();

    refused.lost.lose_next(1);
    let sent = tally.add(None).send().await;
    let Err(mqless::Error::Store(error)) = &sent else {
        panic!("the send must fail: {sent:?}");
    };
    assert_eq!(
        error.kind,
        mqless::error::StoreErrorKind::OutcomeUnknown,
        "{error}"
    );
    assert!(
        error.message.contains("Reading it back failed too"),
        "{error}"
    );

    refused.lost.lose_next(1);
    tally.add(None).idempotency_key("k").send().await.unwrap();
    assert_eq!(refused.lost.lost(), 2);
    let host = owners.host::<Tally>().unwrap();
    let report = host.drain(&ActorId::new("t").unwrap()).await.unwrap();
    assert_eq!((report.processed, report.duplicates), (2, 0), "{report:?}");
    assert_eq!(owners.state::<Tally>("t").await.unwrap().unwrap().count, 2);
}

/// Every `PutItem` fails without landing, as one lost on its way would (it is sent to a
/// table that does not exist, and its answer made a 503): unanswered every time.
#[derive(Debug, Clone, Default)]
struct PutsNeverLand {
    puts: Arc<std::sync::atomic::AtomicU32>,
    /// The request under way is a put sent nowhere (one request at a time).
    sent_nowhere: Arc<std::sync::atomic::AtomicBool>,
}

mod never_land {
    use std::sync::atomic::Ordering::SeqCst;

    use mqless::aws::aws_sdk_dynamodb::config::interceptors::{
        BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    };
    use mqless::aws::aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
    use mqless::aws::aws_sdk_dynamodb::error::BoxError;

    const NOWHERE: &str = "no-such-table";

    impl Intercept for super::PutsNeverLand {
        fn name(&self) -> &'static str {
            "PutsNeverLand"
        }

        fn modify_before_transmit(
            &self,
            context: &mut BeforeTransmitInterceptorContextMut<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let request = context.request_mut();
            let put = request
                .headers()
                .get("x-amz-target")
                .is_some_and(|target| target.ends_with(".PutItem"));
            let Some(body) = request.body().bytes().filter(|_| put) else {
                return Ok(());
            };
            let mut body: serde_json::Value = serde_json::from_slice(body)?;
            body["TableName"] = NOWHERE.into();
            let bytes = serde_json::to_vec(&body)?;
            request
                .headers_mut()
                .insert("content-length", bytes.len().to_string());
            *request.body_mut() = bytes.into();
            self.puts.fetch_add(1, SeqCst);
            self.sent_nowhere.store(true, SeqCst);
            Ok(())
        }

        fn modify_before_deserialization(
            &self,
            context: &mut BeforeDeserializationInterceptorContextMut<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            if self.sent_nowhere.swap(false, SeqCst) {
                let response = context.response_mut();
                *response.status_mut() = 503u16.try_into()?;
                *response.body_mut() = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ServiceUnavailable","message":"injected: the put was lost on its way"}"#.into();
            }
            Ok(())
        }
    }
}

/// A keyed send whose put never lands and is never answered: it is put again as many
/// times as the client's retry settings allow (4 here), then fails with DynamoDB's
/// error, retryable; it does not go on for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_enqueue_that_never_lands_gives_up_after_the_clients_attempts() {
    mqless_tests::requires_local_aws!();
    let never = PutsNeverLand::default();
    let store = local_aws::fresh_store("lost-never").await;
    let sending = local_aws::store_intercepted(store.table(), never.clone()).await;
    let senders = runtime(sending, false);
    let sent = senders
        .client::<Tally>("t")
        .unwrap()
        .add(None)
        .idempotency_key("k")
        .send()
        .await;
    let Err(mqless::Error::Store(error)) = &sent else {
        panic!("the send must fail: {sent:?}");
    };
    assert_eq!(
        error.kind,
        mqless::error::StoreErrorKind::Unavailable,
        "{error}"
    );
    assert_eq!(never.puts.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert_eq!(queued(&runtime(store, false), "t").await, 0);
}

/// A v2 client, whose policy refuses reading an actor's bookkeeping: its unanswered
/// put of a message that ran in the last batch (a role that may read the record would
/// find it there) settles by the mailbox only, and fails with `OutcomeUnknown`, saying
/// why; the message ran once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_v2_clients_unanswered_enqueue_settles_by_its_mailbox_only() {
    mqless_tests::requires_local_aws!();
    let refused = LostAnswersUnreadable {
        records_only: true,
        ..LostAnswersUnreadable::default()
    };
    let sending = local_aws::fresh_store_intercepted("lost-v2-client", refused.clone())
        .await
        .with_key_layout(mqless::aws::KeyLayout::V2);
    let draining = another_process(&sending).await;
    let (senders, owners) = (runtime(sending, false), runtime(draining, false));
    refused.lost.hold_lost_answers();
    refused.lost.lose_next(1);
    let send =
        tokio::spawn(async move { senders.client::<Tally>("t").unwrap().add(None).send().await });
    while queued(&owners, "t").await == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let host = owners.host::<Tally>().unwrap();
    assert_eq!(
        host.drain(&ActorId::new("t").unwrap())
            .await
            .unwrap()
            .processed,
        1
    );
    refused.lost.release_held();
    let sent = send.await.unwrap();
    let Err(mqless::Error::Store(error)) = &sent else {
        panic!("the send must fail: {sent:?}");
    };
    assert_eq!(
        error.kind,
        mqless::error::StoreErrorKind::OutcomeUnknown,
        "{error}"
    );
    assert!(
        error.message.contains("not for this role to read"),
        "{error}"
    );
    assert_eq!(owners.state::<Tally>("t").await.unwrap().unwrap().count, 1);
}
