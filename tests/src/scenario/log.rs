//! The scenario's actor: `Log` applies each sender's messages and keeps their order,
//! relays some on to other actors, asks others, runs scheduled messages, and has a
//! poison message that never returns; with the process-wide counters the checks read.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use mqless::{ActorId, Context};
use serde::{Deserialize, Serialize};

use super::asks;
use crate::InFlight;

static IN_FLIGHT: LazyLock<InFlight> = LazyLock::new(InFlight::default);
/// Scheduled messages that ran before their time (must stay 0), in this process.
static EARLY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Scheduled messages that ran before their time in this process so far.
#[must_use]
pub fn early_runs() -> u64 {
    EARLY.load(std::sync::atomic::Ordering::SeqCst)
}
/// Times the poison message started, per actor id (tests run side by side).
static POISON_RUNS: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Mutex::default);

/// How many times a poison message started running on actor `id`.
pub fn poison_runs(id: &str) -> u64 {
    POISON_RUNS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
        .copied()
        .unwrap_or(0)
}

/// The channel `Log::record` emits each applied message to.
pub(super) const CHANNEL: &str = "log";

/// What `Log::record` emits for message `seq` of `sender`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Emitted {
    pub(super) sender: u32,
    pub(super) seq: u32,
}

/// Applies each sender's messages and keeps the order they came in.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Log {
    /// `(sender, seq)` of each applied message, in the order applied.
    pub history: Vec<(u32, u32)>,
    /// How each of this actor's asks was answered, in the order answered.
    pub answers: Vec<asks::Answer>,
}

#[mqless::actor(emits_to("log"))]
impl Log {
    /// Applies message `seq` of `sender`, and with `relay = Some((actor, as_sender))`
    /// sends message `seq` of `as_sender` on to that actor, committed with this one. A
    /// scheduled message carries its time as `not_before`: running earlier is counted.
    pub async fn record(
        &mut self,
        sender: u32,
        seq: u32,
        relay: Option<(String, u32)>,
        not_before: Option<u64>,
        ctx: &mut Context,
    ) {
        let _inside = IN_FLIGHT.guard(ctx.id().as_str());
        if not_before.is_some_and(|at| ctx.now_millis() < at) {
            EARLY.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        // Give a racing drain of the same actor every chance to run meanwhile.
        tokio::task::yield_now().await;
        enter(&mut self.history, (sender, seq), ctx);
        if let Some((to, as_sender)) = relay {
            let next = ctx.actor::<Log>(to).unwrap();
            next.record(as_sender, seq, None, None)
                .send()
                .await
                .unwrap();
        }
    }

    /// Asks actor `peer` to echo `seq`, with the reply (or its timeout, after
    /// `timeout_ms`) to `answered`: committed with this message.
    pub async fn ask(&mut self, seq: u32, peer: String, timeout_ms: u64, ctx: &mut Context) {
        let _inside = IN_FLIGHT.guard(ctx.id().as_str());
        tokio::task::yield_now().await;
        let me = ctx.actor::<Log>(ctx.id().as_str()).unwrap();
        ctx.actor::<Log>(peer)
            .unwrap()
            .echo(seq)
            .reply_to(|reply| me.answered(seq, reply))
            .timeout(Duration::from_millis(timeout_ms))
            .send()
            .await
            .unwrap();
    }

    /// Records and returns `seq`: the question of an ask.
    pub async fn echo(&mut self, seq: u32, ctx: &Context) -> u32 {
        let _inside = IN_FLIGHT.guard(ctx.id().as_str());
        tokio::task::yield_now().await;
        enter(&mut self.history, (asks::ASKED, seq), ctx);
        seq
    }

    /// The answer to ask `seq`: its reply or its timeout.
    pub async fn answered(&mut self, seq: u32, reply: mqless::reply::Reply<u32>, ctx: &Context) {
        let _inside = IN_FLIGHT.guard(ctx.id().as_str());
        tokio::task::yield_now().await;
        enter(&mut self.history, (asks::ANSWERED, seq), ctx);
        self.answers.push(asks::Answer::of(seq, &reply));
    }

    /// A message that kills its process: it never returns, as when a handler aborts,
    /// runs out of memory or runs into Lambda's timeout. Nothing can catch it.
    pub async fn poison(&mut self, ctx: &Context) {
        *POISON_RUNS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(ctx.id().to_string())
            .or_default() += 1;
        std::future::pending::<()>().await;
    }
}

/// Senders at or above this are actors relaying a message.
pub(super) const RELAYED: u32 = 1000;
/// The sender of scheduled messages (`send_at`), whose order is their time's, not their
/// sequence's.
pub(super) const SCHEDULED: u32 = 900;
/// The sender of the last message of a seed, which its actor relays to the tail actor
/// (see `Run::relay_to_the_tail`).
pub(super) const TAIL: u32 = 950;

/// Appends `(sender, seq)` to `history`, and emits it to [`CHANNEL`], committed with
/// the entry: the check finds each entry's emission delivered, in history order.
fn enter(history: &mut Vec<(u32, u32)>, (sender, seq): (u32, u32), ctx: &Context) {
    history.push((sender, seq));
    let emitted = mqless::events::Payload::json(&Emitted { sender, seq }).unwrap();
    ctx.emit(CHANNEL, emitted).unwrap();
}

/// The sender id of the relays from actor `a` of sender `sender`'s messages: one per
/// (sender, actor) pair, as order is kept per sender and receiver.
pub(super) fn relayed_sender(sender: u32, a: u64) -> u32 {
    RELAYED + sender * 16 + a as u32
}

/// Overlaps seen by all seeds of this process so far.
#[must_use]
pub fn overlaps() -> u64 {
    IN_FLIGHT.overlaps()
}

/// The address of `Log` actor `id`.
pub(super) fn log_address(id: ActorId) -> mqless::id::Address {
    mqless::id::Address::new(
        mqless::id::ActorType::new(<Log as mqless::Actor>::TYPE_NAME).unwrap(),
        id,
    )
}
