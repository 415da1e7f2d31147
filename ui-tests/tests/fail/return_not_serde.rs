use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

pub struct Snapshot(i64);

#[mqless::actor]
impl Counter {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.value)
    }
}

fn main() {}
