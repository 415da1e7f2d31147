//! Scheduled messages on any store, on the real clock with drains driven by hand: a
//! message sent with `send_after` is durable at once, never runs before its time, runs
//! in delivery order once due, can be cancelled until shortly before, and one scheduled
//! by a handler is committed with the handler's batch or not at all.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mqless::mailbox::DrainEnd;
use mqless::schedule::Scheduled;
use mqless::store::Store;
use mqless::testing::RecordingInvoker;
use mqless::{ActorId, Actors, Context, Embedded, Error};
use serde::{Deserialize, Serialize};

/// An actor that records what it was told, in order, and can schedule its own messages.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Diary {
    entries: Vec<String>,
}

#[mqless::actor]
impl Diary {
    /// Records `entry`.
    pub fn write(&mut self, entry: String) {
        self.entries.push(entry);
    }

    /// Schedules `write(entry)` to itself `delay_ms` from now, named `name`, then fails
    /// if `fail`: the scheduled message must then not exist.
    pub async fn remind(
        &mut self,
        entry: String,
        delay_ms: u64,
        name: String,
        fail: bool,
        ctx: &mut Context,
    ) -> Result<(), String> {
        let me = ctx
            .actor::<Diary>(ctx.id().as_str())
            .map_err(|e| e.to_string())?;
        me.write(entry)
            .named(name)
            .send_after(Duration::from_millis(delay_ms))
            .await
            .map_err(|e| e.to_string())?;
        self.entries.push("reminder set".into());
        if fail {
            return Err("refused after scheduling".into());
        }
        Ok(())
    }

