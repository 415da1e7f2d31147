//! What the seeded scenario counts, summed over seeds, and its one-paragraph summary.

use mqless::testing::{EmitFaults, NudgeFaults, StoreFaults};

/// What runs did, summed over seeds.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Seeds run.
    pub seeds: u64,
    /// Messages acknowledged by `send` (or `send_at`), or relayed by an actor whose
    /// message was.
    pub acknowledged: u64,
    /// Of those, the messages scheduled for later (`send_at`, up to 3 s ahead).
    pub scheduled: u64,
    /// Scheduled messages that ran before their time (must stay 0).
    pub early: u64,
    /// Of those, the messages actors relayed to each other.
    pub relayed: u64,
    /// Seeds whose last relay (to an actor nothing else reaches) had its wake-up refused
    /// before recovery: only its sender's mark brings it to the sweep.
    pub tail_relays_refused: u64,
    /// Acknowledged messages applied exactly once.
    pub applied_once: u64,
    /// Acknowledged messages never applied (must stay 0).
    pub lost: u64,
    /// Extra applications (must stay 0).
    pub duplicated: u64,
    /// A sender's messages applied out of order (must stay 0).
    pub out_of_order: u64,
    /// Sends tried (including retries after an error).
    pub sends: u64,
    /// Sends that returned an error and were retried with the same idempotency key.
    pub retried_sends: u64,
    /// Sends without an idempotency key that returned an error, not repeated (their
    /// messages, and the relays of those, may run at most once).
    pub unacknowledged: u64,
    /// Of those messages and their relays, the ones that ran (once).
    pub unacknowledged_applied: u64,
    /// Sends by a process in the old key layout, of a table on its way to a new one.
    pub legacy_sends: u64,
    /// Messages a migration moved to the new key layout's partitions.
    pub migrated: u64,
    /// Drains started.
    pub drains: u64,
    /// Drains that returned an error.
    pub failed_drains: u64,
    /// Drains that committed optimistically, without the lease.
    pub optimistic_drains: u64,
    /// Drains killed at a random await point.
    pub crashed_drains: u64,
    /// Drains killed after hanging (on the poison message, or too slow).
    pub hung_drains: u64,
    /// Poison messages sent, and how many ended in the dead letters.
    pub poison: (u64, u64),
    /// Times a poison message started running.
    pub poison_runs: u64,
    /// Ordinary messages dead-lettered after stalls in a row, then redriven.
    pub redriven: u64,
    /// Messages dead-lettered because their commit was refused for size (a deterministic
    /// fault), then redriven once the limit was lifted.
    pub refused_redriven: u64,
    /// Actors whose state was corrupted (a deterministic fault), found quarantined, and
    /// repaired through the API.
    pub quarantined: u64,
    /// Malformed mailbox items written past the client, and how many were dead-lettered.
    pub malformed: (u64, u64),
    /// Actors the sweeps found with messages nobody had woken them for.
    pub swept: u64,
    /// Owners paused at a protocol step past their lease while another owner took the
    /// actor over, then resumed.
    pub zombies: u64,
    /// Store faults injected.
    pub store: StoreFaults,
    /// Nudge faults injected.
    pub nudges: NudgeFaults,
    /// Asks between actors, and how they were answered.
    pub asks: super::asks::AskStats,
    /// Emissions delivered (each committed history entry's, once), and deliveries
    /// repeated under the same id after a delivery or cleanup was cut short.
    pub emissions: u64,
    /// See `emissions`.
    pub emissions_repeated: u64,
    /// Emissions refused for good, dead-lettered, then redriven (delivered late).
    pub emissions_redriven: u64,
    /// Emission faults injected.
    pub emit_faults: EmitFaults,
}

impl Stats {
    /// Counts an acknowledged message that was applied `times` times.
    /// Counts a message whose send failed (or its relay), applied `times` times: at most
    /// once.
    pub(super) fn count_unacknowledged(&mut self, times: u64) {
        self.unacknowledged_applied += times.min(1);
        self.duplicated += times.saturating_sub(1);
    }

    pub(super) fn count_applied(&mut self, times: u64) {
        match times {
            0 => self.lost += 1,
            1 => self.applied_once += 1,
            n => self.duplicated += n - 1,
        }
    }

