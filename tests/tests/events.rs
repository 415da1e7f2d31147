//! Publish and subscribe, on the embedded runtime and through DynamoDB Local: routed
//! subscriptions with patterns, per-actor subscriptions, publishing atomically from a
//! handler, fan-out over many pages exactly once and in publish order, bad input.

use mqless::{Actors, Embedded, Error};
use mqless_tests::events::{register, OrderEvent, Reservation, Shop, Watcher};

async fn seen_by(runtime: &Embedded, watcher: &str) -> Vec<u64> {
    runtime
        .state::<Watcher>(watcher)
        .await
        .unwrap()
        .map(|w| w.seen)
        .unwrap_or_default()
}

/// Routed subscriptions get the matching events at the actor the event names, and a
/// handler's publish is committed with its state change or not at all.
async fn routed_subscriptions_and_atomic_publishes(runtime: &Embedded) {
    register(runtime);
    runtime
        .publish("orders", &OrderEvent::new("placed", "o-1", 10, 1))
        .await
        .unwrap();
    runtime
        .publish("orders", &OrderEvent::new("cancelled", "o-1", 10, 2))
        .await
        .unwrap();
    runtime.settle().await;
    let o1 = runtime.state::<Reservation>("o-1").await.unwrap().unwrap();
    assert_eq!(
        o1.seen,
        vec![OrderEvent::new("placed", "o-1", 10, 1)],
        "only the placed event matches"
    );

    let shop = runtime.client::<Shop>("shop").unwrap();
    let refused = shop.place("o-2".into(), 20, true).call().await;
    assert!(refused.is_err());
    runtime.settle().await;
    assert!(
        runtime.state::<Reservation>("o-2").await.unwrap().is_none(),
        "a refused handler publishes nothing"
    );
    assert_eq!(shop.place("o-2".into(), 20, false).call().await.unwrap(), 1);
    runtime.settle().await;
    let o2 = runtime.state::<Reservation>("o-2").await.unwrap().unwrap();
    assert_eq!(o2.seen, vec![OrderEvent::new("placed", "o-2", 20, 1)]);
}

