//! Asks between actors (`reply_to`) in the seeded scenario: an actor asks another to echo
//! a number, with a timeout the clock's jumps may pass before the reply. Each ask must be
//! answered exactly once (by its reply or its timeout), and its question run exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use mqless::reply::Reply;
use serde::{Deserialize, Serialize};

use super::{Log, Stats};

/// The history's sender of a question run (`(ASKED, seq)` in the callee's history).
pub(super) const ASKED: u32 = 901;
/// The history's sender of an answer (`(ANSWERED, seq)` in the asker's history).
pub(super) const ANSWERED: u32 = 902;
/// No ask waits longer: the scenario's end moves the clock this far.
pub(super) const LONGEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether a history entry is part of an ask (not ordered by its sender's sequence).
pub(super) fn is_ask(sender: u32) -> bool {
    sender == ASKED || sender == ANSWERED
}

/// How an ask was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// The echo, with the number asked.
    Replied,
    /// The echo, with another number (must not happen).
    WrongReply,
    /// The timeout came first.
    TimedOut,
    /// The question was dead-lettered (its owners stalled on it).
    DeadLettered,
    /// Anything else (must not happen).
    Other,
}

impl Answer {
    /// The answer `reply` is to ask `seq`.
    pub(super) fn of(seq: u32, reply: &Reply<u32>) -> Self {
        match reply {
            Reply::Ok(echo) if *echo == seq => Self::Replied,
            Reply::Ok(_) => Self::WrongReply,
            Reply::TimedOut => Self::TimedOut,
            Reply::DeadLettered(_) => Self::DeadLettered,
            Reply::Duplicate | Reply::Err(_) => Self::Other,
        }
    }
}

/// What the asks did, summed over seeds.
#[derive(Debug, Default, Clone, Copy)]
pub struct AskStats {
    /// Asks acknowledged.
    pub asked: u64,
    /// Answered by the echo.
    pub replied: u64,
    /// Answered by the timeout.
    pub timed_out: u64,
    /// Answered by a dead-letter notice.
    pub dead_lettered: u64,
    /// Answers that must not happen (a wrong echo, a duplicate).
    pub wrong: u64,
    /// Asks answered more than once or never, or whose question ran other than once.
    pub violations: u64,
    /// Asks, questions and answers dead-lettered by stalls, then redriven.
    pub redriven: u64,
}

impl AskStats {
    pub(super) fn add(&mut self, other: &AskStats) {
        self.asked += other.asked;
        self.replied += other.replied;
        self.timed_out += other.timed_out;
        self.dead_lettered += other.dead_lettered;
        self.wrong += other.wrong;
        self.violations += other.violations;
        self.redriven += other.redriven;
    }

    pub(super) fn add_answers(&mut self, answers: &[Answer]) {
        for answer in answers {
            match answer {
                Answer::Replied => self.replied += 1,
                Answer::TimedOut => self.timed_out += 1,
                Answer::DeadLettered => self.dead_lettered += 1,
                Answer::WrongReply | Answer::Other => self.wrong += 1,
            }
        }
    }
}

/// Asks `peer` from `asker` through a client message (retried under its key until
/// acknowledged).
pub(super) async fn send(
    clients: &mqless::Embedded,
    asker: String,
    peer: String,
    seq: u32,
    timeout_ms: u64,
    stats: &mut Stats,
) {
    let actor = clients.client::<Log>(asker).unwrap();
    stats.sends += 1;
    while actor
        .ask(seq, peer.clone(), timeout_ms)
        .idempotency_key(format!("ask-{seq}"))
        .send()
        .await
        .is_err()
    {
        stats.retried_sends += 1;
    }
}

/// Checks that each ask in `asked` ran its question once and was answered once, given
/// how many times each `(sender, seq)` was applied; panics on a wrong answer.
pub(super) fn check(asked: &[u32], applied: &BTreeMap<(u32, u32), u64>, stats: &mut Stats) {
    for &seq in asked {
        stats.asks.asked += 1;
        let question = applied.get(&(ASKED, seq)).copied().unwrap_or(0);
        let answers = applied.get(&(ANSWERED, seq)).copied().unwrap_or(0);
        if (question, answers) != (1, 1) {
            stats.asks.violations += 1;
        }
    }
    assert_eq!(
        (stats.asks.violations, stats.asks.wrong),
        (0, 0),
        "asks answered other than once, or questions run other than once, or wrong answers: {:?}",
        stats.asks
    );
}
