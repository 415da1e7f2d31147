//! Per-actor subscriptions. In key layout v1, items `s#<subscriber>#<method>` in the
//! partition of the topic's actor, written by the topic's handler, each carrying the id
//! of the topic message that wrote it. Where subscriptions are apart (v2, and the
//! transitional layout), items `<subscriber id>#<method>` in partition
//! `t/<topic>/<subscriber type>`, written by the subscriber's own commit, which IAM can
//! hold to its type (see `docs/design.md`, "Isolation").

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnConsumedCapacity, TransactWriteItem,
};

use super::errors;
use super::schema::{n, s, Item, KeyLayout, TTL};
use super::DynamoStore;
use crate::error::StoreError;
use crate::id::{ActorType, Address, MessageId};
use crate::store::{SubscriptionChange, SubscriptionPage, SubscriptionRecord};

/// Sort-key prefix of subscriptions in a topic's partition (v1).
pub(super) const SUBSCRIPTION: &str = "s#";
/// How long a removed subscription's tombstone is kept: far longer than any lease, so no
/// late write of an earlier owner outlives it.
const TOMBSTONE_SECONDS: u64 = 86_400;
/// How long the transitional layout keeps an ended subscription's tombstone in its
/// subscriber type's partition: it hides the v1 copy of the subscription, if any, from
/// the fan-out and from `mqless migrate` until the migration deletes that copy.
const APART_TOMBSTONE_SECONDS: u64 = 30 * 86_400;
/// Where a page cursor of the transitional layout's fan-out enters the v1 items of the
/// topic's partition, after every subscriber type's partition (no type holds `#`).
const LEGACY_CURSOR: &str = "#s/";

/// Where a page of subscriptions apart starts.
#[derive(Clone, Copy)]
enum Cursor<'a> {
    /// In the partition of subscriber type `types[index]`, after sort key `after`.
    Apart {
        index: usize,
        after: Option<&'a str>,
    },
    /// Among the topic's v1 items (transitional layout), after key `after`.
    Legacy { after: Option<&'a str> },
}

impl<'a> Cursor<'a> {
    /// Where the page after `after` (the last page's `next`: `<type>/<sort key>`, or
    /// [`LEGACY_CURSOR`] and a v1 key) starts among `types`, which are in name order. A
    /// type that left the deployment since the last step resumes at the next name.
    fn parse(after: Option<&'a str>, types: &[ActorType]) -> Self {
        let Some(after) = after else {
            return Self::Apart {
                index: 0,
                after: None,
            };
        };
        if let Some(key) = after.strip_prefix(LEGACY_CURSOR) {
            return Self::Legacy {
                after: Some(key).filter(|k| !k.is_empty()),
            };
        }
        let (name, sk) = after.split_once('/').unwrap_or((after, ""));
        let index = types.partition_point(|t| t.as_str() < name);
        let same = types.get(index).is_some_and(|t| t.as_str() == name);
        Self::Apart {
            index,
            after: Some(sk).filter(|sk| same && !sk.is_empty()),
        }
    }

    /// The start of the subscriber type after `index`, or of the v1 items (`legacy`:
    /// the transitional layout reads them last); `None` past the end.
    fn after_type(index: usize, types: &[ActorType], legacy: bool) -> Option<Self> {
        if index + 1 < types.len() {
            Some(Self::Apart {
                index: index + 1,
                after: None,
            })
        } else {
            legacy.then_some(Self::Legacy { after: None })
        }
    }

    /// How a page's `next` says where this cursor is.
    fn encode(self, types: &[ActorType]) -> String {
        match self {
            Self::Apart { index, after } => {
                let name = types.get(index).map_or("", ActorType::as_str);
                format!("{name}/{}", after.unwrap_or_default())
            }
            Self::Legacy { after } => format!("{LEGACY_CURSOR}{}", after.unwrap_or_default()),
        }
    }
}

impl DynamoStore {
    pub(super) async fn subscriptions_of(
        &self,
        topic: &Address,
        types: &[ActorType],
        after: Option<&str>,
        limit: usize,
    ) -> Result<SubscriptionPage, StoreError> {
        if !self.layout.apart() {
            return self.topic_subscriptions(topic, after, limit, false).await;
        }
        let legacy = self.layout == KeyLayout::V1ToV2;
        let limit = limit.max(1);
        let mut page = SubscriptionPage::default();
        let mut cursor = Some(Cursor::parse(after, types));
        while let Some(at) = cursor {
            let room = limit - page.subscriptions.len();
            let (index, after) = match at {
                Cursor::Apart { index, after } => (index, after),
                Cursor::Legacy { after } => {
                    let v1 = self.topic_subscriptions(topic, after, room, true).await?;
                    page.subscriptions.extend(v1.subscriptions);
                    page.next = v1.next.map(|key| format!("{LEGACY_CURSOR}{key}"));
                    return Ok(page);
                }
            };
            let Some(subscriber_type) = types.get(index) else {
                cursor = legacy.then_some(Cursor::Legacy { after: None });
                continue;
            };
            let partition = self
                .layout
                .subscription_partition(topic.id().as_str(), subscriber_type);
            let (found, last) = self.subscription_query(&partition, "", after, room).await?;
            page.subscriptions.extend(found);
            if let Some(last) = last {
                page.next = Some(format!("{subscriber_type}/{last}"));
                return Ok(page);
            }
            cursor = Cursor::after_type(index, types, legacy);
            if page.subscriptions.len() >= limit {
                page.next = cursor.map(|next| next.encode(types));
                return Ok(page);
            }
        }
        Ok(page)
    }