/// Actors subscribe one by one with patterns of their own, and unsubscribe.
async fn per_actor_subscriptions(runtime: &Embedded) {
    register(runtime);
    let all = runtime.client::<Watcher>("all").unwrap();
    let big = runtime.client::<Watcher>("big").unwrap();
    all.watch(None).call().await.unwrap();
    big.watch(Some(r#"{"total": [{"numeric": [">", 100]}]}"#.into()))
        .call()
        .await
        .unwrap();
    runtime.settle().await;
    runtime
        .publish("orders", &OrderEvent::new("placed", "a", 50, 1))
        .await
        .unwrap();
    runtime
        .publish("orders", &OrderEvent::new("placed", "b", 500, 2))
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(seen_by(runtime, "all").await, vec![1, 2]);
    assert_eq!(seen_by(runtime, "big").await, vec![2]);

    all.stop_watching().call().await.unwrap();
    runtime.settle().await;
    runtime
        .publish("orders", &OrderEvent::new("placed", "c", 900, 3))
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(seen_by(runtime, "all").await, vec![1, 2], "unsubscribed");
    assert_eq!(seen_by(runtime, "big").await, vec![2, 3]);

    // Subscribing again replaces the pattern.
    big.watch(Some(r#"{"total": [{"numeric": ["<", 100]}]}"#.into()))
        .call()
        .await
        .unwrap();
    runtime.settle().await;
    runtime
        .publish("orders", &OrderEvent::new("placed", "d", 900, 4))
        .await
        .unwrap();
    runtime
        .publish("orders", &OrderEvent::new("placed", "e", 5, 5))
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(seen_by(runtime, "big").await, vec![2, 3, 5]);
}

/// `subscribers` actors subscribe; three events fan out over many pages; each actor
/// gets each event once, in publish order.
async fn a_fan_out_reaches_every_subscriber_once_in_order(runtime: &Embedded, subscribers: usize) {
    register(runtime);
    for i in 0..subscribers {
        let watcher = runtime.client::<Watcher>(format!("w{i:05}")).unwrap();
        watcher.watch(None).send().await.unwrap();
    }
    runtime.settle().await;
    for seq in 1..=3 {
        runtime
            .publish("orders", &OrderEvent::new("placed", "x", seq, seq))
            .await
            .unwrap();
    }
    runtime.settle().await;
    for i in 0..subscribers {
        assert_eq!(
            seen_by(runtime, &format!("w{i:05}")).await,
            vec![1, 2, 3],
            "w{i:05}"
        );
    }
}

/// An order event padded to `pad` bytes (watchers read it as an `OrderEvent`).
#[derive(serde::Serialize)]
struct PaddedOrderEvent {
    kind: String,
    order_id: String,
    total: u64,
    seq: u64,
    pad: String,
}

fn padded(kind: &str, seq: u64, pad: usize) -> PaddedOrderEvent {
    PaddedOrderEvent {
        kind: kind.into(),
        order_id: format!("o-{seq}"),
        total: seq,
        seq,
        pad: "p".repeat(pad),
    }
}

/// Consecutive events whose first fan-out steps differ in size still reach each
/// subscriber in publish order: a routed subscription that matches only the first
/// shrinks its first step (39 watchers instead of 40), and so does a 55 KB event (38).
/// Each event's fan-out used to go on in a new message queued behind the next event's
/// first step, so the 40th watcher got the second event first.
async fn fan_out_steps_of_different_sizes_keep_publish_order(runtime: &Embedded) {
    register(runtime);
    for i in 0..45 {
        let watcher = runtime.client::<Watcher>(format!("w{i:02}")).unwrap();
        watcher.watch(None).send().await.unwrap();
    }
    runtime.settle().await;
    // `placed` also goes to a routed reservation; `cancelled` does not.
    let events = [
        padded("placed", 1, 0),
        padded("cancelled", 2, 0),
        padded("cancelled", 3, 55 * 1024),
        padded("cancelled", 4, 0),
    ];
    for event in &events {
        runtime.publish("orders", event).await.unwrap();
    }
    runtime.settle().await;
    for i in 0..45 {
        assert_eq!(
            seen_by(runtime, &format!("w{i:02}")).await,
            vec![1, 2, 3, 4],
            "w{i:02}"
        );
    }
}

/// An event too big for its deliveries is refused at publish, with the limit: never
/// accepted and then lost in its fan-out.
async fn an_event_too_big_to_deliver_is_refused_at_publish(runtime: &Embedded) {
    register(runtime);
    let watcher = runtime.client::<Watcher>("w").unwrap();
    watcher.watch(None).call().await.unwrap();
    let most = mqless::Limits::DEFAULT.max_message_bytes - mqless::events::EVENT_HEADROOM;
    let error = runtime
        .publish("orders", &padded("placed", 1, most))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("event"), "{error}");
    runtime
        .publish("orders", &padded("placed", 2, most - 200))
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(
        seen_by(runtime, "w").await,
        vec![2],
        "the largest event that fits is delivered"
    );
}

/// The event of the `routed-wide` topic.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ping {
    /// The receiving hub.
    pub to: String,
    /// The publisher's sequence number.
    pub seq: u64,
}

/// An actor type with more routed subscriptions to one topic than a fan-out step holds.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Hub {
    /// `(method, seq)` of each delivery, in order.
    seen: Vec<(u32, u64)>,
}

macro_rules! hub {
    ($($method:ident $index:literal),*) => {
        #[mqless::actor]
        impl Hub {
            $(
                /// One of the routed subscriptions.
                #[subscribe(topic = "routed-wide", route = "to")]
                pub fn $method(&mut self, event: Ping) {
                    self.seen.push(($index, event.seq));
                }
            )*
        }
    };
}

hub!(m0 0, m1 1, m2 2, m3 3, m4 4, m5 5, m6 6, m7 7, m8 8, m9 9, m10 10, m11 11, m12 12, m13 13, m14 14, m15 15, m16 16, m17 17, m18 18, m19 19, m20 20, m21 21, m22 22, m23 23, m24 24, m25 25, m26 26, m27 27, m28 28, m29 29, m30 30, m31 31, m32 32, m33 33, m34 34, m35 35, m36 36, m37 37, m38 38, m39 39, m40 40, m41 41, m42 42, m43 43, m44 44, m45 45, m46 46, m47 47, m48 48, m49 49, m50 50, m51 51, m52 52, m53 53, m54 54, m55 55, m56 56, m57 57, m58 58, m59 59);

/// An event that matches 60 routed subscriptions (more than the 40 deliveries of a
/// step, and than the 49 sends of a message) reaches all of them, in publish order:
/// routed deliveries are paged like per-actor ones. They used to go out in one step,
/// which was dead-lettered for its sends.
async fn more_routed_matches_than_a_step_holds_are_paged(runtime: &Embedded) {
    runtime.register::<Hub>().unwrap();
    for seq in 1..=2 {
        let ping = Ping {
            to: "hub".into(),
            seq,
        };
        runtime.publish("routed-wide", &ping).await.unwrap();
    }
    runtime.settle().await;
    let hub = runtime.state::<Hub>("hub").await.unwrap().unwrap();
    assert_eq!(hub.seen.len(), 120, "{:?}", hub.seen);
    for method in 0..60 {
        let seqs: Vec<u64> = hub
            .seen
            .iter()
            .filter(|(m, _)| *m == method)
            .map(|(_, seq)| *seq)
            .collect();
        assert_eq!(seqs, [1, 2], "method m{method}");
    }
    let letters = runtime
        .dead_letters::<mqless::events::TopicActor>("routed-wide")
        .unwrap();
    assert!(letters.list().await.unwrap().is_empty());
}

/// Bad input is refused with a typed error that says what to do.
async fn bad_input_is_refused(runtime: &Embedded) {
    register(runtime);
    let error = runtime
        .publish("no spaces", &OrderEvent::new("placed", "o", 1, 1))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidTopic { .. }), "{error}");
    let error = runtime.publish("orders", &42).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidEvent(why) if why.contains("not an object")),
        "{error}"
    );

    let watcher = runtime.client::<Watcher>("picky").unwrap();
    let error = watcher
        .watch(Some("{not json".into()))
        .call()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("invalid event pattern"),
        "{error}"
    );
    let shop = runtime.client::<Shop>("s").unwrap();
    let error = shop.subscribe_without_a_method().call().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no method that receives topic `orders`"),
        "{error}"
    );
}

