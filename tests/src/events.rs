//! Actors that publish and subscribe: a shop publishes order events from its handler,
//! reservations receive placed orders routed by order id, and watchers subscribe one
//! by one with patterns of their own.

use mqless::{Context, Embedded};
use serde::{Deserialize, Serialize};

/// The event of the `orders` topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// `placed`, `cancelled`, ...
    pub kind: String,
    /// The order.
    pub order_id: String,
    /// The order's total.
    pub total: u64,
    /// The publisher's sequence number.
    pub seq: u64,
}

impl OrderEvent {
    /// A `kind` event of order `order_id`.
    pub fn new(kind: &str, order_id: &str, total: u64, seq: u64) -> Self {
        Self {
            kind: kind.into(),
            order_id: order_id.into(),
            total,
            seq,
        }
    }
}

/// An [`OrderEvent`] with padding, to vary the size of events.
#[derive(Debug, Clone, Serialize)]
pub struct PaddedOrderEvent {
    /// `placed`, `cancelled`, ...
    pub kind: String,
    /// The order.
    pub order_id: String,
    /// The order's total.
    pub total: u64,
    /// The publisher's sequence number.
    pub seq: u64,
    /// Padding.
    pub pad: String,
}

/// Gets every placed order, at the actor named by the order's id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Reservation {
    /// The events received, in order.
    pub seen: Vec<OrderEvent>,
}

#[mqless::actor]
impl Reservation {
    /// A placed order.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"kind": ["placed"]}"#,
        route = "order_id"
    )]
    pub fn on_placed(&mut self, event: OrderEvent) {
        self.seen.push(event);
    }
}

/// Subscribes itself to `orders` with a pattern of its own.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Watcher {
    /// The sequence numbers of the events received, in order.
    pub seen: Vec<u64>,
}

#[mqless::actor]
impl Watcher {
    /// Subscribes to the `orders` events matching `pattern` (all without one).
    pub async fn watch(
        &mut self,
        pattern: Option<String>,
        ctx: &mut Context,
    ) -> Result<(), String> {
        ctx.subscribe("orders", pattern.as_deref())
            .await
            .map_err(|e| e.to_string())
    }

    /// Ends the subscription.
    pub async fn stop_watching(&mut self, ctx: &mut Context) -> Result<(), String> {
        ctx.unsubscribe("orders").await.map_err(|e| e.to_string())
    }

    /// An event of the subscription.
    #[subscribe(topic = "orders")]
    pub fn on_order(&mut self, event: OrderEvent) {
        self.seen.push(event.seq);
    }
}

/// A second type that subscribes itself to `orders`, so a fan-out reads the
/// subscriptions of more than one type (in key layout v2, a partition per type).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Auditor {
    /// The sequence numbers of the events received, in order.
    pub seen: Vec<u64>,
}

#[mqless::actor]
impl Auditor {
    /// Subscribes to every `orders` event.
    pub async fn audit(&mut self, ctx: &mut Context) -> Result<(), String> {
        ctx.subscribe("orders", None)
            .await
            .map_err(|e| e.to_string())
    }

    /// An event of the subscription.
    #[subscribe(topic = "orders")]
    pub fn on_order(&mut self, event: OrderEvent) {
        self.seen.push(event.seq);
    }
}

/// Publishes an order event from its handler.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Shop {
    /// Orders placed.
    pub placed: u64,
}

#[mqless::actor]
impl Shop {
    /// Places an order and publishes it; `refuse` makes the handler fail afterwards, so
    /// neither the state change nor the event is committed.
    pub async fn place(
        &mut self,
        order_id: String,
        total: u64,
        refuse: bool,
        ctx: &mut Context,
    ) -> Result<u64, String> {
        self.placed += 1;
        let event = OrderEvent::new("placed", &order_id, total, self.placed);
        ctx.publish("orders", &event)
            .await
            .map_err(|e| e.to_string())?;
        if refuse {
            return Err("refused".into());
        }
        Ok(self.placed)
    }

    /// Publishes a `kind` event of order `order_id` padded with `pad` bytes (watchers
    /// read it as an [`OrderEvent`]); counts as an order placed, for its sequence.
    pub async fn announce(
        &mut self,
        kind: String,
        order_id: String,
        pad: u32,
        ctx: &mut Context,
    ) -> Result<u64, String> {
        self.placed += 1;
        let event = PaddedOrderEvent {
            kind,
            order_id,
            total: self.placed * 10,
            seq: self.placed,
            pad: "p".repeat(pad as usize),
        };
        ctx.publish("orders", &event)
            .await
            .map_err(|e| e.to_string())?;
        Ok(self.placed)
    }

    /// Tries to subscribe, though no method of `Shop` receives `orders`.
    pub async fn subscribe_without_a_method(&mut self, ctx: &mut Context) -> Result<(), String> {
        ctx.subscribe("orders", None)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Registers the event actors with `runtime`.
pub fn register(runtime: &Embedded) {
    runtime.register::<Reservation>().unwrap();
    runtime.register::<Watcher>().unwrap();
    runtime.register::<Auditor>().unwrap();
    runtime.register::<Shop>().unwrap();
}
