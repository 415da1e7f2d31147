//! The in-memory store: the embedded runtime's default, and the fastest way to run the
//! mailbox protocol in tests. One lock guards all actors, which makes `commit` with
//! outgoing messages trivially atomic; every operation under it is a map lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

mod actor_data;
mod operators;
mod replies;

use super::due::{self, DueEntry};
use super::record::{self, Transition};
use super::{
    Acquired, Cleanup, Commit, CommitOutcome, DeadLetter, Lift, MailboxItem, QuarantineRecord,
    Retired, StateRecord, Store, SubscriptionPage, SubscriptionRecord,
};
use crate::error::StoreError;
use crate::id::{ActorType, Address, MessageId};
use crate::BoxFuture;
use actor_data::{actor, ActorData};

/// Mailboxes and state in process memory. Cheap to clone: clones share the data.
///
/// ```
/// use mqless_runtime::store::memory::MemoryStore;
/// let store = MemoryStore::new();
/// assert_eq!(store.pending_messages(), 0);
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    shared: Arc<Shared>,
    /// Subscribers commit their subscriptions, as DynamoDB's key layout v2 has them
    /// (see [`MemoryStore::with_subscriptions_committed`]).
    subscriptions_committed: bool,
}

#[derive(Default)]
struct Shared {
    actors: Mutex<HashMap<Address, ActorData>>,
    /// Where the last sweep that ran out of time stopped.
    sweep_cursor: Mutex<Option<String>>,
    reply_signals: Mutex<HashMap<(Address, MessageId), Arc<Notify>>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("pending_messages", &self.pending_messages())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the data is still
    // consistent because every operation writes its changes last.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// This store, with subscriptions written as DynamoDB's key layout v2 writes them:
    /// by the subscribers' own commits, read by subscriber type, a topic refusing
    /// subscribe messages (see [`Store::subscription_writers`]). For tests of that path
    /// without DynamoDB; clones share the data, not this choice.
    ///
    /// ```
    /// use mqless_runtime::store::{memory::MemoryStore, Store, SubscriptionWriters};
    /// let store = MemoryStore::new().with_subscriptions_committed();
    /// assert_eq!(store.subscription_writers(), SubscriptionWriters::Subscribers);
    /// ```
    #[must_use]
    pub fn with_subscriptions_committed(mut self) -> Self {
        self.subscriptions_committed = true;
        self
    }

    /// Messages waiting in all mailboxes.
    #[must_use]
    pub fn pending_messages(&self) -> usize {
        lock(&self.shared.actors)
            .values()
            .map(|a| a.mailbox.len())
            .sum()
    }

    /// Deletes what DynamoDB's TTL would have deleted by `now`: state records, lease
    /// items and replies whose expiry is past. DynamoDB deletes them at a moment
    /// of its own, minutes to days after their expiry; a test calls this when it wants
    /// that moment to be, to check that nothing depends on a record after its expiry.
    /// Returns the records (`#state`) deleted.
    pub fn delete_expired(&self, now: u64) -> usize {
        let mut deleted = 0;
        for data in lock(&self.shared.actors).values_mut() {
            if data.record.as_ref().is_some_and(|r| r.is_expired(now)) {
                data.record = None;
                deleted += 1;
            }
            if data.lease.as_ref().is_some_and(|r| r.is_expired(now)) {
                data.lease = None;
            }
            data.replies.retain(|_, (_, expires_at)| *expires_at > now);
        }
        deleted
    }

    /// Applies `transition` to its item of `address`; whether its guard held. A missing
    /// actor's data is created only when the transition creates its item.
    fn transition(&self, address: &Address, transition: &Transition<'_>) -> bool {
        let mut actors = lock(&self.shared.actors);
        match actors.get_mut(address) {
            Some(data) => transition.apply(data.item(transition.item)),
            None => {
                let mut item = None;
                let applied = transition.apply(&mut item);
                if applied {
                    *actor(&mut actors, address).item(transition.item) = item;
                }
                applied
            }
        }
    }
}

