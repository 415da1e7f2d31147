//! Metering: every request asks DynamoDB for its consumed capacity, summed here, so the
//! cost per message is measured, not estimated.

use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::types::ConsumedCapacity;

/// Request units and requests consumed so far, as DynamoDB reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    /// Read request units.
    pub read_units: f64,
    /// Write request units (transactions count double, as DynamoDB bills them).
    pub write_units: f64,
    /// Requests sent.
    pub requests: u64,
}

impl std::ops::Sub for Capacity {
    type Output = Capacity;
    fn sub(self, earlier: Capacity) -> Capacity {
        Capacity {
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
            requests: self.requests - earlier.requests,
        }
    }
}

/// The running total of a store and its clones.
#[derive(Debug, Clone, Default)]
pub(super) struct Meter(Arc<Mutex<Capacity>>);

impl Meter {
    pub(super) fn total(&self) -> Capacity {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request that consumed `consumed`.
    pub(super) fn count(&self, consumed: Option<&ConsumedCapacity>, write: bool) {
        self.count_all(consumed.into_iter(), write);
    }

    /// Counts one request that consumed capacity on several tables or items.
    pub(super) fn count_all<'c>(
        &self,
        consumed: impl Iterator<Item = &'c ConsumedCapacity>,
        write: bool,
    ) {
        let units: f64 = consumed.filter_map(ConsumedCapacity::capacity_units).sum();
        let mut capacity = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        capacity.requests += 1;
        if write {
            capacity.write_units += units;
        } else {
            capacity.read_units += units;
        }
    }
}
