use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Clone for Counter {
    fn clone(&self) -> Self {
        Counter { value: self.value }
    }
}

fn main() {}
