//! The topic actor: an actor of the built-in type [`TOPIC_TYPE`] that records
//! publishes and subscriptions and fans each event out in steps. What it understands
//! ([`TopicMessage`]) and how events are encoded live in [`crate::events`], below the
//! actor layer, so that handlers can publish; this module is the actor itself.

use serde::{Deserialize, Serialize};

use crate::actor::client::ClientCore;
use crate::actor::{Actor, ActorClient, Context, Outcome};
use crate::error::CodecError;
use crate::events::{delivery_body, event_json, routed_id, TopicMessage, TOPIC_TYPE};
use crate::id::{ActorId, Address};
use crate::store::{SubscriptionRecord, ITEM_OVERHEAD_BYTES, MAX_TRANSACTION_BYTES};
use crate::BoxFuture;

/// Deliveries per fan-out step at most: with the message carrying the fan-out on, and
/// the topic's own record, a step stays inside one DynamoDB transaction (100 items) and
/// the engine's 49 sends per message.
pub const MAX_DELIVERIES_PER_STEP: usize = 40;

/// The state of a topic actor: what it has done, for operators (`mqless actors show
/// mqless-topic <topic>`).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicActor {
    /// Events published to the topic and fanned out.
    pub published: u64,
    /// Deliveries made (one per matching subscriber per event).
    pub delivered: u64,
    /// Events whose routed subscription's `route` field was missing or not a string or
    /// number: those subscriptions did not receive them.
    pub unroutable: u64,
}

/// Where a fan-out's next step starts.
struct Cursor {
    after: Option<String>,
    routed_done: bool,
    routed_next: u32,
}

/// A client of a topic actor.
#[derive(Debug, Clone)]
pub struct TopicClient {
    core: ClientCore,
}

impl ActorClient for TopicClient {
    fn from_core(core: ClientCore) -> Self {
        Self { core }
    }
    fn core(&self) -> &ClientCore {
        &self.core
    }
}

impl Actor for TopicActor {
    const TYPE_NAME: &'static str = TOPIC_TYPE;
    type Message = TopicMessage;
    type Client = TopicClient;

    fn handle<'a>(
        &'a mut self,
        message: TopicMessage,
        ctx: &'a mut Context,
    ) -> BoxFuture<'a, Result<Outcome, CodecError>> {
        Box::pin(async move {
            let result = match message {
                TopicMessage::Publish {
                    event,
                    after,
                    routed_done,
                    routed_next,
                } => {
                    let cursor = Cursor {
                        after,
                        routed_done,
                        routed_next,
                    };
                    self.fan_out(event, cursor, ctx).await
                }
                TopicMessage::Subscribe {
                    subscriber,
                    method,
                    argument,
                    pattern,
                } => subscribe(ctx, &subscriber, method, argument, pattern).await,
                TopicMessage::Unsubscribe { subscriber, method } => {
                    unsubscribe(ctx, &subscriber, &method).await
                }
            };
            Outcome::of_result(&result, ctx, Clone::clone)
        })
    }

    fn is_read_only(_: &TopicMessage) -> bool {
        false
    }
}

