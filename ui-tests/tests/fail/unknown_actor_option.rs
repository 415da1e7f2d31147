use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor(nmae = "counter")]
impl Counter {
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
