//! The events function: the Lambda function that runs topics (drains `mqless-topic/*`
//! actors, fanning events out to their subscribers' mailboxes) and publishes events from
//! AWS sources into them: SQS batches (SNS notifications delivered over SQS unwrapped)
//! and EventBridge events. One `main`:
//!
//! ```no_run
//! # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Stock;
//! # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Purse;
//! # fn doc<Stock: mqless_runtime::Actor, Purse: mqless_runtime::Actor>() -> Result<(), mqless_runtime::aws::LambdaError> {
//! use mqless_runtime::aws::{serve_events, Subscribers};
//! serve_events(Subscribers::new().with::<Stock>().with::<Purse>())
//! # }
//! ```
//!
//! `Subscribers` lists the actor types with routed subscriptions (`#[subscribe(..,
//! route = ..)]`): the function delivers to them. Per-actor subscriptions are read from
//! the table. Publishers' functions reach it through `MQLESS_FUNCTIONS`
//! (`mqless-topic=<this function>`).

use std::sync::Arc;

use serde_json::{json, Value};

use super::function::{ActorFunction, FunctionError, NUDGE_GRACE};
use super::invoker::LambdaInvoker;
use super::manifest::Manifest;
use super::remote::Remote;
use super::sources::{self, SourceEvent, SourcePayload};
use super::{Environment, LambdaError};
use crate::actor::{Actor, ActorClient};
use crate::error::Error;
use crate::events::{encode_event, EventRoutes, Topic, TopicMessage};
use crate::id::MessageId;
use crate::mailbox::DrainConfig;
use crate::runtime::Actors;
use crate::topics::TopicActor;

/// Adds one actor type's routed subscriptions to the routes.
type Declare = fn(&EventRoutes) -> Result<(), Error>;

/// The actor types whose routed subscriptions an events function delivers.
#[derive(Default)]
pub struct Subscribers {
    declare: Vec<Declare>,
    types: Vec<&'static str>,
}

impl std::fmt::Debug for Subscribers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.types).finish()
    }
}

impl Subscribers {
    /// No types yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds actor type `A`.
    #[must_use]
    pub fn with<A: Actor>(mut self) -> Self {
        self.declare
            .push(|routes| routes.declare(A::TYPE_NAME, A::SUBSCRIPTIONS));
        self.types.push(A::TYPE_NAME);
        self
    }

    /// The types' names.
    #[must_use]
    pub fn types(&self) -> &[&'static str] {
        &self.types
    }
}

/// Runs the events function: sets up logs as [`super::serve`] does, builds a tokio
/// runtime and serves invocations until the process ends.
///
/// # Errors
/// When the configuration is invalid or the Lambda runtime API fails.
pub fn serve_events(subscribers: Subscribers) -> Result<(), LambdaError> {
    if Manifest::events(&subscribers).print_if_asked() {
        return Ok(());
    }
    lambda_runtime::tracing::init_default_subscriber();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_events(subscribers))
}

/// [`serve_events`] inside an existing tokio runtime.
///
/// # Errors
/// As [`serve_events`].
pub async fn run_events(subscribers: Subscribers) -> Result<(), LambdaError> {
    if Manifest::events(&subscribers).print_if_asked() {
        return Ok(());
    }
    let environment = Environment::load().await?;
    let function = Arc::new(EventsFunction::new(&environment, &subscribers)?);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| {
            let function = Arc::clone(&function);
            async move {
                function
                    .handle(&event.payload, event.context.deadline)
                    .await
                    .map_err(FunctionError)
            }
        },
    ))
    .await
}

/// The events function: runs the topics and publishes events that come from AWS (see
/// [`serve_events`] and docs/guide/events.md, "Events from AWS").
pub struct EventsFunction {
    topics: ActorFunction<TopicActor>,
    /// Publishes to the topics; its nudges (of this very function) run detached, like
    /// a handler's, or the invocation would wait for itself.
    remote: Remote,
    nudges: LambdaInvoker,
    /// `MQLESS_EVENTS_TOPIC`: where events that name no topic go.
    default_topic: Option<Topic>,
}

impl std::fmt::Debug for EventsFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsFunction")
            .field("default_topic", &self.default_topic)
            .finish_non_exhaustive()
    }
}

impl EventsFunction {
    /// The function over `environment`'s table and functions, delivering the routed
    /// subscriptions of `subscribers`.
    ///
    /// # Errors
    /// [`Error::InvalidPattern`] or [`Error::InvalidTopic`] in a subscription, an
    /// invalid `MQLESS_EVENTS_TOPIC`.
    pub fn new(environment: &Environment, subscribers: &Subscribers) -> Result<Self, Error> {
        let routes = Arc::new(EventRoutes::new(Arc::new(environment.store())));
        for declare in &subscribers.declare {
            declare(&routes)?;
        }
        let default_topic = match std::env::var("MQLESS_EVENTS_TOPIC") {
            Ok(name) if !name.is_empty() => Some(Topic::new(name)?),
            _ => None,
        };
        let nudges = environment.invoker().detached();
        Ok(Self {
            topics: ActorFunction::new(environment, DrainConfig::default())?.with_events(routes),
            remote: Remote::new(
                environment.store(),
                nudges.clone(),
                crate::codec::Limits::DEFAULT,
            ),
            nudges,
            default_topic,
        })
    }

