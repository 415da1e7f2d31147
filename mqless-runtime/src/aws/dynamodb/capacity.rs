//! Metering: every request asks DynamoDB for its consumed capacity, summed here, so the
//! cost per message is measured, not estimated; where DynamoDB Local reports less than
//! AWS bills (transactions, empty reads), the meter counts what AWS bills.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::operation::{
    delete_item::DeleteItemOutput, get_item::GetItemOutput, put_item::PutItemOutput,
    query::QueryOutput, scan::ScanOutput, update_item::UpdateItemOutput,
};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, TransactWriteItem};

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

    /// Counts one `TransactWriteItems` that DynamoDB reported as `consumed`: at least
    /// `billed`, what [`transaction_write_units`] bills for its items.
    pub(super) fn count_transaction<'c>(
        &self,
        billed: f64,
        consumed: impl Iterator<Item = &'c ConsumedCapacity>,
    ) {
        let reported: f64 = consumed.filter_map(ConsumedCapacity::capacity_units).sum();
        self.add(reported.max(billed), true);
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

/// The size DynamoDB bills for `item`, in bytes: each attribute's name plus its value
/// (strings and binaries their length, numbers one byte per two significant digits plus
/// one, lists and maps three bytes plus one per element), as AWS documents it.
#[must_use]
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn number_size(number: &str) -> usize {
    let digits = number
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

/// The write units one write of an item of `size` bytes is billed: one per started KB.
#[must_use]
pub fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

/// The write units AWS bills for one `TransactWriteItems` of `items`, at least: two per
/// started KB of each item (a put by the item it writes; a delete, update or condition
/// check by at least one KB, as the request cannot tell its item's size).
///
/// DynamoDB Local under-reports transactions: it adds the units of items that cost the
/// same only once (measured on 10.3.0: puts of 100 B, 100 B and 1,100 B report 6 units,
/// where AWS bills 8), so the meter counts the larger of its report and this.
#[must_use]
pub fn transaction_write_units(items: &[TransactWriteItem]) -> f64 {
    items
        .iter()
        .map(|item| {
            2.0 * item
                .put()
                .map_or(1.0, |put| write_units(item_size(put.item())))
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::{Delete, Put};

    fn item(bytes: usize) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S("a/b".into())),
            ("n".to_owned(), AttributeValue::N("120.50".into())),
            ("d".to_owned(), AttributeValue::B(Blob::new(vec![0; bytes]))),
        ])
    }

    #[test]
    fn items_are_sized_as_aws_documents() {
        // 2 + 3, 1 + (4 significant digits: 2 + 1), 1 + bytes.
        assert_eq!(item_size(&item(10)), 5 + 4 + 11);
        assert_eq!(write_units(item_size(&item(1000))), 1.0);
        assert_eq!(write_units(item_size(&item(1020))), 2.0);
    }

    #[test]
    fn transactions_bill_every_item_twice() {
        let put = |bytes| {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("t")
                        .set_item(Some(item(bytes)))
                        .build()
                        .unwrap(),
                )
                .build()
        };
        let delete = TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name("t")
                    .set_key(Some(item(0)))
                    .build()
                    .unwrap(),
            )
            .build();
        // Three puts of the same size are three items, not one (DynamoDB Local's report).
        assert_eq!(transaction_write_units(&[put(10), put(10), put(1100)]), 8.0);
        assert_eq!(transaction_write_units(&[put(10), delete]), 4.0);
    }
}
