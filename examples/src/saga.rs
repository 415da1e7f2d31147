//! An order saga between actors that never block on each other: an `Order` reserves its
//! items at a `Warehouse`, charges a `Wallet`, and confirms; each step is an ask with
//! `reply_to`, so the next step runs when the answer comes back. A refused step
//! compensates what was done (the reservation is released), and a payment that does not
//! answer within the order's timeout cancels the order and refunds whatever the late
//! payment took: the wallet handles the refund after the charge, in order.

use std::time::Duration;

use mqless::prelude::*;
use serde::{Deserialize, Serialize};

/// Where an order stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Not placed yet.
    #[default]
    New,
    /// Waiting for the warehouse.
    Reserving,
    /// Reserved; waiting for the payment.
    Paying,
    /// Reserved and paid.
    Confirmed,
    /// Given up, for this reason; everything it did was compensated.
    Cancelled(String),
}

/// One order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Order {
    status: OrderStatus,
    item: String,
    quantity: u32,
    price: u64,
    wallet: String,
    payment_timeout_ms: u64,
    /// What happened, step by step.
    history: Vec<String>,
}

#[mqless::actor]
impl Order {
    /// Places the order: asks the warehouse to reserve the items.
    pub async fn place(
        &mut self,
        item: String,
        quantity: u32,
        price: u64,
        wallet: String,
        payment_timeout_ms: u64,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        if self.status != OrderStatus::New {
            return Ok(());
        }
        *self = Self {
            status: OrderStatus::Reserving,
            item: item.clone(),
            quantity,
            price,
            wallet,
            payment_timeout_ms,
            history: vec![format!("placed: {quantity} x {item}")],
        };
        let me = ctx.actor::<Order>(ctx.id().as_str())?;
        ctx.actor::<Warehouse>(item.as_str())?
            .reserve(ctx.id().to_string(), quantity)
            .reply_to(|reply| me.reserved(reply))
            .send()
            .await?;
        Ok(())
    }

    /// The warehouse's answer: charge the wallet, or cancel.
    pub async fn reserved(
        &mut self,
        reply: Reply<(), OutOfStock>,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        match reply {
            Reply::Ok(()) => {
                self.step(OrderStatus::Paying, "reserved");
                let me = ctx.actor::<Order>(ctx.id().as_str())?;
                ctx.actor::<Wallet>(self.wallet.as_str())?
                    .charge(ctx.id().to_string(), self.price)
                    .reply_to(|reply| me.charged(reply))
                    .timeout(Duration::from_millis(self.payment_timeout_ms))
                    .send()
                    .await?;
            }
            Reply::Err(OutOfStock { available }) => {
                self.cancel(format!("out of stock ({available} left)"));
            }
            other => self.cancel(format!("the warehouse did not answer: {other:?}")),
        }
        Ok(())
    }

    /// The wallet's answer, or the payment's timeout: confirm, or compensate.
    pub async fn charged(
        &mut self,
        reply: Reply<u64, Declined>,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let reason = match reply {
            Reply::Ok(balance) => {
                self.step(
                    OrderStatus::Confirmed,
                    &format!("paid; wallet balance {balance}"),
                );
                return Ok(());
            }
            Reply::Err(Declined { balance }) => format!("payment declined (balance {balance})"),
            Reply::TimedOut => {
                // The charge may still happen: refund it, queued behind it.
                ctx.actor::<Wallet>(self.wallet.as_str())?
                    .refund(ctx.id().to_string())
                    .send()
                    .await?;
                "payment timed out".to_owned()
            }
            other => format!("payment failed: {other:?}"),
        };
        ctx.actor::<Warehouse>(self.item.as_str())?
            .release(ctx.id().to_string())
            .send()
            .await?;
        self.cancel(reason);
        Ok(())
    }

    /// Where the order stands, and its history.
    pub fn status(&self) -> (OrderStatus, Vec<String>) {
        (self.status.clone(), self.history.clone())
    }
}

impl Order {
    fn step(&mut self, status: OrderStatus, what: &str) {
        self.status = status;
        self.history.push(what.to_owned());
    }

    fn cancel(&mut self, reason: String) {
        self.history.push(format!("cancelled: {reason}"));
        self.status = OrderStatus::Cancelled(reason);
    }
}

/// The warehouse refuses a reservation beyond its stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("out of stock: {available} available")]
pub struct OutOfStock {
    /// Items left.
    pub available: u32,
}

/// The stock of one item, and its reservations by order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Warehouse {
    stock: u32,
    reserved: std::collections::BTreeMap<String, u32>,
}

#[mqless::actor]
impl Warehouse {
    /// Adds items to the stock.
    pub fn restock(&mut self, quantity: u32) {
        self.stock += quantity;
    }

