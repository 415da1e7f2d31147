//! The mailbox protocol on Amazon's DynamoDB Local, through the real AWS SDK: the same
//! invariants as on the embedded runtime, with many handlers draining concurrently, plus
//! the DynamoDB-specific parts (transactions, item limits, typed errors) and the cost per
//! message measured from `ConsumedCapacity`.

mod client_reads;
mod foreign_items;
mod key_layout;
mod migrate;

use std::sync::Arc;
use std::time::Duration;

use mqless::aws::dynamodb::DynamoStore;
use mqless::error::StoreErrorKind;
use mqless::id::{ActorType, Address};
use mqless::mailbox::{DrainConfig, DrainEnd};
use mqless::store::{MailboxItem, Store};
use mqless::testing::{ManualClock, RecordingInvoker};
use mqless::{ActorId, AskError, Embedded};
use mqless_examples::bank::{Account, BankConfig};
use mqless_tests::ledger::{self, Ledger, Scenario};
use mqless_tests::local_aws;
use serde::{Deserialize, Serialize};

fn runtime_over(store: &DynamoStore) -> Embedded {
    Embedded::builder().store(Arc::new(store.clone())).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_and_drains_apply_each_message_once_in_order() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("ledger").await;
    let runtime = Arc::new(
        Embedded::builder()
            .store(Arc::new(store.clone()))
            .config(DrainConfig {
                batch_size: 25,
                ..DrainConfig::default()
            })
            .build(),
    );
    runtime.register::<Ledger>().unwrap();
    let scenario = Scenario {
        senders: 32,
        messages_per_sender: 40,
        actors: 4,
        rogue_drainers: 8,
    };
    ledger::run(runtime, scenario).await;
    let used = store.capacity();
    println!(
        "DynamoDB Local: {} requests, {:.0} write units, {:.0} read units",
        used.requests, used.write_units, used.read_units
    );
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    total: i64,
    blob: Vec<u8>,
}

#[mqless::actor]
impl Tally {
    pub fn add(&mut self, n: i64) -> Result<i64, String> {
        self.total += n;
        if self.total < 0 {
            return Err(format!("{n} would make the total negative"));
        }
        Ok(self.total)
    }

    pub fn explode(&mut self) {
        self.total += 1_000;
        panic!("boom");
    }

    pub fn grow(&mut self, bytes: u64) {
        self.blob = vec![1; bytes as usize];
    }

