use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn get(&self) -> i64 {
        self.value
    }

    #[handler(name = "get")]
    pub fn read(&self) -> i64 {
        self.value
    }
}

fn main() {}
