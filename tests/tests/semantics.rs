//! What a user relies on, one behaviour per test: rollback on `Err` and panic, bounded
//! retries then dead letters, bad input, limits, idempotency keys, asks' typed errors,
//! and actor-to-actor sends committed with the state.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mqless::error::CodecError;
use mqless::id::{ActorType, Address};
use mqless::mailbox::DrainConfig;
use mqless::store::MailboxItem;
use mqless::testing::RecordingInvoker;
use mqless::wire::Envelope;
use mqless::{ActorId, AskError, Context, Embedded, Error, Limits, MessageId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Vault {
    items: Vec<String>,
    blob: Vec<u8>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum VaultError {
    Full,
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "vault full")
    }
}

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

#[mqless::actor(name = "vault-v1")]
impl Vault {
    /// Stores an item; refuses a fourth, after changing the state (which must roll back).
    pub fn put(&mut self, item: String) -> Result<usize, VaultError> {
        self.items.push(item);
        if self.items.len() > 3 {
            return Err(VaultError::Full);
        }
        Ok(self.items.len())
    }

    /// Changes the state, then panics.
    pub fn explode(&mut self) {
        self.items.push("half-done".into());
        panic!("boom");
    }

    /// Panics on its first call only.
    pub fn flaky(&mut self, item: String) -> usize {
        self.items.push(item);
        if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("transient");
        }
        self.items.len()
    }

    pub fn grow(&mut self, bytes: u64) {
        self.blob = vec![7; bytes as usize];
    }

    #[handler(name = "list")]
    pub async fn items(&self) -> Vec<String> {
        self.items.clone()
    }

    pub async fn ask_myself(&self, ctx: &mut Context) -> String {
        let me = ctx.actor::<Vault>(ctx.id().as_str()).unwrap();
        match me.items().call().await {
            Err(error) => error.to_string(),
            Ok(_) => "unexpected".into(),
        }
    }

    pub fn whoami(&self, ctx: &Context) -> (String, String) {
        (ctx.address().actor_type().to_string(), ctx.id().to_string())
    }
}

fn runtime() -> Embedded {
    let runtime = Embedded::builder()
        .config(DrainConfig {
            limits: Limits {
                max_message_bytes: 4 * 1024,
                max_state_bytes: 8 * 1024,
                max_depth: 16,
            },
            ..DrainConfig::default()
        })
        .build();
    runtime.register::<Vault>().unwrap();
    runtime
}

/// A runtime that drains only when the test drives a host.
fn manual_drains(config: DrainConfig) -> Embedded {
    Embedded::builder()
        .config(config)
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build()
}

fn vault_address(id: &str) -> Address {
    Address::new(
        ActorType::new("vault-v1").unwrap(),
        ActorId::new(id).unwrap(),
    )
}

#[tokio::test]
async fn err_rolls_back_and_reaches_the_caller() {
    let runtime = runtime();
    let vault = runtime.client::<Vault>("v").unwrap();
    for i in 1..=3 {
        assert_eq!(vault.put(format!("item{i}")).call().await.unwrap(), i);
    }
    let refused = vault.put("item4".into()).call().await.unwrap_err();
    assert!(matches!(refused, AskError::Handler(VaultError::Full)));
    assert_eq!(
        refused.to_string(),
        "the handler returned an error: vault full"
    );
    assert_eq!(
        vault.items().call().await.unwrap(),
        ["item1", "item2", "item3"],
        "the push before `Err` was undone"
    );
}

/// Within one batch, the message after an `Err` sees the state as before it: the commit
/// writes the state as of the last message, so a missed rollback would be committed.
#[tokio::test]
async fn err_rolls_back_within_a_batch() {
    let runtime = manual_drains(DrainConfig::default());
    runtime.register::<Vault>().unwrap();
    let vault = runtime.client::<Vault>("batched").unwrap();
    for i in 1..=4 {
        vault.put(format!("item{i}")).send().await.unwrap(); // the 4th returns Err
    }
    vault.grow(1).send().await.unwrap(); // succeeds: the state is encoded after it
    let id = ActorId::new("batched").unwrap();
    let report = runtime.host::<Vault>().unwrap().drain(&id).await.unwrap();
    assert_eq!((report.processed, report.failed, report.batches), (4, 1, 1));
    let state = runtime.state::<Vault>("batched").await.unwrap().unwrap();
    assert_eq!(
        state.items,
        ["item1", "item2", "item3"],
        "the Err's push was undone"
    );
}

