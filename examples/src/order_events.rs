//! The order saga as events: no actor names another, and two services outside MQLess
//! take part. An `OrderDesk` publishes `order.placed` to the `orders` topic; the
//! `Stock` of the item reserves it (`stock.reserved` or `stock.refused`); the payment
//! service, outside MQLess, charges the buyer and reports `payment.settled` or
//! `payment.declined` on its Kinesis stream `payments`, which the events function
//! publishes to the topic of the same name. The order follows both and publishes
//! `order.confirmed` or `order.cancelled`; a cancelled order makes the stock release its
//! reservation (compensation), and `order.confirmed` reaches the buyer's `Mailer`. Each
//! actor subscribes by pattern, routed to the actor the event names. Committed with the
//! order's change, a confirmed order is emitted as a MEGA `order.confirmed` event to the
//! `shipping` channel (an SNS topic the warehouse's queue subscribes to), and a payment
//! that settled for an order that was cancelled is emitted to the `refunds` channel (the
//! payment service's queue).

use mqless::events::{MegaEvent, MegaEventInfo, MegaObject, Payload};
use mqless::prelude::*;
use serde::{Deserialize, Serialize};

/// The topic every event of the saga is published to.
pub const TOPIC: &str = "orders";

/// The topic the payment service's events arrive on: the name of its Kinesis stream
/// (the events function publishes a stream's records to the topic of its name).
pub const PAYMENTS: &str = "payments";

/// The channel confirmed orders are emitted to, for the shipping service.
pub const SHIPPING: &str = "shipping";

/// The channel refunds are emitted to, for the payment service.
pub const REFUNDS: &str = "refunds";
/// An event of the saga.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// `order.placed`, `stock.reserved`, `order.cancelled`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The order.
    pub order_id: String,
    /// The item ordered: the id of its `Stock` actor.
    pub item: String,
    /// How many.
    pub quantity: u32,
    /// The buyer: the id of their `Mailer`.
    pub buyer: String,
    /// The order's price.
    pub amount: u64,
    /// Why a step was refused.
    pub reason: Option<String>,
}

impl OrderEvent {
    /// This event as another `kind`, with `reason` if it was refused.
    #[must_use]
    pub fn next(&self, kind: &str, reason: Option<String>) -> Self {
        Self {
            kind: kind.into(),
            reason,
            ..self.clone()
        }
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Not placed.
    #[default]
    New,
    /// Waiting for the stock and the payment.
    Pending,
    /// Reserved and paid.
    Confirmed,
    /// Refused, for this reason; what was done is compensated.
    Cancelled(String),
}

/// What the payment service reports on its stream, and what a refund asks of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// `payment.settled`, `payment.declined`; `refund.requested` for a refund.
    #[serde(rename = "type")]
    pub kind: String,
    /// The order paid for.
    pub order_id: String,
    /// How much.
    pub amount: u64,
    /// Why a payment was declined.
    pub reason: Option<String>,
}

/// One order: places it, and follows its stock and payment events.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OrderDesk {
    /// Where it stands.
    pub status: Status,
    reserved: bool,
    settled: bool,
    placed: Option<OrderEvent>,
}

#[mqless::actor]
impl OrderDesk {
    /// Places the order: publishes `order.placed`.
    pub async fn place(
        &mut self,
        item: String,
        quantity: u32,
        buyer: String,
        amount: u64,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        if self.status != Status::New {
            return Ok(());
        }
        let event = OrderEvent {
            kind: "order.placed".into(),
            order_id: ctx.id().to_string(),
            item,
            quantity,
            buyer,
            amount,
            reason: None,
        };
        ctx.publish(TOPIC, &event).await?;
        self.status = Status::Pending;
        self.placed = Some(event);
        Ok(())
    }

