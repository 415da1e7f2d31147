use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn add(&mut self, by: impl Into<i64>) {
        self.value += by.into();
    }
}

fn main() {}