impl TopicActor {
    /// One step of an event's fan-out: a page of the routed subscriptions' matches,
    /// then a page of per-actor ones. The next step continues this message in place,
    /// committed with this step's deliveries, so the event's fan-out ends before the
    /// next event's begins: each subscriber gets the topic's events in publish order,
    /// whatever the sizes of the events and the steps.
    async fn fan_out(
        &mut self,
        event: Vec<u8>,
        cursor: Cursor,
        ctx: &Context,
    ) -> Result<(), String> {
        let routes = ctx
            .events()
            .ok_or("this host has no event routes (topics run on the embedded runtime and the events function)")?;
        let limits = ctx.limits();
        let json = event_json(&event, &limits).map_err(|e| e.to_string())?;
        let json_text = json.to_string();
        let topic = ctx.id().as_str();
        // Each delivery carries the event: keep a step's transaction under its limit.
        let per_delivery = event.len() + ITEM_OVERHEAD_BYTES + 64;
        let mut room = MAX_DELIVERIES_PER_STEP
            .min((MAX_TRANSACTION_BYTES / 2) / per_delivery)
            .max(1);
        let mut deliveries: Vec<(Address, Vec<u8>)> = Vec::new();
        if !cursor.routed_done {
            let first_step = cursor.routed_next == 0;
            if first_step {
                self.published += 1;
            }
            let routed = self.routed(topic, routes, &json, &json_text, &event, first_step)?;
            let mut rest = routed.into_iter().skip(cursor.routed_next as usize);
            deliveries.extend(rest.by_ref().take(room));
            if rest.next().is_some() {
                // More routed matches than one step holds: the next step goes on with them.
                let routed_next = cursor.routed_next + u32::try_from(room).unwrap_or(u32::MAX);
                let next = Cursor {
                    after: None,
                    routed_done: false,
                    routed_next,
                };
                return self.deliver(ctx, deliveries, Some((event, next))).await;
            }
            if deliveries.len() >= room {
                // Routed subscriptions fill the step: the per-actor ones follow.
                let next = Cursor {
                    after: None,
                    routed_done: true,
                    routed_next: 0,
                };
                return self.deliver(ctx, deliveries, Some((event, next))).await;
            }
            room -= deliveries.len();
        }
        let subscriber_types = routes.subscriber_types(topic);
        let page = retrying(|| {
            routes.store.subscriptions(
                ctx.address(),
                &subscriber_types,
                cursor.after.as_deref(),
                room,
            )
        })
        .await?;
        let patterns = page.subscriptions.iter().map(|s| s.pattern.as_deref());
        let matched = matching(topic, patterns, json_text.as_bytes())?;
        for subscription in select(page.subscriptions, &matched) {
            deliveries.push((
                subscription.subscriber,
                delivery_body(&subscription.method, &subscription.argument, &event),
            ));
        }
        let next = page.next.map(|after| {
            let next = Cursor {
                after: Some(after),
                routed_done: true,
                routed_next: 0,
            };
            (event, next)
        });
        self.deliver(ctx, deliveries, next).await
    }

    /// The deliveries of the routed subscriptions that `event` matches, in the order
    /// they are declared (the same in every step of one deployment); `count` the
    /// events no route reaches once, in the first step.
    fn routed(
        &mut self,
        topic: &str,
        routes: &crate::events::EventRoutes,
        json: &serde_json::Value,
        json_text: &str,
        event: &[u8],
        count: bool,
    ) -> Result<Vec<(Address, Vec<u8>)>, String> {
        let declared = routes.declared_for(topic);
        let patterns = declared.iter().map(|(_, s)| s.pattern);
        let matched = matching(topic, patterns, json_text.as_bytes())?;
        let mut deliveries = Vec::new();
        for (actor_type, subscription) in select(declared, &matched) {
            let route = subscription.route.unwrap_or_default();
            let id = routed_id(json, route).and_then(|id| ActorId::new(id).ok());
            let Some(id) = id else {
                if count {
                    self.unroutable += 1;
                    tracing::warn!(topic, actor_type = %actor_type, method = subscription.method, route, "the event has no valid actor id at its route field; this subscription does not receive it");
                }
                continue;
            };
            deliveries.push((
                Address::new(actor_type, id),
                delivery_body(subscription.method, subscription.argument, event),
            ));
        }
        Ok(deliveries)
    }