    /// The stock's answer to this order.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"type": [{"prefix": "stock."}]}"#,
        route = "order_id"
    )]
    pub async fn on_stock(
        &mut self,
        event: OrderEvent,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        if self.status != Status::Pending {
            return Ok(());
        }
        if event.kind == "stock.reserved" {
            self.reserved = true;
            return self.confirm_if_ready(ctx).await;
        }
        let reason = event.reason.unwrap_or(event.kind);
        self.cancel(reason, ctx).await?;
        if self.settled {
            self.refund(ctx)?;
        }
        Ok(())
    }

    /// The payment service's report on this order, from its Kinesis stream.
    #[subscribe(
        topic = "payments",
        pattern = r#"{"type": [{"prefix": "payment."}]}"#,
        route = "order_id"
    )]
    pub async fn on_payment(
        &mut self,
        event: PaymentEvent,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        match (event.kind.as_str(), &self.status) {
            ("payment.settled", Status::Pending) => {
                self.settled = true;
                self.confirm_if_ready(ctx).await
            }
            // Cancelled before the money came in: give it back.
            ("payment.settled", Status::Cancelled(_)) if !self.settled => {
                self.settled = true;
                self.refund(ctx)
            }
            ("payment.declined", Status::Pending) => {
                let reason = event.reason.unwrap_or(event.kind);
                self.cancel(reason, ctx).await
            }
            _ => Ok(()),
        }
    }

    /// Confirms the order once it is reserved and paid: tells the saga, and the
    /// shipping service (emitted, committed with the confirmation).
    async fn confirm_if_ready(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
        let Some(placed) = self
            .placed
            .as_ref()
            .filter(|_| self.reserved && self.settled)
        else {
            return Ok(());
        };
        let confirmed = placed.next("order.confirmed", None);
        ctx.publish(TOPIC, &confirmed).await?;
        ctx.emit("shipping", Payload::mega(shipping_event(&confirmed)))?;
        self.status = Status::Confirmed;
        Ok(())
    }

    /// Cancels the order: `order.cancelled` makes the stock release what it reserved.
    async fn cancel(&mut self, reason: String, ctx: &mut Context) -> Result<(), RuntimeError> {
        if let Some(placed) = &self.placed {
            ctx.publish(TOPIC, &placed.next("order.cancelled", Some(reason.clone())))
                .await?;
        }
        self.status = Status::Cancelled(reason);
        Ok(())
    }

    /// Asks the payment service to give a settled payment back.
    fn refund(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
        let Some(placed) = &self.placed else {
            return Ok(());
        };
        let refund = PaymentEvent {
            kind: "refund.requested".into(),
            order_id: placed.order_id.clone(),
            amount: placed.amount,
            reason: Some("the order was cancelled".into()),
        };
        ctx.emit("refunds", Payload::json(&refund)?)?;
        Ok(())
    }
}

/// The MEGA event the shipping service gets for a confirmed order.
fn shipping_event(confirmed: &OrderEvent) -> MegaEvent {
    MegaEvent {
        protocol: "mega".into(),
        version: "1".into(),
        event: MegaEventInfo {
            name: "order.confirmed".into(),
            version: Some(1.into()),
            domain: Some(TOPIC.into()),
            subject: Some(confirmed.order_id.clone()),
            ..MegaEventInfo::default()
        },
        object: Some(MegaObject {
            current: serde_json::to_value(confirmed).ok(),
            previous: None,
        }),
    }
}

/// The stock of one item.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Stock {
    /// Units on the shelf.
    pub available: u32,
    /// Units reserved for orders, by order.
    pub reserved: std::collections::BTreeMap<String, u32>,
}

#[mqless::actor]
impl Stock {
    /// Puts `quantity` units on the shelf.
    pub fn restock(&mut self, quantity: u32) {
        self.available += quantity;
    }

    /// Reserves a placed order's units, or refuses.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"type": ["order.placed"]}"#,
        route = "item"
    )]
    pub async fn on_placed(
        &mut self,
        event: OrderEvent,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let outcome = if self.available >= event.quantity {
            self.available -= event.quantity;
            self.reserved.insert(event.order_id.clone(), event.quantity);
            event.next("stock.reserved", None)
        } else {
            let reason = format!("only {} {} in stock", self.available, event.item);
            event.next("stock.refused", Some(reason))
        };
        ctx.publish(TOPIC, &outcome).await?;
        Ok(())
    }

    /// Compensation: releases the reservation of an order that was cancelled.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"type": ["order.cancelled"]}"#,
        route = "item"
    )]
    pub fn on_cancelled(&mut self, event: OrderEvent) {
        if let Some(quantity) = self.reserved.remove(&event.order_id) {
            self.available += quantity;
        }
    }
}

/// What a buyer was told.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Mailer {
    /// The messages sent, in order.
    pub sent: Vec<String>,
    /// The buyer's order events of the kinds they follow (`Mailer::follow`), as
    /// `<order>: <kind>`, in order.
    #[serde(default)]
    pub followed: Vec<String>,
}

