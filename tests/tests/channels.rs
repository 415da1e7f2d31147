//! Emissions delivered by `aws::AwsEmitter` to real service APIs on moto's server (which
//! `scripts/local-aws` starts): an SQS queue (named by its ARN), an SQS FIFO queue (by its
//! URL) (group = the actor,
//! deduplication id = the emission's id: a repeated delivery is dropped), an SNS topic
//! with an SQS subscription, and an EventBridge bus with a rule targeting a queue. What
//! arrives is read back through the SDK as a consumer would. A queue that does not exist
//! turns the emission into an `undeliverable` dead letter that names the service's error.

use std::sync::Arc;
use std::time::Duration;

use mqless::aws::aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use mqless::aws::{aws_sdk_eventbridge, aws_sdk_sns, aws_sdk_sqs, AwsEmitter, Channels, Target};
use mqless::events::{Emitter, MegaEvent, Payload};
use mqless::recovery::DeadLetterKind;
use mqless::Embedded;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Shop {
    orders: u32,
}

#[mqless::actor(emits_to("orders", "ledger", "shipping", "bus"))]
impl Shop {
    /// Emits order `n` to every kind of target.
    pub fn order(&mut self, n: u32, ctx: &mut mqless::Context) -> Result<(), String> {
        self.orders += 1;
        let emit = |channel: &str, payload: Payload| {
            ctx.emit(channel, payload)
                .map(drop)
                .map_err(|e| e.to_string())
        };
        emit(
            "orders",
            Payload::json(&json!({"n": n})).map_err(|e| e.to_string())?,
        )?;
        emit("ledger", Payload::plaintext(format!("order {n}")))?;
        let confirmed = MegaEvent::recognize(&json!({
            "protocol": "mega", "version": 1,
            "event": {"name": "order.confirmed", "domain": "orders", "subject": format!("o-{n}")}
        }))
        .ok_or("not MEGA")?;
        emit("shipping", Payload::mega(confirmed))?;
        emit(
            "bus",
            Payload::json(&json!({"n": n})).map_err(|e| e.to_string())?,
        )
    }

