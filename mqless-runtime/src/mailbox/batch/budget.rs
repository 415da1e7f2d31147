//! How much one batch may take: whether one more message, at its worst, still lets the
//! commit fit DynamoDB's limits (the state record's 400 KB, a transaction's 4 MB and 100
//! items) and the batch's own budgets. Checked before a message runs, as its sends and
//! bookkeeping cannot be undone once it ran.

use super::Batch;
use crate::actor::client::MAX_IDEMPOTENCY_KEY_LEN;
use crate::actor::Actor;
use crate::id::Address;
use crate::mailbox::bookkeeping::{
    CONSUMED_BYTES, FAILURE_OVERHEAD, KEY_OVERHEAD, MAX_ERROR_LEN, REPLY_OVERHEAD,
};
use crate::mailbox::reminder::MAX_REGISTRY_BYTES;
use crate::store::{
    MailboxItem, ITEM_OVERHEAD_BYTES, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS,
};
use crate::wire::ENVELOPE_OVERHEAD;

impl<A: Actor> Batch<'_, A> {
    /// Whether the batch is full: one more message could, at its worst, push the state
    /// record or the transaction past DynamoDB's limits, or the batch reached a budget
    /// of its own. A batch always takes its first message: if that one cannot commit,
    /// the lease dead-letters it (see `Lease::commit_refused`).
    pub(in crate::mailbox) fn is_full(&self) -> bool {
        if self.continued.is_some() {
            // The continued message is next again: it runs in the next batch.
            return true;
        }
        if self.taken == 0 {
            return false;
        }
        let config = &self.host.config;
        self.next.batch_bytes() >= config.max_batch_bookkeeping_bytes
            || self.outgoing.len() >= config.max_sends_per_message
            || !self.record_fits_one_more()
            || !self.sends_fit_one_more()
    }

    /// Whether the state record still fits [`MAX_ITEM_BYTES`] after one more message at
    /// its worst: a state of the largest size, this batch's bookkeeping and the key
    /// window, plus the message's id, largest reply, error and key.
    fn record_fits_one_more(&self) -> bool {
        let limits = &self.host.config.limits;
        let worst_message = CONSUMED_BYTES
            + limits.max_message_bytes
            + REPLY_OVERHEAD
            + MAX_ERROR_LEN
            + FAILURE_OVERHEAD
            + MAX_IDEMPOTENCY_KEY_LEN
            + KEY_OVERHEAD
            // the asks it may make with reply_to, kept until they are settled
            + self.host.config.max_sends_per_message * CONSUMED_BYTES
            // and what it may emit, kept until delivered
            + self.host.config.max_emission_bytes_per_message;
        // A message may also cancel reminders, up to the registry's bound.
        limits.max_state_bytes
            + self.next.bytes()
            + worst_message
            + MAX_REGISTRY_BYTES
            + ITEM_OVERHEAD_BYTES
            <= MAX_ITEM_BYTES
    }

    /// Whether one more message's sends, at their worst (the most sends of the largest
    /// messages), still fit the commit's transaction beside the state record: budgeted
    /// before taking the message, as its sends cannot be undone once it ran.
    fn sends_fit_one_more(&self) -> bool {
        if self.outgoing.is_empty() && self.subscriptions.is_empty() {
            return true;
        }
        let config = &self.host.config;
        let per_send = config.limits.max_message_bytes + ENVELOPE_OVERHEAD + ITEM_OVERHEAD_BYTES;
        let most_sends = config.max_sends_per_message + SENDS_BESIDES_THE_HANDLERS;
        // Every subscription of the type, at its largest: the batch keeps one per topic.
        let subscriptions = self.subscription_slots();
        self.record_budget()
            + self.outgoing_bytes
            + most_sends * per_send
            + subscriptions * MAX_SUBSCRIPTION_CHANGE_BYTES
            <= MAX_TRANSACTION_BYTES
            && self.outgoing.len() + most_sends + subscriptions < MAX_TRANSACTION_ITEMS
    }

    /// How many subscription changes the commit may carry: one per topic the type
    /// subscribes to one actor at a time, where the commit writes them.
    fn subscription_slots(&self) -> usize {
        if !self.host.store.subscription_writers().subscribers_commit() {
            return 0;
        }
        A::SUBSCRIPTIONS
            .iter()
            .filter(|s| s.route.is_none())
            .count()
    }

    /// The largest state record a commit may carry: DynamoDB's item limit, which
    /// `record_fits_one_more` keeps it under.
    pub(super) fn record_budget(&self) -> usize {
        MAX_ITEM_BYTES
    }
}

/// What a message may add to its commit besides its handler's sends: its reminder's
/// next fire, and its reply to an asking actor.
pub(super) const SENDS_BESIDES_THE_HANDLERS: usize = 2;

/// The largest item a subscription change writes: its pattern at the pattern limit,
/// the addresses, names and DynamoDB's overhead.
const MAX_SUBSCRIPTION_CHANGE_BYTES: usize = mqless_pattern::MAX_PATTERN_BYTES + 2048;

/// The bytes messages add to a commit's transaction.
pub(super) fn transaction_bytes(sent: &[(Address, MailboxItem)]) -> usize {
    sent.iter()
        .map(|(_, item)| item.envelope.len() + ITEM_OVERHEAD_BYTES)
        .sum()
}
