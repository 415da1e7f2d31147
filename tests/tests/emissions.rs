//! `Context::emit`: what a handler emits to a channel outside MQLess is committed with
//! its state change and delivered after the commit, in order, under a stable id; never
//! when the handler fails; again (same id) when a crash cut the delivery short; later
//! emissions wait while a channel is unavailable; a channel that refuses for good turns
//! the emission into a dead letter, and its redrive emits it again under its id. On the
//! embedded runtime, and on DynamoDB Local.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mqless::events::{Emission, EmitError, Emitted, Emitter, Payload, RecordingEmitter};
use mqless::id::Address;
use mqless::recovery::DeadLetterKind;
use mqless::store::{BoxFuture, Store};
use mqless::testing::{FaultyStore, RecordingInvoker};
use mqless::{ActorId, Embedded, Error};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Order {
    confirmed: u32,
}

#[mqless::actor]
impl Order {
    /// Confirms the order: one event to `shipping`, one to `audit`.
    pub fn confirm(&mut self, ctx: &mut mqless::Context) -> Result<u32, String> {
        self.confirmed += 1;
        let n = self.confirmed;
        let shipped = Payload::json(&serde_json::json!({"order": ctx.id().as_str(), "n": n}))
            .map_err(|e| e.to_string())?;
        ctx.emit("shipping", shipped).map_err(|e| e.to_string())?;
        ctx.emit("audit", Payload::plaintext(format!("confirmed {n}")))
            .map_err(|e| e.to_string())?;
        Ok(n)
    }

    /// Emits, then fails: nothing is emitted.
    pub fn confirm_then_fail(&mut self, ctx: &mut mqless::Context) -> Result<(), String> {
        self.confirmed += 100;
        ctx.emit("shipping", Payload::plaintext("never"))
            .map_err(|e| e.to_string())?;
        Err("out of stock".into())
    }

    /// What `ctx.emit` answers for `channel` and a payload of `bytes` bytes.
    pub fn try_emit(&mut self, ctx: &mut mqless::Context, channel: String, bytes: usize) -> String {
        match ctx.emit(&channel, Payload::binary(vec![7; bytes])) {
            Ok(_) => "emitted".into(),
            Err(error) => error.to_string(),
        }
    }

    pub fn peek(&self, ctx: &mut mqless::Context) -> String {
        match ctx.emit("shipping", Payload::plaintext("from a query")) {
            Ok(_) => "emitted".into(),
            Err(error) => error.to_string(),
        }
    }
}

/// Expires after an hour idle, and tells `audit` of each visit.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Visitor {
    visits: u32,
}

#[mqless::actor(idle_ttl = "1h")]
impl Visitor {
    /// One more visit, told to `audit`; how many so far.
    pub fn visit(&mut self, ctx: &mut mqless::Context) -> Result<u32, String> {
        self.visits += 1;
        ctx.emit(
            "audit",
            Payload::plaintext(format!("visit {}", self.visits)),
        )
        .map_err(|e| e.to_string())?;
        Ok(self.visits)
    }
}

/// An emitter whose channels can be made unavailable, or refuse, for a while: the
/// faults a real channel has (throttling; a missing queue or permission) around a
/// [`RecordingEmitter`].
#[derive(Default)]
struct FlakyChannels {
    delivered: RecordingEmitter,
    unavailable: AtomicBool,
    refusing: std::sync::Mutex<BTreeSet<String>>,
}

impl Emitter for FlakyChannels {
    fn emit<'a>(
        &'a self,
        from: &'a Address,
        emission: &'a Emission,
    ) -> BoxFuture<'a, Result<(), EmitError>> {
        if self.unavailable.load(Ordering::SeqCst) {
            let error = EmitError::Unavailable {
                channel: emission.channel.clone(),
                reason: "throttled".into(),
            };
            return Box::pin(async move { Err(error) });
        }
        if self.refusing.lock().unwrap().contains(&emission.channel) {
            let error = EmitError::Refused {
                channel: emission.channel.clone(),
                reason: "no such queue".into(),
            };
            return Box::pin(async move { Err(error) });
        }
        self.delivered.emit(from, emission)
    }
}

