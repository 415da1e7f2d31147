use mqless::events::Payload;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Order;

// A name that is an ARN: the deployment maps names to targets.
#[mqless::actor(emits_to("shipping", "arn:aws:sns:eu-west-1:1:shipping"))]
impl Order {
    pub fn confirm(&mut self) {}
}

#[derive(Default, Serialize, Deserialize)]
pub struct Ledger;

// A channel that is not a string literal.
#[mqless::actor(emits_to(shipping))]
impl Ledger {
    pub fn book(&mut self) {}
}

#[derive(Default, Serialize, Deserialize)]
pub struct Invoice;

// Found in a body: `ctx.emit` with a literal channel names it too.
#[mqless::actor]
impl Invoice {
    pub fn send(&mut self, ctx: &mut mqless::Context) {
        let _ = ctx.emit("billing run", Payload::plaintext("due"));
    }
}

fn main() {}
