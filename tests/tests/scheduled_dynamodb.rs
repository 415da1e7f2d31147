//! Scheduled messages and reminders on Amazon's DynamoDB Local, on the real clock. A
//! binary of their own: message ids come from one process-wide generator that never goes
//! back, and the manual clocks of `dynamodb.rs` move it ahead of the real time, which
//! would order immediate messages after scheduled ones.

mod scheduled {
    use std::sync::Arc;

    use mqless_tests::{local_aws, scheduled};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduled_messages_run_in_delivery_order_and_never_early_on_dynamodb_local() {
        mqless_tests::requires_local_aws!();
        let store = local_aws::fresh_store("sched-order").await;
        scheduled::scheduled_messages_run_in_delivery_order_and_never_early(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handlers_schedule_atomically_and_names_cancel_on_dynamodb_local() {
        mqless_tests::requires_local_aws!();
        let store = local_aws::fresh_store("sched-handler").await;
        scheduled::handlers_schedule_atomically_and_names_cancel(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handlers_cancel_scheduled_messages_with_their_commit_on_dynamodb_local() {
        mqless_tests::requires_local_aws!();
        let store = local_aws::fresh_store("sched-ctx-cancel").await;
        scheduled::handlers_cancel_scheduled_messages(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelling_by_id_works_until_shortly_before_it_is_due_on_dynamodb_local() {
        mqless_tests::requires_local_aws!();
        let store = local_aws::fresh_store("sched-cancel").await;
        scheduled::cancelling_by_id_works_until_shortly_before_it_is_due(Arc::new(store)).await;
    }
}

mod reminders {
    use std::sync::Arc;

    use mqless_tests::{local_aws, reminders};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reminder_fires_until_cancelled_on_dynamodb_local() {
        mqless_tests::requires_local_aws!();
        let store = local_aws::fresh_store("remind").await;
        reminders::a_reminder_fires_until_cancelled(Arc::new(store)).await;
    }
}

/// The request-reply examples, on the real clock over DynamoDB Local: asks between
/// actors, their timeouts, and the late replies dropped.
mod conversations {
    use std::sync::Arc;
    use std::time::Duration;

    use mqless::Embedded;
    use mqless_examples::iot::{self, Device, DeviceGroup, Reading};
    use mqless_examples::saga::{self, Order, OrderStatus, Wallet, Warehouse};
    use mqless_tests::local_aws;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_iot_group_query_times_out_a_silent_device_on_dynamodb_local() {
        mqless_tests::requires_local_aws!();
        let store = local_aws::fresh_store("iot").await;
        let runtime = Embedded::builder().store(Arc::new(store)).build();
        runtime.register::<Device>().unwrap();
        runtime.register::<DeviceGroup>().unwrap();
        let result = iot::run(&runtime, "g", 25, Duration::from_millis(1_500))
            .await
            .unwrap();
        assert!(result.complete, "{result:?}");
        assert_eq!(result.readings["g-device-0"], Reading::TimedOut);
        assert_eq!(result.readings["g-device-1"], Reading::NoReading);
        assert_eq!(result.readings["g-device-24"], Reading::Celsius(20.4));
        assert_eq!(result.readings.len(), 25);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_order_saga_compensates_on_dynamodb_local() {
        mqless_tests::requires_local_aws!();
        let store = local_aws::fresh_store("saga").await;
        let runtime = Embedded::builder().store(Arc::new(store)).build();
        runtime.register::<Order>().unwrap();
        runtime.register::<Warehouse>().unwrap();
        runtime.register::<Wallet>().unwrap();
        let report = saga::run(&runtime, "s", Duration::from_millis(1_500))
            .await
            .unwrap();
        let statuses: Vec<_> = report.orders.iter().map(|(_, s, _)| s.clone()).collect();
        assert_eq!(statuses[0], OrderStatus::Confirmed, "{report:?}");
        assert!(
            matches!(&statuses[1], OrderStatus::Cancelled(r) if r.starts_with("out of stock")),
            "{report:?}"
        );
        assert_eq!(
            statuses[2..],
            [
                OrderStatus::Cancelled("payment declined (balance 10)".into()),
                OrderStatus::Cancelled("payment timed out".into()),
            ]
        );
        assert_eq!((report.stock, report.balances), ((3, 2), [900, 10, 1000]));
    }
}