fn channels_and_ids(emitted: &[Emitted]) -> Vec<(String, String)> {
    emitted
        .iter()
        .map(|e| (e.emission.channel.clone(), e.emission.id.to_string()))
        .collect()
}

async fn emitted_after_commit_in_order_never_on_failure(store: Arc<dyn Store>) {
    let runtime = Embedded::builder().store(store).build();
    runtime.register::<Order>().unwrap();
    let order = runtime.client::<Order>("o-1").unwrap();
    assert_eq!(order.confirm().call().await.unwrap(), 1);
    assert!(order.confirm_then_fail().call().await.is_err());
    assert_eq!(order.confirm().call().await.unwrap(), 2);
    runtime.settle().await;

    let emitted = runtime.emitted();
    let channels: Vec<&str> = emitted
        .iter()
        .map(|e| e.emission.channel.as_str())
        .collect();
    assert_eq!(
        channels,
        ["shipping", "audit", "shipping", "audit"],
        "nothing of the failed handler"
    );
    let ids: Vec<_> = emitted.iter().map(|e| e.emission.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids grow in emit order: {ids:?}"
    );
    assert!(emitted.iter().all(|e| e.from.to_string() == "Order/o-1"));
    assert_eq!(
        emitted[2].emission.payload,
        Payload::json(&serde_json::json!({"order": "o-1", "n": 2})).unwrap()
    );
    assert_eq!(
        emitted[3].emission.payload,
        Payload::plaintext("confirmed 2")
    );
}

#[tokio::test]
async fn emissions_are_delivered_after_the_commit_in_order_and_never_when_the_handler_fails() {
    emitted_after_commit_in_order_never_on_failure(Arc::new(mqless::store::MemoryStore::new()))
        .await;
}

#[tokio::test]
async fn emissions_are_delivered_after_the_commit_in_order_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = mqless_tests::local_aws::fresh_store("emissions").await;
    emitted_after_commit_in_order_never_on_failure(Arc::new(store)).await;
}

