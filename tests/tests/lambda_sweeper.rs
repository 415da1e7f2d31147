//! The deployable sweeper function through the Lambda emulator, in a binary of its own:
//! a sweeper invocation that repeats holds the emulator (which runs one invocation at a
//! time) for seconds, which would delay the timing-sensitive tests of `lambda.rs`.

use std::time::Duration;

use mqless::aws::Remote;
use mqless::id::{ActorType, Address};
use mqless::store::Store;
use mqless::{ActorId, Actors, MessageId};
use mqless_examples::counter::{Counter, CounterMessage};
use mqless_tests::local_aws;

/// Points clients at the emulator and at the table its handlers use.
async fn remote() -> Remote {
    local_aws::lambda_environment().await.remote()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", MessageId::generate(1, None))
}

/// Invokes the deployable sweeper with `payload`, as an EventBridge schedule would.
async fn invoke_sweeper(payload: &str) -> mqless::aws::payload::SweepResult {
    let lambda = mqless::aws::aws_sdk_lambda::Client::new(&mqless::aws::load_config().await);
    let out = lambda
        .invoke()
        .function_name("sweeper-function")
        .payload(mqless::aws::aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .unwrap();
    let payload = out
        .payload()
        .map(|p| p.as_ref().to_vec())
        .unwrap_or_default();
    assert!(
        out.function_error().is_none(),
        "{}",
        String::from_utf8_lossy(&payload)
    );
    serde_json::from_slice(&payload).unwrap()
}

/// The sweeper function: its sweep wakes an actor whose wake-up failed where the sender
/// saw it (marked), its audit one whose wake-up was lost unseen; so do a `Remote`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_function_wakes_actors_whose_nudge_was_lost() {
    mqless_tests::requires_local_aws!();
    let remote = remote().await;
    let id = unique("swept");
    let address = Address::new(
        ActorType::new("Counter").unwrap(),
        ActorId::new(id.as_str()).unwrap(),
    );
    let counter = remote.client::<Counter>(id.as_str()).unwrap();
    // Queued with no nudge, as when the nudge is lost.
    let queue_without_nudge = |by: i64| {
        let remote = remote.clone();
        let address = address.clone();
        async move {
            let item = mqless_tests::mailbox_item(&CounterMessage::Increment { by }, false);
            remote.store().enqueue(&address, &item).await.unwrap();
        }
    };
    let now = || mqless::clock::Clock::now_millis(&mqless::clock::SystemClock);

    // Lost unseen: not in the due index, so the sweep passes it by; the audit finds it.
    queue_without_nudge(4).await;
    invoke_sweeper("{}").await;
    assert_eq!(
        counter.get().query().await,
        Ok(0),
        "the sweep cannot know of it"
    );
    let result = invoke_sweeper(r#"{"audit": true}"#).await;
    assert!(result.pending >= 1 && result.nudged >= 1, "{result:?}");
    assert_eq!(counter.get().call().await.unwrap(), 4);

    // Lost where the sender saw it: marked, and the sweep wakes it.
    queue_without_nudge(2).await;
    remote.store().arm(&address, now()).await.unwrap();
    let result = invoke_sweeper("{}").await;
    assert!(result.nudged >= 1 && result.complete, "{result:?}");
    assert_eq!(counter.get().call().await.unwrap(), 6);

    // The same from any process with a `Remote`.
    queue_without_nudge(3).await;
    remote.store().arm(&address, now()).await.unwrap();
    let report = remote.sweep().await.unwrap();
    assert!(report.pending.contains(&address), "{report:?}");
    queue_without_nudge(1).await;
    let report = remote.audit().await.unwrap();
    assert!(report.pending.contains(&address), "{report:?}");
    assert_eq!(counter.get().call().await.unwrap(), 10);
}

/// The sweeper asked to sweep every 250 ms for 3 s (`every_ms`, `for_ms`; deployed, the
/// template's `SweepEveryMs`, until each invocation's deadline) wakes a message
/// scheduled 1 s ahead within that invocation, not at the schedule's next minute. (The
/// emulator runs one invocation at a time, so the wake-up's drain waits for the
/// sweeper's invocation to end: the lag printed is the emulator's, not AWS's.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweeper_sweeping_every_few_hundred_ms_delivers_timers_within_them() {
    mqless_tests::requires_local_aws!();
    let remote = remote().await;
    let id = unique("every");
    let counter = remote.client::<Counter>(id.as_str()).unwrap();
    counter
        .increment(5)
        .send_after(Duration::from_secs(1))
        .await
        .unwrap();
    let due = std::time::Instant::now() + Duration::from_secs(1);
    let result = invoke_sweeper(r#"{"every_ms": 250, "for_ms": 3000}"#).await;
    // Not `complete`: the last sweep may run into `for_ms` and stop with a cursor for
    // the next invocation, as it should (on a loaded machine it did).
    assert!(result.nudged >= 1, "{result:?}");
    assert!(
        result.entries >= 1,
        "a later sweep of the same invocation found it: {result:?}"
    );
    // The wake-up is an asynchronous invoke: wait for its drain.
    for _ in 0..200 {
        if counter.get().query().await == Ok(5) {
            println!(
                "a timer swept every 250 ms ran within {} ms of its time (through the emulator)",
                due.elapsed().as_millis()
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the scheduled message never ran: {result:?}");
}
