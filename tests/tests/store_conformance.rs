//! The store contract (`mqless_tests::conformance`) and the due index with the sweep
//! that reads it (`mqless_tests::due_index`) on every store: the in-memory store, and
//! Amazon's DynamoDB Local.

use std::sync::Arc;

use mqless::store::MemoryStore;
use mqless_tests::{conformance, due_index};

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    let store = MemoryStore::new();
    let expired = store.clone();
    let delete_expired: conformance::DeleteExpired = Arc::new(move |now| {
        expired.delete_expired(now);
        Box::pin(async {})
    });
    conformance::run(Arc::new(store), delete_expired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_keeps_the_contract() {
    mqless_tests::requires_local_aws!();
    use mqless_tests::local_aws;
    let store = local_aws::fresh_store("conformance").await;
    let table = store.clone();
    let delete_expired: conformance::DeleteExpired = Arc::new(move |now| {
        let table = table.clone();
        Box::pin(async move {
            local_aws::delete_expired(&table, now).await;
        })
    });
    conformance::run(Arc::new(store), delete_expired).await;
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