    /// Handles one invocation: an SQS batch (answering `batchItemFailures`, so only the
    /// records that failed are retried), a batch of a Kinesis or DynamoDB stream's shard
    /// (in order, up to the first record that fails), an EventBridge event, or a
    /// topic's drain.
    ///
    /// # Errors
    /// For an EventBridge event that cannot be published (Lambda retries it), and as
    /// [`ActorFunction::handle`] for drains.
    pub async fn handle(&self, payload: &Value, deadline_millis: u64) -> Result<Value, Error> {
        let answer = match sources::classify(payload) {
            SourcePayload::Sqs(records) => self.publish_sqs(records).await,
            SourcePayload::Kinesis(records) => {
                self.publish_stream(records, sources::kinesis_record).await
            }
            SourcePayload::DynamoDbStream(records) => {
                self.publish_stream(records, sources::dynamodb_record).await
            }
            SourcePayload::EventBridge(event) => {
                let source = sources::eventbridge(event).map_err(Error::InvalidEvent)?;
                // The answer names the event by its idempotency key: the same for every
                // delivery of it (a redelivery's message is a duplicate, never run).
                let key = source.key.clone();
                let published = self.publish(source).await;
                self.nudges.flush(NUDGE_GRACE).await;
                published?;
                return Ok(json!({ "published": key }));
            }
            SourcePayload::Other => return self.topics.handle(payload, deadline_millis).await,
        };
        self.nudges.flush(NUDGE_GRACE).await;
        Ok(answer)
    }

    /// Publishes an SQS batch record by record, answering `batchItemFailures`. From a
    /// FIFO queue (its records carry a `MessageGroupId`), the first failure stops the
    /// batch: it and every record after it are reported failed, as AWS asks, so that
    /// SQS hands them back in their groups' order.
    async fn publish_sqs(&self, records: &[Value]) -> Value {
        let fifo = records
            .first()
            .is_some_and(|record| record.pointer("/attributes/MessageGroupId").is_some());
        let mut failures = Vec::new();
        for record in records {
            let id = sources::sqs_message_id(record);
            if fifo && !failures.is_empty() {
                failures.push(json!({ "itemIdentifier": id }));
                continue;
            }
            let published = match sources::sqs_record(record) {
                Ok(source) => self.publish(source).await,
                Err(why) => Err(Error::InvalidEvent(why)),
            };
            if let Err(error) = published {
                tracing::warn!(message_id = id, %error, "an SQS record was not published; SQS retries it (and then moves it to the queue's dead-letter queue)");
                failures.push(json!({ "itemIdentifier": id }));
            }
        }
        json!({ "batchItemFailures": failures })
    }

    /// Publishes a shard's batch in order and stops at the first record that fails,
    /// answering its sequence number in `batchItemFailures`: Lambda resumes the shard
    /// there, so the records after it are published after it, never before. A record
    /// that keeps failing goes, after the mapping's retries, to its on-failure
    /// destination.
    async fn publish_stream(
        &self,
        records: &[Value],
        decode: fn(&Value) -> Result<SourceEvent, String>,
    ) -> Value {
        for record in records {
            let published = match decode(record) {
                Ok(source) => self.publish(source).await,
                Err(why) => Err(Error::InvalidEvent(why)),
            };
            if let Err(error) = published {
                let sequence_number = sources::sequence_number(record);
                tracing::warn!(sequence_number, %error, "a stream record was not published; Lambda retries the shard from it (and then hands it to the mapping's on-failure destination)");
                return json!({ "batchItemFailures": [{ "itemIdentifier": sequence_number }] });
            }
        }
        json!({ "batchItemFailures": [] })
    }

    /// Publishes `source`'s event to its topic, its source id as the idempotency key: a
    /// message the source delivers again is published once (within the topic's dedupe
    /// window of its last 128 keys).
    async fn publish(&self, source: SourceEvent) -> Result<MessageId, Error> {
        let topic = match source.topic {
            Some(name) => Topic::new(name)?,
            None => self.default_topic.clone().ok_or_else(|| {
                Error::InvalidEvent("it names no topic: set the message attribute `topic`, publish MEGA events with an `event.domain`, or set MQLESS_EVENTS_TOPIC on the events function".into())
            })?,
        };
        let event = encode_event(&source.event, &crate::codec::Limits::DEFAULT)?;
        let client = self.remote.client::<TopicActor>(topic.as_str())?;
        client
            .core()
            .request::<_, (), String>(&TopicMessage::publish(event))
            .idempotency_key(source.key)
            .send()
            .await
    }
}