    /// A page of the v1 subscriptions in the topic's own partition. `shadowed`: skip
    /// those that the subscriber's own partition holds (live or ended), which are newer
    /// (the transitional layout, until `mqless migrate` moved them).
    async fn topic_subscriptions(
        &self,
        topic: &Address,
        after: Option<&str>,
        limit: usize,
        shadowed: bool,
    ) -> Result<SubscriptionPage, StoreError> {
        let (found, last) = self
            .subscription_query(&topic.to_string(), SUBSCRIPTION, after, limit)
            .await?;
        let mut page = SubscriptionPage {
            subscriptions: Vec::with_capacity(found.len()),
            next: last,
        };
        for record in found {
            if shadowed && self.holds_apart(topic, &record).await? {
                continue;
            }
            page.subscriptions.push(record);
        }
        Ok(page)
    }

    /// Up to `limit` live subscriptions of `partition` whose sort keys start with
    /// `prefix`, after `prefix + after`, and the last key read (without the prefix)
    /// when the partition holds more.
    async fn subscription_query(
        &self,
        partition: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<SubscriptionRecord>, Option<String>), StoreError> {
        let start = after.map(|after| {
            HashMap::from([
                ("pk".to_owned(), s(partition)),
                ("sk".to_owned(), s(format!("{prefix}{after}"))),
            ])
        });
        let mut query = self
            .client
            .query()
            .table_name(&*self.table)
            .consistent_read(true)
            .filter_expression("attribute_not_exists(gone)")
            .expression_attribute_values(":pk", s(partition))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :s)")
                .expression_attribute_values(":s", s(prefix))
        };
        let out = self.counted_consistent(query.send().await)?;
        let mut found = Vec::new();
        for item in out.items() {
            match record(item) {
                Some(record) => found.push(record),
                None => {
                    tracing::warn!(
                        partition,
                        "a subscription item is not as MQLess writes it; skipped"
                    )
                }
            }
        }
        let last = out
            .last_evaluated_key()
            .and_then(|key| key.get("sk")?.as_s().ok())
            .and_then(|sk| sk.strip_prefix(prefix))
            .map(str::to_owned);
        Ok((found, last))
    }

    /// Whether the subscriber type's partition holds `record`'s subscription, live or
    /// ended: then its v1 copy is older.
    async fn holds_apart(
        &self,
        topic: &Address,
        record: &SubscriptionRecord,
    ) -> Result<bool, StoreError> {
        let out = self.counted_consistent(
            self.client
                .get_item()
                .table_name(&*self.table)
                .set_key(Some(self.apart_key(topic.id().as_str(), record)))
                .consistent_read(true)
                .projection_expression("pk")
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )?;
        Ok(out.item().is_some())
    }

    /// The key of `record`'s subscription to `topic` (its name) where subscriptions
    /// are apart.
    pub(super) fn apart_key(&self, topic: &str, record: &SubscriptionRecord) -> Item {
        let subscriber = &record.subscriber;
        HashMap::from([
            (
                "pk".to_owned(),
                s(self
                    .layout
                    .subscription_partition(topic, subscriber.actor_type())),
            ),
            (
                "sk".to_owned(),
                s(format!("{}#{}", subscriber.id(), record.method)),
            ),
        ])
    }

    /// The write of a commit's subscription change, in its transaction: the item in the
    /// subscriber type's partition, put, or deleted (the transitional layout leaves a
    /// tombstone instead, which hides the v1 copy until `mqless migrate` removes it).
    pub(super) fn subscription_write(
        &self,
        change: &SubscriptionChange,
    ) -> Result<TransactWriteItem, StoreError> {
        let topic = change.topic.id().as_str();
        let mut item = self.apart_key(topic, &change.record);
        if !change.subscribed && self.layout == KeyLayout::V2 {
            let delete = Delete::builder()
                .table_name(&*self.table)
                .set_key(Some(item))
                .build()
                .map_err(errors::build_error)?;
            return Ok(TransactWriteItem::builder().delete(delete).build());
        }
        if change.subscribed {
            fill(&mut item, &change.record);
        } else {
            tombstone(&mut item, APART_TOMBSTONE_SECONDS);
        }
        let put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(item))
            .build()
            .map_err(errors::build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
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
            Some(record) => fill(&mut item, record),
            None => tombstone(&mut item, TOMBSTONE_SECONDS),
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

/// Adds `record`'s attributes to a subscription item.
pub(super) fn fill(item: &mut Item, record: &SubscriptionRecord) {
    item.insert("sub".into(), s(record.subscriber.to_string()));
    item.insert("mth".into(), s(&record.method));
    item.insert("arg".into(), s(&record.argument));
    if let Some(pattern) = &record.pattern {
        item.insert("pat".into(), s(pattern));
    }
}

/// Makes a subscription item a tombstone that expires in `seconds`.
fn tombstone(item: &mut Item, seconds: u64) {
    item.insert("gone".into(), AttributeValue::Bool(true));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    item.insert(TTL.into(), n(now + seconds));
}

/// The subscription a live item holds.
pub(super) fn record(item: &Item) -> Option<SubscriptionRecord> {
    let text = |name: &str| item.get(name)?.as_s().ok().cloned();
    Some(SubscriptionRecord {
        subscriber: Address::parse(&text("sub")?).ok()?,
        method: text("mth")?,
        argument: text("arg")?,
        pattern: text("pat"),
    })
}
