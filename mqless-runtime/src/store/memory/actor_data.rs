//! One actor's items in the memory store: its state and lease records, its mailbox and
//! the due-index entries of its scheduled and marked messages, replies, dead letters and a topic's
//! subscriptions; and the bookkeeping that keeps the mailbox and the due index in step.

use std::collections::{BTreeMap, HashMap};

use crate::id::{Address, MessageId};
use crate::store::due;
use crate::store::record::{self, ItemKind};
use crate::store::{DeadLetter, StateRecord, SubscriptionRecord};

#[derive(Default)]
pub(super) struct ActorData {
    /// The state record.
    pub(super) record: Option<StateRecord>,
    /// The lease item: only its lease fields and its expiry are used.
    pub(super) lease: Option<StateRecord>,
    pub(super) mailbox: BTreeMap<MessageId, Vec<u8>>,
    /// The due time of each message in `mailbox` that has an entry in the due index: a
    /// scheduled one, or one a sender marked after its wake-up failed.
    pub(super) due: BTreeMap<MessageId, u64>,
    /// Encoded reply and its expiry.
    pub(super) replies: HashMap<MessageId, (Vec<u8>, u64)>,
    pub(super) dead_letters: BTreeMap<MessageId, DeadLetter>,
    /// A topic's subscriptions by key, with the topic message that wrote each (`None`:
    /// the subscriber's commit, which no topic message overrides) and the record
    /// (`None`: a tombstone).
    pub(super) subscriptions: BTreeMap<String, (Option<MessageId>, Option<SubscriptionRecord>)>,
}

impl ActorData {
    pub(super) fn item(&mut self, item: ItemKind) -> &mut Option<StateRecord> {
        match item {
            ItemKind::Lease => &mut self.lease,
            ItemKind::State => &mut self.record,
        }
    }

    /// The record as the protocol sees it (see `record::effective`).
    pub(super) fn effective(&self) -> Option<StateRecord> {
        record::effective(self.lease.as_ref(), self.record.as_ref())
    }

    /// Whether a drain holds the lease at `now`.
    pub(super) fn leased(&self, now: u64) -> bool {
        self.effective().is_some_and(|r| r.lease_expires_at > now)
    }

    /// Queues message `id` unless it is queued already (or, with `replace`, over it).
    pub(super) fn queue(&mut self, id: MessageId, envelope: &[u8], replace: bool) {
        if !replace && self.mailbox.contains_key(&id) {
            return;
        }
        match due::scheduled_at(id, envelope) {
            Some(at) => self.due.insert(id, at),
            None => self.due.remove(&id),
        };
        self.mailbox.insert(id, envelope.to_vec());
    }

    /// Takes message `id` out of the mailbox, with its entry in the due index.
    pub(super) fn unqueue(&mut self, id: MessageId) -> Option<Vec<u8>> {
        self.due.remove(&id);
        self.mailbox.remove(&id)
    }

    /// Puts queued message `id` in the due index at `at`, unless it is due earlier or
    /// is no longer queued (see `Store::mark_message`).
    pub(super) fn mark_message(&mut self, id: MessageId, at: u64) {
        if self.mailbox.contains_key(&id) {
            let due = self.due.entry(id).or_insert(at);
            *due = (*due).min(at);
        }
    }

    /// This actor's entries in the due index at or before `now`: its scheduled and
    /// marked messages, and its record's mark.
    pub(super) fn due_entries(&self, address: &Address, now: u64) -> Vec<String> {
        let mark = self.record.as_ref().and_then(|r| r.mark);
        self.due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, at)| due::entry_key(*at, address, &format!("m#{id}")))
            .chain(
                mark.filter(|at| *at <= now)
                    .map(|at| due::entry_key(at, address, due::STATE_SORT_KEY)),
            )
            .collect()
    }
}

/// The data of `address`, created empty if missing; clones the address only then (this
/// runs on every operation).
pub(super) fn actor<'m>(
    actors: &'m mut HashMap<Address, ActorData>,
    address: &Address,
) -> &'m mut ActorData {
    if !actors.contains_key(address) {
        actors.insert(address.clone(), ActorData::default());
    }
    actors
        .get_mut(address)
        .unwrap_or_else(|| unreachable!("inserted above"))
}
