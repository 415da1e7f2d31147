//! The order saga as events: no actor names another. An `OrderDesk` publishes
//! `order.placed` to the `orders` topic; the `Stock` of the item reserves it and the
//! buyer's `Purse` pays, each publishing what happened (`stock.reserved` or
//! `stock.refused`, `payment.succeeded` or `payment.failed`); the order follows those
//! events and publishes `order.confirmed` or `order.cancelled`; a `payment.failed`
//! makes the stock release the reservation (compensation), and `order.confirmed`
//! reaches the buyer's `Mailer`. Each actor subscribes by pattern, routed to the actor
//! the event names. A confirmed order is also emitted, as a MEGA `order.confirmed`
//! event, to the `shipping` channel: a service outside MQLess (an SNS topic, say, that
//! the warehouse's queue subscribes to), committed with the order's confirmation.

use mqless::events::{MegaEvent, MegaEventInfo, MegaObject, Payload};
use mqless::prelude::*;
use serde::{Deserialize, Serialize};

/// The topic every event of the saga is published to.
pub const TOPIC: &str = "orders";

/// The channel confirmed orders are emitted to, for the shipping service.
pub const SHIPPING: &str = "shipping";

/// An event of the saga.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// `order.placed`, `stock.reserved`, `payment.failed`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The order.
    pub order_id: String,
    /// The item ordered: the id of its `Stock` actor.
    pub item: String,
    /// How many.
    pub quantity: u32,
    /// The buyer: the id of their `Purse` and `Mailer` actors.
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

/// One order: places it, and follows its stock and payment events.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OrderDesk {
    /// Where it stands.
    pub status: Status,
    reserved: bool,
    paid: bool,
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

    /// A stock or payment event of this order.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"type": [{"prefix": "stock."}, {"prefix": "payment."}]}"#,
        route = "order_id"
    )]
    pub async fn on_step(
        &mut self,
        event: OrderEvent,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        if self.status != Status::Pending {
            return Ok(());
        }
        match event.kind.as_str() {
            "stock.reserved" => self.reserved = true,
            "payment.succeeded" => self.paid = true,
            _ => {
                let reason = event.reason.clone().unwrap_or_else(|| event.kind.clone());
                self.status = Status::Cancelled(reason.clone());
                ctx.publish(TOPIC, &event.next("order.cancelled", Some(reason)))
                    .await?;
                return Ok(());
            }
        }
        if self.reserved && self.paid {
            self.status = Status::Confirmed;
            let confirmed = event.next("order.confirmed", None);
            ctx.publish(TOPIC, &confirmed).await?;
            ctx.emit("shipping", Payload::mega(shipping_event(&confirmed)))?;
        }
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

    /// Compensation: releases the reservation of an order that was not paid.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"type": ["payment.failed"]}"#,
        route = "item"
    )]
    pub fn on_payment_failed(&mut self, event: OrderEvent) {
        if let Some(quantity) = self.reserved.remove(&event.order_id) {
            self.available += quantity;
        }
    }
}

/// A buyer's money.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Purse {
    /// What is left.
    pub balance: u64,
    /// What it paid, by order.
    paid: std::collections::BTreeMap<String, u64>,
}

#[mqless::actor]
impl Purse {
    /// Adds money.
    pub fn top_up(&mut self, amount: u64) {
        self.balance += amount;
    }

    /// Pays a placed order, or refuses.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"type": ["order.placed"]}"#,
        route = "buyer"
    )]
    pub async fn on_placed(
        &mut self,
        event: OrderEvent,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let outcome = if self.balance >= event.amount {
            self.balance -= event.amount;
            self.paid.insert(event.order_id.clone(), event.amount);
            event.next("payment.succeeded", None)
        } else {
            let reason = format!("{} cannot pay {}", event.buyer, event.amount);
            event.next("payment.failed", Some(reason))
        };
        ctx.publish(TOPIC, &outcome).await?;
        Ok(())
    }

    /// Compensation: refunds an order whose stock was refused.
    #[subscribe(
        topic = "orders",
        pattern = r#"{"type": ["stock.refused"]}"#,
        route = "buyer"
    )]
    pub fn on_stock_refused(&mut self, event: OrderEvent) {
        if let Some(amount) = self.paid.remove(&event.order_id) {
            self.balance += amount;
        }
    }
}

/// What a buyer was told.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Mailer {
    /// The messages sent, in order.
    pub sent: Vec<String>,
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
}

/// Registers the saga's actors with `runtime`.
///
/// # Errors
/// As [`Embedded::register`].
pub fn register(runtime: &Embedded) -> Result<(), RuntimeError> {
    runtime
        .register::<OrderDesk>()?
        .register::<Stock>()?
        .register::<Purse>()?
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
    /// The purses of `ann` and `bob`.
    pub balances: [u64; 2],
    /// What `ann` was told.
    pub ann_was_told: Vec<String>,
    /// The orders the shipping channel was told of (`Embedded::emitted`).
    pub shipped: Vec<String>,
}

/// Stocks 5 lamps, gives ann 500 and bob 50, then places three orders of lamps: ann's
/// 2 for 200 (confirmed), bob's 1 for 100 (the payment fails: the stock releases the
/// reservation), and ann's 4 for 250 (the stock refuses, 3 left: the purse refunds).
///
/// # Errors
/// When a send or a read fails.
pub async fn run(runtime: &Embedded) -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    runtime.client::<Stock>("lamp")?.restock(5).call().await?;
    runtime.client::<Purse>("ann")?.top_up(500).call().await?;
    runtime.client::<Purse>("bob")?.top_up(50).call().await?;
    let orders = [
        ("o-1", 2, "ann", 200),
        ("o-2", 1, "bob", 100),
        ("o-3", 4, "ann", 250),
    ];
    for (order, quantity, buyer, amount) in orders {
        let desk = runtime.client::<OrderDesk>(order)?;
        desk.place("lamp".into(), quantity, buyer.into(), amount)
            .call()
            .await?;
        runtime.settle().await;
    }
    let mut statuses = Vec::new();
    for (order, ..) in orders {
        let desk = runtime.state::<OrderDesk>(order).await?.unwrap_or_default();
        statuses.push((order.to_owned(), desk.status));
    }
    let lamp = runtime.state::<Stock>("lamp").await?.unwrap_or_default();
    let purse = |name: &'static str| async move {
        Ok::<_, mqless::Error>(
            runtime
                .state::<Purse>(name)
                .await?
                .unwrap_or_default()
                .balance,
        )
    };
    Ok(Outcome {
        orders: statuses,
        lamps: (lamp.available, lamp.reserved.values().sum()),
        balances: [purse("ann").await?, purse("bob").await?],
        ann_was_told: runtime
            .state::<Mailer>("ann")
            .await?
            .unwrap_or_default()
            .sent,
        shipped: runtime
            .emitted()
            .into_iter()
            .filter(|emitted| emitted.emission.channel == SHIPPING)
            .filter_map(|emitted| emitted.emission.payload.object())
            .filter_map(|event| {
                event
                    .get("event")?
                    .get("subject")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect(),
    })
}
