use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn add<T: Into<i64>>(&mut self, by: T) {
        self.value += by.into();
    }
}

fn main() {}