    pub async fn slow_add(&mut self, n: i64) -> i64 {
        self.total += n;
        if n == 7 {
            // Stalls until the test's clock has expired this owner's lease.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        self.total
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asks_errors_panics_and_limits_behave_as_on_the_embedded_runtime() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("semantics").await;
    let runtime = runtime_over(&store);
    runtime.register::<Tally>().unwrap();
    let tally = runtime.client::<Tally>("t").unwrap();

    assert_eq!(tally.add(5).call().await.unwrap(), 5);
    let refused = tally.add(-10).call().await.unwrap_err();
    assert!(
        matches!(refused, AskError::Handler(ref e) if e.contains("negative")),
        "{refused:?}"
    );
    assert!(matches!(
        tally.explode().call().await.unwrap_err(),
        AskError::DeadLettered { .. }
    ));
    let grown = tally.grow(300 * 1024).call().await;
    assert!(
        matches!(grown, Err(AskError::DeadLettered { .. })),
        "a state over the limit is refused: {grown:?}"
    );
    assert_eq!(
        tally.add(1).idempotency_key("once").call().await.unwrap(),
        6
    );
    assert!(matches!(
        tally
            .add(1)
            .idempotency_key("once")
            .call()
            .await
            .unwrap_err(),
        AskError::Duplicate { .. }
    ));

    let state = runtime.state::<Tally>("t").await.unwrap().unwrap();
    assert_eq!(
        (state.total, state.blob.len()),
        (6, 0),
        "only the successful messages changed the state"
    );
    let letters = mqless_tests::dead_letters::<Tally>(&runtime, "t").await;
    assert_eq!(letters.len(), 2);
    assert_eq!(
        (letters[0].error.as_str(), letters[0].attempts),
        ("handler panicked: boom", 3)
    );
    assert!(
        letters[1].error.contains("new state was rejected"),
        "{}",
        letters[1].error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_and_the_owner_after_it_commit_once_by_the_conditional_write() {
    mqless_tests::requires_local_aws!();
    // The zombie stops right before its commit (a pause, not a sleep: on a loaded
    // machine a sleeping zombie could finish before the next owner looked).
    let store = Arc::new(mqless::testing::FaultyStore::over(
        local_aws::fresh_store("zombie").await,
    ));
    let clock = ManualClock::new(1_800_000_000_000);
    let lease = Duration::from_secs(10);
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .config(DrainConfig {
            lease,
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Tally>().unwrap();
    runtime
        .client::<Tally>("z")
        .unwrap()
        .slow_add(7)
        .send()
        .await
        .unwrap();
    let host = runtime.host::<Tally>().unwrap();
    let id = ActorId::new("z").unwrap();

    let address = Address::parse("Tally/z").unwrap();
    let mut pause = store.pause(address, mqless::testing::PausePoint::BeforeCommit, 0);
    let zombie = {
        let (host, id) = (host.clone(), id.clone());
        tokio::spawn(async move { host.drain(&id).await })
    };
    pause.reached().await; // the zombie ran `slow_add`, and has not committed
    assert_eq!(
        host.drain(&id).await.unwrap().end,
        DrainEnd::Busy,
        "a live lease keeps others out"
    );
    clock.advance(lease + Duration::from_millis(1));
    let taker = host.drain(&id).await.unwrap();
    pause.resume();
    let zombie = zombie.await.unwrap().unwrap();
    // Both ran the message; the one that committed first applied it (here the
    // taker), and the version fenced the other: a newer lease does not fence an older
    // owner's commit (protocol v2), the version does.
    assert_eq!(
        taker.batches + zombie.batches,
        1,
        "one commit: {taker:?} {zombie:?}"
    );
    let fenced = [taker.end, zombie.end]
        .iter()
        .filter(|end| **end == DrainEnd::Fenced)
        .count();
    assert_eq!(fenced, 1, "{taker:?} {zombie:?}");
    assert_eq!(
        runtime.state::<Tally>("z").await.unwrap().unwrap().total,
        7,
        "applied exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bank_conserves_money_with_transfers_committed_in_transactions() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("bank").await;
    let runtime = Arc::new(runtime_over(&store));
    runtime.register::<Account>().unwrap();
    let config = BankConfig {
        accounts: 6,
        tasks: 24,
        operations_per_task: 8,
        ..BankConfig::default()
    };
    mqless_tests::assert_bank_holds(runtime, config).await;
}

#[tokio::test]
async fn a_missing_table_and_an_unreachable_endpoint_are_typed_errors_that_say_what_to_do() {
    mqless_tests::requires_local_aws!();
    local_aws::configure();
    let address = Address::new(ActorType::new("Tally").unwrap(), ActorId::new("x").unwrap());
    let sdk = mqless::aws::load_config().await;
    let missing = DynamoStore::new(
        mqless::aws::aws_sdk_dynamodb::Client::new(&sdk),
        "no-such-table",
    );
    let error = missing.load_state(&address).await.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::TableMissing, "{error}");
    assert!(
        error.message.contains("`no-such-table` does not exist")
            && error.message.contains("create_table"),
        "{error}"
    );

    let config =
        mqless::aws::aws_sdk_dynamodb::config::Builder::from(&mqless::aws::load_config().await)
            .endpoint_url("http://127.0.0.1:9")
            .build();
    let unreachable = DynamoStore::new(
        mqless::aws::aws_sdk_dynamodb::Client::from_conf(config),
        "t",
    );
    let item = MailboxItem {
        id: mqless::MessageId::generate(1, None),
        envelope: vec![0x80],
    };
    let error = unreachable.enqueue(&address, &item).await.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable);
    assert!(
        error.message.contains("could not reach DynamoDB")
            && error.message.contains("AWS_ENDPOINT_URL"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_can_be_inspected_redriven_and_discarded_and_a_sweep_finds_forgotten_messages()
{
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("recovery").await;
    mqless_tests::recovery::dead_letters_and_sweep(&runtime_over(&store), "fickle").await;
}

/// The seeded fault scenario of `fault_scenarios.rs`, on DynamoDB Local: fewer and
/// smaller seeds, as each store call is a request, in three tests that run side by side
/// (each seed mostly waits: leases run out, DynamoDB Local answers). Seeds share a table;
/// their actors have their own ids. `MQLESS_DYNAMODB_SEEDS` sets how many in all,
/// `MQLESS_SEED` runs one (in its part, and so in its part's key layout). The last third
/// runs in key layout v2, its even seeds on the way there: every process in the
/// transitional layout but a client process still in v1, which sends a third of the
/// messages, while `mqless migrate`'s moves race the drains.
async fn invariants_hold_under_injected_faults_on_dynamodb_local(part: u64) {
    use mqless_tests::scenario::{self, Params, Stats};
    const PARTS: u64 = 3;
    // The last third with mailboxes in partitions of their own (`KeyLayout::V2`).
    let layout = match part {
        2 => mqless::aws::KeyLayout::V2,
        _ => mqless::aws::KeyLayout::V1,
    };
    let store = local_aws::fresh_store_in("faults", layout).await;
    let setup = |seed: u64| -> (DynamoStore, Option<mqless_tests::scenario::Legacy>) {
        if layout != mqless::aws::KeyLayout::V2 || seed % 2 == 1 {
            return (store.clone(), None);
        }
        let moving = store
            .clone()
            .with_key_layout(mqless::aws::KeyLayout::V1ToV2);
        let migrating = moving.clone();
        let legacy = mqless_tests::scenario::Legacy {
            store: Arc::new(store.clone().with_key_layout(mqless::aws::KeyLayout::V1)),
            migrate: Arc::new(move || {
                let store = migrating.clone();
                Box::pin(async move {
                    match store.migrate_mailboxes(false).await {
                        Ok(migration) => migration.moved,
                        Err(error) => {
                            // A migration is run again: the next one resumes.
                            eprintln!("a migration run failed: {error}");
                            0
                        }
                    }
                })
            }),
        };
        (moving, Some(legacy))
    };
    let seeds: u64 = std::env::var("MQLESS_DYNAMODB_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60);
    // A seed runs in its part (and so in that part's layout), `MQLESS_SEED` included.
    let in_part = |seed: &u64| (seed - 1) * PARTS / seeds == part;
    let seeds: Vec<u64> = match std::env::var("MQLESS_SEED") {
        Ok(seed) => {
            let seed: u64 = seed.parse().expect("MQLESS_SEED is a number");
            let part_of = ((seed.max(1) - 1) * PARTS / seeds).min(PARTS - 1);
            if part_of == part {
                vec![seed]
            } else {
                Vec::new()
            }
        }
        Err(_) => (1..=seeds).filter(in_part).collect(),
    };
    let mut total = Stats::default();
    for &seed in &seeds {
        let (store, legacy) = setup(seed);
        let params = Params {
            actors: 2,
            senders: 3,
            messages: 6,
            hang_timeout: Duration::from_millis(500),
            prefix: format!("s{seed}-"),
            optimistic: false,
            client_skew_millis: 300_000,
            legacy,
            racing_sends: None,
        };
        total.add(&scenario::run_seed(store, seed, &params).await);
    }
    println!("DynamoDB Local, seeds {seeds:?}: {}", total.summary());
    assert_eq!(
        scenario::overlaps(),
        0,
        "never two messages of one actor in flight"
    );
    assert_eq!(total.applied_once, total.acknowledged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_under_injected_faults_on_dynamodb_local_first_third() {
    mqless_tests::requires_local_aws!();
    invariants_hold_under_injected_faults_on_dynamodb_local(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_under_injected_faults_on_dynamodb_local_second_third() {
    mqless_tests::requires_local_aws!();
    invariants_hold_under_injected_faults_on_dynamodb_local(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_under_injected_faults_on_dynamodb_local_last_third() {
    mqless_tests::requires_local_aws!();
    invariants_hold_under_injected_faults_on_dynamodb_local(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_kills_its_process_is_dead_lettered_and_the_actor_goes_on() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("poison").await;
    mqless_tests::recovery::poison_is_dead_lettered(Arc::new(store), "poisoned").await;
}

/// `create_table` on a table that exists without TTL turns TTL on, so replies expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_turns_ttl_on_for_an_existing_table() {
    mqless_tests::requires_local_aws!();
    use mqless::aws::aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    local_aws::configure();
    let sdk = mqless::aws::load_config().await;
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("no-ttl-{}", mqless::MessageId::generate(1, None));
    let mut create = client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, key_type) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
        create = create
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(key_type)
                    .build()
                    .unwrap(),
            );
    }
    create.send().await.unwrap();
    let store = DynamoStore::new(client, table);
    assert!(!store.ttl_enabled().await.unwrap(), "made without TTL");
    // TTL first, then the indexes, one at a time: under the suite's load DynamoDB Local
    // may take minutes to build one, and then the call says to run it again.
    if let Err(error) = store.create_table().await {
        assert!(error.message.contains("still building an index"), "{error}");
    }
    assert!(
        store.ttl_enabled().await.unwrap(),
        "create_table turned TTL on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_fan_outs_commit_under_the_transaction_limit_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("fanout").await;
    mqless_tests::limits::two_big_fan_outs_commit_in_separate_batches(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_wake_up_leaves_no_lasting_record_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("stray").await;
    let table = store.clone();
    let delete_expired: mqless_tests::conformance::DeleteExpired = Arc::new(move |now| {
        let table = table.clone();
        Box::pin(async move {
            local_aws::delete_expired(&table, now).await;
        })
    });
    mqless_tests::cart::a_stray_wake_up_leaves_no_lasting_record(Arc::new(store), delete_expired)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_over_the_transaction_item_cap_are_dead_lettered_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("itemcap").await;
    mqless_tests::limits::sends_over_the_item_cap_are_dead_lettered(Arc::new(store)).await;
}

/// `.query()` on DynamoDB: one strongly consistent `GetItem`, no write, no invoke.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_costs_one_read_and_no_write() {
    mqless_tests::requires_local_aws!();
    use mqless_examples::counter::Counter;

    let store = local_aws::fresh_store("query").await;
    let invoker = Arc::new(mqless::testing::RecordingInvoker::new());
    let runtime = mqless::Embedded::builder()
        .store(Arc::new(store.clone()))
        .manual_drains(invoker.clone())
        .build();
    runtime.register::<Counter>().unwrap();
    let counter = runtime.client::<Counter>("queried").unwrap();
    counter.increment(3).send().await.unwrap();
    let host = runtime.host::<Counter>().unwrap();
    host.drain(&mqless::ActorId::new("queried").unwrap())
        .await
        .unwrap();
    invoker.take_nudges();
    let before = store.capacity();
    assert_eq!(counter.get().query().await, Ok(3));
    let used = store.capacity() - before;
    assert_eq!((used.requests, used.write_units), (1, 0.0), "{used:?}");
    assert!(invoker.take_nudges().is_empty());
}

/// An ask whose handler runs in the asker's process (the embedded runtime over
/// DynamoDB) gets its reply from the drain directly: no reply item is written and the
/// asker never polls. Enqueue, the acquire's read of the record and its write of the
/// lease item, the mailbox read, commit and delete: 6 requests (nobody knocked, so the
/// owner does not read the mailbox again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ask_answered_in_process_writes_no_reply_and_never_polls() {
    mqless_tests::requires_local_aws!();
    use mqless_examples::counter::Counter;

    let mut used_by_layout = Vec::new();
    for layout in [mqless::aws::KeyLayout::V1, mqless::aws::KeyLayout::V2] {
        let store = local_aws::fresh_store_in("localreply", layout).await;
        let runtime = mqless::Embedded::builder()
            .store(Arc::new(store.clone()))
            .build();
        runtime.register::<Counter>().unwrap();
        let counter = runtime.client::<Counter>("asked").unwrap();
        assert_eq!(counter.increment(1).call().await, Ok(1));
        runtime.settle().await;
        let before = store.capacity();
        assert_eq!(counter.increment(2).call().await, Ok(3));
        runtime.settle().await;
        let used = store.capacity() - before;
        assert_eq!(used.requests, 6, "{layout}: {used:?}");
        used_by_layout.push(used);
    }
    assert_eq!(
        used_by_layout[0], used_by_layout[1],
        "mailboxes apart (v2) cost what v1 does"
    );
}
