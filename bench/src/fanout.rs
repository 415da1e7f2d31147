//! Scenario 7: publish/subscribe fan-out on DynamoDB. One event published to a topic
//! with N per-actor subscribers, delivered to all of them (each subscriber's drain
//! included), beside the baseline of one send per subscriber from a client. Write and
//! read units per delivered event, and the time from the publish to the last handled
//! delivery (handlers in this process, DynamoDB Local: compare the two rows, not the
//! absolute times).

use std::sync::Arc;
use std::time::Instant;

use mqless::aws::dynamodb::DynamoStore;
use mqless::events::{Topic, TopicActor};
use mqless::store::{Store, SubscriptionRecord};
use mqless::{Actors, Embedded, MessageId};
use serde::{Deserialize, Serialize};

use crate::dynamodb::fresh_store;
use crate::report::{cells, ensure, Table};
use crate::BenchError;

/// The event: about 200 bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    kind: String,
    note: String,
}

/// A subscriber: counts what it receives.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Follower {
    received: u64,
}

#[mqless::actor]
impl Follower {
    /// An event of the followed topic.
    #[subscribe(topic = "bench")]
    pub fn on_event(&mut self, event: Published) {
        let _ = event;
        self.received += 1;
    }
}

/// Units and time of delivering one event to every subscriber.
struct Delivery {
    write: f64,
    read: f64,
    millis: u128,
}

/// Subscribes `subscribers` followers to `topic` by writing their subscriptions (setup,
/// not measured; `ctx.subscribe` writes the same items through the topic).
async fn subscribe_all(
    store: &DynamoStore,
    topic: &Topic,
    prefix: &str,
    subscribers: usize,
) -> Result<(), BenchError> {
    let address = topic.address()?;
    let mut tasks = Vec::new();
    for chunk in (0..subscribers).collect::<Vec<_>>().chunks(200) {
        let (store, address, prefix, chunk) = (
            store.clone(),
            address.clone(),
            prefix.to_owned(),
            chunk.to_vec(),
        );
        tasks.push(tokio::spawn(async move {
            for i in chunk {
                let record = SubscriptionRecord {
                    subscriber: mqless::id::Address::parse(&format!("Follower/{prefix}{i}"))?,
                    method: "on_event".into(),
                    argument: "event".into(),
                    pattern: Some(r#"{"kind": ["tick"]}"#.into()),
                };
                let by = MessageId::generate(1_000_000_000_000, None);
                store
                    .write_subscription(&address, &record.key(), Some(&record), by)
                    .await?;
            }
            Ok::<_, BenchError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn check_received(
    runtime: &Embedded,
    prefix: &str,
    subscribers: usize,
) -> Result<(), BenchError> {
    // Every 100th subscriber, and the last: reading all would dominate the run.
    for i in (0..subscribers).step_by(100).chain([subscribers - 1]) {
        let follower = runtime.state::<Follower>(format!("{prefix}{i}")).await?;
        ensure(
            follower.is_some_and(|f| f.received == 1),
            format!("subscriber {prefix}{i} received the event once"),
        )?;
    }
    Ok(())
}

/// One publish to `subscribers` per-actor subscribers.
async fn publish_once(
    store: &DynamoStore,
    runtime: &Embedded,
    subscribers: usize,
) -> Result<Delivery, BenchError> {
    let topic = Topic::new(format!("bench-{subscribers}"))?;
    let prefix = format!("pub{subscribers}-");
    subscribe_all(store, &topic, &prefix, subscribers).await?;
    let event = Published {
        kind: "tick".into(),
        note: "n".repeat(180),
    };
    let before = store.capacity();
    let started = Instant::now();
    runtime.publish(topic.as_str(), &event).await?;
    runtime.settle().await;
    let millis = started.elapsed().as_millis();
    let used = store.capacity() - before;
    let state = runtime.state::<TopicActor>(topic.as_str()).await?;
    ensure(
        state.is_some_and(|t| t.delivered == subscribers as u64),
        format!("the topic delivered to all {subscribers} subscribers"),
    )?;
    check_received(runtime, &prefix, subscribers).await?;
    Ok(Delivery {
        write: used.write_units,
        read: used.read_units,
        millis,
    })
}

/// The baseline: a client sends the event to each subscriber.
async fn send_to_each(
    store: &DynamoStore,
    runtime: &Embedded,
    subscribers: usize,
) -> Result<Delivery, BenchError> {
    let prefix = format!("send{subscribers}-");
    let event = Published {
        kind: "tick".into(),
        note: "n".repeat(180),
    };
    let before = store.capacity();
    let started = Instant::now();
    let clients = (0..subscribers)
        .map(|i| runtime.client::<Follower>(format!("{prefix}{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tasks = Vec::new();
    for chunk in clients.chunks(50) {
        let (chunk, event) = (chunk.to_vec(), event.clone());
        tasks.push(tokio::spawn(async move {
            for follower in chunk {
                follower.on_event(event.clone()).send().await?;
            }
            Ok::<_, mqless::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    runtime.settle().await;
    let millis = started.elapsed().as_millis();
    let used = store.capacity() - before;
    check_received(runtime, &prefix, subscribers).await?;
    Ok(Delivery {
        write: used.write_units,
        read: used.read_units,
        millis,
    })
}

/// Publishes one event to topics of each size in `sizes`, beside a client's send to
/// each subscriber, on DynamoDB (handlers in this process).
///
/// # Errors
/// DynamoDB failures, or a subscriber that did not receive the event once.
pub async fn fan_out(sizes: &[usize]) -> Result<Table, BenchError> {
    // The setup writes the subscriptions where key layout v1 keeps them (in key layout
    // v2 only each subscriber's own commit writes its subscription): this table is v1
    // whatever MQLESS_KEY_LAYOUT says.
    let store = fresh_store("fanout")
        .await?
        .with_key_layout(mqless::aws::KeyLayout::V1);
    let runtime = Embedded::builder().store(Arc::new(store.clone())).build();
    runtime.register::<Follower>()?;
    let mut rows = Vec::new();
    for &subscribers in sizes {
        for (design, delivery) in [
            (
                "publish (topic fan-out)",
                publish_once(&store, &runtime, subscribers).await?,
            ),
            (
                "one send per subscriber",
                send_to_each(&store, &runtime, subscribers).await?,
            ),
        ] {
            let per = subscribers as f64;
            rows.push(cells([
                subscribers.to_string(),
                design.into(),
                format!("{:.2}", delivery.write / per),
                format!("{:.2}", delivery.read / per),
                delivery.millis.to_string(),
            ]));
        }
    }
    Ok(Table {
        title: "Fan-out: one event to N per-actor subscribers on DynamoDB (handlers in this process), each delivery handled; units per delivered event".into(),
        header: ["subscribers", "design", "write units/delivery", "read units/delivery", "ms to deliver all"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}
