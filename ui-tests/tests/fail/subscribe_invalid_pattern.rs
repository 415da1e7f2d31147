use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct OrderPlaced {
    order_id: String,
    total: u64,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Billing;

#[mqless::actor]
impl Billing {
    // A field's values go in a list: `["placed"]`.
    #[subscribe(topic = "orders", pattern = r#"{"kind": "placed"}"#, route = "order_id")]
    pub fn on_placed(&mut self, _event: OrderPlaced) {}

    #[subscribe(topic = "orders", pattern = r#"{"total": [{"numeric": [">>", 100]}]}"#, route = "order_id")]
    pub fn on_big(&mut self, _event: OrderPlaced) {}

    #[subscribe(topic = "orders", pattern = r#"{"$or": [{"total": [1]}]}"#, route = "order_id")]
    pub fn on_one(&mut self, _event: OrderPlaced) {}
}

fn main() {}