#[tokio::test]
async fn a_panicking_message_is_retried_then_dead_lettered_and_the_actor_goes_on() {
    let runtime = runtime();
    let vault = runtime.client::<Vault>("p").unwrap();
    vault.put("kept".into()).send().await.unwrap();
    let error = vault.explode().call().await.unwrap_err();
    match &error {
        AskError::DeadLettered { reason, .. } => assert_eq!(reason, "handler panicked: boom"),
        other => panic!("expected a dead letter, got {other:?}"),
    }
    assert_eq!(
        vault.items().call().await.unwrap(),
        ["kept"],
        "the panicking message changed nothing"
    );

    let letters = mqless_tests::dead_letters::<Vault>(&runtime, "p").await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, DrainConfig::default().max_attempts);
    assert_eq!(letters[0].error, "handler panicked: boom");
    let envelope = Envelope::decode(&letters[0].envelope, &Limits::DEFAULT).unwrap();
    assert!(envelope.ask);
}

#[tokio::test]
async fn a_transient_panic_is_retried_and_applied_once() {
    let runtime = runtime();
    let vault = runtime.client::<Vault>("f").unwrap();
    assert_eq!(
        vault.flaky("x".into()).call().await.unwrap(),
        1,
        "the first attempt's push was rolled back"
    );
    assert!(mqless_tests::dead_letters::<Vault>(&runtime, "f")
        .await
        .is_empty());
}