    /// Sends the deliveries, and continues this message with the next step when there
    /// is one.
    async fn deliver(
        &mut self,
        ctx: &Context,
        deliveries: Vec<(Address, Vec<u8>)>,
        next: Option<(Vec<u8>, Cursor)>,
    ) -> Result<(), String> {
        for (to, body) in deliveries {
            ctx.send_body(&to, body).await.map_err(|e| e.to_string())?;
            self.delivered += 1;
        }
        if let Some((event, cursor)) = next {
            let step = TopicMessage::Publish {
                event,
                after: cursor.after,
                routed_done: cursor.routed_done,
                routed_next: cursor.routed_next,
            };
            let body =
                crate::codec::encode(&step, "message", usize::MAX).map_err(|e| e.to_string())?;
            ctx.continue_with(body).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Which of `patterns` (`None`: every event) `event` (JSON) matches, by position: one
/// matcher for them all, so a page costs one pass over the event. A pattern that no
/// longer parses (written past MQLess) is skipped with a warning rather than failing
/// the step, so one bad subscription never holds up the others.
fn matching<'p>(
    topic: &str,
    patterns: impl Iterator<Item = Option<&'p str>>,
    event: &[u8],
) -> Result<Vec<bool>, String> {
    let mut matched = Vec::new();
    let mut matcher = mqless_pattern::Matcher::new();
    for (index, pattern) in patterns.enumerate() {
        matched.push(pattern.is_none());
        let Some(pattern) = pattern else { continue };
        match mqless_pattern::Pattern::parse(pattern) {
            Ok(pattern) => matcher.add(index, &pattern).map_err(|e| e.to_string())?,
            Err(error) => {
                tracing::warn!(topic, %error, "a subscription's pattern does not parse; it receives nothing until it is subscribed again");
            }
        }
    }
    for index in matcher.matches(event).map_err(|e| e.to_string())? {
        matched[index] = true;
    }
    Ok(matched)
}

/// The items whose flag in `matched` is set, in order.
fn select<T>(items: Vec<T>, matched: &[bool]) -> Vec<T> {
    items
        .into_iter()
        .zip(matched)
        .filter_map(|(item, &matched)| matched.then_some(item))
        .collect()
}

/// Refuses a subscribe or unsubscribe message where subscribers commit their own
/// subscriptions: any sender to the topic could have named any subscriber.
fn refuse_where_subscribers_commit(routes: &crate::events::EventRoutes) -> Result<(), String> {
    if !routes.store.subscription_writers().topics_take_messages() {
        return Err("this table keeps subscriptions apart (key layout v2): an actor subscribes from its own handler (`ctx.subscribe`), whose commit writes the subscription; a subscribe or unsubscribe message to the topic is refused, as its sender could name any subscriber".to_owned());
    }
    Ok(())
}

async fn subscribe(
    ctx: &Context,
    subscriber: &str,
    method: String,
    argument: String,
    pattern: Option<String>,
) -> Result<(), String> {
    let routes = ctx.events().ok_or("this host has no event routes")?;
    refuse_where_subscribers_commit(routes)?;
    if let Some(pattern) = &pattern {
        mqless_pattern::Pattern::parse(pattern).map_err(|e| e.to_string())?;
    }
    let record = SubscriptionRecord {
        subscriber: Address::parse(subscriber).map_err(|e| e.to_string())?,
        method,
        argument,
        pattern,
    };
    routes
        .store
        .write_subscription(
            ctx.address(),
            &record.key(),
            Some(&record),
            ctx.message_id(),
        )
        .await
        .map_err(|e| e.to_string())
}

async fn unsubscribe(ctx: &Context, subscriber: &str, method: &str) -> Result<(), String> {
    let routes = ctx.events().ok_or("this host has no event routes")?;
    refuse_where_subscribers_commit(routes)?;
    let key = SubscriptionRecord::key_of(
        &Address::parse(subscriber).map_err(|e| e.to_string())?,
        method,
    );
    retrying(|| {
        routes
            .store
            .write_subscription(ctx.address(), &key, None, ctx.message_id())
    })
    .await
}

/// Runs a store call of the topic's handler, retrying transient failures (throttling,
/// a store that is briefly unavailable) with backoff for about 3 s: the handler's `Err`
/// would dead-letter the step. Deterministic failures return at once. The calls are
/// reads and idempotent writes, so a retry after an ambiguous failure is safe.
async fn retrying<T, F>(mut call: impl FnMut() -> F) -> Result<T, String>
where
    F: std::future::Future<Output = Result<T, crate::error::StoreError>>,
{
    let mut pause = std::time::Duration::from_millis(50);
    for _ in 0..6 {
        match call().await {
            Err(error) if error.is_retryable() => {
                tracing::warn!(%error, "a topic's store call failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done.map_err(|e| e.to_string()),
        }
    }
    call().await.map_err(|e| e.to_string())
}
