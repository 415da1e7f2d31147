//! `.query()`: a `&self` method run in the caller's process on the committed state.

use std::sync::Arc;

use mqless::testing::RecordingInvoker;
use mqless::{AskError, Context, Embedded, Error};
use mqless_examples::counter::Counter;
use serde::{Deserialize, Serialize};

#[tokio::test]
async fn a_query_reads_the_committed_state_without_the_mailbox() {
    let invoker = Arc::new(RecordingInvoker::new());
    let runtime = Embedded::builder().manual_drains(invoker.clone()).build();
    runtime.register::<Counter>().unwrap();
    let counter = runtime.client::<Counter>("visits").unwrap();
    // Before any commit: the actor's `Default`.
    assert_eq!(counter.get().query().await, Ok(0));
    counter.increment(5).send().await.unwrap();
    invoker.take_nudges();
    // Queued, not committed: a query does not see it, and wakes nobody.
    assert_eq!(counter.get().query().await, Ok(0));
    assert!(invoker.take_nudges().is_empty(), "a query invokes nothing");
    let host = runtime.host::<Counter>().unwrap();
    host.drain(&mqless::ActorId::new("visits").unwrap())
        .await
        .unwrap();
    assert_eq!(counter.get().query().await, Ok(5));
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Gossip {
    heard: u32,
}

#[mqless::actor]
impl Gossip {
    pub fn heard(&self) -> u32 {
        self.heard
    }

    /// Reads, then tries to tell another actor: not possible from a query.
    pub async fn spread(&self, to: String, ctx: &mut Context) -> Result<u32, mqless::RuntimeError> {
        ctx.actor::<Gossip>(to)?.hear().send().await?;
        Ok(self.heard)
    }

    pub fn hear(&mut self) {
        self.heard += 1;
    }

    pub fn explode(&self) -> u32 {
        panic!("boom")
    }
}

#[tokio::test]
async fn a_query_cannot_send_and_its_panics_are_errors() {
    let runtime = Embedded::new();
    runtime.register::<Gossip>().unwrap();
    let gossip = runtime.client::<Gossip>("ann").unwrap();
    let sent = gossip.spread("bob".into()).query().await;
    assert!(
        matches!(&sent, Err(AskError::Handler(e)) if e.to_string().contains(".query()")),
        "{sent:?}"
    );
    let exploded = gossip.explode().query().await;
    assert!(
        matches!(&exploded, Err(AskError::Runtime(Error::QueryPanicked { panic, .. })) if panic.contains("boom")),
        "{exploded:?}"
    );
    // The same methods through the mailbox behave as usual.
    assert_eq!(gossip.spread("bob".into()).call().await, Ok(0));
    runtime.settle().await;
    assert_eq!(
        runtime
            .client::<Gossip>("bob")
            .unwrap()
            .heard()
            .query()
            .await,
        Ok(1)
    );
}
