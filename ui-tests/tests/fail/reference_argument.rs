use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn label(&mut self, name: &str) -> usize {
        name.len()
    }
}

fn main() {}
