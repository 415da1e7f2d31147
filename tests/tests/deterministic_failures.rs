//! Deterministic failures on the in-memory store (the same functions run on DynamoDB
//! Local in `deterministic_failures_dynamodb`): a state that no longer decodes, a
//! corrupt record, commits over DynamoDB's limits, a rejected tell, lost acquire answers.
//! None may wedge an actor or fail in silence.

use std::sync::Arc;

use mqless::store::MemoryStore;
use mqless_tests::quarantine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_that_no_longer_decodes_quarantines_the_actor_on_the_memory_store() {
    quarantine::a_state_that_no_longer_decodes_quarantines_the_actor(Arc::new(MemoryStore::new()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_repairs_or_resets_a_quarantined_actor_on_the_memory_store() {
    quarantine::an_operator_repairs_or_resets_a_quarantined_actor(Arc::new(MemoryStore::new()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_acquire_answers_are_not_stalls_on_the_memory_store() {
    mqless_tests::recovery::lost_acquire_answers_are_not_stalls(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_tell_is_kept_as_a_dead_letter_on_the_memory_store() {
    mqless_tests::recovery::a_rejected_tell_is_kept_as_a_dead_letter(Arc::new(MemoryStore::new()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_commit_cannot_fit_is_dead_lettered_on_the_memory_store() {
    quarantine::a_message_whose_commit_cannot_fit_is_dead_lettered(Arc::new(MemoryStore::new()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worst_case_state_record_stays_under_the_item_limit_on_the_memory_store() {
    quarantine::the_worst_case_state_record_stays_under_the_item_limit(
        Arc::new(MemoryStore::new()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_cannot_commit_at_all_quarantines_the_actor_on_the_memory_store() {
    quarantine::a_record_that_cannot_commit_at_all_quarantines_the_actor(MemoryStore::new()).await;
}
