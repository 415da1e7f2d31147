use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct OrderPlaced {
    order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Billing;

#[mqless::actor]
impl Billing {
    #[subscribe(pattern = r#"{"order_id": [{"exists": true}]}"#)]
    pub fn no_topic(&mut self, _event: OrderPlaced) {}

    #[subscribe(topic = "orders/eu")]
    pub fn bad_topic(&mut self, _event: OrderPlaced) {}

    #[subscribe(topic = "orders", route = "customer..id")]
    pub fn bad_route(&mut self, _event: OrderPlaced) {}

    #[subscribe(topic = "orders", route = "order_id")]
    pub fn two_arguments(&mut self, _event: OrderPlaced, _extra: u32) {}

    #[subscribe(topic = "orders", filter = "x")]
    pub fn unknown_option(&mut self, _event: OrderPlaced) {}

    #[subscribe(topic = "payments")]
    pub fn first(&mut self, _event: OrderPlaced) {}

    #[subscribe(topic = "payments")]
    pub fn second(&mut self, _event: OrderPlaced) {}

    #[subscribe(topic = "orders", route = "order_id")]
    fn private(&mut self, _event: OrderPlaced) {}
}

fn main() {}
