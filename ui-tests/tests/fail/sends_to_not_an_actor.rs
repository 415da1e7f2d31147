use mqless::actor;

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Order;

struct Ledger;

#[actor(sends_to(Ledger))]
impl Order {
    pub fn place(&mut self) {}
}

fn main() {}
