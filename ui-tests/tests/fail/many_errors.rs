use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn consume(self) {}

    pub fn label(&mut self, name: &str) -> usize {
        name.len()
    }

    pub fn fine(&self) -> i64 {
        self.value
    }

    pub fn generic<T>(&self, t: T) {}
}

fn main() {}
