//! Sends that race the drains, without idempotency keys, from a client process whose
//! answers may be lost below the SDK and held there while the actor runs on: an
//! acknowledged message runs once, one whose send failed at most once.

use std::sync::Arc;

use mqless::store::Store;
use mqless::testing::{FaultWorld, LostAnswers};
use mqless::Embedded;

use super::log::{relayed_sender, Log};
use super::Run;

/// A client process whose sends race the drains, without idempotency keys, through a
/// store of its own whose answers may be lost ([`LostAnswers`] below the SDK). A lost
/// answer is held for the rest of the round and the whole next one, so it often comes
/// after its message ran and a later batch committed: nothing read then can tell the
/// message from one never queued. An acknowledged message must run once; one whose
/// send failed, at most once (its sender cannot tell whether it was queued, and
/// resends nothing).
#[derive(Clone)]
pub struct RacingSends {
    /// The table, through the racing sender's own store.
    pub store: Arc<dyn Store>,
    /// What loses that store's answers; the scenario holds and releases them.
    pub answers: LostAnswers,
}

impl std::fmt::Debug for RacingSends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RacingSends")
            .field("answers", &self.answers)
            .finish_non_exhaustive()
    }
}

impl RacingSends {
    /// The racing sender's process, on the world's clock, its wake-ups through the
    /// world's faulty invoker like every other process's.
    pub(super) fn clients<S: Store>(&self, world: &FaultWorld<S>) -> Embedded {
        super::client_process(self.store.clone(), world)
    }
}

/// A send racing the drains: the round it started in, its message's `(sender, seq)`,
/// and the send (a task of its own, so that a held answer holds its thread only).
pub(super) struct RacingSend {
    round: u64,
    key: (u32, u32),
    send: tokio::task::JoinHandle<Result<(), mqless::Error>>,
}

impl<S: Store> Run<'_, S> {
    /// With [`super::Params::racing_sends`], when no racing send is under way, one round
    /// in two: a sender's next message, without an idempotency key, sent by the racing
    /// process before the round's drains.
    pub(super) fn start_racing_send(&mut self) {
        let Some(racing) = &self.params.racing_sends else {
            return;
        };
        if self.racing_send.is_some() || self.world.rng.below(2) == 0 {
            return;
        }
        let sender = self.world.rng.below(u64::from(self.params.senders)) as u32;
        let seq = self.next_seq[sender as usize];
        // A sender repeating a failed send goes on with it, under its key.
        if seq >= self.params.messages || self.resending.contains(&sender) {
            return;
        }
        let a = u64::from((sender + seq) % self.params.actors);
        let relay = seq.is_multiple_of(3).then(|| {
            let to = self.name((a + 1) % self.actors());
            (to, relayed_sender(sender, a))
        });
        let Some(clients) = &self.racing_clients else {
            return;
        };
        let actor = clients.client::<Log>(self.name(a)).unwrap();
        self.next_seq[sender as usize] += 1;
        self.stats.sends += 1;
        racing.answers.hold_lost_answers();
        let send = async move {
            actor
                .record(sender, seq, relay, None)
                .send()
                .await
                .map(drop)
        };
        self.racing_send = Some(RacingSend {
            round: self.round,
            key: (sender, seq),
            send: tokio::spawn(send),
        });
    }

    /// Ends the racing send started in an earlier round, or any, if `all`: its held
    /// answer arrives now. One that failed is not repeated: its message may or may not
    /// have run.
    pub(super) async fn finish_racing_send(&mut self, all: bool) {
        let started_before = |racing: &RacingSend| all || racing.round < self.round;
        let Some(racing) = self.racing_send.take_if(|racing| started_before(racing)) else {
            return;
        };
        if let Some(sends) = &self.params.racing_sends {
            sends.answers.release_held();
        }
        if racing
            .send
            .await
            .expect("the racing send panicked")
            .is_err()
        {
            self.stats.unacknowledged += 1;
            self.unacknowledged.insert(racing.key);
        }
    }
}
