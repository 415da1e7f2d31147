//! A topic's per-actor subscriptions: items `s#<subscriber>#<method>` in the partition
//! of the topic's actor, each carrying the id of the topic message that wrote it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};

use super::schema::{n, s, Item, TTL};
use super::DynamoStore;
use crate::error::StoreError;
use crate::id::{Address, MessageId};
use crate::store::{SubscriptionPage, SubscriptionRecord};

/// Sort-key prefix of subscriptions.
pub(super) const SUBSCRIPTION: &str = "s#";
/// How long a removed subscription's tombstone is kept: far longer than any lease, so no
/// late write of an earlier owner outlives it.
const TOMBSTONE_SECONDS: u64 = 86_400;

impl DynamoStore {
    pub(super) async fn subscriptions_of(
        &self,
        topic: &Address,
        after: Option<&str>,
        limit: usize,
    ) -> Result<SubscriptionPage, StoreError> {
        let start = after.map(|after| {
            HashMap::from([
                ("pk".to_owned(), s(topic.to_string())),
                ("sk".to_owned(), s(format!("{SUBSCRIPTION}{after}"))),
            ])
        });
        let out = self.counted_consistent(
            self.client
                .query()
                .table_name(&*self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND begins_with(sk, :s)")
                .filter_expression("attribute_not_exists(gone)")
                .expression_attribute_values(":pk", s(topic.to_string()))
                .expression_attribute_values(":s", s(SUBSCRIPTION))
                .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )?;
        let mut page = SubscriptionPage::default();
        for item in out.items() {
            match record(item) {
                Some(record) => page.subscriptions.push(record),
                None => {
                    tracing::warn!(topic = %topic, "a subscription item is not as MQLess writes it; skipped")
                }
            }
        }
        page.next = out
            .last_evaluated_key()
            .and_then(|key| key.get("sk")?.as_s().ok())
            .and_then(|sk| sk.strip_prefix(SUBSCRIPTION))
            .map(str::to_owned);
        Ok(page)
    }

    pub(super) async fn write_subscription_of(
        &self,
        topic: &Address,
        key: &str,
        record: Option<&SubscriptionRecord>,
        by: MessageId,
    ) -> Result<(), StoreError> {
        let mut item: Item = HashMap::from([
            ("pk".to_owned(), s(topic.to_string())),
            ("sk".to_owned(), s(format!("{SUBSCRIPTION}{key}"))),
            ("by".to_owned(), s(by.to_string())),
        ]);
        match record {
            Some(record) => {
                item.insert("sub".into(), s(record.subscriber.to_string()));
                item.insert("mth".into(), s(&record.method));
                item.insert("arg".into(), s(&record.argument));
                if let Some(pattern) = &record.pattern {
                    item.insert("pat".into(), s(pattern));
                }
            }
            None => {
                item.insert("gone".into(), AttributeValue::Bool(true));
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                item.insert(TTL.into(), n(now + TOMBSTONE_SECONDS));
            }
        }
        let result = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            // Message ids sort as text in time order.
            .condition_expression("attribute_not_exists(pk) OR #by < :by")
            .expression_attribute_names("#by", "by")
            .expression_attribute_values(":by", s(by.to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        // `None`: a later message wrote it already.
        self.counted_if(result).map(drop)
    }
}

fn record(item: &Item) -> Option<SubscriptionRecord> {
    let text = |name: &str| item.get(name)?.as_s().ok().cloned();
    Some(SubscriptionRecord {
        subscriber: Address::parse(&text("sub")?).ok()?,
        method: text("mth")?,
        argument: text("arg")?,
        pattern: text("pat"),
    })
}
