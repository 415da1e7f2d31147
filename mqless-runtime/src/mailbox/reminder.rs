//! Reminders in a drain: whether a fire runs, when the next one is, and which fires are
//! stale. Each fire is a scheduled message carrying its reminder; handling it schedules
//! the next fire in the same commit, so a reminder lives exactly as long as its chain of
//! queued fires, through crashes and redeploys.

use std::collections::BTreeMap;

use crate::actor::client::MAX_SCHEDULE_NAME_LEN;
use crate::codec::Limits;
use crate::error::Error;
use crate::id::{Address, MessageId};
use crate::schedule::ReminderInfo;
use crate::store::{MailboxItem, Store};
use crate::wire::{Envelope, Missed, ReminderSpec};

use super::bookkeeping::{CONSUMED_BYTES, KEY_OVERHEAD};

/// Most live reminders one actor may have: each is kept in its state record.
pub(crate) const MAX_REMINDERS: usize = 64;
/// Most cancelled names an actor remembers, so that a queued fire of a cancelled
/// registration the actor never saw (a first fire registered from outside) is dropped;
/// past it, the oldest cancel is forgotten.
pub(crate) const MAX_CANCELLED: usize = 64;
/// What one registry entry (a name and an id) adds to the state record, at most.
const ENTRY_BYTES: usize = MAX_SCHEDULE_NAME_LEN + CONSUMED_BYTES + KEY_OVERHEAD;
/// The most bytes the reminder registry can add to the state record: a registration and
/// a queued fire per live reminder, and the cancels remembered.
pub(super) const MAX_REGISTRY_BYTES: usize = (2 * MAX_REMINDERS + MAX_CANCELLED) * ENTRY_BYTES;

/// What a queued fire of a reminder is, by the actor's registry.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FireKind {
    /// A fire of a replaced or cancelled registration: dropped.
    Stale,
    /// The fire the live chain queued (or a registration's first): it runs as the
    /// reminder's policy says and queues the next.
    Chain,
    /// Another copy of a live registration's fire, such as a redriven dead letter: it
    /// runs once, as the plain message it also is, and queues nothing, so the reminder
    /// keeps exactly one chain.
    Copy,
}

/// An actor's reminders as its state record keeps them: the latest registration (or
/// the cancel that ended it) of each name, and the queued fire of each live chain.
pub(super) struct Registry<'b> {
    pub(super) latest: &'b mut BTreeMap<String, MessageId>,
    pub(super) tips: &'b mut BTreeMap<String, MessageId>,
}

impl Registry<'_> {
    /// What the fire `fire` of `spec`'s registration under `name`, due `at`, is; adopts
    /// a new registration. `Err` when the actor already has [`MAX_REMINDERS`] live ones.
    pub(super) fn classify(
        &mut self,
        name: &str,
        spec: &ReminderSpec,
        fire: MessageId,
        at: u64,
    ) -> Result<FireKind, String> {
        let registration = spec.registration;
        // A fire queued by MQLess has its delivery time as its id's time; a redriven
        // copy was queued under a new id.
        let original = fire.timestamp_millis() == at;
        match self.latest.get(name) {
            Some(latest) if registration < *latest => Ok(FireKind::Stale),
            Some(latest) if registration == *latest => Ok(match self.tips.get(name) {
                Some(tip) if *tip == fire => FireKind::Chain,
                // Written before the record kept its queued fires.
                None if original => FireKind::Chain,
                _ => FireKind::Copy,
            }),
            // A chain the record does not know: the record that queued it is gone (the
            // actor stopped or expired, and TTL deleted it): it ended with it.
            _ if spec.chained => Ok(FireKind::Stale),
            _ if !original => Ok(FireKind::Copy),
            _ if self.tips.len() >= MAX_REMINDERS && !self.tips.contains_key(name) => Err(format!(
                "the actor already has {MAX_REMINDERS} live reminders; cancel one (`Context::cancel_reminder`) before registering another"
            )),
            _ => {
                // A new registration: the older one's queued fire is stale from now on.
                self.latest.insert(name.to_owned(), registration);
                self.tips.remove(name);
                Ok(FireKind::Chain)
            }
        }
    }

    /// Records a registration this actor's own handler made, whose first fire `fire`
    /// the batch queues: the record knows the chain from the start, so a cancel or a
    /// stop before the first fire deletes it too. Returns the fire of the chain it
    /// replaces, to delete. Nothing when the registration is older than the one known,
    /// or the actor has [`MAX_REMINDERS`] live ones (its first fire then says so).
    pub(super) fn register(
        &mut self,
        name: &str,
        registration: MessageId,
        fire: MessageId,
    ) -> Option<MessageId> {
        let known = self
            .latest
            .get(name)
            .is_some_and(|latest| *latest > registration);
        let full = self.tips.len() >= MAX_REMINDERS && !self.tips.contains_key(name);
        if known || full {
            return None;
        }
        self.latest.insert(name.to_owned(), registration);
        self.tips
            .insert(name.to_owned(), fire)
            .filter(|old| *old != fire)
    }

    /// Records the chain's next fire, or its end.
    pub(super) fn chained(&mut self, name: &str, next: Option<MessageId>) {
        match next {
            Some(next) => {
                self.tips.insert(name.to_owned(), next);
            }
            None => {
                self.latest.remove(name);
                self.tips.remove(name);
            }
        }
    }

    /// Cancels reminder `name` as of `now`: fires of every registration so far are
    /// stale. Returns the live chain's queued fire, for the caller to delete with the
    /// commit. Past [`MAX_CANCELLED`] cancels, the oldest is forgotten.
    pub(super) fn cancel(&mut self, name: &str, now: u64) -> Option<MessageId> {
        let floor = self.latest.get(name).copied();
        self.latest
            .insert(name.to_owned(), MessageId::generate(now, floor));
        let tip = self.tips.remove(name);
        let cancelled = || {
            self.latest
                .iter()
                .filter(|(name, _)| !self.tips.contains_key(*name))
        };
        if cancelled().count() > MAX_CANCELLED {
            let oldest = cancelled()
                .min_by_key(|(_, id)| **id)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                self.latest.remove(&oldest);
            }
        }
        tip
    }
}

