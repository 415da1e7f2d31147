//! The events function through cargo-lambda's emulator and DynamoDB Local, with the
//! payloads AWS sends it: an SQS batch (a plain record, an SNS notification delivered
//! over SQS, a poison record, a redelivered duplicate, plain text, binary data and BSON
//! as SQS MEGA sends them) is published record by record,
//! only the poison record reported failed; the topic's fan-out (a drain of
//! `mqless-topic/orders` in the same function) delivers to the `Mailer` actors'
//! function. An EventBridge event delivered twice is published once. A Kinesis batch and a
//! DynamoDB Streams batch are published in order up to their poison record, whose
//! sequence number alone is reported, and a redelivered batch is published once.

use std::time::Duration;

use mqless::aws::{Environment, Remote};
use mqless::events::TopicActor;
use mqless::{Actors, MessageId};
use mqless_examples::order_events::{Mailer, OrderEvent};
use mqless_tests::local_aws;
use serde_json::{json, Value};

async fn environment() -> Environment {
    local_aws::lambda_environment().await
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", MessageId::generate(1, None)).to_lowercase()
}

async fn invoke(environment: &Environment, payload: &Value) -> Value {
    let answer = environment
        .invoker()
        .invoke_function(
            "events-function",
            serde_json::to_vec(payload).unwrap(),
            true,
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_slice(&answer).unwrap()
}

fn confirmed(order: &str, buyer: &str) -> String {
    let event = OrderEvent {
        kind: "order.confirmed".into(),
        order_id: order.into(),
        buyer: buyer.into(),
        ..OrderEvent::default()
    };
    serde_json::to_string(&event).unwrap()
}

fn sqs_record(id: &str, body: &str, topic: Option<&str>) -> Value {
    let mut record = json!({
        "messageId": id,
        "receiptHandle": "handle",
        "body": body,
        "attributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:orders",
        "awsRegion": "us-east-1",
    });
    if let Some(topic) = topic {
        record["messageAttributes"] =
            json!({"topic": {"stringValue": topic, "dataType": "String"}});
    }
    record
}

/// Polls until `check` holds (the fan-out and the mailer's drain are asynchronous).
async fn eventually<T>(mut read: impl AsyncFnMut() -> T, check: impl Fn(&T) -> bool) -> T {
    for _ in 0..150 {
        let value = read().await;
        if check(&value) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    read().await
}

async fn mail_of(remote: &Remote, buyer: &str) -> Vec<String> {
    remote
        .state::<Mailer>(buyer)
        .await
        .unwrap()
        .map(|m| m.sent)
        .unwrap_or_default()
}

fn event_of(kind: &str, order: &str, buyer: &str) -> String {
    let event = OrderEvent {
        kind: kind.into(),
        order_id: order.into(),
        buyer: buyer.into(),
        ..OrderEvent::default()
    };
    serde_json::to_string(&event).unwrap()
}

/// A per-actor subscription made through the Mailer's function (in key layout v2 its
/// commit writes it, where only that function may), delivered by the events function,
/// and ended the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_in_a_function_receives_events_until_it_ends() {
    mqless_tests::requires_local_aws!();
    let environment = environment().await;
    let remote = environment.remote();
    let buyer = unique("follower");
    let mailer = remote.client::<Mailer>(buyer.as_str()).unwrap();
    mailer
        .follow(vec!["order.shipped".into()])
        .call()
        .await
        .unwrap();
    let publish = |kind: &str, order: &str| json!({"Records": [sqs_record(&unique("m"), &event_of(kind, order, &buyer), Some("orders"))]});
    let followed = async || {
        remote
            .state::<Mailer>(buyer.as_str())
            .await
            .unwrap()
            .map(|m| m.followed)
            .unwrap_or_default()
    };
    invoke(&environment, &publish("order.shipped", "o-1")).await;
    invoke(&environment, &publish("order.delayed", "o-1")).await;
    let seen = eventually(followed, |f| !f.is_empty()).await;
    assert_eq!(seen, ["o-1: order.shipped"], "the kinds it follows only");

    mailer.unfollow().call().await.unwrap();
    invoke(&environment, &publish("order.shipped", "o-2")).await;
    // The marker: an event routed to the same mailer, published after the one it no
    // longer follows, so that once it arrives the other has been fanned out.
    invoke(
        &environment,
        &json!({"Records": [sqs_record(&unique("m"), &confirmed("o-3", &buyer), Some("orders"))]}),
    )
    .await;
    eventually(async || mail_of(&remote, &buyer).await, |m| !m.is_empty()).await;
    assert_eq!(
        followed().await,
        ["o-1: order.shipped"],
        "nothing after it ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_batch_is_published_once_per_record_and_only_the_poison_record_fails() {
    mqless_tests::requires_local_aws!();
    let environment = environment().await;
    let remote = environment.remote();
    let buyer = unique("buyer");
    let (m1, m2, m3) = (unique("m1"), unique("m2"), unique("m3"));
    let sns = json!({
        "Type": "Notification",
        "MessageId": unique("sns"),
        "TopicArn": "arn:aws:sns:us-east-1:000000000000:orders",
        "Message": confirmed("o-2", &buyer),
        "MessageAttributes": {"topic": {"Type": "String", "Value": "orders"}},
    });
    let batch = json!({"Records": [
        sqs_record(&m1, &confirmed("o-1", &buyer), Some("orders")),
        sqs_record(&m2, &sns.to_string(), None),
        // JSON, but not an object: nothing for a pattern to match.
        sqs_record(&m3, "[1, 2]", Some("orders")),
        // SQS delivers at least once: the same message again.
        sqs_record(&m1, &confirmed("o-1", &buyer), Some("orders")),
    ]});
    let answer = invoke(&environment, &batch).await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": m3}]})
    );

    let mail = eventually(async || mail_of(&remote, &buyer).await, |m| m.len() >= 2).await;
    assert_eq!(
        mail,
        ["your order o-1 is confirmed", "your order o-2 is confirmed"],
        "each event once, in the batch's order"
    );
    // The batch again (SQS retries it when the function fails): nothing is delivered twice.
    let answer = invoke(&environment, &batch).await;
    assert_eq!(answer["batchItemFailures"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mail_of(&remote, &buyer).await.len(), 2);
}

/// From a FIFO queue, the first record that fails stops the batch: it and every record
/// after it are reported, so SQS hands them back in their group's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_batch_stops_at_its_first_failure_and_reports_everything_after_it() {
    mqless_tests::requires_local_aws!();
    let environment = environment().await;
    let remote = environment.remote();
    let buyer = unique("buyer");
    let ids: Vec<String> = (1..=4).map(|n| unique(&format!("f{n}"))).collect();
    let fifo = |id: &str, body: &str| {
        let mut record = sqs_record(id, body, Some("orders"));
        record["attributes"] = json!({"MessageGroupId": buyer, "MessageDeduplicationId": id});
        record["eventSourceARN"] = json!("arn:aws:sqs:us-east-1:000000000000:orders.fifo");
        record
    };
    let batch = json!({"Records": [
        fifo(&ids[0], &confirmed("o-1", &buyer)),
        fifo(&ids[1], "[1, 2]"),
        fifo(&ids[2], &confirmed("o-2", &buyer)),
        fifo(&ids[3], &confirmed("o-3", &buyer)),
    ]});
    let answer = invoke(&environment, &batch).await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": [
            {"itemIdentifier": ids[1]}, {"itemIdentifier": ids[2]}, {"itemIdentifier": ids[3]}
        ]})
    );
    let mail = eventually(async || mail_of(&remote, &buyer).await, |m| !m.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail_of(&remote, &buyer).await,
        ["your order o-1 is confirmed"],
        "nothing after the failed record went ahead of it ({mail:?})"
    );
}