impl Store for MemoryStore {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        item: &'a MailboxItem,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut actors = lock(&self.shared.actors);
        actor(&mut actors, to).queue(item.id, &item.envelope, false);
        Box::pin(async { Ok(()) })
    }

    fn acquire<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
        lease_expires_at: u64,
        owner: u64,
    ) -> BoxFuture<'a, Result<Acquired, StoreError>> {
        let mut actors = lock(&self.shared.actors);
        let data = actor(&mut actors, address);
        let (lease, state) = (data.lease.as_ref(), data.record.as_ref());
        let result = match Transition::acquire(lease, state, now, lease_expires_at, owner) {
            Some(transition) => {
                let applied = transition.apply(&mut data.lease);
                debug_assert!(applied, "the lease item is as read, under the lock");
                Acquired::Taken(data.effective().unwrap_or_default())
            }
            None => record::held(lease, state),
        };
        Box::pin(async { Ok(result) })
    }

    fn read_mailbox<'a>(
        &'a self,
        address: &'a Address,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<MailboxItem>, StoreError>> {
        let actors = lock(&self.shared.actors);
        let items = actors.get(address).map_or_else(Vec::new, |a| {
            a.mailbox
                .iter()
                .take(limit)
                .map(|(id, envelope)| MailboxItem {
                    id: *id,
                    envelope: envelope.clone(),
                })
                .collect()
        });
        Box::pin(async { Ok(items) })
    }

    fn commit<'a>(
        &'a self,
        address: &'a Address,
        commit: &'a Commit,
    ) -> BoxFuture<'a, Result<CommitOutcome, StoreError>> {
        if let Err(error) = super::check_commit_size(address, commit) {
            return Box::pin(async { Err(error) });
        }
        let mut actors = lock(&self.shared.actors);
        let record = &mut actor(&mut actors, address).record;
        let knocked = record.as_ref().is_some_and(|r| r.knocked);
        let outcome = if Transition::commit(commit).apply(record) {
            for (to, item) in &commit.outgoing {
                actor(&mut actors, to).queue(item.id, &item.envelope, false);
            }
            if let Some(item) = &commit.continued {
                actor(&mut actors, address).queue(item.id, &item.envelope, true);
            }
            for change in &commit.subscriptions {
                let record = change.subscribed.then(|| change.record.clone());
                actor(&mut actors, &change.topic)
                    .subscriptions
                    .insert(change.record.key(), (None, record));
            }
            CommitOutcome::written(commit, knocked)
        } else if record::commit_landed(record.as_ref(), commit) {
            // As DynamoDB's store: a record that holds exactly what this commit writes
            // counts as this commit (there, a retried write that landed).
            CommitOutcome::Committed
        } else {
            CommitOutcome::Fenced
        };
        Box::pin(async move { Ok(outcome) })
    }

    fn release<'a>(
        &'a self,
        address: &'a Address,
        epoch: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.transition(address, &Transition::release(epoch));
        Box::pin(async { Ok(()) })
    }

    fn unmark<'a>(
        &'a self,
        address: &'a Address,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.transition(address, &Transition::unmark(at));
        Box::pin(async { Ok(()) })
    }

    fn knock<'a>(
        &'a self,
        address: &'a Address,
        version: u64,
        mark: Option<u64>,
        at: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let knocked = self.transition(address, &Transition::knock(version, mark, at));
        Box::pin(async move { Ok(knocked) })
    }

    fn arm<'a>(&'a self, address: &'a Address, at: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        self.transition(address, &Transition::arm(at));
        Box::pin(async { Ok(()) })
    }

    fn mark_message<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        if let Some(data) = lock(&self.shared.actors).get_mut(address) {
            data.mark_message(id, at);
        }
        Box::pin(async { Ok(()) })
    }

    fn due_page<'a>(
        &'a self,
        shard: u16,
        after: Option<&'a str>,
        now: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DueEntry>, StoreError>> {
        let actors = lock(&self.shared.actors);
        let mut page: Vec<DueEntry> = actors
            .iter()
            .filter(|(address, _)| due::shard_of(address) == shard)
            .flat_map(|(address, data)| {
                data.due_entries(address, now)
                    .into_iter()
                    .map(|key| DueEntry {
                        key,
                        address: address.clone(),
                    })
            })
            .filter(|entry| after.is_none_or(|after| entry.key.as_str() > after))
            .collect();
        page.sort_by(|a, b| a.key.cmp(&b.key));
        page.truncate(limit);
        Box::pin(async move { Ok(page) })
    }

    fn sweep_cursor(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        let cursor = lock(&self.shared.sweep_cursor).clone();
        Box::pin(async move { Ok(cursor) })
    }

    fn save_sweep_cursor<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        *lock(&self.shared.sweep_cursor) = cursor.map(str::to_owned);
        Box::pin(async { Ok(()) })
    }

    fn expire_stub<'a>(
        &'a self,
        address: &'a Address,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.transition(address, &Transition::expire_stub(at));
        Box::pin(async { Ok(()) })
    }

    fn abandon<'a>(
        &'a self,
        address: &'a Address,
        owner: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.transition(address, &Transition::abandon(owner));
        Box::pin(async { Ok(()) })
    }

    fn cleanup<'a>(
        &'a self,
        address: &'a Address,
        cleanup: Cleanup<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        {
            let mut actors = lock(&self.shared.actors);
            let data = actor(&mut actors, address);
            for letter in cleanup.undeliverable {
                data.dead_letters
                    .entry(letter.id)
                    .or_insert_with(|| letter.clone());
            }
            for failure in cleanup.dead_letters {
                if let Some(envelope) = data.unqueue(failure.id) {
                    data.dead_letters.insert(
                        failure.id,
                        DeadLetter {
                            id: failure.id,
                            envelope,
                            error: failure.error.clone(),
                            attempts: failure.attempts,
                            dead_at: cleanup.now,
                            kind: failure.kind,
                        },
                    );
                }
            }
            for id in cleanup.delete {
                data.unqueue(*id);
            }
            data.replies
                .retain(|_, (_, expires)| *expires > cleanup.now);
            for reply in cleanup.replies {
                data.replies
                    .entry(reply.id)
                    .or_insert_with(|| (reply.bytes.clone(), cleanup.replies_expire_at));
            }
        }
        if let Some(expiry) = cleanup.expire_record {
            self.transition(address, &Transition::expire(expiry.version, expiry.at));
        }
        if !cleanup.replies.is_empty() {
            let signals = lock(&self.shared.reply_signals);
            for reply in cleanup.replies {
                if let Some(signal) = signals.get(&(address.clone(), reply.id)) {
                    signal.notify_one();
                }
            }
        }
        Box::pin(async { Ok(()) })
    }

    // Replies are keyed by message id alone, as in key layout v1: in process, every
    // asker is the same one.
    fn get_reply<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        _asker: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let reply = self.reply(address, id);
        Box::pin(async { Ok(reply) })
    }

    fn wait_reply<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        _asker: Option<&'a str>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { Ok(self.take_reply_within(address, id, timeout).await) })
    }

    fn load_state<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        let record = lock(&self.shared.actors)
            .get(address)
            .and_then(ActorData::effective);
        Box::pin(async { Ok(record) })
    }

    fn dead_letters<'a>(
        &'a self,
        address: &'a Address,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
        let letters = lock(&self.shared.actors)
            .get(address)
            .map_or_else(Vec::new, |a| a.dead_letters.values().cloned().collect());
        Box::pin(async { Ok(letters) })
    }

    fn redrive<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
        new_id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut actors = lock(&self.shared.actors);
        let data = actor(&mut actors, address);
        let found = match data.dead_letters.remove(&id) {
            Some(letter) => {
                data.queue(new_id, &letter.envelope, false);
                true
            }
            None => false,
        };
        Box::pin(async move { Ok(found) })
    }

    fn discard_dead_letter<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let found = lock(&self.shared.actors)
            .get_mut(address)
            .is_some_and(|a| a.dead_letters.remove(&id).is_some());
        Box::pin(async move { Ok(found) })
    }

    fn quarantine<'a>(
        &'a self,
        address: &'a Address,
        epoch: u64,
        quarantine: &'a QuarantineRecord,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let done = self.transition(address, &Transition::quarantine(epoch, quarantine));
        Box::pin(async move { Ok(done) })
    }

    fn lift_quarantine<'a>(
        &'a self,
        address: &'a Address,
        lift: &'a Lift,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let done = self.transition(address, &Transition::lift(lift));
        Box::pin(async move { Ok(done) })
    }

    fn list_actors<'a>(
        &'a self,
        actor_type: &'a ActorType,
        after: Option<&'a Address>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Address>, StoreError>> {
        let listed = self.listed(actor_type, after, limit);
        Box::pin(async move { Ok(listed) })
    }

    fn reset_state<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
    ) -> BoxFuture<'a, Result<Retired, StoreError>> {
        let outcome = self.reset(address, now);
        Box::pin(async move { Ok(outcome) })
    }

    fn delete_actor<'a>(
        &'a self,
        address: &'a Address,
        now: u64,
    ) -> BoxFuture<'a, Result<Retired, StoreError>> {
        let outcome = self.retire(address, now);
        Box::pin(async move { Ok(outcome) })
    }

    fn quarantined_actors(
        &self,
    ) -> BoxFuture<'_, Result<Vec<(Address, QuarantineRecord)>, StoreError>> {
        let quarantined = self.quarantined();
        Box::pin(async move { Ok(quarantined) })
    }

    fn pending_actors(&self, now: u64) -> BoxFuture<'_, Result<Vec<Address>, StoreError>> {
        let pending = self.pending(now);
        Box::pin(async move { Ok(pending) })
    }

    fn subscriptions<'a>(
        &'a self,
        topic: &'a Address,
        subscriber_types: &'a [ActorType],
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<SubscriptionPage, StoreError>> {
        let actors = lock(&self.shared.actors);
        let mut page = SubscriptionPage::default();
        // Kept by subscriber type, as DynamoDB's v2 keeps them: only the types asked
        // for are read (keys sort by type name, the order the types come in).
        let by_type = self.subscriptions_committed;
        let read = |record: &SubscriptionRecord| {
            !by_type || subscriber_types.contains(record.subscriber.actor_type())
        };
        if let Some(topic) = actors.get(topic) {
            let from = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
            let mut live = topic
                .subscriptions
                .range::<str, _>((from, std::ops::Bound::Unbounded))
                .filter_map(|(key, (_, record))| Some((key, record.as_ref()?)))
                .filter(|(_, record)| read(record));
            for (key, record) in live.by_ref().take(limit) {
                page.subscriptions.push(record.clone());
                page.next = Some(key.clone());
            }
            if live.next().is_none() {
                page.next = None;
            }
        }
        Box::pin(async move { Ok(page) })
    }

    fn write_subscription<'a>(
        &'a self,
        topic: &'a Address,
        key: &'a str,
        record: Option<&'a SubscriptionRecord>,
        by: MessageId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut actors = lock(&self.shared.actors);
        let subscriptions = &mut actor(&mut actors, topic).subscriptions;
        // A subscriber's commit (`None`) is never overridden by a topic message.
        let newer = subscriptions
            .get(key)
            .is_none_or(|(written_by, _)| written_by.is_some_and(|w| w < by));
        if newer {
            subscriptions.insert(key.to_owned(), (Some(by), record.cloned()));
        }
        Box::pin(async { Ok(()) })
    }

    fn subscription_writers(&self) -> super::SubscriptionWriters {
        if self.subscriptions_committed {
            super::SubscriptionWriters::Subscribers
        } else {
            super::SubscriptionWriters::Topics
        }
    }

    fn cancel<'a>(
        &'a self,
        address: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let removed = lock(&self.shared.actors)
            .get_mut(address)
            .is_some_and(|actor| actor.unqueue(id).is_some());
        Box::pin(async move { Ok(removed) })
    }
}
