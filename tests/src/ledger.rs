//! The exactly-once, in-order, one-at-a-time scenario, on any store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use mqless::{ActorId, Context, Embedded};
use serde::{Deserialize, Serialize};

use crate::InFlight;

static IN_FLIGHT: LazyLock<InFlight> = LazyLock::new(InFlight::default);

/// Records, per sender, how many messages it applied and whether they came in order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    last_seq: BTreeMap<u32, u32>,
    applied: BTreeMap<u32, u32>,
    out_of_order: u64,
}

#[mqless::actor]
impl Ledger {
    /// Applies message `seq` of `sender`.
    pub async fn record(&mut self, sender: u32, seq: u32, ctx: &mut Context) {
        let id = ctx.id().to_string();
        IN_FLIGHT.enter(&id);
        // Give another drain of the same actor every chance to run meanwhile.
        tokio::task::yield_now().await;
        if self.last_seq.get(&sender).is_some_and(|last| *last >= seq) {
            self.out_of_order += 1;
        }
        self.last_seq.insert(sender, seq);
        *self.applied.entry(sender).or_default() += 1;
        IN_FLIGHT.leave(&id);
    }
}

/// The size of a run.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Concurrent senders.
    pub senders: u32,
    /// Messages each sender sends, spread over the actors.
    pub messages_per_sender: u32,
    /// Actors.
    pub actors: u32,
    /// Extra drains racing the runtime's own, on every actor, for the whole run.
    pub rogue_drainers: u32,
}

/// Runs `scenario` on `runtime` (which must have [`Ledger`] registered) and asserts
/// the invariants: every message applied exactly once, each sender's messages in
/// order, never two messages of one actor in flight at once.
pub async fn run(runtime: Arc<Embedded>, scenario: Scenario) {
    let host = Arc::new(runtime.host::<Ledger>().unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let actor_id = |a: u32| ActorId::new(format!("ledger-{a}")).unwrap();

    let mut rogues = Vec::new();
    for r in 0..scenario.rogue_drainers {
        let (host, done) = (host.clone(), done.clone());
        rogues.push(tokio::spawn(async move {
            let mut ends = BTreeMap::<String, u64>::new();
            while !done.load(Ordering::Relaxed) {
                let report = host.drain(&actor_id(r % scenario.actors)).await.unwrap();
                *ends.entry(format!("{:?}", report.end)).or_default() += 1;
                tokio::task::yield_now().await;
            }
            ends
        }));
    }

    let mut senders = Vec::new();
    for sender in 0..scenario.senders {
        let runtime = runtime.clone();
        senders.push(tokio::spawn(async move {
            for seq in 0..scenario.messages_per_sender {
                let to = format!("ledger-{}", (sender + seq) % scenario.actors);
                runtime
                    .client::<Ledger>(to)
                    .unwrap()
                    .record(sender, seq)
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    runtime.settle().await;
    done.store(true, Ordering::Relaxed);
    let mut ends = BTreeMap::<String, u64>::new();
    for rogue in rogues {
        for (end, n) in rogue.await.unwrap() {
            *ends.entry(end).or_default() += n;
        }
    }
    // A rogue drain may have made the runtime's own drain end `Busy` and then stopped:
    // drain each actor once more so nothing is left behind.
    for a in 0..scenario.actors {
        host.drain(&actor_id(a)).await.unwrap();
    }
    println!("rogue drain outcomes: {ends:?}");
    check(&runtime, &scenario).await;
}

/// Every message applied exactly once, each sender's in the order sent, never two
/// messages of one actor in flight at once.
pub async fn check(runtime: &Embedded, scenario: &Scenario) {
    let mut applied = BTreeMap::<u32, u32>::new();
    let mut out_of_order = 0;
    for a in 0..scenario.actors {
        let ledger = runtime
            .state::<Ledger>(format!("ledger-{a}"))
            .await
            .unwrap()
            .unwrap();
        out_of_order += ledger.out_of_order;
        for (sender, n) in ledger.applied {
            *applied.entry(sender).or_default() += n;
        }
    }
    assert_eq!(applied.len() as u32, scenario.senders);
    for (sender, n) in &applied {
        assert_eq!(
            *n, scenario.messages_per_sender,
            "sender {sender}: every message applied exactly once"
        );
    }
    assert_eq!(
        out_of_order, 0,
        "each sender's messages are applied in the order sent"
    );
    assert_eq!(
        IN_FLIGHT.overlaps(),
        0,
        "never two messages of one actor in flight at once"
    );
}