    /// Emits to a queue that does not exist.
    pub fn lost(&mut self, ctx: &mut mqless::Context) -> Result<(), String> {
        ctx.emit("missing", Payload::plaintext("nobody"))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

struct Moto {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    eventbridge: aws_sdk_eventbridge::Client,
}

impl Moto {
    async fn queue(&self, name: &str, fifo: bool) -> (String, String) {
        let mut create = self.sqs.create_queue().queue_name(name);
        if fifo {
            create = create.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let url = create.send().await.unwrap().queue_url().unwrap().to_owned();
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let arn = attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
        (url, arn)
    }

    /// The next `n` messages of `url` (body, `mqless-emission`, group id), in order.
    async fn receive(&self, url: &str, n: usize) -> Vec<(String, String, Option<String>)> {
        let mut got = Vec::new();
        for _ in 0..20 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
                .send()
                .await
                .unwrap();
            for message in out.messages() {
                let id = message
                    .message_attributes()
                    .and_then(|a| a.get("mqless-emission"))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned();
                let group = message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                    .cloned();
                got.push((message.body().unwrap_or_default().to_owned(), id, group));
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            if got.len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        got
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emissions_reach_sqs_sns_and_eventbridge_on_moto() {
    mqless_tests::requires_local_aws!();
    mqless_tests::local_aws::configure();
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_SQS").is_some(),
        "AWS_ENDPOINT_URL_SQS is not set: run under `scripts/local-aws` (moto's server), never against AWS"
    );
    let sdk = mqless::aws::load_config().await;
    let moto = Moto {
        sqs: aws_sdk_sqs::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        eventbridge: aws_sdk_eventbridge::Client::new(&sdk),
    };
    let run = mqless::MessageId::generate(1, None)
        .to_string()
        .to_lowercase();
    let (orders, orders_arn) = moto.queue(&format!("orders-{run}"), false).await;
    let (ledger, _) = moto.queue(&format!("ledger-{run}.fifo"), true).await;
    // SNS, read through a subscribed queue.
    let (shipped, shipped_arn) = moto.queue(&format!("shipped-{run}"), false).await;
    let topic = moto
        .sns
        .create_topic()
        .name(format!("shipping-{run}"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    moto.sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&shipped_arn)
        .send()
        .await
        .unwrap();
    // EventBridge, read through a rule's queue target.
    let (events, events_arn) = moto.queue(&format!("events-{run}"), false).await;
    let bus = moto
        .eventbridge
        .create_event_bus()
        .name(format!("bus-{run}"))
        .send()
        .await
        .unwrap()
        .event_bus_arn()
        .unwrap()
        .to_owned();
    moto.eventbridge
        .put_rule()
        .name(format!("mqless-{run}"))
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": [{"prefix": "mqless."}]}"#)
        .send()
        .await
        .unwrap();
    moto.eventbridge
        .put_targets()
        .rule(format!("mqless-{run}"))
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&events_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // By ARN, as `mqless template` passes queues: resolved to the URL once.
    let missing = orders_arn.replace(&format!("orders-{run}"), "nowhere");

    let channels = Channels::new()
        .with("orders", Target::parse(&orders_arn).unwrap())
        .unwrap()
        .with("ledger", Target::parse(&ledger).unwrap())
        .unwrap()
        .with("shipping", Target::parse(&topic).unwrap())
        .unwrap()
        .with("bus", Target::parse(&bus).unwrap())
        .unwrap()
        .with("missing", Target::parse(&missing).unwrap())
        .unwrap();
    let emitter = Arc::new(AwsEmitter::new(&sdk, channels));
    let runtime = Embedded::builder().emitter(emitter.clone()).build();
    runtime.register::<Shop>().unwrap();
    let shop = runtime.client::<Shop>("s-1").unwrap();
    shop.order(1).call().await.unwrap();
    shop.order(2).call().await.unwrap();
    runtime.settle().await;

    // SQS: the payload as JSON text, the emission's id beside it.
    let got = moto.receive(&orders, 2).await;
    let bodies: Vec<Value> = got
        .iter()
        .map(|m| serde_json::from_str(&m.0).unwrap())
        .collect();
    assert_eq!(bodies, [json!({"n": 1}), json!({"n": 2})]);
    assert!(got.iter().all(|m| m.1.len() == 26), "{got:?}");

    // SQS FIFO: grouped by the actor, deduplicated by the emission's id.
    let got = moto.receive(&ledger, 2).await;
    let texts: Vec<&str> = got.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(texts, ["order 1", "order 2"]);
    assert!(
        got.iter().all(|m| m.2.as_deref() == Some("Shop/s-1")),
        "{got:?}"
    );
    // A delivery repeated (after a crash cut a cleanup short) is dropped by the queue.
    // moto deduplicates against the messages still queued (AWS: for five minutes), so
    // both deliveries come before the read.
    let repeated = mqless::events::Emission {
        id: mqless::MessageId::generate(1, None),
        channel: "ledger".into(),
        payload: Payload::plaintext("once"),
    };
    let from = mqless::id::Address::parse("Shop/s-1").unwrap();
    emitter.emit(&from, &repeated).await.unwrap();
    emitter.emit(&from, &repeated).await.unwrap();
    let got = moto.receive(&ledger, 2).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, repeated.id.to_string());

    // SNS: the notification's `Message` is the MEGA event as JSON, its version a number.
    let got = moto.receive(&shipped, 2).await;
    let messages: Vec<Value> = got
        .iter()
        .map(|m| {
            let notification: Value = serde_json::from_str(&m.0).unwrap();
            serde_json::from_str(notification["Message"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(messages.len(), 2, "{got:?}");
    assert_eq!(messages[1]["event"]["subject"], "o-2");
    assert_eq!(messages[0]["version"], 1);

    // EventBridge: source, detail type and detail, the emission named in `resources`.
    let got = moto.receive(&events, 2).await;
    let events: Vec<Value> = got
        .iter()
        .map(|m| serde_json::from_str(&m.0).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{got:?}");
    assert_eq!(events[0]["source"], "mqless.Shop");
    assert_eq!(events[0]["detail-type"], "bus");
    assert_eq!(events[1]["detail"], json!({"n": 2}));
    assert!(
        events[0]["resources"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("mqless:Shop/s-1/")),
        "{events:?}"
    );

    // A queue that does not exist: a dead letter naming the service's error.
    shop.lost().call().await.unwrap();
    runtime.settle().await;
    let letters = runtime
        .dead_letters::<Shop>("s-1")
        .unwrap()
        .list()
        .await
        .unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].kind, DeadLetterKind::Undeliverable);
    assert!(
        letters[0].error.contains("channel `missing`") && letters[0].error.contains("Queue"),
        "{}",
        letters[0].error
    );
}
