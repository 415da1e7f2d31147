use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn increment(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }
}

async fn read(counter: CounterClient) {
    let _ = counter.increment(1).query().await;
}

fn main() {
    let _ = read;
}