/// The order saga as events (examples/src/order_events.rs): confirmed and shipped,
/// compensated after a declined payment, refunded after refused stock.
async fn the_order_saga_as_events(runtime: &Embedded) {
    use mqless_examples::order_events::{self, Status};
    order_events::register(runtime).unwrap();
    let outcome = order_events::run(runtime).await.unwrap();
    let statuses: Vec<Status> = outcome.orders.into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        statuses,
        [
            Status::Confirmed,
            Status::Cancelled("bob's card was declined".into()),
            Status::Cancelled("only 3 lamp in stock".into()),
        ]
    );
    assert_eq!(outcome.lamps, (3, 2), "bob's reservation released");
    assert_eq!(outcome.ann_was_told, ["your order o-1 is confirmed"]);
    assert_eq!(
        outcome.shipped,
        ["o-1"],
        "the shipping service hears of o-1 only"
    );
    assert_eq!(
        outcome.refunded,
        ["o-3"],
        "the payment that settled for a refused order is refunded"
    );
}

/// A subscription whose stored pattern no longer parses (written past MQLess) receives
/// nothing, and holds up no other subscriber.
async fn a_malformed_stored_subscription_holds_up_no_one(
    runtime: &Embedded,
    store: &dyn mqless::store::Store,
) {
    register(runtime);
    let good = runtime.client::<Watcher>("good").unwrap();
    good.watch(None).call().await.unwrap();
    runtime.settle().await;
    let topic = mqless::events::Topic::new("orders")
        .unwrap()
        .address()
        .unwrap();
    let record = mqless::store::SubscriptionRecord {
        subscriber: mqless::id::Address::parse("Watcher/broken").unwrap(),
        method: "on_order".into(),
        argument: "event".into(),
        pattern: Some("{not json".into()),
    };
    let by = mqless::MessageId::generate(4_000_000_000_000, None);
    store
        .write_subscription(&topic, &record.key(), Some(&record), by)
        .await
        .unwrap();
    runtime
        .publish("orders", &OrderEvent::new("placed", "a", 1, 1))
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(seen_by(runtime, "good").await, vec![1]);
    assert_eq!(seen_by(runtime, "broken").await, Vec::<u64>::new());
    let letters = runtime
        .dead_letters::<mqless::events::TopicActor>("orders")
        .unwrap();
    assert!(
        letters.list().await.unwrap().is_empty(),
        "the step was not failed"
    );
}

