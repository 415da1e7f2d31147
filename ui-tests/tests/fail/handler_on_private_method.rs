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

    #[handler(name = "reset")]
    fn reset(&mut self) {
        self.value = 0;
    }
}

fn main() {}
