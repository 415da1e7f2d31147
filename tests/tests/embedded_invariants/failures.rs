//! Drains that fail: before the lease, in the middle of it, a commit whose answer is
//! lost. The lease is freed, no stall counted, and nothing is left to the audit.

use super::*;

/// An `Adder` runtime over a faulty store, on a manual clock, whose wake-ups are only
/// recorded: each test drives its drains.
struct AdderRig {
    store: Arc<FaultyStore>,
    clock: ManualClock,
    nudges: Arc<RecordingInvoker>,
    runtime: Embedded,
}

fn adder_rig(config: DrainConfig) -> AdderRig {
    let store = Arc::new(FaultyStore::new());
    let clock = ManualClock::new(1_800_000_000_000);
    let nudges = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .config(config)
        .manual_drains(nudges.clone())
        .build();
    runtime.register::<Adder>().unwrap();
    AdderRig {
        store,
        clock,
        nudges,
        runtime,
    }
}

#[tokio::test]
async fn a_drain_that_fails_frees_its_lease_and_does_not_count_as_a_stall() {
    let AdderRig { store, runtime, .. } = adder_rig(DrainConfig::default());
    runtime
        .client::<Adder>("f")
        .unwrap()
        .add(2)
        .send()
        .await
        .unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let id = mqless::ActorId::new("f").unwrap();
    let address = Address::new(mqless::id::ActorType::new("Adder").unwrap(), id.clone());

    store.fail_reads(1);
    assert!(host.drain(&id).await.is_err());
    let record = store.inner.load_state(&address).await.unwrap().unwrap();
    assert_eq!(
        (record.lease_expires_at, record.stalled_leases),
        (0, 0),
        "released on the way out: {record:?}"
    );
    // The same instant: no waiting for a lease to expire.
    let report = host.drain(&id).await.unwrap();
    assert_eq!((report.processed, report.end), (1, DrainEnd::Empty));
}

/// A wake-up that fails before it holds the lease (its first mailbox read fails, or its
/// acquire) marks the actor for the sweep: the invocation's retries can run out, and
/// then nothing else would look at the message (the audit would find it, hours later).
#[tokio::test]
async fn a_wake_up_that_fails_before_holding_the_lease_marks_the_actor_for_the_sweep() {
    let AdderRig {
        store,
        clock,
        nudges,
        runtime,
    } = adder_rig(DrainConfig::default());
    let host = runtime.host::<Adder>().unwrap();
    let adder = runtime.client::<Adder>("early").unwrap();
    let id = mqless::ActorId::new("early").unwrap();
    let address = address_of("Adder", "early");
    let failures: [(&str, &dyn Fn()); 2] = [
        ("its first read failed", &|| store.fail_reads(1)),
        ("its acquire's answer was lost", &|| {
            store.lose_acquire_answers(1)
        }),
    ];
    for (round, (failure, inject)) in failures.into_iter().enumerate() {
        adder.add(2).send().await.unwrap();
        nudges.take_nudges();
        inject();
        assert!(host.drain(&id).await.is_err(), "{failure}");
        let record = store.inner.load_state(&address).await.unwrap().unwrap();
        assert_eq!(
            (record.lease_expires_at, record.mark),
            (0, Some(clock.now_millis())),
            "{failure}: the lease given back, the actor due now: {record:?}"
        );
        // Nobody retries the wake-up: the sweep does.
        let swept = runtime.sweep().await.unwrap();
        assert!(swept.pending.contains(&address), "{failure}: {swept:?}");
        assert_eq!(nudges.take_nudges(), vec![address.clone()], "{failure}");
        let report = host.drain(&id).await.unwrap();
        assert_eq!(
            (report.processed, report.end),
            (1, DrainEnd::Empty),
            "{failure}"
        );
        let total = runtime
            .state::<Adder>("early")
            .await
            .unwrap()
            .unwrap()
            .total;
        assert_eq!(total, 2 * (round as i64 + 1), "{failure}");
    }
}

