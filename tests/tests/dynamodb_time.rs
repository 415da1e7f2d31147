//! Scheduled messages and reminders on Amazon's DynamoDB Local, on the real clock. A
//! binary of their own: message ids come from one process-wide generator that never goes
//! back, and the manual clocks of `dynamodb.rs` move it ahead of the real time, which
//! would order immediate messages after scheduled ones.
#![cfg(feature = "e2e")]

mod scheduled {
    use std::sync::Arc;

    use mqless_tests::{local_aws, scheduled};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduled_messages_run_in_delivery_order_and_never_early_on_dynamodb_local() {
        let store = local_aws::fresh_store("sched-order").await;
        scheduled::scheduled_messages_run_in_delivery_order_and_never_early(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handlers_schedule_atomically_and_names_cancel_on_dynamodb_local() {
        let store = local_aws::fresh_store("sched-handler").await;
        scheduled::handlers_schedule_atomically_and_names_cancel(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelling_by_id_works_until_shortly_before_it_is_due_on_dynamodb_local() {
        let store = local_aws::fresh_store("sched-cancel").await;
        scheduled::cancelling_by_id_works_until_shortly_before_it_is_due(Arc::new(store)).await;
    }
}

mod reminders {
    use std::sync::Arc;

    use mqless_tests::{local_aws, reminders};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reminder_fires_until_cancelled_on_dynamodb_local() {
        let store = local_aws::fresh_store("remind").await;
        reminders::a_reminder_fires_until_cancelled(Arc::new(store)).await;
    }
}