#[tokio::test]
async fn undecodable_messages_are_dead_lettered_without_blocking_the_mailbox() {
    let recorder = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder().manual_drains(recorder).build();
    runtime.register::<Vault>().unwrap();
    let address = vault_address("u");
    let store = runtime.store();
    // Garbage bytes, a depth bomb as the envelope and inside a well-formed envelope, and
    // a well-formed message for a method that does not exist, queued ahead of a good one.
    let depth_bomb: Vec<u8> = std::iter::repeat_n(0x91, 10_000).chain([0x00]).collect();
    let bomb_inside = Envelope::new(depth_bomb.clone(), false, None)
        .encode(&Limits::DEFAULT)
        .unwrap();
    let unknown = rmp_serde::to_vec_named(&serde_json_like("launch_missiles")).unwrap();
    let unknown = Envelope::new(unknown, false, None)
        .encode(&Limits::DEFAULT)
        .unwrap();
    for envelope in [vec![0xc1, 0xff, 0x00], depth_bomb, bomb_inside, unknown] {
        store
            .enqueue(
                &address,
                &MailboxItem {
                    id: MessageId::generate(1, None),
                    envelope,
                },
            )
            .await
            .unwrap();
    }
    runtime
        .client::<Vault>("u")
        .unwrap()
        .put("good".into())
        .send()
        .await
        .unwrap();

    let report = runtime
        .host::<Vault>()
        .unwrap()
        .drain(&ActorId::new("u").unwrap())
        .await
        .unwrap();
    assert_eq!((report.dead_lettered, report.processed), (4, 1));
    let errors: Vec<String> = mqless_tests::dead_letters::<Vault>(&runtime, "u")
        .await
        .into_iter()
        .map(|l| {
            assert_eq!(l.attempts, 1, "decoding errors are not retried");
            l.error
        })
        .collect();
    assert!(errors[0].contains("not valid MessagePack"), "{}", errors[0]);
    assert!(
        errors[1].contains("envelope nests deeper than 4 levels"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("message nests deeper than 64 levels"),
        "{}",
        errors[2]
    );
    assert!(
        errors[3].contains("does not match the expected type"),
        "{}",
        errors[3]
    );
    assert_eq!(
        runtime.state::<Vault>("u").await.unwrap().unwrap().items,
        ["good"]
    );
}

/// A map shaped like a message for `method`.
fn serde_json_like(
    method: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, i32>> {
    std::iter::once((method.to_owned(), std::collections::BTreeMap::new())).collect()
}

#[tokio::test]
async fn oversized_messages_are_refused_before_they_are_queued() {
    let runtime = runtime();
    let vault = runtime.client::<Vault>("big").unwrap();
    let error = vault.put("x".repeat(5_000)).send().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Codec(CodecError::TooLarge { limit: 4096, .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("over the 4096-byte limit"));
    assert!(runtime
        .store()
        .read_mailbox(&vault_address("big"), 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_state_over_the_limit_is_rejected_and_the_previous_state_kept() {
    let runtime = runtime();
    let vault = runtime.client::<Vault>("s").unwrap();
    vault.put("before".into()).call().await.unwrap();
    match vault.grow(10_000).call().await.unwrap_err() {
        AskError::DeadLettered { reason, .. } => {
            assert!(reason.contains("new state was rejected"), "{reason}")
        }
        other => panic!("expected a dead letter, got {other:?}"),
    }
    vault.grow(100).call().await.unwrap();
    let state = runtime.state::<Vault>("s").await.unwrap().unwrap();
    assert_eq!((state.items.len(), state.blob.len()), (1, 100));
}

#[tokio::test]
async fn invalid_ids_and_unregistered_types_are_typed_errors() {
    let runtime = runtime();
    for bad in ["", "a/b", "tab\there", &"x".repeat(600)] {
        let error = runtime.client::<Vault>(bad).unwrap_err();
        assert!(
            matches!(error, Error::InvalidActorId { .. }),
            "{bad:?}: {error}"
        );
    }
    let error = Embedded::new().client::<Vault>("v").unwrap_err();
    assert!(matches!(error, Error::NotRegistered(ref name) if name == "vault-v1"));
    assert!(error.to_string().contains("register"));
}

#[tokio::test]
async fn an_idempotency_key_applies_a_message_once() {
    let runtime = runtime();
    let vault = runtime.client::<Vault>("k").unwrap();
    assert_eq!(
        vault
            .put("a".into())
            .idempotency_key("order-1")
            .call()
            .await
            .unwrap(),
        1
    );
    let again = vault
        .put("a".into())
        .idempotency_key("order-1")
        .call()
        .await
        .unwrap_err();
    assert!(matches!(again, AskError::Duplicate { .. }), "{again:?}");
    vault
        .put("b".into())
        .idempotency_key("order-2")
        .send()
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(vault.items().call().await.unwrap(), ["a", "b"]);
    let error = vault
        .put("c".into())
        .idempotency_key("")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidIdempotencyKey { len: 0 }));
}

#[tokio::test]
async fn an_ask_times_out_with_a_typed_error_and_the_message_stays_queued() {
    let recorder = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder().manual_drains(recorder).build();
    runtime.register::<Vault>().unwrap();
    let vault = runtime.client::<Vault>("t").unwrap();
    let error = vault
        .put("late".into())
        .timeout(Duration::from_millis(20))
        .call()
        .await
        .unwrap_err();
    assert!(matches!(error, AskError::Timeout { .. }), "{error:?}");
    assert!(error.to_string().contains("will still be processed"));
    runtime
        .host::<Vault>()
        .unwrap()
        .drain(&ActorId::new("t").unwrap())
        .await
        .unwrap();
    assert_eq!(
        runtime.state::<Vault>("t").await.unwrap().unwrap().items,
        ["late"]
    );
}

#[tokio::test]
async fn asking_from_inside_a_handler_is_refused() {
    let runtime = runtime();
    let reply = runtime
        .client::<Vault>("self")
        .unwrap()
        .ask_myself()
        .call()
        .await
        .unwrap();
    assert!(reply.contains("not allowed inside a handler"), "{reply}");
}

#[tokio::test]
async fn the_context_knows_the_actor() {
    let runtime = runtime();
    let (actor_type, id) = runtime
        .client::<Vault>("who")
        .unwrap()
        .whoami()
        .call()
        .await
        .unwrap();
    assert_eq!((actor_type.as_str(), id.as_str()), ("vault-v1", "who"));
}

#[tokio::test]
async fn names_on_the_wire_are_the_method_and_argument_names() {
    let bytes = rmp_serde::to_vec_named(&VaultMessage::Put { item: "x".into() }).unwrap();
    let decoded: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(decoded["put"]["item"], "x");
    let bytes = rmp_serde::to_vec_named(&VaultMessage::Items {}).unwrap();
    let decoded: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        rmp_serde::from_slice(&bytes).unwrap();
    assert!(
        decoded.contains_key("list"),
        "`#[handler(name)]` sets the wire name"
    );
}

/// Version 2 of an actor adds an optional argument and a method; messages written by
/// version 1 still decode.
mod evolution {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub struct Greeter {
        pub greeted: Vec<String>,
    }

    #[mqless::actor]
    impl Greeter {
        pub fn greet(&mut self, name: String, title: Option<String>) -> String {
            let line = format!("hello {}{name}", title.map(|t| t + " ").unwrap_or_default());
            self.greeted.push(line.clone());
            line
        }
        pub fn count(&self) -> usize {
            self.greeted.len()
        }
    }
}

#[test]
fn old_messages_decode_after_an_optional_argument_is_added() {
    #[derive(Serialize)]
    enum GreeterV1 {
        #[serde(rename = "greet")]
        Greet { name: String },
    }
    let old = rmp_serde::to_vec_named(&GreeterV1::Greet { name: "ada".into() }).unwrap();
    let new: evolution::GreeterMessage = mqless::wire::decode(&old, "message", 1024, 8).unwrap();
    assert!(
        matches!(new, evolution::GreeterMessage::Greet { ref name, title: None } if name == "ada")
    );
}

#[tokio::test]
async fn dead_letters_can_be_inspected_redriven_and_discarded_and_a_sweep_finds_forgotten_messages()
{
    mqless_tests::recovery::dead_letters_and_sweep(&Embedded::new(), "fickle").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_kills_its_process_is_dead_lettered_and_the_actor_goes_on() {
    let store = Arc::new(mqless::store::MemoryStore::new());
    mqless_tests::recovery::poison_is_dead_lettered(store, "poisoned").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_fan_outs_commit_under_the_transaction_limit_on_the_memory_store() {
    mqless_tests::limits::two_big_fan_outs_commit_in_separate_batches(Arc::new(
        mqless::store::MemoryStore::new(),
    ))
    .await;
}

#[tokio::test]
async fn the_memory_store_refuses_what_dynamodb_would() {
    use mqless::store::{Commit, MemoryStore, Store};
    let store = MemoryStore::new();
    let address = vault_address("limits");
    let record = store
        .acquire(&address, 0, 1, 7)
        .await
        .unwrap()
        .taken()
        .unwrap();
    let commit = |state: usize, outgoing: usize| Commit {
        epoch: record.epoch,
        expected_version: record.version,
        state: vec![0; state],
        meta: Vec::new(),
        lease_expires_at: 0,
        expires_at: None,
        mark: None,
        subscriptions: Vec::new(),
        continued: None,
        outgoing: (0..outgoing)
            .map(|_| {
                let item = MailboxItem {
                    id: MessageId::generate(1, None),
                    envelope: vec![0; 64 * 1024],
                };
                (vault_address("other"), item)
            })
            .collect(),
    };
    let error = store
        .commit(&address, &commit(401 * 1024, 0))
        .await
        .unwrap_err();
    assert!(error.message.contains("409600-byte item limit"), "{error}");
    let error = store.commit(&address, &commit(1024, 70)).await.unwrap_err();
    assert!(
        error.message.contains("4194304-byte transaction limit"),
        "{error}"
    );
    assert!(store.commit(&address, &commit(1024, 10)).await.is_ok());
    // 100 items per transaction, the state record among them: small messages too.
    let mut small = commit(1024, 0);
    small.expected_version += 1;
    small.outgoing = (0..100)
        .map(|_| {
            let item = MailboxItem {
                id: MessageId::generate(1, None),
                envelope: vec![0; 16],
            };
            (vault_address("other"), item)
        })
        .collect();
    let error = store.commit(&address, &small).await.unwrap_err();
    assert!(
        error.message.contains("100-item transaction limit"),
        "{error}"
    );
    small.outgoing.truncate(99);
    assert!(store.commit(&address, &small).await.is_ok());
}

/// An idempotency key over 128 bytes, written past the client (which refuses it), is
/// dead-lettered unrun: remembering seven 60 KB keys would push the state record over
/// DynamoDB's item limit and wedge the actor.
#[tokio::test]
async fn an_oversized_idempotency_key_written_past_the_client_is_dead_lettered_unrun() {
    let runtime = manual_drains(DrainConfig::default());
    runtime.register::<Vault>().unwrap();
    let address = vault_address("keys");
    for i in 0..7 {
        let envelope = Envelope::new(
            mqless::wire::encode(
                &VaultMessage::Put {
                    item: format!("item{i}"),
                },
                "message",
                1024,
            )
            .unwrap(),
            false,
            Some(format!("{i}{}", "k".repeat(60 * 1024))),
        )
        .encode(&Limits::DEFAULT)
        .unwrap();
        let item = MailboxItem {
            id: MessageId::generate(2_000_000_000_000, None),
            envelope,
        };
        runtime.store().enqueue(&address, &item).await.unwrap();
    }
    let report = runtime
        .host::<Vault>()
        .unwrap()
        .drain(&ActorId::new("keys").unwrap())
        .await
        .unwrap();
    assert_eq!((report.processed, report.dead_lettered), (0, 7));
    let letters = mqless_tests::dead_letters::<Vault>(&runtime, "keys").await;
    assert!(
        letters[0].error.contains("idempotency key of 61441 bytes"),
        "{}",
        letters[0].error
    );
    assert!(runtime
        .state::<Vault>("keys")
        .await
        .unwrap()
        .unwrap()
        .items
        .is_empty());
}

/// One message whose sends would make a transaction of more than DynamoDB's 100 items
/// (possible when `max_sends_per_message` is raised) is dead-lettered with the limit it
/// broke, on every store alike (also on DynamoDB Local, in `dynamodb.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_sends_overflow_the_transaction_item_cap_is_dead_lettered() {
    mqless_tests::limits::sends_over_the_item_cap_are_dead_lettered(Arc::new(
        mqless::store::MemoryStore::new(),
    ))
    .await;
}

/// One message whose own sends would make a transaction over 4 MB (possible when
/// `max_sends_per_message` is raised) is dead-lettered with the limit it broke, rather
/// than failing the commit on every retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_sends_alone_overflow_the_transaction_is_dead_lettered() {
    use mqless_tests::limits::{Broadcaster, Sink};
    let runtime = manual_drains(DrainConfig {
        max_sends_per_message: 80,
        ..DrainConfig::default()
    });
    runtime.register::<Broadcaster>().unwrap();
    runtime.register::<Sink>().unwrap();
    let broadcaster = runtime.client::<Broadcaster>("huge").unwrap();
    broadcaster
        .broadcast("huge-sink".into(), 80, 60 * 1024)
        .send()
        .await
        .unwrap();
    let host = runtime.host::<Broadcaster>().unwrap();
    let huge = ActorId::new("huge").unwrap();
    let drained = host.drain(&huge).await;
    let report = drained.expect("the drain commits: the message is dead-lettered, not retried");
    assert_eq!((report.processed, report.dead_lettered), (0, 1));
    let letters = mqless_tests::dead_letters::<Broadcaster>(&runtime, "huge").await;
    assert!(
        letters[0].error.contains("4194304-byte transaction limit"),
        "{}",
        letters[0].error
    );
}
