//! A cart that keeps itself alive with a reminder and checks out by stopping itself:
//! for the tests of expiry (`ctx.stop`, idle time to live, TTL deletion).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A cart that checks out by stopping itself.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cart {
    items: Vec<String>,
    /// Pings received from its reminder.
    pub pings: u32,
}

#[mqless::actor]
impl Cart {
    /// Adds an item; the number of items.
    pub fn add(&mut self, item: String) -> usize {
        self.items.push(item);
        self.items.len()
    }

    /// Pings itself every minute.
    pub async fn keep_alive(
        &mut self,
        ctx: &mut mqless::Context,
    ) -> Result<(), mqless::RuntimeError> {
        let me = ctx.actor::<Cart>(ctx.id().as_str())?;
        let every = mqless::schedule::Reminder::every(Duration::from_secs(60));
        me.ping().remind("ping", every).await?;
        Ok(())
    }

    /// One ping.
    pub fn ping(&mut self) {
        self.pings += 1;
    }

    /// Checks out: the cart is gone.
    pub fn check_out(&mut self, ctx: &mut mqless::Context) -> Result<usize, mqless::RuntimeError> {
        ctx.stop()?;
        Ok(self.items.len())
    }
}