/// What to do with one fire: run the method or not, and the next fire (its time and
/// catch-up count), if the reminder goes on.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) run: bool,
    pub(super) next: Option<(u64, u32)>,
}

/// The plan for a fire due `at`, handled `now`, under `spec`'s missed-fire policy.
pub(super) fn plan(spec: &ReminderSpec, at: u64, now: u64) -> Plan {
    let period = spec.period.max(1);
    // Late by a period or more: its next fire is due too.
    let late = now >= at.saturating_add(period);
    let first_future =
        at.saturating_add(period.saturating_mul(now.saturating_sub(at) / period + 1));
    let (run, next) = match spec.missed {
        Missed::Skip => (!late, (first_future, 0)),
        Missed::FireOnce => (true, (first_future, 0)),
        Missed::CatchUp { max } => {
            let caught_up = spec.caught_up.saturating_add(1);
            if late && caught_up < max {
                (true, (at.saturating_add(period), caught_up))
            } else {
                (true, (first_future, 0))
            }
        }
    };
    let next = Some(next).filter(|(at, _)| spec.until.is_none_or(|until| *at <= until));
    Plan { run, next }
}

/// The message of the next fire after `envelope`'s, at `at`.
pub(super) fn next_fire(
    envelope: &Envelope,
    spec: &ReminderSpec,
    (at, caught_up): (u64, u32),
    limits: &Limits,
) -> Result<MailboxItem, Error> {
    let next = Envelope {
        reminder: Some(ReminderSpec {
            caught_up,
            chained: true,
            ..spec.clone()
        }),
        from: envelope.from.clone(),
        ..Envelope::new(envelope.body.clone(), false, None).scheduled(at, envelope.name.clone())
    };
    Ok(MailboxItem {
        id: MessageId::scheduled(at),
        envelope: next.encode(limits)?,
    })
}

