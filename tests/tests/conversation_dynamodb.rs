//! Request-reply between actors (`reply_to`) on Amazon's DynamoDB Local, on a manual
//! clock. A binary of its own: message ids come from one process-wide generator that
//! never goes back, and the seeded scenario of `dynamodb.rs` moves its manual clock
//! across this test's times, which would order one's immediate messages behind the
//! other's timeouts.

use std::sync::Arc;

use mqless_tests::{conversation, local_aws};

const BASE: u64 = 1_900_000_000_000;
const HOUR: u64 = 3_600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_between_actors_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = Arc::new(local_aws::fresh_store("replyto").await);
    conversation::replies_come_back_typed_once(store, BASE).await;
    let store = Arc::new(local_aws::fresh_store("replyto-timeout").await);
    conversation::a_silent_callee_times_out(store, BASE + HOUR).await;
    let store = Arc::new(local_aws::fresh_store("replyto-misuse").await);
    conversation::misuse_is_refused(store, BASE + 2 * HOUR).await;
}
