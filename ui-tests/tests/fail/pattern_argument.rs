use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn add(&mut self, (a, b): (i64, i64)) {
        self.value += a + b;
    }
}

fn main() {}
