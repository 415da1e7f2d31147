//! `#[actor(crate = "..")]` when mqless is reachable only under another path (renamed in
//! Cargo.toml, or re-exported by a wrapper crate).
mod wrapper {
    pub use mqless as mq;
}

use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[wrapper::mq::actor(crate = "crate::wrapper::mq")]
impl Counter {
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {
    assert_eq!(<Counter as wrapper::mq::Actor>::TYPE_NAME, "Counter");
}
