//! Scheduled messages (`send_after`, `send_at`, cancelling) on the in-memory store; the
//! same scenarios run on DynamoDB Local in `scheduled_dynamodb.rs`, and with the embedded
//! runtime's own timers below, as do the request-reply examples, whose asks time out
//! (real-clock tests share a binary: see `conversation.rs` for the manual-clock ones).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mqless::store::MemoryStore;
use mqless::Embedded;
use mqless_tests::scheduled::{self, Diary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_messages_run_in_delivery_order_and_never_early() {
    scheduled::scheduled_messages_run_in_delivery_order_and_never_early(Arc::new(
        MemoryStore::new(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_schedule_atomically_and_names_cancel() {
    scheduled::handlers_schedule_atomically_and_names_cancel(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_cancel_scheduled_messages_with_their_commit() {
    scheduled::handlers_cancel_scheduled_messages(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_by_id_works_until_shortly_before_it_is_due() {
    scheduled::cancelling_by_id_works_until_shortly_before_it_is_due(Arc::new(MemoryStore::new()))
        .await;
}

/// The embedded runtime wakes the actor itself when a scheduled message is due (a timer
/// per message): no sweep, no drains by hand. Prints how late it ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_runtime_delivers_scheduled_messages_by_itself() {
    let runtime = Embedded::new();
    runtime.register::<Diary>().unwrap();
    let diary = runtime.client::<Diary>("d").unwrap();
    let sent = Instant::now();
    diary
        .write("later".into())
        .send_after(Duration::from_secs(3))
        .await
        .unwrap();
    let at = std::time::SystemTime::now() + Duration::from_secs(2);
    diary.write("at".into()).send_at(at).await.unwrap();
    diary.write("now".into()).send().await.unwrap();
    runtime.settle().await;
    assert_eq!(
        diary.entries().query().await.unwrap(),
        ["now"],
        "nothing scheduled ran early"
    );
    let mut lateness = None;
    while sent.elapsed() < Duration::from_secs(30) {
        if diary.entries().query().await.unwrap().len() == 3 {
            lateness = Some(sent.elapsed().saturating_sub(Duration::from_secs(3)));
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let lateness = lateness.expect("the scheduled messages ran");
    assert_eq!(
        diary.entries().query().await.unwrap(),
        ["now", "at", "later"]
    );
    println!("embedded: a message scheduled 3 s ahead ran {lateness:?} after its time");
}

/// The example of docs/guide/time.md, as written there.
mod readme_example {
    use std::time::Duration;

    use mqless::prelude::*;
    use mqless::schedule::Scheduled;

    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    pub struct Order {
        paid: bool,
        cancelled: bool,
    }

    #[mqless::actor]
    impl Order {
        pub async fn place(&mut self, ctx: &mut Context) -> Result<(), RuntimeError> {
            // Cancel the order if it is not paid within 15 minutes.
            let me = ctx.actor::<Order>(ctx.id().as_str())?;
            me.expire()
                .named("expiry")
                .send_after(Duration::from_secs(15 * 60))
                .await?;
            Ok(())
        }
        pub fn pay(&mut self) {
            self.paid = true;
        }
        pub fn expire(&mut self) {
            if !self.paid {
                self.cancelled = true;
            }
        }
        pub fn status(&self) -> (bool, bool) {
            (self.paid, self.cancelled)
        }
    }

    async fn paid(actors: &impl Actors) -> Result<(), mqless::Error> {
        actors
            .cancel_scheduled::<Order>("o-1", Scheduled::Name("expiry".into()))
            .await?;
        Ok(())
    }

    #[tokio::test]
    async fn an_unpaid_order_expires_unless_its_expiry_is_cancelled() {
        let actors = Embedded::new();
        actors.register::<Order>().unwrap();
        let order = actors.client::<Order>("o-1").unwrap();
        order.place().call().await.unwrap();
        order.pay().send().await.unwrap();
        paid(&actors).await.unwrap();
        actors.settle().await;
        assert_eq!(order.status().query().await, Ok((true, false)));
        let address = mqless::id::Address::new(
            mqless::id::ActorType::new("Order").unwrap(),
            mqless::ActorId::new("o-1").unwrap(),
        );
        assert!(
            actors
                .store()
                .read_mailbox(&address, 10)
                .await
                .unwrap()
                .is_empty(),
            "the expiry was cancelled"
        );
    }
}

/// The examples, embedded on the real clock (`cargo run -p mqless-examples --bin iot`
/// and `--bin saga` run the same).
mod examples {
    use std::time::Duration;

    use mqless::Embedded;
    use mqless_examples::iot::{self, Device, DeviceGroup, Reading};
    use mqless_examples::saga::{self, Order, OrderStatus, Wallet, Warehouse};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_query_of_45_devices_times_out_the_silent_one() {
        let runtime = Embedded::new();
        runtime.register::<Device>().unwrap();
        runtime.register::<DeviceGroup>().unwrap();
        let result = iot::run(&runtime, "g", 45, Duration::from_millis(500))
            .await
            .unwrap();
        assert!(result.complete, "{result:?}");
        assert_eq!(result.readings.len(), 45, "asked in three messages of 20");
        assert_eq!(result.readings["g-device-0"], Reading::TimedOut);
        assert_eq!(result.readings["g-device-1"], Reading::NoReading);
        assert_eq!(result.readings["g-device-44"], Reading::Celsius(22.4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_order_saga_compensates() {
        let runtime = Embedded::new();
        runtime.register::<Order>().unwrap();
        runtime.register::<Warehouse>().unwrap();
        runtime.register::<Wallet>().unwrap();
        let report = saga::run(&runtime, "s", Duration::from_millis(300))
            .await
            .unwrap();
        let confirmed = report
            .orders
            .iter()
            .filter(|(_, status, _)| *status == OrderStatus::Confirmed)
            .count();
        assert_eq!(confirmed, 1, "{report:?}");
        assert_eq!((report.stock, report.balances), ((3, 2), [900, 10, 1000]));
    }
}
