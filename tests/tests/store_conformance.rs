//! The store contract (`mqless_tests::conformance`) and the due index with the sweep
//! that reads it (`mqless_tests::due_index`) on every store: the in-memory store, and
//! Amazon's DynamoDB Local.

use std::sync::Arc;

use mqless::store::MemoryStore;
use mqless_tests::{conformance, due_index};

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    let store = MemoryStore::new();
    let delete_expired = conformance::memory_delete_expired(&store);
    conformance::run(Arc::new(store), delete_expired).await;
}

/// The memory store with subscriptions written by the subscribers' commits, as
/// DynamoDB's key layout v2 writes them.
#[tokio::test]
async fn the_memory_store_keeps_the_contract_with_subscriptions_committed() {
    let store = MemoryStore::new().with_subscriptions_committed();
    let delete_expired = conformance::memory_delete_expired(&store);
    conformance::run(Arc::new(store), delete_expired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_keeps_the_contract() {
    mqless_tests::requires_local_aws!();
    dynamodb_contract(mqless::aws::KeyLayout::V1).await;
}

/// The same contract with mailboxes in partitions of their own (`KeyLayout::V2`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_keeps_the_contract_with_mailboxes_apart() {
    mqless_tests::requires_local_aws!();
    dynamodb_contract(mqless::aws::KeyLayout::V2).await;
}

/// The same contract in the transitional layout (`KeyLayout::V1ToV2`: writes v2, reads
/// both mailboxes), which a table in use runs while `mqless migrate` moves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_keeps_the_contract_on_the_way_to_v2() {
    mqless_tests::requires_local_aws!();
    dynamodb_contract(mqless::aws::KeyLayout::V1ToV2).await;
}

async fn dynamodb_contract(layout: mqless::aws::KeyLayout) {
    use mqless_tests::local_aws;
    let store = local_aws::fresh_store_in("conformance", layout).await;
    let table = store.clone();
    let delete_expired: conformance::DeleteExpired = Arc::new(move |now| {
        let table = table.clone();
        Box::pin(async move {
            local_aws::delete_expired(&table, now).await;
        })
    });
    conformance::run(Arc::new(store), delete_expired).await;
}

/// Two acquirers of a new actor that both read it before either wrote: the second to
/// write must lose. Real concurrency makes this race only when the scheduler allows
/// (on two busy cores, rarely); a read answered as if it ran before the first's write
/// makes it every time, so the lease item's condition is what decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_refuses_an_acquire_that_read_before_its_rival_wrote() {
    mqless_tests::requires_local_aws!();
    use mqless::store::{Acquired, Store};
    let (store, stale) = mqless_tests::local_aws::fresh_store_reading_stale("stale-acquire").await;
    let at = mqless::id::Address::parse("Racer/new").unwrap();
    let (now, until) = (1_800_000_000_000, 1_800_000_060_000);
    let first = store.acquire(&at, now, until, 1).await.unwrap();
    assert!(
        matches!(first, Acquired::Taken(_)),
        "the first acquirer wins: {first:?}"
    );
    stale.forget_next(1);
    let second = store.acquire(&at, now, until, 2).await.unwrap();
    assert_eq!(
        stale.forgotten(),
        1,
        "the second acquirer read the actor as new"
    );
    assert!(
        !matches!(second, Acquired::Taken(_)),
        "both acquirers won: {second:?}"
    );
}

#[tokio::test]
async fn the_memory_store_keeps_the_due_index() {
    due_index::run(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_keeps_the_due_index() {
    mqless_tests::requires_local_aws!();
    let store = mqless_tests::local_aws::fresh_store("due-index").await;
    due_index::run(Arc::new(store)).await;
}

/// A scheduled message's entry names its actor by the mailbox's partition, `m/Type/id`
/// in key layout v2: the sweep must read it back as the actor's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_keeps_the_due_index_with_mailboxes_apart() {
    mqless_tests::requires_local_aws!();
    let layout = mqless::aws::KeyLayout::V2;
    let store = mqless_tests::local_aws::fresh_store_in("due-index", layout).await;
    due_index::run(Arc::new(store)).await;
}
