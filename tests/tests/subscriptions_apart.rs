//! Subscriptions kept apart by subscriber type, as key layout v2 keeps them: written by
//! the subscriber's own commit (where only its type's function may write them), read by
//! a fan-out type by type, a subscribe message to a topic refused; on the memory store
//! (`MemoryStore::with_subscriptions_committed`) and DynamoDB Local, and a table's
//! subscriptions carried from v1 through `v1-to-v2` and `mqless migrate` to v2.

use std::sync::Arc;

use mqless::store::MemoryStore;
use mqless::{Actors, Embedded};
use mqless_tests::events::{register, Auditor, OrderEvent, Watcher};

async fn seen_by(runtime: &Embedded, watcher: &str) -> Vec<u64> {
    runtime
        .state::<Watcher>(watcher)
        .await
        .unwrap()
        .map(|w| w.seen)
        .unwrap_or_default()
}

/// Watchers and auditors (two subscriber types) subscribe, alternating; three events
/// fan out over many steps; each gets each event once, in publish order.
async fn a_fan_out_across_subscriber_types(runtime: &Embedded, subscribers: usize) {
    register(runtime);
    for i in 0..subscribers {
        if i % 3 == 0 {
            let auditor = runtime.client::<Auditor>(format!("a{i:05}")).unwrap();
            auditor.audit().send().await.unwrap();
        } else {
            let watcher = runtime.client::<Watcher>(format!("w{i:05}")).unwrap();
            watcher.watch(None).send().await.unwrap();
        }
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
        let seen = if i % 3 == 0 {
            let auditor = runtime.state::<Auditor>(format!("a{i:05}")).await.unwrap();
            auditor.map(|a| a.seen).unwrap_or_default()
        } else {
            seen_by(runtime, &format!("w{i:05}")).await
        };
        assert_eq!(seen, vec![1, 2, 3], "subscriber {i}");
    }
}

/// Where subscribers commit their subscriptions (key layout v2): the subscription is
/// kept by its subscriber's type, where only that type's function may write it, and a
/// subscribe message to the topic (any sender's, naming any subscriber) is refused:
/// dead-lettered at the topic with the reason, subscribing no one.
async fn only_the_subscribers_own_commit_subscribes_it(
    runtime: &Embedded,
    store: &dyn mqless::store::Store,
) {
    use mqless::client::ActorClient as _;
    use mqless::events::{TopicActor, TopicMessage};
    register(runtime);
    runtime
        .client::<Watcher>("honest")
        .unwrap()
        .watch(None)
        .call()
        .await
        .unwrap();
    let topic = mqless::events::Topic::new("orders")
        .unwrap()
        .address()
        .unwrap();
    let watchers = [mqless::id::ActorType::new("Watcher").unwrap()];
    let page = store
        .subscriptions(&topic, &watchers, None, 10)
        .await
        .unwrap();
    assert_eq!(page.subscriptions.len(), 1);
    assert_eq!(
        page.subscriptions[0].subscriber.to_string(),
        "Watcher/honest"
    );
    let others = store.subscriptions(&topic, &[], None, 10).await.unwrap();
    assert!(others.subscriptions.is_empty(), "kept by its type only");

    let forged = TopicMessage::Subscribe {
        subscriber: "Watcher/victim".into(),
        method: "on_order".into(),
        argument: "event".into(),
        pattern: None,
    };
    let topics = runtime.client::<TopicActor>("orders").unwrap();
    topics
        .core()
        .request::<_, (), String>(&forged)
        .send()
        .await
        .unwrap();
    runtime.settle().await;
    runtime
        .publish("orders", &OrderEvent::new("placed", "a", 1, 1))
        .await
        .unwrap();
    runtime.settle().await;
    assert_eq!(seen_by(runtime, "honest").await, vec![1]);
    assert_eq!(seen_by(runtime, "victim").await, Vec::<u64>::new());
    let letters = runtime
        .dead_letters::<TopicActor>("orders")
        .unwrap()
        .list()
        .await
        .unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0].error.contains("ctx.subscribe"),
        "says what to do: {}",
        letters[0].error
    );
}

mod embedded {
    use super::*;

    /// The memory store with subscriptions committed, as key layout v2 keeps them.
    fn committing() -> (Embedded, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new().with_subscriptions_committed());
        (Embedded::builder().store(store.clone()).build(), store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fan_out_across_subscriber_types() {
        super::a_fan_out_across_subscriber_types(&committing().0, 200).await;
    }

    /// Kept together (the topics write them), the same fan-out.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fan_out_across_subscriber_types_written_by_topics() {
        super::a_fan_out_across_subscriber_types(&Embedded::new(), 200).await;
    }

