//! `#[subscribe]` on methods: routed with a pattern, every event, and per actor.

use mqless::Context;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct OrderPlaced {
    order_id: String,
    total: u64,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Billing {
    invoiced: u64,
}

#[mqless::actor]
impl Billing {
    #[subscribe(topic = "orders", pattern = r#"{"total": [{"numeric": [">", 0]}], "$or": [{"order_id": [{"prefix": "eu-"}]}, {"order_id": [{"prefix": "us-"}]}]}"#, route = "order_id")]
    pub fn on_placed(&mut self, event: OrderPlaced) {
        self.invoiced += event.total;
    }

    #[subscribe(topic = "orders.audit")]
    pub async fn on_audit(&mut self, event: OrderPlaced, ctx: &mut Context) -> Result<(), String> {
        let _ = (event, ctx);
        Ok(())
    }
}

fn main() {
    use mqless::Actor;
    assert_eq!(Billing::SUBSCRIPTIONS.len(), 2);
    assert_eq!(Billing::SUBSCRIPTIONS[0].route, Some("order_id"));
    assert_eq!(Billing::SUBSCRIPTIONS[1].argument, "event");
}
