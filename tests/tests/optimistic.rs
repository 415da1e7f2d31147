//! Optimistic one-message drains (`DrainConfig::optimistic`): a fresh lone message is
//! committed on the version read, without the lease; anything else takes the lease.

use std::sync::Arc;
use std::time::Duration;

use mqless::mailbox::{DrainConfig, DrainEnd};
use mqless::testing::{ManualClock, RecordingInvoker};
use mqless::{ActorId, Embedded};
use mqless_examples::counter::Counter;

fn runtime(clock: Arc<ManualClock>) -> Embedded {
    let runtime = Embedded::builder()
        .clock(clock)
        .config(DrainConfig {
            optimistic: true,
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Counter>().unwrap();
    runtime
}

#[tokio::test]
async fn a_fresh_lone_message_commits_without_the_lease() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let runtime = runtime(clock.clone());
    let counter = runtime.client::<Counter>("c").unwrap();
    let host = runtime.host::<Counter>().unwrap();
    let id = ActorId::new("c").unwrap();
    counter.increment(1).send().await.unwrap();
    let first = host.drain(&id).await.unwrap();
    assert!(
        !first.optimistic,
        "the first message takes the lease: {first:?}"
    );
    counter.increment(2).send().await.unwrap();
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.optimistic, report.end),
        (1, true, DrainEnd::Empty),
        "{report:?}"
    );
    // Two queued: the lease.
    counter.increment(3).send().await.unwrap();
    counter.increment(4).send().await.unwrap();
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.optimistic),
        (2, false),
        "{report:?}"
    );
    // Not fresh (sent over 10 s ago): the lease, whose stall count finds a poison message.
    counter.increment(5).send().await.unwrap();
    clock.advance(Duration::from_secs(11));
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.optimistic),
        (1, false),
        "{report:?}"
    );
    assert_eq!(counter.get().query().await, Ok(15));
}
