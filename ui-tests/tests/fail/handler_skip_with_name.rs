use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter;

#[mqless::actor]
impl Counter {
    pub fn get(&self) -> i64 {
        0
    }

    #[handler(skip, name = "helper")]
    pub fn helper(&self) {}
}

fn main() {}
