//! The README's quickstart actor.

use serde::{Deserialize, Serialize};

/// A counter: the smallest useful actor.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    /// Adds `by` and returns the new value.
    pub fn increment(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.value
    }
}