    /// Adds another run's figures.
    pub fn add(&mut self, other: &Stats) {
        self.seeds += other.seeds;
        self.acknowledged += other.acknowledged;
        self.relayed += other.relayed;
        self.tail_relays_refused += other.tail_relays_refused;
        self.applied_once += other.applied_once;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.sends += other.sends;
        self.retried_sends += other.retried_sends;
        self.unacknowledged += other.unacknowledged;
        self.unacknowledged_applied += other.unacknowledged_applied;
        self.legacy_sends += other.legacy_sends;
        self.migrated += other.migrated;
        self.drains += other.drains;
        self.failed_drains += other.failed_drains;
        self.optimistic_drains += other.optimistic_drains;
        self.crashed_drains += other.crashed_drains;
        self.hung_drains += other.hung_drains;
        self.poison.0 += other.poison.0;
        self.poison.1 += other.poison.1;
        self.poison_runs += other.poison_runs;
        self.redriven += other.redriven;
        self.refused_redriven += other.refused_redriven;
        self.quarantined += other.quarantined;
        self.malformed.0 += other.malformed.0;
        self.malformed.1 += other.malformed.1;
        self.swept += other.swept;
        self.zombies += other.zombies;
        self.scheduled += other.scheduled;
        self.early += other.early;
        self.store += other.store;
        self.nudges += other.nudges;
        self.asks.add(&other.asks);
        self.emissions += other.emissions;
        self.emissions_repeated += other.emissions_repeated;
        self.emissions_redriven += other.emissions_redriven;
        self.emit_faults.before += other.emit_faults.before;
        self.emit_faults.after += other.emit_faults.after;
        self.emit_faults.refused += other.emit_faults.refused;
    }

    /// One paragraph for the test output and docs/reliability.md.
    pub fn summary(&self) -> String {
        format!(
            "{} seeds: {} messages acknowledged ({} of them sent by actors to actors, {} scheduled for later), {} applied exactly once, {} lost, {} duplicated, {} out of order, {} overlaps, {} run early. \
             {} sends ({} failed and retried with their key, {} by a process in the old key layout, {} moved by migrations racing the drains); {} drains ({} returned an error, {} killed mid-way, {} hung and killed, {} committed optimistically); {} zombies (owners paused past their lease at a protocol step while another took over, then resumed). \
             Store faults: {} before the write ({} of them throttling), {} after it. \
             Nudges: {} dropped, {} refused, {} duplicated, {} delayed; sweeps found {} forgotten actors; in {} seeds the last message's relay, to an actor nothing else reaches, had its wake-up refused before recovery. \
             Poison messages: {} sent, {} dead-lettered after {} runs in all; {} ordinary messages dead-lettered by stalls and redriven. \
             Asks between actors (reply_to): {} asked, each answered exactly once ({} by the reply, {} by the timeout, {} by a dead-letter notice) and its question run exactly once; {} of their messages dead-lettered by stalls and redriven. \
             Deterministic faults: {} commits refused for size ({} messages dead-lettered for it and redriven once the limit was lifted); {} actors with a corrupted state quarantined and repaired; {} malformed items written past the client, {} dead-lettered. \
             Emissions: {} delivered, each committed entry's once in history order (but those redriven), {} deliveries repeated under their id; channel faults: {} unavailable before taking one, {} took it and lost the answer, {} refused one for good ({} dead letters redriven, each emitted late under its id).",
            self.seeds,
            self.acknowledged,
            self.relayed,
            self.scheduled,
            self.applied_once,
            self.lost,
            self.duplicated,
            self.out_of_order,
            super::overlaps(),
            self.early,
            self.sends,
            self.retried_sends,
            self.legacy_sends,
            self.migrated,
            self.drains,
            self.failed_drains,
            self.crashed_drains,
            self.hung_drains,
            self.optimistic_drains,
            self.zombies,
            self.store.before,
            self.store.throttled,
            self.store.after,
            self.nudges.dropped,
            self.nudges.failed,
            self.nudges.duplicated,
            self.nudges.delayed,
            self.swept,
            self.tail_relays_refused,
            self.poison.0,
            self.poison.1,
            self.poison_runs,
            self.redriven,
            self.asks.asked,
            self.asks.replied,
            self.asks.timed_out,
            self.asks.dead_lettered,
            self.asks.redriven,
            self.store.refused_commits,
            self.refused_redriven,
            self.quarantined,
            self.malformed.0,
            self.malformed.1,
            self.emissions,
            self.emissions_repeated,
            self.emit_faults.before,
            self.emit_faults.after,
            self.emit_faults.refused,
            self.emissions_redriven,
        ) + &self.unacknowledged_summary()
    }

    /// The sends without a key that failed, when there were any.
    fn unacknowledged_summary(&self) -> String {
        if self.unacknowledged == 0 {
            return String::new();
        }
        format!(
            " Sends without an idempotency key racing the drains: {} failed and were not repeated; {} of their messages and relays ran, each once.",
            self.unacknowledged, self.unacknowledged_applied
        )
    }
}
