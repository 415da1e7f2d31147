//! What the DynamoDB scenarios share: fresh tables, raw-SDK capacity counting, and an
//! actor whose state is about 1 KB.

use std::collections::HashMap;

use mqless::aws::aws_sdk_dynamodb;
use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
use mqless::aws::dynamodb::DynamoStore;
use serde::{Deserialize, Serialize};

use crate::BenchError;

/// Capacity consumed by raw SDK calls of a baseline.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Units {
    pub(crate) read: f64,
    pub(crate) write: f64,
    pub(crate) requests: u64,
}

pub(crate) fn units_of(consumed: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) -> f64 {
    consumed
        .and_then(aws_sdk_dynamodb::types::ConsumedCapacity::capacity_units)
        .unwrap_or(0.0)
}

pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A ~1 KB note keeps the state near 1 KB, or at what [`Notebook::pad`] sets.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Notebook {
    pub(crate) count: u64,
    last: String,
    pub(crate) padding: String,
}

#[mqless::actor]
impl Notebook {
    /// Records a note.
    pub fn note(&mut self, text: String) {
        self.count += 1;
        self.last = text.chars().take(16).collect();
        if self.padding.is_empty() {
            self.padding = "s".repeat(900);
        }
    }

    /// Sets the state's padding to `bytes` bytes (the bench's state sizes).
    pub fn pad(&mut self, bytes: u32) {
        self.padding = "s".repeat(bytes as usize);
    }

    /// Notes recorded.
    pub fn count(&self) -> u64 {
        self.count
    }
}

pub(crate) fn fresh_table(name: &str) -> String {
    format!("bench-{name}-{}", mqless::MessageId::generate(1, None))
}

/// A store over a new table, its keys in the layout `MQLESS_KEY_LAYOUT` names (v1 when
/// unset: the README's figures), so that a layout's figures can be printed beside them.
pub(crate) async fn fresh_store(name: &str) -> Result<DynamoStore, BenchError> {
    let config = mqless::aws::load_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), fresh_table(name))
        .with_key_layout(mqless::aws::KeyLayout::from_env()?);
    store.create_table().await?;
    Ok(store)
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}
