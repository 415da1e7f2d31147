//! A drain against time: its invocation's deadline, its lease running out, the runtime
//! shutting down under it.

use super::*;

/// Each message takes a second of the test's clock.
static DEADLINE_CLOCK: LazyLock<ManualClock> =
    LazyLock::new(|| ManualClock::new(1_700_000_000_000));

#[derive(Debug, Default, Serialize, Deserialize)]
struct Worker {
    done: u32,
}

#[mqless::actor]
impl Worker {
    pub fn work(&mut self) {
        DEADLINE_CLOCK.advance(Duration::from_secs(1));
        self.done += 1;
    }
}

#[tokio::test]
async fn a_drain_stops_before_its_deadline_and_leaves_the_rest_queued() {
    let clock = DEADLINE_CLOCK.clone();
    let runtime = Embedded::builder()
        .clock(Arc::new(clock.clone()))
        .config(DrainConfig {
            deadline_margin: Duration::from_secs(2),
            batch_size: 4,
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Worker>().unwrap();
    let worker = runtime.client::<Worker>("w").unwrap();
    for _ in 0..10 {
        worker.work().send().await.unwrap();
    }
    let host = runtime.host::<Worker>().unwrap();
    let id = mqless::ActorId::new("w").unwrap();

    // 6 s of budget, 2 s of margin: 4 messages fit, then the drain hands off.
    let deadline = clock.now_millis() + 6_000;
    let options = mqless::mailbox::DrainOptions {
        deadline_millis: Some(deadline),
        reply_for: None,
    };
    let first = host.drain_with(&id, options).await.unwrap();
    assert_eq!((first.end, first.processed), (DrainEnd::Deadline, 4));
    let record = runtime
        .store()
        .load_state(&address_of("Worker", "w"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.lease_expires_at, 0,
        "the lease is released for the next invocation"
    );

    // The next invocation, with a fresh deadline, finishes the work.
    let rest = host.drain(&id).await.unwrap();
    assert_eq!((rest.end, rest.processed), (DrainEnd::Empty, 6));
    assert_eq!(
        runtime.state::<Worker>("w").await.unwrap().unwrap().done,
        10
    );
}

/// Each message takes 9 seconds of this clock, close to the 10-second lease.
static SLOW_CLOCK: LazyLock<ManualClock> = LazyLock::new(|| ManualClock::new(1_700_000_000_000));

#[derive(Debug, Default, Serialize, Deserialize)]
struct Plodder {
    done: u32,
}

#[mqless::actor]
impl Plodder {
    pub fn plod(&mut self) {
        SLOW_CLOCK.advance(Duration::from_secs(9));
        self.done += 1;
    }
}

#[tokio::test]
async fn a_batch_commits_and_renews_its_lease_before_the_lease_runs_out() {
    let runtime = Embedded::builder()
        .clock(Arc::new(SLOW_CLOCK.clone()))
        .config(DrainConfig {
            lease: Duration::from_secs(10),
            ..DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Plodder>().unwrap();
    let plodder = runtime.client::<Plodder>("p").unwrap();
    for _ in 0..3 {
        plodder.plod().send().await.unwrap();
    }
    let report = runtime
        .host::<Plodder>()
        .unwrap()
        .drain(&mqless::ActorId::new("p").unwrap())
        .await
        .unwrap();
    assert_eq!(
        (report.processed, report.batches, report.end),
        (3, 3, DrainEnd::Empty),
        "one message per batch: each left less than the 2 s margin of its lease"
    );
}

/// A redeploy in place: the old runtime is shut down (or dropped) while one of its own
/// drains is between batches; that drain commits the batch it was in and ends, so the
/// old code runs no message meant for the new runtime. Dropping used to leave the drain
/// running on, batch after batch, with the old code.
#[tokio::test]
async fn a_runtime_shut_down_or_dropped_mid_drain_runs_no_more_batches() {
    use mqless::testing::PausePoint;
    for drop_it in [false, true] {
        let store = Arc::new(FaultyStore::new());
        let old = Embedded::builder()
            .store(store.clone())
            .config(DrainConfig {
                batch_size: 1,
                ..DrainConfig::default()
            })
            .build();
        old.register::<Tally>().unwrap();
        let address = address_of("Tally", "t");
        // Held before its second read: one batch committed, two messages queued.
        let mut pause = store.pause(address.clone(), PausePoint::BeforeRead, 1);
        let tally = old.client::<Tally>("t").unwrap();
        for _ in 0..3 {
            tally.add().send().await.unwrap();
        }
        pause.reached().await;
        let shutting_down = if drop_it {
            drop(old);
            None
        } else {
            let old = Arc::new(old);
            let shutdown = tokio::spawn({
                let old = Arc::clone(&old);
                async move { old.shutdown().await }
            });
            tokio::task::yield_now().await;
            Some(shutdown)
        };
        pause.resume();
        match shutting_down {
            Some(shutdown) => shutdown.await.unwrap(),
            // Dropped: wait until its drain has released the lease.
            None => loop {
                let record = store.inner.load_state(&address).await.unwrap().unwrap();
                if record.lease_expires_at == 0 {
                    break;
                }
                tokio::task::yield_now().await;
            },
        }
        let record = store.inner.load_state(&address).await.unwrap().unwrap();
        assert_eq!(record.version, 1, "drop: {drop_it}: one batch committed");
        let new = Embedded::builder().store(store.clone()).build();
        new.register::<Tally>().unwrap();
        let queued = new.operator().mailbox(&address, 10).await.unwrap();
        assert_eq!(queued.len(), 2, "drop: {drop_it}: left for the new runtime");
        let tally = new.client::<Tally>("t").unwrap();
        assert_eq!(tally.add().call().await.unwrap(), 4);
    }
}
