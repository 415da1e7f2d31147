//! Metering: every request asks DynamoDB for its consumed capacity, summed here, so the
//! cost per message is measured, not estimated.

use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::operation::{
    delete_item::DeleteItemOutput, get_item::GetItemOutput, put_item::PutItemOutput,
    query::QueryOutput, scan::ScanOutput, update_item::UpdateItemOutput,
};
use aws_sdk_dynamodb::types::ConsumedCapacity;

/// A request's output that reports the capacity it consumed, and whether it wrote.
pub(super) trait Metered {
    /// What DynamoDB reported.
    fn consumed(&self) -> Option<&ConsumedCapacity>;
    /// Whether the request is a write (else a read).
    const WRITE: bool;
}

macro_rules! metered {
    ($($output:ty => $write:expr),* $(,)?) => {$(
        impl Metered for $output {
            fn consumed(&self) -> Option<&ConsumedCapacity> {
                self.consumed_capacity()
            }
            const WRITE: bool = $write;
        }
    )*};
}

metered! {
    GetItemOutput => false,
    QueryOutput => false,
    ScanOutput => false,
    PutItemOutput => true,
    UpdateItemOutput => true,
    DeleteItemOutput => true,
}

/// The least a read request is billed (an eventually consistent one).
const MIN_READ_UNITS: f64 = 0.5;
/// The least a strongly consistent read is billed.
const MIN_CONSISTENT_READ_UNITS: f64 = 1.0;

/// Request units and requests consumed so far, as DynamoDB reported them (reads at least
/// half a unit each, a whole one if strongly consistent, as billed).
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

    /// Counts one request and passes its output on.
    pub(super) fn count<O: Metered>(&self, out: O) -> O {
        self.count_all(out.consumed().into_iter(), O::WRITE);
        out
    }

    /// Counts one strongly consistent read and passes its output on: billed a whole
    /// unit at least, even when it finds nothing.
    pub(super) fn count_consistent<O: Metered>(&self, out: O) -> O {
        let units = out
            .consumed()
            .and_then(ConsumedCapacity::capacity_units)
            .unwrap_or(0.0);
        self.add(units.max(MIN_CONSISTENT_READ_UNITS), false);
        out
    }

    /// Counts one request that consumed capacity on several tables or items.
    pub(super) fn count_all<'c>(
        &self,
        consumed: impl Iterator<Item = &'c ConsumedCapacity>,
        write: bool,
    ) {
        let units: f64 = consumed.filter_map(ConsumedCapacity::capacity_units).sum();
        // DynamoDB bills every read at least half a unit (an eventually consistent one
        // that finds nothing); DynamoDB Local reports some, such as an index query with
        // no match, as free.
        self.add(
            if write {
                units
            } else {
                units.max(MIN_READ_UNITS)
            },
            write,
        );
    }

    fn add(&self, units: f64, write: bool) {
        let mut capacity = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        capacity.requests += 1;
        if write {
            capacity.write_units += units;
        } else {
            capacity.read_units += units;
        }
    }
}
