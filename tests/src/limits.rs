//! Commits near DynamoDB's limits, on any store: a batch whose messages each send many
//! large messages must still commit (the 4 MB transaction limit), on the in-memory store
//! (which enforces DynamoDB's limits) and on DynamoDB Local.

use std::sync::Arc;

use mqless::testing::RecordingInvoker;
use mqless::{ActorId, Context, Embedded};
use serde::{Deserialize, Serialize};

/// Sends `count` messages of `bytes` bytes each to its sink.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Broadcaster {
    sent: u32,
}

/// Receives them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Sink {
    /// Messages received.
    pub received: u32,
}

#[mqless::actor]
impl Broadcaster {
    /// Sends `count` blobs of `bytes` bytes to sink `to`.
    pub async fn broadcast(&mut self, to: String, count: u32, bytes: u32, ctx: &mut Context) {
        let sink = ctx.actor::<Sink>(to).unwrap();
        for _ in 0..count {
            sink.take(vec![7; bytes as usize]).send().await.unwrap();
        }
        self.sent += count;
    }
}

#[mqless::actor]
impl Sink {
    /// Takes one blob.
    pub fn take(&mut self, blob: Vec<u8>) {
        let _ = blob;
        self.received += 1;
    }
}

/// Queues one `broadcast` to `{id}-sink` per count, of blobs of `bytes`, then drains
/// broadcaster `id` once.
async fn broadcast_and_drain(
    runtime: &Embedded,
    id: &str,
    counts: &[u32],
    bytes: u32,
) -> mqless::mailbox::DrainReport {
    let broadcaster = runtime.client::<Broadcaster>(id).unwrap();
    for &count in counts {
        broadcaster
            .broadcast(format!("{id}-sink"), count, bytes)
            .send()
            .await
            .unwrap();
    }
    let host = runtime.host::<Broadcaster>().unwrap();
    host.drain(&ActorId::new(id).unwrap()).await.unwrap()
}

/// Two messages, each sending 40 x 60 KiB (2.4 MB each, 4.8 MB together), queued for one
/// drain: the batch must stop after the first, so each commit stays under 4 MB.
pub async fn two_big_fan_outs_commit_in_separate_batches(store: Arc<dyn mqless::store::Store>) {
    let runtime = Embedded::builder()
        .store(store)
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Broadcaster>().unwrap();
    runtime.register::<Sink>().unwrap();
    let id = format!("fan-{}", mqless::MessageId::generate(1, None));
    let report = broadcast_and_drain(&runtime, &id, &[40, 40], 60 * 1024).await;
    assert_eq!(
        (
            report.processed,
            report.batches,
            report.dead_lettered,
            report.refused_commits
        ),
        (2, 2, 0, 0),
        "each fan-out committed in its own batch, budgeted before it ran (no commit refused): {report:?}"
    );
    let sinks = runtime.host::<Sink>().unwrap();
    sinks
        .drain(&ActorId::new(format!("{id}-sink")).unwrap())
        .await
        .unwrap();
    let sink = crate::state::<Sink>(&runtime, &format!("{id}-sink")).await;
    assert_eq!(sink.received, 80);
}

/// Three messages sending 120, 90 and 60 small messages, with `max_sends_per_message`
/// raised to 150: the 120 would make a transaction of more than DynamoDB's 100 items,
/// so that message is dead-lettered with the limit named before any commit is tried;
/// 90 and 60 commit in separate batches. The embedded runtime used to commit what
/// DynamoDB refuses.
pub async fn sends_over_the_item_cap_are_dead_lettered(store: Arc<dyn mqless::store::Store>) {
    let runtime = Embedded::builder()
        .store(store)
        .config(mqless::mailbox::DrainConfig {
            max_sends_per_message: 150,
            ..mqless::mailbox::DrainConfig::default()
        })
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Broadcaster>().unwrap();
    runtime.register::<Sink>().unwrap();
    let id = format!("many-{}", mqless::MessageId::generate(1, None));
    let report = broadcast_and_drain(&runtime, &id, &[120, 90, 60], 16).await;
    assert_eq!(
        (
            report.processed,
            report.dead_lettered,
            report.refused_commits
        ),
        (2, 1, 0),
        "{report:?}"
    );
    let letters = crate::dead_letters::<Broadcaster>(&runtime, &id).await;
    assert!(
        letters[0].error.contains("100-item transaction limit"),
        "{}",
        letters[0].error
    );
    runtime
        .host::<Sink>()
        .unwrap()
        .drain(&ActorId::new(format!("{id}-sink")).unwrap())
        .await
        .unwrap();
    let sink = crate::state::<Sink>(&runtime, &format!("{id}-sink")).await;
    assert_eq!(sink.received, 150);
}
