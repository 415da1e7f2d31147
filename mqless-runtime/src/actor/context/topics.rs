//! Publishing and subscribing from a handler: sends to topics' actors, committed with
//! the batch like any send.

use super::Context;
use crate::actor::client::{SendOptions, Transport};
use crate::error::Error;
use crate::id::{Address, MessageId};

impl Context {
    /// Publishes `event` to `topic` when this handler succeeds, committed atomically
    /// with its state change like a send: every subscription whose pattern matches gets
    /// it once, in the order this actor published. `event` must serialize as an object
    /// (a struct or a map), whose fields patterns match.
    ///
    /// ```
    /// # #[derive(serde::Serialize)] struct OrderPlaced { order_id: String, total: u64 }
    /// # async fn place(ctx: &mut mqless_runtime::Context) -> Result<(), mqless_runtime::Error> {
    /// ctx.publish("orders", &OrderPlaced { order_id: "o-1".into(), total: 250 }).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidTopic`], [`Error::InvalidEvent`] (not an object), an oversized
    /// event ([`Error::Codec`]), [`Error::SendFromQuery`] in a `.query()`,
    /// [`Error::HandlerReturned`] after the handler returned.
    pub async fn publish<E: serde::Serialize + ?Sized>(
        &self,
        topic: &str,
        event: &E,
    ) -> Result<MessageId, Error> {
        let to = crate::events::topic_address(topic)?;
        let event = crate::events::encode_event(event, &self.outbox.limits)?;
        let body = crate::codec::encode(
            &crate::events::TopicMessage::publish(event),
            "message",
            self.outbox.limits.max_message_bytes,
        )?;
        self.send_body(&to, body).await
    }

    /// Subscribes this actor to `topic`'s events that match `pattern` (an EventBridge
    /// event pattern; `None`: every event), when this handler succeeds: they call the
    /// method of this actor type marked `#[subscribe(topic = "..")]` without a `route`.
    /// Subscribing again replaces the pattern. Committed with the batch, like a send: in
    /// key layout v2 the commit writes the subscription itself (in this actor type's
    /// partition of the topic's subscriptions, which only its function may write), and
    /// it takes effect with the commit; elsewhere the commit sends it to the topic,
    /// where it takes effect in the topic's order.
    ///
    /// # Errors
    /// [`Error::NoSubscriberMethod`] when no method of this type takes the topic's
    /// events one actor at a time, [`Error::InvalidPattern`], [`Error::InvalidTopic`],
    /// and the errors of a send.
    pub async fn subscribe(&self, topic: &str, pattern: Option<&str>) -> Result<(), Error> {
        let subscription = self.subscription_method(topic)?;
        if let Some(pattern) = pattern {
            crate::events::Pattern::parse(pattern)
                .map_err(|e| Error::InvalidPattern(e.to_string()))?;
        }
        if self.outbox.subscription_writers.subscribers_commit() {
            return self.commit_subscription(topic, subscription, pattern, true);
        }
        let message = crate::events::TopicMessage::Subscribe {
            subscriber: self.address.to_string(),
            method: subscription.method.to_owned(),
            argument: subscription.argument.to_owned(),
            pattern: pattern.map(str::to_owned),
        };
        self.send_topic_message(topic, &message).await
    }

    /// Ends this actor's subscription to `topic` when this handler succeeds. Events the
    /// topic fans out after that (including ones published earlier but not yet fanned
    /// out) do not reach it.
    ///
    /// # Errors
    /// As [`Context::subscribe`].
    pub async fn unsubscribe(&self, topic: &str) -> Result<(), Error> {
        let subscription = self.subscription_method(topic)?;
        if self.outbox.subscription_writers.subscribers_commit() {
            return self.commit_subscription(topic, subscription, None, false);
        }
        let message = crate::events::TopicMessage::Unsubscribe {
            subscriber: self.address.to_string(),
            method: subscription.method.to_owned(),
        };
        self.send_topic_message(topic, &message).await
    }

    /// Records a subscription this handler makes (`subscribed`) or ends, for its
    /// commit to write; a later one of the same topic replaces it.
    fn commit_subscription(
        &self,
        topic: &str,
        subscription: crate::events::Subscription,
        pattern: Option<&str>,
        subscribed: bool,
    ) -> Result<(), Error> {
        let to = crate::events::topic_address(topic)?;
        let change = crate::store::SubscriptionChange {
            topic: to.clone(),
            record: crate::store::SubscriptionRecord {
                subscriber: (*self.address).clone(),
                method: subscription.method.to_owned(),
                argument: subscription.argument.to_owned(),
                pattern: pattern.map(str::to_owned),
            },
            subscribed,
        };
        let mut state = self.outbox.open_for(&to)?;
        state.subscriptions.retain(|c| c.topic != change.topic);
        state.subscriptions.push(change);
        Ok(())
    }

    /// The method of this actor type that takes `topic`'s events one actor at a time.
    fn subscription_method(&self, topic: &str) -> Result<crate::events::Subscription, Error> {
        self.outbox
            .subscriptions
            .iter()
            .find(|s| s.topic == topic && s.route.is_none())
            .copied()
            .ok_or_else(|| Error::NoSubscriberMethod {
                actor_type: self.address.actor_type().to_string(),
                topic: topic.to_owned(),
            })
    }

    async fn send_topic_message(
        &self,
        topic: &str,
        message: &crate::events::TopicMessage,
    ) -> Result<(), Error> {
        let to = crate::events::topic_address(topic)?;
        let body = crate::codec::encode(message, "message", self.outbox.limits.max_message_bytes)?;
        self.send_body(&to, body).await.map(drop)
    }

    /// Sends an encoded message body to `to` as part of this batch.
    pub(crate) async fn send_body(&self, to: &Address, body: Vec<u8>) -> Result<MessageId, Error> {
        self.outbox
            .enqueue(to, body, &SendOptions::default(), false)
            .await
    }

    /// Leaves the message being handled at the head of this actor's mailbox, under its
    /// own id, with `body` as its new body, when this handler succeeds: the next step
    /// of a job that spans several commits and must run before anything queued after it
    /// (a topic's fan-out, whose events reach each subscriber in publish order). The
    /// batch ends with this message; the next one handles it again.
    pub(crate) fn continue_with(&self, body: Vec<u8>) -> Result<(), Error> {
        let limits = self.outbox.limits;
        if body.len() > limits.max_message_bytes {
            return Err(crate::error::CodecError::TooLarge {
                what: "continued message",
                size: body.len(),
                limit: limits.max_message_bytes,
            }
            .into());
        }
        self.outbox.open_for(&self.address)?.continued = Some(body);
        Ok(())
    }

    /// What topics fan out to, in a host that runs topics.
    pub(crate) fn events(&self) -> Option<&crate::events::EventRoutes> {
        self.outbox.events.as_deref()
    }
}
