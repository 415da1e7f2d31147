//! The lost-wakeup races: a message queued while the owner releases, a wake-up that
//! finds the lease held, a crash between commit and cleanup, an ask answered before its
//! cleanup.

use super::*;

#[tokio::test]
async fn a_message_enqueued_while_the_lease_is_released_is_not_lost() {
    // Build the late message as a client would.
    let body = rmp_serde::to_vec_named(&AdderMessage::Add { n: 10 }).unwrap();
    let envelope = Envelope::new(body, false, None)
        .encode(&mqless::Limits::DEFAULT)
        .unwrap();
    let late = MailboxItem {
        id: mqless::MessageId::generate(1, None),
        envelope,
    };
    let store = Arc::new(FaultyStore::new());
    store.enqueue_before_next_release(address_of("Adder", "w"), late);
    let recorder = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(recorder)
        .build();
    runtime.register::<Adder>().unwrap();
    runtime
        .client::<Adder>("w")
        .unwrap()
        .add(1)
        .send()
        .await
        .unwrap();

    let report = runtime
        .host::<Adder>()
        .unwrap()
        .drain(&mqless::ActorId::new("w").unwrap())
        .await
        .unwrap();
    assert!(store.slipped());
    assert_eq!(
        report.processed, 2,
        "the late message's wake-up knocked: the drain looks again and finds it"
    );
    assert_eq!(
        runtime.state::<Adder>("w").await.unwrap().unwrap().total,
        11
    );
}

/// The lost-wakeup race, run for real: a wake-up finds the lease held, knocks on the
/// owner's record and ends `Busy`; the owner's releasing commit finds the knock and
/// reads the mailbox again, so the message runs before the owner's drain returns, with
/// no sweep.
#[tokio::test]
async fn a_wake_up_that_finds_the_lease_held_knocks_and_the_owner_looks_again() {
    let store = Arc::new(FaultyStore::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Adder>().unwrap();
    let adder = runtime.client::<Adder>("knocked").unwrap();
    adder.add(1).send().await.unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let id = mqless::ActorId::new("knocked").unwrap();
    let address = address_of("Adder", "knocked");
    let mut pause = store.pause(address.clone(), PausePoint::BeforeCommit, 0);
    let owner = tokio::spawn({
        let (host, id) = (host.clone(), id.clone());
        async move { host.drain(&id).await }
    });
    pause.reached().await;
    adder.add(10).send().await.unwrap();
    let wake_up = host.drain(&id).await.unwrap();
    assert_eq!(wake_up.end, DrainEnd::Busy);
    let record = store.load_state(&address).await.unwrap().unwrap();
    assert!(record.knocked, "the wake-up knocked: {record:?}");
    assert!(
        record.mark.is_some(),
        "and armed the sweep, in case the owner crashed"
    );
    pause.resume();
    let report = owner.await.unwrap().unwrap();
    assert_eq!(
        (report.processed, report.end),
        (2, DrainEnd::Empty),
        "the owner's commit found the knock and looked again"
    );
    let record = store.load_state(&address).await.unwrap().unwrap();
    assert_eq!((record.knocked, record.mark), (false, None));
    assert_eq!(
        runtime
            .state::<Adder>("knocked")
            .await
            .unwrap()
            .unwrap()
            .total,
        11
    );
}

#[tokio::test]
async fn a_crash_between_commit_and_cleanup_is_finished_by_the_next_owner_without_rerunning() {
    let store = Arc::new(FaultyStore::new());
    store.fail_cleanups(1);
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Adder>().unwrap();
    let adder = runtime.client::<Adder>("c").unwrap();
    adder.add(5).send().await.unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let id = mqless::ActorId::new("c").unwrap();

    // The commit lands, the cleanup "crashes": the message is consumed but still queued.
    assert!(host.drain(&id).await.is_err());
    assert_eq!(runtime.state::<Adder>("c").await.unwrap().unwrap().total, 5);
    assert_eq!(store.inner.pending_messages(), 1);

    // An ask queued behind it; the next owner finishes the cleanup, skips the consumed
    // message, and answers the ask.
    let ask = {
        let adder = adder.clone();
        tokio::spawn(async move { adder.add(1).timeout(Duration::from_secs(5)).call().await })
    };
    // Until the ask is queued (not a fixed sleep: a loaded machine may take longer).
    while store.inner.pending_messages() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        report.processed, 1,
        "only the ask ran; the consumed message was not run again"
    );
    assert_eq!(ask.await.unwrap().unwrap(), 6);
    assert_eq!(store.inner.pending_messages(), 0);
}

/// An ask returns once its message is gone from the mailbox: right after `.call()`, a
/// sweep finds nothing pending and the operator's view of the mailbox is empty. The
/// reply used to be handed over before the cleanup deleted the message; here the drain
/// is held between its commit and its cleanup, and the ask must still be waiting.
#[tokio::test]
async fn an_answered_ask_leaves_nothing_pending() {
    use mqless::testing::PausePoint;
    let store = Arc::new(FaultyStore::new());
    let runtime = Arc::new(Embedded::builder().store(store.clone()).build());
    runtime.register::<Tally>().unwrap();
    let address = address_of("Tally", "t");
    for call in 1..=3 {
        let mut pause = store.pause(address.clone(), PausePoint::BeforeCleanup, 0);
        let asking = tokio::spawn({
            let runtime = Arc::clone(&runtime);
            async move { runtime.client::<Tally>("t").unwrap().add().call().await }
        });
        pause.reached().await;
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(
            !asking.is_finished(),
            "ask {call} returned before its message was cleaned up"
        );
        pause.resume();
        assert_eq!(asking.await.unwrap().unwrap(), call);
        let pending = runtime.sweep().await.unwrap().pending;
        assert!(pending.is_empty(), "after ask {call}: {pending:?}");
        let queued = runtime.operator().mailbox(&address, 10).await.unwrap();
        assert!(queued.is_empty(), "after ask {call}: {queued:?}");
    }
}
