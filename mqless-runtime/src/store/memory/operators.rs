//! What operators and the sweep's audit ask of the whole memory store: the actors of a
//! type, the quarantined ones, those with a message due; and an actor's state reset or
//! its items deleted, unless a drain holds it.

use super::{lock, MemoryStore};
use crate::id::{ActorType, Address};
use crate::store::{QuarantineRecord, Retired};

impl MemoryStore {
    /// Up to `limit` actors of `actor_type` after `after`, in address order: like the
    /// DynamoDB index, an actor is listed from its first commit on.
    pub(super) fn listed(
        &self,
        actor_type: &ActorType,
        after: Option<&Address>,
        limit: usize,
    ) -> Vec<Address> {
        let mut listed: Vec<Address> = lock(&self.shared.actors)
            .iter()
            .filter(|(address, a)| {
                address.actor_type() == actor_type
                    && a.record.as_ref().is_some_and(|r| r.version > 0)
                    && after.is_none_or(|after| *address > after)
            })
            .map(|(address, _)| address.clone())
            .collect();
        listed.sort();
        listed.truncate(limit);
        listed
    }

    /// The quarantined actors, in address order, with their quarantine.
    pub(super) fn quarantined(&self) -> Vec<(Address, QuarantineRecord)> {
        let mut quarantined: Vec<_> = lock(&self.shared.actors)
            .iter()
            .filter_map(|(address, a)| {
                let quarantine = a.record.as_ref()?.quarantine.clone()?;
                Some((address.clone(), quarantine))
            })
            .collect();
        quarantined.sort_by(|a, b| a.0.cmp(&b.0));
        quarantined
    }

    /// The actors with a message due at `now`, in address order (the audit's scan).
    pub(super) fn pending(&self, now: u64) -> Vec<Address> {
        let mut pending: Vec<Address> = lock(&self.shared.actors)
            .iter()
            .filter(|(_, a)| {
                a.mailbox
                    .iter()
                    .any(|(id, envelope)| !crate::store::waits(*id, envelope, now))
            })
            .map(|(address, _)| address.clone())
            .collect();
        pending.sort();
        pending
    }

    /// Resets the state of `address` to its type's default, unless a drain holds it.
    pub(super) fn reset(&self, address: &Address, now: u64) -> Retired {
        let mut actors = lock(&self.shared.actors);
        let leased = actors.get(address).is_some_and(|a| a.leased(now));
        let record = actors.get_mut(address).and_then(|a| a.record.as_mut());
        match record {
            None => Retired::Missing,
            Some(_) if leased => Retired::Busy,
            Some(record) => {
                record.state = None;
                record.damage = None;
                record.version += 1;
                Retired::Done
            }
        }
    }

    /// Deletes every item of `address`, unless a drain holds it.
    pub(super) fn retire(&self, address: &Address, now: u64) -> Retired {
        let mut actors = lock(&self.shared.actors);
        let outcome = match actors.get(address) {
            None => Retired::Missing,
            Some(a) if a.leased(now) => Retired::Busy,
            Some(_) => Retired::Done,
        };
        if outcome == Retired::Done {
            actors.remove(address);
        }
        outcome
    }
}
