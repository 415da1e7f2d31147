//! Request-reply between actors (`reply_to`) on the in-memory store; the same scenarios
//! run on DynamoDB Local in `conversation_dynamodb.rs`.
//!
//! Message ids come from one process-wide generator that never goes back, and timeouts
//! are ordered by time: the manual-clock cases run in one test, each an hour after the
//! last, so none sees another's ids.

use std::sync::Arc;

use mqless::store::MemoryStore;
use mqless_tests::conversation;

const BASE: u64 = 1_900_000_000_000;
const HOUR: u64 = 3_600_000;

#[tokio::test]
async fn request_reply_between_actors_on_a_manual_clock() {
    conversation::replies_come_back_typed_once(Arc::new(MemoryStore::new()), BASE).await;
    conversation::a_silent_callee_times_out(Arc::new(MemoryStore::new()), BASE + HOUR).await;
    conversation::misuse_is_refused(Arc::new(MemoryStore::new()), BASE + 2 * HOUR).await;
    conversation::a_dead_lettered_timeout_frees_its_slot_and_stays_answerable(BASE + 3 * HOUR)
        .await;
}
