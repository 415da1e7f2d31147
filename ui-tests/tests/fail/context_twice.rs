use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

use mqless::Context;

#[mqless::actor]
impl Counter {
    pub fn get(&self, a: &Context, b: &mut Context) -> i64 {
        let _ = (a, b);
        self.value
    }
}

fn main() {}