#[tokio::test]
async fn a_cleanup_cut_after_delivery_delivers_again_under_the_same_ids() {
    let store = Arc::new(FaultyStore::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Order>().unwrap();
    let host = runtime.host::<Order>().unwrap();
    let id = ActorId::new("o-2").unwrap();
    runtime
        .client::<Order>("o-2")
        .unwrap()
        .confirm()
        .send()
        .await
        .unwrap();

    // The emissions are delivered, then the cleanup's writes fail (a crash there).
    store.fail_cleanups(1);
    assert!(host.drain(&id).await.is_err());
    let first = channels_and_ids(&runtime.emitted());
    assert_eq!(first.len(), 2);
    // The next drain finds the consumed message still queued, and repeats the cleanup.
    host.drain(&id).await.unwrap();
    let all = channels_and_ids(&runtime.emitted());
    assert_eq!(all[2..], first[..], "delivered again, under the same ids");
    // Done now: a third drain delivers nothing more.
    host.drain(&id).await.unwrap();
    assert_eq!(runtime.emitted().len(), 4);
}

#[tokio::test]
async fn later_emissions_wait_while_a_channel_is_unavailable() {
    let channels = Arc::new(FlakyChannels::default());
    let runtime = Embedded::builder()
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .emitter(channels.clone())
        .build();
    runtime.register::<Order>().unwrap();
    let host = runtime.host::<Order>().unwrap();
    let id = ActorId::new("o-3").unwrap();
    let order = runtime.client::<Order>("o-3").unwrap();
    order.confirm().send().await.unwrap();

    channels.unavailable.store(true, Ordering::SeqCst);
    let error = host.drain(&id).await.unwrap_err();
    assert!(
        matches!(error, Error::Emit(EmitError::Unavailable { .. })),
        "{error}"
    );
    // The next message waits behind the undelivered emissions, however many drains try.
    order.confirm().send().await.unwrap();
    assert!(host.drain(&id).await.is_err());
    assert!(channels.delivered.emitted().is_empty());

    channels.unavailable.store(false, Ordering::SeqCst);
    host.drain(&id).await.unwrap();
    let payloads: Vec<Payload> = channels
        .delivered
        .emitted()
        .into_iter()
        .filter(|e| e.emission.channel == "audit")
        .map(|e| e.emission.payload)
        .collect();
    assert_eq!(
        payloads,
        [
            Payload::plaintext("confirmed 1"),
            Payload::plaintext("confirmed 2")
        ],
        "in order, each once"
    );
}

/// A channel unavailable for longer than the actor's idle time to live: the record the
/// waiting cleanup is repeated from must outlive the wait (TTL deleting it made the
/// message run again, on a fresh state, emitting under a new id), and expires again,
/// an idle time to live after the cleanup is done.
async fn outlives_a_long_wait<S: Store>(
    store: S,
    delete_expired: mqless_tests::conformance::DeleteExpired,
) {
    use mqless::clock::Clock as _;
    use mqless::testing::PausePoint;
    let store = Arc::new(FaultyStore::over(store));
    let channels = Arc::new(FlakyChannels::default());
    let clock = Arc::new(mqless::testing::ManualClock::new(1_800_000_000_000));
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(clock.clone())
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .emitter(channels.clone())
        .build();
    runtime.register::<Visitor>().unwrap();
    let host = runtime.host::<Visitor>().unwrap();
    let id = ActorId::new("v-1").unwrap();
    let address = Address::parse("Visitor/v-1").unwrap();
    let visitor = runtime.client::<Visitor>("v-1").unwrap();
    visitor.visit().send().await.unwrap();
    host.drain(&id).await.unwrap();

    channels.unavailable.store(true, Ordering::SeqCst);
    visitor.visit().send().await.unwrap();
    assert!(host.drain(&id).await.is_err(), "the channel is unavailable");
    // Two hours of outage, the sweep trying again, TTL deleting what expired.
    for _ in 0..4 {
        clock.advance(std::time::Duration::from_secs(30 * 60));
        assert!(host.drain(&id).await.is_err());
        delete_expired(clock.now_millis()).await;
    }
    assert!(
        store.load_state(&address).await.unwrap().is_some(),
        "the record waits with its cleanup"
    );

    // The channel is back: a drain repeats the cleanup, then crashes before it commits
    // anything. The cleanup that finished wrote the expiry again.
    channels.unavailable.store(false, Ordering::SeqCst);
    let mut pause = store.pause(address.clone(), PausePoint::BeforeCommit, 0);
    let runtime = Arc::new(runtime);
    let crashing = tokio::spawn({
        let runtime = Arc::clone(&runtime);
        async move {
            let host = runtime.host::<Visitor>().unwrap();
            host.drain(&ActorId::new("v-1").unwrap()).await
        }
    });
    pause.reached().await;
    crashing.abort();
    store.disarm_pause();
    let record = store.load_state(&address).await.unwrap().unwrap();
    assert_eq!(
        record.expires_at,
        Some(clock.now_millis() + 3_600_000),
        "idle again from the cleanup on"
    );
    clock.advance(std::time::Duration::from_secs(16 * 60)); // past the crashed lease
    host.drain(&id).await.unwrap();
    let audit: Vec<(Payload, String)> = channels
        .delivered
        .emitted()
        .into_iter()
        .map(|e| (e.emission.payload, e.emission.id.to_string()))
        .collect();
    assert_eq!(
        audit.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        [Payload::plaintext("visit 1"), Payload::plaintext("visit 2")],
        "the second visit ran once, on the first's state"
    );
}

#[tokio::test]
async fn a_record_outlives_a_wait_for_a_channel_longer_than_its_idle_time_to_live() {
    let store = mqless::store::MemoryStore::new();
    let delete_expired = mqless_tests::conformance::memory_delete_expired(&store);
    outlives_a_long_wait(store, delete_expired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_outlives_a_wait_for_a_channel_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = mqless_tests::local_aws::fresh_store("emit-wait").await;
    let table = store.clone();
    let delete_expired: mqless_tests::conformance::DeleteExpired = Arc::new(move |now| {
        let table = table.clone();
        Box::pin(async move {
            mqless_tests::local_aws::delete_expired(&table, now).await;
        })
    });
    outlives_a_long_wait(store, delete_expired).await;
}

/// A channel that never comes back (a mistyped endpoint) does not hold the actor for
/// ever: past `DrainConfig::max_emission_wait` the waiting emission is a dead letter,
/// the actor's later messages and emissions go on, and a redrive, once the channel
/// works, emits it under its id.
#[tokio::test]
async fn an_emission_that_waits_too_long_is_a_dead_letter_and_the_actor_goes_on() {
    use mqless::mailbox::DrainConfig;
    let channels = Arc::new(FlakyChannels::default());
    let clock = Arc::new(mqless::testing::ManualClock::new(1_800_000_000_000));
    let runtime = Embedded::builder()
        .clock(clock.clone())
        .config(DrainConfig {
            max_emission_wait: std::time::Duration::from_secs(3600),
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .emitter(channels.clone())
        .build();
    runtime.register::<Visitor>().unwrap();
    let host = runtime.host::<Visitor>().unwrap();
    let id = ActorId::new("v-2").unwrap();
    let visitor = runtime.client::<Visitor>("v-2").unwrap();
    channels.unavailable.store(true, Ordering::SeqCst);
    visitor.visit().send().await.unwrap();
    assert!(host.drain(&id).await.is_err(), "waits for the channel");
    clock.advance(std::time::Duration::from_secs(3599));
    assert!(host.drain(&id).await.is_err(), "still within the wait");
    clock.advance(std::time::Duration::from_secs(2));
    host.drain(&id).await.unwrap();
    let letters = runtime.dead_letters::<Visitor>("v-2").unwrap();
    let listed = letters.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind, DeadLetterKind::Undeliverable);
    assert!(
        listed[0]
            .error
            .contains("channel `audit` could not take it for 3601 s")
            && listed[0].error.contains("max_emission_wait"),
        "{}",
        listed[0].error
    );

    // The actor goes on: its next message runs, and its emission goes out.
    channels.unavailable.store(false, Ordering::SeqCst);
    visitor.visit().send().await.unwrap();
    host.drain(&id).await.unwrap();
    letters.redrive(listed[0].id).await.unwrap();
    host.drain(&id).await.unwrap();
    let delivered: Vec<(Payload, mqless::MessageId)> = channels
        .delivered
        .emitted()
        .into_iter()
        .map(|e| (e.emission.payload, e.emission.id))
        .collect();
    assert_eq!(
        delivered,
        [
            (Payload::plaintext("visit 2"), delivered[0].1),
            (Payload::plaintext("visit 1"), listed[0].id),
        ],
        "the later visit's emission first, then the redriven one under its id"
    );
}

async fn refused_then_redriven(store: Arc<dyn Store>) {
    let channels = Arc::new(FlakyChannels::default());
    channels.refusing.lock().unwrap().insert("shipping".into());
    let runtime = Embedded::builder()
        .store(store)
        .emitter(channels.clone())
        .build();
    runtime.register::<Order>().unwrap();
    let order = runtime.client::<Order>("o-4").unwrap();
    order.confirm().call().await.unwrap();
    runtime.settle().await;

    // The refused emission is a dead letter naming the channel; the actor's other
    // emissions went on.
    let delivered = channels_and_ids(&channels.delivered.emitted());
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0, "audit");
    let dead_letters = runtime.dead_letters::<Order>("o-4").unwrap();
    let letters = dead_letters.list().await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.kind, DeadLetterKind::Undeliverable);
    assert!(
        letter.error.contains("channel `shipping`") && letter.error.contains("no such queue"),
        "{}",
        letter.error
    );

    // Fixed (the queue exists now): the redrive emits it, under the id it had.
    channels.refusing.lock().unwrap().clear();
    dead_letters.redrive(letter.id).await.unwrap();
    runtime.settle().await;
    let emitted = channels.delivered.emitted();
    let redriven = emitted.last().unwrap();
    assert_eq!(
        (redriven.emission.channel.as_str(), redriven.emission.id),
        ("shipping", letter.id)
    );
    assert!(dead_letters.list().await.unwrap().is_empty());
    assert_eq!(
        runtime
            .state::<Order>("o-4")
            .await
            .unwrap()
            .unwrap()
            .confirmed,
        1,
        "a redriven emission runs no method"
    );
}

#[tokio::test]
async fn a_refused_emission_is_a_dead_letter_whose_redrive_emits_it_under_its_id() {
    refused_then_redriven(Arc::new(mqless::store::MemoryStore::new())).await;
}

#[tokio::test]
async fn a_refused_emission_is_a_dead_letter_whose_redrive_emits_it_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = mqless_tests::local_aws::fresh_store("emissions-refused").await;
    refused_then_redriven(Arc::new(store)).await;
}