    #[tokio::test]
    async fn only_the_subscribers_own_commit_subscribes_it() {
        let (runtime, store) = committing();
        super::only_the_subscribers_own_commit_subscribes_it(&runtime, store.as_ref()).await;
    }
}

mod dynamodb_local_v2 {
    use super::*;
    use mqless::aws::KeyLayout;
    use mqless_tests::local_aws;

    /// 100 subscribers of two types: steps of 40 cross from one type's partition to
    /// the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fan_out_across_subscriber_types() {
        mqless_tests::requires_local_aws!();
        let (runtime, _) = local_aws::fresh_runtime_in("events-v2-types", KeyLayout::V2).await;
        super::a_fan_out_across_subscriber_types(&runtime, 100).await;
    }

    /// Only the subscriber's own commit subscribes it (see the shared case).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_the_subscribers_own_commit_subscribes_it() {
        mqless_tests::requires_local_aws!();
        let (runtime, store) = local_aws::fresh_runtime_in("events-v2-forged", KeyLayout::V2).await;
        super::only_the_subscribers_own_commit_subscribes_it(&runtime, store.as_ref()).await;
    }

    /// A table on its way from v1: a subscription made in v1 (in the topic's partition)
    /// still receives events; made again or ended from the subscriber's handler (the
    /// commit's copy hides the v1 one), it is never delivered twice; `mqless migrate`
    /// moves what is left, and v2 then delivers to exactly the same subscribers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn subscriptions_move_from_v1_to_v2() {
        mqless_tests::requires_local_aws!();
        let v1 = local_aws::fresh_store_in("events-v1-to-v2", KeyLayout::V1).await;
        let moving = v1.clone().with_key_layout(KeyLayout::V1ToV2);
        let runtime = Embedded::builder().store(Arc::new(v1.clone())).build();
        register(&runtime);
        for id in ["kept", "renewed", "ended"] {
            let watcher = runtime.client::<Watcher>(id).unwrap();
            watcher.watch(None).call().await.unwrap();
        }
        runtime.settle().await;
        runtime.shutdown().await;

        let runtime = Embedded::builder().store(Arc::new(moving.clone())).build();
        register(&runtime);
        let publish = |seq: u64| {
            let runtime = &runtime;
            async move {
                runtime
                    .publish("orders", &OrderEvent::new("placed", "x", seq, seq))
                    .await
                    .unwrap();
                runtime.settle().await;
            }
        };
        publish(1).await;
        runtime
            .client::<Watcher>("renewed")
            .unwrap()
            .watch(Some(r#"{"total": [{"numeric": [">", 1]}]}"#.into()))
            .call()
            .await
            .unwrap();
        runtime
            .client::<Watcher>("ended")
            .unwrap()
            .stop_watching()
            .call()
            .await
            .unwrap();
        publish(2).await;
        assert_eq!(seen_by(&runtime, "kept").await, vec![1, 2]);
        assert_eq!(seen_by(&runtime, "renewed").await, vec![1, 2], "once each");
        assert_eq!(
            seen_by(&runtime, "ended").await,
            vec![1],
            "ended in v1-to-v2"
        );

        let dry = moving.migrate_mailboxes(true).await.unwrap();
        assert_eq!(dry.subscriptions, 3, "{dry:?}");
        let migration = moving.migrate_mailboxes(false).await.unwrap();
        assert_eq!(migration.subscriptions, 3, "{migration:?}");
        assert_eq!(
            migration.moved, 1,
            "only `kept` had no newer copy: {migration:?}"
        );
        assert_eq!(moving.migrate_mailboxes(true).await.unwrap().found, 0);
        runtime.shutdown().await;

        let v2 = v1.with_key_layout(KeyLayout::V2);
        let runtime = Embedded::builder().store(Arc::new(v2)).build();
        register(&runtime);
        runtime
            .publish("orders", &OrderEvent::new("placed", "x", 3, 3))
            .await
            .unwrap();
        runtime.settle().await;
        assert_eq!(seen_by(&runtime, "kept").await, vec![1, 2, 3]);
        assert_eq!(seen_by(&runtime, "renewed").await, vec![1, 2, 3]);
        assert_eq!(seen_by(&runtime, "ended").await, vec![1]);
    }
}