mod embedded {
    use super::*;

    #[tokio::test]
    async fn a_malformed_stored_subscription_holds_up_no_one() {
        let store = std::sync::Arc::new(mqless::store::MemoryStore::new());
        let runtime = Embedded::builder().store(store.clone()).build();
        super::a_malformed_stored_subscription_holds_up_no_one(&runtime, store.as_ref()).await;
    }

    #[tokio::test]
    async fn the_order_saga_as_events() {
        super::the_order_saga_as_events(&Embedded::new()).await;
    }

    #[tokio::test]
    async fn routed_subscriptions_and_atomic_publishes() {
        super::routed_subscriptions_and_atomic_publishes(&Embedded::new()).await;
    }

    #[tokio::test]
    async fn per_actor_subscriptions() {
        super::per_actor_subscriptions(&Embedded::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fan_out_reaches_2000_subscribers_once_in_order() {
        a_fan_out_reaches_every_subscriber_once_in_order(&Embedded::new(), 2000).await;
    }

    #[tokio::test]
    async fn bad_input_is_refused() {
        super::bad_input_is_refused(&Embedded::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fan_out_steps_of_different_sizes_keep_publish_order() {
        super::fan_out_steps_of_different_sizes_keep_publish_order(&Embedded::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn more_routed_matches_than_a_step_holds_are_paged() {
        super::more_routed_matches_than_a_step_holds_are_paged(&Embedded::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_too_big_to_deliver_is_refused_at_publish() {
        super::an_event_too_big_to_deliver_is_refused_at_publish(&Embedded::new()).await;
    }

    /// On the memory store with subscriptions committed, as key layout v2 keeps them
    /// (more in `subscriptions_apart.rs`).
    #[tokio::test]
    async fn per_actor_subscriptions_committed() {
        let store = mqless::store::MemoryStore::new().with_subscriptions_committed();
        let runtime = Embedded::builder()
            .store(std::sync::Arc::new(store))
            .build();
        super::per_actor_subscriptions(&runtime).await;
    }
}

mod dynamodb_local {
    use super::*;
    use mqless_tests::local_aws;
    use std::sync::Arc;

    async fn runtime(test: &str) -> Embedded {
        let store = local_aws::fresh_store(test).await;
        Embedded::builder().store(Arc::new(store)).build()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn routed_subscriptions_and_atomic_publishes() {
        mqless_tests::requires_local_aws!();
        super::routed_subscriptions_and_atomic_publishes(&runtime("events-routed").await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn per_actor_subscriptions() {
        mqless_tests::requires_local_aws!();
        super::per_actor_subscriptions(&runtime("events-per-actor").await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_order_saga_as_events() {
        mqless_tests::requires_local_aws!();
        super::the_order_saga_as_events(&runtime("events-saga").await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fan_out_steps_of_different_sizes_keep_publish_order() {
        mqless_tests::requires_local_aws!();
        super::fan_out_steps_of_different_sizes_keep_publish_order(
            &runtime("events-step-sizes").await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fan_out_reaches_150_subscribers_once_in_order() {
        mqless_tests::requires_local_aws!();
        a_fan_out_reaches_every_subscriber_once_in_order(&runtime("events-fan-out").await, 150)
            .await;
    }
}

/// Key layout v2: each subscriber type's subscriptions in a partition of its own,
/// written by the subscriber's own commit; the topic refuses subscribe messages.
mod dynamodb_local_v2 {
    use mqless::aws::KeyLayout;
    use mqless_tests::local_aws;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn per_actor_subscriptions() {
        mqless_tests::requires_local_aws!();
        let (runtime, _) = local_aws::fresh_runtime_in("events-v2-per-actor", KeyLayout::V2).await;
        super::per_actor_subscriptions(&runtime).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fan_out_steps_of_different_sizes_keep_publish_order() {
        mqless_tests::requires_local_aws!();
        let (runtime, _) = local_aws::fresh_runtime_in("events-v2-step-sizes", KeyLayout::V2).await;
        super::fan_out_steps_of_different_sizes_keep_publish_order(&runtime).await;
    }
}
