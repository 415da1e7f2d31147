//! A message's put whose answer is lost (`aws/dynamodb/enqueue.rs`): the SDK's repeat
//! queued a message that had run, and a later batch committed, again. Held answers, IAM
//! refusals and puts that never land, on DynamoDB Local.

use std::sync::Arc;
use std::time::Duration;

use mqless::ActorId;
use mqless_tests::local_aws;

use super::{another_process, queued, runtime, Tally};

/// A sender (over `sending`, whose answers `held` loses) whose put landed but whose
/// answer is held, and an actor that runs the message and then `batches_after` more
/// batches before the answer arrives. Returns what the send returned, the actor's
/// count, and the last drain's report.
async fn send_while_it_runs(
    sending: mqless::aws::dynamodb::DynamoStore,
    held: &mqless::testing::LostAnswers,
    keyed: bool,
    batches_after: usize,
) -> (
    Result<mqless::MessageId, mqless::Error>,
    u64,
    mqless::mailbox::DrainReport,
) {
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

/// Asserts that `sent` failed with a store error of `kind` whose message says `saying`.
fn assert_store_error<T: std::fmt::Debug>(
    sent: &Result<T, mqless::Error>,
    kind: mqless::error::StoreErrorKind,
    saying: &str,
) {
    let Err(mqless::Error::Store(error)) = sent else {
        panic!("the send must fail: {sent:?}");
    };
    assert_eq!(error.kind, kind, "{error}");
    assert!(error.message.contains(saying), "{error}");
}

/// The put of a message lands, its answer is lost, and before the sender learns it the
/// message runs and a later batch commits. Nothing read can tell it from a put that
/// never landed, and the SDK's repeat queued it again, to run twice: now the send fails
/// with `OutcomeUnknown`, and the message has run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_enqueue_whose_answer_is_lost_after_the_message_ran_is_not_put_again() {
    mqless_tests::requires_local_aws!();
    let (sending, held) = local_aws::fresh_store_losing_answers("lost-enqueue-ran").await;
    let (sent, count, _) = send_while_it_runs(sending, &held, false, 1).await;
    assert_store_error(
        &sent,
        mqless::error::StoreErrorKind::OutcomeUnknown,
        "idempotency key",
    );
    assert_eq!(count, 2, "the message ran once, and the one after it");
}

/// The same with an idempotency key: putting it again is safe, as the actor consumes
/// the repeat without running it, so the send succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keyed_enqueue_whose_answer_is_lost_is_put_again_and_runs_once() {
    mqless_tests::requires_local_aws!();
    let (sending, held) = local_aws::fresh_store_losing_answers("lost-enqueue-keyed").await;
    let (sent, count, report) = send_while_it_runs(sending, &held, true, 1).await;
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
    let (sending, held) = local_aws::fresh_store_losing_answers("lost-enqueue-last").await;
    let (sent, count, report) = send_while_it_runs(sending, &held, false, 0).await;
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
    assert_store_error(
        &sent,
        mqless::error::StoreErrorKind::OutcomeUnknown,
        "Reading it back failed too",
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
    assert_store_error(&sent, mqless::error::StoreErrorKind::Unavailable, "");
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
    let (sent, count, _) = send_while_it_runs(sending, &refused.lost, false, 0).await;
    assert_store_error(
        &sent,
        mqless::error::StoreErrorKind::OutcomeUnknown,
        "not for this role to read",
    );
    assert_eq!(count, 1);
}
