use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Cell<T> {
    value: T,
}

#[mqless::actor]
impl<T> Cell<T> {
    pub fn get(&self) -> u8 {
        0
    }
}

fn main() {}
