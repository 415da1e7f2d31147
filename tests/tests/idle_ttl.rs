//! `#[actor(idle_ttl = "..")]`: an actor's state expires after that long without a
//! message. Each commit sets the record's expiry (DynamoDB's `ttl`); past it the state
//! reads as the default whether or not the record was deleted yet, the bookkeeping stays
//! (no consumed message runs again), dead letters expire too, and a quarantined actor
//! never expires. On the embedded runtime and on DynamoDB Local, with a manual clock.

use std::sync::Arc;
use std::time::Duration;

use mqless::clock::Clock as _;
use mqless::id::Address;
use mqless::store::{QuarantineRecord, Store};
use mqless::testing::ManualClock;
use mqless::{Actor as _, Embedded};
use mqless_tests::cart::Cart;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Session {
    items: Vec<String>,
}

#[mqless::actor(idle_ttl = "1h")]
impl Session {
    pub fn add(&mut self, item: String) -> usize {
        self.items.push(item);
        self.items.len()
    }

    pub fn refuse(&mut self) -> Result<(), String> {
        Err("refused".into())
    }
}

/// Far from the other tests' clocks: this binary's ids start here.
const BASE: u64 = 1_950_000_000_000;

async fn expires_after_its_idle_time(store: Arc<dyn Store>, base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(clock.clone())
        .build();
    runtime.register::<Session>().unwrap();
    let session = runtime.client::<Session>("s1").unwrap();
    let address = Address::parse("Session/s1").unwrap();

    assert_eq!(session.add("a".into()).call().await.unwrap(), 1);
    let record = store.load_state(&address).await.unwrap().unwrap();
    assert_eq!(
        record.expires_at,
        Some(base + 3_600_000),
        "each commit sets the expiry"
    );

    // 59 minutes on, a message renews it.
    clock.advance(Duration::from_secs(59 * 60));
    assert_eq!(session.add("b".into()).call().await.unwrap(), 2);
    session.refuse().send().await.unwrap();
    runtime.settle().await;
    let renewed = base + 59 * 60_000 + 3_600_000;
    assert_eq!(
        store
            .load_state(&address)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        Some(renewed)
    );

    // An hour after the last message: the state reads as the default, before any delete.
    clock.set(renewed);
    assert!(runtime.state::<Session>("s1").await.unwrap().is_none());
    let report = runtime.operator().inspect(&address).await.unwrap();
    assert_eq!((report.state, report.expires_at), (None, Some(renewed)));
    assert_eq!(
        report.dead_letters, 1,
        "dead letters stay until the store's TTL deletes them"
    );
    // A message that arrives later starts from the default state.
    assert_eq!(session.add("c".into()).call().await.unwrap(), 1);
    assert_eq!(
        store
            .load_state(&address)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        Some(renewed + 3_600_000)
    );

    // A quarantined actor waits for its operator, however long.
    let record = store.load_state(&address).await.unwrap().unwrap();
    let quarantine = QuarantineRecord {
        reason: "held for the test".into(),
        since: clock.now_millis(),
    };
    assert!(store
        .quarantine(&address, record.epoch, &quarantine)
        .await
        .unwrap());
    assert_eq!(
        store
            .load_state(&address)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        None
    );
}

#[tokio::test]
async fn embedded() {
    const { assert!(matches!(Session::IDLE_TTL, Some(ttl) if ttl.as_secs() == 3600)) };
    expires_after_its_idle_time(Arc::new(mqless::store::MemoryStore::new()), BASE).await;
}

#[tokio::test]
async fn on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
    let store = mqless_tests::local_aws::fresh_store("idle-ttl").await;
    let base = BASE + 10 * 3_600_000;
    expires_after_its_idle_time(Arc::new(store.clone()), base).await;
    // What DynamoDB's TTL deletes: the dead letter (in seconds); the quarantined record
    // lost its `ttl`.
    let config = mqless::aws::load_config().await;
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&config);
    let items = client
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("Session/s1".into()))
        .send()
        .await
        .unwrap();
    let mut letters = 0;
    for item in items.items() {
        let sk = item["sk"].as_s().unwrap();
        if sk == "#state" {
            assert!(
                !item.contains_key("ttl"),
                "a quarantined record does not expire"
            );
        } else if sk.starts_with("d#") {
            let ttl: u64 = item["ttl"].as_n().unwrap().parse().unwrap();
            assert!(
                ttl > base / 1000 && ttl < base / 1000 + 3 * 3600,
                "ttl {ttl} in seconds"
            );
            letters += 1;
        }
    }
    assert_eq!(letters, 1);
}

async fn a_stopped_actor_is_gone(store: Arc<dyn Store>, base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(clock.clone())
        .build();
    runtime.register::<Cart>().unwrap();
    let cart = runtime.client::<Cart>("c1").unwrap();
    let address = Address::parse("Cart/c1").unwrap();
    cart.add("apple".into()).call().await.unwrap();
    cart.keep_alive().call().await.unwrap();
    clock.advance(Duration::from_secs(61));
    runtime.sweep().await.unwrap();
    runtime.settle().await;
    assert_eq!(runtime.state::<Cart>("c1").await.unwrap().unwrap().pings, 1);

    assert_eq!(cart.check_out().call().await.unwrap(), 1);
    let record = store.load_state(&address).await.unwrap().unwrap();
    assert_eq!(
        record.expires_at,
        Some(clock.now_millis()),
        "expires at once"
    );
    assert!(runtime.state::<Cart>("c1").await.unwrap().is_none());
    // Its reminder was cancelled with it: the next fire is dropped.
    clock.advance(Duration::from_secs(61));
    runtime.sweep().await.unwrap();
    runtime.settle().await;
    assert!(
        runtime.state::<Cart>("c1").await.unwrap().is_none(),
        "no ping revived it"
    );

    // A later message finds a fresh cart, which lives on.
    assert_eq!(cart.add("pear".into()).call().await.unwrap(), 1);
    assert_eq!(
        store
            .load_state(&address)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        None
    );
}

#[tokio::test]
async fn stop_embedded() {
    a_stopped_actor_is_gone(
        Arc::new(mqless::store::MemoryStore::new()),
        BASE + 20 * 3_600_000,
    )
    .await;
}

#[tokio::test]
async fn stop_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = mqless_tests::local_aws::fresh_store("stop").await;
    a_stopped_actor_is_gone(Arc::new(store), BASE + 30 * 3_600_000).await;
}
