use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn value(&self) -> &i64 {
        &self.value
    }
}

fn main() {}
