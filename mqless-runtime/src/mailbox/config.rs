//! What a drain is told and what it reports.

use std::time::Duration;

use crate::codec::Limits;
use crate::id::MessageId;

/// Tunables of the drain loop.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// Messages read and committed together. More amortizes the acquire and the commit
    /// over more messages; DynamoDB reads at most 1 MB per query either way.
    pub batch_size: usize,
    /// How long a lease lasts without a commit. A batch stops taking messages when less
    /// than [`DrainConfig::deadline_margin`] of it is left, and its commit renews it; so
    /// it must exceed the margin plus the slowest single message.
    pub lease: Duration,
    /// Tries of a message whose handler panics before it is dead-lettered. Also how many
    /// invocations in a row may stop (crash, time out, lose the lease) before the message
    /// at the head of the mailbox is dead-lettered without running again. Such a message
    /// runs at most `max_attempts + 1` times: the first stall may come in a batch, where
    /// the culprit is not yet known.
    pub max_attempts: u32,
    /// How long a reply waits for its asker.
    pub reply_ttl: Duration,
    /// How many consumed idempotency keys an actor remembers.
    pub dedupe_window: usize,
    /// A batch stops taking messages once its replies and failures reach this many bytes,
    /// so the state record (state + bookkeeping) stays under the store's item limit.
    pub max_batch_bookkeeping_bytes: usize,
    /// Most messages one handler call may send. A batch stops taking messages once it
    /// holds this many sends, so a batch commits at most twice this many (DynamoDB
    /// transactions hold 100 items, the state among them).
    pub max_sends_per_message: usize,
    /// Most bytes the emissions of one handler call may take (`Context::emit`, encoded),
    /// 16 KiB by default. They wait in the state record until delivered, so every batch
    /// keeps this much room in it: raising it leaves less for a batch's replies.
    pub max_emission_bytes_per_message: usize,
    /// How long an emission may wait for a channel that cannot take it for now
    /// (throttling, server errors, an unreachable endpoint), counted from when it was
    /// emitted (its id's time), before it is given up as a dead letter of kind
    /// [`Undeliverable`](crate::store::DeadLetterKind::Undeliverable), to redrive
    /// once the channel works. Until then the actor's later messages wait behind it, so
    /// a channel that never comes back (a mistyped endpoint) does not hold the actor for
    /// ever. A day by default.
    pub max_emission_wait: Duration,
    /// Stop draining this long before the invocation's deadline, leaving the rest to a
    /// fresh invocation.
    pub deadline_margin: Duration,
    /// Keep a tell whose method returned `Err` as a dead letter of kind
    /// [`Rejected`](crate::store::DeadLetterKind::Rejected), with the error's `Debug`
    /// (nobody else hears of it: an ask's error goes to the asker). Default `true`; turn
    /// it off for actors whose tells fail routinely and are logged enough.
    pub keep_rejected_tells: bool,
    /// Drain a mailbox whose messages are all fresh (and fit one batch) without taking
    /// the lease: read the state record, run the messages, and commit on the version and
    /// epoch read, which fails if any other owner acquired or committed meanwhile (then
    /// the drain falls back to the lease). Saves the acquire's write, which is most of
    /// the cost of a drain of one or a few messages (one write unit per message instead
    /// of two or more, for actors that get a message now and then). The price: when two
    /// invocations race for an idle actor, both may *run* the messages (only one commits;
    /// the state sees them once), so handler executions may overlap in that race. Off by
    /// default; see docs/design.md, "Optimistic drains".
    pub optimistic: bool,
    /// Payload limits.
    pub limits: Limits,
}

/// How recent a message must be for an optimistic drain (by its id's time, either way):
/// a message that kills its process is retried by Lambda a minute later, or by a sweep,
/// by then through the lease, whose stall count finds it.
pub const OPTIMISTIC_FRESHNESS: Duration = Duration::from_secs(10);

impl Default for DrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            lease: Duration::from_secs(60),
            max_attempts: 3,
            reply_ttl: Duration::from_secs(600),
            dedupe_window: 128,
            max_batch_bookkeeping_bytes: 64 * 1024,
            max_sends_per_message: 49,
            max_emission_bytes_per_message: crate::events::DEFAULT_MAX_EMISSION_BYTES,
            max_emission_wait: Duration::from_secs(24 * 3600),
            deadline_margin: Duration::from_secs(2),
            keep_rejected_tells: true,
            optimistic: false,
            limits: Limits::DEFAULT,
        }
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrainEnd {
    /// The mailbox was empty after the lease was released.
    #[default]
    Empty,
    /// A live owner holds the lease; it will process what is queued.
    Busy,
    /// Another owner took the lease over; this invocation's last batch was dropped.
    Fenced,
    /// The deadline came near; the rest was handed to a fresh invocation.
    Deadline,
    /// The actor is quarantined (see [`DrainReport::quarantine`]): nothing ran, and its
    /// messages stay queued until an operator lifts the quarantine.
    Quarantined,
}

/// What one drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Messages applied (the method returned normally).
    pub processed: usize,
    /// Messages whose method returned `Err` (consumed, state unchanged). Tells among them
    /// are kept as `Rejected` dead letters (see [`DrainConfig::keep_rejected_tells`]),
    /// not counted in `dead_lettered`.
    pub failed: usize,
    /// Messages moved to the dead letters.
    pub dead_lettered: usize,
    /// Messages skipped because their idempotency key was already consumed.
    pub duplicates: usize,
    /// Committed batches.
    pub batches: usize,
    /// Whether the drain committed without taking the lease (see
    /// [`DrainConfig::optimistic`]).
    pub optimistic: bool,
    /// Commits refused for exceeding DynamoDB's item or transaction limit. Each refused
    /// batch is retried one message at a time; a message that cannot commit even alone
    /// is dead-lettered (counted in `dead_lettered`).
    pub refused_commits: usize,
    /// How the drain ended.
    pub end: DrainEnd,
    /// The encoded reply to [`DrainOptions::reply_for`], when this drain committed it.
    pub reply: Option<Vec<u8>>,
    /// Why the actor is quarantined, when the drain ended [`DrainEnd::Quarantined`].
    pub quarantine: Option<String>,
}

/// What one drain should do besides draining.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainOptions {
    /// The invocation's deadline, in milliseconds since the Unix epoch on the host clock:
    /// stop [`DrainConfig::deadline_margin`] before it and release the lease, ending with
    /// [`DrainEnd::Deadline`] so the caller hands the rest to a fresh invocation.
    pub deadline_millis: Option<u64>,
    /// Return the reply to this message in [`DrainReport::reply`] if this drain commits it.
    pub reply_for: Option<MessageId>,
}
