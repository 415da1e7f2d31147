use mqless::actor;

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Order;

#[actor(sends_to("Warehouse"))]
impl Order {
    pub fn place(&mut self) {}
}

fn main() {}