#[mqless::actor]
impl Mailer {
    /// Tells the buyer their order is confirmed.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"type": ["order.confirmed"]}"#,
        route = "buyer"
    )]
    pub fn on_confirmed(&mut self, event: OrderEvent) {
        self.sent
            .push(format!("your order {} is confirmed", event.order_id));
    }

    /// Follows the buyer's order events of `kinds` (`order.shipped`, ...): a per-actor
    /// subscription, which in key layout v2 this actor's own commit writes.
    pub async fn follow(
        &mut self,
        kinds: Vec<String>,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let pattern = serde_json::json!({"buyer": [ctx.id().as_str()], "type": kinds});
        Ok(ctx.subscribe(TOPIC, Some(&pattern.to_string())).await?)
    }

    /// Stops following the buyer's order events.
    pub async fn unfollow(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
        Ok(ctx.unsubscribe(TOPIC).await?)
    }

    /// An order event the buyer follows.
    #[subscribe(topic = "orders")]
    pub fn on_followed(&mut self, event: OrderEvent) {
        self.followed
            .push(format!("{}: {}", event.order_id, event.kind));
    }
}

/// Registers the saga's actors with `runtime`.
///
/// # Errors
/// As [`Embedded::register`].
pub fn register(runtime: &Embedded) -> Result<(), RuntimeError> {
    runtime
        .register::<OrderDesk>()?
        .register::<Stock>()?
        .register::<Mailer>()?;
    Ok(())
}

/// What [`run`] ends with.
#[derive(Debug)]
pub struct Outcome {
    /// Each order's status.
    pub orders: Vec<(String, Status)>,
    /// Lamps available and reserved.
    pub lamps: (u32, u32),
    /// What `ann` was told.
    pub ann_was_told: Vec<String>,
    /// The orders the shipping channel was told of (`Embedded::emitted`).
    pub shipped: Vec<String>,
    /// The orders the refunds channel was asked to refund.
    pub refunded: Vec<String>,
}

/// The payment service of this run, outside MQLess: it settles ann's payments and
/// declines bob's card. On AWS it writes this to its Kinesis stream `payments`.
#[must_use]
pub fn payment_service(order: &str, buyer: &str, amount: u64) -> PaymentEvent {
    let declined = buyer == "bob";
    PaymentEvent {
        kind: if declined {
            "payment.declined"
        } else {
            "payment.settled"
        }
        .into(),
        order_id: order.into(),
        amount,
        reason: declined.then(|| format!("{buyer}'s card was declined")),
    }
}

/// The orders of [`run`]: id, lamps, buyer, price.
pub const ORDERS: [(&str, u32, &str, u64); 3] = [
    ("o-1", 2, "ann", 200),
    ("o-2", 1, "bob", 100),
    ("o-3", 4, "ann", 250),
];

/// Stocks 5 lamps, then places three orders of lamps, each paid through the payment
/// service: ann's 2 for 200 (confirmed, shipped), bob's 1 for 100 (his card is
/// declined: the stock releases the reservation), and ann's 4 for 250 (the stock
/// refuses, 3 left: the payment that settled anyway is refunded).
///
/// # Errors
/// When a send, a publish or a read fails.
pub async fn run(runtime: &Embedded) -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    runtime.client::<Stock>("lamp")?.restock(5).call().await?;
    for (order, quantity, buyer, amount) in ORDERS {
        let desk = runtime.client::<OrderDesk>(order)?;
        desk.place("lamp".into(), quantity, buyer.into(), amount)
            .call()
            .await?;
        runtime.settle().await;
        // What the events function does with each record of the stream `payments`.
        runtime
            .publish(PAYMENTS, &payment_service(order, buyer, amount))
            .await?;
        runtime.settle().await;
    }
    let mut statuses = Vec::new();
    for (order, ..) in ORDERS {
        let desk = runtime.state::<OrderDesk>(order).await?.unwrap_or_default();
        statuses.push((order.to_owned(), desk.status));
    }
    let lamp = runtime.state::<Stock>("lamp").await?.unwrap_or_default();
    let emitted = runtime.emitted();
    // The order each emission to `channel` names, at the JSON pointer `field`.
    let orders_on = |channel: &str, field: &str| -> Vec<String> {
        emitted
            .iter()
            .filter(|emitted| emitted.emission.channel == channel)
            .filter_map(|emitted| emitted.emission.payload.object())
            .filter_map(|object| {
                let object = serde_json::Value::Object(object);
                object.pointer(field)?.as_str().map(str::to_owned)
            })
            .collect()
    };
    Ok(Outcome {
        orders: statuses,
        lamps: (lamp.available, lamp.reserved.values().sum()),
        ann_was_told: runtime
            .state::<Mailer>("ann")
            .await?
            .unwrap_or_default()
            .sent,
        shipped: orders_on(SHIPPING, "/event/subject"),
        refunded: orders_on(REFUNDS, "/order_id"),
    })
}
