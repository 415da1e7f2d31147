//! A topic's per-actor subscriptions, page by page: written by the topic's handler
//! (key layout v1, the memory store), or by the subscribers' own commits (key layout
//! v2), whichever the store's `subscription_writers` says it takes.

use super::*;
use mqless::id::ActorType;
use mqless::store::SubscriptionChange;

/// Each way of writing subscriptions the store takes.
pub(super) async fn subscriptions(store: &dyn Store) {
    let writers = store.subscription_writers();
    if writers.topics_take_messages() {
        paging_of_what_topics_wrote(store).await;
    }
    if writers.subscribers_commit() {
        paging_of_what_subscribers_committed(store).await;
    }
}

fn fresh_topic() -> Address {
    Address::parse(&format!(
        "mqless-topic/conformance-{}",
        MessageId::generate(1, None)
    ))
    .unwrap()
}

fn subscription(subscriber: &str) -> SubscriptionRecord {
    SubscriptionRecord {
        subscriber: Address::parse(subscriber).unwrap(),
        method: "on_event".into(),
        argument: "event".into(),
        pattern: None,
    }
}

/// Every live subscription, read in pages of `page_size`.
async fn read_all(
    store: &dyn Store,
    topic: &Address,
    types: &[ActorType],
    page_size: usize,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .subscriptions(topic, types, after.as_deref(), page_size)
            .await
            .unwrap();
        assert!(page.subscriptions.len() <= page_size);
        seen.extend(page.subscriptions.iter().map(SubscriptionRecord::key));
        match page.next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
}

/// Paging a topic's subscriptions returns every live one once, in key order, whatever
/// the page size and the tombstones of removed ones among them.
async fn paging_of_what_topics_wrote(store: &dyn Store) {
    let topic = fresh_topic();
    let mut live = Vec::new();
    for i in 0..12 {
        let record = subscription(&format!("Watcher/w{i:02}"));
        let by = MessageId::generate(NOW, None);
        store
            .write_subscription(&topic, &record.key(), Some(&record), by)
            .await
            .unwrap();
        if i % 3 == 1 {
            let removed = MessageId::generate(NOW, None);
            store
                .write_subscription(&topic, &record.key(), None, removed)
                .await
                .unwrap();
        } else {
            live.push(record.key());
        }
    }
    for page_size in [1, 2, 5, 50] {
        let seen = read_all(store, &topic, &[], page_size).await;
        assert_eq!(seen, live, "pages of {page_size}");
    }
}

/// A subscriber's commit writes its subscription (and a later one ends it) with its
/// record, all or nothing: a fenced commit writes none. Pages cross from one
/// subscriber type's subscriptions to the next's, in type order, every live one once,
/// and read only the types asked for.
async fn paging_of_what_subscribers_committed(store: &dyn Store) {
    let topic = fresh_topic();
    let types: Vec<ActorType> = ["Auditor", "Watcher", "Zebra"]
        .iter()
        .map(|t| ActorType::new(*t).unwrap())
        .collect();
    let change = |record: &SubscriptionRecord, subscribed| SubscriptionChange {
        topic: topic.clone(),
        record: record.clone(),
        subscribed,
    };
    let mut live = Vec::new();
    let run = MessageId::generate(1, None);
    for i in 0..12 {
        // Auditors and Watchers, none of the Zebras the reads ask for.
        let kind = if i % 2 == 0 { "Auditor" } else { "Watcher" };
        let record = subscription(&format!("{kind}/s{i:02}-{run}"));
        let subscriber = record.subscriber.clone();
        let mut subscribing = commit(0, 0, 0);
        subscribing.subscriptions = vec![change(&record, true)];
        assert_ne!(
            store.commit(&subscriber, &subscribing).await.unwrap(),
            CommitOutcome::Fenced
        );
        // Repeated by an owner that lost the race: fenced, so it ends nothing.
        let mut late = commit(0, 0, 0);
        late.state = b"another".to_vec();
        late.subscriptions = vec![change(&record, false)];
        assert_eq!(
            store.commit(&subscriber, &late).await.unwrap(),
            CommitOutcome::Fenced
        );
        if i % 3 == 1 {
            let mut ending = commit(0, 1, 0);
            ending.subscriptions = vec![change(&record, false)];
            let ended = store.commit(&subscriber, &ending).await.unwrap();
            assert_ne!(ended, CommitOutcome::Fenced);
        } else {
            live.push(record.key());
        }
    }
    live.sort();
    for page_size in [1, 2, 5, 50] {
        let seen = read_all(store, &topic, &types, page_size).await;
        assert_eq!(seen, live, "pages of {page_size}");
    }
    let watchers = [ActorType::new("Watcher").unwrap()];
    let seen = read_all(store, &topic, &watchers, 4).await;
    let only_watchers: Vec<String> = live
        .iter()
        .filter(|key| key.starts_with("Watcher/"))
        .cloned()
        .collect();
    assert_eq!(seen, only_watchers, "the types asked for only");
}