/// The live reminders of `address`: their next fires, read from its mailbox, less the
/// fires its own record says are stale (replaced or cancelled).
pub(crate) async fn live_reminders(
    store: &dyn Store,
    address: &Address,
) -> Result<Vec<ReminderInfo>, Error> {
    let limits = crate::codec::Limits::DEFAULT;
    let record = store.load_state(address).await?;
    let (registry, chains) = super::reminder_registry(record.and_then(|r| r.meta).as_deref());
    // By name: the fire of the newest registration queued, unless the record knows a
    // newer one (or a cancel).
    let mut found: BTreeMap<String, (MessageId, ReminderInfo)> = BTreeMap::new();
    for item in store.read_mailbox(address, usize::MAX).await? {
        let Ok(envelope) = Envelope::decode(&item.envelope, &limits) else {
            continue;
        };
        let (Some(spec), Some(name), Some(at)) = (envelope.reminder, envelope.name, envelope.at)
        else {
            continue;
        };
        let registration = spec.registration;
        if chains.get(&name).is_some_and(|fire| *fire != item.id) {
            // A one-off copy (a redriven fire): the chain goes on from its own fire.
            continue;
        }
        if spec.chained && !registry.contains_key(&name) {
            // A chain the record no longer knows (deleted after a stop or expiry): its
            // fire is dropped when it comes due.
            continue;
        }
        let newer_known = registry
            .get(&name)
            .is_some_and(|latest| registration < *latest)
            || found
                .get(&name)
                .is_some_and(|(seen, _)| registration < *seen);
        if newer_known {
            continue;
        }
        let info = ReminderInfo {
            name: name.clone(),
            next_fire_millis: at,
            next_fire: item.id,
            period_millis: spec.period,
            until_millis: spec.until,
            missed: spec.missed,
        };
        found.insert(name, (registration, info));
    }
    Ok(found.into_values().map(|(_, info)| info).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(missed: Missed) -> ReminderSpec {
        ReminderSpec {
            period: 10,
            until: None,
            missed,
            registration: MessageId::from_u128(1),
            caught_up: 0,
            chained: false,
        }
    }

    /// The table of docs/guide/time.md: fires due at 20, 30 and 40, handled at 45.
    #[test]
    fn missed_fire_policies_after_three_periods_down() {
        let run = |missed, at, now, caught_up| {
            plan(
                &ReminderSpec {
                    caught_up,
                    ..spec(missed)
                },
                at,
                now,
            )
        };
        assert_eq!(
            run(Missed::Skip, 20, 45, 0),
            Plan {
                run: false,
                next: Some((50, 0))
            }
        );
        assert_eq!(
            run(Missed::FireOnce, 20, 45, 0),
            Plan {
                run: true,
                next: Some((50, 0))
            }
        );
        let catch_up = Missed::CatchUp { max: 5 };
        assert_eq!(
            run(catch_up, 20, 45, 0),
            Plan {
                run: true,
                next: Some((30, 1))
            }
        );
        assert_eq!(
            run(catch_up, 30, 45, 1),
            Plan {
                run: true,
                next: Some((40, 2))
            }
        );
        assert_eq!(
            run(catch_up, 40, 45, 2),
            Plan {
                run: true,
                next: Some((50, 0))
            }
        );
        let two = Missed::CatchUp { max: 2 };
        assert_eq!(
            run(two, 20, 45, 0),
            Plan {
                run: true,
                next: Some((30, 1))
            }
        );
        assert_eq!(
            run(two, 30, 45, 1),
            Plan {
                run: true,
                next: Some((50, 0))
            }
        );
        // On time: every policy runs, and the next fire is one period on.
        for missed in [Missed::Skip, Missed::FireOnce, catch_up] {
            assert_eq!(
                run(missed, 20, 21, 0),
                Plan {
                    run: true,
                    next: Some((30, 0))
                }
            );
        }
    }

    #[test]
    fn a_reminder_ends_after_its_until() {
        let spec = ReminderSpec {
            until: Some(35),
            ..spec(Missed::FireOnce)
        };
        assert_eq!(plan(&spec, 30, 31).next, None);
        assert_eq!(plan(&spec, 20, 21).next, Some((30, 0)));
    }

    /// A fire of registration `id`: its first (`chained: false`) or a later one.
    fn of(id: MessageId, chained: bool) -> ReminderSpec {
        ReminderSpec {
            registration: id,
            chained,
            ..spec(Missed::FireOnce)
        }
    }

    #[test]
    fn only_the_chains_own_fire_goes_on() {
        let (mut latest, mut tips) = (BTreeMap::new(), BTreeMap::new());
        let mut registry = Registry {
            latest: &mut latest,
            tips: &mut tips,
        };
        let (old, new) = (MessageId::from_u128(5 << 80), MessageId::from_u128(6 << 80));
        let fire = |at: u64| MessageId::scheduled(at);
        let first = fire(10);
        let classify = |registry: &mut Registry<'_>, id, chained, fire, at| {
            registry.classify("r", &of(id, chained), fire, at)
        };
        assert_eq!(
            classify(&mut registry, old, false, first, 10),
            Ok(FireKind::Chain)
        );
        registry.chained("r", Some(fire(20)));
        // A redriven copy of the first fire: its id is not its delivery time.
        let copy = MessageId::from_u128(7 << 80);
        assert_eq!(
            classify(&mut registry, old, false, copy, 10),
            Ok(FireKind::Copy)
        );
        assert_eq!(
            classify(&mut registry, old, false, first, 10),
            Ok(FireKind::Copy)
        );
        let second = registry.tips["r"];
        assert_eq!(
            classify(&mut registry, old, true, second, 20),
            Ok(FireKind::Chain)
        );
        // A newer registration replaces it; the old chain's fires are stale.
        assert_eq!(
            classify(&mut registry, new, false, fire(30), 30),
            Ok(FireKind::Chain)
        );
        assert_eq!(
            classify(&mut registry, old, true, second, 20),
            Ok(FireKind::Stale)
        );
        registry.chained("r", Some(fire(40)));
        let tip = registry.tips["r"];
        assert_eq!(
            registry.cancel("r", 50),
            Some(tip),
            "the queued fire to delete"
        );
        assert_eq!(
            classify(&mut registry, new, true, tip, 40),
            Ok(FireKind::Stale)
        );
        // A later fire of a chain the record does not know (the record was deleted
        // after a stop): dropped, never adopted.
        let (mut latest, mut tips) = (BTreeMap::new(), BTreeMap::new());
        let mut forgotten = Registry {
            latest: &mut latest,
            tips: &mut tips,
        };
        assert_eq!(
            classify(&mut forgotten, new, true, fire(60), 60),
            Ok(FireKind::Stale)
        );
        assert!(forgotten.latest.is_empty());
    }

    #[test]
    fn a_registration_made_by_the_actor_is_known_before_its_first_fire() {
        let (mut latest, mut tips) = (BTreeMap::new(), BTreeMap::new());
        let mut registry = Registry {
            latest: &mut latest,
            tips: &mut tips,
        };
        let old = MessageId::from_u128(5 << 80);
        let first = MessageId::scheduled(10);
        assert_eq!(registry.register("r", old, first), None);
        assert_eq!(
            registry.cancel("r", 5),
            Some(first),
            "a cancel deletes the first fire"
        );
        assert_eq!(
            registry.register("r", old, first),
            None,
            "cancelled: ignored"
        );
        assert!(registry.tips.is_empty());
        // Registered again after the cancel (ids come later in the process's sequence).
        let new = MessageId::generate(6, None);
        let again = MessageId::scheduled(20);
        assert_eq!(registry.register("r", new, again), None);
        let replacing = MessageId::scheduled(30);
        let newer = MessageId::generate(7, None);
        assert_eq!(registry.register("r", newer, replacing), Some(again));
        assert_eq!(registry.register("r", new, again), None, "older: ignored");
        assert_eq!(
            registry.classify("r", &of(newer, false), replacing, 30),
            Ok(FireKind::Chain)
        );
    }

    #[test]
    fn live_reminders_are_bounded_and_cancels_free_their_slots() {
        let (mut latest, mut tips) = (BTreeMap::new(), BTreeMap::new());
        let mut registry = Registry {
            latest: &mut latest,
            tips: &mut tips,
        };
        let registration = MessageId::from_u128(5 << 80);
        let live = |registry: &mut Registry<'_>, name: &str| {
            let kind =
                registry.classify(name, &of(registration, false), MessageId::scheduled(10), 10);
            if kind == Ok(FireKind::Chain) {
                registry.chained(name, Some(MessageId::scheduled(20)));
            }
            kind
        };
        for i in 0..MAX_REMINDERS {
            assert_eq!(live(&mut registry, &format!("n{i}")), Ok(FireKind::Chain));
        }
        assert!(live(&mut registry, "one too many").is_err());
        for round in 0..3 {
            for i in 0..MAX_REMINDERS {
                registry.cancel(&format!("n{i}"), 100 + round);
            }
            assert!(registry.tips.is_empty());
            assert!(registry.latest.len() <= MAX_CANCELLED);
            for i in 0..MAX_REMINDERS {
                let name = format!("m{round}-{i}");
                assert_eq!(live(&mut registry, &name), Ok(FireKind::Chain));
                registry.cancel(&name, 200 + round);
            }
        }
        assert!(registry.latest.len() <= MAX_CANCELLED, "bounded");
    }
}