    /// Reserves `quantity` for `order`.
    pub fn reserve(&mut self, order: String, quantity: u32) -> Result<(), OutOfStock> {
        if quantity > self.stock {
            return Err(OutOfStock {
                available: self.stock,
            });
        }
        self.stock -= quantity;
        *self.reserved.entry(order).or_default() += quantity;
        Ok(())
    }

    /// Releases `order`'s reservation (a compensation: nothing if it has none).
    pub fn release(&mut self, order: String) {
        self.stock += self.reserved.remove(&order).unwrap_or(0);
    }

    /// Items in stock, and reserved.
    pub fn stock(&self) -> (u32, u32) {
        (self.stock, self.reserved.values().sum())
    }
}

/// A wallet refuses a charge beyond its balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("declined: balance {balance}")]
pub struct Declined {
    /// The balance.
    pub balance: u64,
}

/// A customer's wallet, with the charges it made by order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Wallet {
    balance: u64,
    charges: std::collections::BTreeMap<String, u64>,
    /// How long a charge takes (a slow payment provider).
    charge_delay_ms: u64,
}

#[mqless::actor]
impl Wallet {
    /// Adds money; makes charges take `charge_delay_ms`.
    pub fn top_up(&mut self, amount: u64, charge_delay_ms: u64) {
        self.balance += amount;
        self.charge_delay_ms = charge_delay_ms;
    }

    /// Charges `amount` for `order`; returns the balance left.
    pub async fn charge(&mut self, order: String, amount: u64) -> Result<u64, Declined> {
        if self.charge_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.charge_delay_ms)).await;
        }
        if amount > self.balance {
            return Err(Declined {
                balance: self.balance,
            });
        }
        self.balance -= amount;
        self.charges.insert(order, amount);
        Ok(self.balance)
    }

    /// Refunds what `order` was charged, if anything (a compensation).
    pub fn refund(&mut self, order: String) {
        self.balance += self.charges.remove(&order).unwrap_or(0);
    }

    /// The balance.
    pub fn balance(&self) -> u64 {
        self.balance
    }
}

/// What [`run`] found: each order's status, and the stock and balances after.
#[derive(Debug)]
pub struct SagaReport {
    /// Each order's id, status and history.
    pub orders: Vec<(String, OrderStatus, Vec<String>)>,
    /// The warehouse's (in stock, reserved) at the end.
    pub stock: (u32, u32),
    /// The wallets' balances at the end, in order: rich, poor, slow.
    pub balances: [u64; 3],
}

/// Four orders on `actors` (ids prefixed by `prefix`): one confirmed, one out of stock,
/// one declined, and one whose slow payment times out and is refunded.
///
/// # Errors
/// A failed send or query.
pub async fn run(
    actors: &impl Actors,
    prefix: &str,
    payment_timeout: Duration,
) -> Result<SagaReport, Box<dyn std::error::Error + Send + Sync>> {
    let timeout_ms = u64::try_from(payment_timeout.as_millis()).unwrap_or(u64::MAX);
    let item = format!("{prefix}-lamp");
    let wallets = [
        (format!("{prefix}-rich"), 1_000, 0),
        (format!("{prefix}-poor"), 10, 0),
        (format!("{prefix}-slow"), 1_000, timeout_ms * 3),
    ];
    actors
        .client::<Warehouse>(item.as_str())?
        .restock(5)
        .send()
        .await?;
    for (wallet, amount, delay) in &wallets {
        let wallet = actors.client::<Wallet>(wallet.as_str())?;
        wallet.top_up(*amount, *delay).send().await?;
    }
    actors.settle().await?;
    let orders = [
        ("confirmed", 2, &wallets[0].0),
        ("too-many", 50, &wallets[0].0),
        ("declined", 1, &wallets[1].0),
        ("slow-payment", 1, &wallets[2].0),
    ];
    for (name, quantity, wallet) in orders {
        let order = actors.client::<Order>(format!("{prefix}-{name}"))?;
        order
            .place(item.clone(), quantity, 100, wallet.clone(), timeout_ms)
            .send()
            .await?;
    }
    // The slow payment answers after its timeout; wait for it and its refund.
    let started = std::time::Instant::now();
    while started.elapsed() < payment_timeout * 4 {
        actors.settle().await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    actors.settle().await?;
    let mut report = SagaReport {
        orders: Vec::new(),
        stock: actors
            .client::<Warehouse>(item.as_str())?
            .stock()
            .query()
            .await?,
        balances: [0; 3],
    };
    for (name, ..) in orders {
        let id = format!("{prefix}-{name}");
        let (status, history) = actors
            .client::<Order>(id.as_str())?
            .status()
            .query()
            .await?;
        report.orders.push((id, status, history));
    }
    for (slot, (wallet, ..)) in report.balances.iter_mut().zip(&wallets) {
        *slot = actors
            .client::<Wallet>(wallet.as_str())?
            .balance()
            .query()
            .await?;
    }
    Ok(report)
}
