//! Replies in the memory store: read, or waited for with a signal that the cleanup
//! writing the reply fires (no polling, unlike DynamoDB's reads).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{lock, MemoryStore};
use crate::id::{Address, MessageId};

impl MemoryStore {
    /// The reply to message `id` of `address`, if written. Replies are keyed by message
    /// id alone, as in key layout v1: in one process every asker is the same one.
    pub(super) fn reply(&self, address: &Address, id: MessageId) -> Option<Vec<u8>> {
        lock(&self.shared.actors)
            .get(address)
            .and_then(|a| a.replies.get(&id))
            .map(|(bytes, _)| bytes.clone())
    }

    /// The signal the cleanup that writes the reply to `id` fires.
    pub(super) fn signal(&self, address: &Address, id: MessageId) -> Arc<Notify> {
        lock(&self.shared.reply_signals)
            .entry((address.clone(), id))
            .or_default()
            .clone()
    }

    /// Takes the reply to `id` as soon as it is written, within `timeout`.
    pub(super) async fn take_reply_within(
        &self,
        address: &Address,
        id: MessageId,
        timeout: Duration,
    ) -> Option<Vec<u8>> {
        let signal = self.signal(address, id);
        let take = || {
            let mut actors = lock(&self.shared.actors);
            actors
                .get_mut(address)
                .and_then(|a| a.replies.remove(&id))
                .map(|(bytes, _)| bytes)
        };
        let deadline = tokio::time::Instant::now() + timeout;
        // `notify_one` stores a permit when nobody waits yet, so a reply written
        // between `take` and `notified` still wakes us.
        let reply = loop {
            if let Some(reply) = take() {
                break Some(reply);
            }
            if tokio::time::timeout_at(deadline, signal.notified())
                .await
                .is_err()
            {
                break take();
            }
        };
        lock(&self.shared.reply_signals).remove(&(address.clone(), id));
        reply
    }
}