    /// Cancels the scheduled message `id` and those named `name`, then fails if `fail`:
    /// the cancels must then not happen.
    pub fn cancel(
        &mut self,
        id: Option<mqless::MessageId>,
        name: Option<String>,
        fail: bool,
        ctx: &mut Context,
    ) -> Result<(), String> {
        if let Some(id) = id {
            ctx.cancel_scheduled(Scheduled::Id(id))
                .map_err(|e| e.to_string())?;
        }
        if let Some(name) = name {
            ctx.cancel_scheduled(Scheduled::Name(name))
                .map_err(|e| e.to_string())?;
        }
        if fail {
            return Err("refused after cancelling".into());
        }
        Ok(())
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<String> {
        self.entries.clone()
    }
}

fn runtime(store: Arc<dyn Store>) -> (Embedded, mqless::mailbox::ActorHost<Diary>) {
    let runtime = Embedded::builder()
        .store(store)
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Diary>().unwrap();
    let host = runtime.host::<Diary>().unwrap();
    (runtime, host)
}

async fn entries(runtime: &Embedded, id: &str) -> Vec<String> {
    runtime
        .state::<Diary>(id)
        .await
        .unwrap()
        .map(|d| d.entries)
        .unwrap_or_default()
}

/// Sweeps until the actor is found due and drains it; the time it took.
async fn wait_until_due(
    runtime: &Embedded,
    host: &mqless::mailbox::ActorHost<Diary>,
    id: &ActorId,
) -> Duration {
    let start = Instant::now();
    loop {
        let swept = runtime.sweep().await.unwrap();
        if swept.pending.iter().any(|a| a.id() == id) {
            host.drain(id).await.unwrap();
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never came due");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `send_after` from a client: durable at once, not run before its time (drains and
/// sweeps leave it), run once due, after what was sent before it was due and in
/// delivery order among scheduled ones.
pub async fn scheduled_messages_run_in_delivery_order_and_never_early(store: Arc<dyn Store>) {
    let (runtime, host) = runtime(store);
    let name = format!("diary-{}", mqless::MessageId::generate(1, None));
    let id = ActorId::new(name.as_str()).unwrap();
    let diary = runtime.client::<Diary>(name.clone()).unwrap();
    diary
        .write("third".into())
        .send_after(Duration::from_secs(6))
        .await
        .unwrap();
    diary
        .write("second".into())
        .send_after(Duration::from_secs(4))
        .await
        .unwrap();
    diary.write("first".into()).send().await.unwrap();
    let report = host.drain(&id).await.unwrap();
    assert_eq!(
        (report.processed, report.end),
        (1, DrainEnd::Empty),
        "{report:?}"
    );
    assert_eq!(entries(&runtime, &name).await, ["first"]);
    let swept = runtime.sweep().await.unwrap();
    assert!(
        !swept.pending.iter().any(|a| a.id() == &id),
        "a sweep leaves an actor whose messages are not due"
    );
    let report = host.drain(&id).await.unwrap();
    assert_eq!(report.processed, 0, "nothing due yet: {report:?}");
    let waited = wait_until_due(&runtime, &host, &id).await;
    let got = entries(&runtime, &name).await;
    assert!(
        got == ["first", "second"] || got == ["first", "second", "third"],
        "{got:?}"
    );
    wait_until_due_all(&runtime, &host, &id, &name, 3).await;
    assert_eq!(entries(&runtime, &name).await, ["first", "second", "third"]);
    println!("scheduled 4 s ahead, found due by a sweep after {waited:?}");
}

async fn wait_until_due_all(
    runtime: &Embedded,
    host: &mqless::mailbox::ActorHost<Diary>,
    id: &ActorId,
    name: &str,
    count: usize,
) {
    while entries(runtime, name).await.len() < count {
        wait_until_due(runtime, host, id).await;
    }
}

/// A handler's scheduled send commits with its batch: kept when the handler succeeds,
/// dropped with the rest of its effects when it returns `Err`. It is named, and can be
/// cancelled by that name until shortly before it is due.
pub async fn handlers_schedule_atomically_and_names_cancel(store: Arc<dyn Store>) {
    let (runtime, host) = runtime(store);
    let name = format!("diary-{}", mqless::MessageId::generate(1, None));
    let id = ActorId::new(name.as_str()).unwrap();
    let diary = runtime.client::<Diary>(name.clone()).unwrap();
    diary
        .remind("dropped".into(), 500, "a".into(), true)
        .send()
        .await
        .unwrap();
    diary
        .remind("kept".into(), 3_000, "b".into(), false)
        .send()
        .await
        .unwrap();
    diary
        .remind("cancelled".into(), 20_000, "c".into(), false)
        .send()
        .await
        .unwrap();
    host.drain(&id).await.unwrap();
    assert_eq!(
        entries(&runtime, &name).await,
        ["reminder set", "reminder set"]
    );
    let cancelled = runtime
        .cancel_scheduled::<Diary>(name.clone(), Scheduled::Name("c".into()))
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 1);
    let again = runtime
        .cancel_scheduled::<Diary>(name.clone(), Scheduled::Name("c".into()))
        .await
        .unwrap();
    assert!(again.is_empty(), "nothing left to cancel");
    wait_until_due(&runtime, &host, &id).await;
    assert_eq!(
        entries(&runtime, &name).await,
        ["reminder set", "reminder set", "kept"]
    );
    // Nothing else ever comes due: the failed handler's message was never queued, and
    // the cancelled one is gone.
    let address = mqless::id::Address::new(mqless::id::ActorType::new("Diary").unwrap(), id);
    assert!(runtime
        .store()
        .read_mailbox(&address, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Cancelling by id works until [`mqless::schedule::CANCEL_MARGIN`] before the message
/// is due; closer than that it is refused, and the message runs.
pub async fn cancelling_by_id_works_until_shortly_before_it_is_due(store: Arc<dyn Store>) {
    let (runtime, host) = runtime(store);
    let name = format!("diary-{}", mqless::MessageId::generate(1, None));
    let id = ActorId::new(name.as_str()).unwrap();
    let diary = runtime.client::<Diary>(name.clone()).unwrap();
    let later = diary
        .write("never".into())
        .send_after(Duration::from_secs(60))
        .await
        .unwrap();
    let soon = diary
        .write("soon".into())
        .send_after(Duration::from_millis(300))
        .await
        .unwrap();
    let cancel = |which| runtime.cancel_scheduled::<Diary>(name.clone(), which);
    assert_eq!(cancel(Scheduled::Id(later)).await.unwrap(), [later]);
    match cancel(Scheduled::Id(soon)).await {
        Err(Error::TooLateToCancel { message_id, .. }) => assert_eq!(message_id, soon),
        other => panic!("expected TooLateToCancel, got {other:?}"),
    }
    wait_until_due(&runtime, &host, &id).await;
    assert_eq!(entries(&runtime, &name).await, ["soon"]);
    assert!(
        cancel(Scheduled::Id(soon)).await.unwrap().is_empty(),
        "it ran"
    );
}

/// `Context::cancel_scheduled` from a handler, by id and by name: committed with the
/// handler's batch (nothing is cancelled when the handler fails), and the cancelled
/// messages are gone from the mailbox, never run.
pub async fn handlers_cancel_scheduled_messages(store: Arc<dyn Store>) {
    let (runtime, host) = runtime(store);
    let name = format!("diary-{}", mqless::MessageId::generate(1, None));
    let id = ActorId::new(name.as_str()).unwrap();
    let diary = runtime.client::<Diary>(name.clone()).unwrap();
    diary
        .remind("named".into(), 60_000, "n1".into(), false)
        .send()
        .await
        .unwrap();
    diary
        .remind("kept".into(), 60_000, "n2".into(), false)
        .send()
        .await
        .unwrap();
    let by_id = diary
        .write("by id".into())
        .send_after(Duration::from_secs(60))
        .await
        .unwrap();
    diary
        .cancel(Some(by_id), Some("n1".into()), true)
        .send()
        .await
        .unwrap();
    host.drain(&id).await.unwrap();
    let queued = |runtime: &Embedded| {
        let runtime = runtime.operator();
        let address = mqless::id::Address::parse(&format!("Diary/{name}")).unwrap();
        async move { runtime.mailbox(&address, 100).await.unwrap().len() }
    };
    assert_eq!(
        queued(&runtime).await,
        3,
        "a failed handler cancels nothing"
    );
    diary
        .cancel(Some(by_id), Some("n1".into()), false)
        .send()
        .await
        .unwrap();
    host.drain(&id).await.unwrap();
    assert_eq!(queued(&runtime).await, 1, "only n2 is left");
    let cancel = |which| runtime.cancel_scheduled::<Diary>(name.clone(), which);
    assert!(cancel(Scheduled::Id(by_id)).await.unwrap().is_empty());
    assert!(cancel(Scheduled::Name("n1".into()))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(cancel(Scheduled::Name("n2".into())).await.unwrap().len(), 1);
}
