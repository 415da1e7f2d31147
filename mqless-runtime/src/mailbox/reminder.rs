//! Reminders in a drain: whether a fire runs, when the next one is, and which fires are
//! stale. Each fire is a scheduled message carrying its reminder; handling it schedules
//! the next fire in the same commit, so a reminder lives exactly as long as its chain of
//! queued fires, through crashes and redeploys.

use std::collections::BTreeMap;

use crate::client::MAX_SCHEDULE_NAME_LEN;
use crate::codec::Limits;
use crate::error::Error;
use crate::id::MessageId;
use crate::store::MailboxItem;
use crate::wire::{Envelope, Missed, ReminderSpec};

use super::bookkeeping::{CONSUMED_BYTES, KEY_OVERHEAD};

/// Most reminder names one actor keeps (live or cancelled), which bounds what they add
/// to its state record.
pub(crate) const MAX_REMINDERS: usize = 64;
/// The most bytes the reminder registry can add to the state record.
pub(super) const MAX_REGISTRY_BYTES: usize =
    MAX_REMINDERS * (MAX_SCHEDULE_NAME_LEN + CONSUMED_BYTES + KEY_OVERHEAD);

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

/// Whether a fire of `registration` under `name` is current, recording it if it is the
/// newest; `Err` when the registry is full.
pub(super) fn adopt(
    registry: &mut BTreeMap<String, MessageId>,
    name: &str,
    registration: MessageId,
) -> Result<bool, String> {
    match registry.get(name) {
        Some(latest) if registration < *latest => Ok(false),
        Some(_) => {
            registry.insert(name.to_owned(), registration);
            Ok(true)
        }
        None if registry.len() >= MAX_REMINDERS => Err(format!(
            "the actor already has {MAX_REMINDERS} reminder names (live or cancelled); reuse or cancel one"
        )),
        None => {
            registry.insert(name.to_owned(), registration);
            Ok(true)
        }
    }
}

/// Cancels reminder `name` as of `now`: fires of every registration so far are stale.
pub(super) fn cancel(registry: &mut BTreeMap<String, MessageId>, name: &str, now: u64) {
    if registry.len() >= MAX_REMINDERS && !registry.contains_key(name) {
        tracing::warn!(
            reminder = name,
            "cancel of an unknown reminder ignored: the registry is full"
        );
        return;
    }
    let floor = registry.get(name).copied();
    registry.insert(name.to_owned(), MessageId::generate(now, floor));
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
        }
    }

    /// The README's table: fires due at 20, 30 and 40, handled at 45.
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

    #[test]
    fn older_registrations_are_stale_and_cancels_make_them_so() {
        let mut registry = BTreeMap::new();
        let (old, new) = (MessageId::from_u128(5 << 80), MessageId::from_u128(6 << 80));
        assert_eq!(adopt(&mut registry, "r", old), Ok(true));
        assert_eq!(adopt(&mut registry, "r", new), Ok(true));
        assert_eq!(adopt(&mut registry, "r", old), Ok(false), "replaced");
        cancel(&mut registry, "r", 7);
        assert_eq!(adopt(&mut registry, "r", new), Ok(false), "cancelled");
        for i in 0..MAX_REMINDERS - 1 {
            adopt(&mut registry, &format!("n{i}"), new).unwrap();
        }
        assert!(adopt(&mut registry, "one too many", new).is_err());
    }
}
