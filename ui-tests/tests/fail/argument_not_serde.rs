use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

pub struct Amount(i64);

#[mqless::actor]
impl Counter {
    pub fn add(&mut self, by: Amount) {
        self.value += by.0;
    }
}

fn main() {}