#[tokio::test]
async fn emit_refuses_bad_channels_too_much_and_queries() {
    let runtime = Embedded::new();
    runtime.register::<Order>().unwrap();
    let order = runtime.client::<Order>("o-5").unwrap();
    let answer = order
        .try_emit("arn:aws:sqs:x".into(), 1)
        .call()
        .await
        .unwrap();
    assert!(answer.contains("invalid channel name"), "{answer}");
    let answer = order
        .try_emit("shipping".into(), 20_000)
        .call()
        .await
        .unwrap();
    assert!(
        answer.contains("max_emission_bytes_per_message"),
        "{answer}"
    );
    assert_eq!(
        order.try_emit("shipping".into(), 10).call().await.unwrap(),
        "emitted"
    );
    // A channel the block does not name (no `ctx.emit("elsewhere", ..)`, no
    // `emits_to("elsewhere")`): the deploy template would not grant it.
    let answer = order.try_emit("elsewhere".into(), 1).call().await.unwrap();
    assert!(answer.contains(r#"emits_to("elsewhere")"#), "{answer}");
    let answer = order.peek().query().await.unwrap();
    assert!(answer.contains("query"), "{answer}");
    runtime.settle().await;
    assert_eq!(runtime.emitted().len(), 1, "only the one that was accepted");
}

#[tokio::test]
async fn a_host_without_an_emitter_dead_letters_what_is_emitted_saying_how_to_give_it_one() {
    let store: Arc<dyn Store> = Arc::new(mqless::store::MemoryStore::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Order>().unwrap();
    runtime
        .client::<Order>("o-6")
        .unwrap()
        .confirm()
        .send()
        .await
        .unwrap();
    // A host made by hand, as a Lambda function's is, without `with_emitter`.
    let host = mqless::mailbox::ActorHost::<Order>::new(
        store,
        Arc::new(RecordingInvoker::new()),
        Arc::new(mqless::clock::SystemClock),
        mqless::mailbox::DrainConfig::default(),
    )
    .unwrap();
    host.drain(&ActorId::new("o-6").unwrap()).await.unwrap();
    let letters = runtime
        .dead_letters::<Order>("o-6")
        .unwrap()
        .list()
        .await
        .unwrap();
    assert_eq!(letters.len(), 2);
    assert!(letters
        .iter()
        .all(|l| l.kind == DeadLetterKind::Undeliverable && l.error.contains("with_emitter")));
}
