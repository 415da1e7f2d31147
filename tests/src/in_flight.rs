//! Overlap detection: two messages of one actor in flight at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Detects two messages of one actor in flight at once: a handler calls
/// [`enter`](Self::enter) on arrival and [`leave`](Self::leave) before returning;
/// [`enter`](Self::enter) counts an overlap if the actor was already inside a handler.
#[derive(Default)]
pub struct InFlight {
    inside: Mutex<HashMap<String, usize>>,
    overlaps: Mutex<u64>,
}

impl InFlight {
    /// Marks actor `id` as running a handler.
    pub fn enter(&self, id: &str) {
        let mut inside = self.inside.lock().unwrap_or_else(PoisonError::into_inner);
        let count = inside.entry(id.to_owned()).or_default();
        if *count > 0 {
            *self.overlaps.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        }
        *count += 1;
    }

    /// Marks actor `id`'s handler as done.
    pub fn leave(&self, id: &str) {
        let mut inside = self.inside.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = inside.get_mut(id) {
            *count -= 1;
        }
    }

    /// [`Self::enter`] now and [`Self::leave`] when the guard drops, also when a crash
    /// (an aborted task) drops the handler mid-way.
    pub fn guard<'a>(&'a self, id: &str) -> InFlightGuard<'a> {
        self.enter(id);
        InFlightGuard {
            in_flight: self,
            id: id.to_owned(),
        }
    }

    /// Overlaps seen so far.
    pub fn overlaps(&self) -> u64 {
        *self.overlaps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Leaves the handler when dropped; see [`InFlight::guard`].
pub struct InFlightGuard<'a> {
    in_flight: &'a InFlight,
    id: String,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.in_flight.leave(&self.id);
    }
}