/// Plain text, binary data and BSON, as SQS MEGA publishes them, are events too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_binary_and_bson_bodies_are_published_as_sqs_mega_sends_them() {
    use base64::Engine;
    mqless_tests::requires_local_aws!();
    let environment = environment().await;
    let remote = environment.remote();
    let topic = unique("notes");
    let mut document = Vec::new();
    bson::doc! {"order_id": "o-1", "total": 12_i64}
        .to_writer(&mut document)
        .unwrap();
    let bson = base64::engine::general_purpose::STANDARD.encode(document);
    let batch = json!({"Records": [
        sqs_record(&unique("text"), "Hello World!", Some(&topic)),
        sqs_record(&unique("binary"), "AAEC/w==", Some(&topic)),
        sqs_record(&unique("bson"), &bson, Some(&topic)),
    ]});
    let answer = invoke(&environment, &batch).await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let published = eventually(
        async || remote.state::<TopicActor>(topic.clone()).await.unwrap(),
        |t| t.as_ref().is_some_and(|t| t.published >= 3),
    )
    .await;
    assert_eq!(published.map(|t| t.published), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eventbridge_event_delivered_twice_is_published_once() {
    mqless_tests::requires_local_aws!();
    let environment = environment().await;
    let remote = environment.remote();
    let source = unique("shop");
    let event = json!({
        "version": "0",
        "id": unique("event"),
        "detail-type": "OrderConfirmed",
        "source": source,
        "account": "000000000000",
        "time": "2026-12-05T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"order_id": "o-9"},
    });
    let first = invoke(&environment, &event).await;
    let second = invoke(&environment, &event).await;
    let key = format!("eventbridge:{}", event["id"].as_str().unwrap());
    assert_eq!(first["published"], json!(key), "{first}");
    assert_eq!(
        second, first,
        "every delivery is answered with the event's key"
    );
    let topic = eventually(
        async || remote.state::<TopicActor>(source.clone()).await.unwrap(),
        |t| t.is_some(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let topic = remote
        .state::<TopicActor>(source.clone())
        .await
        .unwrap()
        .unwrap_or(topic);
    assert_eq!(
        topic.published, 1,
        "the event's id deduplicates the second delivery"
    );
}

/// A Kinesis record as Lambda delivers it, its data base64.
fn kinesis_record(stream: &str, sequence: u64, data: &[u8]) -> Value {
    use base64::Engine;
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "orders",
            "sequenceNumber": sequence.to_string(),
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "approximateArrivalTimestamp": 1_796_000_000.5
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:{sequence}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::000000000000:role/events",
        "awsRegion": "us-east-1",
        "eventSourceARN": format!("arn:aws:kinesis:us-east-1:000000000000:stream/{stream}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kinesis_batch_is_published_in_order_up_to_its_poison_record() {
    mqless_tests::requires_local_aws!();
    let environment = environment().await;
    let remote = environment.remote();
    let buyer = unique("buyer");
    // Sequence numbers unique to this run: the idempotency key is the record's eventID.
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let records: Vec<Value> = [
        confirmed("o-1", &buyer).into_bytes(),
        confirmed("o-2", &buyer).into_bytes(),
        b"[\"JSON, but not an object\"]".to_vec(),
        confirmed("o-3", &buyer).into_bytes(),
    ]
    .iter()
    .enumerate()
    .map(|(i, data)| kinesis_record("orders", base + i as u64, data))
    .collect();
    let answer = invoke(&environment, &json!({"Records": records})).await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": (base + 2).to_string()}]}),
        "the poison record's sequence number, alone"
    );
    let mail = eventually(async || mail_of(&remote, &buyer).await, |m| m.len() >= 2).await;
    assert_eq!(
        mail,
        ["your order o-1 is confirmed", "your order o-2 is confirmed"]
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail_of(&remote, &buyer).await.len(),
        2,
        "nothing after the poison record was published before it"
    );
    // Lambda resumes the shard at the poison record; once its on-failure destination
    // took it, the shard goes on after it. The whole batch delivered again (a function
    // that timed out) publishes nothing twice.
    let rest = json!({"Records": [records[0].clone(), records[1].clone(), records[3].clone()]});
    let answer = invoke(&environment, &rest).await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let mail = eventually(async || mail_of(&remote, &buyer).await, |m| m.len() >= 3).await;
    assert_eq!(
        mail,
        [
            "your order o-1 is confirmed",
            "your order o-2 is confirmed",
            "your order o-3 is confirmed"
        ]
    );
}

/// A DynamoDB Streams record as Lambda delivers it (view type NEW_AND_OLD_IMAGES).
fn dynamodb_record(table: &str, sequence: u64, order: &str, total: Value) -> Value {
    json!({
        "eventID": format!("{table}-{sequence}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_796_000_000,
            "Keys": {"order_id": {"S": order}},
            "NewImage": {"order_id": {"S": order}, "total": total},
            "SequenceNumber": sequence.to_string(),
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}/stream/2026-12-06T00:00:00.000")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_streams_batch_is_published_to_its_tables_topic_once() {
    mqless_tests::requires_local_aws!();
    let environment = environment().await;
    let remote = environment.remote();
    let table = unique("orders-table");
    let records = [
        dynamodb_record(&table, 100, "o-1", json!({"N": "12"})),
        dynamodb_record(&table, 200, "o-2", json!({"N": "7.5"})),
        // Not an attribute value DynamoDB knows: refused, its sequence number reported.
        dynamodb_record(&table, 300, "o-3", json!({"X": "1"})),
        dynamodb_record(&table, 400, "o-4", json!({"N": "1"})),
    ];
    let batch = json!({"Records": records});
    let answer = invoke(&environment, &batch).await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "300"}]})
    );
    let published = async || {
        remote
            .state::<TopicActor>(table.clone())
            .await
            .unwrap()
            .map_or(0, |topic| topic.published)
    };
    let count = eventually(published, |n| *n >= 2).await;
    assert_eq!(
        count, 2,
        "the records before the poison one, to the table's topic"
    );
    // Delivered again: the eventIDs deduplicate.
    invoke(&environment, &batch).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(published().await, 2);
}