/// A store error inside a lease (here a commit that landed with its answer lost, in
/// the middle of a drain that goes on) frees the lease on the way out, so the next
/// wake-up does not wait for it to expire nor count a stall. (A failed first read, in
/// the test above, gives the lease back through the acquire's abandon.)
#[tokio::test]
async fn a_drain_whose_commit_fails_mid_lease_frees_its_lease() {
    let AdderRig { store, runtime, .. } = adder_rig(DrainConfig {
        batch_size: 1,
        ..DrainConfig::default()
    });
    let adder = runtime.client::<Adder>("m").unwrap();
    adder.add(2).send().await.unwrap();
    adder.add(3).send().await.unwrap();
    let host = runtime.host::<Adder>().unwrap();
    let id = mqless::ActorId::new("m").unwrap();
    let address = address_of("Adder", "m");

    // The first batch's commit keeps the lease (a second message waits); its answer is
    // lost, so the drain fails holding it.
    store.lose_commit_answers(1);
    assert!(host.drain(&id).await.is_err());
    let record = store.inner.load_state(&address).await.unwrap().unwrap();
    assert_eq!(
        (
            record.version,
            record.lease_expires_at,
            record.stalled_leases
        ),
        (1, 0, 0),
        "committed, then released on the way out: {record:?}"
    );
    // The same instant: no waiting for a lease to expire.
    let report = host.drain(&id).await.unwrap();
    assert_eq!((report.processed, report.end), (1, DrainEnd::Empty));
    assert_eq!(runtime.state::<Adder>("m").await.unwrap().unwrap().total, 5);
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Relay {
    relayed: u32,
}

#[mqless::actor]
impl Relay {
    /// Passes one on to `to`.
    pub async fn relay(
        &mut self,
        to: String,
        ctx: &mut mqless::Context,
    ) -> Result<(), mqless::RuntimeError> {
        self.relayed += 1;
        ctx.actor::<Relay>(to)?.note().send().await?;
        Ok(())
    }

    /// Counts one received.
    pub fn note(&mut self) {
        self.relayed += 1;
    }
}

/// A commit that lands with its answer lost returns an error before its wake-ups: the
/// recipients of its sends are marked for the sweep, which wakes them (invariant 1; the
/// audit's full scan was the only way to find them before).
#[tokio::test]
async fn a_commit_whose_answer_is_lost_leaves_its_recipients_to_the_sweep() {
    let store = Arc::new(FaultyStore::new());
    let nudges = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(nudges.clone())
        .build();
    runtime.register::<Relay>().unwrap();
    let from = runtime.client::<Relay>("from").unwrap();
    from.relay("to".into()).send().await.unwrap();
    let host = runtime.host::<Relay>().unwrap();
    nudges.take_nudges();

    store.lose_commit_answers(1);
    assert!(host
        .drain(&mqless::ActorId::new("from").unwrap())
        .await
        .is_err());
    let to = Address::parse("Relay/to").unwrap();
    assert_eq!(
        store.read_mailbox(&to, 10).await.unwrap().len(),
        1,
        "the send landed"
    );
    assert!(
        !nudges.take_nudges().contains(&to),
        "the failed drain woke nobody"
    );
    let report = runtime.sweep().await.unwrap();
    assert!(
        report.pending.contains(&to),
        "the sweep finds the recipient by its mark: {report:?}"
    );
}

/// A drain that fails deterministically (a permission missing, say) returns the error and
/// marks nothing: the sweep would meet the same failure every period. Fixed, the next
/// wake-up drains the actor.
#[tokio::test]
async fn a_drain_that_fails_deterministically_is_not_marked_for_the_sweep() {
    use mqless::error::StoreErrorKind;
    let AdderRig { store, runtime, .. } = adder_rig(DrainConfig::default());
    let host = runtime.host::<Adder>().unwrap();
    runtime
        .client::<Adder>("denied")
        .unwrap()
        .add(4)
        .send()
        .await
        .unwrap();
    let id = mqless::ActorId::new("denied").unwrap();
    let address = address_of("Adder", "denied");

    store.fail_reads_with(1, StoreErrorKind::Other);
    let failed = host.drain(&id).await.unwrap_err();
    assert!(
        failed.to_string().contains("injected read failure"),
        "{failed}"
    );
    let record = store.inner.load_state(&address).await.unwrap().unwrap();
    assert_eq!(
        (record.lease_expires_at, record.mark),
        (0, None),
        "the lease given back, nothing marked: {record:?}"
    );
    let report = host.drain(&id).await.unwrap();
    assert_eq!((report.processed, report.end), (1, DrainEnd::Empty));
}

/// A handler's send whose wake-up the invoker refuses (throttled) marks that message for
/// the sweep, which wakes its recipient (invariant 1): nobody else looks at it before
/// the audit. The drain itself succeeds; the refusal is the recipient's, not its own.
#[tokio::test]
async fn a_refused_wake_up_of_a_handlers_recipient_leaves_it_to_the_sweep() {
    let store = Arc::new(FaultyStore::new());
    let nudges = Arc::new(RecordingInvoker::new());
    let invoker = Arc::new(FaultyInvoker::new(nudges.clone()));
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(invoker.clone())
        .build();
    runtime.register::<Relay>().unwrap();
    let from = runtime.client::<Relay>("from").unwrap();
    from.relay("to".into()).send().await.unwrap();
    nudges.take_nudges();

    let to = Address::parse("Relay/to").unwrap();
    invoker.refuse_nudges_to(&to, 1);
    let host = runtime.host::<Relay>().unwrap();
    let report = host
        .drain(&mqless::ActorId::new("from").unwrap())
        .await
        .unwrap();
    assert_eq!((report.processed, report.end), (1, DrainEnd::Empty));
    assert_eq!(
        invoker.injected().failed,
        1,
        "the recipient's wake-up refused"
    );
    let to = Address::parse("Relay/to").unwrap();
    assert!(nudges.take_nudges().is_empty(), "nobody woken");

    let swept = runtime.sweep().await.unwrap();
    assert!(
        swept.pending.contains(&to),
        "the sweep finds the relayed message by its sender's mark: {swept:?}"
    );
    assert_eq!(nudges.take_nudges(), vec![to.clone()]);
    host.drain(to.id()).await.unwrap();
    let relayed = runtime.state::<Relay>("to").await.unwrap().unwrap().relayed;
    assert_eq!(relayed, 1);
}

/// A client's send whose wake-up is refused still succeeds (the message is durable: the
/// caller must not send it again) and marks the message for the sweep, which wakes its
/// actor (invariant 1).
#[tokio::test]
async fn a_refused_wake_up_of_a_clients_send_leaves_it_to_the_sweep() {
    let store = Arc::new(FaultyStore::new());
    let nudges = Arc::new(RecordingInvoker::new());
    let invoker = Arc::new(FaultyInvoker::new(nudges.clone()));
    let runtime = Embedded::builder()
        .store(store.clone())
        .manual_drains(invoker.clone())
        .build();
    runtime.register::<Adder>().unwrap();
    let address = address_of("Adder", "refused");
    invoker.refuse_nudges_to(&address, 1);

    let adder = runtime.client::<Adder>("refused").unwrap();
    adder.add(7).send().await.unwrap();
    assert_eq!(invoker.refusals_left(&address), 0, "its wake-up refused");
    assert!(nudges.take_nudges().is_empty(), "nobody woken");

    let swept = runtime.sweep().await.unwrap();
    assert!(
        swept.pending.contains(&address),
        "the sweep finds the message by its sender's mark: {swept:?}"
    );
    assert_eq!(nudges.take_nudges(), vec![address.clone()]);
    runtime
        .host::<Adder>()
        .unwrap()
        .drain(address.id())
        .await
        .unwrap();
    let total = runtime
        .state::<Adder>("refused")
        .await
        .unwrap()
        .unwrap()
        .total;
    assert_eq!(total, 7);
}
